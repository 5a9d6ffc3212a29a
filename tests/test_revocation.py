"""Removing one service's statement from a repository policy, against moto's ECR.

The repository policy is shared: the checks here are mostly about what must survive a
revocation (other teams' statements, their order and content, the document's Version).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from components.aws import ecr_api, revocation, sdk
from components.aws.revocation import Revocation, revoke_statement
from components.rules import policy
from components.rules.policy import MalformedPolicyError, pull_statement, statement_sid
from tests.conftest import ACCOUNT, REGION, ROLE_ARN, put_policy

REPOSITORY = "team/app"
SID = statement_sid("web")

OTHER_TEAM: dict[str, Any] = {
    "Sid": "AllowCiPush",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg"}},
}
AUDITORS: dict[str, Any] = {
    "Sid": "AllowAuditRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": ["ecr:DescribeImages"],
}


@pytest.fixture
def repository(ecr: Any) -> str:
    ecr.create_repository(repositoryName=REPOSITORY)
    return REPOSITORY


def stored_document(ecr: Any) -> dict[str, Any]:
    return json.loads(ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"])


def test_removes_only_our_statement_keeping_others_in_order(ecr: Any, repository: str) -> None:
    put_policy(
        ecr,
        {
            "Version": "2012-10-17",
            "Statement": [OTHER_TEAM, pull_statement("web", ROLE_ARN), AUDITORS],
        },
    )

    outcome = revoke_statement(ecr, repository, REGION, SID)

    assert outcome is Revocation.REMOVED
    document = stored_document(ecr)
    # The existing Version is kept (not replaced by the one used for new documents).
    assert document["Version"] == "2012-10-17"
    assert list(document) == ["Version", "Statement"]
    statements = document["Statement"]
    assert statements == [OTHER_TEAM, AUDITORS]
    # Byte-equal: the same keys in the same order, with the same values.
    assert [json.dumps(s) for s in statements] == [json.dumps(OTHER_TEAM), json.dumps(AUDITORS)]
    assert not policy.has_statement(document, SID)


def test_removes_only_the_named_service_when_two_services_share_a_repository(
    ecr: Any, repository: str
) -> None:
    other_service_role = ROLE_ARN.replace("/web/", "/api/")
    put_policy(
        ecr,
        {
            "Version": "2008-10-17",
            "Statement": [
                pull_statement("api", other_service_role),
                pull_statement("web", ROLE_ARN),
            ],
        },
    )

    assert revoke_statement(ecr, repository, REGION, SID) is Revocation.REMOVED

    assert stored_document(ecr) == {
        "Version": "2008-10-17",
        "Statement": [pull_statement("api", other_service_role)],
    }


def test_last_statement_deletes_the_policy(ecr: Any, repository: str) -> None:
    put_policy(ecr, {"Version": "2008-10-17", "Statement": [pull_statement("web", ROLE_ARN)]})

    assert revoke_statement(ecr, repository, REGION, SID) is Revocation.POLICY_DELETED

    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName=REPOSITORY)


def test_single_object_statement_that_is_ours_deletes_the_policy(ecr: Any, repository: str) -> None:
    put_policy(ecr, {"Version": "2008-10-17", "Statement": pull_statement("web", ROLE_ARN)})

    assert revoke_statement(ecr, repository, REGION, SID) is Revocation.POLICY_DELETED

    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName=REPOSITORY)


def test_no_policy_is_not_present(ecr: Any, repository: str) -> None:
    assert revoke_statement(ecr, repository, REGION, SID) is Revocation.NOT_PRESENT

    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName=REPOSITORY)


@pytest.mark.parametrize(
    "document",
    [
        {"Version": "2012-10-17", "Statement": [OTHER_TEAM, AUDITORS]},
        {"Version": "2012-10-17", "Statement": OTHER_TEAM},
    ],
    ids=["list", "single-object"],
)
def test_policy_without_our_sid_is_left_untouched(
    ecr: Any, repository: str, document: dict[str, Any]
) -> None:
    text = put_policy(ecr, document)

    assert revoke_statement(ecr, repository, REGION, SID) is Revocation.NOT_PRESENT

    assert ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"] == text


def test_deleted_repository_is_gone(ecr: Any, repository: str) -> None:
    put_policy(ecr, {"Version": "2008-10-17", "Statement": [pull_statement("web", ROLE_ARN)]})
    ecr.delete_repository(repositoryName=REPOSITORY, force=True)

    assert revoke_statement(ecr, repository, REGION, SID) is Revocation.REPOSITORY_GONE


def test_moto_refuses_invalid_policy_text(ecr: Any, repository: str) -> None:
    """Why the malformed case below fakes the read: emulated ECR will not store it."""
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.set_repository_policy(repositoryName=REPOSITORY, policyText="not json")


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", json.dumps({"Version": "2012-10-17"})],
    ids=["not-json", "not-an-object", "no-statement"],
)
def test_malformed_policy_is_refused_and_nothing_written(
    ecr: Any, repository: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    writes: list[str] = []
    monkeypatch.setattr(ecr_api, "get_policy_text", lambda *_: text)
    monkeypatch.setattr(ecr_api, "set_policy_text", lambda *_: writes.append("set"))
    monkeypatch.setattr(ecr_api, "delete_policy", lambda *_: writes.append("delete"))

    with pytest.raises(MalformedPolicyError) as caught:
        revoke_statement(ecr, repository, REGION, SID)

    message = str(caught.value)
    assert SID in message
    assert REPOSITORY in message
    assert "nothing was changed" in message
    assert writes == []


def test_access_denied_on_read_names_the_action(
    ecr: Any, repository: str, inject_error: Callable[[str, str, str], None]
) -> None:
    text = put_policy(
        ecr, {"Version": "2008-10-17", "Statement": [OTHER_TEAM, pull_statement("web", ROLE_ARN)]}
    )
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")

    with pytest.raises(sdk.AwsCallError) as caught:
        revoke_statement(sdk.client("ecr", REGION), repository, REGION, SID)

    assert "ecr:GetRepositoryPolicy" in str(caught.value)
    assert REPOSITORY in str(caught.value)
    assert caught.value.code == "AccessDeniedException"
    assert ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"] == text


def test_access_denied_on_write_names_the_action_and_changes_nothing(
    ecr: Any, repository: str, inject_error: Callable[[str, str, str], None]
) -> None:
    text = put_policy(
        ecr, {"Version": "2008-10-17", "Statement": [OTHER_TEAM, pull_statement("web", ROLE_ARN)]}
    )
    inject_error("ecr", "SetRepositoryPolicy", "AccessDeniedException")

    with pytest.raises(sdk.AwsCallError) as caught:
        revocation.revoke_statement(sdk.client("ecr", REGION), repository, REGION, SID)

    assert "ecr:SetRepositoryPolicy" in str(caught.value)
    assert ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"] == text
