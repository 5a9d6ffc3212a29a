"""Policy packs as the engine runs them: requests shaped as the engine sends them, and a
pack served in this process for the emulated engine.

The real engine marshals a resource's properties with unknowns kept (the
``04da6b54-...`` sentinel) and secrets kept (the secret signature object), names the
resource's provider with that provider's own properties, and calls ``Analyze`` for each
resource before its step, ``AnalyzeStack`` once the whole stack is known. The same
requests go to the pack's own process over gRPC in the end-to-end test; here, so that
the pack sees the emulated cloud (which lives in this process), the emulated engine
hands them to the pulumi-policy SDK's own analyzer servicer, the code that answers
them in a pack's process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.output import Unknown as SdkUnknown
from pulumi.runtime import proto
from pulumi.runtime.rpc import UNKNOWN as UNKNOWN_WIRE

# The secret signature of Pulumi's wire format (a property that is a secret).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

LEVELS = {
    proto.ADVISORY: "advisory",
    proto.MANDATORY: "mandatory",
    proto.REMEDIATE: "remediate",
    proto.DISABLED: "disabled",
}


class Unknown:
    """A value the engine does not know yet, in the properties handed to ``struct``."""


UNKNOWN = Unknown()


@dataclass(frozen=True)
class Secret:
    """A secret value, in the properties handed to ``struct``."""

    value: Any


def wire(value: Any) -> Any:
    """A property value in Pulumi's wire form (unknowns and secrets marked); the SDK's
    own unknowns (a preview's planned values) and wire secrets are taken as they are."""
    if isinstance(value, (Unknown, SdkUnknown)):
        return UNKNOWN_WIRE
    if isinstance(value, Secret):
        return {_SIG_KEY: _SECRET_SIG, "value": wire(value.value)}
    if isinstance(value, Mapping):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [wire(v) for v in value]
    return value


def struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    """Properties as the engine marshals them for a pack (``MarshalOptions{KeepUnknowns,
    KeepSecrets, SkipInternalKeys}``): a top-level key that starts with ``__`` (a dynamic
    resource's ``__provider``, for one) is internal and not sent; nested ones are."""
    message = struct_pb2.Struct()
    message.update(wire({k: v for k, v in properties.items() if not str(k).startswith("__")}))
    return message


@dataclass(frozen=True)
class ProviderRef:
    """A resource's provider as the engine describes it to a pack."""

    type: str
    urn: str
    name: str
    properties: Mapping[str, Any]

    def message(self) -> Any:
        return proto.AnalyzerProviderResource(
            type=self.type, urn=self.urn, name=self.name, properties=struct(self.properties)
        )


def default_aws_provider(
    stack: str,
    project: str,
    config: Mapping[str, Any],
    secret_keys: Collection[str] = (),
    version: str | None = None,
) -> ProviderRef:
    """The default AWS provider as the engine registers it: its properties are the stack's
    ``aws:`` config as text, a secret one (in ``secret_keys``, or a ``Secret``) still
    secret, plus the ``version`` the program's pulumi_aws asks for (the installed one
    unless given), which also names it: ``default_7_51_1``."""
    version = version or installed_version("pulumi_aws")
    properties: dict[str, Any] = {}
    for key, value in config.items():
        if not key.startswith("aws:"):
            continue
        secret = isinstance(value, Secret) or key in secret_keys
        value = value.value if isinstance(value, Secret) else value
        text = value if isinstance(value, str) else json.dumps(value)
        properties[key.split(":", 1)[1]] = Secret(text) if secret else text
    properties["version"] = version
    name = default_provider_name(version)
    urn = f"urn:pulumi:{stack}::{project}::pulumi:providers:aws::{name}"
    return ProviderRef("pulumi:providers:aws", urn, name, properties)


def default_provider_name(version: str) -> str:
    """``default`` and the version's parts, as the engine names a default provider (a
    name cannot hold dashes or dots): 7.51.1 is ``default_7_51_1``."""
    core, _, build = version.partition("+")
    release, _, pre = core.partition("-")
    parts = [
        *release.split("."),
        *(pre.split(".") if pre else ()),
        *(build.split(".") if build else ()),
    ]
    return "_".join(["default", *(re.sub(r"\W", "_", part) for part in parts)])


def _options(parent: str) -> Any:
    return proto.AnalyzerResourceOptions(
        parent=parent, customTimeouts=proto.AnalyzerResourceOptions.CustomTimeouts()
    )


def analyze_request(
    urn: str,
    properties: Mapping[str, Any] | struct_pb2.Struct,
    provider: ProviderRef | None = None,
    parent: str = "",
) -> Any:
    """``Analyze`` for one resource: its type and name come from its URN."""
    resource_type, name = _type_and_name(urn)
    return proto.AnalyzeRequest(
        type=resource_type,
        urn=urn,
        name=name,
        properties=properties if isinstance(properties, struct_pb2.Struct) else struct(properties),
        options=_options(parent),
        provider=provider.message() if provider else None,
    )


@dataclass(frozen=True)
class StackResource:
    """One resource of ``AnalyzeStack``: its outputs (or planned values) and relations."""

    urn: str
    properties: Mapping[str, Any] | struct_pb2.Struct
    provider: ProviderRef | None = None
    parent: str = ""
    dependencies: tuple[str, ...] = ()


def analyze_stack_request(resources: Sequence[StackResource]) -> Any:
    messages = []
    for resource in resources:
        resource_type, name = _type_and_name(resource.urn)
        properties = resource.properties
        messages.append(
            proto.AnalyzerResource(
                type=resource_type,
                urn=resource.urn,
                name=name,
                properties=(
                    properties if isinstance(properties, struct_pb2.Struct) else struct(properties)
                ),
                options=_options(resource.parent),
                provider=resource.provider.message() if resource.provider else None,
                parent=resource.parent,
                dependencies=list(resource.dependencies),
            )
        )
    return proto.AnalyzeStackRequest(resources=messages)


def configure_request(config: Mapping[str, Mapping[str, Any] | str], info: Any) -> Any:
    """``Configure`` as the engine sends it, from the pack's ``GetAnalyzerInfo`` answer
    (``info``) and the policy config file's content (``config``: per policy, or ``all``,
    a level or an object of properties that may hold ``enforcementLevel``).

    The engine reconciles the two before it sends anything: every policy of the pack gets
    its own level and its schema's defaults, the pack's initial config goes over them,
    then the file's. A policy the file gives only properties keeps its level (the wire's
    default level, 0, would be advisory)."""
    levels = {name: value for value, name in LEVELS.items()}
    reconciled: dict[str, tuple[int | None, dict[str, Any]]] = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        defaults = {k: v["default"] for k, v in schema.items() if "default" in v}
        reconciled[policy.name] = (policy.enforcementLevel, defaults)

    def apply(given: Mapping[str, tuple[int | None, dict[str, Any]]]) -> None:
        every = given.get("all")
        if every is not None and every[0] is not None:
            for name, (_, properties) in list(reconciled.items()):
                reconciled[name] = (every[0], properties)
        for name, (level, properties) in given.items():
            old_level, old_properties = reconciled.get(name, (None, {}))
            reconciled[name] = (
                old_level if level is None else level,
                {**old_properties, **properties},
            )

    apply(
        {
            name: (value.enforcementLevel, json_format.MessageToDict(value.properties))
            for name, value in info.initialConfig.items()
        }
    )
    from_file: dict[str, tuple[int | None, dict[str, Any]]] = {}
    for policy, value in config.items():
        settings = {"enforcementLevel": value} if isinstance(value, str) else dict(value)
        level = settings.pop("enforcementLevel", None)
        from_file[policy] = (None if level is None else levels[level], settings)
    apply(from_file)

    request = proto.ConfigureAnalyzerRequest()
    for name, (level, properties) in reconciled.items():
        if level is None:
            raise ValueError(f"policy {name}: the pack has no such policy and no level is given")
        entry = request.policyConfig[name]
        entry.enforcementLevel = level
        entry.properties.update(properties)
    return request


def _type_and_name(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    return parts[2].split("$")[-1], parts[3]


# --- what a pack answered ------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    message: str


def violations(response: Any, urn: str = "") -> list[Violation]:
    """The diagnostics of an answer; for ``Analyze``, the engine files one without a URN
    under the resource analyzed (``urn``)."""
    return [
        Violation(d.policyName, LEVELS.get(d.enforcementLevel, "?"), d.urn or urn, d.message)
        for d in response.diagnostics
    ]


def not_applicable(response: Any) -> dict[str, str]:
    return {n.policy_name: n.reason for n in response.not_applicable}


# --- a pack served in this process ---------------------------------------------------


class InProcessPack:
    """The pulumi-policy SDK's analyzer servicer for ``policies``, called directly.

    It is the object a pack's process serves over gRPC (``PolicyPack`` builds it, then
    blocks); its class is private to the SDK, so a change there fails here, loudly."""

    def __init__(
        self,
        name: str,
        policies: list[Any],
        config: Mapping[str, Mapping[str, Any] | str] | None = None,
    ) -> None:
        from pulumi_policy import EnforcementLevel
        from pulumi_policy.policy import _PolicyAnalyzerServicer

        self.servicer = _PolicyAnalyzerServicer(name, "0.0.1", policies, EnforcementLevel.ADVISORY)
        if config:
            info = self.servicer.GetAnalyzerInfo(None, None)
            self.servicer.Configure(configure_request(config, info), None)
        self.analyzed: list[str] = []
        """The URN of every resource analyzed, in order (a stack analysis adds "stack")."""
        self.not_applicable: dict[str, dict[str, str]] = {}
        """By URN, the last answer's policies that did not apply, with their reasons."""

    def analyze(self, request: Any) -> list[Violation]:
        self.analyzed.append(request.urn)
        answer = self.servicer.Analyze(request, None)
        self.not_applicable[request.urn] = not_applicable(answer)
        return violations(answer, request.urn)

    def analyze_stack(self, request: Any) -> list[Violation]:
        self.analyzed.append("stack")
        return violations(self.servicer.AnalyzeStack(request, None))
