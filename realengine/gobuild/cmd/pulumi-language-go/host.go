package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// engineHealthInterval is how often the host checks that the engine is still alive; when it
// is not, the host stops, so a CLI killed hard does not leave it behind.
const engineHealthInterval = 5 * time.Minute

// host serves the LanguageRuntime service for Go programs.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	shutdown context.CancelFunc // stops the whole host (used when the engine goes away)

	mu     sync.Mutex
	engine string

	// cancelled by the Cancel RPC: interrupts every running program and build.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func newHost(shutdown context.CancelFunc) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{shutdown: shutdown, cancelCtx: ctx, cancelAll: cancel}
}

// setEngine records the engine's address and watches its health.
func (h *host) setEngine(ctx context.Context, address string) error {
	if address == "" {
		return fmt.Errorf("no engine address: the CLI sends it on the command line or by Handshake")
	}
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
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
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

// GetRequiredPackages answers that the program needs no packages. Pulumi's host reads the
// pulumi-plugin.json of every module the program imports so the engine can install missing
// plugins first; with none listed, the engine loads each provider when the program first
// registers a resource of it, from PATH or the plugin cache, and nothing is downloaded (what
// this project's tests want). A missing plugin is then reported when the program reaches it.
func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{Packages: []*pulumirpc.PackageDependency{}}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages, with the same answer.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: []*pulumirpc.PluginDependency{}}, nil
}

// Cancel interrupts every build and program this host is running.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// About names the Go toolchain that builds the programs (`pulumi about`).
func (h *host) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("no `go` on PATH: a Go program is built with the Go toolchain: %w", err)
	}
	out, err := exec.CommandContext(ctx, gobin, "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("`%s env GOVERSION` failed: %w", gobin, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: gobin,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "go"),
		Metadata:   map[string]string{"host": "lightsail-ecr-access pulumi-language-go"},
	}, nil
}

// notServed is the answer for what this host does not do: the CLI shows the sentence.
func notServed(what string) error {
	return status.Errorf(codes.Unimplemented,
		"%s is not served by this project's Go language host (realengine/gobuild/cmd/pulumi-language-go); "+
			"it runs Go programs and links generated SDKs only", what)
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return nil, notServed("listing a Go program's dependencies")
}

func (h *host) RunPlugin(*pulumirpc.RunPluginRequest, grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	return notServed("running a plugin written in Go")
}

func (h *host) GenerateProgram(
	context.Context, *pulumirpc.GenerateProgramRequest,
) (*pulumirpc.GenerateProgramResponse, error) {
	return nil, notServed("converting a program to Go (pulumi convert)")
}

func (h *host) GenerateProject(
	context.Context, *pulumirpc.GenerateProjectRequest,
) (*pulumirpc.GenerateProjectResponse, error) {
	return nil, notServed("generating a Go project (pulumi convert)")
}

func (h *host) Pack(context.Context, *pulumirpc.PackRequest) (*pulumirpc.PackResponse, error) {
	return nil, notServed("packing a Go SDK (pulumi package pack-sdk)")
}

func (h *host) Template(context.Context, *pulumirpc.TemplateRequest) (*pulumirpc.TemplateResponse, error) {
	return nil, notServed("templating a Go project (pulumi new)")
}
