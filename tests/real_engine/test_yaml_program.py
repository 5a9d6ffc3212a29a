"""A Pulumi YAML program (``runtime: yaml``) through the real CLI and its YAML host.

Issue 20's component is to be used from YAML as well as Python. The CLI directory's
`pulumi-language-yaml` runs YAML programs against the stand-in AWS provider and the
emulated AWS: one that declares an `aws:ecr:RepositoryPolicy` by its short type, as a
YAML user writes it, and one that declares the component itself after `pulumi package
add` of the source plugin in `provider/`. What is asserted is the policy documents the
emulated ECR holds after each step, and what the CLI says.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from realengine.aws_plugin.schema import POLICY
from realengine.runner import ROOT, PulumiFailed, Workspace, local_provider_plugin
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, ours, service, workspace_for

pytestmark = pytest.mark.real_engine

REPOSITORY = "team/worker"  # held by the emulated AWS, with no policy yet
STATEMENT = {
    "Sid": "YamlPull",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/puller"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


def program(resource_type: str = "aws:ecr:RepositoryPolicy", **properties: Any) -> str:
    """A YAML program with one policy resource; ``properties`` replace the defaults
    (None drops one)."""
    given = {
        "repository": REPOSITORY,
        "policy": {"fn::toJSON": {"Version": "2012-10-17", "Statement": [STATEMENT]}},
        **properties,
    }
    document = {
        "name": "yaml-policy",
        "runtime": "yaml",
        "resources": {
            "pull": {
                "type": resource_type,
                "properties": {k: v for k, v in given.items() if v is not None},
            }
        },
        "outputs": {"registryId": "${pull.registryId}"},
    }
    # JSON is YAML: the program text is exactly this document.
    return json.dumps(document, indent=2)


def writes(aws: Any) -> list[dict[str, Any]]:
    """The policy writes to the program's repository (the seeding wrote team/app's)."""
    return [c for c in aws.ecr_calls("SetRepositoryPolicy") if c["repository"] == REPOSITORY]


@pytest.fixture
def yaml_workspace(tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path, aws: Any) -> Workspace:
    source = tmp_path / "program"
    source.mkdir()
    (source / "Pulumi.yaml").write_text(program())
    return workspace_for(tmp_path / "ws", pulumi_cli_dir, aws_plugin, aws, program=source)


def test_the_cli_directory_has_the_yaml_host(pulumi_cli_dir: Path) -> None:
    assert os.access(pulumi_cli_dir / "pulumi-language-yaml", os.X_OK)


def test_a_yaml_program_lives_through_preview_up_and_destroy(
    yaml_workspace: Workspace, aws: Any
) -> None:
    workspace = yaml_workspace
    # Only what the project folder was given: no Python program, no virtualenv option.
    assert sorted(p.name for p in workspace.project.iterdir()) == ["Pulumi.yaml"]
    stack = workspace.stack("dev", {})

    preview = stack.preview()
    assert "aws:ecr:RepositoryPolicy" in preview.stdout
    assert "+ 2 to create" in preview.stdout
    assert aws.policy(REPOSITORY) is None
    assert writes(aws) == []

    stack.up()
    assert aws.policy(REPOSITORY) == {"Version": "2012-10-17", "Statement": [STATEMENT]}
    assert stack.outputs() == {"registryId": ACCOUNT}
    # The YAML host resolved the short type to the provider's token, and the engine
    # made the default provider for it from the stack's config.
    types = sorted(r["type"] for r in stack.resources())
    assert types == sorted(["pulumi:pulumi:Stack", "pulumi:providers:aws", POLICY])

    written = len(writes(aws))
    stack.run("up", "--yes", "--expect-no-changes")
    assert len(writes(aws)) == written

    stack.destroy()
    assert aws.policy(REPOSITORY) is None
    assert stack.resources() == []


@pytest.mark.parametrize(
    ("resource_type", "properties", "said"),
    [
        # A type the stand-in does not serve is refused by the YAML host's type check.
        (
            "aws:ecr:LifecyclePolicy",
            {},
            'unable to find resource type "aws:ecr:LifecyclePolicy" in resource provider "aws"',
        ),
        # As is a required property left out: the schema's requiredInputs (the stand-in's
        # Check does not ask for a policy).
        ("aws:ecr:RepositoryPolicy", {"policy": None}, "Missing required property 'policy'"),
    ],
)
def test_a_wrong_yaml_program_fails_the_preview_and_writes_nothing(
    yaml_workspace: Workspace,
    aws: Any,
    resource_type: str,
    properties: dict[str, Any],
    said: str,
) -> None:
    workspace = yaml_workspace
    (workspace.project / "Pulumi.yaml").write_text(program(resource_type, **properties))
    stack = workspace.stack("dev", {})
    with pytest.raises(PulumiFailed) as failed:
        stack.preview()
    assert said in str(failed.value)
    assert writes(aws) == []
    assert aws.policy(REPOSITORY) is None


def test_package_add_links_a_package_into_a_yaml_project(yaml_workspace: Workspace) -> None:
    """`pulumi package add` (issue 20's way in) generates the YAML "SDK", a lock file, and
    calls the host's Link, which pulumi-yaml v1.25.0 did not implement."""
    workspace = yaml_workspace
    schema = workspace.root / "demo.json"
    component = {"isComponent": True, "inputProperties": {"x": {"type": "string"}}}
    schema.write_text(
        json.dumps(
            {"name": "demo", "version": "0.1.0", "resources": {"demo:index:Thing": component}}
        )
    )
    manifest = (workspace.project / "Pulumi.yaml").read_text()

    done = workspace.pulumi("package", "add", str(schema))

    assert "Successfully generated an SDK for the demo package" in done.output
    lock = workspace.project / "sdks" / "demo" / "demo-0.1.0.yaml"
    assert "name: demo" in lock.read_text()
    assert "version: 0.1.0" in lock.read_text()
    # A schema file names no plugin to run, so nothing is recorded in the project.
    assert (workspace.project / "Pulumi.yaml").read_text() == manifest


EXAMPLE = ROOT / "examples" / "yaml"
"""The YAML example of the README: the component from YAML."""


def test_the_component_from_yaml_after_package_add_of_the_source_plugin(
    tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path, aws: Any
) -> None:
    """Issue 20 from YAML: `pulumi package add <checkout>/provider` records the package,
    and a YAML program declares the component by its short type; the provider builds it
    (Construct) with the grant landing beside other teams' statements, and leaving."""
    workspace = workspace_for(tmp_path / "ws", pulumi_cli_dir, aws_plugin, aws, program=EXAMPLE)
    plugin = local_provider_plugin(tmp_path / "plugin")

    workspace.pulumi("package", "add", str(plugin))
    manifest = (workspace.project / "Pulumi.yaml").read_text()
    assert f"packages:\n  lightsail-ecr: {plugin}" in manifest

    stack = workspace.stack("dev", {})

    # What a YAML user gets wrong about containers is refused before anything is written,
    # each by its key: one command string by the YAML host's own type check (the schema
    # says a list of text), a decimal by the provider (YAML has already rewritten it),
    # while `WORKERS: 4` is taken as the text meant.
    def refused(command: str, environment: str) -> str:
        containers = (
            "      containers:\n"
            "        - name: api\n"
            "          repository: ${repository}\n"
            "          tag: '1.0'\n"
            f"          command: {command}\n"
            f"          environment: {environment}\n"
        )
        wrong = manifest.replace("      repositories:\n", containers + "      repositories:\n", 1)
        assert wrong != manifest
        (workspace.project / "Pulumi.yaml").write_text(wrong)
        try:
            run = stack.preview(check=False)
        finally:
            (workspace.project / "Pulumi.yaml").write_text(manifest)
        assert run.returncode != 0, run
        assert aws.policy("team/app") == SHARED and service(aws, "web") is None
        return run.output

    said = refused("python -m app", "{WORKERS: '4'}")
    assert "command: Cannot assign type 'string' to type 'List<string>'" in said
    said = refused("[python, -m, app]", "{WORKERS: 4, RATE: 1.5}")
    assert "containers[0].environment.RATE" in said and "quote it" in said
    assert "WORKERS" not in said.replace("WORKERS: 4", "")

    preview = stack.preview()
    assert "lightsail-ecr:index:PrivateEcrContainerService web create" in preview.stdout
    # The example a team copies runs without a warning of its own.
    assert "Warning" not in preview.output, preview
    assert aws.policy("team/app") == SHARED and service(aws, "web") is None

    stack.up()
    role = service(aws, "web")["privateRegistryAccess"]["ecrImagePullerRole"]  # type: ignore[index]
    assert stack.outputs()["principalArn"] == role["principalArn"]
    assert aws.policy("team/app")["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    assert ours(aws.policy("team/app"))["Principal"] == {"AWS": role["principalArn"]}

    stack.run("up", "--yes", "--expect-no-changes")

    stack.destroy()
    assert aws.policy("team/app") == SHARED
    assert service(aws, "web") is None
