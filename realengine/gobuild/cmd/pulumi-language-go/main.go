// Command pulumi-language-go is this project's own Go language host: the plugin the
// `pulumi` CLI starts to run a Go program (`runtime: go` in Pulumi.yaml) and to wire a
// generated Go SDK into one (`pulumi package add`).
//
// Why it exists: Pulumi's host is the Go module
// github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3, which the Go module proxy this
// project reaches refuses (see ../../../LANGUAGE_HOST.md). It is built in the same module
// as the CLI, so it uses the same pinned pkg/v3 (the Go code generator) and sdk/v3.
//
// What it serves (host.go, run.go, deps.go, sdk.go): Handshake, GetPluginInfo,
// GetRequiredPlugins and GetRequiredPackages (both empty), Run (builds the program with
// `go build`, then runs the binary with the settings the Go SDK's pulumi.Run reads from
// the environment), InstallDependencies (`go mod tidy`), GeneratePackage (pkg/v3's Go
// code generator), Link (a replace and a require in the program's go.mod), About and
// Cancel. Everything else answers codes.Unimplemented with a sentence saying so.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	// The CLI may pass --tracing; this host does not trace, but must accept the flag.
	flag.String("tracing", "", "ignored: this host does not emit traces")
	flag.Parse()

	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

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
	fmt.Fprintf(os.Stderr, "pulumi-language-go (lightsail-ecr-access's own host): %v\n", err)
	os.Exit(1)
}
