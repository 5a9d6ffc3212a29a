"""Getting the Go example's modules before the tests, so the tests need no network.

A Go program is built by `go build`, which downloads missing modules from the module
proxy. The tests run with `OFFLINE_GO_ENV` (GOPROXY=off): every module the Go example
(`examples/go`) needs after `pulumi package add` must already be in GOMODCACHE. Its
go.mod and go.sum are what `go mod tidy` wrote there; `go mod download all` in a copy of
them fetches every module of that module graph. Not only the build's: `package add` runs
`go mod tidy`, which also reads the modules that the tests of the imported packages
import (testify, rapid, ...; without them an offline tidy fails with "module lookup
disabled by GOPROXY=off"). That is 0.75 GiB of GOMODCACHE, 11 s to download here. Then
the Go SDK's packages are compiled once into GOCACHE, so the first `go build` of a test
compiles only the program and the generated SDK. (The consumer's module versions are
those sdk/v3 v3.276.0 asks for, not the CLI build's, so the CLI build does not warm them.)

`python -m realengine.cli` runs this after it has the CLI directory; with everything in
the caches it takes a second or two.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from realengine.build import BuildError, Progress, _run_step, find_go

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "go"
OFFLINE_GO_ENV = {"GOPROXY": "off", "GOTOOLCHAIN": "local"}
"""What a test's Go builds run with: the module cache only, the Go on PATH only."""
# The packages a Pulumi Go program and its generated SDK import from sdk/v3.
SDK_PACKAGES = (
    "github.com/pulumi/pulumi/sdk/v3/go/pulumi",
    "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config",
)


def prepare_go_program(progress: Progress, example: Path = EXAMPLE) -> None:
    """Download the modules of `example`'s go.mod and compile the SDK's packages.

    Raises BuildError (with go's words) when the module proxy cannot be reached and a
    module is missing, or when there is no Go."""
    go = find_go()
    with tempfile.TemporaryDirectory(prefix="lsea-go-example-") as folder:
        # A copy: go may tidy a go.mod it works in, and the checkout must stay as it is.
        # No main package: the program imports the SDK that `package add` generates.
        for name in ("go.mod", "go.sum"):
            shutil.copyfile(example / name, Path(folder) / name)
        _run_step(
            "downloading the Go example's modules",
            [str(go), "mod", "download", "all"],
            progress,
            cwd=Path(folder),
        )
        _run_step(
            "compiling the Go SDK's packages for the Go example",
            [str(go), "build", *SDK_PACKAGES],
            progress,
            cwd=Path(folder),
        )


__all__ = ["EXAMPLE", "OFFLINE_GO_ENV", "BuildError", "prepare_go_program"]
