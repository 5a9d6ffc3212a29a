"""What the pulumi-aws provider does for the resource types the program registers.

Each emulated provider makes the same AWS calls as the bridged terraform-provider-aws
resource, through boto3 (so they land in moto or the Lightsail emulator), including
its known limits: the container service's update never sends the puller role.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from boto3.session import Session


class EmulatedProvider(Protocol):
    """One resource type; ``aws`` is a session acting as the provider's identity."""

    replace_keys: frozenset[str]
    defaults: dict[str, Any]
    """What the provider assumes for an input the program leaves out."""

    def equivalent(self, key: str, stored: Any, goal: Any) -> bool:
        """Whether two different values of ``key`` mean the same to the provider."""
        ...

    def create(self, aws: Session, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]: ...
    def update(
        self, aws: Session, id_: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> dict[str, Any]: ...
    def delete(self, aws: Session, id_: str, outputs: dict[str, Any]) -> None: ...
    def read(
        self, aws: Session, id_: str, region: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None: ...


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


class ContainerServiceProvider:
    """aws.lightsail.ContainerService: the role is sent on create only."""

    replace_keys = frozenset({"name", "region"})
    defaults: dict[str, Any] = {"isDisabled": False, "publicDomainNames": {}, "tags": {}}

    def equivalent(self, key: str, stored: Any, goal: Any) -> bool:
        return False

    def create(self, aws: Session, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        client = aws.client("lightsail", region_name=inputs["region"])
        client.create_container_service(
            serviceName=inputs["name"],
            power=inputs["power"],
            scale=int(inputs["scale"]),
            tags=_tags(inputs.get("tags")),
            privateRegistryAccess=inputs.get("privateRegistryAccess") or {},
        )
        return inputs["name"], self._outputs(inputs, client)

    def update(
        self, aws: Session, id_: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> dict[str, Any]:
        client = aws.client("lightsail", region_name=news["region"])
        # As the bridged resource does: power, scale, isDisabled and domains are sent,
        # the puller role never is; tags are made equal to the goal's (extra ones go).
        client.update_container_service(
            serviceName=id_,
            power=news["power"],
            scale=int(news["scale"]),
            isDisabled=bool(news.get("isDisabled", False)),
            publicDomainNames=news.get("publicDomainNames") or {},
        )
        live = client.get_container_services(serviceName=id_)["containerServices"][0]
        stale = [t["key"] for t in live.get("tags", []) if t["key"] not in (news.get("tags") or {})]
        if stale:
            client.untag_resource(resourceName=id_, tagKeys=stale)
        if news.get("tags"):
            client.tag_resource(resourceName=id_, tags=_tags(news["tags"]))
        return self._outputs(news, client)

    def delete(self, aws: Session, id_: str, outputs: dict[str, Any]) -> None:
        aws.client("lightsail", region_name=outputs["region"]).delete_container_service(
            serviceName=id_
        )

    def read(
        self, aws: Session, id_: str, region: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The live service as inputs and outputs, as an import or a refresh reads it."""
        client = aws.client("lightsail", region_name=region)
        try:
            live = client.get_container_services(serviceName=id_)["containerServices"][0]
        except client.exceptions.NotFoundException:
            return None
        role = live["privateRegistryAccess"]["ecrImagePullerRole"]
        inputs = {
            "name": id_,
            "power": live["power"],
            "scale": live["scale"],
            "region": region,
            "tags": {t["key"]: t["value"] for t in live.get("tags", [])},
            "isDisabled": live.get("isDisabled", False),
            "publicDomainNames": live.get("publicDomainNames") or {},
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
    defaults: dict[str, Any] = {}

    def equivalent(self, key: str, stored: Any, goal: Any) -> bool:
        # The bridged resource compares policies as JSON documents, not as text.
        if key != "policy" or not isinstance(stored, str) or not isinstance(goal, str):
            return False
        try:
            return bool(json.loads(stored) == json.loads(goal))
        except json.JSONDecodeError:
            return False

    def create(self, aws: Session, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return inputs["repository"], self._write(aws, inputs)

    def update(
        self, aws: Session, id_: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> dict[str, Any]:
        return self._write(aws, news)

    def delete(self, aws: Session, id_: str, outputs: dict[str, Any]) -> None:
        aws.client("ecr", region_name=outputs["region"]).delete_repository_policy(
            repositoryName=id_
        )

    def read(
        self, aws: Session, id_: str, region: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The live document, as a refresh reads it (none: the resource is gone)."""
        ecr = aws.client("ecr", region_name=region)
        try:
            response = ecr.get_repository_policy(repositoryName=id_)
        except (
            ecr.exceptions.RepositoryPolicyNotFoundException,
            ecr.exceptions.RepositoryNotFoundException,
        ):
            return None
        inputs = {"repository": id_, "region": region, "policy": response["policyText"]}
        return inputs, {**inputs, "registryId": response["registryId"]}

    @staticmethod
    def _write(aws: Session, inputs: dict[str, Any]) -> dict[str, Any]:
        ecr = aws.client("ecr", region_name=inputs["region"])
        response = ecr.set_repository_policy(
            repositoryName=inputs["repository"], policyText=inputs["policy"]
        )
        return {**inputs, "registryId": response["registryId"]}


class DeploymentVersionProvider:
    """aws.lightsail.ContainerServiceDeploymentVersion: every change is a new version."""

    replace_keys = frozenset({"serviceName", "containers", "publicEndpoint", "region"})
    defaults: dict[str, Any] = {}

    def equivalent(self, key: str, stored: Any, goal: Any) -> bool:
        return False

    def create(self, aws: Session, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        client = aws.client("lightsail", region_name=inputs["region"])
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

    def update(
        self, aws: Session, id_: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> dict[str, Any]:
        raise AssertionError("every change to a deployment version replaces it")

    def delete(self, aws: Session, id_: str, outputs: dict[str, Any]) -> None:
        # A deployment version cannot be deleted; the provider forgets it.
        return None

    def read(
        self, aws: Session, id_: str, region: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The version ``<service>/<version>`` as a refresh reads it (none: it is gone)."""
        service_name, _, version = id_.rpartition("/")
        client = aws.client("lightsail", region_name=region)
        try:
            deployments = client.get_container_service_deployments(serviceName=service_name)
        except client.exceptions.NotFoundException:
            return None
        found = [d for d in deployments["deployments"] if str(d["version"]) == version]
        if not found:
            return None
        deployment = found[0]
        inputs: dict[str, Any] = {
            "serviceName": service_name,
            "region": region,
            "containers": [
                {
                    "containerName": name,
                    "image": c["image"],
                    "ports": c.get("ports") or {},
                    "environment": c.get("environment") or {},
                    **({"commands": c["command"]} if c.get("command") else {}),
                }
                for name, c in deployment["containers"].items()
            ],
        }
        endpoint = deployment.get("publicEndpoint")
        if endpoint:
            inputs["publicEndpoint"] = endpoint
        return inputs, {**inputs, "version": int(version), "state": deployment["state"]}


PROVIDERS: dict[str, EmulatedProvider] = {
    "aws:lightsail/containerService:ContainerService": ContainerServiceProvider(),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": RepositoryPolicyProvider(),
    "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion": (
        DeploymentVersionProvider()
    ),
}
