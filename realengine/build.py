"""Building the CLI directory from the Go module in `realengine/gobuild`.

One build makes a directory with six executables:

- `pulumi`, the Pulumi CLI at PINNED_VERSION, from `pkg/v3/cmd/pulumi`;
- `pulumi-language-python`, the project's own language host (see LANGUAGE_HOST.md);
- `pulumi-language-python-exec` and `pulumi-resource-pulumi-python`, scripts copied from
  the `sdk/v3` module that the host and the engine run (module zips drop exec bits);
- `pulumi-language-yaml`, pulumi-yaml's own language host, from the module of its own in
  `gobuild/yamlhost` (it does not compile against the CLI's pkg/v3; see its tools.go);
- `pulumi-language-nodejs`, the project's own Node.js host (see LANGUAGE_HOST.md), from
  `cmd/pulumi-language-nodejs` in the CLI's module: beyond the CLI's packages it compiles
  only pkg/v3's Node.js code generator (about 8 s of CPU on a warm cache).
- `pulumi-language-go`, the project's own Go language host (see LANGUAGE_HOST.md).

The directory lives in a cache outside the checkout, named by a key that covers the
version, the build recipe and every file of `gobuild`, so changing the host rebuilds it.
It is built under a temporary name and renamed when complete: a killed build never leaves
a directory that looks done.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from realengine.versions import (
    GO_LANGUAGE_HOST,
    LANGUAGE_HOST,
    NODEJS_LANGUAGE_HOST,
    PINNED_VERSION,
    YAML_LANGUAGE_HOST,
    cli_version,
    parse_version,
)

Progress = Callable[[str], None]

GOBUILD_DIR = Path(__file__).resolve().parent / "gobuild"
CLI_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
HOST_PACKAGE = "./cmd/pulumi-language-python"
NODEJS_HOST_PACKAGE = "./cmd/pulumi-language-nodejs"
GO_HOST_PACKAGE = "./cmd/pulumi-language-go"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
VERSION_LDFLAGS = f"-X {SDK_MODULE}/go/common/version.Version=v{PINNED_VERSION}"
YAML_DIR = GOBUILD_DIR / "yamlhost"
YAML_MODULE = "github.com/pulumi/pulumi-yaml"
YAML_PACKAGE = f"{YAML_MODULE}/cmd/pulumi-language-yaml"

EXECUTABLES = (
    "pulumi",
    LANGUAGE_HOST,
    "pulumi-language-python-exec",
    "pulumi-resource-pulumi-python",
    YAML_LANGUAGE_HOST,
    NODEJS_LANGUAGE_HOST,
    GO_LANGUAGE_HOST,
)
# Where the two scripts sit inside the sdk/v3 module.
SDK_SCRIPTS = {
    "pulumi-language-python-exec": "python/cmd/pulumi-language-python-exec",
    "pulumi-resource-pulumi-python": "python/dist/pulumi-resource-pulumi-python",
}

# Bump when the way this module builds changes (flags, files copied), so old caches rebuild.
RECIPE = (
    "4: go build -trimpath; python, nodejs and go hosts beside CLI; two sdk scripts; "
    "yaml host from yamlhost/"
)

GIB = 1024**3
# Measured on a two-core machine (Go 1.26.8, v3.276.0, 2026-12): the modules the build
# needs take 1.6 GiB in GOMODCACHE (zips plus extracted trees), and the YAML host's own
# (pulumi-yaml, pkg/v3 and sdk/v3 v3.224.0, older x/ and grpc modules) 0.4 GiB more;
# `go build -trimpath` adds about 2.4 GiB to GOCACHE (1.3 GiB for the CLI, measured after
# the Python host's packages were already there; about 0.4 GiB for the YAML host); the
# finished directory is 0.25 GiB. The needs below round those up; a filesystem that holds
# several of them must hold the sum (6 GiB when all share one).
NEED_MODULES = 2 * GIB
NEED_YAML_MODULES = int(0.5 * GIB)
NEED_BUILD_CACHE = 3 * GIB
NEED_OUTPUT = int(0.5 * GIB)

# go's own words when it cannot reach or is refused by the module proxy.
_PROXY_TROUBLE = re.compile(
    r"403 Forbidden|404 Not Found|410 Gone|not available|GOPROXY|"
    r"dial tcp|no such host|Could not resolve host|connection refused|i/o timeout|"
    r"TLS handshake timeout|module lookup disabled|unrecognized import path",
)

_HEARTBEAT_S = 30
_KEY = re.compile(r"v\d+\.\d+\.\d+-[0-9a-f]{16}")


class BuildError(RuntimeError):
    """The CLI directory could not be built; the message says what is missing."""


def default_cache_root() -> Path:
    """`$LSEA_CLI_CACHE`, else `$XDG_CACHE_HOME` (or ~/.cache)/lightsail-ecr-access/pulumi-vX."""
    explicit = os.environ.get("LSEA_CLI_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "lightsail-ecr-access" / f"pulumi-v{PINNED_VERSION}"


def cache_key(gobuild: Path = GOBUILD_DIR) -> str:
    """`v<version>-<digest>`: the digest covers the recipe and every file's path and bytes."""
    digest = hashlib.sha256()
    digest.update(f"{PINNED_VERSION}\0{RECIPE}\0".encode())
    for file in sorted(p for p in gobuild.rglob("*") if p.is_file()):
        digest.update(file.relative_to(gobuild).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return f"v{PINNED_VERSION}-{digest.hexdigest()[:16]}"


def is_complete(directory: Path) -> bool:
    """Whether `directory` holds the executables and its `pulumi` answers the version."""
    for name in EXECUTABLES:
        file = directory / name
        if not (file.is_file() and os.access(file, os.X_OK)):
            return False
    try:
        return parse_version(cli_version(directory / "pulumi")) == parse_version(PINNED_VERSION)
    except (RuntimeError, ValueError):
        return False


# --- preflight -------------------------------------------------------------------------


def yaml_host_version(yamlhost: Path = YAML_DIR) -> str:
    """The pulumi-yaml version that yamlhost/go.mod requires (`v1.30.0`)."""
    go_mod = yamlhost / "go.mod"
    match = re.search(
        rf"^\s*(?:require\s+)?{re.escape(YAML_MODULE)}\s+(v\S+)", go_mod.read_text(), re.M
    )
    if match is None:
        raise BuildError(f"{go_mod} does not require {YAML_MODULE}")
    return match.group(1)


def required_go_version(gobuild: Path = GOBUILD_DIR) -> str:
    """The `go` line of gobuild/go.mod: the oldest Go that builds the module."""
    match = re.search(r"^go\s+(\S+)", (gobuild / "go.mod").read_text(), re.MULTILINE)
    if match is None:
        raise BuildError(f"{gobuild / 'go.mod'} has no `go` line")
    return match.group(1)


def find_go(path: str | None = None, gobuild: Path = GOBUILD_DIR) -> Path:
    """The `go` on PATH, checked to be new enough for gobuild/go.mod."""
    wanted = required_go_version(gobuild)
    found = shutil.which("go", path=path)
    if found is None:
        raise BuildError(
            f"no `go` on PATH: building the Pulumi CLI v{PINNED_VERSION} needs Go >= {wanted} "
            f"(install it, or put a `pulumi` >= {PINNED_VERSION} with a {LANGUAGE_HOST}, a "
            f"{YAML_LANGUAGE_HOST} and a {NODEJS_LANGUAGE_HOST} on PATH)"
        )
    done = subprocess.run(
        [found, "env", "GOVERSION"], capture_output=True, text=True, check=False, timeout=60
    )
    have = done.stdout.strip()
    try:
        too_old = parse_version(have.removeprefix("go")) < parse_version(wanted)
    except ValueError:
        too_old = False  # a development toolchain: let go itself judge
    if done.returncode != 0 or too_old:
        raise BuildError(
            f"`{found}` is {have or 'not answering'}: building the Pulumi CLI needs Go >= {wanted}"
        )
    return Path(found)


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_needs(go_env: dict[str, str], cache_root: Path) -> list[tuple[Path, int]]:
    """Free bytes needed per filesystem, as (a path on it, bytes), summed per device."""
    needs: list[tuple[Path, int]] = []
    modcache = Path(go_env["GOMODCACHE"])
    # Modules already there (from an earlier build) need no new room.
    pkg_module = modcache / "github.com" / "pulumi" / "pulumi" / "pkg" / f"v3@v{PINNED_VERSION}"
    if not pkg_module.is_dir():
        needs.append((modcache, NEED_MODULES))
    yaml_module = modcache / "github.com" / "pulumi" / f"pulumi-yaml@{yaml_host_version()}"
    if not yaml_module.is_dir():
        needs.append((modcache, NEED_YAML_MODULES))
    needs.append((Path(go_env["GOCACHE"]), NEED_BUILD_CACHE))
    needs.append((cache_root, NEED_OUTPUT))
    per_device: dict[int, tuple[Path, int]] = {}
    for path, need in needs:
        anchor = _existing_ancestor(path)
        device = anchor.stat().st_dev
        shown, total = per_device.get(device, (path, 0))
        per_device[device] = (shown, total + need)
    return list(per_device.values())


def check_disk(needs: Sequence[tuple[Path, int]]) -> None:
    """Raise BuildError naming the filesystem when one has less free space than needed."""
    for path, need in needs:
        free = shutil.disk_usage(_existing_ancestor(path)).free
        if free < need:
            raise BuildError(
                f"too little free disk for the Pulumi CLI build: {free / GIB:.1f} GiB free on the "
                f"filesystem of {path}, {need / GIB:.1f} GiB needed (Go module cache about "
                f"{(NEED_MODULES + NEED_YAML_MODULES) / GIB:.1f} GiB, Go build cache about "
                f"{NEED_BUILD_CACHE / GIB:.1f} GiB, the CLI directory about "
                f"{NEED_OUTPUT / GIB:.1f} GiB); free some space, or point GOMODCACHE, GOCACHE "
                f"or LSEA_CLI_CACHE at a larger filesystem"
            )


# --- running go ------------------------------------------------------------------------


def _go_env(go: Path) -> dict[str, str]:
    done = subprocess.run(
        [str(go), "env", "GOMODCACHE", "GOCACHE", "GOPROXY"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=GOBUILD_DIR,
    )
    modcache, gocache, proxy = done.stdout.splitlines()
    return {"GOMODCACHE": modcache, "GOCACHE": gocache, "GOPROXY": proxy}


def _build_env() -> dict[str, str]:
    env = dict(os.environ)
    # go.sum may gain lines for the host's imports; the pinned versions cannot change.
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=mod").strip()
    # Never fetch a newer Go toolchain behind the user's back: find_go checked this one.
    env["GOTOOLCHAIN"] = "local"
    return env


def _run_step(what: str, argv: Sequence[str], progress: Progress, cwd: Path = GOBUILD_DIR) -> None:
    """Run one go command in module `cwd`, reporting start, a heartbeat, and the elapsed time."""
    progress(f"{what}...")
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=_build_env(), stdout=output, stderr=subprocess.STDOUT
        )
        while True:
            try:
                proc.wait(timeout=_HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                progress(f"  still {what} ({time.monotonic() - started:.0f} s)")
            except BaseException:
                proc.kill()  # an interrupted build must not keep compiling in the background
                proc.wait()
                raise
        output.seek(0)
        text = output.read().decode(errors="replace")
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise BuildError(_explain_failure(what, argv, proc.returncode, text))
    progress(f"{what}: done in {elapsed:.0f} s")


def _explain_failure(what: str, argv: Sequence[str], code: int, text: str) -> str:
    tail = "\n".join(text.strip().splitlines()[-20:])
    message = f"{what} failed (`{' '.join(argv)}` exited with code {code}):\n{tail}"
    if _PROXY_TROUBLE.search(text):
        proxy = os.environ.get("GOPROXY") or "unset (go's default)"
        message += (
            f"\nThe Go module proxy could not be reached, or refused a module: GOPROXY must "
            f"reach the Go module proxy (GOPROXY is {proxy})."
        )
    return message


def _sdk_dir(go: Path) -> Path:
    done = subprocess.run(
        [str(go), "list", "-m", "-f", "{{.Dir}}", SDK_MODULE],
        cwd=GOBUILD_DIR,
        env=_build_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise BuildError(f"cannot locate the {SDK_MODULE} module: {done.stderr.strip()}")
    return Path(done.stdout.strip())


# --- the build -------------------------------------------------------------------------


def build_into(target: Path, progress: Progress, go: Path) -> None:
    """Build the executables into the (new, empty) directory `target`."""
    trim = ["-trimpath", "-ldflags", VERSION_LDFLAGS]
    yaml_version = yaml_host_version()
    _run_step(
        "downloading the Go modules",
        [
            str(go),
            "list",
            "-deps",
            CLI_PACKAGE,
            HOST_PACKAGE,
            NODEJS_HOST_PACKAGE,
            GO_HOST_PACKAGE,
        ],
        progress,
    )
    _run_step(
        f"downloading the Go modules of pulumi-yaml {yaml_version}",
        [str(go), "list", "-deps", YAML_PACKAGE],
        progress,
        cwd=YAML_DIR,
    )
    _run_step(
        f"building the Pulumi CLI v{PINNED_VERSION}",
        [str(go), "build", *trim, "-o", str(target / "pulumi"), CLI_PACKAGE],
        progress,
    )
    _run_step(
        "building the Python language host",
        [str(go), "build", *trim, "-o", str(target / LANGUAGE_HOST), HOST_PACKAGE],
        progress,
    )
    _run_step(
        "building the Node.js language host",
        [str(go), "build", *trim, "-o", str(target / NODEJS_LANGUAGE_HOST), NODEJS_HOST_PACKAGE],
        progress,
    )
    _run_step(
        "building the Go language host",
        [str(go), "build", *trim, "-o", str(target / GO_LANGUAGE_HOST), GO_HOST_PACKAGE],
        progress,
    )
    # The host answers GetPluginInfo with this variable (empty unless set at link time).
    yaml_ldflags = f"-X {YAML_MODULE}/pkg/version.Version={yaml_version}"
    _run_step(
        f"building the YAML language host (pulumi-yaml {yaml_version})",
        [
            str(go),
            "build",
            "-trimpath",
            "-ldflags",
            yaml_ldflags,
            "-o",
            str(target / YAML_LANGUAGE_HOST),
            YAML_PACKAGE,
        ],
        progress,
        cwd=YAML_DIR,
    )
    sdk = _sdk_dir(go)
    for name, relative in SDK_SCRIPTS.items():
        shutil.copyfile(sdk / relative, target / name)
    for name in EXECUTABLES:
        (target / name).chmod(0o755)


def build_cli(cache_root: Path, key: str, progress: Progress) -> Path:
    """Build the CLI directory `cache_root/key` (checks first; temp dir, then rename)."""
    go = find_go()
    check_disk(disk_needs(_go_env(go), cache_root))
    cache_root.mkdir(parents=True, exist_ok=True)
    final = cache_root / key
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f".building-{key}-", dir=cache_root))
    try:
        build_into(work, progress, go)
        if not is_complete(work):
            raise BuildError(f"the build in {work} finished but its `pulumi version` is wrong")
        if final.exists():
            # Another build finished first, or a broken directory is in the way.
            if is_complete(final):
                return final
            shutil.rmtree(final)
        work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    progress(f"the Pulumi CLI directory is ready in {time.monotonic() - started:.0f} s: {final}")
    _remove_stale(cache_root, keep=key)
    return final


def _remove_stale(cache_root: Path, keep: str) -> None:
    """Delete finished directories of earlier keys (about 0.2 GiB each), and temporary
    ones that a build killed more than a day ago left behind."""
    day_ago = time.time() - 86400
    for entry in cache_root.iterdir():
        if not entry.is_dir() or entry.name == keep:
            continue
        finished = _KEY.fullmatch(entry.name) is not None
        abandoned = entry.name.startswith(".building-") and entry.stat().st_mtime < day_ago
        if finished or abandoned:
            shutil.rmtree(entry, ignore_errors=True)
