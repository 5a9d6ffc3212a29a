"""The stack: one Lightsail container service with pull access to private ECR repositories.

Everything comes from stack configuration (see Pulumi.yaml for every key, and
Pulumi.example.yaml for a filled-in stack); the Region is the provider's `aws:region`.
"""

import pulumi

from components import PrivateEcrContainerService, PrivateEcrContainerServiceArgs
from components.program.stack_config import check_project_config, stack_value

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
# Each value as the stack's YAML wrote it: the component checks it and names the key.
args: PrivateEcrContainerServiceArgs = {
    "service_name": config.require("serviceName"),
    "region": pulumi.Config("aws").require("region"),
    "power": stack_value("power", "nano"),
    "scale": stack_value("scale", 1),
    "repositories": stack_value("repositories", []),
    "private_registry_access": stack_value("privateRegistryAccess", True),
    "tags": stack_value("tags", {}),
    "containers": stack_value("containers", []),
    "adopt_existing_service": stack_value("adoptExistingService", False),
}
endpoint = stack_value("publicEndpoint", None)
if endpoint is not None:
    args["public_endpoint"] = endpoint

service = PrivateEcrContainerService(args["service_name"], args)

pulumi.export("serviceName", service.service_name)
pulumi.export("serviceArn", service.service_arn)
pulumi.export("url", service.url)
pulumi.export("pullerRolePrincipalArn", service.principal_arn)
pulumi.export("imageUriPrefixes", service.image_uri_prefixes)
pulumi.export("operatorPolicy", service.operator_policy)
