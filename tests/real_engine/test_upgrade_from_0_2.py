"""A stack made by 0.2.x (the component's resources as dynamic ones) moves to the package
provider's resources on its next `up`, through the real CLI: no statement rewritten or
lost, no container service replaced, and the runs after it are quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from realengine.aws_server import EmulatedAwsServer
from realengine.runner import ROOT, Stack
from tests.real_engine.conftest import OTHER_TEAMS, ours, workspace_for

pytestmark = pytest.mark.real_engine

MADE_BY_0_2 = Path(__file__).parent / "programs" / "dynamic_0_2"
# The component's own resources of a stack granting two repositories, by kind.
OURS = ("FreshPolicyDocument", "GrantFinalizer", "GrantVerification") * 2 + ("PullerRole",)


def types_of_ours(stack: Stack) -> list[str]:
    return sorted(
        r["type"]
        for r in stack.resources()
        if r.get("custom") and r["type"].startswith(("lightsail-ecr:", "pulumi-python:dynamic"))
    )


def test_a_0_2_stack_moves_to_the_providers_resources_writing_nothing(
    tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path, aws: EmulatedAwsServer
) -> None:
    workspace = workspace_for(tmp_path, pulumi_cli_dir, aws_plugin, aws, program=MADE_BY_0_2)
    stack = workspace.stack(
        "web", {"serviceName": "web", "repositories": ["team/app", "team/worker"]}
    )
    stack.up()
    assert types_of_ours(stack) == sorted(f"pulumi-python:dynamic/lightsail-ecr:{n}" for n in OURS)
    service_arn = stack.outputs()["serviceArn"]
    app, worker = aws.policy("team/app"), aws.policy("team/worker")

    # The upgrade: this version's program on the same stack.
    (workspace.project / "__main__.py").unlink()
    (workspace.project / "__main__.py").symlink_to(ROOT / "__main__.py")
    aws.clear_ecr_calls()
    lightsail_before = len(aws.lightsail_calls())

    moved = stack.up()

    assert types_of_ours(stack) == sorted(f"lightsail-ecr:index:{n}" for n in OURS)
    # Nothing rewritten nor replaced: no policy write, no service created or deleted.
    assert aws.ecr_calls("SetRepositoryPolicy") == [], moved.stdout
    assert aws.ecr_calls("DeleteRepositoryPolicy") == []
    changes = [c for c in aws.lightsail_calls()[lightsail_before:] if "Get" not in str(c)]
    assert changes == [], changes
    assert aws.policy("team/app") == app and aws.policy("team/worker") == worker
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS and ours(app)
    assert stack.outputs()["serviceArn"] == service_arn
    stack.run("up", "--yes", "--expect-no-changes")

    stack.destroy()
    assert aws.policy("team/app")["Statement"] == OTHER_TEAMS
