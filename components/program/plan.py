"""What one component will declare, decided before anything registers.

``check_inputs`` turns the arguments into checked values (reading no AWS, naming every
bad one at once); ``plan_service`` reads what it must (the repositories, their policies,
the images, an adopted service) and declares the grants on the program's shared
repository policies. Its result is exactly what `pulumi preview` shows: every later step
only declares resources from it, and a bad input or a document ECR would refuse stops
the run here, before anything registers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..aws.identity import AwsIdentity, check_identity
from ..aws.puller_role import DEFAULT_TIMEOUT_SECONDS
from ..aws.regions import known_regions
from ..rules import deployment, validation
from ..rules.errors import ConfigurationError, InputErrors
from ..rules.repository import (
    RepositoryRef,
    image_uri_prefix,
    parse_repositories,
    repository_arn,
)
from ..rules.stack_config import closest
from .aws_provider import stack_default_tags
from .repository_policies import PlannedGrant, RepositoryEntry, RepositoryPolicyBook

T = TypeVar("T")


ARGUMENTS = (
    "service_name",
    "region",
    "repositories",
    "power",
    "scale",
    "private_registry_access",
    "tags",
    "containers",
    "public_endpoint",
    "puller_role_timeout_seconds",
    "adopt_existing_service",
    "aws_identity",
)
"""Every argument of the component (``PrivateEcrContainerServiceArgs``); any other key is
a slip, refused rather than ignored."""


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
    tags: Any = None
    """The service's tags, numbers and booleans as their text (or an Output, as given)."""
    containers: list[dict[str, Any]] = field(default_factory=list)
    """Each container, checked (``deployment.check_containers``)."""
    public_endpoint: dict[str, Any] | None = None


class _Findings:
    """The errors found so far: every argument is checked, so that one run names every
    input to fix, not only the first."""

    def __init__(self) -> None:
        self.errors: list[ConfigurationError] = []

    def check(self, key: str, check: Callable[..., T], *args: Any) -> T | None:
        try:
            return check(*args)
        except ConfigurationError as exc:
            self.errors.append(exc.within(key))
            return None

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise InputErrors(self.errors)


def check_inputs(args: Mapping[str, Any]) -> ServiceInputs:
    """Check every argument, before anything is read or written; raise ConfigurationError
    naming the bad one (InputErrors when several are bad). Reads no AWS: the Regions come
    from botocore's own data."""
    found = _Findings()
    unknown = sorted(set(args) - set(ARGUMENTS))
    for key in unknown:
        near = closest(key, ARGUMENTS)
        found.errors.append(
            ConfigurationError(
                f"{key!r} is not an argument of PrivateEcrContainerService: "
                + (f"did you mean {near!r}? " if near else "")
                + "its arguments are "
                + ", ".join(ARGUMENTS),
                path=(key,),
            )
        )
    service_name = found.check(
        "service_name", validation.check_service_name, args.get("service_name")
    )
    region = found.check("region", validation.check_region, args.get("region"), known_regions())
    power = found.check("power", validation.check_power, args.get("power", "nano"))
    scale = found.check("scale", validation.check_scale, args.get("scale", 1))
    access = found.check(
        "private_registry_access",
        validation.check_bool,
        args.get("private_registry_access", True),
        "privateRegistryAccess",
        ("private_registry_access",),
    )
    adopt = found.check(
        "adopt_existing_service",
        validation.check_bool,
        args.get("adopt_existing_service", False),
        "adoptExistingService",
        ("adopt_existing_service",),
    )
    refs = found.check("repositories", _check_repositories, args.get("repositories"), region)
    timeout = found.check(
        "puller_role_timeout_seconds",
        validation.check_timeout,
        args.get("puller_role_timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
    )
    if args.get("aws_identity") is not None:
        found.check("aws_identity", check_identity, args["aws_identity"])
    tags = found.check("tags", validation.check_tags, args.get("tags"))
    if adopt and tags is not None:
        found.check("tags", validation.check_plain_tags, tags)
    # Which repositories a container may use is judged only when they are known.
    granted: set[str] | None = None
    if refs is not None and access is not None:
        granted = {n for ref in refs for n in (ref.given, ref.name)} if access else set()
    containers = found.check(
        "containers", deployment.check_containers, args.get("containers"), granted
    )
    endpoint = args.get("public_endpoint")
    public_endpoint = None
    if endpoint is not None and containers is not None:
        if not containers:
            found.errors.append(
                ConfigurationError(
                    "publicEndpoint is set but `containers` is empty; list the containers "
                    "to deploy, or remove publicEndpoint",
                    path=("public_endpoint",),
                )
            )
        else:
            public_endpoint = found.check(
                "public_endpoint", deployment.public_endpoint_args, endpoint, containers
            )
    found.raise_any()
    return ServiceInputs(
        service_name=cast(str, service_name),
        region=cast(str, region),
        power=cast(str, power),
        scale=cast(int, scale),
        access=cast(bool, access),
        adopt=cast(bool, adopt),
        refs=cast(list[RepositoryRef], refs),
        timeout=cast(float, timeout),
        tags=tags,
        containers=cast(list[dict[str, Any]], containers),
        public_endpoint=public_endpoint,
    )


def _check_repositories(value: Any, region: str | None) -> list[RepositoryRef]:
    """The list, each entry a reference, none twice, and (when the Region is good) none
    that says it is in another Region: Lightsail could never pull from it."""
    listed = validation.check_list(value, "repositories", "['team/app']", ("repositories",))
    refs = parse_repositories(listed)
    for index, ref in enumerate(refs if region is not None else []):
        try:
            ref.check_location(cast(str, region), None)  # the account: once AWS is asked
        except ConfigurationError as exc:
            raise ConfigurationError(f"repositories: {exc}", path=("repositories", index)) from None
    return refs


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
    # only while it is imported; its goal's tags were checked to be plain values.
    adopted_tags = (
        {**({} if own_provider else stack_default_tags()), **(inputs.tags or {})}
        if inputs.adopt
        else None
    )

    refs = inputs.refs
    names = {**{ref.given: ref.name for ref in refs}, **{ref.name: ref.name for ref in refs}}
    entries: list[RepositoryEntry] = []
    if inputs.access:
        # The images a deployment will pull are looked up with the policies.
        entries = book.repositories(
            refs, region, identity, deployment.wanted_tags(inputs.containers, names)
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
    containers = deployment.deployment_args(inputs.containers, by_reference)
    if containers:
        deployment.check_images_exist(
            inputs.containers,
            names,
            {e.name: (e.images.missing, e.images.newest, e.arn) for e in entries},
        )
    public_endpoint = inputs.public_endpoint

    # Declared last: a document ECR would refuse stops the run here too.
    grants = [(entry, book.declare(entry, inputs.service_name)) for entry in entries]
    return ServicePlan(grants, prefixes, repository_arns, containers, public_endpoint, adopted_tags)
