"""`up --refresh --target` of each of the program's resources, and `refresh` alone,
through the real CLI: after another team added a statement since the last full `up`, no
run drops anyone's statement.

Under `--target`, the engine gives every untargeted resource a Same step with its old
outputs, and refreshes only the targeted ones: a policy resource whose document comes
from an untargeted fresh document would be handed the document merged at the last full
`up`. Each targeted run here follows a new statement of another team, so every run is
asked to keep a statement that no earlier run has seen.
"""

from __future__ import annotations

from typing import Any

import pytest

from realengine.runner import Stack, Workspace
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, ours, sids

pytestmark = pytest.mark.real_engine

REPOSITORIES = ("team/app", "team/worker")


def web_stack(workspace: Workspace) -> Stack:
    return workspace.stack("web", {"serviceName": "web", "repositories": list(REPOSITORIES)})


def program_urns(stack: Stack) -> dict[str, str]:
    """URN by resource name, of every resource the program declares (not the stack, not
    the default provider)."""
    return {
        r["urn"].rsplit("::", 1)[1]: r["urn"]
        for r in stack.resources()
        if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    }


def late_statement(sid: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/{sid.lower()}"},
        "Action": ["ecr:DescribeImages"],
    }


def add_statement(aws: Any, repository: str, statement: dict[str, Any]) -> None:
    """Another team's read-modify-write of the policy, outside Pulumi."""
    document = aws.policy(repository)
    aws.set_policy(repository, {**document, "Statement": [*document["Statement"], statement]})


def assert_everyone_kept(aws: Any, late: dict[str, list[dict[str, Any]]], run: Any) -> None:
    app = aws.policy("team/app")
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS, run
    for repository in REPOSITORIES:
        document = aws.policy(repository)
        for statement in late[repository]:
            assert statement in document["Statement"], f"{statement['Sid']} dropped: {run}"
        ours(document)  # exactly once


def test_targeted_refreshing_ups_and_a_refresh_drop_no_statement(
    workspace: Workspace, aws: Any
) -> None:
    stack = web_stack(workspace)
    stack.up()
    urns = program_urns(stack)
    expected = {
        "web",
        "web-service",
        "web-puller-role",
        *(
            f"web-{kind}-{r}"
            for kind in ("grant", "document", "policy", "verify")
            for r in REPOSITORIES
        ),
    }
    assert set(urns) == expected, urns
    late: dict[str, list[dict[str, Any]]] = {r: [] for r in REPOSITORIES}

    # The policy resources first: the case where a stale document would be written.
    order = sorted(urns, key=lambda n: (not n.startswith("web-policy-"), n))
    for number, name in enumerate(order):
        for repository in REPOSITORIES:
            statement = late_statement(f"Late{number}{repository.split('/')[1].title()}")
            add_statement(aws, repository, statement)
            late[repository].append(statement)

        run = stack.up("--refresh", "--target", urns[name])

        assert_everyone_kept(aws, late, run)

    for repository in REPOSITORIES:
        statement = late_statement(f"LateRefresh{repository.split('/')[1].title()}")
        add_statement(aws, repository, statement)
        late[repository].append(statement)
    run = stack.refresh()
    assert_everyone_kept(aws, late, run)
    # What the refresh stored is what the next full run starts from: still nothing lost.
    run = stack.up()
    assert_everyone_kept(aws, late, run)
    stack.run("up", "--yes", "--expect-no-changes")

    stack.destroy()
    assert aws.policy("team/app") == {
        "Version": "2012-10-17",
        "Statement": [*OTHER_TEAMS, *late["team/app"]],
    }
    assert "AllowLightsailPull-web" not in sids(aws.policy("team/worker"))
    assert SHARED["Statement"] == OTHER_TEAMS
