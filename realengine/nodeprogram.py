"""The TypeScript example's npm packages, fetched once so the tests install them offline.

`examples/typescript/package-lock.json` pins every package the example needs once `pulumi
package add` has generated the component's SDK: @pulumi/pulumi, typescript and @types/node
for the program, and what the SDK brings (its own @pulumi/pulumi, typescript). The
real-engine test runs `pulumi package add`, whose `npm install` must not reach the
registry. So `prepare_node_program` (run by `python -m realengine.cli`, which CI starts
before the tests) puts every package of the lock file into an npm cache of its own, in the
CLI cache folder and named by a hash of the lock file: a changed lock file fetches again,
an unchanged one costs nothing. `offline_npm_env` is the environment under which npm then
installs from that cache alone (`npm install --offline`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from realengine.build import default_cache_root

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "typescript"
LOCK_FILE = EXAMPLE / "package-lock.json"
_COMPLETE = "complete"  # written last: a killed fetch never leaves a cache that looks done
_PREFIX = "npm-"
_SPECS_PER_CALL = 64  # keeps the command line short; each call fetches in parallel
_FETCH_TIMEOUT_S = 900.0


class NodePrepError(RuntimeError):
    """The example's npm packages could not be had; the message says what is missing."""


def lock_key(lock_file: Path = LOCK_FILE) -> str:
    """The first 16 hex digits of the lock file's SHA-256."""
    return hashlib.sha256(lock_file.read_bytes()).hexdigest()[:16]


def cache_dir(lock_file: Path = LOCK_FILE, root: Path | None = None) -> Path:
    """Where the npm cache for this lock file lives (whether or not it is there yet)."""
    return (root or default_cache_root()) / f"{_PREFIX}{lock_key(lock_file)}"


def locked_packages(lock: Mapping[str, object]) -> list[str]:
    """`name@version` of every package a lock file (version 2 or 3) has npm fetch.

    The root (key "") and links (the generated SDK, `file:` folders) are not fetched.
    Entries carry no name unless aliased: the name is what follows the key's last
    `node_modules/`."""
    packages = lock.get("packages")
    if not isinstance(packages, dict):
        raise NodePrepError("the lock file has no `packages` (npm 7 or later writes them)")
    specs = set()
    for path, entry in packages.items():
        if not path or not isinstance(entry, dict) or entry.get("link"):
            continue
        if "node_modules/" not in path:
            continue  # a folder of the project itself (a workspace, a linked SDK)
        name = entry.get("name") or path.rsplit("node_modules/", 1)[1]
        specs.add(f"{name}@{entry['version']}")
    return sorted(specs)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prepare_node_program(
    progress: Callable[[str], None],
    lock_file: Path = LOCK_FILE,
    root: Path | None = None,
) -> Path:
    """The npm cache holding every package of `lock_file`, fetched from the registry if
    it is not there yet. Raises NodePrepError naming what failed."""
    final = cache_dir(lock_file, root)
    if (final / _COMPLETE).is_file():
        return final
    npm = shutil.which("npm")
    if npm is None:
        raise NodePrepError(
            "no `npm` on PATH: the TypeScript example's packages are fetched with npm "
            "(Node.js 20 or later)"
        )
    specs = locked_packages(json.loads(lock_file.read_text()))
    progress(f"fetching the TypeScript example's {len(specs)} npm packages into {final}")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".building-{final.name}-", dir=final.parent))
    try:
        for chunk in _chunks(specs, _SPECS_PER_CALL):
            done = subprocess.run(
                [npm, "cache", "add", "--cache", str(work), *chunk],
                capture_output=True,
                text=True,
                timeout=_FETCH_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0:
                raise NodePrepError(
                    f"`npm cache add` failed (exit {done.returncode}) for one of {chunk[0]} .. "
                    f"{chunk[-1]}:\n{done.stderr.strip()[-2000:]}"
                )
        (work / _COMPLETE).write_text(f"{len(specs)} packages of {lock_file}\n")
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    _remove_stale(final)
    return final


def _remove_stale(keep: Path) -> None:
    """Delete the caches of earlier lock files (tens of MiB each)."""
    for entry in keep.parent.iterdir():
        if entry.is_dir() and entry.name.startswith(_PREFIX) and entry != keep:
            shutil.rmtree(entry, ignore_errors=True)


def offline_npm_env(cache: Path) -> dict[str, str]:
    """npm settings (as environment variables, over any .npmrc) that install from `cache`
    alone: a package missing there fails the install instead of reaching the registry."""
    return {
        "npm_config_cache": str(cache),
        "npm_config_offline": "true",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
    }
