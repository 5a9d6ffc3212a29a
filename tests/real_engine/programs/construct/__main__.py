"""A consumer of the `lightsail-ecr` package: each service of the stack's `services` config
is a PrivateEcrContainerService that the package's provider builds (Construct), as a
TypeScript, Go or YAML program's generated SDK has it built; no code of the component
runs in this program."""

import pulumi

OUTPUTS = ("serviceName", "serviceArn", "url", "principalArn", "imageUriPrefixes", "operatorPolicy")


class PrivateEcrContainerService(pulumi.ComponentResource):
    """What `pulumi package add` generates, reduced to the call it makes."""

    def __init__(self, name: str, inputs: dict, opts: pulumi.ResourceOptions | None = None):
        props = {**dict.fromkeys(OUTPUTS), **inputs}
        super().__init__(
            "lightsail-ecr:index:PrivateEcrContainerService", name, props, opts, remote=True
        )


for inputs in pulumi.Config().require_object("services"):
    built = PrivateEcrContainerService(inputs["serviceName"], inputs)
    pulumi.export(f"{inputs['serviceName']}-principalArn", built.principalArn)
    pulumi.export(f"{inputs['serviceName']}-operatorPolicy", built.operatorPolicy)
