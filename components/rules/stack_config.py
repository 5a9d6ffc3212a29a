"""Keys and fields a user may set, checked by name: a misspelt one is refused, not ignored.

Pulumi checks only the keys a project declares with a type; a key it does not know
(`repository` for `repositories`) is accepted and silently unused, so a service would be
created with no grant. Here every key of the project's namespace, and every field of a
container or of the public endpoint, must be one that is declared.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from .errors import ConfigurationError, Path

CONTAINER_FIELDS = ("name", "repository", "tag", "ports", "environment", "command")
PUBLIC_ENDPOINT_FIELDS = ("container", "port", "health_check_path")


def closest(name: str, known: Collection[str]) -> str | None:
    """The known name a typo most likely meant, if any is close (case aside); a short
    form of a known name (``env``, ``repo``) counts as close."""
    by_lower = {k.lower(): k for k in known}
    typed = name.lower()
    found = difflib.get_close_matches(typed, list(by_lower), n=1, cutoff=0.5)
    if not found and len(typed) >= 3:
        found = [k for k in by_lower if k.startswith(typed)][:1]
    return by_lower[found[0]] if found else None


def _suggestion(name: str, known: Collection[str]) -> str:
    near = closest(name, known)
    return f"did you mean `{near}`? " if near else ""


def check_config_keys(project: str, keys: Iterable[str], declared: Collection[str]) -> None:
    """Refuse a key of ``project``'s namespace that the project does not declare."""
    unknown = sorted(set(keys) - set(declared))
    if not unknown:
        return
    key = unknown[0]
    near = closest(key, declared)
    fix = (
        f"pulumi config rm {project}:{key}, then set it as {project}:{near}"
        if near
        else f"pulumi config rm {project}:{key}"
    )
    others = f" (and {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
    raise ConfigurationError(
        f"config key `{project}:{key}`{others} is not a key of this project: "
        f"{_suggestion(key, declared)}Nothing was changed. Fix it with `{fix}`; the keys are "
        + ", ".join(sorted(declared))
        + " (Pulumi.yaml says what each one means)"
    )


def check_fields(fields: Iterable[str], known: Collection[str], what: str, path: Path = ()) -> None:
    """Refuse a field of an object (``what``: "container 'web'", at ``path``) that it does
    not have."""
    unknown = [f for f in fields if f not in known]
    if unknown:
        field = unknown[0]
        raise ConfigurationError(
            f"{what} has no field {field!r}: {_suggestion(field, known)}its fields are "
            + ", ".join(known),
            path=(*path, field),
        )
