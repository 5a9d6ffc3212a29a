"""Tests of components/rules/operator_policy.py: least privilege for whoever runs `pulumi up`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.rules.operator_policy import operator_policy
from tests.conftest import ACCOUNT, REGION

# The AWS guide's "Required permissions" for managing repository policies.
GUIDE_ECR_ACTIONS = {
    "ecr:SetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:DeleteRepositoryPolicy",
    "ecr:GetRepositoryPolicy",
}
DEPLOYMENT_ACTIONS = {
    "lightsail:CreateContainerServiceDeployment",
    "lightsail:GetContainerServiceDeployments",
}
ARNS = [
    f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/web",
    f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app",
]


def parsed(arns: list[str], deploys: bool) -> dict[str, Any]:
    text = operator_policy(arns, deploys)
    assert isinstance(text, str)
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


def ecr_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if any(a.startswith("ecr:") for a in s["Action"])]


def all_actions(document: dict[str, Any]) -> list[str]:
    return [a for s in document["Statement"] for a in s["Action"]]


@pytest.mark.parametrize("deploys", [True, False])
@pytest.mark.parametrize("arns", [ARNS, []])
def test_output_is_valid_iam_json(arns: list[str], deploys: bool) -> None:
    document = parsed(arns, deploys)
    assert document["Version"] == "2012-10-17"
    assert isinstance(document["Statement"], list) and document["Statement"]
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert isinstance(statement["Action"], list) and statement["Action"]
        assert len(statement["Action"]) == len(set(statement["Action"]))
        assert statement["Resource"]


def test_ecr_statement_has_exactly_the_guide_actions_on_exactly_the_repositories() -> None:
    (statement,) = ecr_statements(parsed(ARNS, deploys=False))
    assert set(statement["Action"]) == GUIDE_ECR_ACTIONS
    assert len(statement["Action"]) == 4
    assert sorted(statement["Resource"]) == sorted(ARNS)
    assert "*" not in json.dumps(statement)


def test_ecr_actions_appear_only_in_the_scoped_statement() -> None:
    document = parsed(ARNS, deploys=False)
    ecr = [a for a in all_actions(document) if a.startswith("ecr:")]
    assert sorted(ecr) == sorted(GUIDE_ECR_ACTIONS)
    # A deployment's image tags are checked first: DescribeImages, on the same repositories.
    (statement,) = ecr_statements(parsed(ARNS, deploys=True))
    assert sorted(statement["Action"]) == sorted([*GUIDE_ECR_ACTIONS, "ecr:DescribeImages"])


def test_single_repository() -> None:
    (statement,) = ecr_statements(parsed(ARNS[:1], deploys=False))
    assert statement["Resource"] == ARNS[:1]


def test_resource_order_does_not_depend_on_input_order() -> None:
    assert operator_policy(ARNS, True) == operator_policy(list(reversed(ARNS)), True)


def test_input_is_not_mutated() -> None:
    arns = list(ARNS)
    operator_policy(arns, False)
    assert arns == ARNS


def test_no_ecr_statement_without_repositories() -> None:
    document = parsed([], deploys=True)
    assert ecr_statements(document) == []
    assert not any(a.startswith("ecr:") for a in all_actions(document))


def test_deployment_actions_only_when_deploying_containers() -> None:
    with_deploy = set(all_actions(parsed(ARNS, deploys=True)))
    without = set(all_actions(parsed(ARNS, deploys=False)))
    assert with_deploy >= DEPLOYMENT_ACTIONS
    assert not DEPLOYMENT_ACTIONS & without
    assert with_deploy - without == DEPLOYMENT_ACTIONS | {"ecr:DescribeImages"}


def test_lightsail_actions_the_program_calls_are_always_there() -> None:
    actions = set(all_actions(parsed([], deploys=False)))
    # What components.aws (lightsail_api) and the ContainerService resource call.
    assert {
        "lightsail:GetContainerServices",
        "lightsail:UpdateContainerService",
        "lightsail:CreateContainerService",
        "lightsail:DeleteContainerService",
    } <= actions
    assert all(a.startswith("lightsail:") for a in actions)


# --- the doctor's reads --------------------------------------------------------------

DOCTOR_READS = {
    "ecr:DescribeRepositories",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "lightsail:GetContainerServices",
    "lightsail:GetContainerServiceDeployments",
    "lightsail:GetContainerLog",
}
_READ_VERBS = ("Get", "Describe", "BatchGet", "List")


def parsed_with_diagnosis(arns: list[str], deploys: bool) -> dict[str, Any]:
    document = json.loads(operator_policy(arns, deploys, diagnosis=True))
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("deploys", [True, False])
def test_diagnosis_adds_every_read_the_doctor_makes(deploys: bool) -> None:
    document = parsed_with_diagnosis(ARNS, deploys)
    assert set(all_actions(document)) >= DOCTOR_READS
    # Only reads were added to what `pulumi up` needs.
    added = set(all_actions(document)) - set(all_actions(parsed(ARNS, deploys)))
    assert added and all(a.split(":")[1].startswith(_READ_VERBS) for a in added)


def test_diagnosis_reads_are_in_their_own_statements_scoped_like_the_rest() -> None:
    document = parsed_with_diagnosis(ARNS, deploys=False)
    sids = [s["Sid"] for s in document["Statement"]]
    assert sids == [
        "ManageLightsailContainerService",
        "ManageEcrPrivateRepositoriesAccess",
        "DiagnoseLightsailContainerService",
        "DiagnoseEcrPrivateRepositories",
    ]
    ecr_reads = document["Statement"][3]
    assert ecr_reads["Action"] == ["ecr:DescribeImages", "ecr:BatchGetImage"]
    assert ecr_reads["Resource"] == sorted(ARNS)
    # The statements for `pulumi up` are exactly what they are without diagnosis.
    assert document["Statement"][:2] == parsed(ARNS, deploys=False)["Statement"]
    # No action is listed twice across the whole policy.
    assert len(all_actions(document)) == len(set(all_actions(document)))


def test_diagnosis_without_repositories_reads_only_lightsail() -> None:
    document = parsed_with_diagnosis([], deploys=True)
    assert not any(a.startswith("ecr:") for a in all_actions(document))
    assert "lightsail:GetContainerLog" in all_actions(document)
    # Deploying already allows reading deployments; it is not listed again.
    assert all_actions(document).count("lightsail:GetContainerServiceDeployments") == 1
