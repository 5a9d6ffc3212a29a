"""The component under Pulumi's mocks, with ECR (and STS) emulated by moto."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components import ConfigurationError, PrivateEcrContainerService
from components.aws.sdk import AwsCallError
from components.rules.policy import statement_sid
from tests.conftest import ACCOUNT, CI_PUSH, REGION, ROLE_ARN, push_image
from tests.mock_program import Recording, run_program

SERVICE_TYPE = "aws:lightsail/containerService:ContainerService"
POLICY_TYPE = "aws:ecr/repositoryPolicy:RepositoryPolicy"
DEPLOYMENT_TYPE = (
    "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion"
)


@pytest.fixture
def repos(ecr: Any) -> Any:
    """Two repositories: 'team/app' holds another team's statement, 'team/worker' none."""
    ecr.create_repository(repositoryName="team/app")
    ecr.create_repository(repositoryName="team/worker")
    ecr.set_repository_policy(
        repositoryName="team/app",
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [CI_PUSH]}),
    )
    return ecr


def build(name: str = "web", **overrides: Any) -> PrivateEcrContainerService:
    args: dict[str, Any] = {
        "service_name": name,
        "region": REGION,
        "repositories": ["team/app", "team/worker"],
    }
    args.update(overrides)
    return PrivateEcrContainerService(name, args)  # type: ignore[arg-type]


def outputs_of(component: PrivateEcrContainerService) -> pulumi.Output[dict[str, Any]]:
    return pulumi.Output.all(
        principal_arn=component.principal_arn,
        prefixes=component.image_uri_prefixes,
        operator_policy=component.operator_policy,
        url=component.url,
    )


def written_policy(recording: Recording, repository: str) -> dict[str, Any]:
    [policy] = [r for r in recording.of_type(POLICY_TYPE) if r.inputs["repository"] == repository]
    return json.loads(policy.inputs["policy"])


def test_owns_service_role_policies_and_finalizers_as_children(repos: Any) -> None:
    recording, _ = run_program(lambda: outputs_of(build()))

    component = recording.one(":PrivateEcrContainerService")
    assert component.type == "lightsail-ecr:index:PrivateEcrContainerService"
    children = [r for r in recording.resources if r is not component]
    assert {r.parent for r in children} == {component.urn}
    assert sorted(r.name for r in children) == [
        "web-document-team/app",
        "web-document-team/worker",
        "web-grant-team/app",
        "web-grant-team/worker",
        "web-policy-team/app",
        "web-policy-team/worker",
        "web-puller-role",
        "web-service",
        "web-verify-team/app",
        "web-verify-team/worker",
    ]
    service = recording.one(SERVICE_TYPE)
    assert service.inputs["name"] == "web"
    assert service.inputs["privateRegistryAccess"] == {"ecrImagePullerRole": {"isActive": True}}
    # The provider never updates the role; the puller role resource does.
    assert service.ignore_changes == ["privateRegistryAccess"]
    role = recording.one(":PullerRole")
    assert role.inputs["active"] is True and service.urn in role.dependencies


@pytest.mark.parametrize("adopt", [False, True])
def test_existing_service_is_imported_only_when_asked(
    repos: Any, lightsail: Any, adopt: bool
) -> None:
    lightsail.add_existing_service("web", REGION)

    recording, _ = run_program(lambda: outputs_of(build(adopt_existing_service=adopt)))

    assert recording.one(SERVICE_TYPE).import_id == ("web" if adopt else "")


def test_policies_are_retained_and_wait_for_every_finalizer(repos: Any) -> None:
    recording, _ = run_program(lambda: outputs_of(build()))

    role = recording.one(":PullerRole")
    for policy in recording.of_type(POLICY_TYPE):
        # Deleting an aws.ecr.RepositoryPolicy would wipe other teams' statements.
        assert policy.retain_on_delete
        repository = policy.inputs["repository"]
        document = recording.by_name(f"web-document-{repository}")
        verification = recording.by_name(f"web-verify-{repository}")
        # The document is merged once the role's ARN is known, the policy writes it,
        # and the verification reads it back only after that write.
        assert role.urn in document.dependencies
        assert document.urn in policy.dependencies
        assert policy.urn in verification.dependencies
    for finalizer in recording.of_type(":GrantFinalizer"):
        repository = finalizer.inputs["repository"]
        # The finalizer is in the state before the statement it removes is written,
        # by the fresh document (a new grant) or by the policy resource.
        for writer in (f"web-document-{repository}", f"web-policy-{repository}"):
            resource = recording.by_name(writer)
            assert finalizer.urn in resource.dependencies
            assert recording.resources.index(finalizer) < recording.resources.index(resource)
        assert finalizer.inputs["sid"] == "AllowLightsailPull-web"
        assert not finalizer.retain_on_delete


def test_merged_document_keeps_other_statements_and_adds_the_guide_statement(repos: Any) -> None:
    recording, _ = run_program(lambda: outputs_of(build()))

    app = written_policy(recording, "team/app")
    assert app["Version"] == "2012-10-17"
    assert app["Statement"][0] == CI_PUSH
    assert app["Statement"][1] == {
        "Sid": "AllowLightsailPull-web",
        "Effect": "Allow",
        "Principal": {"AWS": ROLE_ARN},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    worker = written_policy(recording, "team/worker")
    assert worker == {"Version": "2008-10-17", "Statement": [app["Statement"][1]]}


def test_outputs(repos: Any) -> None:
    _, outputs = run_program(lambda: outputs_of(build()))

    assert outputs["principal_arn"] == ROLE_ARN
    assert outputs["url"].startswith("https://web.")
    assert outputs["prefixes"] == {
        "team/app": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app",
        "team/worker": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/worker",
    }
    operator = json.loads(outputs["operator_policy"])
    ecr_statement = next(s for s in operator["Statement"] if s["Action"][0].startswith("ecr:"))
    assert ecr_statement["Resource"] == [
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app",
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/worker",
    ]
    # The doctor's reads are in it too, so one policy lets the same identity diagnose.
    diagnosis = [s for s in operator["Statement"] if s["Sid"].startswith("Diagnose")]
    assert {a for s in diagnosis for a in s["Action"]} == {
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "lightsail:GetContainerServiceDeployments",
        "lightsail:GetContainerLog",
    }


def test_preview_with_unknown_principal_does_not_crash(repos: Any) -> None:
    recording, outputs = run_program(lambda: outputs_of(build()), preview=True)

    assert len(recording.of_type(POLICY_TYPE)) == 2
    # The document depends on the still-unknown ARN, so it is not sent as a value.
    assert all(
        isinstance(r.inputs["policy"], pulumi.output.Unknown)
        for r in recording.of_type(POLICY_TYPE)
    )
    # Outputs that need the ARN stay unknown; nothing was computed from a guess.
    assert outputs is None
    # Everything that does not depend on the ARN is already decided.
    assert recording.one(SERVICE_TYPE).inputs["name"] == "web"
    assert len(recording.of_type(":GrantFinalizer")) == 2


def test_repositories_given_as_arn_and_uri_are_the_same_repositories(repos: Any) -> None:
    recording, _ = run_program(
        lambda: outputs_of(
            build(
                repositories=[
                    f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app",
                    f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/worker",
                ]
            )
        )
    )
    assert sorted(r.inputs["repository"] for r in recording.of_type(POLICY_TYPE)) == [
        "team/app",
        "team/worker",
    ]


def test_two_services_on_one_repository_share_one_policy_resource(repos: Any) -> None:
    def program() -> Any:
        build("web", repositories=["team/app"])
        return outputs_of(build("jobs", repositories=["team/app"]))

    recording, _ = run_program(program)

    [policy] = recording.of_type(POLICY_TYPE)
    sids = [s.get("Sid") for s in json.loads(policy.inputs["policy"])["Statement"]]
    assert sids == ["CiPush", "AllowLightsailPull-web", "AllowLightsailPull-jobs"]
    web, jobs = recording.by_name("web-grant-team/app"), recording.by_name("jobs-grant-team/app")
    # Removals are serialised, so two finalizers never race on one document.
    assert web.urn in jobs.dependencies
    # The policy, registered with web's grant, still waits for jobs' finalizer too.
    assert {web.urn, jobs.urn} <= set(policy.dependencies)


def test_grant_declared_after_the_policy_was_computed_is_refused(repos: Any) -> None:
    def program() -> Any:
        web = build("web", repositories=["team/app"])
        # Declared inside an apply: the shared document was already computed.
        return web.principal_arn.apply(lambda _: build("jobs", repositories=["team/app"]))

    with pytest.raises(ConfigurationError, match="not inside an apply"):
        run_program(program)


def test_access_off_requests_no_role_and_makes_no_grant(repos: Any) -> None:
    recording, outputs = run_program(lambda: outputs_of(build(private_registry_access=False)))

    assert recording.of_type(POLICY_TYPE) == [] and recording.of_type(":GrantFinalizer") == []
    assert recording.one(":PullerRole").inputs["active"] is False
    assert recording.one(SERVICE_TYPE).inputs["privateRegistryAccess"] == {
        "ecrImagePullerRole": {"isActive": False}
    }
    assert outputs["principal_arn"] == ""
    # Turning access off still needs ECR permissions: the finalizers revoke statements.
    assert "ecr:DeleteRepositoryPolicy" in outputs["operator_policy"]


def test_deployment_uses_granted_images_and_waits_for_every_grant(repos: Any) -> None:
    push_image(repos, "team/app", "1.0")
    push_image(repos, "team/worker", "2.1")
    containers = [
        {"name": "api", "repository": "team/app", "tag": "1.0", "ports": {"8080": "HTTP"}},
        {"name": "worker", "repository": "team/worker", "tag": "2.1"},
    ]
    endpoint = {"container": "api", "port": 8080, "health_check_path": "/healthz"}
    recording, _ = run_program(
        lambda: outputs_of(build(containers=containers, public_endpoint=endpoint))
    )

    deployment = recording.one(DEPLOYMENT_TYPE)
    images = [c["image"] for c in deployment.inputs["containers"]]
    assert images == [
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:1.0",
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/worker:2.1",
    ]
    assert deployment.inputs["publicEndpoint"]["containerPort"] == 8080
    for grant in recording.of_type(":GrantFinalizer"):
        assert grant.urn in deployment.dependencies
    # The images pull only once every grant has been read back and found in place.
    verifications = recording.of_type(":GrantVerification")
    assert len(verifications) == 2
    assert {v.urn for v in verifications} <= set(deployment.dependencies)


def test_statement_with_our_sid_but_other_content_is_replaced_with_a_warning(
    repos: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stale = {
        "Sid": statement_sid("web"),
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/old"},
        "Action": ["ecr:*"],
    }
    repos.set_repository_policy(
        repositoryName="team/app",
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [stale, CI_PUSH]}),
    )
    with caplog.at_level("WARNING"):
        recording, _ = run_program(lambda: outputs_of(build()))

    statements = written_policy(recording, "team/app")["Statement"]
    assert [s.get("Sid") for s in statements] == ["AllowLightsailPull-web", "CiPush"]
    assert statements[0]["Principal"] == {"AWS": ROLE_ARN}
    assert "ecr:*" in caplog.text and "replaced" in caplog.text


# --- bad input: a clear error, raised before anything is registered -----------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"service_name": "Web_1"}, "not a valid Lightsail container service name"),
        ({"power": "huge"}, "nano, micro, small, medium, large, xlarge"),
        ({"scale": 21}, "1 to 20"),
        ({"region": "useast1"}, "aws:region"),
        ({"private_registry_access": "yes"}, "true or false"),
        (
            {"repositories": ["team/app", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app"]},
            "listed twice",
        ),
        (
            {"repositories": [f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app"]},
            "Region eu-west-1, but the container service is in us-east-1",
        ),
        (
            {"repositories": ["arn:aws:ecr:us-east-1:999999999999:repository/team/app"]},
            "belongs to account 999999999999, but this stack deploys into account 123456789012",
        ),
        ({"repositories": "team/app"}, "repositories must be a list"),
        ({"containers": {"name": "api"}}, "containers must be a list"),
        ({"containers": ["api"]}, "must be an object with name, repository and tag"),
        ({"public_endpoint": {"container": "api", "port": 80}}, "`containers` is empty"),
        ({"puller_role_timeout_seconds": 0}, "above 0 and at most 3600"),
        (
            {
                "private_registry_access": False,
                "containers": [{"name": "api", "repository": "team/app", "tag": "1"}],
            },
            "not granted",
        ),
        ({"containers": [{"name": "api", "repository": "other/repo", "tag": "1"}]}, "not granted"),
    ],
    ids=[
        "name",
        "power",
        "scale",
        "region",
        "access",
        "duplicate",
        "other-region",
        "other-account",
        "repositories-not-a-list",
        "containers-not-a-list",
        "container-not-an-object",
        "endpoint-without-containers",
        "timeout",
        "image-while-access-off",
        "ungranted-image",
    ],
)
def test_bad_input_is_refused_before_anything_is_registered(
    repos: Any, overrides: dict[str, Any], expected: str
) -> None:
    recording = _run_failing(lambda: build(**overrides), ConfigurationError, expected)
    assert recording.resources == []


def test_missing_repository_is_named_with_its_region(repos: Any) -> None:
    recording = _run_failing(
        lambda: build(repositories=["team/app", "team/missing"]),
        AwsCallError,
        "'team/missing' does not exist in Region us-east-1",
    )
    assert recording.resources == []


def test_policy_that_is_not_a_policy_is_left_alone(repos: Any, monkeypatch: Any) -> None:
    from components.aws import ecr_api

    monkeypatch.setattr(ecr_api, "get_policy_text", lambda *_: '{"Statement": 42}')
    recording = _run_failing(build, ConfigurationError, "policy of repository team/app")
    assert recording.resources == []


def test_merged_document_over_the_size_limit_says_by_how_much(repos: Any) -> None:
    padding = [
        {**CI_PUSH, "Sid": f"Team{i}", "Condition": {"StringEquals": {"k": "v" * 400}}}
        for i in range(22)
    ]
    repos.set_repository_policy(
        repositoryName="team/app",
        policyText=json.dumps({"Version": "2012-10-17", "Statement": padding}),
    )
    recording = _run_failing(build, ConfigurationError, "over ECR's limit of 10240")
    assert recording.resources == []


def test_access_denied_on_reading_a_policy_names_action_and_repository(
    repos: Any, inject_error: Any
) -> None:
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    recording = _run_failing(build, AwsCallError, "ecr:GetRepositoryPolicy")
    assert recording.resources == []


def _run_failing(body: Any, error: type[Exception], expected: str) -> Recording:
    recording = Recording()
    with pytest.raises(error) as raised:
        run_program(body, recording=recording)
    assert expected in str(raised.value), str(raised.value)
    return recording


def test_adopting_with_tags_that_are_outputs_is_refused(repos: Any, lightsail: Any) -> None:
    lightsail.add_existing_service("web", REGION)

    with pytest.raises(ConfigurationError, match="must be a map of text to text"):
        run_program(
            lambda: outputs_of(
                build(adopt_existing_service=True, tags={"team": pulumi.Output.from_input("a")})
            )
        )
