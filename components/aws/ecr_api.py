"""The ECR calls: repositories, their policy documents, and the images a deployment or
the doctor names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .concurrency import bounded_map
from .sdk import ACCESS_DENIED, AwsCallError, aws_call


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


def get_policy_text(ecr: Any, name: str, arn: str, registry_id: str | None = None) -> str | None:
    """The repository's policy text, or None when it has no policy; ``registry_id``
    names another account's registry (the caller's own when None)."""
    registry = {"registryId": registry_id} if registry_id else {}
    try:
        with aws_call("ecr:GetRepositoryPolicy", arn):
            return str(ecr.get_repository_policy(repositoryName=name, **registry)["policyText"])
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
        if exc.code != "RepositoryNotFoundException" and exc.code not in ACCESS_DENIED:
            raise
        failure = exc
    else:
        return {str(r["repositoryName"]): dict(r) for r in response["repositories"]}
    # Find the culprit: the describe of that one name raises the sentence naming it.
    bounded_map(lambda name: describe_repository(ecr, name, region), names, CONCURRENT_READS)
    raise failure  # each name passed alone (it changed meanwhile): the batch's error stands


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
