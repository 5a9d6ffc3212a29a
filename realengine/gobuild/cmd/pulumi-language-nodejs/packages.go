package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/cgstrings"
	codegen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// GetRequiredPlugins answers none (the engine asked this before GetRequiredPackages).
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: []*pulumirpc.PluginDependency{}}, nil
}

// GetRequiredPackages answers that the program needs no packages. The real host reads the
// `pulumi` block of every package.json under node_modules, so the engine can install
// missing plugins before the program starts. Answering none means the engine loads each
// provider when the program first uses it: a package added with `pulumi package add` is
// found through Pulumi.yaml's `packages:`, others from PATH or the plugin cache. The
// visible difference is that a missing plugin is reported when the program reaches it.
func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{Packages: []*pulumirpc.PackageDependency{}}, nil
}

// InstallDependencies runs the project's package manager (npm unless a lock file or the
// packagemanager option says otherwise) in the program's folder, as `pulumi install` and
// `pulumi package add` expect. It leaves out the real host's workspace-root search and
// node version managers.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	if req.GetIsPlugin() {
		return fmt.Errorf("this project's stand-in pulumi-language-nodejs does not install plugins written in Node.js")
	}
	opts, err := parseOptions(req.GetInfo().GetOptions().AsMap())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetInfo().GetProgramDirectory()
	fmt.Fprintf(stdout, "Installing dependencies in %s...\n\n", dir)
	name, err := npm.Install(server.Context(), opts.packagemanager, dir, opts.production, stdout, stderr)
	if err != nil {
		return fmt.Errorf("%s install in %s failed: %w", name, dir, err)
	}
	fmt.Fprintf(stdout, "Finished installing dependencies\n\n")
	return closer.Close()
}

// GeneratePackage writes a package's Node.js SDK (TypeScript sources and package.json;
// a local SDK compiles itself when installed) with pkg/v3's code generator, as the real
// host does. `pulumi package add` asks for it, then calls Link.
func (h *host) GeneratePackage(
	ctx context.Context, req *pulumirpc.GeneratePackageRequest,
) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	cached := schema.NewCachedLoader(loader)

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, fmt.Errorf("the package's schema is not valid JSON: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, cached, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	response := &pulumirpc.GeneratePackageResponse{
		Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags),
	}
	if diags.HasErrors() {
		return response, nil
	}
	files, err := codegen.GeneratePackage("pulumi-language-nodejs", pkg, req.GetExtraFiles(),
		req.GetLocalDependencies(), req.GetLocal(), cached)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		path := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the folder of %s: %w", path, err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", path, err)
		}
	}
	return response, nil
}

// Link makes a generated local SDK a dependency of the program (`"<npm name>":
// "file:<path>"` in package.json, through the package manager, which also allows the
// SDK's install script that compiles it) and answers the import a user writes.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	info := req.GetInfo()
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return nil, err
	}
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	cached := schema.NewCachedLoader(loader)
	pm, err := npm.ResolvePackageManager(opts.packagemanager, info.GetProgramDirectory())
	if err != nil {
		return nil, err
	}

	var imports strings.Builder
	for _, dep := range req.GetPackages() {
		pkg, err := loadPackage(ctx, cached, dep.GetPackage())
		if err != nil {
			return nil, err
		}
		npmName := npmPackageName(pkg)
		if err := pm.Link(ctx, info.GetProgramDirectory(), npmName, dep.GetPath()); err != nil {
			return nil, err
		}
		// The run script loads programs through ts-node unless typescript is off: then the
		// program is JavaScript and may be CommonJS.
		if opts.typescript {
			fmt.Fprintf(&imports, "  import * as %s from %q;\n", cgstrings.Camel(pkg.Name), npmName)
		} else {
			fmt.Fprintf(&imports, "  const %s = require(%q);\n", cgstrings.Camel(pkg.Name), npmName)
		}
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your program with:\n\n" + imports.String(),
	}, nil
}

// loadPackage reads the schema of a package that `pulumi package add` generated an SDK for.
func loadPackage(
	ctx context.Context, loader schema.ReferenceLoader, dep *pulumirpc.PackageDependency,
) (*schema.Package, error) {
	descriptor := &schema.PackageDescriptor{Name: dep.GetName(), DownloadURL: dep.GetServer()}
	if v, err := semver.ParseTolerant(dep.GetVersion()); err == nil {
		descriptor.Version = &v
	}
	if p := dep.GetParameterization(); p != nil {
		param := &schema.ParameterizationDescriptor{Name: p.GetName(), Value: p.GetValue()}
		if v, err := semver.ParseTolerant(p.GetVersion()); err == nil {
			param.Version = v
		}
		descriptor.Parameterization = param
	}
	ref, err := schema.LoadPackageReferenceV2(ctx, loader, descriptor)
	if err != nil {
		return nil, fmt.Errorf("cannot load the schema of package %s: %w", dep.GetName(), err)
	}
	pkg, err := ref.Definition()
	if err != nil {
		return nil, fmt.Errorf("cannot read the schema of package %s: %w", dep.GetName(), err)
	}
	if err := pkg.ImportLanguages(map[string]schema.Language{"nodejs": codegen.Importer}); err != nil {
		return nil, err
	}
	return pkg, nil
}

// npmPackageName is the name the code generator gave the SDK's package.json: the schema's
// `language.nodejs.packageName`, else `@<namespace>/<name>`, `@pulumi/<name>` without one.
func npmPackageName(pkg *schema.Package) string {
	if info, ok := pkg.Language["nodejs"].(codegen.NodePackageInfo); ok && info.PackageName != "" {
		return info.PackageName
	}
	if pkg.Namespace != "" {
		return "@" + pkg.Namespace + "/" + pkg.Name
	}
	return "@pulumi/" + pkg.Name
}

// About names the node that runs programs and its version (for `pulumi about`).
func (h *host) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the PATH: %w", err)
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("`%s --version` failed: %w", node, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}
