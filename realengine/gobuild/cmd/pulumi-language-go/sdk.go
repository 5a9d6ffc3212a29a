package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	codegen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/mod/modfile"
)

// replacedVersion is the version a go.mod requires a module at when a replace directive
// supplies it from a folder (what `go mod tidy` writes for such a module).
const replacedVersion = "v0.0.0-00010101000000-000000000000"

// GeneratePackage writes a Go SDK for a package schema with pkg/v3's Go code generator
// (what `pulumi package add` and `pulumi package gen-sdk --language go` call). For `package
// add` the schema says supportPack, and the SDK is a module of its own with a go.mod.
func (h *host) GeneratePackage(
	_ context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	if len(req.GetExtraFiles()) > 0 {
		return nil, errors.New("this project's Go language host does not take overlay files for a Go SDK")
	}
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, fmt.Errorf("cannot reach the CLI's schema loader: %w", err)
	}
	defer loader.Close()

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, fmt.Errorf("the package schema is not valid JSON: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, schema.NewCachedLoader(loader), schema.ValidationOptions{
		AllowDanglingReferences: true,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot bind the schema of package %s: %w", spec.Name, err)
	}
	response := &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}
	if diags.HasErrors() {
		return response, nil
	}
	files, err := codegen.GeneratePackage("pulumi-language-go", pkg, req.GetLocalDependencies())
	if err != nil {
		return nil, fmt.Errorf("generating the Go SDK of package %s failed: %w", pkg.Name, err)
	}
	for name, data := range files {
		target := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, fmt.Errorf("cannot make the SDK folder %s: %w", filepath.Dir(target), err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return nil, fmt.Errorf("cannot write the SDK file %s: %w", target, err)
		}
	}
	return response, nil
}

// Link wires SDKs that `pulumi package add` generated under the project (sdks/<name>) into
// the program's go.mod: each SDK is a module whose path its own go.mod names; the program
// gets a replace directive that points that module at the SDK's folder, and a require of
// it, so `go build` finds it with no download and no `go get`.
func (h *host) Link(_ context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	root := req.GetInfo().GetRootDirectory()
	programDir := req.GetInfo().GetProgramDirectory()
	goModPath := filepath.Join(programDir, "go.mod")
	text, err := os.ReadFile(goModPath)
	if err != nil {
		return nil, fmt.Errorf("a Go program needs a go.mod to link a package into (`go mod init <module>` "+
			"in %s makes one): %w", programDir, err)
	}
	goMod, err := modfile.Parse(goModPath, text, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", goModPath, err)
	}

	var imports []string
	for _, dep := range req.GetPackages() {
		sdkDir := dep.GetPath()
		if !filepath.IsAbs(sdkDir) {
			sdkDir = filepath.Join(root, sdkDir)
		}
		module, err := sdkModulePath(sdkDir)
		if err != nil {
			return nil, fmt.Errorf("cannot link package %s: %w", dep.GetPackage().GetName(), err)
		}
		replacement, err := replacementPath(programDir, sdkDir)
		if err != nil {
			return nil, err
		}
		if err := goMod.AddReplace(module, "", replacement, ""); err != nil {
			return nil, fmt.Errorf("cannot add `replace %s => %s` to %s: %w", module, replacement, goModPath, err)
		}
		if !requires(goMod, module) {
			if err := goMod.AddRequire(module, replacedVersion); err != nil {
				return nil, fmt.Errorf("cannot add `require %s` to %s: %w", module, goModPath, err)
			}
		}
		imports = append(imports, sdkImportPaths(module, sdkDir)...)
	}

	goMod.Cleanup()
	formatted, err := goMod.Format()
	if err != nil {
		return nil, fmt.Errorf("cannot format %s: %w", goModPath, err)
	}
	info, err := os.Stat(goModPath)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(goModPath, formatted, info.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", goModPath, err)
	}

	var instructions strings.Builder
	instructions.WriteString("You can import the SDK in your Go code with:\n\n  import (\n")
	for _, path := range imports {
		fmt.Fprintf(&instructions, "    %q\n", path)
	}
	instructions.WriteString("  )\n")
	return &pulumirpc.LinkResponse{ImportInstructions: instructions.String()}, nil
}

// sdkModulePath is the module path that the SDK's own go.mod declares.
func sdkModulePath(sdkDir string) (string, error) {
	goModPath := filepath.Join(sdkDir, "go.mod")
	text, err := os.ReadFile(goModPath)
	if err != nil {
		return "", fmt.Errorf("the Go SDK in %s has no go.mod (it is written when the schema "+
			"supports packing, as `pulumi package add` asks): %w", sdkDir, err)
	}
	module := modfile.ModulePath(text)
	if module == "" {
		return "", fmt.Errorf("%s names no module", goModPath)
	}
	return module, nil
}

// replacementPath is the SDK's folder as a replace directive wants it: relative to the
// program's go.mod and starting with ./ or ../ (a bare relative path would be a module
// path), so the project folder can move as a whole.
func replacementPath(programDir, sdkDir string) (string, error) {
	rel, err := filepath.Rel(programDir, sdkDir)
	if err != nil {
		return "", fmt.Errorf("cannot tell where %s is from %s: %w", sdkDir, programDir, err)
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel, nil
}

func requires(goMod *modfile.File, module string) bool {
	for _, r := range goMod.Require {
		if r.Mod.Path == module {
			return true
		}
	}
	return false
}

// sdkImportPaths are the SDK's top-level packages (not internal/): what a program imports.
func sdkImportPaths(module, sdkDir string) []string {
	entries, err := os.ReadDir(sdkDir)
	if err != nil {
		return []string{module}
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "internal" {
			continue
		}
		if matches, _ := filepath.Glob(filepath.Join(sdkDir, e.Name(), "*.go")); len(matches) > 0 {
			paths = append(paths, module+"/"+e.Name())
		}
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return []string{module}
	}
	return paths
}
