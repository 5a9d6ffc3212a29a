"""Put the provider where the Pulumi CLI finds it: an executable
``pulumi-resource-lightsail-ecr`` (on PATH, or for ``pulumi plugin install resource
lightsail-ecr <version> --file <path>``)."""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

PLUGIN = "pulumi-resource-lightsail-ecr"


def write_plugin(bin_dir: Path, python: str = sys.executable, path: str | None = None) -> Path:
    """Write ``bin_dir/pulumi-resource-lightsail-ecr``, which runs the provider with
    ``python``; ``path``: a folder to put first on its module path (a checkout, whose
    ``components`` is the package); return the executable's path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    executable = bin_dir / PLUGIN
    module = "lightsail_ecr_access.provider" if path is None else "components.provider"
    lines = ["#!/bin/sh", "# The lightsail-ecr provider plugin (components/provider/install.py)."]
    if path is not None:
        lines += [
            f'PYTHONPATH={shlex.quote(path)}"${{PYTHONPATH:+:$PYTHONPATH}}"',
            "export PYTHONPATH",
        ]
    lines.append(f'exec {shlex.quote(python)} -m {module} "$@"')
    executable.write_text("\n".join(lines) + "\n")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return executable
