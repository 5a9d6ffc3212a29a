"""Several stacks of the program writing the same repository policies at once, through
the real ``pulumi`` CLI at its own default parallelism, with a writer from outside the
project doing a stale read-modify-write meanwhile.

Four stacks of one project (each its own service) grant the same six repositories, half
of which hold other teams' statements. Their first `up`s start at once; while they run,
an outside writer writes back a document it read before any stack wrote, plus a
statement of its own. Then two stacks are destroyed while the other two run `up` again.
What is asserted is what the guarantees say: a run that reports success has every grant
live; a run that fails says why (a grant it could not keep, a window too long); other
teams' statements are never lost, nor the outside writer's unless its write landed
inside one of the stacks' read-to-write windows (shown from the emulated ECR's call
log); a destroy removes its stack's statements and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest

from realengine.aws_plugin.provider import USER_AGENT as AWS_PROVIDER
from realengine.runner import Run, Workspace
from realengine.window import APP_ID_ENV, read_write_spans, stack_of
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, service

pytestmark = pytest.mark.real_engine

REPOSITORIES = [f"shared/r{i}" for i in range(6)]
WITH_OTHER_TEAMS = REPOSITORIES[::2]
SERVICES = ["svc-a", "svc-b", "svc-c", "svc-d"]
TARGET = "shared/r0"
OUTSIDER = {
    "Sid": "OutsiderPull",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/outsider"},
    "Action": ["ecr:BatchGetImage"],
}
# What a run that could not keep its grants says (and nothing else may make it fail).
LOUD = ("were still missing after", "came back after", "longer than the settle delay covers")
WAIT_SECONDS = 600.0


def sid(name: str) -> str:
    return f"AllowLightsailPull-{name}"


def statements(aws: Any, repository: str) -> list[dict[str, Any]]:
    document = aws.policy(repository)
    return [] if document is None else list(document["Statement"])


def start(workspace: Workspace, command: str, names: Sequence[str]) -> dict[str, Any]:
    """``pulumi <command>`` of every stack at once, each run tagged with its stack."""
    return {
        name: workspace.start(
            command, "--yes", "--skip-preview", stack=name, env={APP_ID_ENV: name}
        )
        for name in names
    }


def finish(processes: dict[str, Any]) -> dict[str, Run]:
    runs = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=WAIT_SECONDS)
        runs[name] = Run((name,), process.returncode, out, err)
    return runs


def check_failures_are_loud(runs: dict[str, Run]) -> set[str]:
    """The stacks whose run succeeded; a failed run must say which grant it lost."""
    for name, run in runs.items():
        if run.returncode != 0:
            assert any(reason in run.output for reason in LOUD), f"{name} failed:\n{run}"
    return {name for name, run in runs.items() if run.returncode == 0}


def pull_statement(aws: Any, name: str) -> dict[str, Any]:
    live = service(aws, name)
    assert live is not None, f"service {name} is gone"
    arn = live["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    assert arn
    return {
        "Sid": sid(name),
        "Effect": "Allow",
        "Principal": {"AWS": arn},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }


def wait_for_a_policy_write(aws: Any, processes: dict[str, Any]) -> str:
    """Until a stack's AWS provider has written TARGET's policy (while the runs are still
    going, their verifications waiting); the stack whose write it was."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for call in aws.ecr_calls("SetRepositoryPolicy"):
            if call["repository"] == TARGET and AWS_PROVIDER in call["user_agent"]:
                writer = stack_of(call["user_agent"])
                assert writer is not None
                return writer
        running = [p for p in processes.values() if p.poll() is None]
        assert running, "every run ended before any stack wrote the policy"
        time.sleep(0.1)
    raise AssertionError("no stack wrote the policy in time")


def test_four_stacks_at_once_with_an_outside_writer_then_ups_and_destroys_at_once(
    workspace: Workspace, aws: Any
) -> None:
    for name in REPOSITORIES:
        aws.create_repository(name, SHARED if name in WITH_OTHER_TEAMS else None)
    stacks = {
        name: workspace.stack(name, {"serviceName": name, "repositories": REPOSITORIES})
        for name in SERVICES
    }
    # The outside writer reads before any stack writes...
    stale = aws.policy(TARGET)
    aws.clear_ecr_calls()

    processes = start(workspace, "up", SERVICES)
    # ... and writes its statement into that old document once a stack's policy resource
    # has written: that stack's statement is overwritten, and its verification (after
    # the settle delay) has to put it back.
    overwritten = wait_for_a_policy_write(aws, processes)
    aws.set_policy(TARGET, {**stale, "Statement": [*stale["Statement"], OUTSIDER]})
    runs = finish(processes)
    (outsider_write,) = [
        c
        for c in aws.ecr_calls("SetRepositoryPolicy")
        if c["repository"] == TARGET and "app/" not in c["user_agent"]
    ]

    succeeded = check_failures_are_loud(runs)
    assert succeeded, "no first up succeeded:\n" + "\n".join(map(str, runs.values()))
    grants = {name: pull_statement(aws, name) for name in succeeded}
    for repository in REPOSITORIES:
        live = statements(aws, repository)
        for name, grant in grants.items():
            assert grant in live, f"{name} reported success without its grant on {repository}"
        if repository in WITH_OTHER_TEAMS:
            assert live[: len(OTHER_TEAMS)] == OTHER_TEAMS, repository
    if OUTSIDER not in statements(aws, TARGET):
        # Lost only if it landed between a stack's fresh read and the write made from it.
        inside = [
            span
            for span in read_write_spans(aws.ecr_calls())
            if span.repository == TARGET
            and span.read_start < outsider_write["end"]
            and span.write_end > outsider_write["start"]
        ]
        assert inside, f"the outside writer's statement was lost outside any window: {runs}"
    else:
        # Kept: so the statement it overwrote was put back by that stack's verification.
        repaired = f"repository {TARGET}: another writer removed this program's pull statement"
        assert overwritten not in succeeded or repaired in runs[overwritten].output, runs[
            overwritten
        ]

    # Two stacks are destroyed while the other two run `up` again, all at once.
    before = {r: statements(aws, r) for r in REPOSITORIES}
    destroyed, again = SERVICES[:2], SERVICES[2:]
    processes = {**start(workspace, "destroy", destroyed), **start(workspace, "up", again)}
    runs = finish(processes)

    succeeded = check_failures_are_loud(runs)
    gone = {sid(name) for name in destroyed if name in succeeded}
    # Statements this phase may rightly have added or left half-removed.
    moving = {sid(name) for name in again} | {sid(n) for n in destroyed if n not in succeeded}
    for repository in REPOSITORIES:
        live = statements(aws, repository)
        for name in again:
            if name in succeeded:
                assert pull_statement(aws, name) in live, (
                    f"{name} reported success without its grant on {repository}"
                )
        assert not gone & {s.get("Sid") for s in live}, repository
        # Every other statement is still there, unchanged and in its place.
        assert [s for s in live if s.get("Sid") not in moving] == [
            s for s in before[repository] if s.get("Sid") not in moving | gone
        ], repository
    for name in destroyed:
        if name in succeeded:
            assert service(aws, name) is None
            assert stacks[name].resources() == []
