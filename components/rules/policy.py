"""ECR repository policy documents: parse, merge a pull grant, revoke it, validate, serialise.

Pure on purpose (no Pulumi, no boto3): the repository policy is one shared JSON document
that other teams edit too, so everything that decides what ends up in it lives here,
where it can be tested exhaustively without AWS.

Ground rules, from the design brief:
- every statement this module did not write is kept exactly as it was, in its place;
- this service's statement is identified by its Sid (``AllowLightsailPull-<service>``);
- the document's ``Version`` and ``Id`` are kept; a new document uses ``2008-10-17``;
- validation applies to the statement we write and to the document's size, never to
  other teams' statements.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
NEW_DOCUMENT_VERSION = "2008-10-17"
SID_PREFIX = "AllowLightsailPull-"
# ECR refuses a policyText longer than this many characters.
MAX_POLICY_CHARS = 10_240

# The puller role is an IAM role in the service's account; anything else (a wildcard,
# an account root, a user) would either grant too much or never let the image pull.
# ASCII only and matched in full: ``\d``/``\w`` would otherwise take any Unicode digit or
# letter, and ``$`` would let a trailing newline through.
_ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+", re.ASCII)

Document = dict[str, Any]
Statement = dict[str, Any]


class PolicyError(ValueError):
    """A repository policy (or the statement we would add) cannot be used as it is."""


class MalformedPolicyError(PolicyError):
    """The existing policy is not valid JSON or not a policy document."""


class InvalidGrantError(PolicyError):
    """The statement this project would write is not acceptable."""


class PolicyTooLargeError(PolicyError):
    """The document is longer than ECR accepts."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.excess = length - MAX_POLICY_CHARS
        super().__init__(
            f"the repository policy would be {length} characters, {self.excess} over "
            f"ECR's limit of {MAX_POLICY_CHARS}; remove or shorten statements in the "
            "repository policy, or grant fewer services on this repository"
        )


@dataclass(frozen=True)
class MergeResult:
    """The merged document, and the statement it displaced when that one differed."""

    document: Document
    replaced: Statement | None = None


def statement_sid(service_name: str) -> str:
    """The Sid that marks the statement owned by one container service."""
    return f"{SID_PREFIX}{service_name}"


def pull_statement(service_name: str, principal_arn: str) -> Statement:
    """The pull statement exactly as the AWS guide writes it (no ``Resource`` element)."""
    statement: Statement = {
        "Sid": statement_sid(service_name),
        "Effect": "Allow",
        "Principal": {"AWS": principal_arn},
        "Action": list(PULL_ACTIONS),
    }
    validate_grant(statement)
    return statement


def validate_grant(statement: Mapping[str, Any]) -> None:
    """Refuse a statement this project must never write."""
    sid = statement.get("Sid")
    if not isinstance(sid, str) or not sid.startswith(SID_PREFIX):
        raise InvalidGrantError(f"the grant's Sid must start with {SID_PREFIX!r}, got {sid!r}")
    if "Resource" in statement or "NotResource" in statement:
        raise InvalidGrantError(
            f"statement {sid} must not carry a Resource element: a repository policy "
            "applies to its own repository, and older ECR rejects it"
        )
    if statement.get("Effect") != "Allow":
        raise InvalidGrantError(f"statement {sid} must have Effect Allow")
    principal = statement.get("Principal")
    arn = principal.get("AWS") if isinstance(principal, Mapping) and len(principal) == 1 else None
    if not isinstance(arn, str) or "*" in arn or not _ROLE_ARN.fullmatch(arn):
        raise InvalidGrantError(
            f"statement {sid} must name exactly one IAM role as its principal "
            f"(the service's ECR image puller role), got {principal!r}; a wildcard, "
            "an account or the service's own principal ARN would grant the wrong thing"
        )
    if list(statement.get("Action", [])) != list(PULL_ACTIONS):
        raise InvalidGrantError(f"statement {sid} must grant exactly {list(PULL_ACTIONS)}")
    if set(statement) != {"Sid", "Effect", "Principal", "Action"}:
        raise InvalidGrantError(
            f"statement {sid} must hold exactly Sid, Effect, Principal and Action, "
            f"got {sorted(statement)}"
        )


def parse_policy(policy: str | Mapping[str, Any] | None) -> Document | None:
    """Read an existing policy into a document; ``None`` (or empty text) means no policy.

    Raises MalformedPolicyError for text that is not JSON or not a policy document, so
    that a caller can refuse to touch it.
    """
    if policy is None or (isinstance(policy, str) and not policy.strip()):
        return None
    if isinstance(policy, str):
        try:
            loaded = json.loads(policy)
        except json.JSONDecodeError as exc:
            raise MalformedPolicyError(f"the policy is not valid JSON ({exc})") from None
    else:
        loaded = copy.deepcopy(dict(policy))
    if not isinstance(loaded, dict):
        raise MalformedPolicyError(f"the policy must be a JSON object, got {type(loaded).__name__}")
    if "Statement" not in loaded:
        raise MalformedPolicyError("the policy has no Statement element")
    statements = loaded["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise MalformedPolicyError("the policy's Statement must be an object or a list of objects")
    return loaded


def statements_of(document: Mapping[str, Any] | None) -> list[Statement]:
    """The document's statements as a list, whichever shape ``Statement`` has."""
    if document is None:
        return []
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def merge_grant(existing: Mapping[str, Any] | None, statement: Statement) -> MergeResult:
    """Put ``statement`` into the document, keeping every other statement in its place.

    A statement with the same Sid is replaced where it stands (so a re-run changes
    nothing); otherwise the new one goes at the end. When the replaced statement held
    something else, it is returned so the caller can say what was overwritten.
    """
    validate_grant(statement)
    sid = statement["Sid"]
    if existing is None:
        return MergeResult(
            {"Version": NEW_DOCUMENT_VERSION, "Statement": [copy.deepcopy(statement)]}
        )

    document: Document = copy.deepcopy(dict(existing))
    merged: list[Statement] = []
    replaced: Statement | None = None
    placed = False
    for current in statements_of(document):
        if current.get("Sid") != sid:
            merged.append(current)
            continue
        if current != statement and replaced is None:
            replaced = current
        if not placed:
            # The first statement with our Sid keeps its position; any duplicates go.
            merged.append(copy.deepcopy(statement))
            placed = True
    if not placed:
        merged.append(copy.deepcopy(statement))
    document["Statement"] = merged
    return MergeResult(document, replaced)


def revoke_grant(existing: Mapping[str, Any] | None, sid: str) -> Document | None:
    """Remove every statement with ``sid``; ``None`` when no statement is left.

    ECR refuses a document without statements, so ``None`` tells the caller to delete
    the repository policy instead of writing an empty one.
    """
    if existing is None:
        return None
    document: Document = copy.deepcopy(dict(existing))
    kept = [s for s in statements_of(document) if s.get("Sid") != sid]
    if not kept:
        return None
    if isinstance(document.get("Statement"), dict):
        # A single-object Statement that is not ours stays exactly as it was.
        return document
    document["Statement"] = kept
    return document


def has_statement(document: Mapping[str, Any] | None, sid: str) -> bool:
    return any(s.get("Sid") == sid for s in statements_of(document))


def serialise(document: Mapping[str, Any]) -> str:
    """The document as policy text: the same document always gives the same text.

    Key order is the document's own (what ECR returned, then our statement's fixed
    order), so a re-run that changes nothing produces byte-identical text and no diff.
    The result is checked against ECR's size limit.
    """
    # Compact: whitespace would spend part of ECR's limit that other teams may need.
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyTooLargeError(len(text))
    return text


def merge_grants(existing: Mapping[str, Any] | None, statements: list[Statement]) -> Document:
    """Merge several pull statements in turn (``merge_grant`` for each, in the given order)."""
    if not statements:
        raise InvalidGrantError("there is no pull statement to merge")
    document: Mapping[str, Any] | None = existing
    for statement in statements:
        document = merge_grant(document, statement).document
    assert document is not None
    return dict(document)


def missing_grants(document: Mapping[str, Any] | None, statements: list[Statement]) -> list[str]:
    """The Sids of ``statements`` that the document does not hold exactly as given.

    A statement counts as held only when the document's statements with its Sid are that
    one statement, equal to it: one that another writer changed (another principal, fewer
    actions) is missing too, and so is one with a stale duplicate beside it (an old
    principal would keep its pull access).
    """
    held = statements_of(document)
    return [s["Sid"] for s in statements if [c for c in held if c.get("Sid") == s["Sid"]] != [s]]


def describe_statement(statement: Mapping[str, Any]) -> str:
    """A statement as a person finds it in the document: its Sid, else what it does
    (``NotAction`` and ``NotPrincipal`` said as such: they mean the opposite)."""
    sid = statement.get("Sid")
    if isinstance(sid, str) and sid:
        return sid
    principal_key = "Principal" if "Principal" in statement else "NotPrincipal"
    action_key = "Action" if "Action" in statement else "NotAction"
    principal = json.dumps(statement.get(principal_key), sort_keys=True)
    actions = json.dumps(statement.get(action_key), sort_keys=True)
    return (
        f"a statement without Sid ({statement.get('Effect')} {action_key} {actions} "
        f"to {principal_key} {principal})"
    )


def describe_statements(document: Mapping[str, Any] | None) -> str:
    """The document's statements in a few words each, for an error message."""
    if document is None:
        return "no policy at all"
    statements = statements_of(document)
    if not statements:
        return "no statement"
    return f"{len(statements)} statement(s): " + ", ".join(
        describe_statement(s) for s in statements
    )
