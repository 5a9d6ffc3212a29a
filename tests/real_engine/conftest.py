"""The real Pulumi CLI for the tests marked `real_engine`.

`pulumi_cli_dir` builds it once per session (or finds it on PATH or in the cache, see
`realengine.cli`). Nothing is skipped: a build that cannot be done fails every test that
needs it, with the build's own message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from realengine.cli import BuildError, ensure_cli


def _progress(line: str) -> None:
    # A first build takes minutes: say so even while pytest captures output.
    print(f"[real engine] {line}", file=sys.__stderr__, flush=True)


@pytest.fixture(scope="session")
def pulumi_cli_dir() -> Path:
    try:
        return ensure_cli(progress=_progress)
    except BuildError as err:
        pytest.fail(f"the real Pulumi CLI could not be had:\n{err}", pytrace=False)
