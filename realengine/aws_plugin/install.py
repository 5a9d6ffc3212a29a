"""Put the stand-in provider where the Pulumi CLI finds it: an executable
``pulumi-resource-aws`` (on PATH, or for ``pulumi plugin install resource aws 7.51.1
--file <path>``)."""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_plugin(bin_dir: Path, python: str = sys.executable) -> Path:
    """Write ``bin_dir/pulumi-resource-aws``, which runs the stand-in with ``python``
    and the project root on its path; return its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "pulumi-resource-aws"
    root = shlex.quote(str(ROOT))
    path.write_text(
        "#!/bin/sh\n"
        "# The stand-in pulumi-resource-aws (realengine.aws_plugin), written by install.py.\n"
        f'PYTHONPATH={root}"${{PYTHONPATH:+:$PYTHONPATH}}"\n'
        "export PYTHONPATH\n"
        f'exec {shlex.quote(python)} -m realengine.aws_plugin "$@"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
