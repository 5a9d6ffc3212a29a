"""What the doctor found: one ``Check`` per finding, the ``Diagnosis`` of one service,
and ``DiagnosisError`` when it could not look. Plain data: the verdicts make the checks,
``output`` prints them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import output

OK, PROBLEM, WARNING = "ok", "problem", "warning"
EXIT_OK, EXIT_PROBLEM, EXIT_COULD_NOT_LOOK = 0, 1, 2
# Why the doctor could not look: a DiagnosisError's ``kind``, ``error.kind`` in the JSON.
BAD_INPUT = "input"  # a malformed service name, repository, image URI or role ARN
BAD_REGION = "region"  # --region is not a Region code, or not a Region botocore knows
UNKNOWN_PROFILE = "profile"  # --profile is in neither the config nor the credentials file
UNKNOWN_SERVICE = "service"  # no such container service in that Region
NO_CREDENTIALS = "credentials"  # no AWS credentials were found
DENIED = "access-denied"  # AWS denied a read; the message names the IAM action
AWS_FAILED = "aws"  # any other failed AWS call
USAGE = "usage"  # the command line itself (a missing argument, an unknown option)
INTERNAL = "internal"  # a fault of the doctor's own; the traceback is on stderr
ERROR_KINDS = (
    BAD_INPUT, BAD_REGION, UNKNOWN_PROFILE, UNKNOWN_SERVICE, NO_CREDENTIALS, DENIED,
    AWS_FAILED, USAGE, INTERNAL,
)  # fmt: skip


class DiagnosisError(RuntimeError):
    """The doctor could not look: bad input, no credentials, or a read was denied;
    ``kind`` says which (one of ERROR_KINDS)."""

    def __init__(self, message: str, kind: str = BAD_INPUT) -> None:
        super().__init__(message)
        self.kind = kind

    def as_json(self, service: str | None, region: str | None) -> dict[str, Any]:
        """What ``--json`` prints when the doctor could not look."""
        return output.failure_json(service, region, self.kind, str(self), EXIT_COULD_NOT_LOOK)


@dataclass(frozen=True)
class Check:
    """One finding; ``repository`` and ``image`` say what it is about, when it is about
    one (a repository as the user wrote it: a name, an ARN or a URI)."""

    check: str
    status: str
    detail: str
    fix: str | None = None
    repository: str | None = None
    image: str | None = None

    def as_json(self) -> dict[str, Any]:
        return output.check_json(self)


@dataclass(frozen=True)
class Diagnosis:
    service: str
    region: str
    checks: tuple[Check, ...]

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == PROBLEM)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == WARNING)

    @property
    def exit_code(self) -> int:
        return EXIT_PROBLEM if self.problems else EXIT_OK

    def as_json(self) -> dict[str, Any]:
        return output.diagnosis_json(self.service, self.region, self.checks, self.exit_code)

    def render(self) -> str:
        """One line per check, then an indented fix line for each check that has one."""
        return output.plain(
            self.service, self.region, self.checks, len(self.problems), len(self.warnings)
        )
