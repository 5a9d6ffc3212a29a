"""This program's warnings as a user sees them in the real CLI's output: warnings, on the
resource they are about.

The CLI gathers every diagnostic under ``Diagnostics:``, one block per resource headed
``<type> (<name>):``, each line ``warning: ...`` or ``info: ...``. A warning printed to
stderr by a plugin becomes an ``info:`` line of the stack, with no resource: that is
what a warning of the dynamic provider host was, since the host has no engine to log to
(finding 4).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from realengine.runner import Stack, Workspace
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, ours, sids
from tests.real_engine.test_interrupts import checkpoint, wait_for

pytestmark = pytest.mark.real_engine

STACK = "pulumi:pulumi:Stack (lightsail-ecr-access-web)"


def diagnostics(output: str) -> dict[str, list[str]]:
    """The ``Diagnostics:`` section: each resource's header, and its lines (a line that
    continues the one before is joined to it)."""
    found: dict[str, list[str]] = {}
    lines = (
        output.split("\nDiagnostics:\n", 1)[1].splitlines() if "\nDiagnostics:" in output else []
    )
    header = None
    for line in lines:
        if not line.strip():
            continue
        if not line.startswith(" "):
            break  # the section ends at the next unindented line (Outputs:, Resources:)
        if re.match(r"^  \S", line):
            header = line.strip().rstrip(":")
            found[header] = []
        elif header is not None:
            text = line.strip()
            if re.match(r"^(warning|info|error):", text) or not found[header]:
                found[header].append(text)
            else:
                found[header][-1] += " " + text
    return found


def warnings_of(output: str, header: str) -> list[str]:
    return [
        line.removeprefix("warning: ")
        for line in diagnostics(output).get(header, [])
        if line.startswith("warning:")
    ]


def web_stack(workspace: Workspace) -> Stack:
    return workspace.stack(
        "web", {"serviceName": "web", "repositories": ["team/app", "team/worker"]}
    )


def test_a_stale_statement_of_ours_replaced_is_a_warning_on_the_policy(
    workspace: Workspace, aws: Any
) -> None:
    stale = {
        "Sid": "AllowLightsailPull-web",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/left-over"},
        "Action": ["ecr:BatchGetImage"],
    }
    aws.set_policy("team/app", {**SHARED, "Statement": [*OTHER_TEAMS, stale]})
    stack = web_stack(workspace)
    stack.up()  # the role's ARN is known from now on, so preview can say what it replaces

    aws.set_policy("team/app", {**SHARED, "Statement": [*OTHER_TEAMS, stale]})
    preview = stack.preview()
    up = stack.up()

    for run in (preview, up):
        warned = warnings_of(run.stdout, "aws:ecr:RepositoryPolicy (web-policy-team/app)")
        assert any("statement AllowLightsailPull-web held" in w for w in warned), run
        assert "left-over" not in " ".join(diagnostics(run.stdout).get(STACK, [])), run
    assert ours(aws.policy("team/app"))["Principal"]["AWS"] != stale["Principal"]["AWS"]
    assert aws.policy("team/app")["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS


def test_a_repair_after_another_writer_removed_ours_is_a_warning_on_the_verification(
    workspace: Workspace, aws: Any
) -> None:
    stack = web_stack(workspace)
    process = stack.start("up", "--yes", "--skip-preview")
    wait_for(
        "the policy write",
        lambda: any(
            r["type"] == "aws:ecr/repositoryPolicy:RepositoryPolicy"
            and r["urn"].endswith("web-policy-team/app")
            for r in checkpoint(stack).get("resources") or []
        ),
    )
    # Another writer puts back the document it read before ours, while ours settles.
    aws.set_policy("team/app", SHARED)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err

    verification = "lightsail-ecr:index:GrantVerification (web-verify-team/app)"
    warned = warnings_of(out, verification)
    assert any("another writer removed this program's pull statement" in w for w in warned), out
    assert not any("another writer" in line for line in diagnostics(out).get(STACK, [])), out
    assert "AllowLightsailPull-web" in sids(aws.policy("team/app"))
    assert aws.policy("team/app")["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS


def test_preview_warns_on_the_puller_role_when_its_drift_check_cannot_look(
    workspace: Workspace, aws: Any
) -> None:
    stack = web_stack(workspace)
    stack.up()
    aws.fail(
        "lightsail",
        "GetContainerServices",
        "AccessDeniedException",
        message="not authorized to perform lightsail:GetContainerServices",
    )

    preview = stack.preview()

    warned = warnings_of(preview.stdout, "lightsail-ecr:index:PullerRole (web-puller-role)")
    assert any("lightsail:GetContainerServices" in w and "drift" in w for w in warned), preview
    assert not any("drift" in line for line in diagnostics(preview.stdout).get(STACK, []))
