"""The benchmark's yardstick: the same resources as the real program, and nothing else.

One component of the same type, the container service, the puller role, and per
repository a grant finalizer, a fresh policy document, a policy resource and a
verification (with a constant document), with the same options and dependencies. It
reads no repository in the program and merges no policy there, so the difference
between the two programs' times is what the real program's own work (its AWS reads
and its merges) costs.
"""

import pulumi
import pulumi_aws as aws

from components.container_service import TYPE_TOKEN
from components.dynamic_providers import (
    FreshPolicyDocument,
    GrantFinalizer,
    GrantVerification,
    PullerRole,
)
from components.rules.policy import pull_statement, serialise, statement_sid

config = pulumi.Config()
service_name = config.require("serviceName")
region = pulumi.Config("aws").require("region")
repositories: list[str] = config.get_object("repositories") or []

PRINCIPAL = "arn:aws:iam::123456789012:role/trivial"
GRANTS = [{"service": service_name, "principal": PRINCIPAL}]
# As the fresh merge writes it into a repository without a policy, so that it is steady.
DOCUMENT = serialise(
    {"Version": "2008-10-17", "Statement": [pull_statement(service_name, PRINCIPAL)]}
)

component = pulumi.ComponentResource(TYPE_TOKEN, service_name)
service = aws.lightsail.ContainerService(
    f"{service_name}-service",
    name=service_name,
    power="nano",
    scale=1,
    region=region,
    tags={},
    private_registry_access={"ecr_image_puller_role": {"is_active": True}},
    opts=pulumi.ResourceOptions(parent=component, ignore_changes=["privateRegistryAccess"]),
)
role = PullerRole(
    f"{service_name}-puller-role",
    region=region,
    service_name=service_name,
    active=True,
    timeout_seconds=300,
    opts=pulumi.ResourceOptions(parent=component, depends_on=[service]),
)
for repository in repositories:
    finalizer = GrantFinalizer(
        f"{service_name}-grant-{repository}",
        region=region,
        repository=repository,
        sid=statement_sid(service_name),
        opts=pulumi.ResourceOptions(parent=component, depends_on=[role]),
    )
    document = FreshPolicyDocument(
        f"{service_name}-document-{repository}",
        region=region,
        repository=repository,
        grants=GRANTS,
        planned=DOCUMENT,
        missing=[],
        opts=pulumi.ResourceOptions(parent=component, depends_on=[finalizer]),
    )
    policy = aws.ecr.RepositoryPolicy(
        f"{service_name}-policy-{repository}",
        repository=repository,
        region=region,
        policy=document.policy,
        opts=pulumi.ResourceOptions(
            parent=component, depends_on=[finalizer], retain_on_delete=True
        ),
    )
    GrantVerification(
        f"{service_name}-verify-{repository}",
        region=region,
        repository=repository,
        grants=GRANTS,
        revision=document.revision,
        opts=pulumi.ResourceOptions(parent=component, depends_on=[policy]),
    )
component.register_outputs({})

pulumi.export("serviceName", service.name)
pulumi.export("serviceArn", service.arn)
pulumi.export("url", service.url)
pulumi.export("pullerRolePrincipalArn", role.principal_arn)
pulumi.export(
    "imageUriPrefixes",
    {r: f"123456789012.dkr.ecr.{region}.amazonaws.com/{r}" for r in repositories},
)
pulumi.export("operatorPolicy", "{}")
