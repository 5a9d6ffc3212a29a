"""The command: ``python -m components.doctor SERVICE --region REGION`` (installed, also
``lightsail-ecr-doctor``). Reads the command line, runs one diagnosis, prints it as text
or, with ``--json``, as one JSON object, whatever happens, ``--help`` included."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from . import output
from .examination import diagnose
from .findings import EXIT_COULD_NOT_LOOK, EXIT_OK, INTERNAL, USAGE, DiagnosisError
from .inputs import ROLE_ARN_FORM
from .reads import build_clients

SCRIPT = "lightsail-ecr-doctor"  # the console script of the installed package


class _HelpAsked(Exception):
    """``--help`` under ``--json``: main prints the usage inside a JSON object."""

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


class _Command(argparse.ArgumentParser):
    """argparse's parser, except that with ``as_json`` a usage error raises a
    DiagnosisError and ``--help`` hands its text back, both printed as JSON, instead of
    printing text and exiting."""

    as_json = False

    def error(self, message: str) -> NoReturn:
        if self.as_json:
            raise DiagnosisError(f"{message} (see {self.prog} --help)", USAGE)
        super().error(message)

    def print_help(self, file: object = None) -> None:
        if self.as_json:
            raise _HelpAsked(self.format_help())
        super().print_help(file)  # type: ignore[arg-type]


def parser() -> argparse.ArgumentParser:
    # The console script by its name; otherwise `python -m components.doctor` (or
    # lightsail_ecr_access.doctor, installed).
    script = Path(sys.argv[0]).name == SCRIPT
    command = _Command(
        prog=SCRIPT if script else f"python -m {__package__}",
        description="Say why a Lightsail container service cannot pull its private ECR "
        "images. Reads only. Exit status: 0 no problem, 1 a problem, 2 could not look. "
        "With --json every outcome, failures and --help included, is one JSON object on "
        "stdout.",
    )
    command.add_argument("service", help="the container service's name")
    command.add_argument("--region", required=True, help="the service's AWS Region")
    command.add_argument(
        "--repository",
        action="append",
        default=[],
        metavar="NAME_ARN_OR_URI",
        help="a repository to check on top of those the deployments use (repeatable)",
    )
    command.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="IMAGE_URI",
        help="an ECR image URI to check on top of those the deployments use (repeatable)",
    )
    command.add_argument(
        "--json",
        action="store_true",
        help="print the checks, or why the doctor could not look, as one JSON object",
    )
    command.add_argument("--profile", help="the AWS profile to read with (as `aws:profile`)")
    command.add_argument(
        "--assume-role",
        action="append",
        default=[],
        metavar="ROLE_ARN",
        help=f"a role to assume, in order (as `aws:assumeRoles`), an IAM role ARN like "
        f"{ROLE_ARN_FORM}; repeat for a chain",
    )
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """The command; returns its exit status (the console script exits with it)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in arguments
    command = parser()
    if isinstance(command, _Command):
        command.as_json = as_json
    service: str | None = None
    region: str | None = None
    try:
        args = command.parse_args(arguments)
        service, region = args.service, args.region
        diagnosis = diagnose(
            args.service,
            args.region,
            args.repository,
            args.image,
            build_clients(args.profile, args.assume_role),
        )
    except _HelpAsked as asked:
        print(output.text(output.help_json(asked.usage, EXIT_OK)))
        return EXIT_OK
    except DiagnosisError as exc:
        failure = exc
    except Exception as exc:
        # Not even a fault of the doctor's may exit 1 (which means "a problem was found").
        traceback.print_exc(file=sys.stderr)
        failure = DiagnosisError(f"the doctor failed: {type(exc).__name__}: {exc}", INTERNAL)
    else:
        print(output.text(diagnosis.as_json()) if as_json else diagnosis.render())
        return diagnosis.exit_code
    if as_json:
        print(output.text(failure.as_json(service, region)))
    else:
        print(output.failure_line(str(failure)), file=sys.stderr)
    return EXIT_COULD_NOT_LOOK
