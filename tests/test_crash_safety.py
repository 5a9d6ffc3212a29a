"""Revocation survives a crash: a first `up` that dies after any step leaves no
statement that `pulumi destroy` would not remove.

The engine dies right after the N-th provider action, before recording it (the worst
moment: the cloud changed, the state does not know), for every N of a first `up`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import Engine, EngineCrashed
from tests.conftest import CI_PUSH, REGION, ROOT

OTHERS = {"Version": "2012-10-17", "Statement": [CI_PUSH]}
CONFIG = {
    "config": {
        "aws:region": REGION,
        "lightsail-ecr-access:serviceName": "web",
        "lightsail-ecr-access:repositories": ["team/app", "team/worker"],
    }
}


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        aws.create_repository("team/app", OTHERS)
        aws.create_repository("team/worker")
        yield aws


def actions_of_a_first_up() -> int:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        aws.create_repository("team/app", OTHERS)
        aws.create_repository("team/worker")
        return len(Engine(ROOT, "dev", CONFIG).up().created)


ACTIONS = actions_of_a_first_up()


def test_a_first_up_has_the_steps_this_test_walks_through() -> None:
    # service, role, and per repository a finalizer, a fresh document, a policy and a
    # verification
    assert ACTIONS == 10


def crashed(dies_after: int) -> Engine:
    """A stack whose first `up` died right after its ``dies_after``-th provider action."""
    engine = Engine(ROOT, "dev", CONFIG)
    engine.crash_after = dies_after
    with pytest.raises(EngineCrashed):
        engine.up()
    # A dead run does nothing more: registrations still in flight in other threads
    # neither act nor are recorded (they once went on and wrote a statement).
    assert len(engine.timeline) == dies_after
    return engine


@pytest.mark.parametrize("dies_after", range(1, ACTIONS + 1))
def test_destroy_after_a_crash_leaves_no_statement_of_ours(
    cloud: EmulatedAws, dies_after: int
) -> None:
    crashed(dies_after).destroy()

    assert cloud.policy("team/app") == OTHERS
    assert cloud.policy("team/worker") is None


@pytest.mark.parametrize("dies_after", range(1, ACTIONS + 1))
def test_the_next_up_after_a_crash_completes_and_destroys_cleanly(
    cloud: EmulatedAws, dies_after: int
) -> None:
    engine = crashed(dies_after)

    # The runner is back: the service may exist unrecorded (adopt it) or not.
    if cloud.lightsail.exists("web", REGION) and not any(
        name == "web-service" for name in (s.name for s in engine.state.values())
    ):
        engine.set_config(
            {"config": {**CONFIG["config"], "lightsail-ecr-access:adoptExistingService": True}}
        )
    engine.up()
    statements: Any = cloud.policy("team/app")
    assert [s.get("Sid") for s in statements["Statement"]] == ["CiPush", "AllowLightsailPull-web"]

    engine.destroy()
    assert cloud.policy("team/app") == OTHERS and cloud.policy("team/worker") is None
