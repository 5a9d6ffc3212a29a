"""The real ``__main__.py`` through its whole life with the real ``pulumi`` CLI.

What is asserted is what other teams would see in the emulated ECR (their statements
equal and in order, ours added, then gone), and what a user sees from the CLI (a second
`up` and a refreshed preview that change nothing).
"""

from __future__ import annotations

from typing import Any

import pytest

from realengine.runner import Stack, Workspace
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, ours, service, sids

pytestmark = pytest.mark.real_engine


def web_stack(workspace: Workspace, **keys: Any) -> Stack:
    return workspace.stack(
        "web", {"serviceName": "web", "repositories": ["team/app", "team/worker"], **keys}
    )


def test_up_up_destroy_keeps_other_teams_statements(workspace: Workspace, aws: Any) -> None:
    stack = web_stack(workspace)

    stack.up()

    live = service(aws, "web")
    assert live is not None
    role = live["privateRegistryAccess"]["ecrImagePullerRole"]
    assert role["isActive"] and role["principalArn"]
    assert stack.outputs()["pullerRolePrincipalArn"] == role["principalArn"]
    app = aws.policy("team/app")
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    assert ours(app) == {
        "Sid": "AllowLightsailPull-web",
        "Effect": "Allow",
        "Principal": {"AWS": role["principalArn"]},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    assert aws.policy("team/worker") == {"Version": "2008-10-17", "Statement": [ours(app)]}

    # The second run, and a refreshed preview, change nothing and write nothing.
    before = {r: aws.policy(r) for r in ("team/app", "team/worker")}
    stack.run("up", "--yes", "--expect-no-changes")
    stack.preview("--refresh", "--expect-no-changes")
    assert {r: aws.policy(r) for r in before} == before

    # A third run stores every resource's inputs as they are: the engine writes its whole
    # state for each one whose inputs changed, Same step or not (a run id among them made
    # most of a steady `up` at 160 repositories).
    def inputs() -> dict[str, Any]:
        return {r["urn"]: r.get("inputs") for r in stack.resources()}

    settled = inputs()
    stack.run("up", "--yes", "--expect-no-changes")
    assert inputs() == settled

    stack.destroy()

    assert aws.policy("team/app") == SHARED
    assert aws.policy("team/worker") is None
    assert service(aws, "web") is None
    assert stack.resources() == []


def test_a_statement_added_by_another_team_after_up_is_kept(workspace: Workspace, aws: Any) -> None:
    stack = web_stack(workspace)
    stack.up()
    late = {
        "Sid": "LateComer",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/late"},
        "Action": ["ecr:DescribeImages"],
    }
    document = aws.policy("team/app")
    aws.set_policy("team/app", {**document, "Statement": [*document["Statement"], late]})

    stack.up()
    stack.refresh()
    stack.up()

    assert late in aws.policy("team/app")["Statement"]
    assert "AllowLightsailPull-web" in sids(aws.policy("team/app"))

    stack.destroy()
    assert aws.policy("team/app") == {
        "Version": "2012-10-17",
        "Statement": [*OTHER_TEAMS, late],
    }


def test_preview_of_a_first_up_writes_nothing(workspace: Workspace, aws: Any) -> None:
    stack = web_stack(workspace)

    run = stack.preview()

    assert "web-policy-team/app" in run.stdout, run
    assert aws.policy("team/app") == SHARED
    assert aws.policy("team/worker") is None
    assert service(aws, "web") is None


def test_taking_a_repository_off_the_list_revokes_only_ours(workspace: Workspace, aws: Any) -> None:
    stack = web_stack(workspace)
    stack.up()

    stack.configure({"repositories": ["team/worker"]})
    stack.up()

    assert aws.policy("team/app") == SHARED
    assert sids(aws.policy("team/worker")) == ["AllowLightsailPull-web"]
    stack.run("up", "--yes", "--expect-no-changes")


def test_a_bad_input_stops_before_anything_is_written(workspace: Workspace, aws: Any) -> None:
    stack = web_stack(workspace, scale=40)

    run = stack.up(check=False)

    assert run.returncode != 0
    assert "scale" in run.output and "1 to 20" in run.output, run
    assert service(aws, "web") is None
    assert aws.policy("team/app") == SHARED
