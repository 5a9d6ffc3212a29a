"""Tests of components/rules/pull_access.py: a table of policies, then hypothesis invariants.

The diagnosis trusts this module to read other teams' statements the way IAM does, so
the table covers each shape IAM accepts, on both sides (granted and not).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.rules.policy import merge_grant, parse_policy, pull_statement
from components.rules.pull_access import (
    Condition,
    StatementRef,
    action_matches,
    evaluate,
    is_puller_role_of,
)

SERVICE = "web"
ACCOUNT = "123456789012"
PREFIX = f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/us-east-1/containers"
ARN = f"{PREFIX}/web/private-repo-access/current1"
OLD_ARN = f"{PREFIX}/web/private-repo-access/older99"
OTHER_SERVICE = f"{PREFIX}/api/private-repo-access/api0001"
BATCH, LAYER = "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"
BOTH = [BATCH, LAYER]


def allow(
    principal: Any = None, action: Any = None, sid: str | None = None, **extra: Any
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow"}
    if sid:
        statement["Sid"] = sid
    statement["Principal"] = {"AWS": ARN} if principal is None else principal
    statement["Action"] = BOTH if action is None else action
    statement.update(extra)
    return statement


def deny(
    principal: Any = "*", action: Any = None, sid: str = "Guard", **extra: Any
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": principal,
        "Action": BOTH if action is None else action,
        **extra,
    }


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# --- which statement grants --------------------------------------------------------

_NOT_ACTION = {
    "Sid": "NotPush",
    "Effect": "Allow",
    "Principal": {"AWS": ARN},
    "NotAction": "ecr:PutImage",
}
_NOT_PRINCIPAL = {
    "Sid": "AllBut",
    "Effect": "Allow",
    "NotPrincipal": {"AWS": OTHER_SERVICE},
    "Action": BOTH,
}
GRANTED = [
    pytest.param(doc(allow(sid="AllowLightsailPull-web")), "AllowLightsailPull-web", id="guide"),
    pytest.param(doc(allow(action="ecr:*", sid="All")), "All", id="ecr-star"),
    pytest.param(doc(allow(action="*", sid="Everything")), "Everything", id="star"),
    pytest.param(
        doc(allow(action=["ecr:Batch*", "ecr:GetDownload*"], sid="W")), "W", id="prefixes"
    ),
    pytest.param(
        doc(allow(action=["ECR:batchgetimage", "ecr:getdownloadurlforlayer"], sid="C")),
        "C",
        id="case-insensitive",
    ),
    pytest.param(
        doc(allow(action=["ecr:?atchGetImage", "ecr:GetDownloadUrlFor?ayer"], sid="Q")),
        "Q",
        id="question-mark",
    ),
    pytest.param(
        doc(allow(principal={"AWS": [OTHER_SERVICE, ARN]}, sid="L")), "L", id="principal-list"
    ),
    pytest.param(doc(allow(principal="*", sid="Public")), "Public", id="principal-star"),
    pytest.param(
        doc(allow(principal={"AWS": "*"}, sid="AnyAws")), "AnyAws", id="principal-aws-star"
    ),
    pytest.param(doc(allow(principal={"AWS": [ARN]}, action="ecr:*")), None, id="no-sid"),
    pytest.param(doc(_NOT_ACTION), "NotPush", id="not-action"),
    pytest.param(doc(_NOT_PRINCIPAL), "AllBut", id="not-principal-other"),
    pytest.param(
        {"Version": "2008-10-17", "Statement": allow(sid="Single")}, "Single", id="statement-object"
    ),
]


@pytest.mark.parametrize(("document", "sid"), GRANTED)
def test_granting_statement_is_named(document: dict[str, Any], sid: str | None) -> None:
    access = evaluate(parse_policy(document), ARN, SERVICE)

    assert access.granted and access.allowed
    assert access.missing == ()
    for action in BOTH:
        grant = access.grant_for(action)
        assert grant is not None and grant.statement.sid == sid and not grant.conditional


NOT_GRANTED = [
    pytest.param(None, BOTH, id="no-policy"),
    pytest.param(doc(allow(principal={"AWS": OTHER_SERVICE})), BOTH, id="other-principal"),
    pytest.param(doc(allow(action=[BATCH])), [LAYER], id="only-batch"),
    pytest.param(doc(allow(action=LAYER)), [BATCH], id="only-layer-string"),
    pytest.param(doc(allow(action="ecr:Get*")), [BATCH], id="get-star"),
    pytest.param(
        doc(allow(action=["ecr:BatchGetImages", "ecr:GetDownloadUrl"])), BOTH, id="near-miss"
    ),
    pytest.param(doc(allow(action="s3:*")), BOTH, id="other-service"),
    pytest.param(
        doc(allow(principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})), BOTH, id="account-root"
    ),
    pytest.param(doc(allow(principal={"AWS": ACCOUNT})), BOTH, id="account-id"),
    pytest.param(
        doc(allow(principal={"Service": "lightsail.amazonaws.com"})), BOTH, id="service-principal"
    ),
    pytest.param(
        doc({"Effect": "Allow", "NotPrincipal": {"AWS": ARN}, "Action": BOTH}),
        BOTH,
        id="not-principal-us",
    ),
    pytest.param(
        doc({"Effect": "Allow", "Principal": {"AWS": ARN}, "NotAction": "ecr:*"}),
        BOTH,
        id="not-action-ecr-star",
    ),
    pytest.param(doc({"Effect": "Allow", "Action": BOTH}), BOTH, id="no-principal"),
    pytest.param(doc({"Effect": "Allow", "Principal": {"AWS": ARN}}), BOTH, id="no-action"),
    pytest.param(doc(allow() | {"Effect": "allow"}), BOTH, id="lowercase-effect"),
    pytest.param(doc(allow(principal={"AWS": ARN.upper()})), BOTH, id="arn-other-case"),
]


@pytest.mark.parametrize(("document", "missing"), NOT_GRANTED)
def test_missing_actions_are_named(document: dict[str, Any] | None, missing: list[str]) -> None:
    access = evaluate(parse_policy(document), ARN, SERVICE)

    assert access.missing == tuple(missing)
    assert not access.allowed
    assert access.granted is (not missing)


def test_each_action_may_come_from_its_own_statement() -> None:
    access = evaluate(doc(allow(action=BATCH, sid="A"), allow(action=LAYER, sid="B")), ARN, SERVICE)

    assert access.allowed
    assert access.grant_for(BATCH).statement == StatementRef(0, "A")  # type: ignore[union-attr]
    assert access.grant_for(LAYER).statement == StatementRef(1, "B")  # type: ignore[union-attr]


def test_statement_without_sid_is_named_by_position() -> None:
    access = evaluate(doc(allow(principal={"AWS": OTHER_SERVICE}), allow()), ARN, SERVICE)

    grant = access.grant_for(BATCH)
    assert grant is not None and str(grant.statement) == "statement #2 (no Sid)"
    assert str(StatementRef(0, "X")) == "statement X"


def test_unconditional_grant_wins_over_a_conditional_one_before_it() -> None:
    conditional = allow(sid="FromVpc", Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    access = evaluate(doc(conditional, allow(sid="Plain")), ARN, SERVICE)

    assert access.allowed
    assert access.grant_for(BATCH).statement.sid == "Plain"  # type: ignore[union-attr]


def test_grant_only_under_a_condition_is_not_allowed_outright() -> None:
    conditional = allow(sid="FromVpc", Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    access = evaluate(doc(conditional), ARN, SERVICE)

    assert access.granted and not access.allowed
    (grant, _) = access.conditional_grants
    assert grant.conditions == (Condition("StringEquals", "aws:SourceVpce"),)


# --- which Deny applies ------------------------------------------------------------

DENIED = [
    pytest.param(deny("*"), BOTH, id="star"),
    pytest.param(deny({"AWS": "*"}), BOTH, id="aws-star"),
    pytest.param(deny({"AWS": ARN}), BOTH, id="our-arn"),
    pytest.param(deny({"AWS": [OTHER_SERVICE, ARN]}), BOTH, id="list"),
    pytest.param(deny({"AWS": ACCOUNT}), BOTH, id="our-account-id"),
    pytest.param(deny({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), BOTH, id="our-account-root"),
    pytest.param(deny("*", "ecr:*"), BOTH, id="ecr-star"),
    pytest.param(deny("*", "ecr:GetDownloadUrlForLayer"), [LAYER], id="one-action"),
    pytest.param(
        {"Sid": "Guard", "Effect": "Deny", "NotPrincipal": {"AWS": OTHER_SERVICE}, "Action": BOTH},
        BOTH,
        id="not-principal-other",
    ),
    pytest.param(
        {"Sid": "Guard", "Effect": "Deny", "Principal": "*", "NotAction": "ecr:Describe*"},
        BOTH,
        id="not-action",
    ),
]


@pytest.mark.parametrize(("statement", "actions"), DENIED)
def test_matching_deny_blocks_even_with_our_grant(
    statement: dict[str, Any], actions: list[str]
) -> None:
    access = evaluate(doc(allow(sid="AllowLightsailPull-web"), statement), ARN, SERVICE)

    assert access.granted and not access.allowed
    (denial,) = access.blocking
    assert denial.statement == StatementRef(1, "Guard")
    assert denial.actions == tuple(actions)
    assert access.uncertain == ()


NOT_DENIED = [
    pytest.param(deny({"AWS": OTHER_SERVICE}), id="other-principal"),
    pytest.param(deny({"AWS": "210987654321"}), id="other-account"),
    pytest.param(deny("*", "ecr:BatchDeleteImage"), id="other-action"),
    pytest.param(deny("*", ["ecr:Put*", "ecr:Delete*"]), id="other-wildcards"),
    pytest.param(
        {"Sid": "G", "Effect": "Deny", "NotPrincipal": {"AWS": ARN}, "Action": BOTH}, id="not-us"
    ),
    pytest.param(
        {"Sid": "G", "Effect": "Deny", "Principal": "*", "NotAction": "ecr:*"}, id="not-ecr"
    ),
]


@pytest.mark.parametrize("statement", NOT_DENIED)
def test_deny_that_does_not_apply_leaves_the_grant(statement: dict[str, Any]) -> None:
    access = evaluate(doc(allow(sid="AllowLightsailPull-web"), statement), ARN, SERVICE)

    assert access.allowed
    assert access.denials == ()


def test_deny_with_a_condition_is_uncertain_and_names_its_keys() -> None:
    guard = deny(
        "*",
        Condition={
            "StringNotEquals": {"aws:SourceVpce": "vpce-1", "aws:PrincipalTag/team": "x"},
            "Bool": {"aws:SecureTransport": "false"},
        },
    )
    access = evaluate(doc(allow(), guard), ARN, SERVICE)

    assert access.blocking == ()
    (denial,) = access.uncertain
    assert [str(c) for c in denial.conditions] == [
        "StringNotEquals aws:SourceVpce",
        "StringNotEquals aws:PrincipalTag/team",
        "Bool aws:SecureTransport",
    ]
    # Not blocked outright, but not proven either: the grant stands, the Deny is flagged.
    assert access.allowed


def test_no_principal_arn_grants_nothing_and_matches_no_deny() -> None:
    access = evaluate(doc(allow(principal="*"), deny("*")), "", SERVICE)

    assert access.missing == tuple(BOTH) and access.denials == ()


# --- statements for an older role of this service ---------------------------------


def test_our_sid_with_an_older_arn_is_stale() -> None:
    access = evaluate(doc(allow({"AWS": OLD_ARN}, sid="AllowLightsailPull-web")), ARN, SERVICE)

    assert access.missing == tuple(BOTH)
    (stale,) = access.stale
    assert stale.principal == OLD_ARN and stale.statement.sid == "AllowLightsailPull-web"


def test_our_sid_with_a_deleted_roles_unique_id_is_stale() -> None:
    access = evaluate(
        doc(allow({"AWS": "AROAEXAMPLEID12345678"}, sid="AllowLightsailPull-web")), ARN, SERVICE
    )

    assert [s.principal for s in access.stale] == ["AROAEXAMPLEID12345678"]


def test_older_puller_role_path_without_our_sid_is_stale() -> None:
    access = evaluate(doc(allow({"AWS": [OLD_ARN]}, sid="ConsoleAdded")), ARN, SERVICE)

    assert [(s.statement, s.principal) for s in access.stale] == [
        (StatementRef(0, "ConsoleAdded"), OLD_ARN)
    ]


@pytest.mark.parametrize(
    "principal",
    [
        pytest.param(OTHER_SERVICE, id="another-service"),
        pytest.param(OLD_ARN.replace("us-east-1", "eu-west-1"), id="other-region"),
        pytest.param(OLD_ARN.replace(ACCOUNT, "210987654321"), id="other-account"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:role/ci", id="plain-role"),
        pytest.param(ARN, id="current"),
    ],
)
def test_not_an_older_role_of_this_service(principal: str) -> None:
    access = evaluate(doc(allow({"AWS": principal}, sid="Other")), ARN, SERVICE)

    assert access.stale == ()


def test_deny_naming_an_old_role_is_not_stale() -> None:
    access = evaluate(doc(allow(), deny({"AWS": OLD_ARN})), ARN, SERVICE)

    assert access.stale == () and access.denials == ()


def test_without_a_current_arn_every_role_of_the_service_is_stale() -> None:
    access = evaluate(doc(allow({"AWS": OLD_ARN}, sid="X")), "", SERVICE)

    assert [s.principal for s in access.stale] == [OLD_ARN]


def test_is_puller_role_of() -> None:
    assert is_puller_role_of(ARN, "web")
    assert not is_puller_role_of(ARN, "api")
    assert not is_puller_role_of(f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/x", "web")


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("ecr:*", BATCH, True),
        ("*", BATCH, True),
        ("ecr:Batch*", BATCH, True),
        ("ecr:Batch*", LAYER, False),
        ("ECR:BATCHGETIMAGE", BATCH, True),
        ("ecr:BatchGetImag", BATCH, False),
        ("ecr:BatchGetImage ", BATCH, False),
        ("ecr:Batch.etImage", BATCH, False),  # a dot is a dot, not a regex
        ("ecr:*Image", BATCH, True),
        ("ecr:?", BATCH, False),
        (None, BATCH, False),
        (["ecr:*"], BATCH, False),
    ],
)
def test_action_matching(pattern: Any, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


def test_evaluate_does_not_change_the_document() -> None:
    document = doc(allow(), deny("*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    before = copy.deepcopy(document)
    evaluate(document, ARN, SERVICE)
    assert document == before


# --- invariants ------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("POLICY_EXAMPLES", "150")), deadline=None
)
_principals = st.sampled_from(
    [
        {"AWS": OTHER_SERVICE},
        {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"},
        {"AWS": [OTHER_SERVICE, f"arn:aws:iam::{ACCOUNT}:role/ci"]},
        {"AWS": "210987654321"},
        {"Service": "codebuild.amazonaws.com"},
        "*",
        {"AWS": "*"},
        {"AWS": ARN},
    ]
)
_actions = st.sampled_from(
    ["ecr:PutImage", "ecr:BatchDeleteImage", "ecr:Describe*", "s3:GetObject", BATCH, LAYER, "ecr:*"]
)
_action_lists = st.one_of(_actions, st.lists(_actions, min_size=1, max_size=3))


@st.composite
def foreign_statement(draw: st.DrawFn, effect: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": draw(_principals)}
    statement["Action"] = draw(_action_lists)
    if draw(st.booleans()):
        statement["Sid"] = draw(st.sampled_from(["CiPush", "Audit", "AllowLightsailPull-api"]))
    if draw(st.booleans()):
        statement["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": "platform"}}
    return statement


def _harmless_deny(statement: dict[str, Any]) -> bool:
    return evaluate(doc(statement), ARN, SERVICE).denials == ()


@st.composite
def documents_without_a_matching_deny(draw: st.DrawFn) -> dict[str, Any]:
    allows = draw(st.lists(foreign_statement("Allow"), max_size=4))
    denies = draw(st.lists(foreign_statement("Deny").filter(_harmless_deny), max_size=3))
    statements = allows + denies
    order = draw(st.permutations(range(len(statements))))
    return doc(*[statements[i] for i in order])


@PROPERTY_SETTINGS
@given(documents_without_a_matching_deny())
def test_property_our_merged_statement_is_always_granted(document: dict[str, Any]) -> None:
    merged = merge_grant(parse_policy(document), pull_statement(SERVICE, ARN)).document
    access = evaluate(merged, ARN, SERVICE)

    assert access.missing == ()
    assert access.blocking == () and access.uncertain == ()
    # The merged statement answers unless another unconditional grant came first.
    for action in BOTH:
        grant = access.grant_for(action)
        assert grant is not None and not grant.conditional


@PROPERTY_SETTINGS
@given(
    documents_without_a_matching_deny(),
    st.sampled_from(
        ["*", {"AWS": "*"}, {"AWS": ARN}, {"AWS": [OTHER_SERVICE, ARN]}, {"AWS": ACCOUNT}]
    ),
    st.sampled_from([BOTH, "ecr:*", "*", [LAYER], "ecr:Batch*"]),
    st.integers(0, 10),
)
def test_property_a_matching_deny_always_blocks(
    document: dict[str, Any], principal: Any, action: Any, position: int
) -> None:
    merged = merge_grant(parse_policy(document), pull_statement(SERVICE, ARN)).document
    statements = merged["Statement"]
    guard = {"Sid": "Guard", "Effect": "Deny", "Principal": principal, "Action": action}
    statements.insert(min(position, len(statements)), guard)
    access = evaluate(merged, ARN, SERVICE)

    assert not access.allowed
    assert [d.statement.sid for d in access.blocking] == ["Guard"]


@PROPERTY_SETTINGS
@given(
    st.lists(st.one_of(foreign_statement("Allow"), foreign_statement("Deny")), max_size=6),
    st.randoms(),
)
def test_property_statement_order_does_not_change_the_verdict(
    statements: list[dict[str, Any]], random: Any
) -> None:
    shuffled = list(statements)
    random.shuffle(shuffled)
    first, second = evaluate(doc(*statements), ARN, SERVICE), evaluate(doc(*shuffled), ARN, SERVICE)

    assert first.missing == second.missing
    assert first.allowed == second.allowed
    assert len(first.blocking) == len(second.blocking)
    assert len(first.uncertain) == len(second.uncertain)
