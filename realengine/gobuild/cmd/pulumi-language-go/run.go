package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// goOptions are the `runtime.options` of a Go project's Pulumi.yaml that this host reads.
type goOptions struct {
	// binary is a program built beforehand (relative to the project root): run it, build
	// nothing. CI that builds once and runs preview and up on the same binary uses it.
	binary string
}

func parseOptions(info *pulumirpc.ProgramInfo) (goOptions, error) {
	var opts goOptions
	for key, value := range info.GetOptions().AsMap() {
		switch key {
		case "binary":
			s, ok := value.(string)
			if !ok || s == "" {
				return opts, fmt.Errorf("runtime option binary must be a path, not %v", value)
			}
			if !filepath.IsAbs(s) {
				s = filepath.Join(info.GetRootDirectory(), s)
			}
			opts.binary = s
		default:
			return opts, fmt.Errorf("runtime option %s is not supported by this project's Go language "+
				"host (it reads only `binary`); remove it from Pulumi.yaml", key)
		}
	}
	return opts, nil
}

// Run builds the program (unless a binary is given), then runs it with the engine's and
// the monitor's addresses, the stack's identity and its configuration in the environment,
// which is where the Go SDK's pulumi.Run reads them.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	engine := h.engineAddress()
	if engine == "" {
		return nil, errors.New("no engine address: the CLI passes it on the command line or by Handshake")
	}
	opts, err := parseOptions(req.GetInfo())
	if err != nil {
		return nil, err
	}
	env, err := programEnv(req, engine)
	if err != nil {
		return nil, err
	}

	// The build and the program stop when the CLI sends Cancel or when this request ends.
	runCtx, stopRun := context.WithCancel(h.cancelCtx)
	defer stopRun()
	defer context.AfterFunc(ctx, stopRun)()

	program := opts.binary
	if program == "" {
		dir, err := os.MkdirTemp("", "pulumi-go-program-")
		if err != nil {
			return nil, fmt.Errorf("cannot make a folder for the program's binary: %w", err)
		}
		defer os.RemoveAll(dir)
		program = filepath.Join(dir, "program")
		if err := buildProgram(runCtx, req.GetInfo().GetProgramDirectory(), program, os.Stderr); err != nil {
			// The compiler's messages are already on stderr, which the CLI shows.
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
	}

	cmd := exec.CommandContext(runCtx, program, req.GetArgs()...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	interruptThenKill(cmd)
	return runResponse(cmd.Run()), nil
}

// buildProgram compiles the main package in dir into out with the Go toolchain on PATH and
// the environment's Go settings (GOFLAGS, GOPROXY, GOCACHE...), and says how long it took.
func buildProgram(ctx context.Context, dir, out string, log io.Writer) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no `go` on PATH: a Go program is built with the Go toolchain: %w", err)
	}
	started := time.Now()
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	interruptThenKill(cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the Go program in %s failed (`go build -o <temp> .`: %v); "+
			"the compiler's messages are above", dir, err)
	}
	// Off by default (it would print on every preview): this project measures builds with it.
	if os.Getenv("LSEA_GO_BUILD_TIMING") != "" {
		fmt.Fprintf(log, "pulumi-language-go: go build took %.1f s\n", time.Since(started).Seconds())
	}
	return nil
}

// programEnv is what the Go SDK's pulumi.Run reads (sdk/go/pulumi/run.go, getEnvInfo):
// empty values are left out, so the SDK's own defaults apply.
func programEnv(req *pulumirpc.RunRequest, engine string) ([]string, error) {
	config := ""
	if cfg := req.GetConfig(); cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot encode the stack configuration: %w", err)
		}
		config = string(b)
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the secret configuration keys: %w", err)
	}
	settings := []struct{ name, value string }{
		{pulumi.EnvOrganization, req.GetOrganization()},
		{pulumi.EnvProject, req.GetProject()},
		{pulumi.EnvPulumiRootDirectory, req.GetInfo().GetRootDirectory()},
		{pulumi.EnvStack, req.GetStack()},
		{pulumi.EnvConfig, config},
		{pulumi.EnvConfigSecretKeys, string(secretKeys)},
		{pulumi.EnvDryRun, strconv.FormatBool(req.GetDryRun())},
		{pulumi.EnvParallel, strconv.Itoa(int(req.GetParallel()))},
		{pulumi.EnvMonitor, req.GetMonitorAddress()},
		{pulumi.EnvEngine, engine},
	}
	var env []string
	for _, s := range settings {
		if s.value != "" {
			env = append(env, s.name+"="+s.value)
		}
	}
	return env, nil
}

// interruptThenKill makes a cancelled command get SIGINT first (a Go program's pulumi.Run
// then stops cleanly) and SIGKILL only if it is still there after WaitDelay.
func interruptThenKill(cmd *exec.Cmd) {
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
}

// runResponse turns the program's exit into the answer the engine expects: exit code 32
// means the program has already reported its error to the engine (pulumi.Run does that),
// so the engine fails the update without a second, less useful message.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start the Go program: %v", err)}
	}
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Exited() && ws.ExitStatus() == constant.ExitStatusLoggedError:
		return &pulumirpc.RunResponse{Bail: true}
	case ok && ws.Exited():
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Go program exited with code %d", ws.ExitStatus())}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("the Go program ended abnormally: %v", err)}
	}
}
