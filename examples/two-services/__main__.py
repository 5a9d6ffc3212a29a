"""Two Lightsail container services from the installed lightsail-ecr-access package.

`web` and `jobs` both pull from one shared repository, and each from one of its own.
Both grants to the shared repository land in its one policy, next to whatever other
teams wrote there; `pulumi destroy` takes out these two statements and nothing else.
"""

import pulumi
from lightsail_ecr_access import PrivateEcrContainerService

config = pulumi.Config()
region = pulumi.Config("aws").require("region")
prefix = config.require("servicePrefix")
shared = config.require("sharedRepository")
own = {"web": config.require("webRepository"), "jobs": config.require("jobsRepository")}

for role, repository in own.items():
    service = PrivateEcrContainerService(
        role,
        {
            "service_name": f"{prefix}-{role}",
            "region": region,
            "repositories": [shared, repository],
            "power": "nano",
            "scale": 1,
        },
    )
    pulumi.export(f"{role}ServiceName", service.service_name)
    pulumi.export(f"{role}Url", service.url)
    pulumi.export(f"{role}PullerRolePrincipalArn", service.principal_arn)
    pulumi.export(f"{role}ImageUriPrefixes", service.image_uri_prefixes)
    pulumi.export(f"{role}OperatorPolicy", service.operator_policy)
