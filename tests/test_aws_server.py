"""The emulated AWS server, reached over HTTP with plain boto3 as another process would."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from realengine.aws_server import EmulatedAwsServer

PROD = "222222222222"


@pytest.fixture(scope="module")
def aws() -> Iterator[EmulatedAwsServer]:
    with EmulatedAwsServer(principal_arn_after=3) as server:
        yield server


def _grant(principal: str, sid: str = "AllowLightsailPull-web") -> dict[str, Any]:
    return {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }


def _wait_for_arn(lightsail: Any, name: str) -> tuple[str, int]:
    for look in range(10):
        found = lightsail.get_container_services(serviceName=name)["containerServices"][0]
        arn = found["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
        if arn:
            return str(arn), look
    raise AssertionError("the puller role's ARN never appeared")


def test_ecr_repository_and_policy_round_trip(aws: EmulatedAwsServer) -> None:
    aws.create_repository("server-app", _grant("arn:aws:iam::123456789012:role/ci", "Ci"))
    assert aws.policy("server-app") == _grant("arn:aws:iam::123456789012:role/ci", "Ci")
    ecr = aws.client("ecr")
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        ecr.get_repository_policy(repositoryName="no-such-repository")
    with pytest.raises(ClientError, match="Invalid repository policy provided"):
        ecr.set_repository_policy(
            repositoryName="server-app",
            policyText=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
    assert aws.policy("server-app") == _grant("arn:aws:iam::123456789012:role/ci", "Ci")


def test_puller_role_arn_appears_after_the_configured_polls(aws: EmulatedAwsServer) -> None:
    lightsail = aws.client("lightsail")
    created = lightsail.create_container_service(
        serviceName="server-web",
        power="nano",
        scale=1,
        privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}},
    )["containerService"]
    assert created["privateRegistryAccess"]["ecrImagePullerRole"] == {
        "isActive": True,
        "principalArn": "",
    }
    arn, look = _wait_for_arn(lightsail, "server-web")
    # Three empty looks (the creation was the first), then the ARN.
    assert look == 2
    assert arn.startswith(
        "arn:aws:iam::123456789012:role/amazon/lightsail/us-east-1/containers/server-web/"
        "private-repo-access/"
    )
    assert created["principalArn"] != arn  # the service's own principal is another one


def test_accounts_are_separated_by_access_key(aws: EmulatedAwsServer) -> None:
    assert aws.client("sts").get_caller_identity()["Account"] == "123456789012"
    assert aws.client("sts", account=PROD).get_caller_identity()["Account"] == PROD
    assert aws.client("sts", profile="prod").get_caller_identity()["Account"] == PROD
    prod = aws.client("lightsail", profile="prod")
    prod.create_container_service(serviceName="server-prod-only", power="nano", scale=1)
    names = {
        s["containerServiceName"]
        for s in aws.client("lightsail").get_container_services()["containerServices"]
    }
    assert "server-prod-only" not in names
    found = prod.get_container_services(serviceName="server-prod-only")["containerServices"][0]
    assert found["arn"].startswith(f"arn:aws:lightsail:us-east-1:{PROD}:")
    aws.client("ecr", account=PROD).create_repository(repositoryName="server-prod-repo")
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        aws.client("ecr").describe_repositories(repositoryNames=["server-prod-repo"])


def test_a_deployment_pulls_only_when_the_policy_names_the_puller_role(
    aws: EmulatedAwsServer,
) -> None:
    lightsail = aws.client("lightsail")
    lightsail.create_container_service(
        serviceName="server-deploy",
        power="nano",
        scale=1,
        privateRegistryAccess={"ecrImagePullerRole": {"isActive": True}},
    )
    arn, _ = _wait_for_arn(lightsail, "server-deploy")
    aws.create_repository("server-images", _grant("arn:aws:iam::123456789012:role/other"))
    aws.push_image("server-images", "1.0")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/server-images:1.0"
    containers = {"app": {"image": image, "ports": {"80": "HTTP"}}}

    failed = lightsail.create_container_service_deployment(
        serviceName="server-deploy", containers=containers
    )["containerService"]["currentDeployment"]
    assert failed["state"] == "FAILED"
    log = lightsail.get_container_log(serviceName="server-deploy", containerName="app")
    assert any("Failed to pull image" in e["message"] for e in log["logEvents"])

    aws.set_policy("server-images", _grant(arn))
    active = lightsail.create_container_service_deployment(
        serviceName="server-deploy", containers=containers
    )["containerService"]["currentDeployment"]
    assert (active["state"], active["version"]) == ("ACTIVE", 2)


def test_faults_and_control_paths(aws: EmulatedAwsServer) -> None:
    aws.create_repository("server-faulty")
    ecr = aws.client("ecr")
    aws.fail("ecr", "GetRepositoryPolicy", "AccessDeniedException", times=1, status=400)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        ecr.get_repository_policy(repositoryName="server-faulty")
    # Once only: the next call reaches moto again.
    with pytest.raises(ClientError, match="RepositoryPolicyNotFoundException"):
        ecr.get_repository_policy(repositoryName="server-faulty")
    aws.fail("lightsail", "GetContainerServices", "ServiceException", status=500)
    lightsail = aws.client("lightsail")
    lightsail.meta.config.retries = {"max_attempts": 0}
    with pytest.raises(ClientError, match="ServiceException"):
        lightsail.get_container_services()
    aws.clear_faults()
    aws.add_existing_service("server-by-hand", tags={"team": "platform"}, role_active=True)
    found = lightsail.get_container_services(serviceName="server-by-hand")["containerServices"]
    assert found[0]["tags"] == [{"key": "team", "value": "platform"}]
    assert aws.lightsail_calls("GetContainerServices")[-1][1] == {"serviceName": "server-by-hand"}


def test_the_server_process_ends_with_the_context() -> None:
    with EmulatedAwsServer() as server:
        pid = server._process.pid if server._process else 0
        assert server.client("sts").get_caller_identity()["Account"] == "123456789012"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_ecr_calls_are_logged_with_their_caller_and_times(aws: EmulatedAwsServer) -> None:
    aws.create_repository("server-logged")
    aws.clear_ecr_calls()
    session = aws.session()
    ecr = session.client(
        "ecr",
        endpoint_url=aws.endpoint,
        config=Config(user_agent_extra="tester/1"),
    )
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName="server-logged")
    ecr.set_repository_policy(
        repositoryName="server-logged", policyText=json.dumps(_grant("arn:aws:iam::1:role/x"))
    )

    read, write = aws.ecr_calls()
    assert (read["operation"], read["repository"], read["error"]) == (
        "GetRepositoryPolicy",
        "server-logged",
        "RepositoryPolicyNotFoundException",
    )
    assert (write["operation"], write["repository"], write["error"]) == (
        "SetRepositoryPolicy",
        "server-logged",
        None,
    )
    assert "tester/1" in read["user_agent"] and "tester/1" in write["user_agent"]
    assert read["start"] <= read["end"] <= write["start"] <= write["end"]
    # The body went on to moto whole: the policy was written.
    assert aws.policy("server-logged") == _grant("arn:aws:iam::1:role/x")
    aws.clear_ecr_calls()
    assert aws.ecr_calls() == []


def test_latency_of_one_operation_for_one_caller(aws: EmulatedAwsServer) -> None:
    aws.create_repository("server-slow")
    aws.add_latency("ecr", 0.5, operation="GetRepositoryPolicy", user_agent="slow-caller")
    try:
        slow = aws.session().client(
            "ecr",
            endpoint_url=aws.endpoint,
            config=Config(user_agent_extra="slow-caller"),
        )
        aws.clear_ecr_calls()
        aws.policy("server-slow")  # another caller: no wait
        with pytest.raises(ClientError):
            slow.get_repository_policy(repositoryName="server-slow")
        slow.describe_repositories(repositoryNames=["server-slow"])  # another operation
    finally:
        aws.add_latency("ecr", 0, operation="GetRepositoryPolicy", user_agent="slow-caller")
    other, slowed, described = aws.ecr_calls()
    # The log's start is taken after the wait: the wait shows as the gap between calls.
    assert slowed["start"] - other["end"] >= 0.5
    assert described["start"] - slowed["end"] < 0.5
