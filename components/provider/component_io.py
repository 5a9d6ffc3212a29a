"""The component through Construct: the schema's inputs to ``PrivateEcrContainerServiceArgs``,
the component's outputs back to the engine.

Every input goes through the very checks a Python program's inputs go through (the
component's own ``check_inputs``), before anything is registered; an error names the
schema's key, as the consumer wrote it in TypeScript, Go or YAML.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.errors import InputPropertiesError, InputPropertyError, InputPropertyErrorDetails
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import ConstructRequest, ConstructResponse
from pulumi.runtime import rpc

from ..aws.identity import AwsIdentity, SettingError, SettingSource
from ..container_service import PrivateEcrContainerService, PrivateEcrContainerServiceArgs
from ..program.program_end import CONSTRUCTING
from ..rules.errors import ConfigurationError, InputErrors, Path
from ..rules.stack_config import closest
from .values import is_unknown, plain

INPUTS = {
    "serviceName": "service_name",
    "region": "region",
    "repositories": "repositories",
    "power": "power",
    "scale": "scale",
    "privateRegistryAccess": "private_registry_access",
    "tags": "tags",
    "containers": "containers",
    "publicEndpoint": "public_endpoint",
    "pullerRoleTimeoutSeconds": "puller_role_timeout_seconds",
    "adoptExistingService": "adopt_existing_service",
    "awsIdentity": "aws_identity",
}
"""Each input of the schema, and the argument of the component it is."""

OUTPUTS = {
    "serviceName": "service_name",
    "serviceArn": "service_arn",
    "url": "url",
    "principalArn": "principal_arn",
    "imageUriPrefixes": "image_uri_prefixes",
    "operatorPolicy": "operator_policy",
}
"""Each output of the schema, and the component's attribute it is."""

# The public endpoint's health check path, as the schema spells it and the component does.
_ENDPOINT_KEYS = {"container": "container", "port": "port", "healthCheckPath": "health_check_path"}


def component_args(
    inputs: Mapping[str, PropertyValue], aws_region: str | None
) -> PrivateEcrContainerServiceArgs:
    """The component's arguments from the schema's inputs; ``aws_region``: the stack's
    ``aws:region``, taken when ``region`` is not given."""
    unknown = sorted(set(inputs) - set(INPUTS))
    if unknown:
        near = closest(unknown[0], INPUTS)
        raise InputPropertyError(
            unknown[0],
            "not an input of PrivateEcrContainerService; "
            + (f"did you mean {near!r}? " if near else "")
            + f"it takes {', '.join(INPUTS)}",
        )
    args: dict[str, Any] = {}
    for key, value in inputs.items():
        given = plain(value)
        if _holds_unknown(given):
            raise InputPropertyError(
                key,
                "must be known when the program runs (it decides which resources exist and "
                "what `pulumi preview` shows): give a value, not another resource's output",
            )
        if given is None:
            continue
        args[INPUTS[key]] = given
    if "public_endpoint" in args and isinstance(args["public_endpoint"], Mapping):
        args["public_endpoint"] = {
            _ENDPOINT_KEYS.get(k, k): v for k, v in args["public_endpoint"].items()
        }
    if "aws_identity" in args:
        args["aws_identity"] = identity_of(args["aws_identity"])
    if "region" not in args:
        if not aws_region:
            raise InputPropertyError(
                "region",
                "no Region: give `region`, or set the stack's Region with "
                "`pulumi config set aws:region <region>`",
            )
        args["region"] = aws_region
    return args  # type: ignore[return-value]


# The AWS provider's settings an identity is made of; the keys it refuses are let through
# to its parser, whose refusal says how to give credentials instead.
_IDENTITY_KEYS = (
    "profile", "assumeRoles", "assumeRole", "sharedConfigFiles", "sharedCredentialsFiles",
    "stsRegion", "endpoints", "accessKey", "secretKey", "token", "assumeRoleWithWebIdentity",
)  # fmt: skip


AWS_IDENTITY_INPUT = SettingSource(
    "awsIdentity.", "take {name} out of the component's inputs", "set {name} to {value}"
)
"""The component's ``awsIdentity`` input, whose settings are the AWS provider's."""


def identity_of(given: Any) -> AwsIdentity:
    """``awsIdentity``, written with the AWS provider's setting names, as the component's
    ``AwsIdentity``: parsed by the same code that reads a stack's ``aws:`` config, so the
    same settings mean the same identity in every language."""
    if not isinstance(given, Mapping):
        raise InputPropertyError(
            "awsIdentity", f"is {given!r}; give an object such as {{profile: prod}}"
        )
    unknown = sorted(set(given) - set(_IDENTITY_KEYS))
    if unknown:
        raise InputPropertyError(
            f"awsIdentity.{unknown[0]}",
            "not a setting of an AWS identity; it takes " + ", ".join(_IDENTITY_KEYS[:7]),
        )

    def setting(key: str) -> str | None:
        value = given.get(key)
        # The parser takes settings as Pulumi hands config over: text, lists and objects as JSON.
        return value if value is None or isinstance(value, str) else json.dumps(value)

    try:
        return AwsIdentity.from_provider_settings(setting, AWS_IDENTITY_INPUT)
    except SettingError as exc:
        raise InputPropertyError(f"awsIdentity.{exc.setting}", str(exc)) from None


def _holds_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_holds_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_unknown(v) for v in value)
    return False


async def construct(request: ConstructRequest) -> ConstructResponse:
    """Build the component as the consumer's program asked, and hand back its outputs."""
    args = component_args(request.inputs, pulumi.Config("aws").get("region"))
    token = CONSTRUCTING.set(True)
    try:
        component = PrivateEcrContainerService(request.name, args, request.options)
    except ConfigurationError as exc:
        raise input_error(exc) from None
    finally:
        CONSTRUCTING.reset(token)
    urn = await component.urn.future()
    state = await _state_of(component)
    return ConstructResponse(urn=str(urn), state=state, state_dependencies={})


def input_error(error: ConfigurationError) -> Exception:
    """The error the engine shows for inputs the component's checks refused: each put on
    the schema's key it is about (``containers[0].command``), from the path the check
    gave, several at once when several inputs are wrong."""
    problems = error.errors if isinstance(error, InputErrors) else [error]
    located = [(schema_path(problem.path), str(problem)) for problem in problems]
    if len(located) == 1 and located[0][0]:
        return InputPropertyError(*located[0])
    details: list[InputPropertyErrorDetails] = [
        {"property_path": path, "reason": reason} for path, reason in located if path
    ]
    return InputPropertiesError(str(error), details or None)


_SCHEMA_KEYS = {argument: key for key, argument in INPUTS.items()}
_ENDPOINT_SCHEMA_KEYS = {field: key for key, field in _ENDPOINT_KEYS.items()}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def schema_path(path: Path) -> str:
    """A component argument's path as a property path of the schema: the schema's key
    (camelCase), then ``[index]``, ``.field``, or ``["key"]`` for a map key that is no
    plain name (a tag ``cost-center``). "" for no path."""
    if not path:
        return ""
    head, *rest = path
    text = _SCHEMA_KEYS.get(str(head), str(head))
    for part in rest:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        if head == "public_endpoint":
            part = _ENDPOINT_SCHEMA_KEYS.get(part, part)
        text += f".{part}" if _PLAIN_KEY.fullmatch(part) else f"[{json.dumps(part)}]"
    return text


async def _state_of(component: PrivateEcrContainerService) -> dict[str, PropertyValue]:
    """The component's outputs as property values: secret where the output is, unknown in
    a preview where it is, each with the resources it depends on."""
    outputs = {key: getattr(component, attribute) for key, attribute in OUTPUTS.items()}
    dependencies: dict[str, list[pulumi.Resource]] = {}
    struct = await rpc.serialize_properties(outputs, dependencies)
    state = PropertyValue.unmarshal_map(struct)
    for key, resources in dependencies.items():
        urns = await asyncio.gather(*(r.urn.future() for r in resources))
        state[key] = state[key].with_dependencies({u for u in urns if u})
    return state
