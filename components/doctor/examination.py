"""One diagnosis: check what was asked, read, judge."""

from __future__ import annotations

from collections.abc import Sequence

from ..aws import sdk
from ..aws.sdk import ACCESS_DENIED, AwsCallError, NoCredentialsFound
from . import inputs, reads, verdicts
from .findings import AWS_FAILED, DENIED, NO_CREDENTIALS, Diagnosis, DiagnosisError


def diagnose(
    service: str,
    region: str,
    repositories: Sequence[str] = (),
    images: Sequence[str] = (),
    clients: reads.Clients = sdk.client,
) -> Diagnosis:
    """Look at everything a pull depends on; raise DiagnosisError when it cannot look.

    ``repositories`` (names, ARNs or URIs) and ``images`` (ECR image URIs) are checked on
    top of those the service's current and latest deployments use.
    """
    inputs.check_service(service)
    inputs.check_region_flag(region)
    repository_refs, image_refs = inputs.check_references(repositories, images)
    try:
        seen = reads.read(service, region, repository_refs, image_refs, clients)
    except AwsCallError as exc:
        raise DiagnosisError(f"could not look: {exc}", _kind_of(exc)) from None
    return Diagnosis(service, region, verdicts.judge(seen))


def _kind_of(exc: AwsCallError) -> str:
    if isinstance(exc, NoCredentialsFound):
        return NO_CREDENTIALS
    return DENIED if exc.code in ACCESS_DENIED else AWS_FAILED
