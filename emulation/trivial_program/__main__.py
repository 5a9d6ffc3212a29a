"""The benchmark's yardstick: the same resources as the real program, and nothing else.

One component of the same type, the container service, the puller role, and per
repository a policy resource (with a constant document) and a grant finalizer, with
the same options and dependencies. It reads no repository and merges no policy, so
the difference between the two programs' times is what the real program's own work
(its AWS reads and its merges) costs.
"""

import json

import pulumi
import pulumi_aws as aws

from components.container_service import TYPE_TOKEN
from components.dynamic_providers import GrantFinalizer, PullerRole
from components.policy import statement_sid

config = pulumi.Config()
service_name = config.require("serviceName")
region = pulumi.Config("aws").require("region")
repositories: list[str] = config.get_object("repositories") or []

DOCUMENT = json.dumps(
    {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Sid": statement_sid(service_name),
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/trivial"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
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
    policy = aws.ecr.RepositoryPolicy(
        f"{service_name}-policy-{repository}",
        repository=repository,
        region=region,
        policy=DOCUMENT,
        opts=pulumi.ResourceOptions(parent=component, depends_on=[role], retain_on_delete=True),
    )
    GrantFinalizer(
        f"{service_name}-grant-{repository}",
        region=region,
        repository=repository,
        sid=statement_sid(service_name),
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
