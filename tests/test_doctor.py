"""Tests of the doctor (components/doctor/) against moto (ECR) and the Lightsail emulation.

Each check has its ok side and its problem side; the command is run through
``main(argv)`` for its exit status, its text and its JSON.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest

from components import doctor
from components.aws import ecr_api
from components.doctor import Diagnosis, DiagnosisError, diagnose
from components.rules.policy import pull_statement
from emulation.cloud import EmulatedAws, image_manifest
from tests.conftest import ACCOUNT, CI_PUSH, REGION

SERVICE = "web"
REPOSITORY = "team/app"
OTHER_REGION = "eu-west-1"
PREFIX = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
IMAGE = f"{PREFIX}:1.0"
ARN_HERE = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"
OLD_ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/"
    "private-repo-access/0ld0ld0ld"
)
BATCH, LAYER = "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def index(media_type: str, *platforms: tuple[str, str]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": f"sha256:{i:064x}",
                "size": 100,
                "platform": {"os": os_name, "architecture": arch},
            }
            for i, (os_name, arch) in enumerate(platforms, start=1)
        ],
    }


# One loader for every test's session: reading botocore's service models again for each
# test would cost most of this module's time. Sessions stay per test, so each one sees
# the handlers of that test's emulated AWS.
_MODELS = botocore.loaders.create_loader()


def session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    return boto3.session.Session(botocore_session=core)


class Recorder:
    """A client factory that records every API operation the doctor calls."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.session = session()

    def __call__(self, service: str, region: str) -> Any:
        client = self.session.client(service, region_name=region)
        client.meta.events.register("before-call", self._record)
        return client

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)


class Cloud:
    """Emulated AWS with one container service and one repository, and the verbs to break them."""

    def __init__(self, aws: EmulatedAws) -> None:
        self.aws = aws
        self.recorder = Recorder()
        self.lightsail = self.recorder.session.client("lightsail", region_name=REGION)

    def service(self, role_active: bool = True) -> str:
        """Create the service; return its puller role's ARN ('' when off)."""
        self.aws.lightsail.add_existing_service(SERVICE, REGION, role_active=role_active)
        return self.role_arn()

    def role_arn(self) -> str:
        described = self.lightsail.get_container_services(serviceName=SERVICE)
        role = described["containerServices"][0]["privateRegistryAccess"]["ecrImagePullerRole"]
        return str(role["principalArn"])

    def repository(self, *statements: dict[str, Any], region: str = REGION) -> None:
        ecr = self.recorder.session.client("ecr", region_name=region)
        ecr.create_repository(repositoryName=REPOSITORY)
        if statements:
            text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
            ecr.set_repository_policy(repositoryName=REPOSITORY, policyText=text)

    def push(self, tag: str = "1.0", document: dict[str, Any] | None = None) -> None:
        self.aws.ecr.put_image(
            repositoryName=REPOSITORY,
            imageManifest=json.dumps(document or image_manifest("b")),
            imageTag=tag,
        )

    def deploy(self, image: str = IMAGE) -> str:
        answer = self.lightsail.create_container_service_deployment(
            serviceName=SERVICE, containers={"app": {"image": image}}
        )
        return str(answer["containerService"]["currentDeployment"]["state"])

    def diagnose(self, **kwargs: Any) -> Diagnosis:
        # A new session, so that it sees the faults injected since the last one.
        self.recorder.session = session()
        return diagnose(SERVICE, REGION, clients=self.recorder, **kwargs)

    def healthy(self) -> str:
        """The happy path: granted, pushed, deployed. Returns the role's ARN."""
        arn = self.service()
        self.repository(CI_PUSH, pull_statement(SERVICE, arn))
        self.push()
        assert self.deploy() == "ACTIVE"
        return arn


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    with EmulatedAws(region=REGION, arn_after_polls=0) as aws:
        yield Cloud(aws)


def only(diagnosis: Diagnosis, check: str) -> doctor.Check:
    (found,) = [c for c in diagnosis.checks if c.check == check]
    return found


def statuses(diagnosis: Diagnosis) -> dict[str, str]:
    return {c.check: c.status for c in diagnosis.checks}


# --- the happy path, and what the doctor may call ------------------------------------


def test_healthy_service_is_ok_on_every_check(cloud: Cloud) -> None:
    arn = cloud.healthy()
    diagnosis = cloud.diagnose()

    assert statuses(diagnosis) == {
        "service": "ok",
        "role": "ok",
        "repository": "ok",
        "policy": "ok",
        "deny": "ok",
        "image": "ok",
        "deployment": "ok",
    }
    assert diagnosis.exit_code == 0
    assert arn in only(diagnosis, "role").detail
    assert only(diagnosis, "policy").detail == (
        f"statement AllowLightsailPull-web allows {arn} {BATCH} and {LAYER}"
    )
    assert only(diagnosis, "service").detail == f"web is RUNNING in {REGION}"
    assert only(diagnosis, "deployment").detail == "deployment 1 is ACTIVE"
    assert only(diagnosis, "image").image == IMAGE
    assert all(c.fix is None for c in diagnosis.checks)


def test_the_doctor_only_reads(cloud: Cloud) -> None:
    cloud.service()
    cloud.repository(CI_PUSH)
    cloud.push("multi", index(OCI_INDEX, ("linux", "arm64")))
    cloud.push()
    assert cloud.deploy() == "FAILED"
    before = cloud.aws.policy(REPOSITORY)
    seen = len(cloud.aws.lightsail.calls)

    diagnosis = cloud.diagnose(images=[f"{PREFIX}:multi", f"{PREFIX}:missing"])

    # Every kind of read ran: service, deployments, log, repository, policy, images, index.
    assert {c.check for c in diagnosis.checks} >= {"policy", "image", "platform", "deployment"}
    operations = set(cloud.recorder.operations)
    assert operations >= {
        "GetContainerServices",
        "GetContainerServiceDeployments",
        "GetContainerLog",
        "DescribeRepositories",
        "GetRepositoryPolicy",
        "DescribeImages",
        "BatchGetImage",
    }
    assert all(re.match(r"(Get|Describe)[A-Z]|BatchGetImage$", op) for op in operations), operations
    # Nothing changed behind the reads either.
    assert cloud.aws.policy(REPOSITORY) == before
    assert [op for op, _ in cloud.aws.lightsail.calls[seen:]] == [
        "GetContainerServices",
        "GetContainerServiceDeployments",
        "GetContainerLog",
    ]


# --- 1. the service -------------------------------------------------------------------


def test_unknown_service_cannot_be_looked_at(cloud: Cloud) -> None:
    with pytest.raises(DiagnosisError, match=r"'web' does not exist in Region us-east-1"):
        cloud.diagnose()


def test_disabled_service_is_a_problem_with_the_command_that_enables_it(cloud: Cloud) -> None:
    cloud.healthy()
    cloud.aws.lightsail.service(SERVICE, REGION).is_disabled = True
    check = only(cloud.diagnose(), "service")

    assert check.status == "problem"
    assert check.fix == (
        "aws lightsail update-container-service --service-name web --no-is-disabled "
        "--region us-east-1"
    )


# --- 2. the puller role -----------------------------------------------------------------


def test_inactive_role_is_a_problem_and_policies_are_not_judged(cloud: Cloud) -> None:
    cloud.service(role_active=False)
    cloud.repository(pull_statement(SERVICE, OLD_ARN))
    diagnosis = cloud.diagnose(repositories=[REPOSITORY])

    role = only(diagnosis, "role")
    assert role.status == "problem" and "is off" in role.detail
    assert "pulumi config set privateRegistryAccess true" in str(role.fix)
    assert "ecrImagePullerRole={isActive=true}" in str(role.fix)
    policy = only(diagnosis, "policy")
    assert policy.status == "warning" and "no principal ARN" in policy.detail
    # The statement left from an earlier role is still pointed out.
    assert OLD_ARN in policy.detail
    assert diagnosis.exit_code == 1


def test_active_role_without_an_arn_yet_is_a_problem(cloud: Cloud) -> None:
    cloud.aws.lightsail.arn_after_polls = None
    assert cloud.service() == ""
    diagnosis = cloud.diagnose()

    role = only(diagnosis, "role")
    assert role.status == "problem"
    assert "active but has no principal ARN yet" in role.detail
    assert "run the doctor again" in str(role.fix)


# --- 3. the repository ------------------------------------------------------------------


def test_missing_repository_is_a_problem(cloud: Cloud) -> None:
    cloud.service()
    diagnosis = cloud.diagnose(repositories=["team/ghost"])

    check = only(diagnosis, "repository")
    assert (check.status, check.repository) == ("problem", "team/ghost")
    assert check.detail == f"does not exist in Region {REGION}, account {ACCOUNT}"
    assert "aws ecr create-repository --repository-name team/ghost" in str(check.fix)
    assert "policy" not in statuses(diagnosis)


def test_repository_in_another_region_is_a_problem(cloud: Cloud) -> None:
    cloud.service()
    cloud.repository(region=OTHER_REGION)
    elsewhere = f"{ACCOUNT}.dkr.ecr.{OTHER_REGION}.amazonaws.com/{REPOSITORY}:1.0"
    diagnosis = cloud.diagnose(images=[elsewhere])

    check = only(diagnosis, "repository")
    assert check.status == "problem"
    assert check.detail.startswith(f"in Region {OTHER_REGION} (it exists there), but the service")
    assert f"pulumi config set aws:region {OTHER_REGION}" in str(check.fix)
    # Nothing more is judged about a repository Lightsail could never pull from.
    assert {"policy", "image"}.isdisjoint(statuses(diagnosis))


def test_repository_in_the_services_region_is_ok(cloud: Cloud) -> None:
    cloud.service()
    cloud.repository(region=OTHER_REGION)
    cloud.repository()  # the same name, in the service's Region
    diagnosis = cloud.diagnose(images=[IMAGE.replace(":1.0", ":x")])

    assert only(diagnosis, "repository").status == "ok"
    assert only(diagnosis, "repository").detail == f"exists in {REGION}, account {ACCOUNT}"


def test_repository_of_another_account_is_a_problem(cloud: Cloud) -> None:
    cloud.service()
    diagnosis = cloud.diagnose(
        repositories=[f"arn:aws:ecr:{REGION}:111122223333:repository/{REPOSITORY}"]
    )
    check = only(diagnosis, "repository")
    assert check.status == "problem"
    assert f"belongs to account 111122223333, but the service to account {ACCOUNT}" in check.detail


# --- 4. the policy's grant ----------------------------------------------------------------


def test_no_statement_is_a_problem_with_a_fix_that_keeps_other_statements(cloud: Cloud) -> None:
    arn = cloud.service()
    cloud.repository(CI_PUSH)
    check = only(cloud.diagnose(repositories=[REPOSITORY]), "policy")

    assert check.status == "problem"
    assert check.detail == f"no statement allows {arn} {BATCH} and {LAYER}"
    fix = str(check.fix)
    assert "pulumi config set --path 'repositories[<n>]' team/app" in fix and "pulumi up" in fix
    command = shlex.split(fix.split("without Pulumi: ", 1)[1])
    assert command[:7] == [
        "aws", "ecr", "set-repository-policy", "--repository-name", REPOSITORY,
        "--region", REGION,
    ]  # fmt: skip
    written = json.loads(command[command.index("--policy-text") + 1])
    assert written["Statement"] == [CI_PUSH, pull_statement(SERVICE, arn)]


def test_no_policy_at_all_is_a_problem(cloud: Cloud) -> None:
    arn = cloud.service()
    cloud.repository()
    diagnosis = cloud.diagnose(repositories=[REPOSITORY])

    assert only(diagnosis, "policy").detail == (
        f"no repository policy, so nothing allows {arn} {BATCH} and {LAYER}"
    )
    assert only(diagnosis, "deny").status == "ok"


def test_statement_for_an_older_arn_is_named_as_the_cause(cloud: Cloud) -> None:
    arn = cloud.service()
    cloud.repository(CI_PUSH, pull_statement(SERVICE, OLD_ARN))
    check = only(cloud.diagnose(repositories=[REPOSITORY]), "policy")

    assert check.status == "problem"
    assert check.detail == (
        f"no statement allows {arn} {BATCH} and {LAYER}; statement AllowLightsailPull-web "
        f"names {OLD_ARN}: an older puller role of web (the role was re-created since, so "
        "that statement grants nobody now)"
    )
    assert "pulumi up" in str(check.fix)


def test_only_one_of_the_two_actions_is_a_problem(cloud: Cloud) -> None:
    arn = cloud.service()
    half = {"Sid": "Half", "Effect": "Allow", "Principal": {"AWS": arn}, "Action": BATCH}
    cloud.repository(half)
    check = only(cloud.diagnose(repositories=[REPOSITORY]), "policy")

    assert check.status == "problem"
    assert check.detail == (
        f"statement Half allows {arn} {BATCH}, but no statement allows it {LAYER}"
    )


@pytest.mark.parametrize(
    ("principal", "action"),
    [
        pytest.param(None, "ecr:*", id="ecr-star"),
        pytest.param(None, ["ecr:Batch*", "ecr:GetDownload*"], id="wildcards"),
        pytest.param("list", "ECR:*", id="list-and-case"),
    ],
)
def test_wildcard_grant_is_ok_and_named(cloud: Cloud, principal: str | None, action: Any) -> None:
    arn = cloud.service()
    principals: Any = [f"arn:aws:iam::{ACCOUNT}:role/ci", arn] if principal else arn
    wide = {"Sid": "EcrAll", "Effect": "Allow", "Principal": {"AWS": principals}, "Action": action}
    cloud.repository(CI_PUSH, wide)
    check = only(cloud.diagnose(repositories=[REPOSITORY]), "policy")

    assert check.status == "ok"
    assert check.detail == f"statement EcrAll allows {arn} {BATCH} and {LAYER}"


def test_grant_under_a_condition_is_a_warning(cloud: Cloud) -> None:
    arn = cloud.service()
    cloud.repository(
        {
            **pull_statement(SERVICE, arn),
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
        }
    )
    check = only(cloud.diagnose(repositories=[REPOSITORY]), "policy")

    assert check.status == "warning"
    assert "only when its Condition holds: check StringEquals aws:SourceVpce" in check.detail


def test_malformed_policy_is_a_problem(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.service()
    cloud.repository(CI_PUSH)
    monkeypatch.setattr(ecr_api, "get_policy_text", lambda *_: '{"Statement": 5}')
    check = only(cloud.diagnose(repositories=[REPOSITORY]), "policy")

    assert check.status == "problem" and "cannot be read" in check.detail


# --- 5. Deny statements -----------------------------------------------------------------------


def test_deny_for_everyone_is_a_problem_even_with_our_grant(cloud: Cloud) -> None:
    arn = cloud.healthy()
    guard = {"Sid": "NoPulls", "Effect": "Deny", "Principal": "*", "Action": "ecr:*"}
    cloud.aws.set_policy(
        REPOSITORY, {"Version": "2012-10-17", "Statement": [pull_statement(SERVICE, arn), guard]}
    )
    diagnosis = cloud.diagnose()

    assert only(diagnosis, "policy").status == "ok"
    deny = only(diagnosis, "deny")
    assert deny.status == "problem"
    assert deny.detail.startswith(f"statement NoPulls denies {arn} {BATCH} and {LAYER}")
    assert "the owner of statement NoPulls must leave" in str(deny.fix)
    assert diagnosis.exit_code == 1


def test_deny_with_a_condition_is_a_warning_naming_the_condition(cloud: Cloud) -> None:
    arn = cloud.healthy()
    guard = {
        "Sid": "OnlyFromVpc",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": [BATCH, LAYER],
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0abc"}},
    }
    cloud.aws.set_policy(
        REPOSITORY, {"Version": "2012-10-17", "Statement": [pull_statement(SERVICE, arn), guard]}
    )
    diagnosis = cloud.diagnose()

    deny = only(diagnosis, "deny")
    assert deny.status == "warning"
    assert deny.detail.endswith("when its Condition holds: check StringNotEquals aws:SourceVpce")
    assert diagnosis.exit_code == 0  # a warning is not a problem


# --- 6. images --------------------------------------------------------------------------------


def test_missing_tag_is_a_problem(cloud: Cloud) -> None:
    cloud.healthy()
    diagnosis = cloud.diagnose(images=[f"{PREFIX}:2.0"])

    missing = [c for c in diagnosis.checks if c.check == "image" and c.status == "problem"]
    assert [(c.image, c.detail) for c in missing] == [
        (f"{PREFIX}:2.0", "no image with tag 2.0 in team/app")
    ]
    assert f"docker push {PREFIX}:2.0" in str(missing[0].fix)
    # The deployed image, 1.0, is still there.
    assert any(c.image == IMAGE and c.status == "ok" for c in diagnosis.checks)


def test_image_by_digest(cloud: Cloud) -> None:
    cloud.healthy()
    digest = cloud.aws.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"][0][
        "imageDigest"
    ]
    wrong = "sha256:" + "0" * 64
    diagnosis = cloud.diagnose(images=[f"{PREFIX}@{digest}", f"{PREFIX}@{wrong}"])

    images = {c.image: c for c in diagnosis.checks if c.check == "image"}
    assert images[f"{PREFIX}@{digest}"].status == "ok"
    assert images[f"{PREFIX}@{wrong}"].detail == f"no image with digest {wrong} in team/app"


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_without_linux_amd64_is_a_problem(cloud: Cloud, media_type: str) -> None:
    cloud.healthy()
    cloud.push("multi", index(media_type, ("linux", "arm64"), ("unknown", "unknown")))
    diagnosis = cloud.diagnose(images=[f"{PREFIX}:multi"])

    check = only(diagnosis, "platform")
    assert check.status == "problem"
    assert check.detail.startswith(
        "the multi-platform index has no linux/amd64 entry (it lists linux/arm64)"
    )
    assert "--platform linux/amd64" in str(check.fix)


def test_index_with_linux_amd64_is_ok(cloud: Cloud) -> None:
    cloud.healthy()
    cloud.push("multi", index(OCI_INDEX, ("linux", "arm64"), ("linux", "amd64")))
    check = only(cloud.diagnose(images=[f"{PREFIX}:multi"]), "platform")

    assert check.status == "ok"
    assert check.detail == "the multi-platform index lists linux/amd64 (linux/arm64, linux/amd64)"


def test_single_platform_image_has_no_platform_check(cloud: Cloud) -> None:
    cloud.healthy()
    assert "platform" not in statuses(cloud.diagnose())


# --- 7. the latest deployment -----------------------------------------------------------------


def test_failed_deployment_shows_its_containers_last_log_lines(cloud: Cloud) -> None:
    cloud.service()
    cloud.repository(CI_PUSH)
    cloud.push()
    assert cloud.deploy() == "FAILED"
    diagnosis = cloud.diagnose()

    check = only(diagnosis, "deployment")
    assert check.status == "problem"
    lines = check.detail.split("\n")
    assert lines[0] == "deployment 1 FAILED"
    assert lines[1] == "last 4 log lines of container app:"
    assert lines[-2] == (
        f"  [deployment:1] Failed to pull image {IMAGE}: CannotPullContainerError: pull access "
        "denied, the repository does not exist or may require authorization: 403 Forbidden"
    )
    assert "pulumi up" in str(check.fix)
    # The cause is named too: the deployment's repository has no statement for the role.
    assert only(diagnosis, "policy").status == "problem"


def test_log_window_starts_at_the_failed_deployment_and_shows_the_last_lines(
    cloud: Cloud,
) -> None:
    cloud.service()
    cloud.repository(CI_PUSH)
    cloud.push()
    emulator = cloud.aws.lightsail
    emulator.add_log_lines(SERVICE, REGION, "app", "from a deployment long ago", at=1_000.0)
    assert cloud.deploy() == "FAILED"
    emulator.add_log_lines(SERVICE, REGION, "app", *[f"line {n}" for n in range(45)])
    detail = only(cloud.diagnose(), "deployment").detail

    shown = detail.split("\n")[2:]
    assert shown == [f"  line {n}" for n in range(35, 45)]  # the last ten, across pages
    assert "long ago" not in detail


def test_deployment_after_the_fix_is_ok(cloud: Cloud) -> None:
    arn = cloud.service()
    cloud.repository(CI_PUSH)
    cloud.push()
    assert cloud.deploy() == "FAILED"
    cloud.aws.set_policy(
        REPOSITORY, {"Version": "2012-10-17", "Statement": [CI_PUSH, pull_statement(SERVICE, arn)]}
    )
    assert cloud.deploy() == "ACTIVE"
    diagnosis = cloud.diagnose()

    assert only(diagnosis, "deployment").detail == "deployment 2 is ACTIVE"
    assert diagnosis.exit_code == 0


def test_without_any_deployment_the_doctor_asks_what_to_check(cloud: Cloud) -> None:
    cloud.service()
    diagnosis = cloud.diagnose()

    assert only(diagnosis, "repository").status == "warning"
    assert "--repository NAME or --image URI" in str(only(diagnosis, "repository").fix)
    assert only(diagnosis, "deployment").detail == "no deployment yet: nothing has tried to pull"
    assert diagnosis.exit_code == 0


def test_given_repositories_are_checked_besides_the_deployed_ones(cloud: Cloud) -> None:
    cloud.healthy()
    cloud.aws.ecr.create_repository(repositoryName="team/jobs")
    diagnosis = cloud.diagnose(repositories=["team/jobs", ARN_HERE])

    policies = {c.repository: c.status for c in diagnosis.checks if c.check == "policy"}
    # The deployed repository, named twice in two forms, is checked once, labelled as the
    # user wrote it.
    assert policies == {"team/jobs": "problem", ARN_HERE: "ok"}


def test_each_repository_check_is_labelled_as_the_user_wrote_it(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """One by name, one by an ARN in another Region: two checks, two labels."""
    cloud.service()
    cloud.repository()
    cloud.repository(region=OTHER_REGION)
    elsewhere = f"arn:aws:ecr:{OTHER_REGION}:{ACCOUNT}:repository/{REPOSITORY}"
    code, out, _ = run(capsys, "--json", "--repository", REPOSITORY, "--repository", elsewhere)

    assert code == 1
    checks = json.loads(out)["checks"]
    repositories = [(c["repository"], c["status"]) for c in checks if c["check"] == "repository"]
    assert repositories == [(REPOSITORY, "ok"), (elsewhere, "problem")]
    # The policy of the one the service can pull from is labelled by its name too.
    assert {c["repository"] for c in checks if c["check"] in ("policy", "deny")} == {REPOSITORY}
    problem = next(c for c in checks if c["repository"] == elsewhere)
    assert problem["detail"].startswith(f"in Region {OTHER_REGION} (it exists there)")
    # The fix still names the repository by its name, in its own Region.
    assert f"pulumi config set aws:region {OTHER_REGION}" in problem["fix"]

    code, out, _ = run(capsys, "--repository", REPOSITORY, "--repository", elsewhere)
    lines = out.splitlines()
    assert f"ok       repository  {REPOSITORY}: exists in {REGION}, account {ACCOUNT}" in lines
    assert any(
        line.startswith(f"problem  repository  {elsewhere}: in Region {OTHER_REGION}")
        for line in lines
    )


# --- errors: the doctor could not look -------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("lightsail", "GetContainerServices", "lightsail:GetContainerServices"),
        ("lightsail", "GetContainerServiceDeployments", "lightsail:GetContainerServiceDeployments"),
        ("ecr", "DescribeRepositories", "ecr:DescribeRepositories"),
        ("ecr", "GetRepositoryPolicy", "ecr:GetRepositoryPolicy"),
        ("ecr", "DescribeImages", "ecr:DescribeImages"),
    ],
)
def test_access_denied_names_the_action(
    cloud: Cloud, service: str, operation: str, action: str
) -> None:
    cloud.healthy()
    cloud.aws.fail(service, operation, "AccessDeniedException")
    with pytest.raises(DiagnosisError) as info:
        cloud.diagnose()
    assert str(info.value).startswith(f"could not look: AWS denied {action} on ")


def test_access_denied_on_the_manifest_and_the_log(cloud: Cloud) -> None:
    cloud.service()
    cloud.repository(CI_PUSH)
    cloud.push("multi", index(OCI_INDEX, ("linux", "amd64")))
    cloud.aws.fail("ecr", "BatchGetImage", "AccessDeniedException")
    with pytest.raises(DiagnosisError, match="AWS denied ecr:BatchGetImage on arn:aws:ecr:"):
        cloud.diagnose(images=[f"{PREFIX}:multi"])
    cloud.aws.clear_faults()

    cloud.push()
    assert cloud.deploy() == "FAILED"
    cloud.aws.fail("lightsail", "GetContainerLog", "AccessDeniedException")
    with pytest.raises(
        DiagnosisError, match="AWS denied lightsail:GetContainerLog on container app"
    ):
        cloud.diagnose()


# --- the command --------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = doctor.main([SERVICE, "--region", REGION, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_command_exits_0_when_healthy_and_prints_one_line_per_check(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.healthy()
    code, out, err = run(capsys)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"ok       service     web is RUNNING in {REGION}"
    assert lines[3].startswith("ok       policy      team/app: statement AllowLightsailPull-web")
    assert lines[5].startswith("ok       image       team/app:1.0: exists, digest sha256:")
    assert lines[-1] == f"web in {REGION}: 0 problems, 0 warnings"
    assert len(lines) == 8


def test_command_exits_1_and_prints_each_fix_under_its_problem(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = cloud.healthy()
    cloud.aws.set_policy(REPOSITORY, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    code, out, _ = run(capsys)

    assert code == 1
    lines = out.splitlines()
    at = lines.index(
        f"problem  policy      team/app: no statement allows {arn} {BATCH} and {LAYER}"
    )
    assert lines[at + 1].startswith(" " * 21 + "fix: run `pulumi up` on the stack of web")
    assert lines[-1] == f"web in {REGION}: 1 problem, 0 warnings"


def test_command_json_has_the_documented_shape(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.healthy()
    code, out, _ = run(capsys, "--json", "--image", f"{PREFIX}:2.0")

    assert code == 1
    document = json.loads(out)
    assert set(document) == {"service", "region", "checks", "exit"}
    assert (document["service"], document["region"], document["exit"]) == (SERVICE, REGION, 1)
    for check in document["checks"]:
        assert set(check) == {"check", "status", "repository", "image", "detail", "fix"}
        assert check["status"] in ("ok", "problem", "warning")
        assert (check["fix"] is None) == (check["status"] == "ok")
    missing = [c for c in document["checks"] if c["status"] == "problem"]
    assert [(c["check"], c["repository"], c["image"]) for c in missing] == [
        ("image", REPOSITORY, f"{PREFIX}:2.0")
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--image", "nginx:latest"], "is not an ECR image URI", id="image-not-ecr"),
        pytest.param(["--image", f"{PREFIX}:"], "give a tag or a digest", id="image-no-tag"),
        pytest.param(["--repository", "Team App"], "is neither an ECR repository name", id="repo"),
        pytest.param(["--repository", IMAGE], "names an image (:1.0), not a repository", id="uri"),
    ],
)
def test_bad_input_exits_2_with_a_clear_error(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    cloud.healthy()
    code, out, err = run(capsys, *argv)

    assert (code, out) == (2, "")
    assert err.startswith("doctor: ") and expected in err
    assert cloud.recorder.operations == []  # refused before any call


def test_unknown_service_exits_2(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert "container service 'web' does not exist in Region us-east-1" in err


def test_invalid_service_name_and_region_exit_2(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    assert doctor.main(["Web_1", "--region", REGION]) == 2
    assert "not a valid Lightsail container service name" in capsys.readouterr().err
    assert doctor.main([SERVICE, "--region", "useast1"]) == 2
    assert "is not an AWS Region code" in capsys.readouterr().err


def test_access_denied_exits_2_naming_the_action(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.healthy()
    cloud.aws.fail("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert "ecr:GetRepositoryPolicy" in err


def test_no_credentials_exits_2(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.healthy()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    code, _, err = run(capsys)
    assert code == 2
    assert "lightsail:GetContainerServices" in err and "needs AWS credentials" in err


def test_unknown_profile_exits_2(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    code, _, err = run(capsys, "--profile", "nobody")
    assert code == 2 and "AWS profile 'nobody'" in err


def test_profile_is_passed_to_the_session(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.healthy()
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[ops]\naws_access_key_id = ops\naws_secret_access_key = ops\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    clients = doctor.build_clients("ops")
    lightsail = clients("lightsail", REGION)

    assert lightsail.meta.region_name == REGION  # the service's Region, not the profile's
    assert lightsail._request_signer._credentials.access_key == "ops"
    code, _, _ = run(capsys, "--profile", "ops")
    assert code == 0


# --- with --json, every outcome is one JSON object on stdout ------------------------------


def failure(out: str, err: str, kind: str) -> str:
    """The one JSON object a failure prints: its shape checked, its message returned."""
    document = json.loads(out)  # one object, and nothing else on stdout
    assert set(document) == {"service", "region", "error", "exit"}
    assert set(document["error"]) == {"kind", "message"}
    assert document["error"]["kind"] == kind and kind in doctor.ERROR_KINDS
    assert document["exit"] == 2
    assert err == ""
    return str(document["error"]["message"])


def test_json_healthy_exits_0_with_exit_in_the_object(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.healthy()
    code, out, err = run(capsys, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["exit"] == 0


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--image", "nginx:latest"], "is not an ECR image URI", id="image"),
        pytest.param(["--repository", "Team App"], "is neither an ECR repository name", id="repo"),
    ],
)
def test_json_bad_input(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    cloud.healthy()
    code, out, err = run(capsys, "--json", *argv)
    assert code == 2
    assert expected in failure(out, err, "input")
    assert json.loads(out)["service"] == SERVICE and json.loads(out)["region"] == REGION


def test_json_bad_service_name(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    code = doctor.main(["Web_1", "--region", REGION, "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "not a valid Lightsail container service name" in failure(out, err, "input")
    assert json.loads(out)["service"] == "Web_1"


def test_json_unknown_service(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--json")
    assert code == 2
    assert "container service 'web' does not exist" in failure(out, err, "service")


def test_json_access_denied_names_the_action(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.healthy()
    cloud.aws.fail("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    code, out, err = run(capsys, "--json")
    assert code == 2
    assert "AWS denied ecr:GetRepositoryPolicy on " in failure(out, err, "access-denied")


def test_json_other_aws_failure(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    cloud.healthy()
    cloud.aws.fail("lightsail", "GetContainerServices", "ServiceException")
    code, out, err = run(capsys, "--json")
    assert code == 2
    assert "ServiceException" in failure(out, err, "aws")


def test_json_no_credentials(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.healthy()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    code, out, err = run(capsys, "--json")
    assert code == 2
    assert "needs AWS credentials" in failure(out, err, "credentials")


def test_json_unknown_profile(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    code, out, err = run(capsys, "--json", "--profile", "nobody")
    assert code == 2
    assert "AWS profile 'nobody'" in failure(out, err, "profile")


def test_json_usage_error_is_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    code = doctor.main([SERVICE, "--json"])  # no --region
    out, err = capsys.readouterr()
    assert code == 2
    assert "--region" in failure(out, err, "usage")
    assert json.loads(out)["service"] is None


def test_json_help_is_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--json", "--help"], ["--help", "--json"], [SERVICE, "-h", "--json"]):
        code = doctor.main(argv)
        out, err = capsys.readouterr()
        assert (code, err) == (0, ""), argv
        document = json.loads(out)  # one object, and nothing else on stdout
        assert set(document) == {"service", "region", "help", "exit"}, argv
        assert (document["service"], document["region"], document["exit"]) == (None, None, 0)
        assert document["help"].startswith("usage: python -m components.doctor [-h] --region")
        assert "--assume-role ROLE_ARN" in document["help"]


def test_help_without_json_is_argparses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        doctor.main(["--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m components.doctor [-h]")


ROLE_ARN_HINT = (
    "is not an IAM role ARN; an IAM role ARN is like arn:aws:iam::<12-digit account>:role/<name>"
)


@pytest.mark.parametrize(
    "role",
    [
        "notanarn",
        "arn:aws:iam::12345:role/deployer",  # not 12 digits
        "arn:aws:iam::111122223333:user/deployer",  # a user, not a role
        "arn:aws:iam::111122223333:role/",  # no name
        "arn:aws:sts::111122223333:assumed-role/deployer/session",
    ],
)
def test_an_assume_role_that_is_no_role_arn_is_refused_before_any_call(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], role: str
) -> None:
    cloud.healthy()
    seen = len(cloud.aws.lightsail.calls)
    argv = [SERVICE, "--region", REGION, "--assume-role", role]

    code = doctor.main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(f"doctor: --assume-role {role!r} {ROLE_ARN_HINT}")

    code = doctor.main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"--assume-role {role!r} {ROLE_ARN_HINT}" in failure(out, err, "input")
    assert (json.loads(out)["service"], json.loads(out)["region"]) == (SERVICE, REGION)
    assert len(cloud.aws.lightsail.calls) == seen  # nothing reached AWS


@pytest.mark.parametrize(
    "role",
    [
        "arn:aws:iam::111122223333:role/deployer",
        "arn:aws:iam::111122223333:role/team/ci/deployer",
        "arn:aws-us-gov:iam::111122223333:role/deployer",
    ],
)
def test_a_role_arn_is_taken(role: str) -> None:
    assert doctor.inputs.check_role_arns([role]) == (role,)


def test_usage_error_without_json_is_argparses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        doctor.main([SERVICE])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "the following arguments are required: --region" in err


def test_a_fault_of_the_doctor_exits_2_not_1(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1 means "a problem was found": an uncaught exception would exit 1."""
    cloud.healthy()

    def broken(*_: Any) -> None:
        raise KeyError("containers")

    monkeypatch.setattr(doctor.verdicts, "judge", broken)
    code, out, err = run(capsys, "--json")
    assert code == 2
    document = json.loads(out)
    assert document["error"] == {
        "kind": "internal",
        "message": "the doctor failed: KeyError: 'containers'",
    }
    assert "Traceback" in err
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert "doctor: the doctor failed: KeyError" in err


# --- a mistyped Region -----------------------------------------------------------------------


NOT_A_CODE = "is not an AWS Region code (a Region code is like us-east-1)"
UNKNOWN = (
    "is not an AWS Region: botocore knows none of that name (if it is a Region newer than "
    "your boto3, upgrade boto3)"
)


@pytest.mark.parametrize(
    ("region", "what"),
    [("us-east1", NOT_A_CODE), ("useast1", NOT_A_CODE), ("us-easty-1", UNKNOWN)],
)
def test_a_mistyped_region_is_named_with_the_flag_as_the_fix(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], region: str, what: str
) -> None:
    cloud.healthy()
    code = doctor.main([SERVICE, "--region", region])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        f"doctor: --region {region!r} {what}; did you mean us-east-1? Run the doctor again "
        "with --region us-east-1\n"
    )
    assert "pulumi config" not in err
    assert cloud.recorder.operations == []

    code = doctor.main([SERVICE, "--region", region, "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "--region us-east-1" in failure(out, err, "region")
    assert json.loads(out)["region"] == region


def test_known_regions_pass_and_a_far_off_name_gets_no_guess() -> None:
    for region in ("us-east-1", "eu-west-1", "ap-southeast-5", "us-gov-west-1", "cn-north-1"):
        assert doctor.check_region_flag(region) == region
    with pytest.raises(DiagnosisError) as info:
        doctor.check_region_flag("Q")
    assert info.value.kind == "region"
    assert "did you mean" not in str(info.value)
    assert "with --region set to the service's Region" in str(info.value)


def test_without_botocores_region_list_any_region_code_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doctor.inputs, "known_regions", frozenset)
    assert doctor.check_region_flag("xx-newplace-1") == "xx-newplace-1"
    with pytest.raises(DiagnosisError, match="is not an AWS Region code"):
        doctor.check_region_flag("us-east1")


def test_the_console_script_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["/venv/bin/lightsail-ecr-doctor"])
    assert doctor.parser().prog == "lightsail-ecr-doctor"
    monkeypatch.setattr("sys.argv", ["/x/components/doctor.py"])
    assert doctor.parser().prog == "python -m components.doctor"


# --- docs/doctor.md says what the command does --------------------------------------------


def test_the_doctors_page_holds_its_flags_error_kinds_and_a_real_failure_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "doctor.md").read_text()
    flags = {
        option
        for action in doctor.parser()._actions
        for option in action.option_strings
        if option.startswith("--")
    }
    assert flags == {"--help", "--region", "--repository", "--image", "--json", "--profile",
                     "--assume-role"}  # fmt: skip
    assert all(f"`{flag}" in page for flag in flags)
    assert all(f"| `{kind}` |" in page for kind in doctor.ERROR_KINDS)

    assert doctor.main([SERVICE, "--region", REGION, "--assume-role", "notanarn"]) == 2
    assert capsys.readouterr().err.strip() in page
