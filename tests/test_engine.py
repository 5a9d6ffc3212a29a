"""The emulated engine's own rules, on small programs of their own."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import (
    DeploymentFailed,
    Engine,
    ResourceState,
    _changed_keys,
    delete_order,
)
from emulation.invokes import InvokeAnswers
from tests.conftest import ACCOUNT, REGION

PROGRAM = textwrap.dedent(
    """
    import json
    import pulumi
    import pulumi_aws as aws

    config = pulumi.Config()
    statement = {"Sid": "Reader", "Effect": "Allow",
                 "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"},
                 "Action": ["ecr:BatchGetImage"]}
    policy = aws.ecr.RepositoryPolicy(
        "policy",
        repository=config.require("repository"),
        region="us-east-1",
        policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    pulumi.export("repository", policy.repository)
    pulumi.export("answer", config.get_int("answer"))
    pulumi.export("names", config.get_object("names"))
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: tiny\nruntime: python\nconfig:\n"
        "  answer:\n    type: integer\n    default: 42\n"
        "  names:\n    type: array\n    items:\n      type: string\n    default: [a]\n"
    )
    (tmp_path / "__main__.py").write_text(PROGRAM)
    return tmp_path


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION) as aws:
        aws.create_repository("first")
        aws.create_repository("second")
        yield aws


def tiny(project: Path, **config: Any) -> Engine:
    return Engine(project, "dev", {"config": {f"tiny:{k}": v for k, v in config.items()}})


def test_defaults_from_the_project_file_and_values_from_the_stack_file(
    project: Path, cloud: EmulatedAws, tmp_path: Path
) -> None:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  tiny:repository: first\n  tiny:names: [x, y]\n")

    report = Engine(project, "dev", stack_file).up()

    assert report.outputs == {"repository": "first", "answer": 42, "names": ["x", "y"]}


def test_changed_replace_key_creates_the_new_one_before_deleting_the_old(
    project: Path, cloud: EmulatedAws
) -> None:
    engine = tiny(project, repository="first")
    assert engine.up().created == ["policy"]

    engine.set_config({"config": {"tiny:repository": "second"}})
    report = engine.up()

    assert report.replaced == ["policy"] and report.deleted == ["policy"]
    assert cloud.policy("second") is not None
    # Not retained, so the provider's delete ran on the old repository.
    assert cloud.policy("first") is None
    assert engine.state[next(iter(engine.state))].inputs["repository"] == "second"


def test_unchanged_inputs_mean_no_operation(project: Path, cloud: EmulatedAws) -> None:
    engine = tiny(project, repository="first")
    engine.up()
    cloud.ecr.delete_repository_policy(repositoryName="first")  # drift the engine cannot see

    report = engine.up()

    assert report.unchanged == ["policy"] and not report.changed
    assert cloud.policy("first") is None


def test_a_failing_program_keeps_the_state_it_had(project: Path, cloud: EmulatedAws) -> None:
    engine = tiny(project, repository="first")
    engine.up()
    before = dict(engine.state)
    engine.set_config({"config": {}})  # `repository` is required

    with pytest.raises(DeploymentFailed, match="repository"):
        engine.up()

    assert engine.state == before


def state(urn: str, dependencies: list[str] = [], parent: str = "") -> ResourceState:  # noqa: B006
    return ResourceState(urn, "t", True, urn, {}, {}, parent, list(dependencies), False)


def test_delete_order_follows_dependencies_not_registration_order() -> None:
    # `early` was registered first but came to depend on `late` in a later run.
    early, late = state("early", ["late"]), state("late")
    component, child = state("component"), state("child", parent="component")

    ordered = delete_order([late, early, component, child], ["early", "component", "child", "late"])
    names = [r.urn for r in ordered]

    assert names.index("early") < names.index("late")
    assert names.index("child") < names.index("component")


def test_changed_keys_honour_ignore_changes_and_treat_empty_as_absent() -> None:
    olds = {"power": "nano", "tags": {}, "privateRegistryAccess": {"a": 1}, "__provider": "x"}
    news = {"power": "micro", "privateRegistryAccess": {"a": 2}, "__provider": "y"}

    assert _changed_keys(olds, news, {"privateRegistryAccess"}) == ["power"]


def test_invokes_are_answered_from_the_emulated_cloud(cloud: EmulatedAws) -> None:
    answers = InvokeAnswers(REGION, lambda _provider, region: boto3.session.Session())

    repository, _ = answers.call(
        SimpleNamespace(
            token="aws:ecr/getRepository:getRepository", args={"name": "first"}, provider=""
        )
    )
    identity, _ = answers.call(
        SimpleNamespace(token="aws:index/getCallerIdentity:getCallerIdentity", args={}, provider="")
    )

    assert repository["repositoryUrl"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/first"
    assert identity["accountId"] == ACCOUNT
    with pytest.raises(NotImplementedError, match="aws:s3/getBucket"):
        answers.call(SimpleNamespace(token="aws:s3/getBucket:getBucket", args={}, provider=""))


def test_report_summary_names_each_kind() -> None:
    from emulation.engine import RunReport

    report = RunReport(created=["a", "b"], retained=["c"])
    assert report.summary() == "2 created, 1 retained" and report.changed
    assert RunReport(unchanged=["a"]).changed is False
    assert RunReport().summary() == "nothing"


def test_deployment_the_service_cannot_pull_fails_like_the_provider(cloud: EmulatedAws) -> None:
    from emulation.providers import ContainerServiceProvider, DeploymentVersionProvider

    ContainerServiceProvider().create(
        boto3.session.Session(),
        {
            "name": "web",
            "power": "nano",
            "scale": 1,
            "region": REGION,
            "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": True}},
        },
    )
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/first:1.0"  # "first" grants nobody

    with pytest.raises(RuntimeError, match="ended FAILED: the service could not pull"):
        DeploymentVersionProvider().create(
            boto3.session.Session(),
            {
                "serviceName": "web",
                "region": REGION,
                "containers": [{"containerName": "api", "image": image}],
            },
        )

    assert cloud.lightsail.service("web", REGION).deployments[-1]["state"] == "FAILED"


def test_an_import_is_followed_by_an_update_towards_the_goal(
    cloud: EmulatedAws, tmp_path: Path
) -> None:
    """As the engine has done since 3.174: read the live resource, diff, update."""
    cloud.lightsail.add_existing_service("web", REGION, power="micro", tags={"team": "a"})
    (tmp_path / "Pulumi.yaml").write_text("name: adopt\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi
            import pulumi_aws as aws

            aws.lightsail.ContainerService(
                "web", name="web", power="nano", scale=1, region="us-east-1",
                opts=pulumi.ResourceOptions(import_="web"),
            )
            """
        )
    )
    engine = Engine(tmp_path, "dev", {"config": {"aws:region": REGION}})

    report = engine.up()

    assert report.imported == ["web"] and report.updated == ["web"]
    live = cloud.lightsail.service("web", REGION)
    assert live.power == "nano" and live.tags == []  # resized, and its tags are gone
    assert not engine.up().changed  # the import option is inert once in the state


# The provider lives in a module of the project, pickled by reference as the project's
# own are (``lightsail_ecr_access_providers``); a class of ``__main__`` would be pickled
# by value, with whatever that module's globals reach.
LOUD_PROVIDER = textwrap.dedent(
    """
    import pulumi
    from pulumi.dynamic import CreateResult, Resource, ResourceProvider

    class Loud(ResourceProvider):
        def create(self, props):
            pulumi.log.warn("created, loudly")
            return CreateResult("loud-1", props)

        def delete(self, _id, _props):
            pulumi.log.info("deleted, quietly")

    class Thing(Resource):
        def __init__(self, name):
            super().__init__(Loud(), name, {"size": 1})
    """
)
LOUD_PROGRAM = textwrap.dedent(
    """
    import pulumi
    from loud_provider_of_engine_test import Thing

    thing = Thing("thing")
    pulumi.log.warn("about the thing", resource=thing)
    pulumi.log.warn("about nothing")
    pulumi.log.debug("tracing, shown only by --debug")
    """
)


def test_what_is_logged_is_a_diagnostic_of_the_resource_it_is_about(
    cloud: EmulatedAws, tmp_path: Path
) -> None:
    """As the real CLI shows it: a provider's log without a resource is about the
    resource it serves (the project's dynamic providers send it so); a program's names
    its resource, or none, which the CLI shows on the stack."""
    (tmp_path / "Pulumi.yaml").write_text("name: loud\nruntime: python\n")
    (tmp_path / "loud_provider_of_engine_test.py").write_text(LOUD_PROVIDER)
    (tmp_path / "__main__.py").write_text(LOUD_PROGRAM)
    engine = Engine(tmp_path, "dev", {"config": {"aws:region": REGION}})

    up = engine.up()
    destroy = engine.destroy()

    warned = {name: sorted(messages) for name, messages in up.warnings().items()}
    assert warned == {
        "thing": ["about the thing", "created, loudly"],
        "loud-dev": ["about nothing"],
    }
    assert not any(d.severity == "debug" for d in up.diagnostics)
    assert [(d.severity, d.resource, d.message) for d in destroy.diagnostics] == [
        ("info", "thing", "deleted, quietly")
    ]


def test_a_fault_cleared_between_runs_is_gone_for_the_next_run(cloud: EmulatedAws) -> None:
    """A real run starts a new provider process, whose clients never saw the fault."""
    from components.aws import sdk

    cloud.fail("ecr", "DescribeRepositories", "AccessDeniedException")
    with pytest.raises(Exception, match="AccessDenied"):
        sdk.cached_client("ecr", REGION).describe_repositories()

    cloud.clear_faults()

    assert sdk.cached_client("ecr", REGION).describe_repositories()["repositories"]
