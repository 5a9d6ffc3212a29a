"""Every AWS SDK call the project makes, and the sentences its failures turn into.

Clients are built for an explicit Region (the stack's ``aws:region``), never from
whatever the environment's default happens to be. Tests point a client elsewhere with
botocore's own per-service endpoint variables (``AWS_ENDPOINT_URL_ECR`` and so on) or
with an emulation installed at the botocore level, so no code here knows about tests.

Errors come back as AwsCallError, whose message names what was being done to what and,
for an access problem, the IAM action that is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

# Standard retry mode backs off on throttling and transient faults by itself; a few
# more attempts than the default ride out a busy account during a large `up`.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})

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


def client(service: str, region: str) -> Any:
    """A boto3 client for ``service`` in ``region``, with standard retries."""
    session: Any = boto3.session.Session()  # a fresh session: no state shared across threads
    return session.client(service, region_name=region, config=_RETRIES)


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


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def repository_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:ecr:{region}:{account}:repository/{name}"


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


# --- Diagnosis reads (components.doctor) ---------------------------------------------
# Read-only calls the doctor makes on top of the ones above. Each is in the operator
# policy's diagnosis statements (components.operator_policy.DIAGNOSIS_*_ACTIONS).

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
