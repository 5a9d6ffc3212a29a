"""Adopting a container service made outside Pulumi, changing nothing but its puller role.

Since Pulumi 3.174 an ``import`` reads the live resource and then diffs the program's
goal against it: any difference is applied by the first `pulumi up`. A service made by
hand with power micro, scale 2 and tags would be resized and lose its tags; a disabled
one would be enabled. So before anything is registered, the live service is compared
with what the stack asks for, and any difference stops the run, field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError


@dataclass(frozen=True)
class ServiceGoal:
    """What the stack asks of the container service, in the fields an update would touch."""

    name: str
    region: str
    power: str
    scale: int
    tags: Mapping[str, str]


def live_tags(service: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in service.get("tags") or []}


def check_adoptable(live: Mapping[str, Any] | None, goal: ServiceGoal) -> None:
    """Refuse an adoption that would change the live service (or find nothing to adopt)."""
    if live is None:
        raise ConfigurationError(
            f"adoptExistingService is on, but no Lightsail container service named "
            f"{goal.name!r} exists in {goal.region}, so there is nothing to adopt and nothing "
            "was changed. To adopt one, check serviceName and aws:region. If this stack "
            "already adopted its service and you renamed it (or you want a new one), set "
            "adoptExistingService to false: it matters only for the first `pulumi up`"
        )
    differences = []
    if live.get("power") != goal.power:
        differences.append(
            f"power is {live.get('power')!r} live, {goal.power!r} in the stack "
            f"(pulumi config set power {live.get('power')})"
        )
    if live.get("scale") != goal.scale:
        differences.append(
            f"scale is {live.get('scale')!r} live, {goal.scale!r} in the stack "
            f"(pulumi config set scale {live.get('scale')})"
        )
    tags = live_tags(live)
    if tags != dict(goal.tags):
        differences.append(
            f"tags are {tags!r} live, {dict(goal.tags)!r} in the stack (set `tags` to the "
            "live tags, including aws:defaultTags, to keep them)"
        )
    if live.get("isDisabled"):
        differences.append(
            "isDisabled is true live; the component keeps a service enabled (enable it "
            f"first: aws lightsail update-container-service --service-name {goal.name} "
            f"--no-is-disabled --region {goal.region}, if that is what you want)"
        )
    domains = live.get("publicDomainNames") or {}
    if domains:
        differences.append(
            f"publicDomainNames are {dict(domains)!r} live; the component sets none, so the "
            "import would detach them (keep managing this service's domains elsewhere, "
            "or detach them first if that is what you want)"
        )
    if differences:
        raise ConfigurationError(
            f"adopting container service {goal.name!r} in {goal.region} would change it, since "
            "Pulumi applies the stack's settings right after an import; nothing was changed. "
            "Make the stack match the live service: " + "; ".join(differences)
        )
