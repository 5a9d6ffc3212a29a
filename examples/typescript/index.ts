// One Lightsail container service granted pull access to a private ECR repository: the
// component from TypeScript, through the SDK that `pulumi package add` generated into
// sdks/lightsail-ecr. The provider checks the inputs and builds the component.
import * as pulumi from "@pulumi/pulumi";
import * as lightsailEcr from "@pulumi/lightsail-ecr";

const config = new pulumi.Config();
const serviceName = config.require("serviceName");

const service = new lightsailEcr.PrivateEcrContainerService(serviceName, {
    serviceName,
    repositories: [config.require("repository")],
});

export const principalArn = service.principalArn;
export const url = service.url;
