"""One identity: the component's boto3 calls act as the AWS provider does.

Unit tests of reading the provider's settings, then whole-program runs against emulated
AWS where the stack's profile is another account than the environment's credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components import ConfigurationError, PrivateEcrContainerService
from components.aws.identity import AssumedRole, AwsIdentity, parse_duration
from emulation.cloud import DEV_ACCOUNT, PROD_ACCOUNT, EmulatedAws
from emulation.engine import DeploymentFailed, Engine
from tests.conftest import CI_PUSH, REGION, ROOT
from tests.mock_program import ServiceMocks, run_program

# --- reading the provider's settings ---------------------------------------------------


def settings(**values: Any) -> Any:
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return text.get


def test_no_settings_is_the_ambient_chain() -> None:
    assert AwsIdentity.from_provider_settings(settings()) == AwsIdentity()


def test_profile_roles_and_files_are_read_as_pulumi_aws_names_them() -> None:
    identity = AwsIdentity.from_provider_settings(
        settings(
            profile="prod",
            assumeRoles=[
                {"roleArn": "arn:aws:iam::222222222222:role/a", "sessionName": "ci"},
                {
                    "roleArn": "arn:aws:iam::333333333333:role/b",
                    "externalId": "team-x",
                    "duration": "1h30m",
                    "tags": {"team": "orders"},
                },
            ],
            sharedConfigFiles=["/etc/aws/config"],
            sharedCredentialsFiles=["/etc/aws/credentials"],
            stsRegion="eu-west-1",
            endpoints=[{"ecr": "http://localhost:4566", "s3": "http://ignored"}],
        )
    )

    assert identity.profile == "prod"
    assert identity.assume_roles == (
        AssumedRole("arn:aws:iam::222222222222:role/a", session_name="ci"),
        AssumedRole(
            "arn:aws:iam::333333333333:role/b",
            external_id="team-x",
            duration_seconds=5400,
            tags=(("team", "orders"),),
        ),
    )
    assert identity.shared_config_file == "/etc/aws/config"
    assert identity.shared_credentials_file == "/etc/aws/credentials"
    assert identity.sts_region == "eu-west-1"
    assert identity.endpoints == (("ecr", "http://localhost:4566"),)
    assert identity.assume_roles[1].sts_parameters() == {
        "RoleArn": "arn:aws:iam::333333333333:role/b",
        "RoleSessionName": "lightsail-ecr-access",
        "ExternalId": "team-x",
        "DurationSeconds": 5400,
        "Tags": [{"Key": "team", "Value": "orders"}],
    }


def test_the_older_single_assume_role_is_read_too() -> None:
    identity = AwsIdentity.from_provider_settings(
        settings(assumeRole={"roleArn": "arn:aws:iam::222222222222:role/a"})
    )
    assert identity.assumed_role_arns() == ["arn:aws:iam::222222222222:role/a"]


def test_state_round_trip_holds_names_and_arns_but_no_keys() -> None:
    identity = AwsIdentity(
        profile="prod",
        assume_roles=(AssumedRole("arn:aws:iam::222222222222:role/a", external_id="x"),),
    )
    state = identity.to_state()

    assert AwsIdentity.from_state(json.loads(json.dumps(state))) == identity
    assert set(state) == {
        "profile",
        "assume_roles",
        "shared_config_file",
        "shared_credentials_file",
        "sts_region",
        "endpoints",
    }
    assert AwsIdentity.from_state(None) == AwsIdentity()  # state from before identities


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"accessKey": "AKIA..."}, "aws:accessKey"),
        ({"secretKey": "s"}, "aws:secretKey"),
        ({"assumeRoleWithWebIdentity": {"roleArn": "r"}}, "web_identity_token_file"),
        ({"sharedConfigFiles": ["a", "b"]}, "lists 2 files"),
        ({"assumeRoles": [{"sessionName": "no-arn"}]}, "needs a roleArn"),
        ({"assumeRoles": [{"roleArn": "r", "duration": "an hour"}]}, "is not a duration"),
        ({"assumeRoles": [{"roleArn": "r", "mystery": 1}]}, "mystery"),
    ],
)
def test_settings_the_component_cannot_follow_are_refused_with_the_fix(
    values: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        AwsIdentity.from_provider_settings(settings(**values))


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("1h", 3600), ("90s", 90)])
def test_durations_are_go_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


# --- whole programs: the stack's profile is another account ------------------------


APP_IN_DEV = {"Sid": "DevOnly", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:*"}


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws_:
        # The same repository name in both accounts, each with its own statements.
        aws_.create_repository("team/app", {"Version": "2012-10-17", "Statement": [APP_IN_DEV]})
        aws_.create_repository(
            "team/app", {"Version": "2012-10-17", "Statement": [CI_PUSH]}, profile="prod"
        )
        yield aws_


def stack(**aws_settings: Any) -> Engine:
    values = {"serviceName": "web", "repositories": ["team/app"]}
    return Engine(
        ROOT,
        "prod",
        {
            "config": {
                "aws:region": REGION,
                **{f"aws:{k}": v for k, v in aws_settings.items()},
                **{f"lightsail-ecr-access:{k}": v for k, v in values.items()},
            }
        },
    )


def sids(document: dict[str, Any] | None) -> list[str | None]:
    assert document is not None
    return [s.get("Sid") for s in document["Statement"]]


def test_a_stack_profile_reads_and_writes_only_its_own_account(cloud: EmulatedAws) -> None:
    engine = stack(profile="prod")

    report = engine.up()

    # Granted in prod, to prod's service, keeping prod's statements; dev untouched.
    assert sids(cloud.policy("team/app", profile="prod")) == ["CiPush", "AllowLightsailPull-web"]
    assert cloud.policy("team/app") == {"Version": "2012-10-17", "Statement": [APP_IN_DEV]}
    assert cloud.lightsail.exists("web", REGION, account=PROD_ACCOUNT)
    assert not cloud.lightsail.exists("web", REGION, account=DEV_ACCOUNT)
    assert f":{PROD_ACCOUNT}:" in report.outputs["pullerRolePrincipalArn"]
    assert report.outputs["imageUriPrefixes"]["team/app"].startswith(PROD_ACCOUNT)

    engine.destroy()  # revokes in prod, as the finalizer's stored identity says

    assert cloud.policy("team/app", profile="prod") == {
        "Version": "2012-10-17",
        "Statement": [CI_PUSH],
    }
    assert cloud.policy("team/app") == {"Version": "2012-10-17", "Statement": [APP_IN_DEV]}


def test_assumed_roles_are_followed_and_named_in_the_operator_policy(cloud: EmulatedAws) -> None:
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/deployer"
    engine = stack(assumeRoles=[{"roleArn": role, "sessionName": "ci"}])

    with cloud.record_calls() as record:
        report = engine.up()

    # One AssumeRole for the run's clients (STS and ECR share a session), one for each
    # client the dynamic providers' process keeps (Lightsail for the puller role, ECR for
    # the fresh merge and the verification, STS for the account they record), one for
    # the provider's getCallerIdentity invoke (answered in this process by the
    # emulation); not one per call.
    assert record.of("program").get("sts:AssumeRole") == 5

    assert sids(cloud.policy("team/app", profile="prod")) == ["CiPush", "AllowLightsailPull-web"]
    assert sids(cloud.policy("team/app")) == ["DevOnly"]
    operator = json.loads(report.outputs["operatorPolicy"])
    assume = [s for s in operator["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume == [
        {
            "Sid": "AssumeDeploymentRoles",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": [role],
        }
    ]


def test_without_assumed_roles_the_operator_policy_has_no_assume_role(cloud: EmulatedAws) -> None:
    report = stack().up()

    operator = json.loads(report.outputs["operatorPolicy"])
    assert all(s["Action"] != "sts:AssumeRole" for s in operator["Statement"])


def test_keys_in_the_stack_config_are_refused_before_anything_is_written(
    cloud: EmulatedAws,
) -> None:
    engine = stack(accessKey="AKIAEXAMPLE", secretKey="secret")

    with pytest.raises(DeploymentFailed, match="pulumi config rm aws:accessKey"):
        engine.up()

    assert engine.state == {} and cloud.lightsail.services == {}


# --- under mocks: the account guard and explicit providers --------------------------


@pytest.fixture
def repos(ecr: Any) -> Any:
    ecr.create_repository(repositoryName="team/app")
    return ecr


def build(name: str = "web", opts: pulumi.ResourceOptions | None = None, **extra: Any) -> Any:
    args = {"service_name": name, "region": REGION, "repositories": ["team/app"], **extra}
    return PrivateEcrContainerService(name, args, opts)  # type: ignore[arg-type]


def test_accounts_that_differ_stop_the_run_naming_both(repos: Any) -> None:
    mocks = ServiceMocks(preview=False, provider_account="999999999999")

    with pytest.raises(ConfigurationError) as raised:
        run_program(lambda: build().url, mocks=mocks)

    message = str(raised.value)
    assert "account 123456789012" in message and "account 999999999999" in message
    assert "Nothing was changed" in message


@pytest.mark.parametrize("how", ["provider", "providers"])
def test_an_explicit_provider_is_refused_with_how_to_pass_its_settings(
    repos: Any, how: str
) -> None:
    def program() -> Any:
        provider = aws.Provider("other", region=REGION, profile="prod")
        given = {"provider": provider} if how == "provider" else {"providers": {"aws": provider}}
        return build(opts=pulumi.ResourceOptions(**given)).url

    with pytest.raises(ConfigurationError, match=r"args\['aws_identity'\] = AwsIdentity"):
        run_program(program)


def test_an_identity_argument_builds_a_provider_with_the_same_settings(repos: Any) -> None:
    identity = AwsIdentity(
        assume_roles=(
            AssumedRole(f"arn:aws:iam::{DEV_ACCOUNT}:role/deployer", duration_seconds=900),
        ),
    )
    mocks = ServiceMocks(preview=False)

    recording, _ = run_program(lambda: build(aws_identity=identity).url, mocks=mocks)

    provider = recording.one("pulumi:providers:aws")
    assert "profile" not in provider.inputs
    assert json.loads(provider.inputs["assumeRoles"]) == [
        {"roleArn": f"arn:aws:iam::{DEV_ACCOUNT}:role/deployer", "duration": "900s"}
    ]
    # The provider's account was asked through that provider, and the children use it.
    assert [ref.split("::")[-2] for ref in mocks.invoked_providers] == ["web-aws"]
    service = recording.one("aws:lightsail/containerService:ContainerService")
    assert service.provider.startswith(provider.urn)
    # The dynamic resources carry the same identity, without keys.
    stored = recording.one(":PullerRole").inputs["identity"]
    assert AwsIdentity.from_state(stored) == identity


def test_the_doctor_reads_as_the_stack_would(cloud: EmulatedAws) -> None:
    from components.doctor import build_clients

    as_prod = build_clients("prod")("sts", REGION).get_caller_identity()["Account"]
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/deployer"
    as_role = build_clients(None, [role])("sts", REGION).get_caller_identity()["Account"]
    ambient = build_clients()("sts", REGION).get_caller_identity()["Account"]

    assert (as_prod, as_role, ambient) == (PROD_ACCOUNT, PROD_ACCOUNT, DEV_ACCOUNT)


def test_an_identity_argument_reads_and_writes_the_other_account_end_to_end(
    cloud: EmulatedAws, tmp_path: Any
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import os\n"
        "import pulumi\n"
        "from components import PrivateEcrContainerService\n"
        "from components.identity import AwsIdentity\n"
        "identity = AwsIdentity(profile='prod', "
        "shared_config_file=os.environ['AWS_CONFIG_FILE'])\n"
        "web = PrivateEcrContainerService('web', {'service_name': 'web', "
        "'region': 'us-east-1', 'repositories': ['team/app'], 'aws_identity': identity})\n"
        "pulumi.export('role', web.principal_arn)\n"
    )
    engine = Engine(tmp_path, "dev", {"config": {"aws:region": REGION}})

    report = engine.up()

    assert f":{PROD_ACCOUNT}:" in report.outputs["role"]
    assert sids(cloud.policy("team/app", profile="prod")) == ["CiPush", "AllowLightsailPull-web"]
    assert sids(cloud.policy("team/app")) == ["DevOnly"]
    engine.destroy()
    assert sids(cloud.policy("team/app", profile="prod")) == ["CiPush"]


def test_a_profile_that_is_not_configured_is_named_with_the_fix(cloud: EmulatedAws) -> None:
    with pytest.raises(ConfigurationError, match="AWS profile 'staging' \\(aws:profile\\)"):
        AwsIdentity(profile="staging").client("sts", REGION)


def test_an_identity_argument_must_be_an_aws_identity(repos: Any) -> None:
    with pytest.raises(ConfigurationError, match="give an AwsIdentity"):
        run_program(lambda: build(aws_identity={"profile": "prod"}).url)


def test_a_provider_inherited_from_the_parent_is_refused(repos: Any) -> None:
    def program() -> Any:
        provider = aws.Provider("other", region=REGION, profile="prod")
        parent = pulumi.ComponentResource(
            "team:index:Platform", "platform", None, pulumi.ResourceOptions(providers=[provider])
        )
        return build(opts=pulumi.ResourceOptions(parent=parent)).url

    with pytest.raises(
        ConfigurationError, match=r"through opts\.provider, opts\.providers or its parent"
    ):
        run_program(program)


def test_endpoints_of_the_provider_are_where_the_clients_go() -> None:
    identity = AwsIdentity(endpoints=(("ecr", "http://localhost:4566"),))

    assert identity.client("ecr", REGION).meta.endpoint_url == "http://localhost:4566"
    assert "localhost" not in identity.client("sts", REGION).meta.endpoint_url


# --- secrets in the identity's settings ------------------------------------------------

_SECRET_SIG = "4dabf18193072939515e22adb298388d"


def _plain_occurrences(value: Any, secret: str, inside: bool = False) -> int:
    """How often ``secret`` appears in a serialised value outside a secret wrapper."""
    if isinstance(value, dict):
        wrapped = inside or _SECRET_SIG in value
        return sum(_plain_occurrences(v, secret, wrapped) for v in value.values())
    if isinstance(value, list):
        return sum(_plain_occurrences(v, secret, inside) for v in value)
    return int(isinstance(value, str) and secret in value and not inside)


def test_a_secret_identity_setting_never_reaches_the_state_in_plain_text(
    cloud: EmulatedAws,
) -> None:
    external_id = "ext-id-k33p-s3cr3t"
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/deployer"
    engine = stack(assumeRoles=[{"roleArn": role, "externalId": external_id}])
    # `pulumi config set --secret --path 'aws:assumeRoles[0].externalId' ...` makes the
    # whole top-level key secret.
    engine.secret_keys = {"aws:assumeRoles"}

    engine.up()

    holding = []
    for name, registered in engine.registrations.items():
        # Every registered input: the value only ever inside a secret.
        assert _plain_occurrences(registered.inputs, external_id) == 0, name
        state = next(s for s in engine.state.values() if s.name == name)
        # What the state stores: only ever inside a secret.
        assert _plain_occurrences(state.inputs, external_id) == 0, name
        assert _plain_occurrences(state.outputs, external_id) == 0, name
        for key, value in state.outputs.items():
            if external_id in json.dumps(value, default=str):
                # Every provider output holding it is one the engine keeps secret.
                assert key in registered.additional_secret_outputs, (name, key)
                holding.append(name)
    # The dynamic resources do hold the identity (so the check above saw something).
    assert {"web-puller-role", "web-grant-team/app", "web-verify-team/app"} <= set(holding)
    assert sids(cloud.policy("team/app", profile="prod")) == ["CiPush", "AllowLightsailPull-web"]


def test_an_identity_without_secrets_stays_readable(cloud: EmulatedAws) -> None:
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/deployer"
    engine = stack(assumeRoles=[{"roleArn": role, "externalId": "not-secret"}])

    engine.up()

    role_registration = engine.registrations["web-puller-role"]
    assert _plain_occurrences(role_registration.inputs, "not-secret") == 1
    assert role_registration.additional_secret_outputs == []


def test_an_identity_made_secret_later_is_encrypted_without_an_update(cloud: EmulatedAws) -> None:
    role = f"arn:aws:iam::{PROD_ACCOUNT}:role/deployer"
    engine = stack(assumeRoles=[{"roleArn": role, "externalId": "ext-later-s3cr3t"}])
    engine.up()
    assert "ext-later-s3cr3t" in json.dumps(
        next(s for s in engine.state.values() if s.name == "web-grant-team/app").outputs
    )

    engine.secret_keys = {"aws:assumeRoles"}  # the team now keeps it secret
    report = engine.up()

    # No provider is asked to change anything: a dynamic provider sees its inputs with
    # the secrets stripped, as under the real engine (tests/real_engine/test_secrets.py),
    # so the identity is the same to it. The engine encrypts the outputs of a secret
    # input on every step, a Same step too: the state no longer holds it in plain text.
    assert not report.changed, report.summary()
    holding = []
    for name in engine.registrations:
        state = next(s for s in engine.state.values() if s.name == name)
        assert _plain_occurrences(state.inputs, "ext-later-s3cr3t") == 0, name
        assert _plain_occurrences(state.outputs, "ext-later-s3cr3t") == 0, name
        if "ext-later-s3cr3t" in json.dumps(state.outputs, default=str):
            holding.append(name)
    assert {"web-puller-role", "web-grant-team/app"} <= set(holding)
    assert not engine.up().changed
