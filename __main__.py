"""The stack: one Lightsail container service with pull access to private ECR repositories.

Everything comes from stack configuration (see Pulumi.yaml for every key, and
Pulumi.example.yaml for a filled-in stack); the Region is the provider's `aws:region`.
"""

import pulumi

from components import PrivateEcrContainerService, PrivateEcrContainerServiceArgs
from components.program.stack_config import check_project_config

# Every key this program reads (Pulumi.yaml declares the typed ones and documents the
# object-valued ones): any other key of the project is a typo, refused before any write.
KEYS = (
    "serviceName",
    "power",
    "scale",
    "repositories",
    "privateRegistryAccess",
    "adoptExistingService",
    "tags",
    "containers",
    "publicEndpoint",
)
check_project_config(KEYS, required="serviceName")

config = pulumi.Config()
args: PrivateEcrContainerServiceArgs = {
    "service_name": config.require("serviceName"),
    "region": pulumi.Config("aws").require("region"),
    "power": config.get("power", "nano"),
    "scale": config.get_int("scale", 1),
    "repositories": config.get_object("repositories") or [],
    "private_registry_access": config.get_bool("privateRegistryAccess", True),
    "tags": config.get_object("tags") or {},
    "containers": config.get_object("containers") or [],
    "adopt_existing_service": config.get_bool("adoptExistingService", False),
}
endpoint = config.get_object("publicEndpoint")
if endpoint:
    args["public_endpoint"] = endpoint

service = PrivateEcrContainerService(args["service_name"], args)

pulumi.export("serviceName", service.service_name)
pulumi.export("serviceArn", service.service_arn)
pulumi.export("url", service.url)
pulumi.export("pullerRolePrincipalArn", service.principal_arn)
pulumi.export("imageUriPrefixes", service.image_uri_prefixes)
pulumi.export("operatorPolicy", service.operator_policy)
