"""The quick-start story, told by the real `pulumi` CLI against emulated AWS.

Grant, re-run (nothing changes), a broken pull diagnosed by the doctor, destroy; the two
other teams' statements on the repository stay as they were. What is printed under each
`$ pulumi ...` is the CLI's own output.

    python -m realengine.demo

The first run builds the Pulumi CLI from Go modules (minutes, with progress; see
`realengine.cli`); later runs reuse it. Nothing leaves this machine: ECR and STS are
moto's, Lightsail is the project's emulation, both behind one server on 127.0.0.1, and
the AWS provider is the stand-in plugin (`realengine/aws_plugin`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from emulation.demo import (
    OTHER_TEAMS,
    REPOSITORY,
    STACK_FILE,
    TAG,
    WRITER,
    diagnose_a_broken_pull,
    pretty,
    show_diff,
)
from realengine.aws_plugin.install import write_plugin
from realengine.aws_server import EmulatedAwsServer
from realengine.cli import BuildError, ensure_cli
from realengine.runner import FAKE_KEYS, Run, Workspace, local_policy_pack

ARN_AFTER_POLLS = 3
"""GetContainerServices calls before the puller role's ARN appears: the run really waits
for it, with the component's own backoff (the AWS guide's 30 s would make every demo
that much longer without showing more)."""


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, and put back what was there after it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def show(run: Run) -> None:
    print(f"\n$ pulumi {' '.join(a for a in run.args if a not in _NOISE)}")
    for line in run.stdout.rstrip().splitlines():
        print(f"  {line}")


# Flags every command of the demo gets for a script's sake, left out of what is shown.
_NOISE = {"--non-interactive", "--color", "never", "--stack", "demo", "prod"}


def stack_config() -> dict[str, Any]:
    return dict(yaml.safe_load(STACK_FILE.read_text())["config"])


def main() -> int:
    try:
        cli = ensure_cli(progress=lambda line: print(f"[pulumi cli] {line}", flush=True))
    except BuildError as err:
        print(f"The Pulumi CLI could not be had:\n{err}", file=sys.stderr)
        return 2
    print(f"\nREAL PULUMI CLI ({cli / 'pulumi'}), EMULATED AWS: ECR and STS by moto,")
    print("Lightsail by the project's emulation, one server on 127.0.0.1; the AWS provider")
    print("is a stand-in plugin. No call leaves this machine. The program is __main__.py.\n")
    with (
        EmulatedAwsServer(principal_arn_after=ARN_AFTER_POLLS) as aws,
        # The doctor runs in this process: it reaches the same emulated AWS, and only
        # while the server is up (a caller's later AWS clients must not find it).
        _environment({**FAKE_KEYS, "AWS_ENDPOINT_URL": aws.endpoint}),
        tempfile.TemporaryDirectory(prefix="lightsail-ecr-demo-") as folder,
    ):
        aws.create_repository(REPOSITORY, OTHER_TEAMS)
        aws.push_image(REPOSITORY, TAG)
        print(f"ECR repository {REPOSITORY} holds image {TAG} and two other teams' statements:")
        print("\n".join(f"  {line}" for line in pretty(aws.policy(REPOSITORY))))

        root = Path(folder)
        plugin = write_plugin(root / "plugins")
        workspace = Workspace(root, cli, plugin, aws.endpoint)
        stack = workspace.stack("demo", stack_config())
        show(stack.preview("--suppress-outputs"))
        untouched = aws.policy(REPOSITORY) == OTHER_TEAMS

        before = aws.policy(REPOSITORY)
        show(stack.run("up", "--yes", "--skip-preview"))
        show_diff(before, aws.policy(REPOSITORY))

        again = stack.run("up", "--yes", "--expect-no-changes", "--suppress-outputs", check=False)
        show(again)
        quiet = again.returncode == 0

        diagnosed = diagnose_a_broken_pull(aws)
        guarded = stop_a_whole_document_writer(
            aws, Workspace(root / "platform", cli, plugin, aws.endpoint, program=WRITER)
        )

        before = aws.policy(REPOSITORY)
        show(stack.run("destroy", "--yes", "--skip-preview"))
        print("  (the policy resource is retained: Pulumi forgets it and leaves the document;")
        print("   the grant finalizer took out only this service's statement)")
        show_diff(before, aws.policy(REPOSITORY))
        kept = aws.policy(REPOSITORY) == OTHER_TEAMS
        print("  the other teams' statements are " + ("intact." if kept else "NOT intact!"))

    print("\nTo run the same program against your account (AWS credentials needed):")
    print("  pulumi stack init dev && pulumi config set aws:region us-east-1")
    print("  pulumi config set serviceName orders-api")
    print("  pulumi config set --path 'repositories[0]' orders/api")
    print("  pulumi preview --diff   # shows the merged policy documents")
    print("  pulumi up")
    return 0 if untouched and quiet and diagnosed and guarded and kept else 1


def stop_a_whole_document_writer(aws: EmulatedAwsServer, platform: Workspace) -> bool:
    """Another team's stack owns the whole document; the policy pack stops its `up`.

    True when the run was stopped and the grant is still there."""
    print(
        "\n== the platform team's stack holds a plain aws.ecr.RepositoryPolicy for "
        f"{REPOSITORY}:\n   its document is the policy as they copied it before this "
        "service existed; they run it with the organisation's policy pack."
    )
    writer = platform.stack(
        "prod",
        {"platform-registry:repository": REPOSITORY, "platform-registry:document": OTHER_TEAMS},
    )
    before = aws.policy(REPOSITORY)
    pack = local_policy_pack(platform.root)
    stopped = writer.run("up", "--yes", "--skip-preview", "--policy-pack", str(pack), check=False)
    show(stopped)
    intact = stopped.returncode != 0 and aws.policy(REPOSITORY) == before
    print(
        "  nothing was written: this service's grant is still in the policy."
        if intact
        else "  UNEXPECTED: the run was not stopped, or the policy changed"
    )
    return intact


if __name__ == "__main__":
    sys.exit(main())
