"""Checks of the component's own inputs, made before anything is written to AWS.

Each check raises ConfigurationError with a sentence that says what is wrong and how
to fix it, so `pulumi preview` fails early instead of `pulumi up` failing half-way.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ConfigurationError

# Lightsail's own limits for a container service (CreateContainerService).
POWERS = ("nano", "micro", "small", "medium", "large", "xlarge")
MIN_SCALE, MAX_SCALE = 1, 20
_SERVICE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_service_name(name: Any) -> str:
    if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"serviceName {name!r} is not a valid Lightsail container service name: use 1 "
            "to 63 lowercase letters, digits and hyphens, with no hyphen at either end "
            "(for example 'orders-api')"
        )
    return name


def check_power(power: Any) -> str:
    if power not in POWERS:
        raise ConfigurationError(
            f"power {power!r} is not a Lightsail container power; use one of " + ", ".join(POWERS)
        )
    return str(power)


def check_scale(scale: Any) -> int:
    # bool is an int in Python; `scale: true` in YAML is a mistake, not 1 node.
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int)
        or not (MIN_SCALE <= scale <= MAX_SCALE)
    ):
        raise ConfigurationError(
            f"scale {scale!r} is out of range: a Lightsail container service runs "
            f"{MIN_SCALE} to {MAX_SCALE} nodes; give a whole number in that range"
        )
    return scale


def check_region(region: Any) -> str:
    if not isinstance(region, str) or not re.fullmatch(r"^[a-z]{2}(-[a-z]+)+-[0-9]$", region):
        raise ConfigurationError(
            f"region {region!r} is not an AWS Region code; set it with "
            "`pulumi config set aws:region us-east-1` (or the Region of your repositories)"
        )
    return region


def check_bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{key} must be true or false, got {value!r}")
    return value


def check_list(value: Any, key: str, example: str) -> list[Any]:
    """A list input given as a single value (a common YAML slip) is refused, not split."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ConfigurationError(
            f"{key} must be a list, got {type(value).__name__} {value!r}; for example {example}"
        )
    return list(value)


def check_timeout(seconds: Any) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (0 < seconds <= 3600)
    ):
        raise ConfigurationError(
            f"puller role timeout {seconds!r} must be a number of seconds above 0 and at "
            "most 3600 (AWS says the ARN takes about 30 s to appear; the default is 300)"
        )
    return float(seconds)


def check_plain_tags(tags: Any) -> dict[str, str]:
    """Tags as plain text, as adopting a service needs them to compare with the live ones."""
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise ConfigurationError(
            f"tags {tags!r} must be a map of text to text (not outputs) when adopting an "
            "existing service, so they can be compared with the live service's tags"
        )
    return dict(tags)
