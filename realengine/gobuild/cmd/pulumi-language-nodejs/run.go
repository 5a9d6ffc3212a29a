package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"
	"github.com/pulumi/pulumi/sdk/v3/nodejs/npm"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const (
	// runScript is @pulumi/pulumi's own entry point for a program: it connects to the
	// monitor and the engine, loads the program (through the SDK's ts-node for TypeScript)
	// and waits for its registrations before it exits.
	runScript = "@pulumi/pulumi/cmd/run"
	// bailExitCode is how the run script says "the user has already seen the error": the
	// engine then fails the update without printing a second, less useful message.
	bailExitCode = 32
)

// nodeOptions are the `runtime.options` of a Node.js Pulumi.yaml that this host reads.
type nodeOptions struct {
	typescript     bool   // load the program through ts-node (the default, as in the real host)
	tsconfig       string // the tsconfig the run script gives ts-node, when not tsconfig.json
	nodeargs       []string
	packagemanager npm.PackageManagerType
	production     bool // install without devDependencies
}

func parseOptions(raw map[string]any) (nodeOptions, error) {
	opts := nodeOptions{typescript: true, packagemanager: npm.AutoPackageManager}
	for key, value := range raw {
		var ok bool
		switch key {
		case "typescript":
			opts.typescript, ok = value.(bool)
		case "production":
			opts.production, ok = value.(bool)
		case "tsconfig":
			opts.tsconfig, ok = value.(string)
		case "nodeargs":
			var text string
			if text, ok = value.(string); ok {
				var err error
				if opts.nodeargs, err = shlex.Split(text); err != nil {
					return opts, fmt.Errorf("runtime option nodeargs (%q) cannot be split: %w", text, err)
				}
			}
		case "packagemanager":
			var name string
			if name, ok = value.(string); ok {
				switch pm := npm.PackageManagerType(name); pm {
				case npm.AutoPackageManager, npm.NpmPackageManager, npm.YarnPackageManager, npm.PnpmPackageManager:
					opts.packagemanager = pm
				default:
					return opts, fmt.Errorf("runtime option packagemanager must be auto, npm, yarn or pnpm, not %q", name)
				}
			}
		default:
			return opts, fmt.Errorf("runtime option %s is not supported by this project's stand-in "+
				"pulumi-language-nodejs (it reads typescript, tsconfig, nodeargs, packagemanager, production)", key)
		}
		if !ok {
			return opts, fmt.Errorf("runtime option %s has the wrong type: %v", key, value)
		}
	}
	return opts, nil
}

// Run runs a Pulumi program: `node [nodeargs] <run script> <flags> <entry point> <args>`,
// in the program's folder, with the stack's configuration in the environment.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	engine := h.engineAddress()
	if engine == "" {
		return nil, errNoEngine
	}
	info := req.GetInfo()
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		// An answer, not a gRPC error: the CLI prints it as the program's failure.
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not find node on the PATH: %v", err)}, nil
	}
	script, err := resolveFrom(ctx, node, info.GetProgramDirectory(), runScript)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env, err := programEnv(req, opts)
	if err != nil {
		return nil, err
	}

	// The program stops when the CLI sends Cancel or when this request ends.
	runCtx, stopRun := context.WithCancel(h.cancelCtx)
	defer stopRun()
	defer context.AfterFunc(ctx, stopRun)()

	args := append(append([]string{}, opts.nodeargs...), script)
	args = append(args, runScriptArgs(req, engine)...)
	cmd := exec.CommandContext(runCtx, node, args...)
	interruptThenKill(cmd)
	cmd.Dir = info.GetProgramDirectory()
	// Node may switch its stdout and stderr to non-blocking mode; handing it this
	// process's own descriptors would change theirs too. Wrapped writers make exec copy
	// through pipes instead.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	cmd.Env = append(os.Environ(), env...)
	return runResponse(cmd.Run()), nil
}

// resolveFrom asks node where `module` is, resolved from `dir` as the program's own
// require would: that finds the program's @pulumi/pulumi, whatever its layout.
func resolveFrom(ctx context.Context, node, dir, module string) (string, error) {
	script := fmt.Sprintf("try { console.log(require.resolve(%q)); } catch (e) { "+
		"console.error(e.code === 'MODULE_NOT_FOUND' ? %q : e.message); process.exit(1); }",
		module, "@pulumi/pulumi is not installed for the program in "+dir+
			": run `pulumi install` (or `npm install`) there")
	cmd := exec.CommandContext(ctx, node, "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", errors.New(strings.TrimSpace(string(exitErr.Stderr)))
		}
		return "", fmt.Errorf("could not run %s: %w", node, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// programEnv is what the run script and the SDK read from the environment besides the
// command line: the configuration, which keys are secrets, and the TypeScript settings.
func programEnv(req *pulumirpc.RunRequest, opts nodeOptions) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretsJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the secret configuration keys: %w", err)
	}
	// The SDK takes `<namespace>:<name>` keys as they come (older hosts sent
	// `<namespace>:config:<name>`; the SDK reads both).
	env := []string{"PULUMI_CONFIG=" + string(configJSON), "PULUMI_CONFIG_SECRET_KEYS=" + string(secretsJSON)}
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	return env, nil
}

// runScriptArgs is the run script's command line after the script: its flags (empty ones
// left out; `--dry-run` is a switch), the entry point ("." for the folder's package.json
// `main`, or index), then the program's own arguments.
func runScriptArgs(req *pulumirpc.RunRequest, engine string) []string {
	flags := []struct{ name, value string }{
		{"monitor", req.GetMonitorAddress()},
		{"engine", engine},
		{"organization", req.GetOrganization()},
		{"project", req.GetProject()},
		{"root-directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetInfo().GetProgramDirectory()},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
	}
	var args []string
	for _, f := range flags {
		if f.value != "" {
			args = append(args, "--"+f.name, f.value)
		}
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

// interruptThenKill makes a cancelled command get SIGINT first (the SDK then stops
// cleanly) and SIGKILL only if it is still there after WaitDelay.
func interruptThenKill(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
}

// runResponse turns the program's exit into the answer the engine expects.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	// The child may have crashed right after writing: make sure the CLI sees it all.
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start the Node.js program: %v", err)}
	}
	switch code := exitErr.ExitCode(); code {
	case bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}
	case -1:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Node.js program ended abnormally: %v", err)}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Node.js program exited with code %d", code)}
	}
}
