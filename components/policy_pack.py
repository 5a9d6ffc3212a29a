"""The organisation's CrossGuard policies that protect pull grants, for any Pulumi stack.

A plain ``aws.ecr.RepositoryPolicy`` (or Terraform's ``aws_ecr_repository_policy``) owns
its whole document: its next ``up`` silently drops every statement other teams and this
component added, and the services stop pulling at their next deployment. These policies
catch that before the write, in ``pulumi preview`` and ``pulumi up`` of every stack that
runs the pack:

- ``repository-policy-keeps-live-statements`` (mandatory): the document would remove a
  statement that is live on the repository now;
- ``repository-policy-readable`` (advisory): the live policy could not be read, so the
  check above could not be made (set its level to decide how much that matters);
- ``no-anonymous-pull`` (mandatory): the document lets anyone pull, unconditionally;
- ``lightsail-pulls-only-granted-images`` (advisory): a Lightsail deployment pulls a
  private image that nothing grants its service's puller role.

``POLICIES`` is what a pack's ``__main__.py`` hands to ``PolicyPack`` (see
``policy-pack/`` in the repository). The verdicts are in ``rules.policy_guard``, the
reads in ``aws.provider_reads``; this module only wires them to CrossGuard.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    from pulumi_policy import (
        EnforcementLevel,
        PolicyConfigSchema,
        PolicyProviderResource,
        PolicyResource,
        ReportViolation,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy import proxy as _proxy
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the policy pack needs pulumi-policy, an optional extra of this package: "
        "pip install 'lightsail-ecr-access[policy]'"
    ) from exc

from .aws.provider_reads import (
    UNKNOWN,
    ProviderAccess,
    UnknownSetting,
    Unreadable,
    read_container_service,
    read_repository_policy,
)
from .rules import policy_guard, type_tokens
from .rules.policy import (
    SID_PREFIX,
    Document,
    MalformedPolicyError,
    describe_statement,
    parse_policy,
    statements_of,
)
from .rules.pull_access import evaluate

PACK_NAME = "lightsail-ecr-access"
"""The pack's name, as `pulumi policy` commands and the Pulumi Cloud show it."""

REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
CONTAINER_SERVICE = "aws:lightsail/containerService:ContainerService"
DEPLOYMENT_VERSION = (
    "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion"
)

KEEPS_LIVE_STATEMENTS = "repository-policy-keeps-live-statements"
READABLE = "repository-policy-readable"
NO_ANONYMOUS_PULL = "no-anonymous-pull"
PULLS_ONLY_GRANTED = "lightsail-pulls-only-granted-images"


_UNKNOWN_VALUES = {
    _proxy.UNKNOWN_BOOLEAN_VALUE,
    _proxy.UNKNOWN_NUMBER_VALUE,
    _proxy.UNKNOWN_STRING_VALUE,
    _proxy.UNKNOWN_ARRAY_VALUE,
    _proxy.UNKNOWN_ASSET_VALUE,
    _proxy.UNKNOWN_ARCHIVE_VALUE,
    _proxy.UNKNOWN_OBJECT_VALUE,
}

_FIX = (
    "keep each of them in the document (`aws ecr get-repository-policy --repository-name "
    "{repository} --region {region}` shows the live policy), or grant pull access with the "
    "lightsail-ecr-access component, which merges its statement into the live policy "
    "instead of replacing it; to remove them on purpose, list their Sids in this "
    "policy's exemptSids"
)


def _exempt_repositories(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": [],
        "description": description,
    }


# --- values as the engine hands them over --------------------------------------------


def plain(value: Any) -> Any:
    """A deep plain copy of properties, with ``UNKNOWN`` for each value not known yet.

    The analyzer wraps properties in a proxy that raises on an unknown value; a policy
    that met one would be skipped whole, so each value is taken one at a time here."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_VALUES else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except _proxy.UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except _proxy.UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def _provider_settings(provider: PolicyProviderResource | None) -> dict[str, Any]:
    return plain(provider.props) if provider is not None else {}


def _stack_of(urn: str) -> str:
    """``urn:pulumi:<stack>::<project>``: what the URNs of one stack share."""
    return "::".join(urn.split("::")[:2])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- what the pack has seen of the stack ---------------------------------------------


class _StackServices:
    """The container services each stack declares, as the engine analyzes them.

    The engine analyzes every resource a program registers, in the order it registers
    them; a component (or any program) declares its service before the policy that
    grants the service's puller role, whose document needs the role's ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, set[str]] = {}

    def saw(self, urn: str, name: str) -> None:
        with self._lock:
            self._names.setdefault(_stack_of(urn), set()).add(name)

    def of(self, urn: str) -> set[str]:
        with self._lock:
            return set(self._names.get(_stack_of(urn), ()))

    def forget(self) -> None:
        with self._lock:
            self._names.clear()


STACK_SERVICES = _StackServices()


class _LiveReads:
    """Hands one live read from the policy that made it to the one judged right after it.

    The analyzer runs a resource's policies one after another in one call: the
    statements check reads the live policy, and the readability check that follows it
    takes that same outcome instead of reading again. Nothing else is kept: a later
    call (the update after the preview, in the same process) reads anew, since another
    writer may have changed the policy in between."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handed: dict[tuple[Any, ...], Document | Unreadable | None] = {}

    def read(self, urn: str, access: ProviderAccess, repository: str) -> Document | None:
        """Read now, and leave the outcome for ``take`` (a failure included)."""
        outcome = _outcome(access, repository)
        with self._lock:
            self._handed[(urn, access, repository)] = outcome
        return _result(outcome)

    def take(self, urn: str, access: ProviderAccess, repository: str) -> Document | None:
        """The outcome ``read`` left for this resource, once; else a read of its own."""
        key = (urn, access, repository)
        with self._lock:
            handed = key in self._handed
            outcome = self._handed.pop(key, None)
        return _result(outcome if handed else _outcome(access, repository))

    def forget(self) -> None:
        with self._lock:
            self._handed.clear()


def _outcome(access: ProviderAccess, repository: str) -> Document | Unreadable | None:
    try:
        return read_repository_policy(access, repository)
    except Unreadable as exc:
        return exc


def _result(outcome: dict[str, Any] | Unreadable | None) -> dict[str, Any] | None:
    """The value read, or the reason it could not be read, raised."""
    if isinstance(outcome, Unreadable):
        raise outcome
    return outcome


LIVE_READS = _LiveReads()


# --- the repository policy being written ---------------------------------------------


class _Document:
    """An ``aws.ecr.RepositoryPolicy`` as the engine is about to write it."""

    def __init__(self, args: ResourceValidationArgs, policy_name: str) -> None:
        props = plain(args.props)
        self.args = args
        self.repository = props.get("repository")
        self.text = props.get("policy")
        self.region = props.get("region")
        config = args.get_config()
        self.exempt_repositories = policy_guard.string_list(
            config, "exemptRepositories", policy_name
        )
        self.config = config

    def judged(self) -> Document | None:
        """The document, or the reason it is not judged (``args.not_applicable``)."""
        if self.repository is UNKNOWN or self.text is UNKNOWN:
            self.args.not_applicable(
                "the document is not known yet (it depends on resources not created yet); "
                "it is judged at `pulumi up`, before it is written"
            )
        if self.repository in self.exempt_repositories:
            self.args.not_applicable(f"repository {self.repository} is exempt")
        try:
            return parse_policy(self.text)
        except MalformedPolicyError as exc:
            self.args.not_applicable(f"the document is not a policy ({exc}); ECR refuses it")
        return None  # pragma: no cover - not_applicable raises

    @functools.cached_property
    def access(self) -> ProviderAccess:
        region = self.region if isinstance(self.region, str) and self.region else None
        return ProviderAccess.of(_provider_settings(self.args.provider), region)

    def live(self) -> Document | None:
        """A fresh read of the live policy."""
        return LIVE_READS.read(self.args.urn, self.access, str(self.repository))

    def live_as_just_read(self) -> Document | None:
        """The read the statements check made a moment ago in this call, else a fresh one."""
        return LIVE_READS.take(self.args.urn, self.access, str(self.repository))


def keeps_live_statements(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == CONTAINER_SERVICE:
        name = plain(args.props).get("name")
        if _text(name):
            STACK_SERVICES.saw(args.urn, name)
        return
    if args.resource_type != REPOSITORY_POLICY:
        return
    document = _Document(args, KEEPS_LIVE_STATEMENTS)
    proposed = document.judged()
    exempt_sids = policy_guard.string_list(document.config, "exemptSids", KEEPS_LIVE_STATEMENTS)
    try:
        access = document.access
        live = document.live()
    except UnknownSetting as exc:
        args.not_applicable(str(exc))
        return
    except Unreadable:
        return  # not judged: repository-policy-readable says why
    own = policy_guard.own_pull_sids(STACK_SERVICES.of(args.urn))
    if _written_by_the_component(args.urn):
        # The component merges from a read taken just before its write, and every run of
        # it verifies and repairs its own grants after a settle delay: another stack's
        # grant that lands in between is written back by that stack's run. Any other
        # statement would be lost, so it is still judged.
        exempt_sids = (*exempt_sids, f"{SID_PREFIX}*")
    removed = [
        s
        for s in policy_guard.removed_statements(live, proposed)
        if s.get("Sid") not in own and not policy_guard.is_exempt(s, exempt_sids)
    ]
    if not removed:
        return
    repository = str(document.repository)
    listed = "; ".join(describe_statement(s) for s in removed)
    message = (
        f"this document would remove {len(removed)} statement(s) that are live on ECR "
        f"repository {repository} (Region {access.region}): {listed}. Fix: "
        + _FIX.format(repository=repository, region=access.region)
        + "."
    )
    grants = [
        str(s["Sid"])
        for s in removed
        if isinstance(s.get("Sid"), str) and str(s["Sid"]).startswith(SID_PREFIX)
    ]
    if grants:
        message += (
            f" {', '.join(grants)} "
            + (
                "is a Lightsail service's pull grant"
                if len(grants) == 1
                else "are Lightsail services' pull grants"
            )
            + ": removing one stops that service's next deployment from pulling; if the "
            "service is declared in this stack, declare it before this policy so that the "
            "pack sees it."
        )
    report(message, None)


def _written_by_the_component(urn: str) -> bool:
    """Whether the resource is a child of this project's component (its URN's type chain)."""
    parts = urn.split("::")
    return len(parts) > 2 and type_tokens.COMPONENT in parts[2].split("$")


def live_policy_readable(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REPOSITORY_POLICY:
        return
    document = _Document(args, READABLE)
    document.judged()
    try:
        document.live_as_just_read()
    except UnknownSetting as exc:
        args.not_applicable(str(exc))
    except Unreadable as exc:
        report(
            f"the live policy of ECR repository {document.repository} could not be read, so "
            f"{KEEPS_LIVE_STATEMENTS} could not check which statements this document would "
            f"remove: {exc}",
            None,
        )


def no_anonymous_pull(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REPOSITORY_POLICY:
        return
    document = _Document(args, NO_ANONYMOUS_PULL)
    for finding in policy_guard.anonymous_pulls(document.judged()):
        report(
            f"the policy of ECR repository {document.repository} lets anyone pull its "
            f"images: {finding}. Fix: name the principals that pull (a role ARN or an "
            "account), or add a Condition that narrows them (aws:PrincipalOrgID, "
            "aws:SourceAccount); a repository meant to be public goes in exemptRepositories",
            None,
        )


# --- what a Lightsail deployment pulls -----------------------------------------------


def pulls_only_granted_images(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    exempt_repositories = policy_guard.string_list(config, "exemptRepositories", PULLS_ONLY_GRANTED)
    exempt_services = policy_guard.string_list(config, "exemptServices", PULLS_ONLY_GRANTED)
    services = {
        str(props["name"]): (resource, props)
        for resource in args.resources
        if resource.resource_type == CONTAINER_SERVICE
        for props in [plain(resource.props)]
        if _text(props.get("name"))
    }
    documents = [
        (_written_in(r), plain(r.props))
        for r in args.resources
        if r.resource_type == REPOSITORY_POLICY
    ]
    for deployment in args.resources:
        if deployment.resource_type != DEPLOYMENT_VERSION:
            continue
        props = plain(deployment.props)
        service_name = _text(props.get("serviceName"))
        containers = props.get("containers")
        if service_name is None or service_name in exempt_services:
            continue
        if not isinstance(containers, list):
            continue
        region = _text(props.get("region"))
        checker = _PullCheck(
            deployment, service_name, region, services.get(service_name), documents
        )
        for container in containers:
            if not isinstance(container, Mapping):
                continue
            image = policy_guard.private_image(container.get("image"))
            if image is None or image.repository in exempt_repositories:
                continue
            problem = checker.problem(image)
            if problem:
                name = container.get("containerName")
                report(
                    f"container {name} of Lightsail service {service_name} {problem}",
                    deployment.urn,
                )


class _PullCheck:
    """Whether one service's puller role may pull from each repository its containers name."""

    def __init__(
        self,
        deployment: PolicyResource,
        service_name: str,
        region: str | None,
        declared: tuple[PolicyResource, dict[str, Any]] | None,
        documents: list[tuple[str | None, dict[str, Any]]],
    ) -> None:
        self.deployment = deployment
        self.service_name = service_name
        self.region = region
        self.declared = declared
        self.documents = documents
        self._live: dict[tuple[str, str, str], Document | Unreadable | None] = {}

    def problem(self, image: policy_guard.PrivateImage) -> str | None:
        pulls = f"pulls {image.uri} from private ECR repository {image.repository}"
        try:
            service = self._the_service()
        except (Unreadable, UnknownSetting) as exc:
            return f"{pulls}, and the pack could not check that it may: {exc}"
        if service is None:
            return None  # no such service: the deployment fails on its own
        role = _puller_role(service)
        if role is UNKNOWN or role.get("isActive") is UNKNOWN:
            return None
        if not role.get("isActive"):
            return (
                f"{pulls}, but the service's private registry access is off, so it cannot "
                "pull any private image. Fix: turn on privateRegistryAccess."
                "ecrImagePullerRole.isActive, or use the lightsail-ecr-access component"
            )
        principal = _text(role.get("principalArn"))
        granted_here = self._granted_in_stack(image, principal)
        if granted_here is not False:
            return None  # granted, or not known yet
        if principal is None:
            where = "this stack does not grant it (its puller role has no ARN yet)"
        else:
            try:
                live = self._live_policy(image)
            except (Unreadable, UnknownSetting) as exc:
                return f"{pulls}, and the pack could not read its live policy to check: {exc}"
            verdict = evaluate(live, principal, self.service_name)
            if verdict.granted and not verdict.blocking:
                return None
            if verdict.granted:
                denials = ", ".join(str(d.statement) for d in verdict.blocking)
                return (
                    f"{pulls}, but the live policy denies its puller role {principal} the "
                    f"pull ({denials}), so the deployment will fail to pull the image. Fix: "
                    "the owner of that statement must leave the puller role out of it; "
                    f"`python -m lightsail_ecr_access.doctor {self.service_name} --region "
                    f"{image.region}` shows the whole diagnosis"
                )
            where = f"neither this stack nor the live policy grants its puller role {principal}"
        return (
            f"{pulls}, but {where} pull access, so the deployment will fail to pull the image. "
            f"Fix: grant it with the lightsail-ecr-access component (repositories: "
            f"[{image.repository}]), or allow ecr:BatchGetImage and ecr:GetDownloadUrlForLayer "
            "to the puller role in the repository policy"
        )

    def _live_policy(self, image: policy_guard.PrivateImage) -> Document | None:
        """The live policy of the image's repository, read once for every container of
        the deployment that pulls from it."""
        key = (image.account, image.region, image.repository)
        if key not in self._live:
            try:
                access = ProviderAccess.of(
                    _provider_settings(self.deployment.provider), image.region
                )
                self._live[key] = read_repository_policy(access, image.repository, image.account)
            except Unreadable as exc:
                self._live[key] = exc
        return _result(self._live[key])

    def _the_service(self) -> dict[str, Any] | None:
        if self.declared is not None:
            return self.declared[1]
        return _result(self._live_service)

    @functools.cached_property
    def _live_service(self) -> dict[str, Any] | Unreadable | None:
        """A service the stack does not declare, as Lightsail describes it (read once)."""
        try:
            access = ProviderAccess.of(_provider_settings(self.deployment.provider), self.region)
            return read_container_service(access, self.service_name)
        except Unreadable as exc:
            return exc

    def _granted_in_stack(
        self, image: policy_guard.PrivateImage, principal: str | None
    ) -> bool | None:
        """True when a document of this stack grants the role; None when one that may is
        not known yet; False otherwise."""
        maybe = False
        sid = f"{SID_PREFIX}{self.service_name}"
        for region, props in self.documents:
            if props.get("repository") is UNKNOWN:
                maybe = True
                continue
            if props.get("repository") != image.repository or region not in (None, image.region):
                continue
            if props.get("policy") is UNKNOWN:
                maybe = True
                continue
            try:
                document = parse_policy(props.get("policy"))
            except MalformedPolicyError:
                continue
            if principal and evaluate(document, principal, self.service_name).granted:
                return True
            if principal is None and any(s.get("Sid") == sid for s in statements_of(document)):
                return True  # the component's grant, written once the role has its ARN
        return None if maybe else False


def _written_in(resource: PolicyResource) -> str | None:
    """The Region a repository policy of the stack is written in, when the resource or
    its provider says (None: the environment's, not known here)."""
    for value in (
        plain(resource.props).get("region"),
        _provider_settings(resource.provider).get("region"),
    ):
        if _text(value):
            return str(value)
    return None


def _puller_role(service: Mapping[str, Any]) -> Any:
    access = service.get("privateRegistryAccess")
    if access is UNKNOWN:
        return UNKNOWN
    role = access.get("ecrImagePullerRole") if isinstance(access, Mapping) else None
    if role is UNKNOWN:
        return UNKNOWN
    return role if isinstance(role, Mapping) else {}


# --- the policies --------------------------------------------------------------------


def _resource_policy(
    name: str,
    description: str,
    validate: Callable[[ResourceValidationArgs, ReportViolation], None],
    level: EnforcementLevel,
    properties: dict[str, dict[str, Any]],
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(properties=properties),
    )


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    _resource_policy(
        KEEPS_LIVE_STATEMENTS,
        "An ECR repository policy must keep every statement that is live on the repository.",
        keeps_live_statements,
        EnforcementLevel.MANDATORY,
        {
            "exemptRepositories": _exempt_repositories(
                "Repositories whose policy this stack owns outright."
            ),
            "exemptSids": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "default": [],
                "description": "Sids (* and ? match) that a document may remove.",
            },
        },
    ),
    _resource_policy(
        READABLE,
        "The pack must be able to read the live ECR repository policy a document replaces.",
        live_policy_readable,
        EnforcementLevel.ADVISORY,
        {"exemptRepositories": _exempt_repositories("Repositories not to read.")},
    ),
    _resource_policy(
        NO_ANONYMOUS_PULL,
        "An ECR repository policy must not let anyone pull without a condition.",
        no_anonymous_pull,
        EnforcementLevel.MANDATORY,
        {"exemptRepositories": _exempt_repositories("Repositories that are public on purpose.")},
    ),
    StackValidationPolicy(
        name=PULLS_ONLY_GRANTED,
        description=(
            "A Lightsail container service must pull private ECR images only from "
            "repositories that grant its ECR image puller role."
        ),
        validate=pulls_only_granted_images,
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(
            properties={
                "exemptRepositories": _exempt_repositories("Repositories not to check."),
                "exemptServices": _exempt_repositories("Container services not to check."),
            }
        ),
    ),
]
"""Every policy of the pack, for ``PolicyPack(name, policies=POLICIES)``."""
