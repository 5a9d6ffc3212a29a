"""Fixtures of the tests marked `real_engine`: the real `pulumi` CLI, the stand-in AWS
provider plugin, the emulated AWS server, and a throwaway Pulumi workspace per test.

`pulumi_cli_dir` builds the CLI once per session (or finds it on PATH or in the cache, see
`realengine.cli`). Nothing is skipped: a build that cannot be done fails every test that
needs it, with the build's own message.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from realengine.aws_plugin.install import write_plugin
from realengine.aws_server import EmulatedAwsServer
from realengine.cli import BuildError, ensure_cli
from realengine.runner import ROOT, Workspace


def _progress(line: str) -> None:
    # A first build takes minutes: say so even while pytest captures output.
    print(f"[real engine] {line}", file=sys.__stderr__, flush=True)


@pytest.fixture(scope="session")
def pulumi_cli_dir() -> Path:
    try:
        return ensure_cli(progress=_progress)
    except BuildError as err:
        pytest.fail(f"the real Pulumi CLI could not be had:\n{err}", pytrace=False)


REGION = "us-east-1"
ACCOUNT = "123456789012"  # the emulated dev account: the one the environment's keys act in
OURS = "AllowLightsailPull-web"
# Other teams' statements on a shared repository: a condition, a deny, one without a Sid.
OTHER_TEAMS: list[dict[str, Any]] = [
    {
        "Sid": "CiPush",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"},
        "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload"],
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
    },
    {
        "Sid": "DenyDelete",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "ecr:BatchDeleteImage",
    },
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditor"},
        "Action": ["ecr:DescribeImages"],
    },
]
SHARED = {"Version": "2012-10-17", "Statement": OTHER_TEAMS}


@pytest.fixture(scope="session")
def aws_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in pulumi-resource-aws, as an executable each workspace installs."""
    return write_plugin(tmp_path_factory.mktemp("plugins"))


@contextmanager
def seeded_aws(principal_arn_after: int = 2) -> Iterator[EmulatedAwsServer]:
    """A fresh emulated AWS: `team/app` shared with other teams, `team/worker` empty; the
    puller role's ARN appears after ``principal_arn_after`` GetContainerServices calls."""
    with EmulatedAwsServer(REGION, principal_arn_after=principal_arn_after) as server:
        server.create_repository("team/app", SHARED)
        server.create_repository("team/worker")
        yield server


def workspace_for(
    root: Path,
    cli_dir: Path,
    aws_plugin: Path,
    server: EmulatedAwsServer,
    program: Path = ROOT,
) -> Workspace:
    """A workspace running ``program`` (this repository's, unless a test brings its own)
    whose stacks reach ``server``, its shared config's profiles included."""
    return Workspace(
        root,
        cli_dir,
        aws_plugin,
        server.endpoint,
        program=program,
        extra_env={"AWS_CONFIG_FILE": server.shared_config_file},
    )


@pytest.fixture
def aws() -> Iterator[EmulatedAwsServer]:
    with seeded_aws() as server:
        yield server


@pytest.fixture
def workspace(
    tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path, aws: EmulatedAwsServer
) -> Workspace:
    return workspace_for(tmp_path, pulumi_cli_dir, aws_plugin, aws)


def sids(document: dict[str, Any] | None) -> list[str | None]:
    assert document is not None, "the repository has no policy"
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return [s.get("Sid") for s in statements]


def ours(document: dict[str, Any] | None, service: str = "web") -> dict[str, Any]:
    assert document is not None, "the repository has no policy"
    sid = f"AllowLightsailPull-{service}"
    found = [s for s in document["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"{sid} should be in the policy once: {document}"
    return dict(found[0])


def service(aws: EmulatedAwsServer, name: str) -> dict[str, Any] | None:
    """The live container service, or None."""
    lightsail = aws.client("lightsail")
    try:
        return dict(lightsail.get_container_services(serviceName=name)["containerServices"][0])
    except lightsail.exceptions.NotFoundException:
        return None
