"""How the doctor prints: plain text for a reader, one JSON object for a program.

The lowest module of the doctor: it formats values it is handed and knows nothing of
AWS or of how a verdict was reached. With ``--json`` every outcome (checks, a failure,
even ``--help``) is one object on stdout, with ``exit`` in it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

INDENT = " " * 21  # under the detail: past the status and the check's name


class Line(Protocol):
    """A check as it prints (``findings.Check``)."""

    @property
    def check(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def fix(self) -> str | None: ...
    @property
    def repository(self) -> str | None: ...
    @property
    def image(self) -> str | None: ...


def plain(service: str, region: str, checks: Sequence[Line], problems: int, warnings: int) -> str:
    """One line per check (its subject first: the image, or the repository), the lines
    of a long detail and the fix indented under it, then a count of what is wrong."""
    lines: list[str] = []
    for check in checks:
        subject = _short(check.image) or check.repository
        first, *rest = check.detail.split("\n")
        prefix = f"{subject}: " if subject else ""
        lines.append(f"{check.status:<8} {check.check:<11} {prefix}{first}")
        lines.extend(f"{INDENT}{line}" for line in rest)
        if check.fix:
            lines.append(f"{INDENT}fix: {check.fix}")
    lines.append(
        f"{service} in {region}: {problems} problem{'s' * (problems != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}"
    )
    return "\n".join(lines)


def failure_line(message: str) -> str:
    """A failure without ``--json``: one line, on stderr."""
    return f"doctor: {message}"


def check_json(check: Line) -> dict[str, Any]:
    return {
        "check": check.check,
        "status": check.status,
        "repository": check.repository,
        "image": check.image,
        "detail": check.detail,
        "fix": check.fix,
    }


def diagnosis_json(
    service: str, region: str, checks: Sequence[Line], exit_code: int
) -> dict[str, Any]:
    return {
        "service": service,
        "region": region,
        "checks": [check_json(c) for c in checks],
        "exit": exit_code,
    }


def failure_json(
    service: str | None, region: str | None, kind: str, message: str, exit_code: int
) -> dict[str, Any]:
    """Why the doctor could not look; ``service`` and ``region`` as given (None when the
    command line could not be read)."""
    return {
        "service": service,
        "region": region,
        "error": {"kind": kind, "message": message},
        "exit": exit_code,
    }


def help_json(usage: str, exit_code: int) -> dict[str, Any]:
    """``--json --help``: the usage text in the same kind of object as every outcome."""
    return {"service": None, "region": None, "help": usage, "exit": exit_code}


def text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)


def _short(image: str | None) -> str | None:
    """An image as `repository:tag`: the registry host adds nothing to a reader."""
    return image.split("/", 1)[1] if image and "/" in image else image
