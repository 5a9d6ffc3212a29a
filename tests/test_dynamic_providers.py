"""The dynamic providers as the Pulumi engine would run them: pickled, then called.

Lightsail is a Stubber-activated boto3 client handed out by a patched
``components.aws.sdk.client``; ECR is moto. Time is faked through the keyword defaults
of ``ensure_puller_role`` (``sleep``/``clock`` are bound when the function is defined,
so patching ``time.sleep`` afterwards would not reach them).
"""

from __future__ import annotations

import base64
import json
import os
import pickletools
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import dill
import pulumi
import pytest
from botocore.stub import Stubber
from pulumi.dynamic.dynamic import serialize_provider

from components.aws import puller_role, sdk, sts_api
from components.aws.identity import AssumedRole, AwsIdentity
from components.dynamic_providers import (
    PICKLE_MODULE,
    GrantFinalizerProvider,
    PullerRoleProvider,
    WrongAccountError,
)
from components.rules.policy import pull_statement, statement_sid
from tests.conftest import ACCOUNT, REGION, ROLE_ARN, container_services, put_policy

SERVICE = "web"
REPOSITORY = "team/app"
SID = statement_sid(SERVICE)
GET = {"serviceName": SERVICE}


# --- (a) pickled by reference --------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# What 0.1.0 (checkout only) wrote into every stack's state, byte for byte.
PICKLED_BY_0_1_0 = {
    "PullerRoleProvider": (
        "gASVOgAAAAAAAACMHGNvbXBvbmVudHMuZHluYW1pY19wcm92aWRlcnOUjBJQdWxsZXJSb2xlUHJvdmlkZXKU"
        "k5QpgZQu"
    ),
    "GrantFinalizerProvider": (
        "gASVPgAAAAAAAACMHGNvbXBvbmVudHMuZHluYW1pY19wcm92aWRlcnOUjBZHcmFudEZpbmFsaXplclByb3Zp"
        "ZGVylJOUKYGULg=="
    ),
}


def pickled_global(raw: bytes) -> tuple[str, str]:
    """The (module, qualified name) that a pickled provider's class is looked up by."""
    ops = list(pickletools.genops(raw))
    at = next(i for i, (op, _, _) in enumerate(ops) if op.name == "STACK_GLOBAL")
    strings = [arg for _, arg, _ in ops[:at] if isinstance(arg, str)]
    return strings[-2], strings[-1]


@pytest.mark.parametrize("provider_class", [PullerRoleProvider, GrantFinalizerProvider])
def test_provider_pickles_by_reference(provider_class: type) -> None:
    serialized = serialize_provider(provider_class())
    raw = base64.b64decode(serialized)

    restored = dill.loads(raw)

    assert type(restored) is provider_class
    # Stored by module path and class name, not by value: renaming either breaks the
    # `destroy` of stacks that hold the old pickle. The path is the stable module's,
    # the same from the checkout (`components`) and installed (`lightsail_ecr_access`).
    assert pickled_global(raw) == (PICKLE_MODULE, provider_class.__name__)
    assert PICKLE_MODULE == "lightsail_ecr_access_providers"
    assert b"components" not in raw
    assert len(raw) < 300
    # No bytecode of the methods is carried.
    assert b"revoke_statement" not in raw
    assert b"ensure_puller_role" not in raw


@pytest.mark.parametrize("provider_class", [PullerRoleProvider, GrantFinalizerProvider])
def test_pickles_written_by_0_1_0_still_restore(provider_class: type) -> None:
    raw = base64.b64decode(PICKLED_BY_0_1_0[provider_class.__name__])
    assert pickled_global(raw) == ("components.dynamic_providers", provider_class.__name__)

    assert type(dill.loads(raw)) is provider_class


def test_grant_of_a_0_1_0_stack_is_revoked_by_its_stored_provider(ecr: Any) -> None:
    put_policy(
        ecr, {"Version": "2012-10-17", "Statement": [OTHER_TEAM, pull_statement(SERVICE, ROLE_ARN)]}
    )
    stored = dill.loads(base64.b64decode(PICKLED_BY_0_1_0["GrantFinalizerProvider"]))

    stored.delete("id", dict(GRANT))

    policy = json.loads(ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"])
    assert policy["Statement"] == [OTHER_TEAM]


RESTORE_IN_NEW_PROCESS = """
import base64, json, sys
import dill
found = []
for text in sys.argv[1:]:
    provider = dill.loads(base64.b64decode(text))
    found.append([type(provider).__module__, type(provider).__name__,
                  sys.modules[type(provider).__module__].__file__,
                  type(provider).create.__code__.co_filename])
print(json.dumps(found))
"""


def test_a_new_provider_process_in_the_checkout_restores_old_and_new_pickles() -> None:
    """As Pulumi starts it: in the project root, which is first on sys.path."""
    new = [serialize_provider(c()) for c in (PullerRoleProvider, GrantFinalizerProvider)]
    old = list(PICKLED_BY_0_1_0.values())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    for pickles in (new, old):
        done = subprocess.run(
            [sys.executable, "-c", RESTORE_IN_NEW_PROCESS, *pickles],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        restored = json.loads(done.stdout)
        assert [name for _, name, _, _ in restored] == [
            "PullerRoleProvider",
            "GrantFinalizerProvider",
        ]
        for module, _, module_file, code_file in restored:
            # The code that runs is the checkout's, whichever name the pickle holds.
            assert code_file == str(ROOT / "components" / "dynamic_providers.py")
            assert module == PICKLE_MODULE
            # A new pickle is looked up through the stable module's file; an old one
            # imports components.dynamic_providers, which then serves that name itself.
            stable = "lightsail_ecr_access_providers.py" if pickles is new else "components"
            assert stable in module_file


def test_a_second_copy_of_the_package_in_one_process_is_refused(tmp_path: Path) -> None:
    """Its classes could not be pickled by reference: dill would store them by value."""
    (tmp_path / "othercopy").symlink_to(ROOT / "components")
    program = "import components, othercopy"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}

    done = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip

    assert done.returncode != 0
    assert "othercopy.dynamic_providers and components.dynamic_providers are two copies" in (
        done.stderr
    )


# --- (b) grant finalizer ---------------------------------------------------------------


GRANT = {"region": REGION, "repository": REPOSITORY, "sid": SID}
PROD = AwsIdentity(
    profile="prod", assume_roles=(AssumedRole("arn:aws:iam::222222222222:role/deployer"),)
).to_state()


@pytest.fixture
def prod_account(monkeypatch: pytest.MonkeyPatch) -> str:
    """The account STS would name for any identity (PROD is no profile of this machine)."""
    monkeypatch.setattr(sts_api, "process_account", lambda *_: "222222222222")
    return "222222222222"


def test_grant_create_outputs_what_names_the_grant_and_how_to_reach_it(prod_account: str) -> None:
    result = GrantFinalizerProvider().create({**GRANT, "identity": PROD, "unrelated": "ignored"})

    assert result.id == f"{REGION}/{REPOSITORY}/{SID}"
    assert result.id == "us-east-1/team/app/AllowLightsailPull-web"
    assert result.outs == {**GRANT, "identity": PROD, "account": prod_account}


def test_grant_diff_changed_identity_is_an_update_and_destroy_uses_the_new_one(
    prod_account: str,
) -> None:
    provider = GrantFinalizerProvider()

    result = provider.diff("id", {**GRANT, "identity": None}, {**GRANT, "identity": PROD})
    updated = provider.update("id", {**GRANT, "identity": None}, {**GRANT, "identity": PROD})

    assert result.changes is True and result.replaces == []
    assert updated.outs == {**GRANT, "identity": PROD, "account": prod_account}


def test_state_without_identity_equals_the_ambient_identity() -> None:
    # State written before identities existed must not show a change after an upgrade.
    ambient = AwsIdentity().to_state()

    assert (
        not GrantFinalizerProvider().diff("id", dict(GRANT), {**GRANT, "identity": ambient}).changes
    )


def test_grant_diff_identical_is_no_change() -> None:
    result = GrantFinalizerProvider().diff("id", dict(GRANT), dict(GRANT))

    assert result.changes is False
    assert not result.replaces


@pytest.mark.parametrize(
    ("key", "value"),
    [("sid", statement_sid("api")), ("repository", "team/other"), ("region", "eu-west-1")],
)
def test_grant_diff_changed_identity_replaces(key: str, value: str) -> None:
    result = GrantFinalizerProvider().diff("id", dict(GRANT), {**GRANT, key: value})

    assert result.changes is True
    assert result.replaces == [key]
    assert result.delete_before_replace is False


OTHER_TEAM: dict[str, Any] = {
    "Sid": "AllowCiPush",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": ["ecr:PutImage", "ecr:UploadLayerPart"],
}


def test_grant_delete_removes_only_our_statement(ecr: Any) -> None:
    put_policy(
        ecr, {"Version": "2012-10-17", "Statement": [OTHER_TEAM, pull_statement(SERVICE, ROLE_ARN)]}
    )

    GrantFinalizerProvider().delete(f"{REGION}/{REPOSITORY}/{SID}", dict(GRANT))

    stored = json.loads(ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"])
    assert stored == {"Version": "2012-10-17", "Statement": [OTHER_TEAM]}


def test_grant_delete_of_last_statement_deletes_policy(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2008-10-17", "Statement": [pull_statement(SERVICE, ROLE_ARN)]})

    GrantFinalizerProvider().delete("id", dict(GRANT))

    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName=REPOSITORY)


def test_grant_delete_succeeds_when_repository_is_gone(ecr: Any) -> None:
    ecr.create_repository(repositoryName=REPOSITORY)
    ecr.delete_repository(repositoryName=REPOSITORY, force=True)

    assert GrantFinalizerProvider().delete("id", dict(GRANT)) is None


def test_grant_delete_runs_from_the_pickled_copy(ecr: Any) -> None:
    """The engine deletes with the provider stored in the state, not a fresh one."""
    put_policy(
        ecr, {"Version": "2012-10-17", "Statement": [OTHER_TEAM, pull_statement(SERVICE, ROLE_ARN)]}
    )
    stored_provider = dill.loads(base64.b64decode(serialize_provider(GrantFinalizerProvider())))

    stored_provider.delete("id", dict(GRANT))

    stored = json.loads(ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"])
    assert stored["Statement"] == [OTHER_TEAM]


# --- (c) puller role -------------------------------------------------------------------


@dataclass
class FakeLightsail:
    """What the patched ``sdk.client`` handed out, and the fake time it ran on."""

    client: Any
    stubber: Stubber
    requested: list[tuple[str, str]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    identities: list[AwsIdentity | None] = field(default_factory=list)
    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def lightsail(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLightsail]:
    client = boto3.client("lightsail", region_name=REGION)
    with Stubber(client) as stubber:
        fake = FakeLightsail(client, stubber)

        def build(service: str, region: str, identity: AwsIdentity | None = None, **_: Any) -> Any:
            if service == "sts":
                # Which account the role acts in: asked, not counted as a Lightsail client.
                return types.SimpleNamespace(get_caller_identity=lambda: {"Account": ACCOUNT})
            fake.requested.append((service, region))
            fake.identities.append(identity)
            if service != "lightsail":
                raise AssertionError(f"unexpected client for {service}")
            return client

        monkeypatch.setattr(sdk, "client", build)
        # The provider passes no clock; ensure_puller_role reads the module's `time`.
        monkeypatch.setattr(
            puller_role, "time", types.SimpleNamespace(sleep=fake.sleep, monotonic=fake.clock)
        )
        yield fake


ROLE_PROPS: dict[str, Any] = {
    "region": REGION,
    "service_name": SERVICE,
    "active": True,
    "timeout_seconds": 60,
    "identity": PROD,
    "principal_arn": None,
}
ROLE_OUTS: dict[str, Any] = {**ROLE_PROPS, "principal_arn": ROLE_ARN}


def test_role_create_activates_and_outputs_arn(lightsail: FakeLightsail) -> None:
    stubber = lightsail.stubber
    stubber.add_response("get_container_services", container_services(False), GET)
    stubber.add_response(
        "update_container_service",
        {},
        {
            "serviceName": SERVICE,
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": True}},
        },
    )
    stubber.add_response("get_container_services", container_services(True, ""), GET)
    stubber.add_response("get_container_services", container_services(True, ROLE_ARN), GET)

    result = PullerRoleProvider().create(dict(ROLE_PROPS))

    assert result.id == "us-east-1/web"
    assert result.outs["principal_arn"] == ROLE_ARN
    assert result.outs == {**ROLE_OUTS, "account": ACCOUNT}
    stubber.assert_no_pending_responses()
    assert lightsail.requested == [("lightsail", REGION)]
    assert len(lightsail.sleeps) == 2


def test_role_create_honours_timeout_seconds(lightsail: FakeLightsail) -> None:
    stubber = lightsail.stubber
    stubber.add_response("get_container_services", container_services(True, ""), GET)
    # Sleeps of 2 and 4 then the 1 s left: three polls, then the 7 s timeout is reached.
    for _ in range(3):
        stubber.add_response("get_container_services", container_services(True, ""), GET)

    with pytest.raises(puller_role.PullerRoleTimeout, match="'web'"):
        PullerRoleProvider().create({**ROLE_PROPS, "timeout_seconds": 7})

    assert lightsail.sleeps == [2.0, 4.0, 1.0]
    stubber.assert_no_pending_responses()


def test_role_diff_identical_with_matching_live_role_is_no_change(
    lightsail: FakeLightsail,
) -> None:
    lightsail.stubber.add_response(
        "get_container_services", container_services(True, ROLE_ARN), GET
    )

    result = PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), dict(ROLE_PROPS))

    assert result.changes is False
    assert not result.replaces
    lightsail.stubber.assert_no_pending_responses()


def test_role_diff_sees_role_switched_off_by_hand(lightsail: FakeLightsail) -> None:
    lightsail.stubber.add_response("get_container_services", container_services(False), GET)

    result = PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), dict(ROLE_PROPS))

    assert result.changes is True
    assert not result.replaces
    lightsail.stubber.assert_no_pending_responses()


def test_role_diff_sees_a_different_live_arn(lightsail: FakeLightsail) -> None:
    other_arn = ROLE_ARN.replace("3EXAMPLE", "4EXAMPLE")
    lightsail.stubber.add_response(
        "get_container_services", container_services(True, other_arn), GET
    )

    result = PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), dict(ROLE_PROPS))

    assert result.changes is True
    assert not result.replaces


def test_role_diff_sees_role_switched_on_by_hand(lightsail: FakeLightsail) -> None:
    olds = {**ROLE_OUTS, "active": False, "principal_arn": ""}
    news = {**ROLE_PROPS, "active": False}
    lightsail.stubber.add_response(
        "get_container_services", container_services(True, ROLE_ARN), GET
    )

    result = PullerRoleProvider().diff("us-east-1/web", olds, news)

    assert result.changes is True
    lightsail.stubber.assert_no_pending_responses()


def test_role_diff_changed_active_is_update_without_replace(lightsail: FakeLightsail) -> None:
    result = PullerRoleProvider().diff(
        "us-east-1/web", dict(ROLE_OUTS), {**ROLE_PROPS, "active": False}
    )

    assert result.changes is True
    assert not result.replaces
    # A changed input is enough: no live look is needed.
    assert lightsail.requested == []


@pytest.mark.parametrize(("key", "value"), [("service_name", "api"), ("region", "eu-west-1")])
def test_role_diff_changed_identity_replaces(
    lightsail: FakeLightsail, key: str, value: str
) -> None:
    result = PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), {**ROLE_PROPS, key: value})

    assert result.changes is True
    assert key in result.replaces
    assert "active" not in result.replaces


def test_role_diff_failed_live_look_warns_naming_the_action(
    lightsail: FakeLightsail, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))
    lightsail.stubber.add_client_error(
        "get_container_services", service_error_code="AccessDeniedException", http_status_code=403
    )

    result = PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), dict(ROLE_PROPS))

    assert result.changes is False
    lightsail.stubber.assert_no_pending_responses()
    # Not silently green: the look that failed, and why, is said.
    [warning] = warnings
    assert "lightsail:GetContainerServices" in warning and "web" in warning
    assert "AWS denied" in warning


def test_role_acts_as_the_stored_identity(lightsail: FakeLightsail) -> None:
    lightsail.stubber.add_response(
        "get_container_services", container_services(True, ROLE_ARN), GET
    )

    PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), dict(ROLE_PROPS))

    assert lightsail.identities == [AwsIdentity.from_state(PROD)]
    assert lightsail.identities[0].profile == "prod"  # type: ignore[union-attr]


def test_role_update_deactivates(lightsail: FakeLightsail) -> None:
    stubber = lightsail.stubber
    stubber.add_response("get_container_services", container_services(True, ROLE_ARN), GET)
    stubber.add_response(
        "update_container_service",
        {},
        {
            "serviceName": SERVICE,
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": False}},
        },
    )

    result = PullerRoleProvider().update(
        "us-east-1/web", dict(ROLE_OUTS), {**ROLE_PROPS, "active": False}
    )

    assert result.outs["active"] is False
    assert result.outs["principal_arn"] == ""
    stubber.assert_no_pending_responses()


def test_role_read_reports_live_state(lightsail: FakeLightsail) -> None:
    lightsail.stubber.add_response("get_container_services", container_services(False), GET)

    result = PullerRoleProvider().read("us-east-1/web", dict(ROLE_OUTS))

    assert result.id == "us-east-1/web"
    assert result.outs["active"] is False
    assert result.outs["principal_arn"] == ""
    assert result.outs["service_name"] == SERVICE


def test_role_read_of_a_deleted_service_reports_the_role_gone(lightsail: FakeLightsail) -> None:
    lightsail.stubber.add_client_error(
        "get_container_services", service_error_code="NotFoundException"
    )

    result = PullerRoleProvider().read("us-east-1/web", dict(ROLE_OUTS))

    assert result.id == "" and result.outs == {}


def test_role_delete_makes_no_aws_call(lightsail: FakeLightsail) -> None:
    # No responses are queued: any Lightsail call would raise UnStubbedResponseError.
    assert PullerRoleProvider().delete("us-east-1/web", dict(ROLE_OUTS)) is None

    assert lightsail.requested == []
    lightsail.stubber.assert_no_pending_responses()


# --- (d) clients: built once per provider process -------------------------------------


def test_role_provider_builds_its_client_once_per_process(lightsail: FakeLightsail) -> None:
    for _ in range(3):
        lightsail.stubber.add_response(
            "get_container_services", container_services(True, ROLE_ARN), GET
        )

    for _ in range(3):  # three diffs, as the engine asks of a stack's three runs
        PullerRoleProvider().diff("us-east-1/web", dict(ROLE_OUTS), dict(ROLE_PROPS))

    assert lightsail.requested == [("lightsail", REGION)]
    lightsail.stubber.assert_no_pending_responses()


def test_grant_provider_builds_one_client_per_region(
    ecr: Any, client_builds: list[tuple[str, str]]
) -> None:
    built = client_builds
    repositories = ["team/app", "team/worker", "team/jobs"]
    for repository in repositories:
        put_policy(ecr, {"Version": "2012-10-17", "Statement": [OTHER_TEAM]}, repository)
    stored = dill.loads(base64.b64decode(serialize_provider(GrantFinalizerProvider())))

    for repository in repositories:
        stored.delete("id", {**GRANT, "repository": repository})
    GrantFinalizerProvider().delete("id", {**GRANT, "region": "eu-west-1"})

    # (The repository is missing in eu-west-1: for state without an account, STS is
    # asked which account it is missing from, to say so.)
    assert built == [("ecr", REGION), ("ecr", "eu-west-1"), ("sts", "eu-west-1")]


def test_cached_client_is_shared_per_service_and_region() -> None:
    first = sdk.cached_client("ecr", REGION)

    assert sdk.cached_client("ecr", REGION) is first
    assert sdk.cached_client("ecr", "eu-west-1") is not first
    assert sdk.cached_client("lightsail", REGION) is not first
    sdk.forget_cached_clients()
    assert sdk.cached_client("ecr", REGION) is not first


# --- (e) the account each resource acted in -------------------------------------------

ELSEWHERE = "999999999999"


def test_grant_create_records_the_account_it_acts_in_asked_once_per_process(
    ecr: Any, client_builds: list[tuple[str, str]]
) -> None:
    for repository in ("team/app", "team/worker"):
        created = GrantFinalizerProvider().create({**GRANT, "repository": repository})
        assert created.outs["account"] == ACCOUNT

    assert client_builds == [("sts", REGION)]


def test_grant_delete_in_another_account_stops_and_changes_nothing(ecr: Any) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [OTHER_TEAM, pull_statement(SERVICE, ROLE_ARN)],
    }
    put_policy(ecr, document)

    with pytest.raises(WrongAccountError) as raised:
        GrantFinalizerProvider().delete("id", {**GRANT, "account": ELSEWHERE})

    message = str(raised.value)
    assert f"deployed in AWS account {ELSEWHERE}" in message
    assert f"act in account {ACCOUNT}" in message and "Nothing was changed" in message
    assert json.loads(ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"]) == (
        document
    )


def test_grant_delete_in_its_own_account_of_a_gone_repository_forgets_it(ecr: Any) -> None:
    assert GrantFinalizerProvider().delete("id", {**GRANT, "account": ACCOUNT}) is None


def test_grant_delete_of_state_without_account_warns_when_the_repository_is_missing(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))

    GrantFinalizerProvider().delete("id", dict(GRANT))  # as older versions stored it

    [warning] = warnings
    assert f"not found in account {ACCOUNT}" in warning and "still there" in warning


def test_grant_update_of_state_without_account_records_it(ecr: Any) -> None:
    news = {**GRANT, "identity": AwsIdentity().to_state()}

    assert not GrantFinalizerProvider().diff("id", dict(GRANT), news).changes
    assert GrantFinalizerProvider().update("id", dict(GRANT), news).outs["account"] == ACCOUNT


def test_grant_update_in_another_account_stops(ecr: Any) -> None:
    with pytest.raises(WrongAccountError, match=f"account {ELSEWHERE}"):
        GrantFinalizerProvider().update("id", {**GRANT, "account": ELSEWHERE}, dict(GRANT))


def test_role_read_and_diff_in_another_account_stop_before_reading_lightsail(
    lightsail: FakeLightsail,
) -> None:
    olds = {**ROLE_OUTS, "account": ELSEWHERE}

    with pytest.raises(WrongAccountError, match="container service web"):
        PullerRoleProvider().read("us-east-1/web", olds)
    with pytest.raises(WrongAccountError, match="container service web"):
        PullerRoleProvider().diff("us-east-1/web", olds, dict(ROLE_PROPS))

    assert lightsail.requested == []


# --- a provider process whose engine is gone --------------------------------------------


def test_the_engine_watch_ends_the_process_at_end_of_file_of_stdin() -> None:
    from components.dynamic_providers import ENGINE_GONE_EXIT, _exit_when_engine_gone

    chunks = [b"x", b""]
    exits: list[int] = []
    _exit_when_engine_gone(read=lambda _fd, _n: chunks.pop(0), exit_now=exits.append)
    assert exits == [ENGINE_GONE_EXIT] and chunks == []


def test_the_engine_watch_runs_only_in_the_dynamic_provider_host() -> None:
    # A program, the emulated engine and these tests import the module too: their stdin
    # is not the engine's, and reading it would end them.
    from components.dynamic_providers import _in_dynamic_provider_host

    assert not _in_dynamic_provider_host()
    assert not any(t.name == "engine-watch" for t in threading.enumerate())


def test_a_warning_names_the_urn_of_the_request_being_served() -> None:
    # The dynamic host serves each call as Create(self, request, context); the provider's
    # code runs below it on the same thread.
    from components.dynamic_providers import _urn_being_served

    urn = "urn:pulumi:web::p::pulumi-python:dynamic/lightsail-ecr:GrantVerification::v"

    def serve(request: Any) -> str | None:
        return provider_code()

    def provider_code() -> str | None:
        return _urn_being_served()

    assert serve(types.SimpleNamespace(urn=urn)) == urn
    assert provider_code() is None


def test_outside_the_dynamic_host_warnings_go_to_pulumi_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from components import dynamic_providers

    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warned.append(message))
    dynamic_providers._warn("a repair")
    assert warned == ["a repair"]
