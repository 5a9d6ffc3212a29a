"""Checks of the component's own inputs, made before anything is written to AWS.

Each check raises ConfigurationError with a sentence that says what is wrong and how
to fix it, so `pulumi preview` fails early instead of `pulumi up` failing half-way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from .errors import ConfigurationError, Path
from .regions import is_known, nearest_region, why_unknown

# Lightsail's own limits for a container service (CreateContainerService).
POWERS = ("nano", "micro", "small", "medium", "large", "xlarge")
MIN_SCALE, MAX_SCALE = 1, 20
_SERVICE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_service_name(name: Any) -> str:
    if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"serviceName {name!r} is not a valid Lightsail container service name: use 1 "
            "to 63 lowercase letters, digits and hyphens, with no hyphen at either end "
            "(for example 'orders-api')",
            path=("service_name",),
        )
    return name


def check_power(power: Any) -> str:
    if power not in POWERS:
        raise ConfigurationError(
            f"power {power!r} is not a Lightsail container power; use one of " + ", ".join(POWERS),
            path=("power",),
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
            f"scale {scale!r} cannot be used: a Lightsail container service runs "
            f"{MIN_SCALE} to {MAX_SCALE} nodes; give a whole number in that range",
            path=("scale",),
        )
    return scale


def check_region(region: Any, known: Collection[str] = ()) -> str:
    """A Region code, and one of ``known`` (botocore's Regions) unless that is empty."""
    if isinstance(region, str) and is_known(region, known):
        return region
    near = nearest_region(region, known) if isinstance(region, str) else None
    fix = (
        f"did you mean {near}? Set it with `pulumi config set aws:region {near}`"
        if near
        else "set it with `pulumi config set aws:region us-east-1` (or the Region of your "
        "repositories)"
    )
    raise ConfigurationError(f"region {region!r} {why_unknown(region)}; {fix}", path=("region",))


def check_bool(value: Any, key: str, path: Path = ()) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{key} must be true or false, got {kind(value)} {value!r}", path=path
        )
    return value


def check_list(value: Any, key: str, example: str, path: Path = ()) -> list[Any]:
    """A list input given as a single value (a common YAML slip) is refused, not split."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ConfigurationError(
            f"{key} must be a list, got {kind(value)} {value!r}; for example {example}",
            path=path,
        )
    return list(value)


def check_timeout(seconds: Any) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not (0 < seconds <= 3600)
    ):
        raise ConfigurationError(
            f"pullerRoleTimeoutSeconds {seconds!r} must be a number of seconds above 0 and at "
            "most 3600 (AWS says the ARN takes about 30 s to appear; the default is 300)",
            path=("puller_role_timeout_seconds",),
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
            "existing service, so they can be compared with the live service's tags",
            path=("tags",),
        )
    return dict(tags)


# --- text values: environment, tags, command -------------------------------------------

# Lightsail's (and every AWS resource's) tag limits.
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256


def kind(value: Any) -> str:
    """What a value is, in the words of the YAML or JSON it was written in."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def is_deferred(value: Any) -> bool:
    """A value only Pulumi can resolve (an Output): passed on as it is, unchecked."""
    return hasattr(value, "apply") and hasattr(value, "future")


def as_text(value: Any, what: str, path: Path) -> str:
    """A value Lightsail takes as text (an environment variable, a tag, a word of a command).

    Whole numbers and booleans are taken as the text they were written as (``4`` as
    ``"4"``, ``true`` as ``"true"``): in YAML ``WORKERS: 4`` and ``DEBUG: true`` mean that
    text, and AWS would refuse the number after the service was already created. A
    decimal is refused: YAML has already rewritten it (``1.10`` reads as ``1.1``), so its
    text is lost; so are null, lists and maps, which have no text.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ConfigurationError(
            f"{what} is the decimal number {value!r}, which YAML and JSON may already have "
            "rewritten (1.10 reads as 1.1); Lightsail takes text: quote it as you mean it, "
            f'for example "{value!r}"',
            path=path,
        )
    raise ConfigurationError(
        f"{what} is {kind(value)} ({value!r}); it takes text (a whole number or true/false "
        "is taken as its text)",
        path=path,
    )


def check_text_map(value: Any, what: str, example: str, path: Path) -> dict[str, Any]:
    """A map of name to text (``environment``, ``tags``); a list of ``NAME=value`` strings,
    the other way some tools write environments, is refused with the map it meant."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        hint = ""
        if isinstance(value, list | tuple) and all(
            isinstance(item, str) and "=" in item for item in value
        ):
            pairs = (item.partition("=") for item in value)
            hint = "; here: {" + ", ".join(f"{k}: {v}" for k, _, v in pairs) + "}"
        raise ConfigurationError(
            f"{what} must be a map of name to text, as in {example}; got {kind(value)} "
            f"{value!r}{hint}",
            path=path,
        )
    result: dict[str, Any] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"{what} has the name {name!r}; each name must be non-empty text", path=path
            )
        result[name] = item if is_deferred(item) else as_text(item, f"{what} {name}", (*path, name))
    return result


def check_tags(tags: Any) -> Any:
    """The service's tags: a map of name to text (Outputs pass as they are), within AWS's
    limits; numbers and booleans as their text."""
    if is_deferred(tags):
        return tags
    checked = check_text_map(tags, "tags", "{team: orders}", ("tags",))
    if len(checked) > MAX_TAGS:
        raise ConfigurationError(
            f"tags has {len(checked)} tags; AWS takes at most {MAX_TAGS} on a resource",
            path=("tags",),
        )
    for name, value in checked.items():
        if len(name) > MAX_TAG_KEY or name.lower().startswith("aws:"):
            raise ConfigurationError(
                f"tags: the name {name!r} cannot be used: a tag name is 1 to {MAX_TAG_KEY} "
                "characters and does not start with 'aws:' (AWS keeps those for itself)",
                path=("tags", name),
            )
        if isinstance(value, str) and len(value) > MAX_TAG_VALUE:
            raise ConfigurationError(
                f"tags {name} is {len(value)} characters long; a tag value is at most "
                f"{MAX_TAG_VALUE}",
                path=("tags", name),
            )
    return checked
