"""The policy pack beside whole stacks, as `pulumi preview/up --policy-pack` runs it.

The emulated engine analyzes every resource before its step and the stack once it is
known, with the pack's own policies served by the SDK's analyzer code; a mandatory
violation stops the run before the step writes anything. Two stories: this component's
own documents pass through their whole life, and another team's whole-document policy
is stopped before it removes the component's grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)

from components import policy_pack
from components.container_service import TYPE_TOKEN
from emulation.analyzer import InProcessPack, StackResource, analyze_stack_request
from emulation.cloud import EmulatedAws
from emulation.engine import Engine, PolicyViolation
from tests.conftest import CI_PUSH, REGION, ROOT

WRITER = ROOT / "emulation" / "whole_document_writer"
OURS = "AllowLightsailPull-web"
OTHER_TEAMS = {"Version": "2012-10-17", "Statement": [CI_PUSH]}
POLICY_URN = "aws:ecr/repositoryPolicy:RepositoryPolicy"


@pytest.fixture(autouse=True)
def _fresh_pack_process() -> Iterator[None]:
    """Each run of the CLI starts the pack anew: nothing carries over between tests."""
    policy_pack.STACK_SERVICES.forget()
    policy_pack.LIVE_READS.forget()
    yield
    policy_pack.STACK_SERVICES.forget()
    policy_pack.LIVE_READS.forget()


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=3) as aws:
        aws.create_repository("team/app", OTHER_TEAMS)
        aws.create_repository("team/worker")
        yield aws


def pack(config: dict[str, Any] | None = None) -> InProcessPack:
    return InProcessPack(policy_pack.PACK_NAME, policy_pack.POLICIES, config)


def component_stack(repositories: list[str], **keys: Any) -> Engine:
    values = {"serviceName": "web", "repositories": repositories, **keys}
    engine = Engine(
        ROOT,
        "dev",
        {
            "config": {
                "aws:region": REGION,
                **{f"lightsail-ecr-access:{k}": v for k, v in values.items()},
            }
        },
    )
    engine.policy_pack = pack()
    return engine


def writer_stack(document: dict[str, Any], with_pack: bool = True) -> Engine:
    engine = Engine(
        WRITER,
        "prod",
        {
            "config": {
                "aws:region": REGION,
                "platform-registry:repository": "team/app",
                "platform-registry:document": document,
            }
        },
    )
    engine.policy_pack = pack() if with_pack else None
    return engine


def sids(document: dict[str, Any] | None) -> list[str]:
    assert document is not None
    return [s.get("Sid") for s in document["Statement"]]


def analyzed_policies(engine: Engine) -> list[str]:
    assert engine.policy_pack is not None
    return [urn for urn in engine.policy_pack.analyzed if POLICY_URN in urn]


def test_the_components_own_documents_pass_through_up_change_and_destroy(
    cloud: EmulatedAws,
) -> None:
    engine = component_stack(["team/app", "team/worker"])

    plan = engine.preview()
    assert plan.policy == []
    # The first preview cannot know the documents (they need the puller role's ARN):
    # they are not judged then, and say so.
    assert engine.policy_pack is not None
    assert len(analyzed_policies(engine)) == 2
    for urn in analyzed_policies(engine):
        reasons = engine.policy_pack.not_applicable[urn]
        assert set(reasons) == {
            policy_pack.KEEPS_LIVE_STATEMENTS,
            policy_pack.READABLE,
            policy_pack.NO_ANONYMOUS_PULL,
        }
        assert all(r.startswith("the document is not known yet") for r in reasons.values())
    first = engine.up()
    assert first.policy == []
    assert engine.up().policy == []
    # Every policy resource was judged, and the stack once per run, so "no violation"
    # means the pack looked and found nothing, not that it never ran.
    assert len(analyzed_policies(engine)) == 6
    assert engine.policy_pack is not None and engine.policy_pack.analyzed.count("stack") == 3

    # A change: one repository leaves, another arrives, the service grows.
    cloud.create_repository("team/jobs")
    engine.set_config(
        {
            "config": {
                "aws:region": REGION,
                "lightsail-ecr-access:serviceName": "web",
                "lightsail-ecr-access:repositories": ["team/app", "team/jobs"],
                "lightsail-ecr-access:scale": 2,
            }
        }
    )
    assert engine.preview().policy == []
    changed = engine.up()
    assert changed.policy == []
    assert OURS in sids(cloud.policy("team/jobs"))
    assert OURS not in sids(cloud.policy("team/worker") or {"Statement": []})

    engine.destroy()
    assert cloud.policy("team/app") == OTHER_TEAMS


def test_a_whole_document_writer_is_stopped_before_it_removes_the_grant(
    cloud: EmulatedAws,
) -> None:
    component_stack(["team/app"]).up()
    granted = cloud.policy("team/app")
    assert OURS in sids(granted)

    # The other team's document is the policy as they last copied it: without our grant.
    writer = writer_stack(OTHER_TEAMS)
    with pytest.raises(PolicyViolation) as preview:
        writer.preview()
    with pytest.raises(PolicyViolation) as up:
        writer.up()

    for stopped in (preview.value, up.value):
        [violation] = stopped.violations
        assert violation.policy == policy_pack.KEEPS_LIVE_STATEMENTS
        assert violation.level == "mandatory"
        assert violation.urn.endswith("::registry-policy")
        assert "team/app" in violation.message and OURS in violation.message
    assert cloud.policy("team/app") == granted
    assert writer.state == {}


def test_without_the_pack_the_same_writer_silently_drops_the_grant(cloud: EmulatedAws) -> None:
    """The control: what the pack prevents does happen without it."""
    component_stack(["team/app"]).up()

    report = writer_stack(OTHER_TEAMS, with_pack=False).up()

    assert report.created == ["registry-policy"]
    assert OURS not in sids(cloud.policy("team/app"))


def test_a_writer_that_keeps_the_grant_and_adds_passes(cloud: EmulatedAws) -> None:
    component_stack(["team/app"]).up()
    live = cloud.policy("team/app")
    assert live is not None
    added = {"Sid": "AuditorReads", **{k: v for k, v in CI_PUSH.items() if k != "Sid"}}

    report = writer_stack({**live, "Statement": [*live["Statement"], added]}).up()

    assert report.policy == []
    assert sids(cloud.policy("team/app")) == [*sids(live), "AuditorReads"]


def test_an_anonymous_pull_is_stopped(cloud: EmulatedAws) -> None:
    anyone = {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"}

    with pytest.raises(PolicyViolation) as stopped:
        writer_stack({**OTHER_TEAMS, "Statement": [CI_PUSH, anyone]}).up()

    assert [v.policy for v in stopped.value.violations] == [policy_pack.NO_ANONYMOUS_PULL]
    assert cloud.policy("team/app") == OTHER_TEAMS


def test_unreadable_live_policy_is_reported_at_the_configured_level(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    writer = writer_stack(OTHER_TEAMS)
    writer.set_config(
        {
            "config": {
                "aws:region": REGION,
                "aws:profile": "nobody",
                "platform-registry:repository": "team/app",
                "platform-registry:document": OTHER_TEAMS,
            }
        }
    )
    # The pack reads as the provider would: with a profile that exists nowhere, it can't.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "config").write_text("[profile somebody]\nregion = us-east-1\n")

    advisory = writer.preview()
    [violation] = advisory.policy
    assert (violation.policy, violation.level) == (policy_pack.READABLE, "advisory")
    assert "nobody" in violation.message

    writer.policy_pack = pack({policy_pack.READABLE: "mandatory"})
    with pytest.raises(PolicyViolation) as stopped:
        writer.preview()
    assert [v.policy for v in stopped.value.violations] == [policy_pack.READABLE]


def _policy_args(urn: str, document: dict[str, Any]) -> ResourceValidationArgs:
    provider = PolicyProviderResource(
        "pulumi:providers:aws",
        {"region": REGION},
        "urn:pulumi:dev::p::pulumi:providers:aws::default",
        "default",
    )
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    props = {"repository": "team/app", "policy": json.dumps(document)}
    return ResourceValidationArgs(POLICY_URN, props, urn, urn.split("::")[-1], options, provider)


def test_a_components_document_may_race_another_stacks_grant_but_not_a_foreign_statement(
    cloud: EmulatedAws,
) -> None:
    """Two stacks of the component grant one repository at once: the other stack's grant
    lands between this one's fresh read and its write. That run verifies and repairs its
    grant, so the pack lets this document through; a foreign statement that lands there
    would be lost for good, so it is still stopped."""
    other = {
        "Sid": "AllowLightsailPull-jobs",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/jobs"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    stale = OTHER_TEAMS
    cloud.set_policy("team/app", {**stale, "Statement": [CI_PUSH, other]})
    inside = f"urn:pulumi:dev::lightsail-ecr-access::{TYPE_TOKEN}${POLICY_URN}::web-policy-team/app"
    plain = f"urn:pulumi:dev::platform::{POLICY_URN}::registry-policy"

    def reported(urn: str) -> list[str]:
        found: list[str] = []
        keeps = next(p for p in policy_pack.POLICIES if p.name == policy_pack.KEEPS_LIVE_STATEMENTS)
        keeps.validate(_policy_args(urn, stale), lambda message, _urn=None: found.append(message))
        return found

    assert reported(inside) == []
    [message] = reported(plain)
    assert "AllowLightsailPull-jobs" in message

    late = {**CI_PUSH, "Sid": "Late", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}
    cloud.set_policy("team/app", {**stale, "Statement": [CI_PUSH, late]})
    [message] = reported(inside)
    assert ": Late. Fix:" in message


def test_the_components_deployment_pulls_only_what_it_granted(cloud: EmulatedAws) -> None:
    """The stack policy sees the component's deployment: in the first preview, before the
    puller role has an ARN, and after the up, when the stack's document grants it."""
    cloud.push_image("team/app", "1.0")
    containers = [{"name": "api", "repository": "team/app", "tag": "1.0", "ports": {"80": "HTTP"}}]
    engine = component_stack(["team/app"], containers=containers)

    assert engine.preview().policy == []
    assert engine.up().policy == []
    assert engine.policy_pack is not None and engine.policy_pack.analyzed.count("stack") == 2
    deployments = [u for u in engine.state if "ContainerServiceDeploymentVersion" in u]
    assert len(deployments) == 1

    # The control: the same stack, seen by the pack without its own document, is told.
    stack = [r for r in engine.state.values() if "RepositoryPolicy" not in r.urn]
    resources = [
        StackResource(r.urn, r.outputs, None, r.parent, tuple(r.dependencies))
        for r in stack
        if r.custom
    ]
    cloud.set_policy("team/app", OTHER_TEAMS)
    [violation] = engine.policy_pack.analyze_stack(analyze_stack_request(resources))
    assert violation.policy == policy_pack.PULLS_ONLY_GRANTED
    assert violation.urn == deployments[0]
    assert "container api of Lightsail service web" in violation.message
