"""A Go program (``runtime: go``) through the real CLI and the project's own Go host.

Issue 20's component is to be used from Go: `pulumi package add <checkout>/provider`
generates the Go SDK into the project, the host's Link points go.mod at it, and the Go
program in ``examples/go`` declares the component; the provider builds it (Construct).
The host builds the program with `go build` against the module cache that `python -m
realengine.cli` prepared: no module is downloaded here (GOPROXY=off). What is asserted is
what the emulated AWS holds after each step, and what the CLI says.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from realengine.aws_server import EmulatedAwsServer
from realengine.build import BuildError
from realengine.goprogram import OFFLINE_GO_ENV, prepare_go_program
from realengine.runner import ROOT, Stack, Workspace, local_provider_plugin
from tests.real_engine.conftest import OTHER_TEAMS, SHARED, ours, service, workspace_for

pytestmark = pytest.mark.real_engine

EXAMPLE = ROOT / "examples" / "go"
"""The Go example of docs/use-from-go.md: the component from Go."""
SDK_MODULE = "example.com/pulumi-lightsail-ecr/sdk/go"
"""The generated SDK's module: the schema names no repository, so pkg/v3's default."""
BUILD_TIME = re.compile(r"pulumi-language-go: go build took (\d+\.\d) s")


@pytest.fixture(scope="module")
def go_modules(pulumi_cli_dir: Path) -> None:
    """The Go example's modules in the caches (`python -m realengine.cli` did it already
    when tests/run started it: then this takes a second or two)."""
    try:
        prepare_go_program(lambda line: print(f"[go modules] {line}", flush=True))
    except BuildError as err:
        pytest.fail(f"the Go example's modules could not be had:\n{err}", pytrace=False)


def go_workspace(root: Path, cli: Path, aws_plugin: Path, aws: EmulatedAwsServer) -> Workspace:
    """A workspace of the Go example, whose builds may not reach the module proxy; the
    host reports each `go build`'s time."""
    workspace = workspace_for(root, cli, aws_plugin, aws, program=EXAMPLE)
    workspace.env.update(OFFLINE_GO_ENV)
    workspace.env["LSEA_GO_BUILD_TIMING"] = "1"
    return workspace


@pytest.fixture
def linked(
    tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path, aws: EmulatedAwsServer, go_modules: None
) -> tuple[Workspace, str]:
    """The Go example after `pulumi package add <checkout>/provider`, and what it printed."""
    workspace = go_workspace(tmp_path / "ws", pulumi_cli_dir, aws_plugin, aws)
    plugin = local_provider_plugin(tmp_path / "plugin")
    added = workspace.pulumi("package", "add", str(plugin))
    return workspace, added.output


def build_seconds(run: Any) -> float:
    """The time of the run's `go build`, as the host reported it (the CLI shows the line
    more than once)."""
    found = BUILD_TIME.search(run.output)
    assert found is not None, run
    return float(found.group(1))


def test_package_add_links_the_generated_sdk_into_go_mod(linked: tuple[Workspace, str]) -> None:
    workspace, said = linked
    project = workspace.project
    go_mod = (project / "go.mod").read_text()
    assert f"replace {SDK_MODULE} => ./sdks/lightsail-ecr" in go_mod
    assert f"{SDK_MODULE} v0.0.0-00010101000000-000000000000" in go_mod
    assert (
        (project / "sdks" / "lightsail-ecr" / "go.mod")
        .read_text()
        .startswith(f"module {SDK_MODULE}\n")
    )
    assert f'"{SDK_MODULE}/lightsailecr"' in said  # the host's import instructions
    # `go mod tidy` (InstallDependencies) found every module offline and needed no
    # checksum that the example does not already hold.
    assert (project / "go.sum").read_text() == (EXAMPLE / "go.sum").read_text()
    assert "packages:\n  lightsail-ecr: " in (project / "Pulumi.yaml").read_text()


def test_the_component_from_go_lives_through_preview_up_and_destroy(
    linked: tuple[Workspace, str], aws: EmulatedAwsServer
) -> None:
    workspace, _ = linked
    stack = workspace.stack("dev", {})

    preview = stack.preview()
    assert "lightsail-ecr:index:PrivateEcrContainerService web create" in preview.stdout
    assert aws.policy("team/app") == SHARED and service(aws, "web") is None

    up = stack.up()
    role = service(aws, "web")["privateRegistryAccess"]["ecrImagePullerRole"]  # type: ignore[index]
    assert stack.outputs()["principalArn"] == role["principalArn"]
    granted = aws.policy("team/app")
    assert granted["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    assert ours(granted)["Principal"] == {"AWS": role["principalArn"]}

    again = stack.run("up", "--yes", "--expect-no-changes")
    assert aws.policy("team/app") == granted

    stack.destroy()
    assert aws.policy("team/app") == SHARED
    assert service(aws, "web") is None
    # Each run built the program: measured, and shown with -s.
    seconds = [build_seconds(run) for run in (preview, up, again)]
    print(f"\ngo build of the Go example in preview, up, up: {seconds} s")


def test_a_bad_input_gets_the_providers_error_naming_the_key_and_nothing_is_written(
    linked: tuple[Workspace, str], aws: EmulatedAwsServer
) -> None:
    workspace, _ = linked
    stack: Stack = workspace.stack("dev", {"serviceName": "Web_App"})

    for run in (stack.preview(check=False), stack.up(check=False)):
        assert run.returncode != 0
        assert 'property serviceName with value "Web_App" has a problem' in run.stdout, run
        assert "lowercase letters, digits and hyphens" in run.stdout, run
    assert aws.policy("team/app") == SHARED
    assert service(aws, "Web_App") is None and service(aws, "web") is None
    # Only the stack and its providers: no resource of the component was registered.
    assert all(r["type"].startswith("pulumi:") for r in stack.resources())


def test_a_program_that_does_not_compile_fails_with_the_compilers_words(
    tmp_path: Path,
    pulumi_cli_dir: Path,
    aws_plugin: Path,
    aws: EmulatedAwsServer,
    go_modules: None,
) -> None:
    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: broken\nruntime: go\n")
    (program / "go.mod").write_bytes((EXAMPLE / "go.mod").read_bytes())
    (program / "go.sum").write_bytes((EXAMPLE / "go.sum").read_bytes())
    (program / "main.go").write_text("package main\n\nfunc main() {\n\tundeclared()\n}\n")
    workspace = workspace_for(tmp_path / "ws", pulumi_cli_dir, aws_plugin, aws, program=program)
    workspace.env.update(OFFLINE_GO_ENV)
    stack = workspace.stack("dev", {})

    run = stack.preview(check=False)
    assert run.returncode != 0
    assert "undefined: undeclared" in run.output, run
    assert "building the Go program in" in run.output, run


def test_a_binary_built_beforehand_runs_without_a_build(
    linked: tuple[Workspace, str], aws: EmulatedAwsServer
) -> None:
    """`runtime.options.binary`: CI builds once, then previews and updates that binary."""
    workspace, _ = linked
    project = workspace.project
    subprocess.run(
        ["go", "build", "-o", "bin/stack", "."],
        cwd=project,
        env=workspace.env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    manifest = yaml.safe_load((project / "Pulumi.yaml").read_text())
    manifest["runtime"] = {"name": "go", "options": {"binary": "./bin/stack"}}
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(manifest))
    stack = workspace.stack("dev", {})

    preview = stack.preview()
    assert "lightsail-ecr:index:PrivateEcrContainerService web create" in preview.stdout
    assert BUILD_TIME.search(preview.output) is None, preview
    assert aws.policy("team/app") == SHARED

    manifest["runtime"]["options"] = {"buildTarget": "bin/other"}
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(manifest))
    refused = stack.preview(check=False)
    assert refused.returncode != 0
    assert "runtime option buildTarget is not supported" in refused.output, refused
