"""What the doctor reads from AWS: only ``Get*``, ``Describe*`` and ``BatchGetImage``.

It reads the container service, its deployments, each repository they pull from (and
those given), its policy, each image and, for a failed deployment, its containers' last
log lines, and hands them over as an ``Observation``. What it reads depends on what it
found only to spare reads that could say nothing: a repository in another Region is
looked for there and no further, images only in repositories that exist, logs only of
a failed deployment. Judging is ``verdicts``' job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ProfileNotFound

from ..aws import ecr_api, lightsail_api, sdk
from ..aws.identity import AssumedRole, AwsIdentity
from ..aws.puller_role import role_state
from ..aws.sdk import AwsCallError
from ..rules.errors import ConfigurationError
from ..rules.repository import ImageRef, RepositoryRef, account_of, parse_image, repository_arn
from .findings import UNKNOWN_PROFILE, UNKNOWN_SERVICE, DiagnosisError
from .inputs import check_role_arns
from .observed import ContainerLog, ImageRead, Observation, RepositoryRead

LOG_LINES = 10

Clients = Callable[[str, str], Any]
"""Builds a boto3 client: ``clients("ecr", "us-east-1")``."""

# Where a repository is: its name, Region and account (None: the service's account).
Where = tuple[str, str, str | None]


def build_clients(profile: str | None = None, assume_roles: Sequence[str] = ()) -> Clients:
    """How the command builds its clients: the component's identity rules
    (``components.identity``), from the same settings as the stack's ``aws:profile`` and
    ``aws:assumeRoles``, or the environment when none is given. Refuses a profile that is
    nowhere and a role that is no role ARN before any call."""
    roles = check_role_arns(assume_roles)
    if profile is not None:
        try:
            boto3.session.Session(profile_name=profile)
        except ProfileNotFound:
            raise DiagnosisError(
                f"AWS profile {profile!r} is not in the shared config or credentials files; "
                "name a profile that `aws configure list-profiles` shows",
                UNKNOWN_PROFILE,
            ) from None
    identity = AwsIdentity(profile=profile, assume_roles=tuple(AssumedRole(arn) for arn in roles))
    return lambda service, region: sdk.client(service, region, identity)


def read(
    service: str,
    region: str,
    repositories: Sequence[RepositoryRef],
    images: Sequence[ImageRef],
    clients: Clients,
) -> Observation:
    """Read everything a pull of ``service`` depends on; AwsCallError when a read fails,
    DiagnosisError when there is no such service."""
    return _Reader(service, region, clients).observe(repositories, images)


@dataclass
class _Reader:
    service: str
    region: str
    clients: Clients
    _built: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._built:
            self._built[key] = self.clients(*key)
        return self._built[key]

    def observe(
        self, repositories: Sequence[RepositoryRef], images: Sequence[ImageRef]
    ) -> Observation:
        lightsail = self.client("lightsail")
        described = lightsail_api.get_container_service(lightsail, self.service)
        if described is None:
            raise DiagnosisError(
                f"Lightsail container service {self.service!r} does not exist in Region "
                f"{self.region}: check the name and --region (`aws lightsail "
                f"get-container-services --region {self.region}` lists the services there)",
                UNKNOWN_SERVICE,
            )
        role = role_state(described)
        account = account_of(str(described.get("arn", "")))
        deployments = lightsail_api.get_container_service_deployments(lightsail, self.service)
        latest = max(deployments, key=lambda d: int(d.get("version", 0)), default=None)
        deployed = [d for d in (described.get("currentDeployment"), latest) if d]
        all_images = _unique_images([*_ecr_images(deployed), *images])
        # A repository the user named is labelled as they wrote it; one that only a
        # deployment's image names, by its name.
        labelled = [(ref, ref.given) for ref in repositories]
        labelled += [(image.repository, image.repository.name) for image in all_images]
        unique: dict[Where, tuple[RepositoryRef, str]] = {}
        for ref, label in labelled:
            unique.setdefault(_where(ref, self.region, account), (ref, label))
        repository_reads = [
            self.read_repository(ref, label, account) for ref, label in unique.values()
        ]
        # Images are looked at only in repositories that exist where the service can pull.
        found = {_where(r.ref, self.region, account) for r in repository_reads if r.found}
        image_reads = [
            self.read_image(image, account)
            for image in all_images
            if _where(image.repository, self.region, account) in found
        ]
        return Observation(
            service=self.service,
            region=self.region,
            described=described,
            role_active=role.active,
            principal_arn=role.principal_arn,
            account=account,
            repositories=tuple(repository_reads),
            images=tuple(image_reads),
            latest=latest,
            logs=self.read_logs(latest),
        )

    def read_repository(
        self, ref: RepositoryRef, label: str, account: str | None
    ) -> RepositoryRead:
        region = ref.region or self.region
        misplaced = ref.misplaced(self.region, account)
        if misplaced == "region":
            return RepositoryRead(ref, label, exists_elsewhere=self._exists(ref, region))
        if misplaced == "account":
            return RepositoryRead(ref, label)
        ecr = self.client("ecr")
        try:
            description = ecr_api.describe_repository(ecr, ref.name, region)
        except AwsCallError as exc:
            if exc.code != "RepositoryNotFoundException":
                raise
            return RepositoryRead(ref, label, found=False)
        registry = str(description.get("registryId", account or ""))
        arn = str(description.get("repositoryArn") or repository_arn(region, registry, ref.name))
        return RepositoryRead(
            ref,
            label,
            found=True,
            registry=registry,
            policy_text=ecr_api.get_policy_text(ecr, ref.name, arn),
        )

    def _exists(self, ref: RepositoryRef, region: str) -> bool | None:
        """Whether the repository exists in its own (another) Region, when that can be read."""
        try:
            ecr_api.describe_repository(self.client("ecr", region), ref.name, region)
        except AwsCallError as exc:
            return False if exc.code == "RepositoryNotFoundException" else None
        return True

    def read_image(self, image: ImageRef, account: str | None) -> ImageRead:
        name = image.repository.name
        ecr = self.client("ecr")
        arn = repository_arn(self.region, account or "<account>", name)
        details = ecr_api.describe_image(ecr, name, image.image_id, arn)
        if details is None:
            return ImageRead(image, None)
        media_type = str(details.get("imageManifestMediaType", ""))
        if media_type not in ecr_api.INDEX_MEDIA_TYPES:
            return ImageRead(image, details)
        manifest = ecr_api.get_image_manifest(ecr, name, image.image_id, arn)
        return ImageRead(image, details, is_index=True, index=manifest[0] if manifest else None)

    def read_logs(self, latest: dict[str, Any] | None) -> tuple[ContainerLog, ...]:
        """The last log lines of each container of a failed deployment, since it was
        created (its window runs from then to now)."""
        if latest is None or latest.get("state") != "FAILED":
            return ()
        lightsail = self.client("lightsail")
        started = latest.get("createdAt")
        logs = []
        for container in sorted(latest.get("containers") or {}):
            events = lightsail_api.get_container_log(lightsail, self.service, container, started)
            lines = [str(e.get("message", "")).rstrip() for e in events][-LOG_LINES:]
            logs.append(ContainerLog(container, tuple(lines)))
        return tuple(logs)


def _ecr_images(deployments: Iterable[dict[str, Any]]) -> list[ImageRef]:
    """The private ECR images the deployments use (public images need no grant)."""
    found: list[ImageRef] = []
    for deployment in deployments:
        for container in (deployment.get("containers") or {}).values():
            uri = str(container.get("image", ""))
            if ".dkr.ecr." not in uri:
                continue
            try:
                found.append(parse_image(uri))
            except ConfigurationError:
                continue  # Lightsail accepted it; nothing here can say more about it
    return found


def _unique_images(images: Iterable[ImageRef]) -> list[ImageRef]:
    return list({i.given: i for i in images}.values())


def _where(ref: RepositoryRef, region: str, account: str | None) -> Where:
    """One key per repository, however it was named: a bare name is in the service's
    Region and account."""
    return (ref.name, ref.region or region, ref.account or account)
