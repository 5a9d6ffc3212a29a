"""Property values as the engine sends them, and the plain values the project's code takes.

A provider that accepts secrets gets them marked (a secret identity, an external ID);
the project's resource code works on plain dicts, as the dynamic provider host gives
them. These conversions unwrap on the way in and mark again on the way out: an output is
secret wherever the same key was secret in what the engine sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime import rpc

UNKNOWN: Any = Computed()
"""A value the engine does not know yet (a preview)."""
WIRE_UNKNOWN = rpc.UNKNOWN
"""An unknown on the wire. The SDK's PropertyValue (3.272) reads it as a plain string and
cannot marshal its own ``Computed``: the conversions below stand in for both."""


def is_unknown(value: Any) -> bool:
    return isinstance(value, Computed) or value == WIRE_UNKNOWN


def plain(value: PropertyValue, unknown: Any = UNKNOWN) -> Any:
    """The value without secret markers; unknowns as ``unknown``; whole numbers as int
    (the AWS APIs take integers)."""
    inner = value.value
    if is_unknown(inner):
        return unknown
    if isinstance(inner, float) and inner.is_integer():
        return int(inner)
    if isinstance(inner, Mapping):
        return {k: plain(v, unknown) for k, v in inner.items()}
    if isinstance(inner, Sequence) and not isinstance(inner, str):
        return [plain(v, unknown) for v in inner]
    return inner


def plain_map(values: Mapping[str, PropertyValue] | None, unknown: Any = UNKNOWN) -> dict[str, Any]:
    return {k: plain(v, unknown) for k, v in (values or {}).items()}


def property_value(value: Any, secret: bool = False) -> PropertyValue:
    if isinstance(value, PropertyValue):
        return value.with_secret(value.is_secret or secret)
    if is_unknown(value):
        converted = PropertyValue(WIRE_UNKNOWN)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        converted = PropertyValue(value)
    elif isinstance(value, (int, float)):
        converted = PropertyValue(float(value))
    elif isinstance(value, dict):
        converted = PropertyValue({str(k): property_value(v) for k, v in value.items()})
    elif isinstance(value, (list, tuple)):
        converted = PropertyValue([property_value(v) for v in value])
    else:
        converted = PropertyValue(str(value))
    return converted.with_secret(secret) if secret else converted


def secret_keys(*sources: Mapping[str, PropertyValue] | None) -> set[str]:
    """The top-level keys holding a secret anywhere in any of ``sources``."""
    return {k for source in sources for k, v in (source or {}).items() if v.contains_secret()}


def outputs_of(
    plain_outputs: Mapping[str, Any], *sources: Mapping[str, PropertyValue] | None
) -> dict[str, PropertyValue]:
    """Outputs as property values, secret wherever the same key was secret in a source
    (the inputs, or the state being read): a secret input stays secret."""
    secret = secret_keys(*sources)
    return {k: property_value(v, k in secret) for k, v in plain_outputs.items()}
