"""The two dynamic resources: the puller role's state, and the grant finalizer.

Pulumi pickles a dynamic provider into the stack state and runs the *stored* copy on
later updates and on `pulumi destroy`. A class defined in an importable module is
stored by reference (this module's path and the class name), so:
- do not rename this module or these classes: existing stacks could no longer destroy;
- keep the methods self-contained: they get their boto3 clients themselves (built once
  per provider process and Region, ``aws_api.cached_client``), take the Region as an
  input and never credentials, and call the stable helpers they import;
- keep the Python minor version of a stack fixed (the pickle carries bytecode).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from components import aws_api, puller_role, revocation

_ROLE_KEYS = ("region", "service_name", "active")
_GRANT_KEYS = ("region", "repository", "sid")


def _changed(olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if olds.get(k) != news.get(k)]


class PullerRoleProvider(ResourceProvider):
    """Makes a service's ECR image puller role active or not, and reports its ARN."""

    # The provider holds no secrets; keep the state readable.
    serialize_as_secret_always = False

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        principal_arn = puller_role.ensure_puller_role(
            aws_api.cached_client("lightsail", props["region"]),
            props["service_name"],
            bool(props["active"]),
            timeout=float(props.get("timeout_seconds") or puller_role.DEFAULT_TIMEOUT_SECONDS),
        )
        return {
            "region": props["region"],
            "service_name": props["service_name"],
            "active": bool(props["active"]),
            "timeout_seconds": props.get("timeout_seconds"),
            "principal_arn": principal_arn,
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(f"{outs['region']}/{outs['service_name']}", outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = _changed(olds, news, _ROLE_KEYS)
        if not changed and self._drifted(olds):
            # Someone switched the role by hand (or it was re-created): put it right.
            changed = ["active"]
        replaces = [k for k in changed if k in ("region", "service_name")]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    @staticmethod
    def _drifted(olds: dict[str, Any]) -> bool:
        try:
            live = puller_role.current_role(
                aws_api.cached_client("lightsail", olds["region"]), olds["service_name"]
            )
        except Exception:  # a failed look is no reason to fail the diff
            return False
        if not olds.get("active"):
            return live.active
        return not live.active or live.principal_arn != olds.get("principal_arn")

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        service = aws_api.get_container_service(
            aws_api.cached_client("lightsail", props["region"]), props["service_name"]
        )
        if service is None:
            # The service was deleted outside Pulumi, and its role with it: a blank id
            # tells `pulumi refresh` that this resource is gone.
            return ReadResult("", {})
        live = puller_role.role_state(service)
        return ReadResult(
            id_, {**props, "active": live.active, "principal_arn": live.principal_arn}
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Nothing to undo: the role goes with the container service, and turning access
        # off is an update of this resource, not a delete.
        return None


class GrantFinalizerProvider(ResourceProvider):
    """On delete, removes one service's statement from a repository policy, nothing else."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {k: props[k] for k in _GRANT_KEYS}
        return CreateResult(f"{outs['region']}/{outs['repository']}/{outs['sid']}", outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = _changed(olds, news, _GRANT_KEYS)
        # A different repository or Sid is a different grant: the old one must go.
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        outcome = revocation.revoke_statement(
            aws_api.cached_client("ecr", props["region"]),
            props["repository"],
            props["region"],
            props["sid"],
        )
        pulumi.log.info(f"{props['repository']}: {outcome.value}")


class PullerRole(Resource, module="lightsail-ecr", name="PullerRole"):
    """The ECR image puller role of one container service, as a resource."""

    principal_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        region: pulumi.Input[str],
        service_name: pulumi.Input[str],
        active: pulumi.Input[bool],
        timeout_seconds: pulumi.Input[float] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            PullerRoleProvider(),
            name,
            {
                "region": region,
                "service_name": service_name,
                "active": active,
                "timeout_seconds": timeout_seconds,
                "principal_arn": None,
            },
            opts,
        )


class GrantFinalizer(Resource, module="lightsail-ecr", name="GrantFinalizer"):
    """Removes one service's pull statement from one repository when it is deleted."""

    def __init__(
        self,
        name: str,
        *,
        region: pulumi.Input[str],
        repository: pulumi.Input[str],
        sid: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            GrantFinalizerProvider(),
            name,
            {"region": region, "repository": repository, "sid": sid},
            opts,
        )
