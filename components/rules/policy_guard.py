"""What the organisation's policy pack judges, as pure verdicts over policy documents.

Pure on purpose, like ``policy`` and ``pull_access``: the pack judges documents that any
team may have written, in every shape IAM accepts (a single ``Statement`` object, no
Sids, ``NotPrincipal``, wildcards, conditions), so the reading lives where a table of
examples can cover it. The pack (``components.policy_pack``) only gathers the documents
and reports what these functions find.

Three verdicts:
- ``removed_statements``: which live statements a whole-document writer would drop;
- ``anonymous_pulls``: which statements let anyone pull without a condition;
- ``private_image``: which ECR repository a container's image is pulled from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .policy import PULL_ACTIONS, SID_PREFIX, Statement, describe_statement, statements_of
from .pull_access import aws_principals, statement_actions, wildcard_matches

# The image grammar of a private ECR repository, as Lightsail pulls it. Anything else
# (Docker Hub, ECR Public, an image pushed to the service itself) is not this pack's.
_PRIVATE_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?P<reference>[:@].+)?",
    re.ASCII,
)
# Elements whose value may be a string or a list of strings, with the same meaning.
_SET_ELEMENTS = ("Action", "NotAction", "Resource", "NotResource", "AWS", "Service", "Federated")


# --- statements a whole-document write would drop ------------------------------------


def removed_statements(
    live: Mapping[str, Any] | None, proposed: Mapping[str, Any] | None
) -> list[Statement]:
    """The live statements that ``proposed`` would no longer hold, in the live order.

    A statement with a Sid is kept only when the proposed document still holds that Sid,
    whatever else grants the same: writers own their statement by its Sid (this
    component does, and so do per-stack loops that write ``Allow...-<stack>``), and they
    check, edit and revoke it by that Sid. A statement dropped because another one grants
    the same today loses its access when the other one's owner revokes theirs. The
    owner may edit a statement under its Sid, reformatted or changed; a pull grant of
    this project (``AllowLightsailPull-*``) is kept only exactly, because a changed grant
    may not let the service pull. When several live statements share a Sid, the proposed
    document must hold as many.

    A statement without a Sid has no owner to name it, so only its meaning counts: it is
    kept when a proposed statement grants or denies the same, as IAM reads it (a string
    or a one-element list, any order, actions in any case), with or without a Sid.
    """
    held = statements_of(proposed)
    held_content = {canonical(s, with_sid=False) for s in held}
    # Per Sid, the proposed statements that may still keep a live one of that Sid.
    unclaimed: dict[str, list[str]] = {}
    for statement in held:
        sid = _sid(statement)
        if sid:
            unclaimed.setdefault(sid, []).append(canonical(statement))
    live_statements = statements_of(live)
    kept: set[int] = set()
    # Exact matches first, so that an edit never takes the place of an unchanged one.
    for position, statement in enumerate(live_statements):
        forms = unclaimed.get(_sid(statement) or "", [])
        if canonical(statement) in forms:
            forms.remove(canonical(statement))
            kept.add(position)
    removed = []
    for position, statement in enumerate(live_statements):
        if position in kept:
            continue
        sid = _sid(statement)
        if not sid:
            if canonical(statement, with_sid=False) not in held_content:
                removed.append(statement)
            continue
        forms = unclaimed.get(sid, [])
        if forms and not sid.startswith(SID_PREFIX):
            forms.pop(0)  # the owner's edit of this statement
            continue
        removed.append(statement)
    return removed


def _sid(statement: Mapping[str, Any]) -> str | None:
    """The statement's Sid; None when it has none (an empty Sid names nothing)."""
    sid = statement.get("Sid")
    return sid if isinstance(sid, str) and sid else None


def canonical(statement: Mapping[str, Any], with_sid: bool = True) -> str:
    """One text for every way of writing the same statement: a string or a one-element
    list, any order of actions, principals or condition values, actions in any case
    (IAM matches them so), ``"*"`` or ``{"AWS": "*"}`` as the principal."""
    shape = {k: v for k, v in statement.items() if with_sid or k != "Sid"}
    return json.dumps(_canonical_value(shape), sort_keys=True)


def _canonical_value(value: Any, key: str = "", in_condition: bool = False) -> Any:
    if key in ("Principal", "NotPrincipal") and value == "*":
        value = {"AWS": "*"}
    if key in ("Action", "NotAction"):
        value = [a.lower() if isinstance(a, str) else a for a in _as_list(value)]
        return sorted(set(value)) if all(isinstance(a, str) for a in value) else value
    if isinstance(value, Mapping):
        inside = in_condition or key == "Condition"
        return {k: _canonical_value(v, k, inside) for k, v in value.items()}
    if isinstance(value, list):
        items = [
            v if isinstance(v, str) else _canonical_value(v, in_condition=in_condition)
            for v in value
        ]
        # A set of strings: the order and a repeat mean nothing to IAM.
        if all(isinstance(i, str) for i in items):
            return sorted(set(items))
        return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    if isinstance(value, str) and (in_condition or key in _SET_ELEMENTS):
        return [value]
    return value


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def own_pull_sids(service_names: Iterable[str]) -> set[str]:
    """The Sids of the pull grants of these container services."""
    return {f"{SID_PREFIX}{name}" for name in service_names}


def is_exempt(statement: Mapping[str, Any], exempt_sids: Iterable[str]) -> bool:
    """Whether the statement's Sid matches one of ``exempt_sids`` (``*`` and ``?`` allowed)."""
    sid = statement.get("Sid")
    if not isinstance(sid, str) or not sid:
        return False
    return any(wildcard_matches(pattern, sid) for pattern in exempt_sids)


# --- anonymous pulls -----------------------------------------------------------------


@dataclass(frozen=True)
class AnonymousPull:
    """An Allow statement that lets any principal pull, with nothing to narrow it."""

    statement: Statement
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{describe_statement(self.statement)} allows {', '.join(self.actions)} to everyone"


def anonymous_pulls(document: Mapping[str, Any] | None) -> list[AnonymousPull]:
    """Every Allow of a pull action to principal ``*`` (or to all but a few, through
    ``NotPrincipal``) without any ``Condition``."""
    found = []
    for statement in statements_of(document):
        if statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        if not _everyone(statement):
            continue
        actions = statement_actions(statement, PULL_ACTIONS)
        if actions:
            found.append(AnonymousPull(statement, actions))
    return found


def _everyone(statement: Mapping[str, Any]) -> bool:
    if "NotPrincipal" in statement:
        return True  # Allow to all principals but the ones named
    return "*" in aws_principals(statement.get("Principal"))


# --- images a deployment pulls -------------------------------------------------------


@dataclass(frozen=True)
class PrivateImage:
    """A container image pulled from a private ECR repository."""

    account: str
    region: str
    repository: str
    uri: str


def private_image(uri: object) -> PrivateImage | None:
    """The private ECR repository ``uri`` names, or None for any other kind of image."""
    if not isinstance(uri, str):
        return None
    match = _PRIVATE_IMAGE.fullmatch(uri.strip())
    if match is None:
        return None
    return PrivateImage(match["account"], match["region"], match["repository"], uri.strip())


# --- the pack's configuration --------------------------------------------------------


def string_list(config: Mapping[str, Any], key: str, policy: str) -> tuple[str, ...]:
    """A list-of-strings property of a policy's configuration (empty when not set)."""
    value = config.get(key)
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(
            f"policy {policy}: config {key} is {value!r}; give a list of strings, as in "
            f'{{"{policy}": {{"{key}": ["example"]}}}} in the policy config file'
        )
    bad = [v for v in value if not isinstance(v, str) or not v]
    if bad:
        raise ValueError(
            f"policy {policy}: config {key} holds {bad!r}; every entry must be a non-empty string"
        )
    return tuple(value)
