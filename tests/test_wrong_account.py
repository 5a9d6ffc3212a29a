"""`destroy`, `refresh` and `up` run with another account's credentials than the stack's.

`destroy` and `refresh` run no program, so the program's account guard never runs: only
the dynamic providers do, with whatever credentials are around. Each of them recorded
the account it acted in; in another account they stop, naming both, and the stack's
state and the statements stay as they were. Whole stacks against emulated AWS: the dev
account is the environment's keys, the `prod` profile assumes a role into another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from components.aws import sdk
from components.dynamic_providers import WrongAccountError
from emulation.cloud import DEV_ACCOUNT, PROD_ACCOUNT, EmulatedAws
from emulation.engine import DeploymentFailed, Engine
from tests.conftest import CI_PUSH, REGION, ROOT

OTHER_TEAMS = {"Version": "2012-10-17", "Statement": [CI_PUSH]}
GRANT = "web-grant-team/app"
OURS = "lightsail-ecr:index:"
"""The component's own resources (the package provider's)."""


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws_:
        aws_.create_repository("team/app", OTHER_TEAMS)
        yield aws_


def dev_stack(**aws_settings: Any) -> Engine:
    values = {"serviceName": "web", "repositories": ["team/app"]}
    return Engine(
        ROOT,
        "dev",
        {
            "config": {
                "aws:region": REGION,
                **{f"aws:{k}": v for k, v in aws_settings.items()},
                **{f"lightsail-ecr-access:{k}": v for k, v in values.items()},
            }
        },
    )


@contextmanager
def prod_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment acts in prod (AWS_PROFILE=prod, no keys), in a new provider process."""
    with monkeypatch.context() as env:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.delenv(key, raising=False)
        env.setenv("AWS_PROFILE", "prod")
        sdk.forget_cached_clients()
        yield
    sdk.forget_cached_clients()


def sids(cloud: EmulatedAws) -> list[str | None]:
    document = cloud.policy("team/app")
    assert document is not None
    return [s.get("Sid") for s in document["Statement"]]


def names(engine: Engine) -> list[str]:
    return sorted(state.name for state in engine.state.values())


def dynamic_names(engine: Engine) -> list[str]:
    return sorted(s.name for s in engine.state.values() if s.custom and s.type.startswith(OURS))


def assert_names_both_accounts(message: str) -> None:
    assert f"deployed in AWS account {DEV_ACCOUNT}" in message
    assert f"act in account {PROD_ACCOUNT}" in message
    assert "Nothing was changed" in message and "stays in the stack's state" in message
    assert f"credentials of account {DEV_ACCOUNT}" in message and "AWS_PROFILE" in message


def test_every_resource_of_ours_records_the_account_it_acted_in(cloud: EmulatedAws) -> None:
    engine = dev_stack()
    engine.up()

    ours = [s for s in engine.state.values() if s.custom and s.type.startswith(OURS)]
    assert len(ours) == 4
    assert {s.outputs["account"] for s in ours} == {DEV_ACCOUNT}
    assert not engine.up().changed


def test_destroy_with_another_accounts_credentials_stops_and_keeps_the_grant(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = dev_stack()
    engine.up()
    assert sids(cloud) == ["CiPush", "AllowLightsailPull-web"]
    before = names(engine)

    with prod_credentials(monkeypatch), pytest.raises(WrongAccountError) as raised:
        engine.destroy()

    assert_names_both_accounts(str(raised.value))
    # The first delete, the verification's, refuses (as under the real engine, see
    # tests/real_engine/test_wrong_account.py): nothing is forgotten, the finalizer and
    # the service included, and the statement is still in dev's policy.
    assert "the policy write of repository team/app" in str(raised.value)
    assert names(engine) == before
    assert GRANT in names(engine)
    assert sids(cloud) == ["CiPush", "AllowLightsailPull-web"]

    engine.destroy()  # as the dev account again

    assert cloud.policy("team/app") == OTHER_TEAMS
    assert engine.state == {}


def test_destroy_as_another_account_holding_the_same_repository_also_stops(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # There the statement is "not present": no less wrong a reason to forget the grant.
    cloud.create_repository("team/app", OTHER_TEAMS, profile="prod")
    engine = dev_stack()
    engine.up()

    with prod_credentials(monkeypatch), pytest.raises(WrongAccountError):
        engine.destroy()

    assert GRANT in names(engine)
    assert sids(cloud) == ["CiPush", "AllowLightsailPull-web"]


def test_refresh_with_another_accounts_credentials_fails_instead_of_dropping(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = dev_stack()
    engine.up()
    before = dynamic_names(engine)
    assert len(before) == 4

    with prod_credentials(monkeypatch), pytest.raises(WrongAccountError) as raised:
        engine.refresh()

    assert_names_both_accounts(str(raised.value))
    # Every dynamic resource is still in the state. (The bridged service that the
    # emulated AWS provider read first, in prod, is not: that is the provider's read.)
    assert set(before) <= set(names(engine))
    report = engine.refresh()  # as dev: the dynamic resources read as they were
    assert set(before) <= set(report.unchanged)


def test_preview_with_another_accounts_credentials_stops_at_the_drift_check(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.create_repository("team/app", OTHER_TEAMS, profile="prod")
    engine = dev_stack()
    engine.up()

    with prod_credentials(monkeypatch), pytest.raises(DeploymentFailed) as raised:
        engine.preview()

    assert "container service web was deployed in AWS account" in str(raised.value)
    assert sids(cloud) == ["CiPush", "AllowLightsailPull-web"]


def test_up_with_the_stack_switched_to_another_account_stops_and_keeps_the_grant(
    cloud: EmulatedAws,
) -> None:
    cloud.create_repository("team/app", OTHER_TEAMS, profile="prod")
    engine = dev_stack()
    engine.up()

    engine.set_config({"config": dev_stack(profile="prod").config})
    with pytest.raises(DeploymentFailed, match=f"deployed in AWS account {DEV_ACCOUNT}"):
        engine.up()

    assert GRANT in names(engine)
    assert sids(cloud) == ["CiPush", "AllowLightsailPull-web"]


def test_a_repository_gone_from_its_own_account_forgets_the_grant(cloud: EmulatedAws) -> None:
    engine = dev_stack()
    engine.up()
    cloud.ecr.delete_repository(repositoryName="team/app", force=True)

    engine.destroy()

    assert engine.state == {}


def without_accounts(engine: Engine) -> None:
    """The stack as a version before accounts were recorded left it."""
    for state in engine.state.values():
        if state.custom and state.type.startswith(OURS):
            state.outputs.pop("account")


def test_state_without_accounts_shows_no_change_and_still_destroys(cloud: EmulatedAws) -> None:
    engine = dev_stack()
    engine.up()
    without_accounts(engine)

    assert not engine.up().changed  # its absence is no diff (recorded on the next update)
    report = engine.refresh()
    assert set(dynamic_names(engine)) <= set(report.unchanged)

    engine.destroy()

    assert cloud.policy("team/app") == OTHER_TEAMS
    assert engine.state == {}
