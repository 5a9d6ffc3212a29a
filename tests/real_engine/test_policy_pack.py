"""The organisation's policy pack (`policy-pack/`) run by the real CLI's `--policy-pack`.

It must stop the platform team's stack, a plain ``aws.ecr.RepositoryPolicy`` holding the
whole document (``emulation/whole_document_writer``), before it writes a document that
drops this component's grant; and it must let the component's own stacks through.

The pack runs as the CLI runs it: from its folder, in the virtualenv its
``PulumiPolicy.yaml`` names, importing ``lightsail_ecr_access.policy_pack``
(``runner.local_policy_pack`` says how that folder is made).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from realengine.runner import ROOT, Stack, Workspace, local_policy_pack
from tests.real_engine.conftest import OTHER_TEAMS, SHARED, ours, service, sids

pytestmark = pytest.mark.real_engine

KEEPS_LIVE_STATEMENTS = "repository-policy-keeps-live-statements"
WRITER = ROOT / "emulation" / "whole_document_writer"


@pytest.fixture
def policy_pack(tmp_path: Path) -> Path:
    return local_policy_pack(tmp_path)


def web_stack(workspace: Workspace) -> Stack:
    return workspace.stack(
        "web", {"serviceName": "web", "repositories": ["team/app", "team/worker"]}
    )


def violations(output: str) -> list[tuple[str, str, str]]:
    """(level, policy, resource) of each violation the CLI lists under ``Policies:``, as
    ``- [mandatory]  <policy>  (<type>: <name>)``."""
    section = output.split("\nPolicies:\n", 1)[1] if "\nPolicies:\n" in output else ""
    return re.findall(r"^\s+- \[(\w+)\]\s+(\S+)\s+\(([^)]*)\)", section, re.MULTILINE)


def test_the_pack_stops_a_whole_document_writer_before_it_writes(
    tmp_path: Path,
    workspace: Workspace,
    aws: Any,
    pulumi_cli_dir: Path,
    aws_plugin: Path,
    policy_pack: Path,
) -> None:
    web_stack(workspace).up()
    granted = aws.policy("team/app")
    assert "AllowLightsailPull-web" in sids(granted)
    platform = Workspace(
        tmp_path / "platform",
        pulumi_cli_dir,
        aws_plugin,
        aws.endpoint,
        program=WRITER,
        extra_env={"AWS_CONFIG_FILE": aws.shared_config_file},
    )
    # Their document is the policy as they copied it before the service existed.
    writer = platform.stack(
        "prod",
        {"platform-registry:repository": "team/app", "platform-registry:document": SHARED},
    )

    for run in (
        writer.preview("--policy-pack", str(policy_pack), check=False),
        writer.up("--policy-pack", str(policy_pack), check=False),
    ):
        assert run.returncode != 0, str(run)
        assert (
            "mandatory",
            KEEPS_LIVE_STATEMENTS,
            "aws:ecr:RepositoryPolicy: registry-policy",
        ) in violations(run.stdout), str(run)
        assert "would remove 1 statement(s)" in run.stdout, str(run)
        assert "AllowLightsailPull-web" in run.stdout, str(run)

    assert aws.policy("team/app") == granted
    assert not [r for r in writer.resources() if r["type"].startswith("aws:ecr/")]


def test_the_components_own_stacks_pass_the_pack(
    workspace: Workspace, aws: Any, policy_pack: Path
) -> None:
    stack = web_stack(workspace)
    pack = ("--policy-pack", str(policy_pack))

    preview = stack.preview(*pack)
    first = stack.up(*pack)
    second = stack.run("up", "--yes", "--expect-no-changes", *pack)

    for run in (preview, first, second):
        assert violations(run.output) == [], str(run)
        # The pack did run, and passed: the CLI lists it with a tick.
        assert re.search(r"^\s+✅ lightsail-ecr-access@v", run.stdout, re.MULTILINE), str(run)
    role = service(aws, "web")["privateRegistryAccess"]["ecrImagePullerRole"]
    assert ours(aws.policy("team/app"))["Principal"] == {"AWS": role["principalArn"]}
    assert aws.policy("team/app")["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS

    # `pulumi destroy` takes no --policy-pack (3.276): the pack has nothing to say there.
    stack.destroy()
    assert aws.policy("team/app") == SHARED
    assert aws.policy("team/worker") is None
