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


def check_adoptable(
    live: Mapping[str, Any] | None, goal: ServiceGoal, approved: ServiceGoal | None = None
) -> None:
    """Refuse an adoption that would change the live service (or find nothing to adopt).

    ``approved``: what the stack asked when it last compared (None on the first run). The
    check is in the stack's state from then on, but the import may have failed after it;
    the check cannot tell, so it keeps comparing. A live service still as approved then
    passes, so that a later change of the stack's power, scale or tags applies to an
    adopted service; one changed since, unless the stack now asks exactly that, is
    refused as on a first adoption.
    """
    if live is None:
        if approved is not None:
            # Compared and passed before: an adopted service deleted since is the
            # service's own update to make, and a failed import finds nothing to import.
            return
        raise ConfigurationError(
            f"adoptExistingService is on, but no Lightsail container service named "
            f"{goal.name!r} exists in {goal.region}, so there is nothing to adopt and nothing "
            "was changed. To adopt one, check serviceName and aws:region. If this stack "
            "already adopted its service and you renamed it (or you want a new one), set "
            "adoptExistingService to false: it matters only for the first `pulumi up`"
        )
    differences = _differences(live, goal)
    if not differences or (approved is not None and not _differences(live, approved)):
        return
    since = (
        "; the live service changed since this stack last compared it. (If this stack "
        "adopted it already, its import done, and the stack's settings are to win, set "
        "adoptExistingService to false: it matters only until the service is in the stack)"
        if approved is not None
        else ""
    )
    raise ConfigurationError(
        f"adopting container service {goal.name!r} in {goal.region} would change it, since "
        "Pulumi applies the stack's settings right after an import; nothing was changed. "
        "Make the stack match the live service: " + "; ".join(differences) + since
    )


def _differences(live: Mapping[str, Any], goal: ServiceGoal) -> list[str]:
    """What an import of ``live`` followed by an update to ``goal`` would change."""
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
    return differences
