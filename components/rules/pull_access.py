"""Whether a repository policy lets one puller role pull: which statement grants, which denies.

Pure on purpose (no boto3, no Pulumi), like ``components.rules.policy``: the diagnosis reads
documents that other teams wrote, in every shape IAM accepts, so the reading of them
lives here where a table of examples and hypothesis can cover it.

It evaluates the way IAM evaluates a resource policy, for the two actions Lightsail
needs (``ecr:BatchGetImage`` and ``ecr:GetDownloadUrlForLayer``), as far as a policy
alone can tell:

- an action matches IAM-style: ``*`` and ``?`` are wildcards and case does not count
  (``ecr:*``, ``ECR:batch*``), and ``NotAction`` applies to every action it does not name;
- a principal matches when it is ``"*"``, ``{"AWS": "*"}`` or names the exact role ARN
  (alone or in a list); ``NotPrincipal`` applies to every principal it does not name.
  A ``Deny`` also matches through the role's account (``123456789012`` or its root ARN),
  as a Deny on an account covers every identity in it; an ``Allow`` on the account does
  not grant the role by itself, so it is not counted as a grant;
- a ``Condition`` is never evaluated (it depends on the request): a grant that holds only
  under one, or a ``Deny`` that applies only under one, is reported with its keys so a
  person can check them;
- ``Resource`` is ignored: a repository policy applies to its own repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .policy import PULL_ACTIONS, statement_sid, statements_of
from .repository import account_of

# The principal ARN Lightsail gives a service's ECR image puller role; the last path
# element changes every time the role is created again.
_PULLER_ROLE = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):iam::(?P<account>\d{12}):role/amazon/lightsail/"
    r"(?P<region>[a-z0-9-]+)/containers/(?P<service>[a-z0-9-]+)/private-repo-access/.+",
    re.ASCII,
)
_ACCOUNT_ROOT = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(?P<account>\d{12}):root", re.ASCII)


@dataclass(frozen=True)
class StatementRef:
    """Where a statement is in the document: its position, and its Sid when it has one."""

    index: int
    sid: str | None

    def __str__(self) -> str:
        return f"statement {self.sid}" if self.sid else f"statement #{self.index + 1} (no Sid)"


@dataclass(frozen=True)
class Condition:
    """One condition key of a statement, with the operator that tests it."""

    operator: str
    key: str

    def __str__(self) -> str:
        return f"{self.operator} {self.key}"


@dataclass(frozen=True)
class Grant:
    """An Allow statement that lets the principal perform one pull action."""

    action: str
    statement: StatementRef
    conditions: tuple[Condition, ...] = ()

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)


@dataclass(frozen=True)
class Denial:
    """A Deny statement that applies to the principal for some pull actions."""

    statement: StatementRef
    actions: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()

    @property
    def conditional(self) -> bool:
        return bool(self.conditions)


@dataclass(frozen=True)
class StaleGrant:
    """An Allow statement naming a puller role of this service other than the current one."""

    statement: StatementRef
    principal: str


@dataclass(frozen=True)
class PullAccess:
    """What the repository policy says about one principal and the two pull actions."""

    principal_arn: str
    grants: tuple[Grant, ...]
    denials: tuple[Denial, ...]
    stale: tuple[StaleGrant, ...]

    def grant_for(self, action: str) -> Grant | None:
        return next((g for g in self.grants if g.action == action), None)

    @property
    def missing(self) -> tuple[str, ...]:
        """Pull actions that no Allow statement grants to the principal."""
        return tuple(a for a in PULL_ACTIONS if self.grant_for(a) is None)

    @property
    def conditional_grants(self) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.conditional)

    @property
    def blocking(self) -> tuple[Denial, ...]:
        """Deny statements that apply whatever the request: the pull is refused."""
        return tuple(d for d in self.denials if not d.conditional)

    @property
    def uncertain(self) -> tuple[Denial, ...]:
        """Deny statements that apply only when a condition holds: check the condition."""
        return tuple(d for d in self.denials if d.conditional)

    @property
    def granted(self) -> bool:
        """Both actions are granted by some Allow statement, conditions aside."""
        return not self.missing

    @property
    def allowed(self) -> bool:
        """Both actions are granted without conditions, and no Deny applies outright."""
        return self.granted and not self.conditional_grants and not self.blocking


def wildcard_matches(pattern: object, text: str, ignore_case: bool = False) -> bool:
    """IAM-style wildcards: ``*`` any run of characters, ``?`` one, the rest literally."""
    if not isinstance(pattern, str):
        return False
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, text, flags) is not None


def action_matches(pattern: object, action: str) -> bool:
    """IAM action matching: wildcards, and case does not count."""
    return wildcard_matches(pattern, action, ignore_case=True)


def statement_actions(statement: Mapping[str, Any], actions: Iterable[str]) -> tuple[str, ...]:
    """Which of ``actions`` the statement's ``Action`` or ``NotAction`` covers."""
    if "Action" in statement:
        patterns = _as_list(statement["Action"])
        return tuple(a for a in actions if any(action_matches(p, a) for p in patterns))
    if "NotAction" in statement:
        patterns = _as_list(statement["NotAction"])
        return tuple(a for a in actions if not any(action_matches(p, a) for p in patterns))
    return ()


def conditions_of(statement: Mapping[str, Any]) -> tuple[Condition, ...]:
    condition = statement.get("Condition")
    if not condition:
        return ()
    if not isinstance(condition, Mapping):
        return (Condition("Condition", repr(condition)),)
    found: list[Condition] = []
    for operator, tests in condition.items():
        if isinstance(tests, Mapping) and tests:
            found.extend(Condition(str(operator), str(key)) for key in tests)
        else:
            found.append(Condition(str(operator), repr(tests)))
    return tuple(found)


def evaluate(
    document: Mapping[str, Any] | None, principal_arn: str, service_name: str
) -> PullAccess:
    """Evaluate a parsed repository policy (``policy.parse_policy``) for the puller role.

    ``principal_arn`` may be empty (the role is off or has no ARN yet): then nothing is
    granted, and every statement naming a puller role of the service is stale.
    """
    grants: dict[str, Grant] = {}
    denials: list[Denial] = []
    stale: list[StaleGrant] = []
    for index, statement in enumerate(statements_of(document)):
        sid = statement.get("Sid")
        ref = StatementRef(index, sid if isinstance(sid, str) and sid else None)
        effect = statement.get("Effect")
        conditions = conditions_of(statement)
        if effect == "Allow":
            stale.extend(_stale_grants(statement, ref, principal_arn, service_name))
            if not principal_arn or not _applies_to(statement, principal_arn, deny=False):
                continue
            for action in statement_actions(statement, PULL_ACTIONS):
                earlier = grants.get(action)
                # An unconditional grant is the one that answers; keep the first of each kind.
                if earlier is None or (earlier.conditional and not conditions):
                    grants[action] = Grant(action, ref, conditions)
        elif effect == "Deny":
            if not principal_arn or not _applies_to(statement, principal_arn, deny=True):
                continue
            denied = statement_actions(statement, PULL_ACTIONS)
            if denied:
                denials.append(Denial(ref, denied, conditions))
    return PullAccess(
        principal_arn,
        tuple(grants[a] for a in PULL_ACTIONS if a in grants),
        tuple(denials),
        tuple(stale),
    )


def is_puller_role_of(arn: str, service_name: str) -> bool:
    """Whether ``arn`` is (any incarnation of) the puller role of ``service_name``."""
    match = _PULLER_ROLE.fullmatch(arn)
    return match is not None and match["service"] == service_name


# --- internals -----------------------------------------------------------------------


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def aws_principals(value: object) -> list[str]:
    """The AWS principals an element names: ``"*"`` alone, or the ``AWS`` entry's values."""
    if value == "*":
        return ["*"]
    if isinstance(value, Mapping):
        return [p for p in _as_list(value.get("AWS")) if isinstance(p, str)]
    return []


def _names(principals: list[str], principal_arn: str, deny: bool) -> bool:
    account = account_of(principal_arn)
    for principal in principals:
        if principal in ("*", principal_arn):
            return True
        if deny and account and _account_principal(principal) == account:
            return True
    return False


def _applies_to(statement: Mapping[str, Any], principal_arn: str, deny: bool) -> bool:
    if "Principal" in statement:
        return _names(aws_principals(statement["Principal"]), principal_arn, deny)
    if "NotPrincipal" in statement:
        # Everyone except those named; only the exact ARN (or "*") leaves the role out.
        return not _names(aws_principals(statement["NotPrincipal"]), principal_arn, False)
    return False


def _stale_grants(
    statement: Mapping[str, Any], ref: StatementRef, principal_arn: str, service_name: str
) -> Iterator[StaleGrant]:
    ours = ref.sid == statement_sid(service_name)
    current = _PULLER_ROLE.fullmatch(principal_arn)
    for principal in aws_principals(statement.get("Principal")):
        if principal in ("*", principal_arn):
            continue
        if ours:
            # Our Sid with another principal: an older role, or (shown as AROA...) the
            # unique id IAM leaves in a policy once the role it named was deleted.
            yield StaleGrant(ref, principal)
            continue
        older = _PULLER_ROLE.fullmatch(principal)
        if older is None or older["service"] != service_name:
            continue
        if current is None or all(
            older[part] == current[part] for part in ("partition", "account", "region")
        ):
            yield StaleGrant(ref, principal)


def _account_principal(principal: str) -> str | None:
    if re.fullmatch(r"\d{12}", principal, re.ASCII):
        return principal
    root = _ACCOUNT_ROOT.fullmatch(principal)
    return root["account"] if root else None
