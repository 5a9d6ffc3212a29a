"""What the doctor is asked, checked before any AWS call: the service name, ``--region``,
``--repository``, ``--image`` and ``--assume-role``. Each refusal is a DiagnosisError of
kind ``input`` or ``region`` that names the flag and what it takes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..aws.regions import known_regions
from ..rules.errors import ConfigurationError
from ..rules.regions import is_known, nearest_region, why_unknown
from ..rules.repository import ImageRef, RepositoryRef, parse_image, parse_repository
from ..rules.validation import check_service_name
from .findings import BAD_INPUT, BAD_REGION, DiagnosisError

# An IAM role ARN, with an optional path: what STS AssumeRole takes. ASCII only, whole.
_ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+")
ROLE_ARN_FORM = "arn:aws:iam::<12-digit account>:role/<name>"


def check_service(service: str) -> str:
    try:
        check_service_name(service)
    except ConfigurationError as exc:
        raise DiagnosisError(str(exc), BAD_INPUT) from None
    return service


def check_references(
    repositories: Sequence[str], images: Sequence[str]
) -> tuple[list[RepositoryRef], list[ImageRef]]:
    """``--repository`` (names, ARNs or URIs) and ``--image`` (ECR image URIs), parsed."""
    try:
        return [parse_repository(r) for r in repositories], [parse_image(i) for i in images]
    except ConfigurationError as exc:
        raise DiagnosisError(str(exc), BAD_INPUT) from None


def check_role_arns(assume_roles: Sequence[str]) -> tuple[str, ...]:
    """``--assume-role``: each an IAM role ARN. Refused here, not by STS: STS would be
    reached only after the first read's credentials are built, and blames that read."""
    for arn in assume_roles:
        if not _ROLE_ARN.fullmatch(arn):
            raise DiagnosisError(
                f"--assume-role {arn!r} is not an IAM role ARN; an IAM role ARN is like "
                f"{ROLE_ARN_FORM} (arn:aws:iam::111122223333:role/deployer); give the "
                "role's ARN as `aws iam get-role --role-name NAME` shows it",
                BAD_INPUT,
            )
    return tuple(assume_roles)


def check_region_flag(region: str) -> str:
    """``--region`` as the doctor reads it: a Region code (``us-east-1``) that botocore
    knows, or a DiagnosisError naming the closest Region that it does know.

    (The component's own check says ``pulumi config set aws:region``; here the fix is
    the flag.) A Region newer than the installed botocore is unknown to it: the message
    says to upgrade boto3 then."""
    known = known_regions()
    if is_known(region, known):
        return region
    closest = nearest_region(region, known)
    what = why_unknown(region)
    fix = (
        f"did you mean {closest}? Run the doctor again with --region {closest}"
        if closest
        else "run the doctor again with --region set to the service's Region (`aws "
        "lightsail get-regions` lists them)"
    )
    raise DiagnosisError(f"--region {region!r} {what}; {fix}", BAD_REGION)
