"""Why can't my service pull? ``python -m components.doctor SERVICE --region REGION``.

Reads only, never writes: the container service and its puller role, each repository
its deployments pull from (and those given), the repository policies, the images and
the latest deployment with its log. Each finding is a check, ``ok``, ``problem`` or
``warning``, and every problem carries its fix: a config key, ``pulumi up``, or an AWS
CLI command.

Exit status: 0 nothing is a problem, 1 something is, 2 the doctor could not look (bad
input, a mistyped Region, no credentials, access denied: the message names the action).
With ``--json`` every outcome, failures and ``--help`` included, is one JSON object on
stdout.

Installed as a package, the command is also ``lightsail-ecr-doctor``.

One module per job, bottom to top:

    output       how it prints: plain text, JSON
    findings     Check, Diagnosis, DiagnosisError: what it found (plain data)
    observed     Observation: what it read (plain data)
    advice       each problem's fix
    verdicts     pure: an Observation in, checks out (table-tested without AWS)
    inputs       the service name, --region, --repository, --image, --assume-role
    reads        the AWS reads that make an Observation; the clients, as the stack's identity
    examination  diagnose(): check the input, read, judge
    cli          the command line
"""

from .cli import SCRIPT, main, parser
from .examination import diagnose
from .findings import (
    AWS_FAILED,
    BAD_INPUT,
    BAD_REGION,
    DENIED,
    ERROR_KINDS,
    EXIT_COULD_NOT_LOOK,
    EXIT_OK,
    EXIT_PROBLEM,
    INTERNAL,
    NO_CREDENTIALS,
    OK,
    PROBLEM,
    UNKNOWN_PROFILE,
    UNKNOWN_SERVICE,
    USAGE,
    WARNING,
    Check,
    Diagnosis,
    DiagnosisError,
)
from .inputs import check_region_flag, known_regions
from .reads import Clients, build_clients

__all__ = [
    "AWS_FAILED",
    "BAD_INPUT",
    "BAD_REGION",
    "DENIED",
    "ERROR_KINDS",
    "EXIT_COULD_NOT_LOOK",
    "EXIT_OK",
    "EXIT_PROBLEM",
    "INTERNAL",
    "NO_CREDENTIALS",
    "OK",
    "PROBLEM",
    "SCRIPT",
    "UNKNOWN_PROFILE",
    "UNKNOWN_SERVICE",
    "USAGE",
    "WARNING",
    "Check",
    "Clients",
    "Diagnosis",
    "DiagnosisError",
    "build_clients",
    "check_region_flag",
    "diagnose",
    "known_regions",
    "main",
    "parser",
]
