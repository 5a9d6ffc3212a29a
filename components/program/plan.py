"""What one component will declare, decided before anything registers.

``check_inputs`` turns the arguments into checked values (pure); ``plan_service`` reads
what it must (the repositories, their policies, the images, an adopted service) and
declares the grants on the program's shared repository policies. Its result is exactly
what `pulumi preview` shows: every later step only declares resources from it, and a
bad input or a document ECR would refuse stops the run here, before anything registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..aws.identity import AwsIdentity
from ..aws.puller_role import DEFAULT_TIMEOUT_SECONDS
from ..rules import deployment, validation
from ..rules.repository import (
    RepositoryRef,
    image_uri_prefix,
    parse_repositories,
    repository_arn,
)
from .aws_provider import stack_default_tags
from .repository_policies import PlannedGrant, RepositoryEntry, RepositoryPolicyBook


@dataclass(frozen=True)
class ServiceInputs:
    """The component's arguments, checked."""

    service_name: str
    region: str
    power: str
    scale: int
    access: bool
    adopt: bool
    refs: list[RepositoryRef]
    timeout: float


def check_inputs(args: Mapping[str, Any]) -> ServiceInputs:
    """Check every plain argument; the first bad one raises ConfigurationError."""
    return ServiceInputs(
        service_name=validation.check_service_name(args.get("service_name")),
        region=validation.check_region(args.get("region")),
        power=validation.check_power(args.get("power", "nano")),
        scale=validation.check_scale(args.get("scale", 1)),
        access=validation.check_bool(
            args.get("private_registry_access", True), "privateRegistryAccess"
        ),
        adopt=validation.check_bool(
            args.get("adopt_existing_service", False), "adoptExistingService"
        ),
        refs=parse_repositories(
            validation.check_list(args.get("repositories"), "repositories", "['team/app']")
        ),
        timeout=validation.check_timeout(
            args.get("puller_role_timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        ),
    )


@dataclass
class ServicePlan:
    """Everything the component declares besides the service and its puller role."""

    grants: list[tuple[RepositoryEntry, PlannedGrant]]
    """Per granted repository, the grant declared on its shared policy."""
    prefixes: dict[str, str]
    """Image URI prefix per repository name."""
    repository_arns: list[str]
    """Every listed repository, for the operator policy (revoking needs them too)."""
    containers: list[dict[str, Any]]
    public_endpoint: dict[str, Any] | None
    adopted_tags: dict[str, str] | None = None
    """When adopting: the tags the live service must have (with the default tags)."""


def plan_service(
    book: RepositoryPolicyBook,
    inputs: ServiceInputs,
    args: Mapping[str, Any],
    identity: AwsIdentity,
    own_provider: bool,
) -> ServicePlan:
    """Read and decide everything; register nothing. ``own_provider``: the component
    has its own AWS provider (``aws_identity``), so the stack's default tags do not
    apply to it."""
    region = inputs.region
    # An adopted service is compared with the stack by the AdoptionCheck resource, and
    # only while it is imported; here only its goal's tags must be plain values.
    adopted_tags = (
        {
            **({} if own_provider else stack_default_tags()),
            **validation.check_plain_tags(args.get("tags")),
        }
        if inputs.adopt
        else None
    )

    refs = inputs.refs
    names = {**{ref.given: ref.name for ref in refs}, **{ref.name: ref.name for ref in refs}}
    entries: list[RepositoryEntry] = []
    if inputs.access:
        # The images a deployment will pull are looked up with the policies.
        entries = book.repositories(
            refs, region, identity, deployment.wanted_tags(args.get("containers"), names)
        )
        prefixes = {entry.name: entry.uri_prefix for entry in entries}
        repository_arns = [entry.arn for entry in entries]
    else:
        # Access off: no grant is made, so no policy is read; statements made earlier
        # are removed by their finalizers, which leave the program.
        for ref in refs:
            book.check_location(ref, region, identity)
        account = book.account(identity, region) if refs else ""
        prefixes = {ref.name: image_uri_prefix(account, region, ref.name) for ref in refs}
        # Revoking earlier statements still needs the ECR permissions.
        repository_arns = [repository_arn(region, account, ref.name) for ref in refs]

    by_reference = {written: prefixes[name] for written, name in names.items()}
    containers = deployment.container_args(
        validation.check_list(
            args.get("containers"), "containers", "[{name: api, repository: team/app, tag: '1.0'}]"
        ),
        by_reference if inputs.access else {},
    )
    if containers:
        deployment.check_images_exist(
            list(args.get("containers") or []),
            names,
            {e.name: (e.images.missing, e.images.newest, e.arn) for e in entries},
        )
    endpoint = args.get("public_endpoint")
    if endpoint and not containers:
        raise validation.ConfigurationError(
            "publicEndpoint is set but `containers` is empty; list the containers to "
            "deploy, or remove publicEndpoint"
        )
    public_endpoint = deployment.public_endpoint_args(endpoint, containers) if endpoint else None

    # Declared last: a document ECR would refuse stops the run here too.
    grants = [(entry, book.declare(entry, inputs.service_name)) for entry in entries]
    return ServicePlan(grants, prefixes, repository_arns, containers, public_endpoint, adopted_tags)
