"""A stack made by 0.1.0 from the checkout, run by this version: `up`, a change, `destroy`.

0.1.0 stored its dynamic providers as `components.dynamic_providers.<Class>`; this
version stores `lightsail_ecr_access_providers.<Class>`. 0.1.0 (and 0.2.0) had no fresh
policy document and no verification per repository. Everything else it stores is the
same, so the stack 0.1.0 left is this version's stack without those two resources and
with the old pickles, byte for byte as 0.1.0 wrote them, in place of the new ones.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import Engine
from tests.conftest import CI_PUSH, REGION, ROOT
from tests.test_dynamic_providers import PICKLED_BY_0_1_0, pickled_global

OTHER_TEAMS = {"Version": "2012-10-17", "Statement": [CI_PUSH]}
PROVIDER_OF_TYPE = {
    "pulumi-python:dynamic/lightsail-ecr:PullerRole": "PullerRoleProvider",
    "pulumi-python:dynamic/lightsail-ecr:GrantFinalizer": "GrantFinalizerProvider",
}


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=2) as aws:
        aws.create_repository("team/app", OTHER_TEAMS)
        aws.create_repository("team/worker")
        yield aws


def config(*repositories: str) -> dict[str, object]:
    return {
        "config": {
            "aws:region": REGION,
            "lightsail-ecr-access:serviceName": "web",
            "lightsail-ecr-access:repositories": list(repositories),
        }
    }


def stored_pickles(engine: Engine) -> list[str]:
    return sorted(
        ".".join(pickled_global(base64.b64decode(state.outputs["__provider"])))
        for state in engine.state.values()
        if state.type in PROVIDER_OF_TYPE
    )


NEW_SINCE_0_2_0 = (
    "pulumi-python:dynamic/lightsail-ecr:FreshPolicyDocument",
    "pulumi-python:dynamic/lightsail-ecr:GrantVerification",
)


def made_by_0_1_0(engine: Engine) -> None:
    for urn, state in list(engine.state.items()):
        if state.type in NEW_SINCE_0_2_0:
            del engine.state[urn]
    for state in engine.state.values():
        if state.type in PROVIDER_OF_TYPE:
            old = PICKLED_BY_0_1_0[PROVIDER_OF_TYPE[state.type]]
            state.inputs["__provider"] = state.outputs["__provider"] = old


def test_a_0_1_0_stack_goes_on_and_is_destroyed_leaving_other_teams_statements(
    cloud: EmulatedAws,
) -> None:
    engine = Engine(ROOT, "dev", config("team/app", "team/worker"))
    engine.up()
    assert stored_pickles(engine) == [
        "lightsail_ecr_access_providers.GrantFinalizerProvider",
        "lightsail_ecr_access_providers.GrantFinalizerProvider",
        "lightsail_ecr_access_providers.PullerRoleProvider",
    ]
    made_by_0_1_0(engine)
    before = {name: cloud.policy(name) for name in ("team/app", "team/worker")}

    again = engine.up()

    # The first up of this version adds the fresh documents and the verifications, and
    # changes nothing else: no other step, no policy written differently.
    assert sorted(again.created) == [
        f"web-{kind}-{repository}"
        for kind in ("document", "verify")
        for repository in ("team/app", "team/worker")
    ], again.summary()
    assert not (again.updated or again.replaced or again.deleted), again.summary()
    assert {name: cloud.policy(name) for name in before} == before
    assert not engine.up().changed
    # Unchanged resources keep what they stored: the old module path must stay importable.
    assert stored_pickles(engine) == [
        "components.dynamic_providers.GrantFinalizerProvider",
        "components.dynamic_providers.GrantFinalizerProvider",
        "components.dynamic_providers.PullerRoleProvider",
    ]

    # team/worker leaves the list: its grant finalizer, stored by 0.1.0, revokes it.
    engine.set_config(config("team/app"))
    change = engine.up()
    assert sorted(change.deleted) == [
        "web-document-team/worker",
        "web-grant-team/worker",
        "web-verify-team/worker",
    ], change.summary()
    assert change.retained == ["web-policy-team/worker"]
    assert cloud.policy("team/worker") is None
    assert [s.get("Sid") for s in cloud.policy("team/app")["Statement"]] == [  # type: ignore[index]
        "CiPush",
        "AllowLightsailPull-web",
    ]

    engine.destroy()

    assert cloud.policy("team/app") == OTHER_TEAMS
    assert engine.state == {}
