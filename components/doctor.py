"""Why can't my service pull? ``python -m components.doctor SERVICE --region REGION``.

Reads only, never writes: the container service and its puller role, each repository
its deployments pull from (and those given), the repository policies, the images and
the latest deployment with its log. Each finding is a check, ``ok``, ``problem`` or
``warning``, and every problem carries its fix: a config key, ``pulumi up``, or an AWS
CLI command.

Exit status: 0 nothing is a problem, 1 something is, 2 the doctor could not look (bad
input, a mistyped Region, no credentials, access denied: the message names the action).
With ``--json`` every outcome, failures included, is one JSON object on stdout.

Installed as a package, the command is also ``lightsail-ecr-doctor``.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import re
import shlex
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import boto3
import botocore.session
from botocore.exceptions import ProfileNotFound

from .aws import ecr_api, lightsail_api, sdk
from .aws.identity import AssumedRole, AwsIdentity
from .aws.puller_role import RoleState, role_state
from .aws.sdk import ACCESS_DENIED, AwsCallError, NoCredentialsFound
from .rules.errors import ConfigurationError
from .rules.policy import (
    PULL_ACTIONS,
    MalformedPolicyError,
    PolicyError,
    merge_grant,
    parse_policy,
    pull_statement,
    serialise,
    statement_sid,
)
from .rules.pull_access import PullAccess, evaluate
from .rules.repository import (
    ImageRef,
    RepositoryRef,
    account_of,
    parse_image,
    parse_repository,
    repository_arn,
)
from .rules.validation import check_service_name

OK, PROBLEM, WARNING = "ok", "problem", "warning"
EXIT_OK, EXIT_PROBLEM, EXIT_COULD_NOT_LOOK = 0, 1, 2
SCRIPT = "lightsail-ecr-doctor"  # the console script of the installed package
# Why the doctor could not look: a DiagnosisError's ``kind``, ``error.kind`` in the JSON.
BAD_INPUT = "input"  # a malformed service name, repository or image URI
BAD_REGION = "region"  # --region is not a Region code, or not a Region botocore knows
UNKNOWN_PROFILE = "profile"  # --profile is in neither the config nor the credentials file
UNKNOWN_SERVICE = "service"  # no such container service in that Region
NO_CREDENTIALS = "credentials"  # no AWS credentials were found
DENIED = "access-denied"  # AWS denied a read; the message names the IAM action
AWS_FAILED = "aws"  # any other failed AWS call
USAGE = "usage"  # the command line itself (a missing argument, an unknown option)
INTERNAL = "internal"  # a fault of the doctor's own; the traceback is on stderr
ERROR_KINDS = (
    BAD_INPUT, BAD_REGION, UNKNOWN_PROFILE, UNKNOWN_SERVICE, NO_CREDENTIALS, DENIED,
    AWS_FAILED, USAGE, INTERNAL,
)  # fmt: skip
_REGION_CODE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# Lightsail runs containers on linux/amd64 only.
LIGHTSAIL_PLATFORM = "linux/amd64"
LOG_LINES = 10
_SETTLED = ("READY", "RUNNING")
_BOTH_ACTIONS = " and ".join(PULL_ACTIONS)

Clients = Callable[[str, str], Any]
"""Builds a boto3 client: ``clients("ecr", "us-east-1")``."""


class DiagnosisError(RuntimeError):
    """The doctor could not look: bad input, no credentials, or a read was denied;
    ``kind`` says which (one of ERROR_KINDS)."""

    def __init__(self, message: str, kind: str = BAD_INPUT) -> None:
        super().__init__(message)
        self.kind = kind

    def as_json(self, service: str | None, region: str | None) -> dict[str, Any]:
        """What ``--json`` prints when the doctor could not look."""
        return {
            "service": service,
            "region": region,
            "error": {"kind": self.kind, "message": str(self)},
            "exit": EXIT_COULD_NOT_LOOK,
        }


@dataclass(frozen=True)
class Check:
    """One finding; ``repository`` and ``image`` say what it is about, when it is about one."""

    check: str
    status: str
    detail: str
    fix: str | None = None
    repository: str | None = None
    image: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "repository": self.repository,
            "image": self.image,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Diagnosis:
    service: str
    region: str
    checks: tuple[Check, ...]

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == PROBLEM)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == WARNING)

    @property
    def exit_code(self) -> int:
        return EXIT_PROBLEM if self.problems else EXIT_OK

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "region": self.region,
            "checks": [c.as_json() for c in self.checks],
            "exit": self.exit_code,
        }

    def render(self) -> str:
        """One line per check, then an indented fix line for each check that has one."""
        indent = " " * 21
        lines: list[str] = []
        for check in self.checks:
            subject = _short(check.image) or check.repository
            first, *rest = check.detail.split("\n")
            prefix = f"{subject}: " if subject else ""
            lines.append(f"{check.status:<8} {check.check:<11} {prefix}{first}")
            lines.extend(f"{indent}{line}" for line in rest)
            if check.fix:
                lines.append(f"{indent}fix: {check.fix}")
        problems, warnings = len(self.problems), len(self.warnings)
        lines.append(
            f"{self.service} in {self.region}: {problems} problem{'s' * (problems != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}"
        )
        return "\n".join(lines)


def diagnose(
    service: str,
    region: str,
    repositories: Sequence[str] = (),
    images: Sequence[str] = (),
    clients: Clients = sdk.client,
) -> Diagnosis:
    """Look at everything a pull depends on; raise DiagnosisError when it cannot look.

    ``repositories`` (names, ARNs or URIs) and ``images`` (ECR image URIs) are checked on
    top of those the service's current and latest deployments use.
    """
    try:
        check_service_name(service)
    except ConfigurationError as exc:
        raise DiagnosisError(str(exc), BAD_INPUT) from None
    check_region_flag(region)
    try:
        repository_refs = [parse_repository(r) for r in repositories]
        image_refs = [parse_image(i) for i in images]
    except ConfigurationError as exc:
        raise DiagnosisError(str(exc), BAD_INPUT) from None
    try:
        return _Examination(service, region, clients).run(repository_refs, image_refs)
    except AwsCallError as exc:
        raise DiagnosisError(f"could not look: {exc}", _kind_of(exc)) from None


def _kind_of(exc: AwsCallError) -> str:
    if isinstance(exc, NoCredentialsFound):
        return NO_CREDENTIALS
    return DENIED if exc.code in ACCESS_DENIED else AWS_FAILED


def check_region_flag(region: str) -> str:
    """``--region`` as the doctor reads it: a Region code (``us-east-1``) that botocore
    knows, or a DiagnosisError naming the closest Region that it does know.

    (The component's own check says ``pulumi config set aws:region``; here the fix is
    the flag.) A Region newer than the installed botocore is unknown to it: the message
    says to upgrade boto3 then."""
    known = known_regions()
    well_formed = _REGION_CODE.fullmatch(region) is not None
    if well_formed and (not known or region in known):
        return region
    closest = difflib.get_close_matches(region, sorted(known), n=1)
    if well_formed:
        what = (
            "is not an AWS Region: botocore knows none of that name (if it is a Region "
            "newer than your boto3, upgrade boto3)"
        )
    else:
        what = "is not an AWS Region code (a Region code is like us-east-1)"
    fix = (
        f"did you mean {closest[0]}? Run the doctor again with --region {closest[0]}"
        if closest
        else "run the doctor again with --region set to the service's Region (`aws "
        "lightsail get-regions` lists them)"
    )
    raise DiagnosisError(f"--region {region!r} {what}; {fix}", BAD_REGION)


@functools.cache
def known_regions() -> frozenset[str]:
    """Every Region of every partition in botocore's endpoint data (read offline); empty
    when that cannot be read, and then any well-formed Region code is taken."""
    try:
        session = botocore.session.Session()
        return frozenset(
            region
            for partition in session.get_available_partitions()
            for region in session.get_available_regions("ec2", partition_name=partition)
        )
    except Exception:
        return frozenset()


def build_clients(profile: str | None = None, assume_roles: Sequence[str] = ()) -> Clients:
    """How the command builds its clients: the component's identity rules
    (``components.identity``), from the same settings as the stack's ``aws:profile`` and
    ``aws:assumeRoles``, or the environment when none is given."""
    if profile is not None:
        try:
            boto3.session.Session(profile_name=profile)
        except ProfileNotFound:
            raise DiagnosisError(
                f"AWS profile {profile!r} is not in the shared config or credentials files; "
                "name a profile that `aws configure list-profiles` shows",
                UNKNOWN_PROFILE,
            ) from None
    identity = AwsIdentity(
        profile=profile, assume_roles=tuple(AssumedRole(arn) for arn in assume_roles)
    )
    return lambda service, region: sdk.client(service, region, identity)


# --- the examination -------------------------------------------------------------------


@dataclass
class _Examination:
    service: str
    region: str
    clients: Clients
    checks: list[Check] = field(default_factory=list)
    _built: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._built:
            self._built[key] = self.clients(*key)
        return self._built[key]

    def add(
        self, check: str, status: str, detail: str, fix: str | None = None, **about: Any
    ) -> None:
        self.checks.append(Check(check, status, detail, fix, **about))

    def run(self, repositories: list[RepositoryRef], images: list[ImageRef]) -> Diagnosis:
        lightsail = self.client("lightsail")
        described = lightsail_api.get_container_service(lightsail, self.service)
        if described is None:
            raise DiagnosisError(
                f"Lightsail container service {self.service!r} does not exist in Region "
                f"{self.region}: check the name and --region (`aws lightsail "
                f"get-container-services --region {self.region}` lists the services there)",
                UNKNOWN_SERVICE,
            )
        self.check_service(described)
        role = role_state(described)
        self.check_role(role)
        account = account_of(str(described.get("arn", "")))

        deployments = lightsail_api.get_container_service_deployments(lightsail, self.service)
        latest = max(deployments, key=lambda d: int(d.get("version", 0)), default=None)
        deployed = [d for d in (described.get("currentDeployment"), latest) if d]
        images = _unique_images([*_ecr_images(deployed), *images])
        unique = _unique_repositories(
            [*repositories, *(i.repository for i in images)], self.region, account
        )
        if not unique:
            self.add(
                "repository",
                WARNING,
                "nothing to check: no deployment of this service uses a private ECR image",
                "name what should be pulled: --repository NAME or --image URI",
            )
        # Images are looked at only in repositories that exist where the service can pull.
        readable: set[tuple[str, str, str | None]] = set()
        for key, repository in unique.items():
            if self.check_repository(repository, role.principal_arn, account):
                readable.add(key)
        for image in images:
            if _where(image.repository, self.region, account) in readable:
                self.check_image(image, account)
        self.check_deployment(latest)
        return Diagnosis(self.service, self.region, tuple(self.checks))

    # --- 1. the service ------------------------------------------------------------------

    def check_service(self, described: dict[str, Any]) -> None:
        state = str(described.get("state", "UNKNOWN"))
        where = f"{self.service} is {state} in {self.region}"
        if described.get("isDisabled") or state == "DISABLED":
            self.add(
                "service",
                PROBLEM,
                f"{self.service} is disabled: it runs no container",
                f"aws lightsail update-container-service --service-name {self.service} "
                f"--no-is-disabled --region {self.region}",
            )
        elif state == "DELETING":
            self.add(
                "service",
                PROBLEM,
                f"{where}: it is being deleted",
                "create it again with `pulumi up` once the deletion has finished",
            )
        elif state in _SETTLED:
            self.add("service", OK, where)
        else:
            self.add(
                "service",
                WARNING,
                f"{where}: Lightsail is still changing it",
                "run the doctor again when the service is READY or RUNNING",
            )

    # --- 2. the puller role --------------------------------------------------------------

    def check_role(self, role: RoleState) -> None:
        if not role.active:
            self.add(
                "role",
                PROBLEM,
                "the ECR image puller role is off: the service cannot pull from any "
                "private repository",
                "pulumi config set privateRegistryAccess true && pulumi up (without Pulumi: "
                f"aws lightsail update-container-service --service-name {self.service} "
                "--private-registry-access ecrImagePullerRole={isActive=true} "
                f"--region {self.region})",
            )
        elif not role.principal_arn:
            self.add(
                "role",
                PROBLEM,
                "the ECR image puller role is active but has no principal ARN yet, so no "
                "repository policy can name it",
                "Lightsail creates it within a minute of activation: run the doctor again; "
                "`pulumi up` waits for it and then grants it",
            )
        else:
            self.add("role", OK, f"the ECR image puller role is active: {role.principal_arn}")

    # --- 3-5. each repository and its policy ---------------------------------------------

    def check_repository(self, ref: RepositoryRef, arn: str, account: str | None) -> bool:
        """Check where the repository is and what its policy says; True when it is readable."""
        name = ref.name
        region = ref.region or self.region
        misplaced = ref.misplaced(self.region, account)
        if misplaced == "region":
            there = self._exists(ref, region)
            self.add(
                "repository",
                PROBLEM,
                f"in Region {region}{there}, but the service is in {self.region}: Lightsail "
                "pulls only from repositories in its own Region",
                f"push the image to a repository in {self.region} and deploy from it "
                f"(`containers[].repository`, `repositories`), or run the service in {region} "
                f"(pulumi config set aws:region {region})",
                repository=name,
            )
            return False
        if misplaced == "account":
            self.add(
                "repository",
                PROBLEM,
                f"belongs to account {ref.account}, but the service to account {account}: "
                "the puller role can be granted only on its own account's repositories",
                f"replicate the image into a repository of account {account} (ECR "
                "replication) and deploy from it",
                repository=name,
            )
            return False
        ecr = self.client("ecr")
        try:
            description = ecr_api.describe_repository(ecr, name, region)
        except AwsCallError as exc:
            if exc.code != "RepositoryNotFoundException":
                raise
            self.add(
                "repository",
                PROBLEM,
                f"does not exist in Region {region}" + (f", account {account}" if account else ""),
                f"aws ecr create-repository --repository-name {name} --region {region} and push "
                "the image, or correct the repository in `containers` and `repositories`",
                repository=name,
            )
            return False
        registry = str(description.get("registryId", account or ""))
        self.add("repository", OK, f"exists in {region}, account {registry}", repository=name)
        described_arn = str(
            description.get("repositoryArn") or repository_arn(region, registry, name)
        )
        self.check_policy(name, ecr_api.get_policy_text(ecr, name, described_arn), arn)
        return True

    def check_policy(self, name: str, text: str | None, arn: str) -> None:
        try:
            document = parse_policy(text)
        except MalformedPolicyError as exc:
            self.add(
                "policy",
                PROBLEM,
                f"the repository policy cannot be read: {exc}",
                f"see it with aws ecr get-repository-policy --repository-name {name} --region "
                f"{self.region}, and repair it (set-repository-policy with valid JSON)",
                repository=name,
            )
            return
        access = evaluate(document, arn, self.service)
        if not arn:
            self.add(
                "policy",
                WARNING,
                "not checked: the puller role has no principal ARN to look for"
                + _stale_note(access, self.service),
                repository=name,
            )
            return
        self._grant(name, document, access)
        self._denials(name, document, access)

    def _grant(self, name: str, document: dict[str, Any] | None, access: PullAccess) -> None:
        arn = access.principal_arn
        if access.missing:
            granted = list(access.grants)
            if document is None:
                found = f"no repository policy, so nothing allows {arn} {_BOTH_ACTIONS}"
            elif granted:
                found = (
                    f"{_granted(granted)} {arn} {_actions(g.action for g in granted)}, "
                    f"but no statement allows it {_actions(access.missing)}"
                )
            else:
                found = f"no statement allows {arn} {_BOTH_ACTIONS}"
            self.add(
                "policy",
                PROBLEM,
                found + _stale_note(access, self.service),
                self._grant_fix(name, document, arn),
                repository=name,
            )
        elif access.conditional_grants:
            conditions = ", ".join(
                sorted({str(c) for g in access.conditional_grants for c in g.conditions})
            )
            self.add(
                "policy",
                WARNING,
                f"{_granted(access.grants)} {arn} {_BOTH_ACTIONS} only when its Condition "
                f"holds: check {conditions}",
                self._grant_fix(name, document, arn),
                repository=name,
            )
        else:
            self.add(
                "policy",
                OK,
                f"{_granted(access.grants)} {arn} {_BOTH_ACTIONS}",
                repository=name,
            )

    def _grant_fix(self, name: str, document: dict[str, Any] | None, arn: str) -> str:
        sid = statement_sid(self.service)
        fix = (
            f"run `pulumi up` on the stack of {self.service} with {name} in `repositories` "
            f"(pulumi config set --path 'repositories[<n>]' {name}): it writes statement "
            f"{sid} for the current ARN"
        )
        try:
            merged = serialise(merge_grant(document, pull_statement(self.service, arn)).document)
        except PolicyError:
            return fix
        return (
            f"{fix}; without Pulumi: aws ecr set-repository-policy --repository-name {name} "
            f"--region {self.region} --policy-text {shlex.quote(merged)}"
        )

    def _denials(self, name: str, document: dict[str, Any] | None, access: PullAccess) -> None:
        arn = access.principal_arn
        show = f"aws ecr get-repository-policy --repository-name {name} --region {self.region}"
        for denial in access.blocking:
            self.add(
                "deny",
                PROBLEM,
                f"{denial.statement} denies {arn} {_actions(denial.actions)}, and a Deny "
                "wins over every Allow",
                f"the owner of {denial.statement} must leave {arn} out of it (narrow its "
                f"Principal, or name the ARN in a NotPrincipal); see it with {show}",
                repository=name,
            )
        for denial in access.uncertain:
            conditions = ", ".join(str(c) for c in denial.conditions)
            self.add(
                "deny",
                WARNING,
                f"{denial.statement} denies {arn} {_actions(denial.actions)} when its "
                f"Condition holds: check {conditions}",
                f"make sure {conditions} does not hold for pulls by the puller role; see the "
                f"statement with {show}",
                repository=name,
            )
        if not access.denials:
            what = "no repository policy, so no Deny" if document is None else "no Deny statement"
            self.add("deny", OK, f"{what} applies to the puller role's pulls", repository=name)

    def _exists(self, ref: RepositoryRef, region: str) -> str:
        """Say whether the repository exists in another Region, when that can be read."""
        try:
            ecr_api.describe_repository(self.client("ecr", region), ref.name, region)
        except AwsCallError as exc:
            return (
                " (where it does not exist either)"
                if exc.code == "RepositoryNotFoundException"
                else ""
            )
        return " (it exists there)"

    # --- 6. each image -------------------------------------------------------------------

    def check_image(self, image: ImageRef, account: str | None) -> None:
        name = image.repository.name
        ecr = self.client("ecr")
        arn = repository_arn(self.region, account or "<account>", name)
        details = ecr_api.describe_image(ecr, name, image.image_id, arn)
        what = "digest" if image.digest else "tag"
        if details is None:
            self.add(
                "image",
                PROBLEM,
                f"no image with {what} {image.digest or image.tag} in {name}",
                f"push it (docker push {image.given}), or deploy a {what} that exists: change "
                f"`containers[].tag` (aws ecr describe-images --repository-name {name} --region "
                f"{self.region} lists them)",
                repository=name,
                image=image.given,
            )
            return
        self.add(
            "image",
            OK,
            f"exists, digest {details.get('imageDigest', '')}",
            repository=name,
            image=image.given,
        )
        media_type = str(details.get("imageManifestMediaType", ""))
        if media_type in ecr_api.INDEX_MEDIA_TYPES:
            self.check_platform(image, ecr_api.get_image_manifest(ecr, name, image.image_id, arn))

    def check_platform(self, image: ImageRef, manifest: tuple[str, str] | None) -> None:
        platforms = _platforms(manifest[0]) if manifest else []
        listed = ", ".join(platforms) or "no platform"
        if LIGHTSAIL_PLATFORM in platforms:
            self.add(
                "platform",
                OK,
                f"the multi-platform index lists {LIGHTSAIL_PLATFORM} ({listed})",
                repository=image.repository.name,
                image=image.given,
            )
            return
        self.add(
            "platform",
            PROBLEM,
            f"the multi-platform index has no {LIGHTSAIL_PLATFORM} entry (it lists {listed}); "
            "Lightsail runs linux/amd64",
            f"build and push it for linux/amd64 too: docker buildx build --platform "
            f"linux/amd64,linux/arm64 -t {image.given} --push .",
            repository=image.repository.name,
            image=image.given,
        )

    # --- 7. the latest deployment --------------------------------------------------------

    def check_deployment(self, latest: dict[str, Any] | None) -> None:
        if latest is None:
            self.add("deployment", OK, "no deployment yet: nothing has tried to pull")
            return
        version, state = latest.get("version"), str(latest.get("state", ""))
        if state == "ACTIVE":
            self.add("deployment", OK, f"deployment {version} is ACTIVE")
        elif state == "ACTIVATING":
            self.add(
                "deployment",
                WARNING,
                f"deployment {version} is still ACTIVATING",
                "run the doctor again in a few minutes, when it is ACTIVE or FAILED",
            )
        elif state == "FAILED":
            self.add(
                "deployment",
                PROBLEM,
                f"deployment {version} FAILED" + self._log_tail(latest),
                "fix what the checks above (or the log lines) name, then deploy again: `pulumi up`",
            )
        else:
            self.add(
                "deployment",
                WARNING,
                f"the latest deployment, {version}, is {state}: another one replaced it",
            )

    def _log_tail(self, deployment: dict[str, Any]) -> str:
        """The last log lines of each container since the deployment was created."""
        lightsail = self.client("lightsail")
        # The latest deployment's window runs from its creation to now.
        started = deployment.get("createdAt")
        text = ""
        for container in sorted(deployment.get("containers") or {}):
            events = lightsail_api.get_container_log(lightsail, self.service, container, started)
            lines = [str(e.get("message", "")).rstrip() for e in events][-LOG_LINES:]
            if lines:
                text += f"\nlast {len(lines)} log lines of container {container}:"
                text += "".join(f"\n  {line}" for line in lines)
            else:
                text += f"\ncontainer {container} logged nothing since the deployment began"
        return text


# --- helpers -------------------------------------------------------------------------------


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


def _unique_repositories(
    refs: Iterable[RepositoryRef], region: str, account: str | None
) -> dict[tuple[str, str, str | None], RepositoryRef]:
    """One entry per repository, however it was named: a bare name is in the service's
    Region and account."""
    unique: dict[tuple[str, str, str | None], RepositoryRef] = {}
    for ref in refs:
        unique.setdefault(_where(ref, region, account), ref)
    return unique


def _where(ref: RepositoryRef, region: str, account: str | None) -> tuple[str, str, str | None]:
    return (ref.name, ref.region or region, ref.account or account)


def _platforms(manifest: str) -> list[str]:
    try:
        index = json.loads(manifest)
    except json.JSONDecodeError:
        return []
    found: list[str] = []
    for entry in index.get("manifests", []) if isinstance(index, dict) else []:
        platform = entry.get("platform") or {}
        os_name, arch = platform.get("os"), platform.get("architecture")
        # Attestation manifests carry "unknown/unknown"; they are not a platform.
        if os_name and arch and "unknown" not in (os_name, arch):
            variant = f"/{platform['variant']}" if platform.get("variant") else ""
            found.append(f"{os_name}/{arch}{variant}")
    return found


def _actions(actions: Iterable[str]) -> str:
    return " and ".join(actions)


def _granted(grants: Iterable[Any]) -> str:
    """'statement X allows' or, when two statements share the work, both named."""
    statements = list(dict.fromkeys(str(g.statement) for g in grants))
    return f"{' and '.join(statements)} allow{'s' * (len(statements) == 1)}"


def _stale_note(access: PullAccess, service: str) -> str:
    if not access.stale:
        return ""
    named = "; ".join(f"{s.statement} names {s.principal}" for s in access.stale)
    return (
        f"; {named}: an older puller role of {service} (the role was re-created since, "
        "so that statement grants nobody now)"
    )


def _short(image: str | None) -> str | None:
    """An image as `repository:tag`: the registry host adds nothing to a reader."""
    return image.split("/", 1)[1] if image and "/" in image else image


# --- the command ----------------------------------------------------------------------------


class _Command(argparse.ArgumentParser):
    """argparse's parser, except that with ``json_errors`` a usage error raises a
    DiagnosisError (printed as JSON) instead of printing text and exiting."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        if self.json_errors:
            raise DiagnosisError(f"{message} (see {self.prog} --help)", USAGE)
        super().error(message)


def parser() -> argparse.ArgumentParser:
    # The console script by its name; otherwise `python -m components.doctor` (or
    # lightsail_ecr_access.doctor, installed).
    script = Path(sys.argv[0]).name == SCRIPT
    command = _Command(
        prog=SCRIPT if script else f"python -m {__package__}.doctor",
        description="Say why a Lightsail container service cannot pull its private ECR "
        "images. Reads only. Exit status: 0 no problem, 1 a problem, 2 could not look. "
        "With --json every outcome, failures included, is one JSON object on stdout.",
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
        help="a role to assume, in order (as `aws:assumeRoles`); repeat for a chain",
    )
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """The command; returns its exit status (the console script exits with it)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in arguments
    command = parser()
    if isinstance(command, _Command):
        command.json_errors = as_json
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
    except DiagnosisError as exc:
        failure = exc
    except Exception as exc:
        # Not even a fault of the doctor's may exit 1 (which means "a problem was found").
        traceback.print_exc(file=sys.stderr)
        failure = DiagnosisError(f"the doctor failed: {type(exc).__name__}: {exc}", INTERNAL)
    else:
        print(json.dumps(diagnosis.as_json(), indent=2) if as_json else diagnosis.render())
        return diagnosis.exit_code
    if as_json:
        print(json.dumps(failure.as_json(service, region), indent=2))
    else:
        print(f"doctor: {failure}", file=sys.stderr)
    return EXIT_COULD_NOT_LOOK


if __name__ == "__main__":
    sys.exit(main())
