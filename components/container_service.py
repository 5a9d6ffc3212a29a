"""The component: a Lightsail container service that may pull from private ECR repositories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .aws.identity import AwsIdentity, check_identity
from .dynamic_providers import identity_is_secret
from .program.aws_provider import check_no_explicit_provider, provider_for
from .program.plan import ServiceInputs, ServicePlan, check_inputs, plan_service
from .program.repository_policies import RepositoryPolicyBook
from .rules import deployment, type_tokens
from .rules.operator_policy import operator_policy
from .served_resources import AdoptionCheck, PullerRole

TYPE_TOKEN = type_tokens.COMPONENT


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
        # 1. Check the inputs: a bad one leaves no trace, not even an empty component.
        inputs = check_inputs(args)
        check_no_explicit_provider(opts)
        book = RepositoryPolicyBook.for_this_program()
        # 2. Connect as the AWS provider's identity.
        identity, provider = self._connect(name, args, inputs.region, book, opts)
        # 3. Plan: everything `pulumi preview` shows is decided here, before registering.
        plan = plan_service(book, inputs, args, identity, own_provider=provider is not None)
        # 4. Declare the resources the plan says.
        if not self._registered:
            super().__init__(TYPE_TOKEN, name, None, opts)
        service, role, gate = self._declare_service(name, inputs, args, plan, identity, provider)
        grants: list[pulumi.Resource] = [
            resource
            for entry, grant in plan.grants
            for resource in book.grant(
                entry, grant, self, name, role.principal_arn, identity, provider, gate
            )
        ]
        if plan.containers:
            self._declare_deployment(name, inputs.region, service, plan, provider, [role, *grants])
        # 5. Publish the outputs.
        self._publish(service, role, plan, identity)

    _registered = False

    def _connect(
        self,
        name: str,
        args: PrivateEcrContainerServiceArgs,
        region: str,
        book: RepositoryPolicyBook,
        opts: pulumi.ResourceOptions | None,
    ) -> tuple[AwsIdentity, pulumi.ProviderResource | None]:
        """The identity boto3 acts as, and the component's own provider when it has one;
        stops unless both act in one account (else the merged documents would carry one
        account's statements into the other's repositories)."""
        explicit = args.get("aws_identity")
        provider: pulumi.ProviderResource | None = None
        if explicit is not None:
            # Its own provider must exist (a child of this component) before the
            # provider's account can be asked for; registering the two writes nothing.
            identity = check_identity(explicit)
            super().__init__(TYPE_TOKEN, name, None, opts)
            self._registered = True
            provider = provider_for(identity, region, f"{name}-aws", self)
        else:
            identity = AwsIdentity.from_stack_config()
        book.check_same_account(identity, region, provider)
        return identity, provider

    def _declare_service(
        self,
        name: str,
        inputs: ServiceInputs,
        args: PrivateEcrContainerServiceArgs,
        plan: ServicePlan,
        identity: AwsIdentity,
        provider: pulumi.ProviderResource | None,
    ) -> tuple[aws.lightsail.ContainerService, PullerRole, list[pulumi.Resource]]:
        """The service, its puller role, and what everything else waits for (when
        adopting, the check that the live service matches the stack)."""
        before: list[pulumi.Resource] = []
        if plan.adopted_tags is not None:
            # The import waits for the check that the live service matches the stack.
            before.append(
                AdoptionCheck(
                    f"{name}-adoption",
                    region=inputs.region,
                    service_name=inputs.service_name,
                    power=inputs.power,
                    scale=inputs.scale,
                    tags=plan.adopted_tags,
                    identity=identity,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        service = aws.lightsail.ContainerService(
            f"{name}-service",
            name=inputs.service_name,
            power=inputs.power,
            scale=inputs.scale,
            region=inputs.region,
            # Checked: numbers and booleans as the text a YAML user meant.
            tags=inputs.tags,
            # Honoured only when the service is created; afterwards the puller role
            # resource below keeps the role as asked, so the provider's view of it is
            # ignored (it would otherwise show a change it can never make).
            private_registry_access={"ecr_image_puller_role": {"is_active": inputs.access}},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                ignore_changes=["privateRegistryAccess"],
                # Pulumi imports only while the service is not yet in the stack's state.
                import_=inputs.service_name if inputs.adopt else None,
                depends_on=before,
            ),
        )
        role = PullerRole(
            f"{name}-puller-role",
            region=inputs.region,
            service_name=inputs.service_name,
            active=inputs.access,
            timeout_seconds=inputs.timeout,
            identity=identity,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        return service, role, before

    def _declare_deployment(
        self,
        name: str,
        region: str,
        service: aws.lightsail.ContainerService,
        plan: ServicePlan,
        provider: pulumi.ProviderResource | None,
        after: list[pulumi.Resource],
    ) -> None:
        endpoint = plan.public_endpoint
        aws.lightsail.ContainerServiceDeploymentVersion(
            f"{name}-deployment",
            service_name=service.name,
            region=region,
            containers=[
                aws.lightsail.ContainerServiceDeploymentVersionContainerArgs(**c)
                for c in plan.containers
            ],
            public_endpoint=(
                aws.lightsail.ContainerServiceDeploymentVersionPublicEndpointArgs(
                    container_name=endpoint["container_name"],
                    container_port=endpoint["container_port"],
                    health_check=aws.lightsail.ContainerServiceDeploymentVersionPublicEndpointHealthCheckArgs(
                        **endpoint["health_check"]
                    ),
                )
                if endpoint
                else None
            ),
            # The images pull only once every grant is written and verified.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
        )

    def _publish(
        self,
        service: aws.lightsail.ContainerService,
        role: PullerRole,
        plan: ServicePlan,
        identity: AwsIdentity,
    ) -> None:
        self.service_name = service.name
        self.service_arn = service.arn
        self.url = service.url
        self.principal_arn = role.principal_arn
        self.image_uri_prefixes = pulumi.Output.from_input(plan.prefixes)
        text = operator_policy(
            plan.repository_arns,
            bool(plan.containers),
            identity.assumed_role_arns(),
            diagnosis=True,
        )
        # It names the roles the stack assumes: a stack that keeps them secret (a role
        # ARN set with `pulumi config set --secret --path`) must not export them in plain.
        self.operator_policy = (
            pulumi.Output.secret(text)
            if identity.assume_roles and identity_is_secret()
            else pulumi.Output.from_input(text)
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
