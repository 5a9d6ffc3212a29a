"""Pulumi version numbers, and finding a usable `pulumi` already on PATH.

Kept apart from building: a machine that has a new enough CLI with the Python and YAML
language hosts needs no Go at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

PINNED_VERSION = "3.276.0"
"""The Pulumi CLI version built by `realengine/gobuild` (its go.mod pins pkg/v3 and sdk/v3)."""

LANGUAGE_HOST = "pulumi-language-python"
YAML_LANGUAGE_HOST = "pulumi-language-yaml"
NODEJS_LANGUAGE_HOST = "pulumi-language-nodejs"
GO_LANGUAGE_HOST = "pulumi-language-go"
LANGUAGE_HOSTS = (LANGUAGE_HOST, YAML_LANGUAGE_HOST, NODEJS_LANGUAGE_HOST, GO_LANGUAGE_HOST)
"""The hosts a usable CLI directory must offer: the project's Python programs, and YAML,
TypeScript and Go programs that use its component (a Pulumi CLI release ships them all
beside `pulumi`)."""

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")

# A `pulumi version` that hangs (say, waiting for a network check) must not hang the tests.
_VERSION_TIMEOUT_S = 30


def parse_version(text: str) -> tuple[int, int, int, bool]:
    """Return (major, minor, patch, is_release) from the first version in `text`.

    `is_release` is False for a pre-release (`3.276.0-alpha.1`), which sorts before the
    release of the same number, as semantic versioning says.
    """
    match = _VERSION.search(text)
    if match is None:
        raise ValueError(f"no version number in {text.strip()!r}")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), pre is None


def is_at_least(found: str, wanted: str = PINNED_VERSION) -> bool:
    """Whether version `found` is `wanted` or newer."""
    return parse_version(found) >= parse_version(wanted)


def cli_version(pulumi: Path) -> str:
    """What `pulumi version` prints (stripped); raises RuntimeError if it does not answer."""
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        done = subprocess.run(
            [str(pulumi), "version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f"`{pulumi} version` did not answer: {err}") from err
    if done.returncode != 0:
        raise RuntimeError(
            f"`{pulumi} version` exited with code {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout.strip()


def find_usable_cli(path: str | None = None) -> Path | None:
    """The directory of a `pulumi` on PATH that is new enough and has the language hosts.

    A host counts if it is beside that `pulumi` or anywhere on PATH (the CLI looks in
    both places). Returns None when there is no `pulumi`, it is older than the pinned
    version, it does not answer, or `pulumi-language-python` or `pulumi-language-yaml`
    is not found. (A CLI without the YAML host would pass the Python tests and fail only
    the YAML ones; refusing it builds a directory that has both.)
    """
    search = os.environ.get("PATH", "") if path is None else path
    found = shutil.which("pulumi", path=search)
    if found is None:
        return None
    pulumi = Path(found)
    try:
        if not is_at_least(cli_version(pulumi)):
            return None
    except (RuntimeError, ValueError):
        return None
    for host in LANGUAGE_HOSTS:
        beside = pulumi.parent / host
        host_beside = beside.is_file() and os.access(beside, os.X_OK)
        if not host_beside and shutil.which(host, path=search) is None:
            return None
    return pulumi.parent
