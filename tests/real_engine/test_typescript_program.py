"""A TypeScript program (``runtime: nodejs``) through the real CLI and the project's own
Node.js language host: issue 20's component used from TypeScript.

The program is ``examples/typescript``. `pulumi package add` of the source plugin in
`provider/` generates the component's SDK, links it into package.json and installs the
packages the committed lock file pins, offline, from the npm cache that `python -m
realengine.cli` filled (realengine/nodeprogram.py). Then the program lives through preview,
up, an up that changes nothing, and destroy against the emulated AWS, where another team's
statements stay in the shared repository's policy after every step; a bad input is refused
by the provider, naming the key, before anything is written.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realengine.aws_server import EmulatedAwsServer
from realengine.nodeprogram import EXAMPLE, NodePrepError, offline_npm_env, prepare_node_program
from realengine.runner import Run, Workspace, local_provider_plugin
from tests.real_engine.conftest import OTHER_TEAMS, SHARED, ours, seeded_aws, service, workspace_for

pytestmark = pytest.mark.real_engine

COMPONENT = "lightsail-ecr:index:PrivateEcrContainerService"


def _progress(line: str) -> None:
    print(f"[real engine] {line}", file=sys.__stderr__, flush=True)


@pytest.fixture(scope="module")
def npm_cache() -> Path:
    try:
        return prepare_node_program(_progress)
    except NodePrepError as err:
        pytest.fail(
            f"the TypeScript example's npm packages could not be had:\n{err}", pytrace=False
        )


@pytest.fixture(scope="module")
def aws() -> Iterator[EmulatedAwsServer]:
    # One emulated AWS for the module: installing the packages is the slow part, so every
    # test uses one project (a stack each).
    with seeded_aws() as server:
        yield server


@pytest.fixture(scope="module")
def added(
    tmp_path_factory: pytest.TempPathFactory,
    pulumi_cli_dir: Path,
    aws_plugin: Path,
    aws: EmulatedAwsServer,
    npm_cache: Path,
) -> tuple[Workspace, Path, Run]:
    """The example's project after `pulumi package add <checkout>/provider`: the
    workspace, the plugin folder added, and what the command printed."""
    root = tmp_path_factory.mktemp("typescript")
    workspace = workspace_for(root / "ws", pulumi_cli_dir, aws_plugin, aws, program=EXAMPLE)
    workspace.env.update(offline_npm_env(npm_cache))
    plugin = local_provider_plugin(root / "plugin")
    return workspace, plugin, workspace.pulumi("package", "add", str(plugin))


def test_package_add_generates_links_and_installs_the_sdk(
    added: tuple[Workspace, Path, Run],
) -> None:
    workspace, plugin, run = added
    project = workspace.project
    assert "Successfully generated an SDK for the lightsail-ecr package" in run.output, run
    assert 'import * as lightsailEcr from "@pulumi/lightsail-ecr";' in run.output, run
    assert f"packages:\n  lightsail-ecr: {plugin}" in (project / "Pulumi.yaml").read_text()
    # The link the example's package.json already names, and nothing else changed in it.
    manifest = json.loads((project / "package.json").read_text())
    assert manifest == json.loads((EXAMPLE / "package.json").read_text())
    assert manifest["dependencies"]["@pulumi/lightsail-ecr"] == "file:sdks/lightsail-ecr"
    # The SDK is installed as a link to the generated folder, compiled by its install script.
    installed = project / "node_modules" / "@pulumi" / "lightsail-ecr"
    assert installed.is_symlink()
    assert installed.resolve() == (project / "sdks" / "lightsail-ecr").resolve()
    assert (installed / "bin" / "privateEcrContainerService.js").is_file()
    # The program's own SDK is the Node 20 one pinned; the SDK's is its own.
    assert _version(project / "node_modules" / "@pulumi" / "pulumi") == "3.248.0"
    nested = project / "sdks" / "lightsail-ecr" / "node_modules" / "@pulumi" / "pulumi"
    assert tuple(map(int, _version(nested).split("."))) >= (3, 269, 0)


def _version(package: Path) -> str:
    return str(json.loads((package / "package.json").read_text())["version"])


def test_a_typescript_program_lives_through_preview_up_and_destroy(
    added: tuple[Workspace, Path, Run], aws: EmulatedAwsServer
) -> None:
    workspace = added[0]
    stack = workspace.stack("dev", {})

    preview = stack.preview()
    assert f"{COMPONENT} web create" in preview.stdout, preview
    assert aws.policy("team/app") == SHARED and service(aws, "web") is None

    stack.up()
    role = service(aws, "web")["privateRegistryAccess"]["ecrImagePullerRole"]  # type: ignore[index]
    assert role["isActive"] is True
    document = aws.policy("team/app")
    assert document["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    assert ours(document)["Principal"] == {"AWS": role["principalArn"]}
    outputs = stack.outputs()
    assert outputs["principalArn"] == role["principalArn"]
    assert outputs["url"]
    assert COMPONENT in {r["type"] for r in stack.resources()}

    written = _writes(aws)
    stack.run("up", "--yes", "--expect-no-changes")
    assert _writes(aws) == written
    assert aws.policy("team/app") == document

    stack.destroy()
    assert aws.policy("team/app") == SHARED
    assert service(aws, "web") is None
    assert stack.resources() == []


def test_a_bad_input_is_refused_naming_the_key_before_any_write(
    added: tuple[Workspace, Path, Run], aws: EmulatedAwsServer
) -> None:
    workspace = added[0]
    stack = workspace.stack("bad", {"serviceName": "Web_App"})
    policy, written = aws.policy("team/app"), _writes(aws)

    for run in (stack.preview(check=False), stack.up(check=False)):
        assert run.returncode != 0, run
        assert 'property serviceName with value "Web_App" has a problem' in run.stdout, run
        assert "lowercase letters, digits and hyphens" in run.stdout, run

    assert aws.policy("team/app") == policy
    assert _writes(aws) == written
    assert service(aws, "Web_App") is None
    # Only the stack and its providers: the component was never registered.
    assert all(r["type"].startswith("pulumi:") for r in stack.resources())


def _writes(aws: EmulatedAwsServer) -> list[dict[str, Any]]:
    return list(aws.ecr_calls("SetRepositoryPolicy"))


def test_the_cli_directory_has_the_nodejs_host(pulumi_cli_dir: Path) -> None:
    assert os.access(pulumi_cli_dir / "pulumi-language-nodejs", os.X_OK)
