"""Every AWS SDK call the project makes, and the sentences its failures turn into.

Clients are built for an explicit Region (the stack's ``aws:region``), never from
whatever the environment's default happens to be. Tests point a client elsewhere with
botocore's own per-service endpoint variables (``AWS_ENDPOINT_URL_ECR`` and so on) or
with an emulation installed at the botocore level, so no code here knows about tests.

Errors come back as AwsCallError, whose message names what was being done to what and,
for an access problem, the IAM action that is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .concurrency import bounded_map
from .identity import AwsIdentity

# Standard retry mode backs off on throttling and transient faults by itself; a few
# more attempts than the default ride out a busy account during a large `up`. The
# connection pool holds one connection per concurrent read (CONCURRENT_READS, below),
# so threads sharing a client never queue for, or discard, a connection.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)

_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
OPERATOR_POLICY_HINT = (
    "the stack output `operatorPolicy` is the least-privilege IAM policy to attach to "
    "the identity that runs pulumi"
)


class AwsCallError(RuntimeError):
    """An AWS call failed; the message says what was being done, to what, and why."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def client(
    service: str,
    region: str,
    identity: AwsIdentity | None = None,
    session: Any | None = None,
) -> Any:
    """A boto3 client for ``service`` in ``region``, acting as ``identity`` (the AWS
    provider's; ambient credentials when None), with standard retries.

    Without ``session`` a fresh one is made; a session given must be the identity's
    and used by one thread at a time (sessions are not thread-safe, clients are)."""
    return (identity or AwsIdentity()).client(service, region, config=_RETRIES, session=session)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


@contextmanager
def aws_call(action: str, resource: str) -> Iterator[None]:
    """Turn a failure of ``action`` (an IAM action name) on ``resource`` into a sentence."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        detail = exc.response.get("Error", {}).get("Message", "")
        if code in _ACCESS_DENIED:
            raise AwsCallError(
                f"AWS denied {action} on {resource}: the credentials running pulumi need "
                f"the IAM permission {action} on that resource; {OPERATOR_POLICY_HINT}",
                code,
            ) from None
        raise AwsCallError(f"{action} on {resource} failed: {code}: {detail}", code) from None
    except NoCredentialsError:
        raise AwsCallError(
            f"{action} on {resource} needs AWS credentials and none were found: configure "
            "them as for the AWS CLI (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or an instance or CI role)"
        ) from None
    except BotoCoreError as exc:
        raise AwsCallError(f"{action} on {resource} failed: {exc}") from None


# --- ECR ---------------------------------------------------------------------------


def describe_repository(ecr: Any, name: str, region: str) -> dict[str, Any]:
    """The repository's description; a missing repository is a clear error."""
    try:
        with aws_call("ecr:DescribeRepositories", f"repository {name} in {region}"):
            response = ecr.describe_repositories(repositoryNames=[name])
    except AwsCallError as exc:
        if exc.code == "RepositoryNotFoundException":
            raise AwsCallError(
                f"ECR repository {name!r} does not exist in Region {region}: create it "
                "(or push an image to it) first, or correct the name in `repositories`",
                exc.code,
            ) from None
        raise
    return dict(response["repositories"][0])


def get_policy_text(ecr: Any, name: str, arn: str) -> str | None:
    """The repository's policy text, or None when it has no policy."""
    try:
        with aws_call("ecr:GetRepositoryPolicy", arn):
            return str(ecr.get_repository_policy(repositoryName=name)["policyText"])
    except AwsCallError as exc:
        if exc.code == "RepositoryPolicyNotFoundException":
            return None
        raise


def set_policy_text(ecr: Any, name: str, arn: str, text: str) -> None:
    with aws_call("ecr:SetRepositoryPolicy", arn):
        ecr.set_repository_policy(repositoryName=name, policyText=text)


def delete_policy(ecr: Any, name: str, arn: str) -> None:
    """Delete the policy; one that is already gone is not an error."""
    try:
        with aws_call("ecr:DeleteRepositoryPolicy", arn):
            ecr.delete_repository_policy(repositoryName=name)
    except AwsCallError as exc:
        if exc.code != "RepositoryPolicyNotFoundException":
            raise


# --- STS ---------------------------------------------------------------------------


def caller_account(sts: Any) -> str:
    with aws_call("sts:GetCallerIdentity", "the credentials running pulumi"):
        return str(sts.get_caller_identity()["Account"])


# --- Lightsail ---------------------------------------------------------------------


def get_container_service(lightsail: Any, name: str) -> dict[str, Any] | None:
    """The container service as GetContainerServices describes it, or None if absent."""
    try:
        with aws_call("lightsail:GetContainerServices", f"container service {name}"):
            services = lightsail.get_container_services(serviceName=name)["containerServices"]
    except AwsCallError as exc:
        if exc.code in ("NotFoundException", "DoesNotExist"):
            return None
        raise
    return dict(services[0]) if services else None


def set_puller_role(lightsail: Any, name: str, active: bool) -> None:
    with aws_call("lightsail:UpdateContainerService", f"container service {name}"):
        lightsail.update_container_service(
            serviceName=name,
            privateRegistryAccess={"ecrImagePullerRole": {"isActive": active}},
        )


# --- Many repositories at once (reads batched and side by side) ----------------------

# DescribeRepositories takes 1 to 100 names per call (`repositoryNames`).
DESCRIBE_BATCH = 100

# How many GetRepositoryPolicy (and DescribeRepositories) calls are in flight at once.
# ECR throttles each API per account and Region with a token bucket (a burst, refilled
# at a steady rate) and publishes rates only for the image push and pull actions and
# GetAuthorizationToken: 10 to 2,000 per second, and its guide's example bucket holds a
# burst of 200 refilled at 20 per second. GetRepositoryPolicy and DescribeRepositories
# have no published rate, and their bucket is shared with every other caller of the
# account (CI jobs, other stacks). 16 in flight keeps a run's reads to small waves, far
# under such a burst, yet reads 160 repositories in 10 round trips (the aim is at most
# 16); should the account's bucket run dry, botocore's standard mode retries the
# ThrottlingException with backoff, and the one client shared by the threads shares
# its retry quota too, so the threads back off together.
CONCURRENT_READS = 16


def describe_repositories(ecr: Any, names: Sequence[str], region: str) -> dict[str, dict[str, Any]]:
    """Each repository's description by name, up to 100 names a call, calls side by side.

    ECR fails a whole call when one name is missing (RepositoryNotFoundException) or
    denied: that batch is then described name by name, so the error names the first
    offending repository of the list with its Region, as a single describe does.
    """
    batches = [list(names[i : i + DESCRIBE_BATCH]) for i in range(0, len(names), DESCRIBE_BATCH)]
    found: dict[str, dict[str, Any]] = {}
    for described in bounded_map(
        lambda batch: _describe_batch(ecr, batch, region), batches, CONCURRENT_READS
    ):
        found.update(described)
    return found


def _describe_batch(ecr: Any, names: list[str], region: str) -> dict[str, dict[str, Any]]:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    try:
        with aws_call("ecr:DescribeRepositories", f"repositories {shown} in {region}"):
            response = ecr.describe_repositories(repositoryNames=names)
    except AwsCallError as exc:
        if exc.code != "RepositoryNotFoundException" and exc.code not in _ACCESS_DENIED:
            raise
        failure = exc
    else:
        return {str(r["repositoryName"]): dict(r) for r in response["repositories"]}
    # Find the culprit: the describe of that one name raises the sentence naming it.
    bounded_map(lambda name: describe_repository(ecr, name, region), names, CONCURRENT_READS)
    raise failure  # each name passed alone (it changed meanwhile): the batch's error stands


# --- Clients kept for a whole process (the dynamic providers) -------------------------

# One client per (service, Region) for the process: building one parses botocore's
# service model anew (each client has its own Session, since a Session is not
# thread-safe), while a built client is thread-safe and the provider host may call from
# several threads, and keyed by identity too: one process may act for several.
_process_clients: dict[tuple[str, str, AwsIdentity], Any] = {}
_process_clients_lock = threading.Lock()


def cached_client(service: str, region: str, identity: AwsIdentity | None = None) -> Any:
    """The process's client for ``service`` in ``region`` as ``identity``, built on first use."""
    key = (service, region, identity or AwsIdentity())
    with _process_clients_lock:
        if key not in _process_clients:
            _process_clients[key] = client(service, region, identity)
        return _process_clients[key]


def forget_cached_clients() -> None:
    """Drop the process's clients (a new provider process, or new botocore handlers)."""
    with _process_clients_lock:
        _process_clients.clear()


# --- Diagnosis reads (components.doctor) ---------------------------------------------
# Read-only calls the doctor makes on top of the ones above. Each is in the operator
# policy's diagnosis statements (components.rules.operator_policy.DIAGNOSIS_*_ACTIONS).

# What BatchGetImage may hand back: a multi-platform index, or a single image manifest.
INDEX_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_LOG_PAGES = 5


def describe_image(
    ecr: Any, repository: str, image_id: dict[str, str], arn: str
) -> dict[str, Any] | None:
    """The image's details (DescribeImages), or None when no image has that tag or digest."""
    try:
        with aws_call("ecr:DescribeImages", arn):
            details = ecr.describe_images(repositoryName=repository, imageIds=[image_id])
    except AwsCallError as exc:
        if exc.code == "ImageNotFoundException":
            return None
        raise
    found = details.get("imageDetails") or []
    return dict(found[0]) if found else None


def get_image_manifest(
    ecr: Any, repository: str, image_id: dict[str, str], arn: str
) -> tuple[str, str] | None:
    """The image's manifest text and media type (BatchGetImage), or None when absent.

    An index is asked for explicitly: without ``acceptedMediaTypes`` ECR may answer
    with one platform's manifest instead of the list of platforms.
    """
    with aws_call("ecr:BatchGetImage", arn):
        response = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[image_id],
            acceptedMediaTypes=[*INDEX_MEDIA_TYPES, *MANIFEST_MEDIA_TYPES],
        )
    images = response.get("images") or []
    if not images:
        return None
    image = images[0]
    return str(image.get("imageManifest", "")), str(image.get("imageManifestMediaType", ""))


def get_container_service_deployments(lightsail: Any, name: str) -> list[dict[str, Any]]:
    """Every deployment Lightsail keeps for the service, in whatever order it answers."""
    with aws_call("lightsail:GetContainerServiceDeployments", f"container service {name}"):
        response = lightsail.get_container_service_deployments(serviceName=name)
    return [dict(d) for d in response.get("deployments", [])]


def get_container_log(
    lightsail: Any,
    name: str,
    container: str,
    start: Any,
    end: Any | None = None,
) -> list[dict[str, Any]]:
    """Log events of one container between ``start`` and ``end`` (datetimes), oldest first.

    Reads a few pages at most: the diagnosis shows the last lines, not the whole log.
    """
    request: dict[str, Any] = {"serviceName": name, "containerName": container, "startTime": start}
    if end is not None:
        request["endTime"] = end
    events: list[dict[str, Any]] = []
    resource = f"container {container} of container service {name}"
    for _ in range(_LOG_PAGES):
        with aws_call("lightsail:GetContainerLog", resource):
            page = lightsail.get_container_log(**request)
        events.extend(dict(e) for e in page.get("logEvents", []))
        token = page.get("nextPageToken")
        if not token:
            break
        request["pageToken"] = token
    return events


# --- Images a deployment will pull ---------------------------------------------------


@dataclass(frozen=True)
class ImageTags:
    """Which of the asked tags a repository lacks, and (only then) its newest tags."""

    missing: tuple[str, ...] = ()
    newest: tuple[str, ...] = ()


def find_image_tags(ecr: Any, repository: str, arn: str, tags: Sequence[str]) -> ImageTags:
    """Check that the repository holds every tag: one DescribeImages when it does.

    ECR fails the whole call when one tag is missing (ImageNotFoundException); only then
    is the repository's tag list read, to say which tags are missing and which exist.
    """
    try:
        with aws_call("ecr:DescribeImages", arn):
            ecr.describe_images(
                repositoryName=repository, imageIds=[{"imageTag": tag} for tag in tags]
            )
        return ImageTags()
    except AwsCallError as exc:
        if exc.code != "ImageNotFoundException":
            raise
    images: list[dict[str, Any]] = []
    with aws_call("ecr:DescribeImages", arn):
        pages = ecr.get_paginator("describe_images").paginate(
            repositoryName=repository, filter={"tagStatus": "TAGGED"}
        )
        for page in pages:
            images.extend(page.get("imageDetails", []))
    present = {tag for image in images for tag in image.get("imageTags", [])}
    images.sort(key=lambda image: image.get("imagePushedAt") or 0, reverse=True)
    newest = [tag for image in images for tag in image.get("imageTags", [])]
    return ImageTags(
        missing=tuple(tag for tag in tags if tag not in present),
        newest=tuple(dict.fromkeys(newest))[:5],
    )
