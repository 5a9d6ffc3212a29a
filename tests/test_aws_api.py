"""Tests of the AWS calls (components/aws/sdk.py, ecr_api.py, sts_api.py and
lightsail_api.py) against moto (ECR, STS) and botocore's Stubber (Lightsail)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from components.aws import ecr_api, lightsail_api, sdk, sts_api
from components.aws.sdk import AwsCallError, aws_call
from components.rules.repository import repository_arn
from tests.conftest import ACCOUNT, REGION, ROLE_ARN

NAME = "team/app"
ARN = repository_arn(REGION, ACCOUNT, NAME)
POLICY = json.dumps(
    {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Sid": "AllowLightsailPull-web",
                "Effect": "Allow",
                "Principal": {"AWS": ROLE_ARN},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)

InjectError = Callable[[str, str, str], None]


@pytest.fixture
def repository(ecr: Any) -> str:
    ecr.create_repository(repositoryName=NAME)
    return NAME


@pytest.fixture
def project_ecr(ecr: Any) -> Any:
    """The ECR client the functions under test receive.

    Building a client with ``sdk.client`` parses botocore's data files anew (a new
    session each time, as the dynamic providers need); the tests that are about the
    client, or inject faults into it, build one that way. The rest share boto3's default
    session, which is the same kind of client, to keep the suite fast.
    """
    return ecr


# --- clients and ARNs -----------------------------------------------------------------


def test_client_is_built_for_the_explicit_region() -> None:
    built = sdk.client("ecr", "eu-west-1")
    assert built.meta.region_name == "eu-west-1"
    assert built.meta.config.retries["mode"] == "standard"


def test_project_client_reaches_moto_and_arn_matches(repository: str) -> None:
    described = ecr_api.describe_repository(sdk.client("ecr", REGION), repository, REGION)
    assert described["repositoryArn"] == ARN
    assert described["repositoryName"] == NAME


# --- ECR --------------------------------------------------------------------------------


def test_describe_missing_repository_names_repository_and_region(moto_aws: None) -> None:
    with pytest.raises(AwsCallError) as info:
        ecr_api.describe_repository(sdk.client("ecr", REGION), "team/missing", REGION)
    message = str(info.value)
    assert "'team/missing'" in message
    assert f"Region {REGION}" in message
    assert "does not exist" in message
    assert "`repositories`" in message
    assert info.value.code == "RepositoryNotFoundException"


def test_get_policy_text_is_none_without_a_policy(project_ecr: Any, repository: str) -> None:
    assert ecr_api.get_policy_text(project_ecr, repository, ARN) is None


def test_get_policy_text_returns_the_text_when_set(
    ecr: Any, project_ecr: Any, repository: str
) -> None:
    ecr.set_repository_policy(repositoryName=repository, policyText=POLICY)
    text = ecr_api.get_policy_text(project_ecr, repository, ARN)
    assert isinstance(text, str)
    assert json.loads(text) == json.loads(POLICY)


def test_get_policy_text_of_missing_repository_is_an_error(project_ecr: Any) -> None:
    with pytest.raises(AwsCallError) as info:
        ecr_api.get_policy_text(project_ecr, "team/missing", ARN)
    assert info.value.code == "RepositoryNotFoundException"
    assert "ecr:GetRepositoryPolicy" in str(info.value)


def test_set_policy_text_then_get(ecr: Any, project_ecr: Any, repository: str) -> None:
    ecr_api.set_policy_text(project_ecr, repository, ARN, POLICY)
    assert json.loads(ecr_api.get_policy_text(project_ecr, repository, ARN) or "") == json.loads(
        POLICY
    )
    # And ECR itself agrees.
    stored = ecr.get_repository_policy(repositoryName=repository)["policyText"]
    assert json.loads(stored) == json.loads(POLICY)


def test_delete_policy_removes_it(ecr: Any, project_ecr: Any, repository: str) -> None:
    ecr.set_repository_policy(repositoryName=repository, policyText=POLICY)
    ecr_api.delete_policy(project_ecr, repository, ARN)
    assert ecr_api.get_policy_text(project_ecr, repository, ARN) is None


def test_delete_policy_without_a_policy_does_not_raise(project_ecr: Any, repository: str) -> None:
    ecr_api.delete_policy(project_ecr, repository, ARN)
    ecr_api.delete_policy(project_ecr, repository, ARN)
    assert ecr_api.get_policy_text(project_ecr, repository, ARN) is None


def test_delete_policy_of_missing_repository_is_an_error(project_ecr: Any) -> None:
    with pytest.raises(AwsCallError) as info:
        ecr_api.delete_policy(project_ecr, "team/missing", ARN)
    assert info.value.code == "RepositoryNotFoundException"


# --- STS --------------------------------------------------------------------------------


def test_caller_account(moto_aws: None) -> None:
    assert sts_api.caller_account(sdk.client("sts", REGION)) == ACCOUNT


# --- error translation ------------------------------------------------------------------


def test_access_denied_names_action_resource_and_operator_policy(
    inject_error: InjectError, repository: str
) -> None:
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    project_ecr = sdk.client("ecr", REGION)
    with pytest.raises(AwsCallError) as info:
        ecr_api.get_policy_text(project_ecr, repository, ARN)
    message = str(info.value)
    assert "ecr:GetRepositoryPolicy" in message
    assert ARN in message
    assert "operatorPolicy" in message
    assert info.value.code == "AccessDeniedException"


@pytest.mark.parametrize(
    ("code", "operation", "action", "call"),
    [
        (
            "AccessDenied",
            "SetRepositoryPolicy",
            "ecr:SetRepositoryPolicy",
            lambda c: ecr_api.set_policy_text(c, NAME, ARN, POLICY),
        ),
        (
            "AccessDeniedException",
            "DeleteRepositoryPolicy",
            "ecr:DeleteRepositoryPolicy",
            lambda c: ecr_api.delete_policy(c, NAME, ARN),
        ),
        (
            "UnauthorizedOperation",
            "DescribeRepositories",
            "ecr:DescribeRepositories",
            lambda c: ecr_api.describe_repository(c, NAME, REGION),
        ),
    ],
)
def test_access_denied_on_every_ecr_call_names_its_action(
    inject_error: InjectError,
    repository: str,
    code: str,
    operation: str,
    action: str,
    call: Callable[[Any], Any],
) -> None:
    inject_error("ecr", operation, code)
    with pytest.raises(AwsCallError) as info:
        call(sdk.client("ecr", REGION))
    message = str(info.value)
    assert f"AWS denied {action}" in message
    assert "operatorPolicy" in message
    assert info.value.code == code


def test_other_error_code_is_kept_in_message_and_code(
    inject_error: InjectError, repository: str
) -> None:
    inject_error("ecr", "GetRepositoryPolicy", "KmsException")
    with pytest.raises(AwsCallError) as info:
        ecr_api.get_policy_text(sdk.client("ecr", REGION), repository, ARN)
    message = str(info.value)
    assert "KmsException" in message
    assert "ecr:GetRepositoryPolicy" in message
    assert ARN in message
    assert "injected" in message  # AWS's own message is kept
    assert "denied" not in message
    assert info.value.code == "KmsException"


def test_injected_error_leaves_other_operations_alone(
    inject_error: InjectError, repository: str
) -> None:
    inject_error("ecr", "SetRepositoryPolicy", "AccessDeniedException")
    assert ecr_api.get_policy_text(sdk.client("ecr", REGION), repository, ARN) is None


def test_missing_credentials_say_so() -> None:
    with pytest.raises(AwsCallError) as info, aws_call("ecr:GetRepositoryPolicy", ARN):
        raise NoCredentialsError()
    message = str(info.value)
    assert "ecr:GetRepositoryPolicy" in message
    assert ARN in message
    assert "credentials" in message
    assert "none were found" in message
    assert info.value.code is None


def test_other_botocore_errors_are_wrapped() -> None:
    with pytest.raises(AwsCallError) as info, aws_call("sts:GetCallerIdentity", "me"):
        raise EndpointConnectionError(endpoint_url="https://example.invalid")
    message = str(info.value)
    assert message.startswith("sts:GetCallerIdentity on me failed:")
    assert "example.invalid" in message


def test_aws_call_lets_success_and_unrelated_errors_through() -> None:
    with aws_call("x:Y", "z"):
        value = 1
    assert value == 1
    with pytest.raises(KeyError), aws_call("x:Y", "z"):
        raise KeyError("not an AWS error")


def test_error_code_of_non_client_error_is_none() -> None:
    assert sdk.error_code(ValueError("x")) is None


# --- Lightsail (no moto: botocore's Stubber) ------------------------------------------


@pytest.fixture
def lightsail() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lightsail", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_get_container_service_is_none_when_not_found(lightsail: tuple[Any, Stubber]) -> None:
    client, stubber = lightsail
    stubber.add_client_error(
        "get_container_services",
        service_error_code="NotFoundException",
        expected_params={"serviceName": "web"},
    )
    assert lightsail_api.get_container_service(client, "web") is None


def test_get_container_service_is_none_for_an_empty_list(
    lightsail: tuple[Any, Stubber],
) -> None:
    client, stubber = lightsail
    stubber.add_response(
        "get_container_services", {"containerServices": []}, {"serviceName": "web"}
    )
    assert lightsail_api.get_container_service(client, "web") is None


def test_get_container_service_returns_the_service(lightsail: tuple[Any, Stubber]) -> None:
    client, stubber = lightsail
    service = {
        "containerServiceName": "web",
        "state": "READY",
        "privateRegistryAccess": {
            "ecrImagePullerRole": {"isActive": True, "principalArn": ROLE_ARN}
        },
    }
    stubber.add_response(
        "get_container_services", {"containerServices": [service]}, {"serviceName": "web"}
    )
    result = lightsail_api.get_container_service(client, "web")
    assert result is not None
    assert result["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"] == ROLE_ARN


def test_get_container_service_access_denied_names_the_action(
    lightsail: tuple[Any, Stubber],
) -> None:
    client, stubber = lightsail
    stubber.add_client_error("get_container_services", service_error_code="AccessDeniedException")
    with pytest.raises(AwsCallError) as info:
        lightsail_api.get_container_service(client, "web")
    message = str(info.value)
    assert "lightsail:GetContainerServices" in message
    assert "container service web" in message
    assert "operatorPolicy" in message


@pytest.mark.parametrize("active", [True, False])
def test_set_puller_role_sends_private_registry_access(
    lightsail: tuple[Any, Stubber], active: bool
) -> None:
    client, stubber = lightsail
    stubber.add_response(
        "update_container_service",
        {},
        expected_params={
            "serviceName": "web",
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": active}},
        },
    )
    lightsail_api.set_puller_role(client, "web", active)


def test_set_puller_role_error_names_the_action(lightsail: tuple[Any, Stubber]) -> None:
    client, stubber = lightsail
    stubber.add_client_error(
        "update_container_service",
        service_error_code="InvalidInputException",
        service_message="bad input",
    )
    with pytest.raises(AwsCallError) as info:
        lightsail_api.set_puller_role(client, "web", True)
    message = str(info.value)
    assert "lightsail:UpdateContainerService on container service web failed" in message
    assert "InvalidInputException: bad input" in message
    assert info.value.code == "InvalidInputException"
