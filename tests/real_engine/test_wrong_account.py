"""`destroy` and `refresh` run with another account's credentials, through the real CLI.

Neither runs the program, so the program's account guard never runs: only the
providers do, with whatever credentials the environment holds. Here that is
``AWS_PROFILE=prod`` of the shared config (a role assumed into account 222222222222)
after an `up` as the dev account. The component's dynamic resources recorded the
account they acted in and must refuse, naming both accounts; the grant stays in the
stack's state and its statement in the dev account's policy, and a later run as dev
still removes it.
"""

from __future__ import annotations

from typing import Any

import pytest

from realengine.runner import Stack, Workspace
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, ours, service

pytestmark = pytest.mark.real_engine

PROD_ACCOUNT = "222222222222"


def as_prod(aws: Any) -> dict[str, str]:
    """The environment of a shell switched to prod: another account's keys (a session of
    a role in prod, from the emulated STS)."""
    keys = aws.session(account=PROD_ACCOUNT).get_credentials().get_frozen_credentials()
    return {
        "AWS_ACCESS_KEY_ID": keys.access_key,
        "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        "AWS_SESSION_TOKEN": keys.token,
    }


GRANTS = ("web-grant-team/app", "web-grant-team/worker")


def deployed(workspace: Workspace, **config: Any) -> Stack:
    stack = workspace.stack(
        "web", {"serviceName": "web", "repositories": ["team/app", "team/worker"], **config}
    )
    stack.up()
    ours(aws_app := workspace_aws(stack).policy("team/app"))
    assert aws_app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    return stack


_AWS: dict[str, Any] = {}


def workspace_aws(stack: Stack) -> Any:
    return _AWS[stack.workspace.aws_endpoint]


@pytest.fixture(autouse=True)
def _remember(aws: Any) -> None:
    _AWS[aws.endpoint] = aws


def names(stack: Stack) -> set[str]:
    return {r["urn"].rsplit("::", 1)[1] for r in stack.resources()}


def own_names(stack: Stack) -> set[str]:
    """The component's own resources (the package provider's), by name."""
    return {
        r["urn"].rsplit("::", 1)[1]
        for r in stack.resources()
        if r.get("custom") and r["type"].startswith("lightsail-ecr:index:")
    }


def assert_refused(run: Any) -> None:
    assert run.returncode != 0, run
    output = run.output
    assert f"deployed in AWS account {ACCOUNT}" in output, str(run)
    assert f"act in account {PROD_ACCOUNT}" in output, str(run)
    assert "Nothing was changed" in output and "stays in the stack's state" in output, str(run)


def assert_dev_untouched(stack: Stack, aws: Any) -> None:
    assert set(GRANTS) <= names(stack)
    app = aws.policy("team/app")
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    ours(app)
    ours(aws.policy("team/worker"))
    assert service(aws, "web") is not None


def test_destroy_as_another_account_is_refused_and_keeps_the_grants(
    workspace: Workspace, aws: Any
) -> None:
    stack = deployed(workspace)

    run = stack.run("destroy", "--yes", "--skip-preview", check=False, env=as_prod(aws))

    assert_refused(run)
    assert_dev_untouched(stack, aws)
    assert "web-service" in names(stack), "the service left the state while it lives on"

    stack.destroy()  # as dev again: everything goes, other teams' statements stay
    assert aws.policy("team/app") == SHARED
    assert aws.policy("team/worker") is None
    assert service(aws, "web") is None


def test_refresh_as_another_account_is_refused_and_keeps_the_grants(
    workspace: Workspace, aws: Any
) -> None:
    stack = deployed(workspace)
    own_before = own_names(stack)

    run = stack.run("refresh", "--yes", "--skip-preview", check=False, env=as_prod(aws))

    assert_refused(run)
    # Each of the component's resources refused to read another account as "gone".
    assert own_names(stack) == own_before
    assert_dev_untouched(stack, aws)


def test_refresh_as_another_account_forgets_nothing_when_the_stack_names_its_account(
    workspace: Workspace, aws: Any
) -> None:
    # Without `aws:allowedAccountIds` such a refresh drops the container service and the
    # policy resources from the state (the AWS provider reads what it does not find as
    # deleted, and nothing of the component runs before those reads): the README's
    # account section has every stack set it, and the AWS provider then refuses at
    # Configure, before any read.
    stack = deployed(workspace, **{"aws:allowedAccountIds": [ACCOUNT]})
    before = names(stack)

    run = stack.run("refresh", "--yes", "--skip-preview", check=False, env=as_prod(aws))

    assert run.returncode != 0, run
    assert f"AWS account ID not allowed: {PROD_ACCOUNT}" in run.output, run
    assert names(stack) == before
    assert_dev_untouched(stack, aws)
    stack.run("up", "--yes", "--expect-no-changes")
