"""A policy written longer after its fresh read than the settle delay covers fails the
run, through the real ``pulumi`` CLI.

The emulated ECR holds the AWS provider's SetRepositoryPolicy (only that provider's: its
User-Agent) for longer than the settle delay, so the window from the fresh document's
read to the policy resource's write is too long for the verifications of other stacks
to have seen it. The run must stop with an error naming the repository and the window,
keep everything it verified, and not be stuck: the next `up` succeeds.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.aws.policy_writes import SETTLE_SECONDS
from realengine.aws_plugin.provider import USER_AGENT as AWS_PROVIDER
from realengine.runner import Workspace
from tests.real_engine.conftest import OTHER_TEAMS, ours, service

pytestmark = pytest.mark.real_engine

LATENCY = SETTLE_SECONDS + 2.0


def test_a_write_later_than_the_settle_delay_fails_the_run_loudly(
    workspace: Workspace, aws: Any
) -> None:
    stack = workspace.stack("web", {"serviceName": "web", "repositories": ["team/app"]})
    aws.add_latency("ecr", LATENCY, operation="SetRepositoryPolicy", user_agent=AWS_PROVIDER)

    run = stack.up(check=False)

    assert run.returncode != 0, run
    found = re.search(
        r"the policy of repository team/app in us-east-1 was written ([0-9.]+) s after the "
        r"read it was merged from, longer than the settle delay covers",
        run.output,
    )
    assert found, run
    # The write itself was held that long after the read it came from.
    assert float(found.group(1)) >= LATENCY
    # Our grant was written and verified; nobody else's statement was touched.
    app = aws.policy("team/app")
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    live = service(aws, "web")
    assert live is not None
    role = live["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    assert ours(app)["Principal"]["AWS"] == role

    # Reported once: the next runs (the write long done) succeed and then change nothing.
    aws.add_latency("ecr", 0, operation="SetRepositoryPolicy", user_agent=AWS_PROVIDER)
    stack.up()
    stack.run("up", "--yes", "--expect-no-changes")
    assert ours(aws.policy("team/app"))
