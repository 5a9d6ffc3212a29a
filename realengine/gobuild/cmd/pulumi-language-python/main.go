// Command pulumi-language-python is this project's stand-in for Pulumi's Python language
// host, the plugin the `pulumi` CLI starts to run a Python program or a Python plugin.
//
// Why it exists: the real host is the Go module
// github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, and the Go module proxy
// that this project can reach does not serve it (see ../../../LANGUAGE_HOST.md). Without a
// language host the CLI cannot run `pulumi preview`, `up` or `destroy` on a Python program.
//
// What it does: it implements the part of the LanguageRuntime gRPC service that those
// commands and policy packs use, built only from what the served sdk/v3 module ships: the
// Python toolchain package (virtualenv handling), rpcutil and the policy proxy. The program
// itself runs in the SDK's own exec shim, pulumi-language-python-exec, which must sit beside
// this binary, exactly as it sits beside the real host.
//
// What it leaves out (the CLI receives codes.Unimplemented): code generation, Pack, Link,
// About, GetProgramDependencies, RuntimeOptionsPrompts, Template and GetRequiredPlugins.
// It also refuses the `typechecker` runtime option and cannot attach a debugger.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// execShimName is the SDK's Python script that connects a program to the engine.
	execShimName = "pulumi-language-python-exec"
	// bailExitCode is how the exec shim says "the user has already seen the error": the
	// engine then fails the update without printing a second, less useful message.
	bailExitCode = 32
	// engineHealthInterval is how often the host checks that the engine is still alive;
	// when it is not, the host stops, so a CLI killed hard does not leave it behind.
	engineHealthInterval = 5 * time.Minute
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	executor := flag.String("use-executor", "", "path of "+execShimName+" (default: beside this binary)")
	// The CLI may pass --tracing; this host does not trace, but must accept the flag.
	flag.String("tracing", "", "ignored: this host does not emit traces")
	flag.Parse()

	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	shim, err := findExecShim(*executor)
	if err != nil {
		fail(err)
	}

	ctx, shutdown := signal.NotifyContext(context.Background(), os.Interrupt)
	defer shutdown()
	stopServing := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stopServing)
	}()

	h := newHost(shim, shutdown)
	// Older CLIs pass the engine's address as the only argument; newer ones call Handshake.
	if args := flag.Args(); len(args) > 0 {
		if err := h.setEngine(ctx, args[0]); err != nil {
			fail(err)
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("cannot start the language host's gRPC server: %w", err))
	}
	// The CLI reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("the language host's gRPC server stopped: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python (lightsail-ecr-access stand-in): %v\n", err)
	os.Exit(1)
}

// findExecShim returns the exec shim's path: the one given, or the one beside this binary.
func findExecShim(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot tell where this binary is: %w", err)
	}
	shim := filepath.Join(filepath.Dir(self), execShimName)
	if _, err := os.Stat(shim); err != nil {
		return "", fmt.Errorf("%s must be beside this binary: %w", execShimName, err)
	}
	return shim, nil
}

// host serves the LanguageRuntime service. Methods it does not define answer Unimplemented.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	shim     string
	shutdown context.CancelFunc // stops the whole host (used when the engine goes away)

	mu     sync.Mutex
	engine string

	// cancelled by the Cancel RPC: interrupts every running program.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func newHost(shim string, shutdown context.CancelFunc) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{shim: shim, shutdown: shutdown, cancelCtx: ctx, cancelAll: cancel}
}

// setEngine records the engine's address and watches its health.
func (h *host) setEngine(ctx context.Context, address string) error {
	h.mu.Lock()
	h.engine = address
	h.mu.Unlock()
	if err := rpcutil.Healthcheck(ctx, address, engineHealthInterval, h.shutdown); err != nil {
		return fmt.Errorf("cannot watch the engine at %s: %w", address, err)
	}
	return nil
}

func (h *host) engineAddress() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engine
}

func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	// The health check must outlive this request, so it does not use the request's context.
	if err := h.setEngine(context.Background(), req.GetEngineAddress()); err != nil {
		return nil, err
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// GetRequiredPackages answers that the program needs no packages. The real host lists the
// pulumi-plugin.json of every installed Python package, so the engine can install missing
// plugins before the program starts. Answering none means the engine loads each provider
// when the program first uses it, at the version the SDK asks for, from PATH or the plugin
// cache. That is what the project's tests want (a stand-in pulumi-resource-aws on PATH,
// nothing downloaded); the visible difference is that a missing plugin is reported when the
// program reaches it rather than before it runs.
func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{Packages: []*pulumirpc.PackageDependency{}}, nil
}

// Cancel interrupts every program this host is running.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// pythonOptions reads the `runtime.options` of Pulumi.yaml (or PulumiPolicy.yaml,
// PulumiPlugin.yaml) into the toolchain's options.
func pythonOptions(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
	}
	raw := info.GetOptions().AsMap()

	if v, ok := raw["virtualenv"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, errors.New("runtime option virtualenv must be a string")
		}
		// A relative path is relative to the project root; the toolchain resolves it.
		opts.Virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("runtime option toolchain must be pip, poetry or uv, not %v", v)
		}
	}
	if v, ok := raw["typechecker"]; ok {
		return opts, fmt.Errorf("runtime option typechecker (%v) is not supported by this project's "+
			"stand-in language host; remove it or use the real pulumi-language-python", v)
	}
	// Plugins always run in a virtualenv: with pip and none named, it is `venv`.
	if isPlugin && opts.Virtualenv == "" &&
		(opts.Toolchain == toolchain.Pip || opts.Toolchain == toolchain.Auto) {
		opts.Virtualenv = "venv"
	}
	return opts, nil
}

// withEnv returns cmd's environment (the parent's when the toolchain set none) plus extra.
func withEnv(cmd *exec.Cmd, extra ...string) []string {
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	return append(env, extra...)
}

// interruptThenKill makes a cancelled command get SIGINT first (the Python SDK then stops
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

// Run runs a Pulumi program: the exec shim, under the program's Python, with the engine's
// and the monitor's addresses, and the stack's configuration in the environment.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	engine := h.engineAddress()
	if engine == "" {
		return nil, errors.New("no engine address: the CLI passes it on the command line or by Handshake")
	}
	opts, err := pythonOptions(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}

	env, err := programConfigEnv(req)
	if err != nil {
		return nil, err
	}

	// The program stops when the CLI sends Cancel or when this request ends.
	runCtx, stopRun := context.WithCancel(h.cancelCtx)
	defer stopRun()
	defer context.AfterFunc(ctx, stopRun)()

	args := append([]string{h.shim}, execShimArgs(req, engine)...)
	cmd, err := tc.Command(runCtx, args...)
	if err != nil {
		return nil, err
	}
	interruptThenKill(cmd)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = withEnv(cmd, env...)

	err = cmd.Run()
	if err != nil {
		// The child may have crashed right after writing: make sure the CLI sees it all.
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
	}
	return runResponse(err), nil
}

// programConfigEnv returns PULUMI_CONFIG (the stack's configuration as JSON) and
// PULUMI_CONFIG_SECRET_KEYS (which of those keys are secrets), as the SDK reads them.
func programConfigEnv(req *pulumirpc.RunRequest) ([]string, error) {
	var env []string
	if cfg := req.GetConfig(); cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot encode the stack configuration: %w", err)
		}
		env = append(env, "PULUMI_CONFIG="+string(b))
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the secret configuration keys: %w", err)
	}
	return append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(b)), nil
}

// execShimArgs is the exec shim's command line: its flags (empty ones left out), then the
// entry point ("." for the program directory), then the program's own arguments.
func execShimArgs(req *pulumirpc.RunRequest, engine string) []string {
	flags := []struct{ name, value string }{
		{"monitor", req.GetMonitorAddress()},
		{"engine", engine},
		{"project", req.GetProject()},
		{"root_directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetPwd()},
		{"dry_run", strconv.FormatBool(req.GetDryRun())},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"organization", req.GetOrganization()},
	}
	var args []string
	for _, f := range flags {
		if f.value != "" {
			args = append(args, "--"+f.name, f.value)
		}
	}
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

// runResponse turns the program's exit into the answer the engine expects.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start the Python program: %v", err)}
	}
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Exited() && ws.ExitStatus() == bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}
	case ok && ws.Exited():
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("the Python program exited with code %d", ws.ExitStatus()),
		}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Python program ended abnormally: %v", err)}
	}
}

// InstallDependencies makes sure the program's virtualenv exists. The toolchain creates a
// missing (or empty) one and installs the project's requirements into it; an existing one
// is left as it is, unlike the real host, which installs the requirements again.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	opts, err := pythonOptions(req.GetInfo(), req.GetIsPlugin())
	if err != nil {
		return err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := tc.EnsureVenv(server.Context(), req.GetInfo().GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

// RunPlugin runs a plugin written in Python: a policy pack (kind "analyzer") or a resource
// plugin such as a component provider, streaming its output back to the engine.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	isPolicyPack := req.GetKind() == string(apitype.AnalyzerPlugin)
	opts, err := pythonOptions(req.GetInfo(), !isPolicyPack)
	if err != nil {
		return err
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return err
	}

	var cmd *exec.Cmd
	if isPolicyPack {
		// pulumi-policy's entry point takes the pack's directory last, and packs have always
		// run from their own directory.
		args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		cmd, err = tc.Command(ctx, append(args, opts.ProgramDir)...)
		if err != nil {
			return err
		}
		cmd.Dir = opts.ProgramDir
	} else {
		cmd, err = resourcePluginCommand(ctx, tc, opts, req.GetArgs())
		if err != nil {
			return err
		}
		cmd.Dir = req.GetPwd()
	}

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	var proxy *sdk.PolicyProxy
	var env []string
	if isPolicyPack {
		// The pack needs the stack's configuration in its environment, which the engine only
		// sends to an analyzer. The proxy plays the analyzer until the configuration arrives,
		// then forwards every call to the pack once it has printed its own port.
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("cannot start the policy pack proxy: %w", err)
		}
		cfg, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("no stack configuration for the policy pack: %w", err)
		}
		env, err = policyPackEnv(cfg)
		if err != nil {
			return err
		}
	}
	cmd.Env = withEnv(cmd, append(env, req.GetEnv()...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		if proxy != nil {
			proxy.Abort(err)
		}
		return fmt.Errorf("could not start the Python plugin: %w", err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // returns when the pack exits
	} else {
		err = cmd.Wait()
	}

	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
			return server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(ws.ExitStatus())},
			})
		}
	}
	if err != nil {
		return fmt.Errorf("the Python plugin failed: %w", err)
	}
	return closer.Close()
}

// resourcePluginCommand runs the plugin's __main__.py, or, for a package that has none,
// the SDK's `pulumi.run.plugin` entry point with the package's name.
func resourcePluginCommand(
	ctx context.Context, tc toolchain.Toolchain, opts toolchain.PythonOptions, args []string,
) (*exec.Cmd, error) {
	_, err := os.Stat(filepath.Join(opts.Root, "__main__.py"))
	if err == nil {
		return tc.Command(ctx, append([]string{opts.ProgramDir}, args...)...)
	}
	if !os.IsNotExist(err) {
		return nil, err
	}
	check, err := tc.Command(ctx, "-c", "import pulumi.run.plugin")
	if err != nil {
		return nil, err
	}
	if out, err := check.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("the plugin in %s has no __main__.py and its Python cannot import "+
			"pulumi.run.plugin: %v\n%s", opts.Root, err, out)
	}
	project, err := toolchain.LoadPyproject(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("the plugin in %s has no __main__.py and no readable pyproject.toml: %w",
			opts.Root, err)
	}
	if project.Project == nil || project.Project.Name == "" {
		return nil, fmt.Errorf("the plugin in %s has no __main__.py and its pyproject.toml names no project",
			opts.Root)
	}
	return tc.ModuleCommand(ctx, "pulumi.run.plugin", append([]string{project.Project.Name}, args...)...)
}

// policyPackEnv passes the stack's identity and configuration to a policy pack.
func policyPackEnv(cfg *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if cfg == nil {
		return nil, nil
	}
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PULUMI_ORGANIZATION", cfg.GetOrganization())
	add("PULUMI_PROJECT", cfg.GetProject())
	add("PULUMI_STACK", cfg.GetStack())
	add("PULUMI_DRY_RUN", strconv.FormatBool(cfg.GetDryRun()))
	if c := cfg.GetConfig(); c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("cannot encode the stack configuration for the policy pack: %w", err)
		}
		add("PULUMI_CONFIG", string(b))
	}
	return env, nil
}
