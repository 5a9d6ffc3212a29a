"""The container service's ECR image puller role: make its state match, wait for its ARN.

`aws.lightsail.ContainerService` sends ``privateRegistryAccess`` only when it creates a
service, so a service that already exists (imported, made by hand, or switched later)
is activated or deactivated here, through UpdateContainerService. After activation the
role's principal ARN appears only after a while: poll with backoff, within a bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import lightsail_api, sdk, waits

# Real time whose sleep a cancelling provider ends (``waits``); a harness may swap it.
time: Any = waits.clock

DEFAULT_TIMEOUT_SECONDS = 300.0
# A GetContainerServices read is cheap, and every first `up` in a pipeline waits on this:
# the delay grows 2, 4, then stays at 5 s, so an ARN is noticed within 5 s of appearing
# (the AWS guide says it takes at least 30 s), with a bounded number of reads.
_FIRST_DELAY, _MAX_DELAY = 2.0, 5.0


class PullerRoleTimeout(RuntimeError):
    """The role was activated but its principal ARN never appeared."""


@dataclass(frozen=True)
class RoleState:
    active: bool
    principal_arn: str


def role_state(service: dict[str, Any]) -> RoleState:
    """Read ``privateRegistryAccess.ecrImagePullerRole`` from a GetContainerServices entry."""
    role = service.get("privateRegistryAccess", {}).get("ecrImagePullerRole", {})
    return RoleState(bool(role.get("isActive", False)), str(role.get("principalArn") or ""))


def current_role(lightsail: Any, service_name: str) -> RoleState:
    service = lightsail_api.get_container_service(lightsail, service_name)
    if service is None:
        raise sdk.AwsCallError(
            f"Lightsail container service {service_name!r} does not exist, so its ECR image "
            "puller role cannot be set; it may have been deleted outside Pulumi: run "
            "`pulumi refresh`, then `pulumi up` to create it again"
        )
    return role_state(service)


def ensure_puller_role(
    lightsail: Any,
    service_name: str,
    active: bool,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> str:
    """Make the role active (or not) as asked; return its principal ARN ('' when off).

    UpdateContainerService is called only when the state differs, so a re-run makes no
    write. When active, GetContainerServices is polled with growing delays until the
    ARN is there, and PullerRoleTimeout is raised after ``timeout`` seconds.
    """
    # Looked up at call time, not bound as defaults, so a test harness can slow or
    # speed time for the whole process without reaching into this function.
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    state = current_role(lightsail, service_name)
    if state.active != active:
        lightsail_api.set_puller_role(lightsail, service_name, active)
        if active:
            # A fresh activation gets a fresh role: never hand back an ARN read before it.
            state = RoleState(True, "")
    if not active:
        return ""

    started = clock()
    delay = _FIRST_DELAY
    polls = 0
    while not state.principal_arn:
        waited = clock() - started
        if waited >= timeout:
            raise PullerRoleTimeout(
                f"the ECR image puller role of Lightsail container service {service_name!r} "
                f"was activated, but no principal ARN appeared after {waited:.0f} s "
                f"({polls} checks); check the service in the Lightsail console, then run "
                "`pulumi up` again (it resumes waiting, it does not activate twice)"
            )
        sleep(min(delay, max(timeout - waited, 0.0)))
        delay = min(delay * 2, _MAX_DELAY)
        polls += 1
        state = current_role(lightsail, service_name)
    return state.principal_arn
