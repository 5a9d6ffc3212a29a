// Command pulumi-language-nodejs is this project's stand-in for Pulumi's Node.js language
// host, the plugin the `pulumi` CLI starts to run a TypeScript or JavaScript program.
//
// Why it exists: the real host is the Go module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, which the Go module
// proxy this project reaches refuses (see ../../../LANGUAGE_HOST.md). Without a Node.js
// host the CLI cannot run, or `pulumi package add` into, a TypeScript program.
//
// What it does: the program runs in @pulumi/pulumi's own run script
// (`@pulumi/pulumi/cmd/run`, resolved from the program's folder as Node resolves it), which
// connects the program to the engine and, for TypeScript, loads it through the SDK's
// vendored ts-node. This host only starts it with the command line and environment that
// script reads (run.go). It also generates a package's Node.js SDK with pkg/v3's codegen,
// links it into package.json and installs dependencies with the package manager
// (packages.go), all from the served pkg/v3 and sdk/v3 modules.
//
// What it leaves out (the CLI receives codes.Unimplemented, or a sentence saying so): the
// synchronous-invoke pipes (`--sync`; only the deprecated `invokeSync` needs them), the
// bun runtime, RunPlugin (a plugin or policy pack written in Node.js), Pack, code
// generation of programs and projects (`pulumi convert`), GetProgramDependencies,
// RuntimeOptionsPrompts, Template, debugger attachment, tracing, and node version
// managers (.nvmrc).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// engineHealthInterval is how often the host checks that the engine is still alive; when
// it is not, the host stops, so a CLI killed hard does not leave it behind.
const engineHealthInterval = 5 * time.Minute

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	// The CLI may pass --tracing; this host does not trace, but must accept the flag.
	flag.String("tracing", "", "ignored: this host does not emit traces")
	runtimeName := flag.String("runtime", "nodejs", "the JavaScript runtime: only nodejs here")
	flag.Parse()

	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)
	if *runtimeName != "nodejs" {
		fail(fmt.Errorf("runtime %q is not supported by this project's stand-in host: only nodejs",
			*runtimeName))
	}

	ctx, shutdown := signal.NotifyContext(context.Background(), os.Interrupt)
	defer shutdown()
	stopServing := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stopServing)
	}()

	h := newHost(shutdown)
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
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs (lightsail-ecr-access stand-in): %v\n", err)
	os.Exit(1)
}

// host serves the LanguageRuntime service. Methods it does not define answer Unimplemented.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	shutdown context.CancelFunc // stops the whole host (used when the engine goes away)

	mu     sync.Mutex
	engine string

	// cancelled by the Cancel RPC: interrupts every running program.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

func newHost(shutdown context.CancelFunc) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{shutdown: shutdown, cancelCtx: ctx, cancelAll: cancel}
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

// Cancel interrupts every program this host is running.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}

// RunPlugin is refused with a sentence rather than a bare Unimplemented: a user who points
// the CLI at a provider or policy pack written in Node.js learns why it does not start.
func (h *host) RunPlugin(*pulumirpc.RunPluginRequest, pulumirpc.LanguageRuntime_RunPluginServer) error {
	return status.Error(codes.Unimplemented, "this project's stand-in pulumi-language-nodejs runs "+
		"programs only, not plugins or policy packs written in Node.js")
}

// Pack is refused the same way: it publishes a Node.js SDK, which this project does not do.
func (h *host) Pack(context.Context, *pulumirpc.PackRequest) (*pulumirpc.PackResponse, error) {
	return nil, status.Error(codes.Unimplemented, "this project's stand-in pulumi-language-nodejs "+
		"does not pack SDKs (`pulumi package pack-sdk`); `pulumi package add` needs no packing")
}

var errNoEngine = errors.New("no engine address: the CLI passes it on the command line or by Handshake")
