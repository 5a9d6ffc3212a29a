"""A real Pulumi CLI directory for the tests: `python -m realengine.cli` prints its path.

The directory holds `pulumi`, `pulumi-language-python`, `pulumi-language-python-exec`,
`pulumi-resource-pulumi-python`, `pulumi-language-yaml`, `pulumi-language-nodejs` and
`pulumi-language-go`. Put it first on PATH to run `pulumi preview/up/destroy` on a Python
program, a YAML one (`runtime: yaml`), a TypeScript one (`runtime: nodejs`) or a Go one
(`runtime: go`). Then it fetches the TypeScript example's npm packages into a cache of
their own (realengine/nodeprogram.py), and the Go example's modules into the Go caches
(realengine/goprogram.py), so those tests install and build offline; a failure there is
reported, and the path still printed: only those tests need them, and they say why they
fail.

Where it comes from, in order:

1. a `pulumi` on PATH that reports v3.276.0 or newer and has a `pulumi-language-python`
   and a `pulumi-language-yaml` beside it or on PATH: its directory is used as it is (keep
   PATH when you use it);
2. the cache, `$LSEA_CLI_CACHE` or `${XDG_CACHE_HOME:-~/.cache}/lightsail-ecr-access/
   pulumi-v3.276.0`, in a subdirectory named by the version and a hash of
   `realengine/gobuild`: returned at once when complete and its `pulumi version` answers;
3. otherwise it is built there from the Go modules in `realengine/gobuild` and
   `realengine/gobuild/yamlhost` (a few minutes on two cores; needs Go, the Go module
   proxy and a few GiB of disk, checked first).

Progress goes to stderr; the path is the only line on stdout. Exit code 1 and one message
on stderr when the directory cannot be had.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from realengine.build import BuildError, build_cli, cache_key, default_cache_root, is_complete
from realengine.goprogram import prepare_go_program
from realengine.nodeprogram import NodePrepError, prepare_node_program
from realengine.versions import PINNED_VERSION, find_usable_cli

__all__ = ["PINNED_VERSION", "BuildError", "ensure_cli", "main"]


def _to_stderr(line: str) -> None:
    print(f"realengine.cli: {line}", file=sys.stderr, flush=True)


def ensure_cli(progress: Callable[[str], None] | None = None) -> Path:
    """The directory of a Pulumi CLI >= PINNED_VERSION with the Python and YAML hosts.

    `progress` receives one line per step of a build (default: printed on stderr).
    Raises BuildError, whose message names what is missing, when there is none to be had.
    """
    report = progress or _to_stderr
    on_path = find_usable_cli()
    if on_path is not None:
        return on_path
    root = default_cache_root()
    key = cache_key()
    cached = root / key
    if is_complete(cached):
        return cached
    report(f"no usable pulumi >= {PINNED_VERSION} on PATH and no build in {cached}: building it")
    return build_cli(root, key, report)


def main() -> int:
    try:
        directory = ensure_cli()
    except BuildError as err:
        _to_stderr(str(err))
        return 1
    # The examples' packages, so their tests install and build offline. Only those tests
    # need them (they try again and fail naming what is missing): the rest of the
    # real-engine suite still runs on this CLI.
    try:
        prepare_go_program(_to_stderr)
    except BuildError as err:
        _to_stderr(f"the Go example's modules could not be had: {err}")
    try:
        prepare_node_program(_to_stderr)
    except (NodePrepError, OSError, subprocess.SubprocessError) as err:
        _to_stderr(f"the TypeScript example's npm packages could not be had: {err}")
    print(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
