"""The stack configuration keys of this program's project, as the language host gave them."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pulumi

from ..rules.stack_config import check_config_keys


def project_keys(project: str) -> list[str]:
    """Every key set under ``project:`` in the stack's configuration."""
    # The language host hands the configuration to the runtime's config map (and, in
    # older hosts, to the PULUMI_CONFIG environment variable); both are read.
    given = dict(pulumi.runtime.get_config_env())
    config_map = getattr(pulumi.runtime.config, "CONFIG", None)
    if config_map is not None:
        given.update(config_map.get())
    prefix = f"{project}:"
    return sorted({k[len(prefix) :] for k in given if k.startswith(prefix)})


def check_project_config(declared: Collection[str], required: str) -> None:
    """Stop the run before anything is written when a key of this project is not declared.

    ``required``: a key every stack sets. The runtime's config map is the SDK's own; if a
    later SDK keeps it elsewhere, the keys cannot be listed and typos would pass in
    silence: that is said, loudly, when the required key is set but not listed.
    """
    project = pulumi.get_project()
    keys = project_keys(project)
    if required not in keys and pulumi.Config().get(required) is not None:
        pulumi.log.warn(
            f"could not list this stack's {project}: config keys (the SDK's config map, "
            "pulumi.runtime.config.CONFIG, does not hold them), so misspelt keys are not "
            "checked in this run"
        )
        return
    check_config_keys(project, keys, declared)


def stack_value(key: str, default: Any) -> Any:
    """A key of this project's stack configuration as the YAML wrote it: a number, a
    boolean, a list or a map when its text reads as JSON (as Pulumi hands them over),
    else the text itself; ``default`` when it is not set.

    The component's own checks then judge it and name the key with what it takes, the
    same words a Python program's arguments get (Pulumi's typed getters would refuse
    `repositories: team/app` as "not a valid 'JSON object'").
    """
    text = pulumi.Config().get(key)
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return text
