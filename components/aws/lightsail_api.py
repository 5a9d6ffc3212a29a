"""The Lightsail calls: the container service, its puller role, its deployments and logs."""

from __future__ import annotations

from typing import Any

from .sdk import AwsCallError, aws_call


def get_container_service(lightsail: Any, name: str) -> dict[str, Any] | None:
    """The container service as GetContainerServices describes it, or None if absent."""
    try:
        with aws_call("lightsail:GetContainerServices", f"container service {name}"):
            services = lightsail.get_container_services(serviceName=name)["containerServices"]
    except AwsCallError as exc:
        if exc.code in ("NotFoundException", "DoesNotExist"):
            return None
        raise
    return dict(services[0]) if services else None


def set_puller_role(lightsail: Any, name: str, active: bool) -> None:
    with aws_call("lightsail:UpdateContainerService", f"container service {name}"):
        lightsail.update_container_service(
            serviceName=name,
            privateRegistryAccess={"ecrImagePullerRole": {"isActive": active}},
        )


# --- Diagnosis reads (components.doctor) ---------------------------------------------
# Each is in the operator policy's diagnosis statements (DIAGNOSIS_LIGHTSAIL_ACTIONS).

_LOG_PAGES = 5


def get_container_service_deployments(lightsail: Any, name: str) -> list[dict[str, Any]]:
    """Every deployment Lightsail keeps for the service, in whatever order it answers."""
    with aws_call("lightsail:GetContainerServiceDeployments", f"container service {name}"):
        response = lightsail.get_container_service_deployments(serviceName=name)
    return [dict(d) for d in response.get("deployments", [])]


def get_container_log(
    lightsail: Any,
    name: str,
    container: str,
    start: Any,
    end: Any | None = None,
) -> list[dict[str, Any]]:
    """Log events of one container between ``start`` and ``end`` (datetimes), oldest first.

    Reads a few pages at most: the diagnosis shows the last lines, not the whole log.
    """
    request: dict[str, Any] = {"serviceName": name, "containerName": container, "startTime": start}
    if end is not None:
        request["endTime"] = end
    events: list[dict[str, Any]] = []
    resource = f"container {container} of container service {name}"
    for _ in range(_LOG_PAGES):
        with aws_call("lightsail:GetContainerLog", resource):
            page = lightsail.get_container_log(**request)
        events.extend(dict(e) for e in page.get("logEvents", []))
        token = page.get("nextPageToken")
        if not token:
            break
        request["pageToken"] = token
    return events
