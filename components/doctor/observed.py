"""What the doctor read, as plain data: the reads fill it in, the verdicts judge it.

Kept apart from the reads so that the verdicts (and their tests) never need AWS: a test
writes an ``Observation`` by hand and asks what the doctor says about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..rules.repository import ImageRef, RepositoryRef


@dataclass(frozen=True)
class RepositoryRead:
    """One repository to check, and what was read about it.

    ``label`` is the repository as the user wrote it (a name, an ARN or a URI), or its
    name when it came from a deployment's image. A repository the service could not
    pull from anyway (another Region or account) is not looked up: ``found`` is None.
    """

    ref: RepositoryRef
    label: str
    found: bool | None = None
    # In another Region only: whether it exists there (None: that could not be read).
    exists_elsewhere: bool | None = None
    registry: str | None = None  # the account DescribeRepositories names
    policy_text: str | None = None  # GetRepositoryPolicy; None when it has no policy


@dataclass(frozen=True)
class ImageRead:
    """One image of a repository that was found, and what ECR says about it."""

    image: ImageRef
    details: Mapping[str, Any] | None  # DescribeImages; None when no image has that tag
    is_index: bool = False  # a multi-platform index (its manifest was read)
    index: str | None = None  # the index's manifest text; None when ECR handed none


@dataclass(frozen=True)
class ContainerLog:
    """The last lines a container logged since the latest deployment began."""

    container: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Observation:
    """Everything the doctor read about one container service."""

    service: str
    region: str
    described: Mapping[str, Any]  # the service, as GetContainerServices answers
    role_active: bool
    principal_arn: str  # the puller role's; "" while it has none
    account: str | None  # the service's account, from its ARN
    repositories: tuple[RepositoryRead, ...] = ()
    images: tuple[ImageRead, ...] = ()
    latest: Mapping[str, Any] | None = None  # the deployment with the highest version
    logs: tuple[ContainerLog, ...] = ()  # read only when the latest deployment FAILED
