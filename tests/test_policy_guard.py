"""Tests of components/rules/policy_guard.py: the pack's verdicts, as tables, then invariants.

The pack judges documents any team may have written, so each table holds the shapes IAM
accepts (a single ``Statement`` object, no Sids, ``NotPrincipal``, wildcards, conditions,
both ``Version`` dates) and says both what must be found and what must not.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.rules.policy import describe_statement
from components.rules.policy_guard import (
    anonymous_pulls,
    canonical,
    is_exempt,
    own_pull_sids,
    private_image,
    removed_statements,
    string_list,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role"
PULLER = f"{ROLE}/amazon/lightsail/us-east-1/containers/web/private-repo-access/3EXAMPLE"
BATCH, LAYER = "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"

# Statements as other teams leave them in shared repository policies.
CI_PUSH: dict[str, Any] = {
    "Sid": "CiPush",
    "Effect": "Allow",
    "Principal": {"AWS": [f"{ROLE}/ci", f"{ROLE}/release"]},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
}
ORG_PULL = {
    "Sid": "OrgPull",
    "Effect": "Allow",
    "Principal": "*",
    "Action": [BATCH, LAYER],
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}},
}
ORG = {k: v for k, v in ORG_PULL.items() if k != "Sid"}
NO_SID = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": BATCH,
}
CODEBUILD = {
    "Effect": "Allow",
    "Principal": {"Service": "codebuild.amazonaws.com"},
    "Action": ["ecr:BatchCheckLayerAvailability", BATCH, LAYER],
    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
}
DENY_DELETE = {
    "Sid": "DenyDeleteExceptAdmins",
    "Effect": "Deny",
    "NotPrincipal": {"AWS": f"{ROLE}/admin"},
    "Action": "ecr:Delete*",
}
GRANT = {
    "Sid": "AllowLightsailPull-web",
    "Effect": "Allow",
    "Principal": {"AWS": PULLER},
    "Action": [BATCH, LAYER],
}


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def removed(live: dict[str, Any] | None, proposed: dict[str, Any] | None) -> list[str]:
    return [describe_statement(s) for s in removed_statements(live, proposed)]


# --- removed_statements: what a whole-document write would drop -----------------------


def test_the_same_document_removes_nothing() -> None:
    live = doc(CI_PUSH, ORG_PULL, NO_SID, CODEBUILD, DENY_DELETE, GRANT)
    assert removed(live, copy.deepcopy(live)) == []


def test_a_document_that_only_adds_removes_nothing() -> None:
    live = doc(CI_PUSH, NO_SID)
    assert removed(live, doc(CI_PUSH, NO_SID, GRANT, ORG_PULL)) == []


def test_without_a_live_policy_nothing_is_removed() -> None:
    assert removed(None, doc(GRANT)) == []


@pytest.mark.parametrize(
    ("case", "live", "proposed"),
    [
        ("statements reordered", doc(CI_PUSH, NO_SID, GRANT), doc(GRANT, CI_PUSH, NO_SID)),
        (
            "actions and principals reordered",
            doc(CI_PUSH),
            doc(
                {
                    **CI_PUSH,
                    "Principal": {"AWS": list(reversed(CI_PUSH["Principal"]["AWS"]))},
                    "Action": list(reversed(CI_PUSH["Action"])),
                }
            ),
        ),
        ("one action as a string, then as a list", doc(NO_SID), doc({**NO_SID, "Action": [BATCH]})),
        (
            "one principal as a list, then as a string",
            doc({**NO_SID, "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]}}),
            doc(NO_SID),
        ),
        (
            "a service principal as a string, then as a list",
            doc(CODEBUILD),
            doc({**CODEBUILD, "Principal": {"Service": ["codebuild.amazonaws.com"]}}),
        ),
        ("a single Statement object, then a list", {"Statement": NO_SID}, doc(NO_SID)),
        ("Version 2008-10-17, then 2012-10-17", doc(CI_PUSH, version="2008-10-17"), doc(CI_PUSH)),
        ("a repeated action", doc(NO_SID), doc({**NO_SID, "Action": [BATCH, BATCH]})),
        ("keys in another order", doc(CI_PUSH), doc(dict(reversed(list(CI_PUSH.items()))))),
        # Without a Sid (whose owner may edit it anyway), only the content can match.
        # IAM documents these three as the same principal: everyone.
        ('Principal "*", then {"AWS": "*"}', doc(ORG), doc({**ORG, "Principal": {"AWS": "*"}})),
        ('Principal {"AWS": ["*"]}, then "*"', doc({**ORG, "Principal": {"AWS": ["*"]}}), doc(ORG)),
        (
            "a condition value as a string, then as a one-element list",
            doc(ORG),
            doc({**ORG, "Condition": {"StringEquals": {"aws:PrincipalOrgID": ["o-abc123def4"]}}}),
        ),
        (
            "a pull grant's principal as a one-element list",
            doc(GRANT),
            doc({**GRANT, "Principal": {"AWS": [PULLER]}, "Action": [LAYER, BATCH]}),
        ),
    ],
)
def test_a_reformatted_document_removes_nothing(
    case: str, live: dict[str, Any], proposed: dict[str, Any]
) -> None:
    assert removed(live, proposed) == [], case


def test_a_dropped_statement_is_named_by_its_sid() -> None:
    live = doc(CI_PUSH, ORG_PULL, GRANT)
    assert removed(live, doc(GRANT)) == ["CiPush", "OrgPull"]


def test_a_dropped_statement_without_sid_is_named_by_principal_and_actions() -> None:
    (text,) = removed(doc(CI_PUSH, NO_SID), doc(CI_PUSH))
    assert "without Sid" in text
    assert "arn:aws:iam::111122223333:root" in text and BATCH in text and "Allow" in text


def test_a_dropped_not_principal_statement_says_not_principal() -> None:
    live = doc({**DENY_DELETE, "Sid": ""}, CI_PUSH)
    (text,) = removed(live, doc(CI_PUSH))
    assert "NotPrincipal" in text and f"{ROLE}/admin" in text and "ecr:Delete*" in text


def test_a_changed_statement_without_sid_is_gone() -> None:
    # Nothing names its owner, so a changed one is another statement.
    live = doc(NO_SID)
    assert len(removed(live, doc({**NO_SID, "Action": [BATCH, LAYER]}))) == 1


def test_the_owner_may_edit_a_statement_with_a_sid() -> None:
    edited = {**CI_PUSH, "Action": ["ecr:PutImage"], "Condition": {}}
    assert removed(doc(CI_PUSH, GRANT), doc(edited, GRANT)) == []


def test_a_changed_pull_grant_is_gone() -> None:
    # The grant works only exactly as written: another principal is another grant.
    changed = {**GRANT, "Principal": {"AWS": PULLER.replace("3EXAMPLE", "9CHANGED")}}
    assert removed(doc(CI_PUSH, GRANT), doc(CI_PUSH, changed)) == ["AllowLightsailPull-web"]
    narrowed = {**GRANT, "Action": BATCH}
    assert removed(doc(GRANT), doc(narrowed)) == ["AllowLightsailPull-web"]


def test_an_emptied_document_removes_every_live_statement_in_order() -> None:
    live = {"Statement": [CI_PUSH, NO_SID, GRANT]}
    assert removed(live, None) == ["CiPush", describe_statement(NO_SID), "AllowLightsailPull-web"]


def test_a_statement_of_another_shape_is_not_held_by_one_that_looks_alike() -> None:
    # Principal and NotPrincipal, Action and NotAction: not the same statement.
    allow_all_but = {"Effect": "Allow", "NotPrincipal": {"AWS": f"{ROLE}/ci"}, "Action": BATCH}
    allow_only = {"Effect": "Allow", "Principal": {"AWS": f"{ROLE}/ci"}, "Action": BATCH}
    assert len(removed(doc(allow_all_but), doc(allow_only))) == 1
    not_action = {"Effect": "Allow", "Principal": {"AWS": f"{ROLE}/ci"}, "NotAction": BATCH}
    assert len(removed(doc(allow_only), doc(not_action))) == 1


# --- describe, own_pull_sids, is_exempt -----------------------------------------------


def test_describe_names_a_statement_by_its_sid() -> None:
    assert describe_statement(CI_PUSH) == "CiPush"


def test_describe_names_not_action_without_sid() -> None:
    text = describe_statement({"Effect": "Allow", "Principal": "*", "NotAction": ["ecr:PutImage"]})
    assert "NotAction" in text and "ecr:PutImage" in text and '"*"' in text


def test_own_pull_sids_are_the_grants_of_those_services() -> None:
    assert own_pull_sids(["web", "api"]) == {"AllowLightsailPull-web", "AllowLightsailPull-api"}
    assert own_pull_sids([]) == set()


@pytest.mark.parametrize(
    ("statement", "patterns", "exempt"),
    [
        (CI_PUSH, ["CiPush"], True),
        (CI_PUSH, ["Ci*"], True),
        (CI_PUSH, ["C?Push"], True),
        (CI_PUSH, ["*"], True),
        (CI_PUSH, ["Ci"], False),  # the whole Sid must match
        (CI_PUSH, ["cipush"], False),  # Sids are case-sensitive
        (CI_PUSH, ["Ci.*"], False),  # a dot is a dot, not a regex
        (CI_PUSH, [], False),
        (GRANT, ["AllowLightsailPull-*"], True),
        (NO_SID, ["*"], False),  # nothing to match without a Sid
        ({**NO_SID, "Sid": ""}, ["*"], False),
    ],
)
def test_is_exempt_matches_whole_sids_with_wildcards(
    statement: dict[str, Any], patterns: list[str], exempt: bool
) -> None:
    assert is_exempt(statement, patterns) is exempt


# --- anonymous_pulls: anyone may pull, unconditionally --------------------------------


def anonymous(principal: Any = "*", action: Any = None, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": "Public", "Effect": "Allow"}
    statement["Principal"] = principal
    statement["Action"] = [BATCH, LAYER] if action is None else action
    statement.update(extra)
    return statement


@pytest.mark.parametrize(
    ("statement", "actions"),
    [
        (anonymous("*"), (BATCH, LAYER)),
        (anonymous({"AWS": "*"}), (BATCH, LAYER)),
        (anonymous({"AWS": ["*"]}), (BATCH, LAYER)),
        (anonymous({"AWS": [f"{ROLE}/ci", "*"]}), (BATCH, LAYER)),
        (anonymous(action="ecr:*"), (BATCH, LAYER)),
        (anonymous(action="*"), (BATCH, LAYER)),
        (anonymous(action="ecr:Batch*"), (BATCH,)),
        (anonymous(action="ECR:batchgetimage"), (BATCH,)),
        (anonymous(action="ecr:GetDownloadUrlFor?ayer"), (LAYER,)),
        (anonymous(action=["ecr:PutImage", LAYER]), (LAYER,)),
        (anonymous(Condition={}), (BATCH, LAYER)),  # an empty Condition narrows nothing
        # Allow to everyone but the ones named.
        (
            {"Effect": "Allow", "NotPrincipal": {"AWS": f"{ROLE}/ci"}, "Action": "ecr:*"},
            (BATCH, LAYER),
        ),
        # NotAction that leaves the pull actions in.
        (
            {"Effect": "Allow", "Principal": "*", "NotAction": ["ecr:PutImage", "ecr:Delete*"]},
            (BATCH, LAYER),
        ),
        (
            {"Effect": "Allow", "Principal": "*", "NotAction": "ecr:GetDownloadUrlForLayer"},
            (BATCH,),
        ),
    ],
)
def test_each_anonymous_pull_is_found(statement: dict[str, Any], actions: tuple[str, ...]) -> None:
    for document in (
        doc(statement),
        doc(statement, version="2008-10-17"),
        {"Statement": statement},
    ):
        (finding,) = anonymous_pulls(document)
        assert finding.actions == actions
        assert str(finding).endswith("to everyone")
        assert all(action in str(finding) for action in actions)


@pytest.mark.parametrize(
    "statement",
    [
        ORG_PULL,  # narrowed by a condition
        anonymous(Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        {**anonymous(), "Effect": "Deny"},
        anonymous({"AWS": f"{ROLE}/ci"}),
        anonymous({"AWS": ACCOUNT}),
        anonymous({"Service": "codebuild.amazonaws.com"}),
        anonymous(action=["ecr:PutImage", "ecr:InitiateLayerUpload"]),
        anonymous(action="ecr:Describe*"),
        {"Effect": "Allow", "Principal": "*", "NotAction": [BATCH, LAYER]},
        {"Effect": "Allow", "Principal": "*", "NotAction": "ecr:*"},
        {"Effect": "Allow", "Principal": "*", "NotAction": "*"},
        {"Effect": "Allow", "Principal": "*", "NotAction": ["ECR:Get*", "ecr:batch*"]},
        GRANT,
        CI_PUSH,
        DENY_DELETE,
    ],
)
def test_what_is_not_an_anonymous_pull(statement: dict[str, Any]) -> None:
    assert anonymous_pulls(doc(statement)) == []
    assert anonymous_pulls({"Statement": statement}) == []


def test_each_anonymous_statement_is_found_once_among_others() -> None:
    public = anonymous(action="ecr:*")
    findings = anonymous_pulls(doc(CI_PUSH, public, ORG_PULL, {**NO_SID, "Principal": "*"}))
    assert [describe_statement(f.statement) for f in findings] == [
        "Public",
        describe_statement({**NO_SID, "Principal": "*"}),
    ]
    assert anonymous_pulls(None) == []


# --- private_image: which repository a container pulls from ---------------------------


@pytest.mark.parametrize(
    ("uri", "repository", "region"),
    [
        (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2", "team/app", "us-east-1"),
        (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app", "app", "eu-west-1"),
        (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{'a' * 64}", "app", "us-east-1"),
        (f" {ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/a/b/c:x ", "a/b/c", "cn-north-1"),
    ],
)
def test_a_private_ecr_image_names_its_repository(uri: str, repository: str, region: str) -> None:
    image = private_image(uri)
    assert image is not None
    assert (image.account, image.repository, image.region) == (ACCOUNT, repository, region)
    assert image.uri == uri.strip()


@pytest.mark.parametrize(
    "uri",
    [
        "nginx:latest",
        "nginx",
        "public.ecr.aws/nginx/nginx:1.27",
        "docker.io/library/redis:7",
        ":web.app.1",  # an image pushed to the Lightsail service itself
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com",
        "12345.dkr.ecr.us-east-1.amazonaws.com/app:1",
        "",
        None,
        42,
    ],
)
def test_any_other_image_is_not_private(uri: Any) -> None:
    assert private_image(uri) is None


# --- string_list: the pack's configuration --------------------------------------------


def test_a_string_list_is_read_as_a_tuple() -> None:
    assert string_list({}, "exemptSids", "p") == ()
    assert string_list({"exemptSids": None}, "exemptSids", "p") == ()
    assert string_list({"exemptSids": ["A*", "B"]}, "exemptSids", "p") == ("A*", "B")


@pytest.mark.parametrize(
    ("value", "says"), [("CiPush", "give a list of strings"), (7, "give a list")]
)
def test_a_value_that_is_not_a_list_says_what_to_give(value: Any, says: str) -> None:
    with pytest.raises(ValueError) as info:
        string_list({"exemptSids": value}, "exemptSids", "the-policy")
    message = str(info.value)
    assert says in message and "the-policy" in message and "exemptSids" in message
    assert '{"the-policy": {"exemptSids": ["example"]}}' in message


@pytest.mark.parametrize("value", [["ok", ""], ["ok", 3], [None]])
def test_entries_that_are_not_strings_are_refused(value: list[Any]) -> None:
    with pytest.raises(ValueError, match="every entry must be a non-empty string"):
        string_list({"exemptRepositories": value}, "exemptRepositories", "p")


# --- invariants -------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("POLICY_EXAMPLES", "150")), deadline=None
)

_actions = st.sampled_from(
    [BATCH, LAYER, "ecr:PutImage", "ecr:*", "ecr:Batch*", "ECR:batchgetimage", "*"]
)
_arns = st.sampled_from(
    [f"{ROLE}/ci", f"{ROLE}/release", PULLER, "arn:aws:iam::111122223333:root", ACCOUNT]
)
_services = st.sampled_from(["codebuild.amazonaws.com", "lambda.amazonaws.com"])
_condition_values = st.lists(
    st.sampled_from(["o-abc123def4", ACCOUNT, "platform"]), min_size=1, max_size=2, unique=True
)


def _strings(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(values, min_size=1, max_size=3, unique=True)


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    """A statement in a canonical spelling: every list a list (``reformat`` varies it)."""
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    who = draw(st.sampled_from(["Principal", "NotPrincipal"]))
    kind = draw(st.sampled_from(["AWS", "AWS", "Service", "*"]))
    if kind == "*":
        statement[who] = {"AWS": ["*"]}
    else:
        statement[who] = {kind: draw(_strings(_arns if kind == "AWS" else _services))}
    statement[draw(st.sampled_from(["Action", "NotAction"]))] = draw(_strings(_actions))
    if draw(st.booleans()):
        operator = draw(st.sampled_from(["StringEquals", "StringLike"]))
        key = draw(st.sampled_from(["aws:PrincipalOrgID", "aws:SourceAccount"]))
        statement["Condition"] = {operator: {key: draw(_condition_values)}}
    return statement


@st.composite
def documents(draw: st.DrawFn, min_size: int = 1) -> dict[str, Any]:
    """A document with unique Sids (ECR's rule), some statements without any."""
    found = draw(st.lists(statements(), min_size=min_size, max_size=5))
    sids = iter(
        draw(st.permutations(["CiPush", "OrgPull", "Audit", "AllowLightsailPull-api", "X"]))
    )
    for statement in found:
        if draw(st.booleans()):
            statement["Sid"] = next(sids)
    version = draw(st.sampled_from(["2012-10-17", "2008-10-17"]))
    return {"Version": version, "Statement": found}


def _as_written(draw: st.DrawFn, value: Any) -> Any:
    """A list as IAM lets one write it: a one-element list may be a bare string."""
    if isinstance(value, list):
        value = draw(st.permutations(value))
        if len(value) == 1 and draw(st.booleans()):
            return value[0]
        return list(value)
    return value


@st.composite
def reformatted(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """The same document as someone else would write it: statements and lists reordered,
    one-element lists as strings, everyone as ``"*"``, keys in any order."""
    out = []
    for statement in copy.deepcopy(document["Statement"]):
        for key in ("Action", "NotAction"):
            if key in statement:
                statement[key] = _as_written(draw, statement[key])
        for key in ("Principal", "NotPrincipal"):
            if key not in statement:
                continue
            if statement[key] == {"AWS": ["*"]} and draw(st.booleans()):
                statement[key] = "*"
            else:
                statement[key] = {k: _as_written(draw, v) for k, v in statement[key].items()}
        for tests in statement.get("Condition", {}).values():
            for key in tests:
                tests[key] = _as_written(draw, tests[key])
        keys = draw(st.permutations(list(statement)))
        out.append({key: statement[key] for key in keys})
    out = list(draw(st.permutations(out)))
    shape: Any = out[0] if len(out) == 1 and draw(st.booleans()) else out
    return {"Version": draw(st.sampled_from(["2012-10-17", "2008-10-17"])), "Statement": shape}


@PROPERTY_SETTINGS
@given(documents())
def test_property_a_document_never_removes_its_own_statements(document: dict[str, Any]) -> None:
    assert removed_statements(document, copy.deepcopy(document)) == []
    # Also when read back from ECR as text.
    assert removed_statements(document, json.loads(json.dumps(document))) == []


@PROPERTY_SETTINGS
@given(documents(), st.lists(statements(), min_size=1, max_size=3), st.data())
def test_property_adding_statements_never_removes(
    document: dict[str, Any], added: list[dict[str, Any]], data: st.DataObject
) -> None:
    proposed = copy.deepcopy(document)
    for statement in added:
        proposed["Statement"].insert(
            data.draw(st.integers(0, len(proposed["Statement"]))), statement
        )
    assert removed_statements(document, proposed) == []


@PROPERTY_SETTINGS
@given(st.data())
def test_property_a_reformatted_document_never_removes(data: st.DataObject) -> None:
    document = data.draw(documents())
    rewritten = data.draw(reformatted(document))
    assert removed_statements(document, rewritten) == []
    assert removed_statements(rewritten, document) == []
    assert sorted(map(canonical, document["Statement"])) == sorted(
        canonical(s)
        for s in (
            rewritten["Statement"]
            if isinstance(rewritten["Statement"], list)
            else [rewritten["Statement"]]
        )
    )


@PROPERTY_SETTINGS
@given(documents(), st.data())
def test_property_a_dropped_statement_is_reported_unless_still_held(
    document: dict[str, Any], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(document["Statement"]) - 1))
    dropped = document["Statement"][index]
    rest = document["Statement"][:index] + document["Statement"][index + 1 :]
    found = removed_statements(document, {"Statement": rest})
    # Held: with a Sid, only under that Sid (the generated Sids are unique, so no other
    # statement has it); without one, the same permissions under any Sid or none.
    sid = dropped.get("Sid")
    still_held = not sid and canonical(dropped, with_sid=False) in {
        canonical(s, with_sid=False) for s in rest
    }
    assert found == ([] if still_held else [dropped])


@PROPERTY_SETTINGS
@given(documents(), documents(min_size=0))
def test_property_what_is_removed_comes_from_the_live_document_in_order(
    live: dict[str, Any], proposed: dict[str, Any]
) -> None:
    found = removed_statements(live, proposed)
    positions = [next(i for i, s in enumerate(live["Statement"]) if s is f) for f in found]
    assert positions == sorted(positions)
    held = {canonical(s) for s in proposed["Statement"]}
    assert all(canonical(s) not in held for s in found)


def test_a_statement_without_sid_is_kept_by_the_same_permissions_under_a_sid() -> None:
    with_sid = {**NO_SID, "Sid": "RootReads", "Action": [BATCH.upper()]}
    assert removed_statements({"Statement": [NO_SID]}, {"Statement": [with_sid]}) == []


def test_a_renamed_sid_is_gone_even_with_the_same_permissions() -> None:
    # Its owner finds it by the old Sid: to them it is gone.
    renamed = {**CI_PUSH, "Sid": "PlatformPush", "Action": [a.upper() for a in CI_PUSH["Action"]]}
    assert removed_statements({"Statement": [CI_PUSH]}, {"Statement": [renamed]}) == [CI_PUSH]
    # The component finds its grant by Sid, to check it and to revoke it.
    moved = {**GRANT, "Sid": "PullForWeb"}
    assert removed_statements({"Statement": [GRANT]}, {"Statement": [moved]}) == [GRANT]


def stack_grant(stack: str, account: str = "111122223333") -> dict[str, Any]:
    """What a per-stack loop writes: one statement per stack, all for one account."""
    return {
        "Sid": f"AllowECRAccess-{stack}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": [BATCH, LAYER],
    }


PULL = {
    "Sid": "AllowPull",
    "Effect": "Allow",
    "Principal": {"AWS": f"{ROLE}/ci"},
    "Action": [BATCH, LAYER],
}
PUSH = {
    "Sid": "AllowPush",
    "Effect": "Allow",
    "Principal": {"AWS": f"{ROLE}/ci"},
    "Action": [BATCH, LAYER, "ecr:PutImage"],
}
SAME_AS_PULL = {**PULL, "Sid": "AllowPush"}  # another Sid, exactly the same permissions


@pytest.mark.parametrize(
    ("case", "live", "proposed", "gone"),
    [
        # A Sid dropped beside another statement that grants the same: reported.
        (
            "one of two per-stack statements for one account",
            doc(stack_grant("prod"), stack_grant("staging")),
            doc(stack_grant("prod")),
            ["AllowECRAccess-staging"],
        ),
        (
            "AllowPull beside an AllowPush that grants the same",
            doc(PULL, SAME_AS_PULL),
            doc(SAME_AS_PULL),
            ["AllowPull"],
        ),
        (
            "AllowPull beside an AllowPush that grants more",
            doc(PULL, PUSH),
            doc(PUSH),
            ["AllowPull"],
        ),
        ("AllowPull folded into a new AllowPush", doc(PULL), doc(SAME_AS_PULL), ["AllowPull"]),
        (
            "a Sid dropped beside its content without a Sid",
            doc(PULL),
            doc({k: v for k, v in PULL.items() if k != "Sid"}),
            ["AllowPull"],
        ),
        (
            "one of two statements that share a Sid",
            doc(PULL, {**PULL, "Action": "ecr:*"}),
            doc(PULL),
            [describe_statement({**PULL, "Action": "ecr:*"})],
        ),
        # Reformatted, reordered or edited by its owner under its Sid: kept.
        (
            "per-stack statements reordered",
            doc(stack_grant("prod"), stack_grant("staging")),
            doc(stack_grant("staging"), stack_grant("prod")),
            [],
        ),
        (
            "per-stack statements reformatted",
            doc(stack_grant("prod"), stack_grant("staging")),
            doc(
                *(
                    {
                        **stack_grant(s),
                        "Action": [LAYER.upper(), BATCH],
                        "Principal": {"AWS": [stack_grant(s)["Principal"]["AWS"]]},
                    }
                    for s in ("staging", "prod")
                )
            ),
            [],
        ),
        (
            "AllowPull edited by its owner",
            doc(PULL, SAME_AS_PULL),
            doc({**PULL, "Action": BATCH}, SAME_AS_PULL),
            [],
        ),
        (
            "both statements that share a Sid, reordered",
            doc(PULL, {**PULL, "Action": "ecr:*"}),
            doc({**PULL, "Action": "ecr:*"}, PULL),
            [],
        ),
        # Without a Sid only the meaning counts, wherever it is held.
        (
            "a statement without Sid held by one with a Sid",
            doc(NO_SID),
            doc({**NO_SID, "Sid": "RootReads"}),
            [],
        ),
        (
            "a statement without Sid reformatted",
            doc(NO_SID),
            doc({**NO_SID, "Action": [BATCH]}),
            [],
        ),
        (
            "a statement without Sid changed",
            doc(NO_SID),
            doc({**NO_SID, "Action": LAYER}),
            [describe_statement(NO_SID)],
        ),
    ],
)
def test_every_live_sid_a_document_drops_is_reported(
    case: str, live: dict[str, Any], proposed: dict[str, Any], gone: list[str]
) -> None:
    assert removed(live, proposed) == gone, case
