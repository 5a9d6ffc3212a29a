"""References to ECR private repositories, as users write them: a name, an ARN or a URI.

A reference is parsed once, up front, so that a repository in the wrong Region or
account, or the same repository listed twice in another form, is refused before
anything is written to AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .deployment import _TAG
from .errors import ConfigurationError

# ECR's own pattern for repository names (CreateRepository), 2 to 256 characters.
_NAME = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
_ARN = re.compile(
    rf"^arn:(?P<partition>aws(?:-[a-z]+)*):ecr:(?P<region>[a-z0-9-]+):(?P<account>\d{{12}})"
    rf":repository/(?P<name>{_NAME})$"
)
_URI = re.compile(
    rf"^(?P<account>\d{{12}})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    rf"/(?P<name>{_NAME})(?P<reference>[:@].*)?$"
)
_BARE_NAME = re.compile(rf"^{_NAME}$")


@dataclass(frozen=True)
class RepositoryRef:
    """One repository as the user named it; region and account only when the form says."""

    name: str
    given: str
    region: str | None = None
    account: str | None = None

    def misplaced(self, region: str, account: str | None) -> str | None:
        """Where the repository is, against the service, by the one rule: Lightsail pulls
        only from repositories in its own Region and account. "region", "account", or
        None when it may pull (what the reference does not say is not held against it)."""
        if self.region is not None and self.region != region:
            return "region"
        if self.account is not None and account is not None and self.account != account:
            return "account"
        return None

    def check_location(self, region: str, account: str | None) -> None:
        """Refuse a repository the service could not pull from, saying how to fix it."""
        misplaced = self.misplaced(region, account)
        if misplaced == "region":
            raise ConfigurationError(
                f"repository {self.given!r} is in Region {self.region}, but the container "
                f"service is in {region}: Lightsail pulls only from repositories in its own "
                f"Region; use a repository in {region} or set aws:region to {self.region}"
            )
        if misplaced == "account":
            raise ConfigurationError(
                f"repository {self.given!r} belongs to account {self.account}, but this stack "
                f"deploys into account {account}: the puller role can be granted only on "
                "repositories of the service's own account; replicate the image into a "
                "repository of this account, or run the stack with that account's credentials"
            )


def account_of(arn: str) -> str | None:
    """The 12-digit account of an ARN (``arn:<partition>:<service>:<region>:<account>:...``),
    or None when the text is no ARN or names no account."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4].isdigit() else None


def parse_repository(reference: object) -> RepositoryRef:
    """Parse one entry of the ``repositories`` list."""
    if not isinstance(reference, str) or not reference.strip():
        raise ConfigurationError(
            f"repository {reference!r} is not a repository reference; give a name "
            "('team/app'), an ARN ('arn:aws:ecr:us-east-1:111122223333:repository/team/app') "
            "or a URI ('111122223333.dkr.ecr.us-east-1.amazonaws.com/team/app')"
        )
    text = reference.strip()
    arn = _ARN.match(text)
    if arn:
        return RepositoryRef(arn["name"], text, arn["region"], arn["account"])
    uri = _URI.match(text)
    if uri:
        if uri["reference"]:
            raise ConfigurationError(
                f"repository {text!r} names an image ({uri['reference']}), not a "
                f"repository; drop the tag or digest and list "
                f"'{text[: uri.start('reference')]}'"
            )
        return RepositoryRef(uri["name"], text, uri["region"], uri["account"])
    if _BARE_NAME.match(text) and 2 <= len(text) <= 256:
        return RepositoryRef(text, text)
    raise ConfigurationError(
        f"repository {text!r} is neither an ECR repository name (2 to 256 lowercase "
        "letters, digits, '.', '_', '-' and '/'), nor an ECR repository ARN or URI"
    )


def parse_repositories(references: Iterable[object]) -> list[RepositoryRef]:
    """Parse the whole list; the same repository twice (in any form) is an error."""
    parsed: list[RepositoryRef] = []
    by_name: dict[str, RepositoryRef] = {}
    for index, reference in enumerate(references):
        try:
            ref = parse_repository(reference)
        except ConfigurationError as exc:
            # The entry is named as the input it is: the component's `repositories`.
            raise ConfigurationError(f"repositories: {exc}", path=("repositories", index)) from None
        earlier = by_name.get(ref.name)
        if earlier is not None:
            raise ConfigurationError(
                f"repositories: repository {ref.name!r} is listed twice ({earlier.given!r} "
                f"and {ref.given!r}); list each repository once",
                path=("repositories", index),
            )
        by_name[ref.name] = ref
        parsed.append(ref)
    return parsed


def image_uri_prefix(account: str, region: str, name: str) -> str:
    """The repository part of an image URI; append ``:<tag>`` to name an image."""
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"{account}.dkr.ecr.{region}{suffix}/{name}"


def partition(region: str) -> str:
    """The ARN partition of ``region``: China and GovCloud have their own."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def repository_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:ecr:{region}:{account}:repository/{name}"


# --- Image URIs (components.doctor) --------------------------------------------------
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE_TAG = _TAG  # the same tag grammar the deployment inputs are checked with


@dataclass(frozen=True)
class ImageRef:
    """One ECR image as a deployment names it: its repository, and a tag or a digest."""

    repository: RepositoryRef
    given: str
    tag: str | None = None
    digest: str | None = None

    @property
    def image_id(self) -> dict[str, str]:
        """The ECR ``imageId`` to look it up by: the digest when there is one (it is exact)."""
        return {"imageDigest": self.digest} if self.digest else {"imageTag": str(self.tag)}

    @property
    def reference(self) -> str:
        """``:tag`` or ``@digest``, as it follows the repository in the URI."""
        return f"@{self.digest}" if self.digest else f":{self.tag}"


def parse_image(uri: object) -> ImageRef:
    """Parse an ECR image URI, ``<account>.dkr.ecr.<region>.amazonaws.com/<name>[:tag][@digest]``.

    No tag and no digest means ``latest``, as for ``docker pull``.
    """
    example = "'111122223333.dkr.ecr.us-east-1.amazonaws.com/team/app:1.0'"
    match = _URI.match(uri.strip()) if isinstance(uri, str) else None
    if match is None:
        raise ConfigurationError(f"image {uri!r} is not an ECR image URI; give one like {example}")
    text = str(uri).strip()
    reference = match["reference"] or ""
    repository = RepositoryRef(
        match["name"], text[: len(text) - len(reference)], match["region"], match["account"]
    )
    # ":tag", "@digest" or ":tag@digest"; a digest, when given, is what is pulled.
    tagged, at, digest = reference.partition("@")
    tag = tagged[1:]
    if (tagged and not tag) or (at and not digest):
        raise ConfigurationError(f"image {text!r} ends in {reference!r}: give a tag or a digest")
    if digest and not _DIGEST.fullmatch(digest):
        raise ConfigurationError(
            f"image {text!r}: {digest!r} is not an image digest (sha256: and 64 hex digits)"
        )
    if tag and not IMAGE_TAG.fullmatch(tag):
        raise ConfigurationError(
            f"image {text!r}: {tag!r} is not a valid image tag (up to 128 letters, digits, "
            "'_', '.' and '-', not starting with '.' or '-')"
        )
    return ImageRef(repository, text, tag or (None if digest else "latest"), digest or None)
