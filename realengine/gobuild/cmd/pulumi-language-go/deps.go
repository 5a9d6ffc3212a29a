package main

import (
	"fmt"
	"os/exec"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// InstallDependencies runs `go mod tidy` in the program's folder: after `pulumi package
// add` it records the linked SDK's requirements and their checksums in go.mod and go.sum,
// and downloads what is missing. It reaches the module proxy only for modules that are not
// in the module cache yet; with GOPROXY=off (this project's tests) a missing one is an error
// that names it.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()

	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no `go` on PATH: a Go program's dependencies are installed with the Go toolchain: %w", err)
	}
	dir := req.GetInfo().GetProgramDirectory()
	fmt.Fprintf(stdout, "Installing the Go program's dependencies (go mod tidy in %s)...\n", dir)
	cmd := exec.CommandContext(server.Context(), gobin, "mod", "tidy")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("`go mod tidy` in %s failed (%v); go's messages are above", dir, err)
	}
	return closer.Close()
}
