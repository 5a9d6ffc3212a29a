"""The component: a Lightsail container service that may pull from private ECR repositories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .aws import lightsail_api
from .aws.identity import AwsIdentity, check_identity
from .aws.puller_role import DEFAULT_TIMEOUT_SECONDS
from .dynamic_providers import PullerRole
from .program.aws_provider import (
    check_no_explicit_provider,
    provider_for,
    stack_default_tags,
)
from .program.repository_policies import RepositoryPolicyBook
from .rules import adoption, deployment, validation
from .rules.operator_policy import operator_policy
from .rules.repository import image_uri_prefix, parse_repositories, repository_arn

TYPE_TOKEN = "lightsail-ecr:index:PrivateEcrContainerService"


class PrivateEcrContainerServiceArgs(TypedDict):
    """Inputs of PrivateEcrContainerService.

    These are plain values, not Outputs: they decide which resources exist, and the
    component checks them (and reads the repositories) before it creates anything, so
    that `pulumi preview` shows exactly what `pulumi up` will do.
    """

    service_name: str
    """Lightsail container service name (1-63 lowercase letters, digits, hyphens)."""
    region: str
    """AWS Region of the service; every repository must be in it too."""
    repositories: NotRequired[Sequence[str]]
    """Private ECR repositories the service may pull from: names, ARNs or URIs."""
    power: NotRequired[str]
    """nano, micro, small, medium, large or xlarge (default nano)."""
    scale: NotRequired[int]
    """Number of nodes, 1 to 20 (default 1)."""
    private_registry_access: NotRequired[bool]
    """Turn the ECR image puller role on (default) or off; off revokes every grant."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags of the container service."""
    containers: NotRequired[Sequence[deployment.ContainerSpec]]
    """Containers to deploy once every grant is in place (none: no deployment)."""
    public_endpoint: NotRequired[deployment.PublicEndpointSpec]
    """Container and port behind the service's public URL."""
    puller_role_timeout_seconds: NotRequired[float]
    """How long to wait for the puller role's principal ARN (default 300)."""
    adopt_existing_service: NotRequired[bool]
    """Import a container service that already exists under ``service_name`` (made by
    hand or by another tool) instead of creating it; its power, scale and tags must
    match the live service, which must be enabled and have no custom domains."""
    aws_identity: NotRequired[AwsIdentity]
    """How to reach AWS when not as the stack's default AWS provider (``aws:profile``,
    ``aws:assumeRoles``...): the component then builds its own AWS provider from these
    settings, so that its boto3 reads and the provider's writes act as one identity.
    Use this instead of ``opts.provider``, whose settings the component cannot read."""


class PrivateEcrContainerService(pulumi.ComponentResource):
    """A Lightsail container service granted pull access to private ECR repositories.

    Each repository's policy keeps every statement other people wrote; this service's
    statement (Sid ``AllowLightsailPull-<service name>``) is added, and removed again
    when the repository leaves the list, access is turned off, or the stack is destroyed.
    """

    service_name: pulumi.Output[str]
    service_arn: pulumi.Output[str]
    url: pulumi.Output[str]
    principal_arn: pulumi.Output[str]
    """The ECR image puller role's principal ARN ('' while access is off)."""
    image_uri_prefixes: pulumi.Output[dict[str, str]]
    """Per repository name, ``<account>.dkr.ecr.<region>.amazonaws.com/<name>``."""
    operator_policy: pulumi.Output[str]
    """Least-privilege IAM policy (JSON) for whoever runs `pulumi up` on this component."""

    def __init__(
        self,
        name: str,
        args: PrivateEcrContainerServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Everything that can be wrong with the inputs is found before the component
        # registers, so a bad input leaves no trace, not even an empty component.
        service_name = validation.check_service_name(args.get("service_name"))
        region = validation.check_region(args.get("region"))
        power = validation.check_power(args.get("power", "nano"))
        scale = validation.check_scale(args.get("scale", 1))
        access = validation.check_bool(
            args.get("private_registry_access", True), "privateRegistryAccess"
        )
        adopt = validation.check_bool(
            args.get("adopt_existing_service", False), "adoptExistingService"
        )
        refs = parse_repositories(
            validation.check_list(args.get("repositories"), "repositories", "['team/app']")
        )
        timeout = validation.check_timeout(
            args.get("puller_role_timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        )
        check_no_explicit_provider(opts)
        book = RepositoryPolicyBook.for_this_program()

        explicit_identity = args.get("aws_identity")
        provider: pulumi.ProviderResource | None = None
        if explicit_identity is not None:
            # The component's own provider must exist before the provider's account can
            # be asked for; registering the two writes nothing to AWS.
            identity = check_identity(explicit_identity)
            super().__init__(TYPE_TOKEN, name, None, opts)
            provider = provider_for(identity, region, f"{name}-aws", self)
        else:
            identity = AwsIdentity.from_stack_config()
        # boto3 must read the account the provider writes to, or the merged documents
        # would carry one account's statements into the other's repositories.
        book.check_same_account(identity, region, provider)

        if adopt:
            adoption.check_adoptable(
                lightsail_api.get_container_service(
                    book.client("lightsail", region, identity), service_name
                ),
                adoption.ServiceGoal(
                    service_name,
                    region,
                    power,
                    scale,
                    {
                        **(stack_default_tags() if provider is None else {}),
                        **validation.check_plain_tags(args.get("tags")),
                    },
                ),
            )

        names = {**{ref.given: ref.name for ref in refs}, **{ref.name: ref.name for ref in refs}}
        if access:
            # The images a deployment will pull are looked up with the policies.
            entries = book.repositories(
                refs, region, identity, deployment.wanted_tags(args.get("containers"), names)
            )
            prefixes = {entry.name: entry.uri_prefix for entry in entries}
            repository_arns = [entry.arn for entry in entries]
        else:
            # Access off: no grant is made, so no policy is read; statements made
            # earlier are removed by their finalizers, which leave the program.
            entries = []
            for ref in refs:
                book.check_location(ref, region, identity)
            account = book.account(identity, region) if refs else ""
            prefixes = {ref.name: image_uri_prefix(account, region, ref.name) for ref in refs}
            # Revoking earlier statements still needs the ECR permissions.
            repository_arns = [repository_arn(region, account, ref.name) for ref in refs]
        by_reference = {written: prefixes[name] for written, name in names.items()}
        containers = deployment.container_args(
            validation.check_list(
                args.get("containers"),
                "containers",
                "[{name: api, repository: team/app, tag: '1.0'}]",
            ),
            by_reference if access else {},
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
        public_endpoint = (
            deployment.public_endpoint_args(endpoint, containers) if endpoint else None
        )

        # Declared before anything registers: a document ECR would refuse stops the run here.
        declared = [(entry, book.declare(entry, service_name)) for entry in entries]

        if explicit_identity is None:
            super().__init__(TYPE_TOKEN, name, None, opts)
        service = aws.lightsail.ContainerService(
            f"{name}-service",
            name=service_name,
            power=power,
            scale=scale,
            region=region,
            tags=args.get("tags"),
            # Honoured only when the service is created; afterwards the puller role
            # resource below keeps the role as asked, so the provider's view of it is
            # ignored (it would otherwise show a change it can never make).
            private_registry_access={"ecr_image_puller_role": {"is_active": access}},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                ignore_changes=["privateRegistryAccess"],
                # Pulumi imports only while the service is not yet in the stack's state.
                import_=service_name if adopt else None,
            ),
        )
        role = PullerRole(
            f"{name}-puller-role",
            region=region,
            service_name=service_name,
            active=access,
            timeout_seconds=timeout,
            identity=identity,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        grants: list[pulumi.Resource] = [
            resource
            for entry, grant in declared
            for resource in book.grant(
                entry, grant, self, name, role.principal_arn, identity, provider
            )
        ]

        if containers:
            aws.lightsail.ContainerServiceDeploymentVersion(
                f"{name}-deployment",
                service_name=service.name,
                region=region,
                containers=[
                    aws.lightsail.ContainerServiceDeploymentVersionContainerArgs(**c)
                    for c in containers
                ],
                public_endpoint=(
                    aws.lightsail.ContainerServiceDeploymentVersionPublicEndpointArgs(
                        container_name=public_endpoint["container_name"],
                        container_port=public_endpoint["container_port"],
                        health_check=aws.lightsail.ContainerServiceDeploymentVersionPublicEndpointHealthCheckArgs(
                            **public_endpoint["health_check"]
                        ),
                    )
                    if public_endpoint
                    else None
                ),
                # The images pull only once every grant is written.
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[role, *grants]
                ),
            )

        self.service_name = service.name
        self.service_arn = service.arn
        self.url = service.url
        self.principal_arn = role.principal_arn
        self.image_uri_prefixes = pulumi.Output.from_input(prefixes)
        self.operator_policy = pulumi.Output.from_input(
            operator_policy(
                repository_arns,
                bool(containers),
                identity.assumed_role_arns(),
                diagnosis=True,
            )
        )
        self.register_outputs(
            {
                "service_name": self.service_name,
                "service_arn": self.service_arn,
                "url": self.url,
                "principal_arn": self.principal_arn,
                "image_uri_prefixes": self.image_uri_prefixes,
                "operator_policy": self.operator_policy,
            }
        )
