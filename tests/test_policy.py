"""Tests of the pure repository-policy module: example tables, then hypothesis invariants.

The repository policy is shared with other teams, so most checks here are about what
must *not* change: other statements, their order, ``Version`` and ``Id``.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.rules import policy
from components.rules.policy import (
    MAX_POLICY_CHARS,
    InvalidGrantError,
    MalformedPolicyError,
    PolicyError,
    PolicyTooLargeError,
    has_statement,
    merge_grant,
    parse_policy,
    pull_statement,
    revoke_grant,
    serialise,
    statement_sid,
    statements_of,
    validate_grant,
)

SERVICE = "web"
SID = "AllowLightsailPull-web"
ARN = (
    "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/containers/web/"
    "private-repo-access/abc123"
)
OLD_ARN = (
    "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/containers/web/"
    "private-repo-access/old999"
)
API_ARN = (
    "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/containers/api/"
    "private-repo-access/def456"
)

# The statement exactly as the AWS guide writes it, spelled out independently of the module.
GUIDE_STATEMENT = {
    "Sid": "AllowLightsailPull-web",
    "Effect": "Allow",
    "Principal": {"AWS": ARN},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
# Ours, as a previous run with an older puller role would have written it.
OURS_OLD = {**GUIDE_STATEMENT, "Principal": {"AWS": OLD_ARN}}

# Other teams' statements, in the shapes real repository policies have.
CI_PUSH = {
    "Sid": "CiPush",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci"},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
}
NO_SID = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "ecr:BatchGetImage",
}
WITH_CONDITION = {
    "Sid": "OrgPull",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}},
}
DENY_NOT_PRINCIPAL = {
    "Sid": "DenyDeleteExceptAdmins",
    "Effect": "Deny",
    "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/admin"},
    "Action": "ecr:DeleteRepository",
}
NOT_ACTION = {
    "Sid": "ReadAllButPush",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:role/auditor"},
    "NotAction": ["ecr:PutImage"],
}
DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "ecr:*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
RESOURCE_STAR = {
    "Sid": "GuideStyle",
    "Effect": "Allow",
    "Principal": {"Service": "codebuild.amazonaws.com"},
    "Action": ["ecr:BatchGetImage"],
    "Resource": "*",
}
OTHER_SERVICE = {
    "Sid": "AllowLightsailPull-api",
    "Effect": "Allow",
    "Principal": {"AWS": API_ARN},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
# A Sid that starts with ours but belongs to another service: matching must be exact.
PREFIX_LOOKALIKE = {**OTHER_SERVICE, "Sid": "AllowLightsailPull-web2"}


def ours() -> dict[str, Any]:
    return pull_statement(SERVICE, ARN)


def doc(statement: Any, **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", **top, "Statement": statement}


def text(document: Any) -> str:
    return json.dumps(document)


def others(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if s.get("Sid") != SID]


def top_level(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "Statement"}


# --------------------------------------------------------------------------------------
# The statement we write


def test_pull_statement_is_exactly_the_guides_statement() -> None:
    statement = pull_statement(SERVICE, ARN)
    assert statement == GUIDE_STATEMENT
    assert "Resource" not in statement
    assert list(statement) == ["Sid", "Effect", "Principal", "Action"]
    assert statement_sid(SERVICE) == SID


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(ARN, id="lightsail-puller-role"),
        pytest.param("arn:aws:iam::123456789012:role/simple", id="role-without-path"),
        pytest.param("arn:aws-cn:iam::123456789012:role/x/y", id="china-partition"),
        pytest.param("arn:aws-us-gov:iam::123456789012:role/x", id="govcloud-partition"),
        pytest.param("arn:aws:iam::123456789012:role/a+b=c,d.e@f_g-h", id="all-name-chars"),
    ],
)
def test_pull_statement_accepts_iam_role_arns(arn: str) -> None:
    assert pull_statement(SERVICE, arn)["Principal"] == {"AWS": arn}


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param("*", id="wildcard"),
        pytest.param("arn:aws:iam::123456789012:root", id="account-root"),
        pytest.param("123456789012", id="bare-account-id"),
        pytest.param("arn:aws:iam::123456789012:user/alice", id="user"),
        pytest.param("arn:aws:iam::123456789012:role/*", id="role-wildcard"),
        pytest.param("arn:aws:iam::*:role/x", id="account-wildcard"),
        pytest.param("arn:aws:iam::12345:role/x", id="short-account"),
        pytest.param("arn:aws:iam::123456789012:role/", id="empty-role-name"),
        pytest.param("arn:aws:sts::123456789012:assumed-role/x/s", id="sts-session"),
        pytest.param("arn:aws:iam:us-east-1:123456789012:role/x", id="iam-with-region"),
        pytest.param("role/x", id="not-an-arn"),
        pytest.param("", id="empty"),
        pytest.param(" " + ARN, id="leading-space"),
        pytest.param(ARN + "\n", id="trailing-newline"),
        pytest.param("arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/x", id="non-ascii-digits"),
    ],
)
def test_pull_statement_refuses_anything_but_one_iam_role(arn: str) -> None:
    with pytest.raises(InvalidGrantError, match="must name exactly one IAM role") as info:
        pull_statement(SERVICE, arn)
    assert SID in str(info.value)
    assert isinstance(info.value, PolicyError)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"Resource": "*"}, "must not carry a Resource", id="resource-star"),
        pytest.param(
            {"Resource": "arn:aws:ecr:us-east-1:123456789012:repository/app"},
            "must not carry a Resource",
            id="resource-arn",
        ),
        pytest.param({"NotResource": "*"}, "must not carry a Resource", id="not-resource"),
        pytest.param({"Effect": "Deny"}, "must have Effect Allow", id="deny"),
        pytest.param({"Effect": "allow"}, "must have Effect Allow", id="lowercase-allow"),
        pytest.param({"Effect": None}, "must have Effect Allow", id="no-effect"),
        pytest.param({"Action": ["ecr:*"]}, "must grant exactly", id="ecr-star"),
        pytest.param({"Action": "ecr:BatchGetImage"}, "must grant exactly", id="action-string"),
        pytest.param({"Action": ["ecr:BatchGetImage"]}, "must grant exactly", id="one-action"),
        pytest.param(
            {"Action": [*policy.PULL_ACTIONS, "ecr:PutImage"]},
            "must grant exactly",
            id="extra-push-action",
        ),
        pytest.param({"Action": None}, "must grant exactly", id="no-action"),
        pytest.param({"Principal": "*"}, "IAM role", id="principal-star-string"),
        pytest.param({"Principal": {"AWS": "*"}}, "IAM role", id="principal-aws-star"),
        pytest.param({"Principal": {"AWS": [ARN]}}, "IAM role", id="principal-list"),
        pytest.param(
            {"Principal": {"Service": "lightsail.amazonaws.com"}},
            "IAM role",
            id="service-principal",
        ),
        pytest.param({"Principal": None}, "IAM role", id="no-principal"),
        pytest.param({"Sid": "PullForWeb"}, "Sid must start with", id="foreign-sid"),
        pytest.param({"Sid": None}, "Sid must start with", id="no-sid"),
    ],
)
def test_validate_grant_refuses(changes: dict[str, Any], message: str) -> None:
    statement = {**GUIDE_STATEMENT, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del statement[key]
    with pytest.raises(InvalidGrantError, match=message):
        validate_grant(statement)
    # merge_grant validates too: a bad statement never reaches a document.
    with pytest.raises(InvalidGrantError, match=message):
        merge_grant(doc([CI_PUSH]), statement)
    with pytest.raises(InvalidGrantError, match=message):
        merge_grant(None, statement)


def test_validate_grant_accepts_the_guides_statement() -> None:
    validate_grant(GUIDE_STATEMENT)  # no exception
    validate_grant(OTHER_SERVICE)


# --------------------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize(
    "policy_text",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty-string"),
        pytest.param("  \n\t", id="whitespace"),
    ],
)
def test_no_policy_merges_into_a_new_2008_document(policy_text: str | None) -> None:
    existing = parse_policy(policy_text)
    assert existing is None
    result = merge_grant(existing, ours())
    assert result.replaced is None
    assert result.document == {"Version": "2008-10-17", "Statement": [GUIDE_STATEMENT]}
    assert list(result.document) == ["Version", "Statement"]
    assert json.loads(serialise(result.document)) == result.document


@pytest.mark.parametrize(
    ("policy_text", "message"),
    [
        pytest.param("{not json", "not valid JSON", id="invalid-json"),
        pytest.param('{"Statement": [', "not valid JSON", id="truncated"),
        pytest.param(
            text(doc([CI_PUSH])) + text({"Version": "2008-10-17", "Statement": [GUIDE_STATEMENT]}),
            "not valid JSON",
            id="guide-snippet-pasted-after-document",
        ),
        pytest.param(text([CI_PUSH]), "must be a JSON object, got list", id="json-array"),
        pytest.param('"{\\"Statement\\": []}"', "must be a JSON object, got str", id="json-string"),
        pytest.param("42", "must be a JSON object, got int", id="json-number"),
        pytest.param("null", "must be a JSON object", id="json-null"),
        pytest.param(text({"Version": "2012-10-17"}), "no Statement element", id="no-statement"),
        pytest.param(
            text({"Version": "2012-10-17", "statement": [CI_PUSH]}),
            "no Statement element",
            id="lowercase-statement-key",
        ),
        pytest.param(
            text(doc(5)), "Statement must be an object or a list of objects", id="statement-number"
        ),
        pytest.param(
            text(doc("Allow")),
            "Statement must be an object or a list of objects",
            id="statement-string",
        ),
        pytest.param(
            text(doc(None)),
            "Statement must be an object or a list of objects",
            id="statement-null",
        ),
        pytest.param(
            text(doc([CI_PUSH, "oops"])),
            "Statement must be an object or a list of objects",
            id="statement-list-with-string",
        ),
        pytest.param(
            text(doc([CI_PUSH, [GUIDE_STATEMENT]])),
            "Statement must be an object or a list of objects",
            id="statement-nested-list",
        ),
    ],
)
def test_parse_policy_refuses_what_is_not_a_policy(policy_text: str, message: str) -> None:
    with pytest.raises(MalformedPolicyError, match=message) as info:
        parse_policy(policy_text)
    assert isinstance(info.value, PolicyError)
    assert isinstance(info.value, ValueError)


def test_parse_policy_names_the_json_error_position() -> None:
    with pytest.raises(MalformedPolicyError, match=r"line 1 column \d+"):
        parse_policy('{"Version": "2012-10-17",}')


def test_parse_policy_refuses_a_malformed_mapping_too() -> None:
    with pytest.raises(MalformedPolicyError, match="list of objects"):
        parse_policy({"Statement": [1, 2]})
    with pytest.raises(MalformedPolicyError, match="no Statement"):
        parse_policy({"Version": "2012-10-17"})


def test_parse_policy_of_a_mapping_is_an_independent_copy() -> None:
    original = doc([copy.deepcopy(CI_PUSH)], Id="x")
    parsed = parse_policy(original)
    assert parsed == original
    parsed["Statement"][0]["Action"].append("ecr:BatchDeleteImage")
    parsed["Id"] = "changed"
    assert original == doc([CI_PUSH], Id="x")


def test_parse_policy_keeps_single_object_statement_and_key_order() -> None:
    source = '{"Statement": {"Sid": "A", "Effect": "Allow"}, "Id": "i", "Version": "2008-10-17"}'
    parsed = parse_policy(source)
    assert parsed == {
        "Statement": {"Sid": "A", "Effect": "Allow"},
        "Id": "i",
        "Version": "2008-10-17",
    }
    assert list(parsed) == ["Statement", "Id", "Version"]


# --------------------------------------------------------------------------------------
# Merging: one row per document shape


MERGE_CASES = [
    # (existing document, statements expected after the merge, expected `replaced`)
    pytest.param(doc([CI_PUSH]), [CI_PUSH, GUIDE_STATEMENT], None, id="list-one-other"),
    pytest.param(doc(CI_PUSH), [CI_PUSH, GUIDE_STATEMENT], None, id="single-object-other"),
    pytest.param(doc([NO_SID]), [NO_SID, GUIDE_STATEMENT], None, id="statement-without-sid"),
    pytest.param(doc([WITH_CONDITION]), [WITH_CONDITION, GUIDE_STATEMENT], None, id="condition"),
    pytest.param(
        doc([DENY_NOT_PRINCIPAL]),
        [DENY_NOT_PRINCIPAL, GUIDE_STATEMENT],
        None,
        id="not-principal",
    ),
    pytest.param(doc([NOT_ACTION]), [NOT_ACTION, GUIDE_STATEMENT], None, id="not-action"),
    pytest.param(doc([DENY]), [DENY, GUIDE_STATEMENT], None, id="deny"),
    pytest.param(doc([RESOURCE_STAR]), [RESOURCE_STAR, GUIDE_STATEMENT], None, id="resource-star"),
    pytest.param(
        doc([CI_PUSH, DENY], Id="team-ecr-policy"),
        [CI_PUSH, DENY, GUIDE_STATEMENT],
        None,
        id="with-id",
    ),
    pytest.param(
        {"Version": "2008-10-17", "Statement": [CI_PUSH]},
        [CI_PUSH, GUIDE_STATEMENT],
        None,
        id="version-2008",
    ),
    pytest.param({"Statement": [CI_PUSH]}, [CI_PUSH, GUIDE_STATEMENT], None, id="no-version"),
    pytest.param(
        doc([CI_PUSH, GUIDE_STATEMENT, DENY]),
        [CI_PUSH, GUIDE_STATEMENT, DENY],
        None,
        id="ours-present-same-content",
    ),
    pytest.param(
        doc([CI_PUSH, OURS_OLD, DENY]),
        [CI_PUSH, GUIDE_STATEMENT, DENY],
        OURS_OLD,
        id="ours-present-different-principal",
    ),
    pytest.param(
        doc([CI_PUSH, {**GUIDE_STATEMENT, "Resource": "*"}]),
        [CI_PUSH, GUIDE_STATEMENT],
        {**GUIDE_STATEMENT, "Resource": "*"},
        id="ours-present-with-resource",
    ),
    pytest.param(
        doc([OURS_OLD, CI_PUSH, GUIDE_STATEMENT, DENY, OURS_OLD]),
        [GUIDE_STATEMENT, CI_PUSH, DENY],
        OURS_OLD,
        id="duplicates-of-ours-collapse-at-first",
    ),
    pytest.param(
        doc([CI_PUSH, GUIDE_STATEMENT, GUIDE_STATEMENT]),
        [CI_PUSH, GUIDE_STATEMENT],
        None,
        id="identical-duplicates-of-ours",
    ),
    pytest.param(doc(GUIDE_STATEMENT), [GUIDE_STATEMENT], None, id="single-object-ours-same"),
    pytest.param(doc(OURS_OLD), [GUIDE_STATEMENT], OURS_OLD, id="single-object-ours-different"),
    pytest.param(
        doc([OTHER_SERVICE]),
        [OTHER_SERVICE, GUIDE_STATEMENT],
        None,
        id="other-lightsail-service-kept",
    ),
    pytest.param(
        doc([PREFIX_LOOKALIKE]),
        [PREFIX_LOOKALIKE, GUIDE_STATEMENT],
        None,
        id="sid-with-our-sid-as-prefix-kept",
    ),
    pytest.param(
        doc([{**CI_PUSH, "Sid": SID.lower()}]),
        [{**CI_PUSH, "Sid": SID.lower()}, GUIDE_STATEMENT],
        None,
        id="sid-match-is-case-sensitive",
    ),
    pytest.param(
        doc([CI_PUSH, NO_SID, WITH_CONDITION, DENY_NOT_PRINCIPAL, NOT_ACTION, RESOURCE_STAR]),
        [
            CI_PUSH,
            NO_SID,
            WITH_CONDITION,
            DENY_NOT_PRINCIPAL,
            NOT_ACTION,
            RESOURCE_STAR,
            GUIDE_STATEMENT,
        ],
        None,
        id="every-shape-at-once",
    ),
]


@pytest.mark.parametrize(("existing", "expected", "replaced"), MERGE_CASES)
def test_merge_grant_by_document_shape(
    existing: dict[str, Any], expected: list[dict[str, Any]], replaced: dict[str, Any] | None
) -> None:
    # Go through the text, as the component does with what ECR returns.
    parsed = parse_policy(json.dumps(existing))
    result = merge_grant(parsed, ours())
    assert statements_of(result.document) == expected
    assert result.replaced == replaced
    # Version, Id and any other top-level key are kept as they were (no Version added).
    assert top_level(result.document) == top_level(existing)
    assert list(top_level(result.document)) == list(top_level(existing))
    # And the result is a document ECR can take.
    assert parse_policy(serialise(result.document)) == result.document


def test_merge_with_identical_statement_is_a_no_op() -> None:
    existing = parse_policy(text(doc([CI_PUSH, GUIDE_STATEMENT, DENY], Id="x")))
    result = merge_grant(existing, ours())
    assert result.replaced is None
    assert result.document == existing
    assert serialise(result.document) == serialise(existing)


def test_merge_replaces_in_place_and_reports_the_old_statement() -> None:
    existing = parse_policy(text(doc([CI_PUSH, OURS_OLD, DENY])))
    result = merge_grant(existing, ours())
    assert result.document["Statement"][1] == GUIDE_STATEMENT
    assert result.replaced == OURS_OLD
    assert result.replaced["Principal"]["AWS"] == OLD_ARN


def test_merge_result_does_not_alias_the_statement_argument() -> None:
    statement = ours()
    for existing in (None, doc([CI_PUSH]), doc([CI_PUSH, OURS_OLD])):
        merged = merge_grant(existing, statement).document
        mine = next(s for s in statements_of(merged) if s.get("Sid") == SID)
        mine["Principal"]["AWS"] = "*"
        mine["Action"].append("ecr:PutImage")
        assert statement == GUIDE_STATEMENT


def test_merge_into_mapping_without_statement_key() -> None:
    # Not reachable through parse_policy, but merge_grant takes any mapping.
    result = merge_grant({"Version": "2012-10-17"}, ours())
    assert result.document == {"Version": "2012-10-17", "Statement": [GUIDE_STATEMENT]}


def test_two_services_merge_into_one_document() -> None:
    first = merge_grant(None, pull_statement("api", API_ARN)).document
    second = merge_grant(first, ours()).document
    assert statements_of(second) == [OTHER_SERVICE, GUIDE_STATEMENT]
    assert second["Version"] == "2008-10-17"
    # Revoking one leaves the other exactly as it was.
    assert revoke_grant(second, statement_sid("api")) == {
        "Version": "2008-10-17",
        "Statement": [GUIDE_STATEMENT],
    }


# --------------------------------------------------------------------------------------
# Revoking


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        pytest.param(
            doc([CI_PUSH, GUIDE_STATEMENT, DENY], Id="x"),
            doc([CI_PUSH, DENY], Id="x"),
            id="removes-ours-keeps-order-version-id",
        ),
        pytest.param(
            {"Version": "2008-10-17", "Statement": [OURS_OLD, CI_PUSH, GUIDE_STATEMENT]},
            {"Version": "2008-10-17", "Statement": [CI_PUSH]},
            id="removes-every-copy-of-ours",
        ),
        pytest.param(
            doc([OTHER_SERVICE, GUIDE_STATEMENT, PREFIX_LOOKALIKE]),
            doc([OTHER_SERVICE, PREFIX_LOOKALIKE]),
            id="other-lightsail-services-kept",
        ),
        pytest.param(
            doc([NO_SID, GUIDE_STATEMENT, RESOURCE_STAR]),
            doc([NO_SID, RESOURCE_STAR]),
            id="statements-without-sid-kept",
        ),
        pytest.param(doc([GUIDE_STATEMENT]), None, id="only-ours-list-means-delete"),
        pytest.param(doc([GUIDE_STATEMENT, OURS_OLD]), None, id="only-copies-of-ours-means-delete"),
        pytest.param(doc(GUIDE_STATEMENT), None, id="only-ours-single-object-means-delete"),
        pytest.param(doc(CI_PUSH, Id="x"), doc(CI_PUSH, Id="x"), id="single-object-not-ours"),
        pytest.param(
            doc([CI_PUSH, DENY_NOT_PRINCIPAL]),
            doc([CI_PUSH, DENY_NOT_PRINCIPAL]),
            id="ours-absent-no-op",
        ),
        pytest.param(None, None, id="no-policy"),
    ],
)
def test_revoke_grant(existing: dict[str, Any] | None, expected: dict[str, Any] | None) -> None:
    before = copy.deepcopy(existing)
    assert revoke_grant(existing, SID) == expected
    assert existing == before


def test_revoke_keeps_single_object_statement_as_an_object() -> None:
    existing = parse_policy(text(doc(DENY_NOT_PRINCIPAL, Id="x")))
    revoked = revoke_grant(existing, SID)
    assert isinstance(revoked["Statement"], dict)
    assert serialise(revoked) == serialise(existing)


def test_revoke_result_does_not_alias_its_input() -> None:
    existing = doc([copy.deepcopy(CI_PUSH), copy.deepcopy(GUIDE_STATEMENT)])
    revoked = revoke_grant(existing, SID)
    revoked["Statement"][0]["Action"].append("ecr:BatchDeleteImage")
    assert existing["Statement"][0] == CI_PUSH


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(None, False, id="no-policy"),
        pytest.param(doc([CI_PUSH]), False, id="absent"),
        pytest.param(doc([PREFIX_LOOKALIKE]), False, id="prefix-lookalike"),
        pytest.param(doc([CI_PUSH, GUIDE_STATEMENT]), True, id="in-list"),
        pytest.param(doc(GUIDE_STATEMENT), True, id="single-object"),
    ],
)
def test_has_statement(document: dict[str, Any] | None, expected: bool) -> None:
    assert has_statement(document, SID) is expected


# --------------------------------------------------------------------------------------
# Serialising and the size limit


def padded_document(length: int, pad_char: str = "x") -> dict[str, Any]:
    """A valid document whose serialised text is exactly ``length`` characters."""
    base = {"Version": "2008-10-17", "Statement": [dict(CI_PUSH, Sid="")]}
    base_length = len(serialise(base))
    assert length >= base_length
    return {
        "Version": "2008-10-17",
        "Statement": [dict(CI_PUSH, Sid=pad_char * (length - base_length))],
    }


def test_document_exactly_at_the_limit_is_accepted() -> None:
    document = padded_document(MAX_POLICY_CHARS)
    assert len(serialise(document)) == MAX_POLICY_CHARS == 10_240


def test_size_limit_counts_characters_not_bytes() -> None:
    document = padded_document(MAX_POLICY_CHARS, pad_char="é")
    serialised = serialise(document)
    assert len(serialised) == MAX_POLICY_CHARS
    assert len(serialised.encode()) > MAX_POLICY_CHARS
    assert "é" in serialised  # not escaped to \u00e9, which would be six characters


@pytest.mark.parametrize("excess", [1, 2, 100, 5_000])
def test_document_over_the_limit_says_by_how_much(excess: int) -> None:
    length = MAX_POLICY_CHARS + excess
    with pytest.raises(PolicyTooLargeError) as info:
        serialise(padded_document(length))
    error = info.value
    assert error.length == length
    assert error.excess == excess
    message = str(error)
    assert f"would be {length} characters" in message
    assert f", {excess} over " in message
    assert str(MAX_POLICY_CHARS) in message
    assert isinstance(error, PolicyError)


def test_merge_that_pushes_a_document_over_the_limit_is_refused_on_serialise() -> None:
    # How many characters our statement adds to a document (independent of padding).
    grown = merge_grant(padded_document(2_000), ours()).document
    growth = len(json.dumps(grown, separators=(",", ":"), ensure_ascii=False)) - 2_000
    assert growth > len(json.dumps(GUIDE_STATEMENT, separators=(",", ":")))
    existing = padded_document(MAX_POLICY_CHARS - growth + 1)
    assert len(serialise(existing)) <= MAX_POLICY_CHARS  # fits on its own
    merged = merge_grant(existing, ours()).document
    with pytest.raises(PolicyTooLargeError) as info:
        serialise(merged)
    assert info.value.length == MAX_POLICY_CHARS + 1
    assert info.value.excess == 1


def test_serialise_keeps_the_documents_key_order() -> None:
    # Same order as ECR returned it, so an unchanged policy gives unchanged text.
    document = parse_policy(
        '{"Statement": [{"Action": "ecr:*", "Effect": "Deny", "Principal": "*"}],'
        ' "Id": "x", "Version": "2012-10-17"}'
    )
    serialised = serialise(document)
    assert (
        serialised.index('"Statement"') < serialised.index('"Id"') < serialised.index('"Version"')
    )
    assert serialised.index('"Action"') < serialised.index('"Effect"')


# --------------------------------------------------------------------------------------
# Properties over other teams' statements

_arns = st.sampled_from(
    [
        "arn:aws:iam::123456789012:role/ci",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/bob",
        API_ARN,
        OLD_ARN,
        ARN,  # our own principal in someone else's statement is still theirs
        "111122223333",
        "*",
    ]
)
_principals = st.one_of(
    st.just("*"),
    st.fixed_dictionaries({"AWS": _arns}),
    st.fixed_dictionaries({"AWS": st.lists(_arns, min_size=1, max_size=3)}),
    st.fixed_dictionaries(
        {"Service": st.sampled_from(["codebuild.amazonaws.com", "lambda.amazonaws.com"])}
    ),
)
_action_names = st.sampled_from(
    [
        "ecr:*",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:PutImage",
        "ecr:DeleteRepository",
        "ecr:BatchCheckLayerAvailability",
    ]
)
_actions = st.one_of(_action_names, st.lists(_action_names, min_size=1, max_size=4))
_condition_values = st.one_of(
    st.text(max_size=12),
    st.lists(st.text(max_size=8), max_size=3),
    st.booleans(),
    st.integers(-(10**6), 10**6),
)
_conditions = st.dictionaries(
    st.sampled_from(["StringEquals", "StringLike", "ArnLike", "Bool", "IpAddress"]),
    st.dictionaries(
        st.sampled_from(["aws:PrincipalOrgID", "aws:SourceIp", "aws:SecureTransport", "x:é"]),
        _condition_values,
        min_size=1,
        max_size=2,
    ),
    min_size=1,
    max_size=2,
)
# Any Sid but ours: random ones, other services', and look-alikes of ours.
_foreign_sids = st.one_of(
    st.text(st.characters(codec="ascii", categories=("L", "Nd")), min_size=1, max_size=16),
    st.text(max_size=10),
    st.sampled_from(
        [
            "AllowLightsailPull-api",
            "AllowLightsailPull-web2",
            "AllowLightsailPull-",
            SID.lower(),
            SID + " ",
        ]
    ),
).filter(lambda sid: sid != SID)


@st.composite
def foreign_statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {}
    if draw(st.booleans()):
        statement["Sid"] = draw(_foreign_sids)
    statement["Effect"] = draw(st.sampled_from(["Allow", "Deny"]))
    who = "NotPrincipal" if draw(st.integers(0, 4)) == 0 else "Principal"
    statement[who] = draw(_principals)
    what = "NotAction" if draw(st.integers(0, 4)) == 0 else "Action"
    statement[what] = draw(_actions)
    if draw(st.booleans()):
        statement["Resource"] = "*"
    if draw(st.booleans()):
        statement["Condition"] = draw(_conditions)
    # Other teams write keys in whatever order they like.
    keys = draw(st.permutations(list(statement)))
    return {key: statement[key] for key in keys}


@st.composite
def foreign_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Documents as other teams leave them; at least one statement (ECR's own rule)."""
    statements = draw(st.lists(foreign_statements(), min_size=1, max_size=6))
    document: dict[str, Any] = {}
    if len(statements) == 1 and draw(st.booleans()):
        document["Statement"] = statements[0]
    else:
        document["Statement"] = statements
    if draw(st.booleans()):
        document["Version"] = draw(st.sampled_from(["2012-10-17", "2008-10-17"]))
    if draw(st.booleans()):
        document["Id"] = draw(st.text(max_size=20))
    keys = draw(st.permutations(list(document)))
    return {key: document[key] for key in keys}


def maybe_documents() -> st.SearchStrategy[dict[str, Any] | None]:
    return st.one_of(st.none(), foreign_documents())


def from_ecr(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the component sees: the document's text as ECR returns it, parsed."""
    return parse_policy(None if document is None else json.dumps(document))


# POLICY_EXAMPLES widens the search on demand; the default keeps the suite fast.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("POLICY_EXAMPLES", "150")), deadline=None
)


@PROPERTY_SETTINGS
@given(foreign_documents())
def test_property_merge_keeps_other_statements_and_appends_ours(document: dict[str, Any]) -> None:
    existing = from_ecr(document)
    assert existing == document
    result = merge_grant(existing, ours())
    merged = statements_of(result.document)
    assert merged[-1] == GUIDE_STATEMENT
    assert merged[:-1] == statements_of(document)
    assert result.replaced is None
    assert top_level(result.document) == top_level(document)


@st.composite
def documents_with_ours(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A document where our Sid already appears once or more, among other statements."""
    foreign = draw(st.lists(foreign_statements(), max_size=5))
    copies = draw(
        st.lists(
            st.sampled_from([GUIDE_STATEMENT, OURS_OLD, {**GUIDE_STATEMENT, "Resource": "*"}]),
            min_size=1,
            max_size=3,
        )
    )
    mixed = list(foreign)
    for statement in copies:
        mixed.insert(draw(st.integers(0, len(mixed))), copy.deepcopy(statement))
    return {"Version": "2012-10-17", "Statement": mixed}, foreign


@PROPERTY_SETTINGS
@given(documents_with_ours())
def test_property_merge_replaces_ours_at_its_first_position(
    case: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    document, foreign = case
    mixed = document["Statement"]
    first = next(i for i, s in enumerate(mixed) if s.get("Sid") == SID)
    result = merge_grant(from_ecr(document), ours())
    merged = statements_of(result.document)
    assert others(merged) == foreign
    assert [s for s in merged if s.get("Sid") == SID] == [GUIDE_STATEMENT]
    # Ours stays after exactly the foreign statements that preceded its first copy.
    assert merged.index(GUIDE_STATEMENT) == len(others(mixed[:first]))
    differing = [s for s in mixed if s.get("Sid") == SID and s != GUIDE_STATEMENT]
    if differing:
        assert result.replaced == differing[0]
    else:
        assert result.replaced is None


@PROPERTY_SETTINGS
@given(maybe_documents())
def test_property_merge_is_idempotent(document: dict[str, Any] | None) -> None:
    once = merge_grant(from_ecr(document), ours())
    twice = merge_grant(once.document, ours())
    assert twice.document == once.document
    assert twice.replaced is None
    assert serialise(twice.document) == serialise(once.document)
    # The re-run as the component does it: read the text back, merge, write the text.
    rerun = merge_grant(parse_policy(serialise(once.document)), ours())
    assert serialise(rerun.document) == serialise(once.document)
    assert rerun.replaced is None


@PROPERTY_SETTINGS
@given(maybe_documents())
def test_property_revoke_undoes_merge(document: dict[str, Any] | None) -> None:
    merged = merge_grant(from_ecr(document), ours()).document
    revoked = revoke_grant(merged, SID)
    if document is None:
        assert revoked is None
    else:
        assert revoked is not None
        assert statements_of(revoked) == statements_of(document)
        assert top_level(revoked) == top_level(document)
        assert not has_statement(revoked, SID)


@PROPERTY_SETTINGS
@given(maybe_documents())
def test_property_serialise_is_stable(document: dict[str, Any] | None) -> None:
    for candidate in (document, merge_grant(document, ours()).document):
        if candidate is None:
            continue
        serialised = serialise(candidate)
        assert json.loads(serialised) == candidate
        assert serialise(parse_policy(serialised)) == serialised


@PROPERTY_SETTINGS
@given(maybe_documents())
def test_property_merge_and_revoke_never_mutate_their_input(
    document: dict[str, Any] | None,
) -> None:
    statement = ours()
    document_before = copy.deepcopy(document)
    statement_before = copy.deepcopy(statement)
    result = merge_grant(document, statement)
    assert document == document_before
    assert statement == statement_before
    # The result is independent of the input: editing it leaves the input alone.
    for merged_statement in statements_of(result.document):
        merged_statement["Effect"] = "Changed"
    assert document == document_before
    revoke_grant(document, SID)
    revoke_grant(result.document, SID)
    assert document == document_before


# --------------------------------------------------------------------------------------
# Several grants at once: merge_grants, missing_grants, describe_statements

WORKER_ARN = (
    "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/containers/worker/"
    "private-repo-access/3EXAMPLE"
)


def worker() -> dict[str, Any]:
    return pull_statement("worker", WORKER_ARN)


def test_merge_grants_keeps_other_statements_in_order_and_appends_ours_in_order() -> None:
    existing = doc([CI_PUSH, WITH_CONDITION, NO_SID], Id="shared")
    before = copy.deepcopy(existing)

    merged = policy.merge_grants(existing, [ours(), worker()])

    assert merged == {
        "Version": "2012-10-17",
        "Id": "shared",
        "Statement": [CI_PUSH, WITH_CONDITION, NO_SID, ours(), worker()],
    }
    # The given order, not a sorted one.
    reverse = policy.merge_grants(existing, [worker(), ours()])
    assert statements_of(reverse)[3:] == [worker(), ours()]
    assert existing == before


def test_merge_grants_replaces_a_stale_grant_in_place_and_appends_the_new_one() -> None:
    merged = policy.merge_grants(doc([CI_PUSH, OURS_OLD, DENY]), [worker(), ours()])

    assert statements_of(merged) == [CI_PUSH, ours(), DENY, worker()]


def test_merge_grants_into_no_policy_is_a_new_2008_document() -> None:
    assert policy.merge_grants(None, [ours(), OTHER_SERVICE]) == {
        "Version": "2008-10-17",
        "Statement": [ours(), OTHER_SERVICE],
    }


def test_merge_grants_of_grants_already_there_changes_nothing() -> None:
    existing = doc([CI_PUSH, ours(), OTHER_SERVICE])

    merged = policy.merge_grants(existing, [ours(), OTHER_SERVICE])

    assert serialise(merged) == serialise(existing)


def test_merge_grants_refuses_an_empty_list() -> None:
    with pytest.raises(InvalidGrantError, match="there is no pull statement to merge"):
        policy.merge_grants(doc([CI_PUSH]), [])


def test_merge_grants_validates_every_grant() -> None:
    wildcard = {**OTHER_SERVICE, "Principal": {"AWS": "*"}}

    with pytest.raises(InvalidGrantError) as caught:
        policy.merge_grants(doc([CI_PUSH]), [ours(), wildcard])

    message = str(caught.value)
    assert "AllowLightsailPull-api" in message
    assert "must name exactly one IAM role" in message
    assert "image puller role" in message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, [SID, "AllowLightsailPull-api"]),
        (doc([]), [SID, "AllowLightsailPull-api"]),
        (doc([CI_PUSH, NO_SID]), [SID, "AllowLightsailPull-api"]),
        (doc([GUIDE_STATEMENT, OTHER_SERVICE]), []),
        (doc([OTHER_SERVICE, CI_PUSH, GUIDE_STATEMENT]), []),
        (doc(GUIDE_STATEMENT), ["AllowLightsailPull-api"]),
        # Our Sid with another principal: somebody else's edit, not our grant.
        (doc([OURS_OLD, OTHER_SERVICE]), [SID]),
        # Fewer actions, or a Condition added: not held exactly either.
        (doc([{**GUIDE_STATEMENT, "Action": ["ecr:BatchGetImage"]}, OTHER_SERVICE]), [SID]),
        (
            doc([{**GUIDE_STATEMENT, "Condition": WITH_CONDITION["Condition"]}]),
            [SID, "AllowLightsailPull-api"],
        ),
        # A look-alike Sid is not ours.
        (doc([{**GUIDE_STATEMENT, "Sid": "AllowLightsailPull-web2"}, OTHER_SERVICE]), [SID]),
        # The same grant under another Sid does not hold ours.
        (doc([{**GUIDE_STATEMENT, "Sid": "Pull"}, OTHER_SERVICE]), [SID]),
        # Ours beside a stale duplicate of its Sid: the old principal still pulls, so the
        # grant is not held as intended until a merge drops the duplicate.
        (doc([GUIDE_STATEMENT, OURS_OLD, OTHER_SERVICE]), [SID]),
    ],
)
def test_missing_grants(document: dict[str, Any] | None, expected: list[str]) -> None:
    assert policy.missing_grants(document, [ours(), OTHER_SERVICE]) == expected


def test_missing_grants_ignores_key_order() -> None:
    reordered = {key: GUIDE_STATEMENT[key] for key in reversed(list(GUIDE_STATEMENT))}

    assert policy.missing_grants(doc([reordered]), [ours()]) == []


def test_missing_grants_keeps_the_order_of_the_grants_asked() -> None:
    assert policy.missing_grants(doc([CI_PUSH]), [OTHER_SERVICE, ours()]) == [
        "AllowLightsailPull-api",
        SID,
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, "no policy at all"),
        (doc([]), "no statement"),
        ({"Version": "2012-10-17"}, "no statement"),
        (doc([CI_PUSH, GUIDE_STATEMENT]), f"2 statement(s): CiPush, {SID}"),
        (doc(CI_PUSH), "1 statement(s): CiPush"),
        (
            doc([NO_SID]),
            '1 statement(s): a statement without Sid (Allow Action "ecr:BatchGetImage" to '
            'Principal {"AWS": "arn:aws:iam::111122223333:root"})',
        ),
        (
            doc([{**DENY_NOT_PRINCIPAL, "Sid": ""}, CI_PUSH]),
            '2 statement(s): a statement without Sid (Deny Action "ecr:DeleteRepository" to '
            'NotPrincipal {"AWS": "arn:aws:iam::123456789012:role/admin"}), CiPush',
        ),
        (
            doc([{k: v for k, v in NOT_ACTION.items() if k != "Sid"}]),
            '1 statement(s): a statement without Sid (Allow NotAction ["ecr:PutImage"] to '
            'Principal {"AWS": "arn:aws:iam::123456789012:role/auditor"})',
        ),
    ],
)
def test_describe_statements(document: dict[str, Any] | None, expected: str) -> None:
    assert policy.describe_statements(document) == expected


@PROPERTY_SETTINGS
@given(maybe_documents())
def test_property_merge_grants_holds_every_grant_and_keeps_the_rest(
    document: dict[str, Any] | None,
) -> None:
    grants = [ours(), worker()]
    existing = from_ecr(document)

    merged = policy.merge_grants(existing, grants)

    assert policy.missing_grants(merged, grants) == []
    assert policy.missing_grants(existing, grants) == [SID, worker()["Sid"]]
    assert statements_of(merged) == [*statements_of(document), *grants]
    if document is not None:
        assert top_level(merged) == top_level(document)
    # Merging again is a no-op, byte for byte.
    assert serialise(policy.merge_grants(merged, grants)) == serialise(merged)
