"""What the pulumi-aws provider does for the resource types the program registers.

Each emulated provider makes the same AWS calls as the bridged terraform-provider-aws
resource, through boto3 (so they land in moto or the Lightsail emulator), including
its known limits: the container service's update never sends the puller role.
"""

from __future__ import annotations

from typing import Any, Protocol

import boto3


class EmulatedProvider(Protocol):
    replace_keys: frozenset[str]

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]: ...
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, id_: str, outputs: dict[str, Any]) -> None: ...
    def read(self, id_: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]: ...


def _lightsail(region: str) -> Any:
    return boto3.client("lightsail", region_name=region)


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


class ContainerServiceProvider:
    """aws.lightsail.ContainerService: the role is sent on create only."""

    replace_keys = frozenset({"name", "region"})

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        client = _lightsail(inputs["region"])
        client.create_container_service(
            serviceName=inputs["name"],
            power=inputs["power"],
            scale=int(inputs["scale"]),
            tags=_tags(inputs.get("tags")),
            privateRegistryAccess=inputs.get("privateRegistryAccess") or {},
        )
        return inputs["name"], self._outputs(inputs, client)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        client = _lightsail(news["region"])
        client.update_container_service(
            serviceName=id_,
            power=news["power"],
            scale=int(news["scale"]),
            isDisabled=bool(news.get("isDisabled", False)),
        )
        if news.get("tags"):
            client.tag_resource(resourceName=id_, tags=_tags(news["tags"]))
        return self._outputs(news, client)

    def delete(self, id_: str, outputs: dict[str, Any]) -> None:
        _lightsail(outputs["region"]).delete_container_service(serviceName=id_)

    def read(self, id_: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The live service as inputs and outputs, as an import reads it."""
        client = _lightsail(region)
        live = client.get_container_services(serviceName=id_)["containerServices"][0]
        role = live["privateRegistryAccess"]["ecrImagePullerRole"]
        inputs = {
            "name": id_,
            "power": live["power"],
            "scale": live["scale"],
            "region": region,
            "tags": {t["key"]: t["value"] for t in live.get("tags", [])},
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": role["isActive"]}},
        }
        return inputs, self._outputs(inputs, client)

    @staticmethod
    def _outputs(inputs: dict[str, Any], client: Any) -> dict[str, Any]:
        live = client.get_container_services(serviceName=inputs["name"])["containerServices"][0]
        return {
            **inputs,
            "arn": live["arn"],
            "url": live["url"],
            "principalArn": live["principalArn"],
            "privateRegistryAccess": live["privateRegistryAccess"],
        }


class RepositoryPolicyProvider:
    """aws.ecr.RepositoryPolicy: owns the whole document; delete wipes it."""

    replace_keys = frozenset({"repository", "region"})

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return inputs["repository"], self._write(inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        return self._write(news)

    def delete(self, id_: str, outputs: dict[str, Any]) -> None:
        boto3.client("ecr", region_name=outputs["region"]).delete_repository_policy(
            repositoryName=id_
        )

    def read(self, id_: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
        raise NotImplementedError("repository policies are not imported in these scenarios")

    @staticmethod
    def _write(inputs: dict[str, Any]) -> dict[str, Any]:
        ecr = boto3.client("ecr", region_name=inputs["region"])
        response = ecr.set_repository_policy(
            repositoryName=inputs["repository"], policyText=inputs["policy"]
        )
        return {**inputs, "registryId": response["registryId"]}


class DeploymentVersionProvider:
    """aws.lightsail.ContainerServiceDeploymentVersion: every change is a new version."""

    replace_keys = frozenset({"serviceName", "containers", "publicEndpoint", "region"})

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        client = _lightsail(inputs["region"])
        containers = {
            c["containerName"]: {
                "image": c["image"],
                "ports": c.get("ports") or {},
                "environment": c.get("environment") or {},
                **({"command": c["commands"]} if c.get("commands") else {}),
            }
            for c in inputs["containers"]
        }
        endpoint = inputs.get("publicEndpoint")
        kwargs: dict[str, Any] = {"serviceName": inputs["serviceName"], "containers": containers}
        if endpoint:
            kwargs["publicEndpoint"] = {
                "containerName": endpoint["containerName"],
                "containerPort": int(endpoint["containerPort"]),
                "healthCheck": endpoint.get("healthCheck") or {},
            }
        service = client.create_container_service_deployment(**kwargs)["containerService"]
        deployment = service["currentDeployment"]
        if deployment["state"] != "ACTIVE":
            # As the provider's waiter does, fail the resource when the deployment fails.
            raise RuntimeError(
                f"deployment {deployment['version']} of {inputs['serviceName']} ended "
                f"{deployment['state']}: the service could not pull its images"
            )
        version = str(deployment["version"])
        return f"{inputs['serviceName']}/{version}", {
            **inputs,
            "version": int(version),
            "state": deployment["state"],
        }

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("every change to a deployment version replaces it")

    def delete(self, id_: str, outputs: dict[str, Any]) -> None:
        # A deployment version cannot be deleted; the provider forgets it.
        return None

    def read(self, id_: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
        raise NotImplementedError("deployments are not imported in these scenarios")


PROVIDERS: dict[str, EmulatedProvider] = {
    "aws:lightsail/containerService:ContainerService": ContainerServiceProvider(),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": RepositoryPolicyProvider(),
    "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion": (
        DeploymentVersionProvider()
    ),
}
