"""A stack made by 0.1.0 from the checkout, run by this version: `up`, a change, `destroy`.

0.1.0 stored its resources as dynamic ones, their providers pickled as
`components.dynamic_providers.<Class>`; this version's are the package provider's
(`lightsail-ecr:index:<Name>`), with the same inputs and outputs, and reach the old ones
by an alias of their dynamic type. 0.1.0 (and 0.2.0) had no fresh policy document and no
verification per repository. So the stack 0.1.0 left is this version's stack without
those two resources, with its resources under their dynamic types and the pickles byte
for byte as 0.1.0 wrote them.
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
SERVED = "lightsail-ecr:index:"
DYNAMIC = "pulumi-python:dynamic/lightsail-ecr:"


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


NEW_SINCE_0_2_0 = ("FreshPolicyDocument", "GrantVerification")


def made_by_0_1_0(engine: Engine) -> None:
    """This version's state as 0.1.0 left it: no fresh documents nor verifications, the
    puller role and the grant finalizers as dynamic resources with 0.1.0's pickles."""
    renamed: dict[str, str] = {}
    for urn, state in list(engine.state.items()):
        if not (state.custom and state.type.startswith(SERVED)):
            continue
        name = state.type[len(SERVED) :]
        del engine.state[urn]
        if name in NEW_SINCE_0_2_0:
            continue
        old = PICKLED_BY_0_1_0[f"{name}Provider"]
        state.type = f"{DYNAMIC}{name}"
        state.urn = renamed[urn] = urn.replace(f"{SERVED}{name}::", f"{DYNAMIC}{name}::")
        state.inputs["__provider"] = state.outputs["__provider"] = old
        engine.state[state.urn] = state
    for state in engine.state.values():
        state.dependencies = [
            renamed.get(d, d) for d in state.dependencies if d in engine.state or d in renamed
        ]


def test_a_0_1_0_stack_goes_on_and_is_destroyed_leaving_other_teams_statements(
    cloud: EmulatedAws,
) -> None:
    engine = Engine(ROOT, "dev", config("team/app", "team/worker"))
    engine.up()
    made_by_0_1_0(engine)
    assert stored_pickles(engine) == [
        "components.dynamic_providers.GrantFinalizerProvider",
        "components.dynamic_providers.GrantFinalizerProvider",
        "components.dynamic_providers.PullerRoleProvider",
    ]
    before = {name: cloud.policy(name) for name in ("team/app", "team/worker")}

    again = engine.up()

    # The first up of this version adds the fresh documents and the verifications, moves
    # the old resources to the provider's types in place (their aliases), and changes
    # nothing else: no other step, no policy written differently.
    assert sorted(again.created) == [
        f"web-{kind}-{repository}"
        for kind in ("document", "verify")
        for repository in ("team/app", "team/worker")
    ], again.summary()
    assert not (again.updated or again.replaced or again.deleted), again.summary()
    assert {name: cloud.policy(name) for name in before} == before
    assert not engine.up().changed
    assert stored_pickles(engine) == []  # no dynamic resource is left
    assert sorted(
        s.type for s in engine.state.values() if s.custom and "lightsail-ecr" in s.type
    ) == [
        f"{SERVED}{name}"
        for name in (
            "FreshPolicyDocument",
            "FreshPolicyDocument",
            "GrantFinalizer",
            "GrantFinalizer",
            "GrantVerification",
            "GrantVerification",
            "PullerRole",
        )
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
