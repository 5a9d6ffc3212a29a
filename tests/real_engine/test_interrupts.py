"""A run interrupted by a user's Ctrl-C, or killed hard by a CI runner, through the real CLI.

What a user is owed: the interrupted run leaves nothing of anyone's lost, the next runs
(as the CLI tells the user to make them) end with every grant live, `destroy` leaves
nothing behind, and no process of the dead run goes on writing.

Which processes a signal reaches: the CLI starts every plugin (the language host, the
AWS provider, the package's provider) in a process group of its own. A Ctrl-C at a
terminal, or a signal to the CLI's process group, reaches the CLI (and the program the
language host runs); so does a SIGKILL of the CLI's group or of the CLI's pid (the two
are the same kill here). The CLI passes a Ctrl-C on as Cancel, which the package's
provider honours by ending its waits. The plugins outlive a CLI killed hard; the
package's provider ends itself when the CLI's pipe to it closes
(``dynamic_providers.watch_the_engine``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from realengine.aws_server import EmulatedAwsServer
from realengine.runner import COMMAND_TIMEOUT, Stack, Workspace, stop_group, workspace_processes
from tests.real_engine.conftest import (
    OTHER_TEAMS,
    SHARED,
    ours,
    seeded_aws,
    service,
    sids,
    workspace_for,
)

pytestmark = pytest.mark.real_engine

# Polls of GetContainerServices before the puller role's ARN appears: 2, 4, then 5 s
# apart, so a first `up` waits about half a minute for it, long enough to interrupt.
SLOW_ROLE_POLLS = 8
WAIT = 120.0  # seconds a test waits for something the CLI is about to do
CANCELLED = "the run was cancelled while this operation waited on AWS"


@pytest.fixture
def slow_role_aws() -> Iterator[EmulatedAwsServer]:
    """The fixture's emulated AWS, with a puller role whose ARN takes a while to appear."""
    with seeded_aws(SLOW_ROLE_POLLS) as server:
        yield server


@pytest.fixture
def slow_role_workspace(
    tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path, slow_role_aws: EmulatedAwsServer
) -> Workspace:
    return workspace_for(tmp_path, pulumi_cli_dir, aws_plugin, slow_role_aws)


@pytest.fixture(autouse=True)
def end_what_a_killed_cli_left(tmp_path: Path) -> Iterator[None]:
    """The plugins a killed CLI leaves running (the language host, the AWS provider) are
    this test's processes: end them, by pid, when it is over."""
    yield
    for pid, _ in workspace_processes(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def web_stack(workspace: Workspace) -> Stack:
    return workspace.stack(
        "web", {"serviceName": "web", "repositories": ["team/app", "team/worker"]}
    )


def provider_processes(root: Path) -> list[tuple[int, str]]:
    """The workspace's processes of the package's provider (the shell wrapper and its
    Python), and of a dynamic provider host should one run."""
    return [
        (pid, cmd)
        for pid, cmd in workspace_processes(root)
        if any(
            name in cmd
            for name in (
                "pulumi.dynamic",
                "pulumi-resource-pulumi-python",
                "components.provider",
                "pulumi-resource-lightsail-ecr",
            )
        )
    ]


def wait_for(what: str, condition: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.1)


def checkpoint(stack: Stack) -> dict[str, Any]:
    """The stack's state as the file backend holds it mid-run (the CLI writes it after
    every step)."""
    found = list((stack.workspace.backend / ".pulumi" / "stacks").rglob(f"{stack.name}.json"))
    if not found:
        return {}
    try:
        return dict(json.loads(found[0].read_text()).get("checkpoint", {}).get("latest") or {})
    except json.JSONDecodeError:  # caught while the CLI rewrites it
        return {}


def policy_recorded(stack: Stack) -> bool:
    resources = checkpoint(stack).get("resources") or []
    return any(r["type"] == "aws:ecr/repositoryPolicy:RepositoryPolicy" for r in resources)


def finish(process: Any) -> tuple[int, str]:
    out, err = process.communicate(timeout=COMMAND_TIMEOUT)
    return process.returncode, out + err


def assert_every_grant_live(aws: EmulatedAwsServer, stack: Stack) -> None:
    role = service(aws, "web")["privateRegistryAccess"]["ecrImagePullerRole"]  # type: ignore[index]
    app = aws.policy("team/app")
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    assert ours(app)["Principal"] == {"AWS": role["principalArn"]}
    assert ours(aws.policy("team/worker"))["Principal"] == {"AWS": role["principalArn"]}
    assert stack.outputs()["pullerRolePrincipalArn"] == role["principalArn"]


def pending(stack: Stack, type_suffix: str) -> bool:
    """Whether the run has begun a step on a resource of that type and not ended it."""
    operations = checkpoint(stack).get("pending_operations") or []
    return any(op["resource"]["type"].endswith(type_suffix) for op in operations)


def start_first_up_and_wait_for_the_role(stack: Stack, aws: EmulatedAwsServer) -> Any:
    """A first `up`, left once the puller role's create is polling for the ARN."""
    process = stack.start("up", "--yes", "--skip-preview")
    wait_for("the puller role's create", lambda: pending(stack, ":PullerRole"))
    polls = len(aws.lightsail_calls("GetContainerServices"))
    wait_for(
        "the puller role's polling",
        lambda: len(aws.lightsail_calls("GetContainerServices")) >= polls + 2,
    )
    return process


def test_ctrl_c_during_the_first_up_then_up_lands_every_grant(
    slow_role_workspace: Workspace, slow_role_aws: EmulatedAwsServer
) -> None:
    aws, stack = slow_role_aws, web_stack(slow_role_workspace)
    process = start_first_up_and_wait_for_the_role(stack, aws)

    stop_group(process, signal.SIGINT)  # a user's Ctrl-C reaches the CLI's group
    code, output = finish(process)

    assert code != 0, output
    # The provider's Cancel ended the role's wait: its step fails saying so (or the CLI
    # just reports the update canceled, when nothing was waiting).
    assert "update canceled" in output or CANCELLED in output, output
    # Cancelled while waiting for the role: no grant was written, nothing of anyone lost.
    assert aws.policy("team/app") == SHARED
    assert aws.policy("team/worker") is None
    # A cancelled CLI ends its plugins as it exits.
    assert workspace_processes(slow_role_workspace.root) == []

    stack.up()

    assert_every_grant_live(aws, stack)
    stack.run("up", "--yes", "--expect-no-changes")


def test_ctrl_c_stops_the_wait_for_the_puller_role(
    slow_role_workspace: Workspace, slow_role_aws: EmulatedAwsServer
) -> None:
    aws, stack = slow_role_aws, web_stack(slow_role_workspace)
    process = start_first_up_and_wait_for_the_role(stack, aws)

    stop_group(process, signal.SIGINT)
    polls_at_cancel = len(aws.lightsail_calls("GetContainerServices"))
    finish(process)

    # One poll may have been under way when the CLI passed the cancel on.
    assert len(aws.lightsail_calls("GetContainerServices")) - polls_at_cancel <= 1


@pytest.mark.parametrize("kill", ["group", "cli"])
def test_a_cli_killed_after_the_policy_write_leaves_nothing_writing_nor_lost(
    workspace: Workspace, aws: EmulatedAwsServer, kill: str
) -> None:
    stack = web_stack(workspace)
    process = stack.start("up", "--yes", "--skip-preview")
    wait_for("the policy write", lambda: policy_recorded(stack))
    # The run's dynamic provider host is up (it serves the rest of the run's resources).
    assert provider_processes(workspace.root), "no dynamic provider host at the policy write"

    if kill == "group":
        stop_group(process, signal.SIGKILL)  # a CI runner killing the job's processes
    else:
        os.kill(process.pid, signal.SIGKILL)  # the CLI alone
    finish(process)
    # Another team writes its own document, which lacks ours, while the killed run's
    # verifications would be asleep: a host that outlived its CLI would "repair" it.
    aws.set_policy("team/app", SHARED)

    wait_for("the killed run's provider to end", lambda: not provider_processes(workspace.root))
    assert aws.policy("team/app") == SHARED, "a process of the killed run wrote the policy"

    # What the CLI tells the user to do: the lock first, then the pending operations.
    refused = stack.up(check=False)
    assert refused.returncode != 0 and "pulumi cancel" in refused.output, refused
    stack.run("cancel", "--yes")
    # A create that was in flight at the kill is a pending operation, which the CLI names
    # and keeps until a refresh clears it; whether one was depends on the moment of the
    # kill (the settle delays are waited in the program, so often none was).
    after_cancel = stack.up(check=False)
    if "pending operations" in after_cancel.output:
        stack.refresh("--clear-pending-creates")
    else:
        assert after_cancel.returncode == 0, after_cancel

    again = stack.up()

    assert "pending operations" not in again.output, again
    assert_every_grant_live(aws, stack)
    assert not (checkpoint(stack).get("pending_operations") or [])

    stack.destroy()

    assert aws.policy("team/app") == SHARED
    assert aws.policy("team/worker") is None
    assert service(aws, "web") is None
    assert stack.resources() == []
    assert not provider_processes(workspace.root)
    assert "AllowLightsailPull-web" not in sids(aws.policy("team/app"))
