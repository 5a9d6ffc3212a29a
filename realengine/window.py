"""The read-to-write window under the real engine, measured.

    python -m realengine.window [--runs 10] [--stacks 4] [--repositories 6]

Each run makes first `up`s through the real `pulumi` CLI against the emulated AWS
server: (a) one stack granting its own repositories, then (b) ``--stacks`` stacks at
once granting the same shared repositories (some holding other teams' statements),
each its own service. The window is, for every policy write the AWS provider makes,
the time from the fresh document's read (the ``FreshPolicyDocument``'s
``GetRepositoryPolicy``) to the end of that ``SetRepositoryPolicy``: the time in which
another writer's change is overwritten unseen, which the settle delay
(``components.aws.policy_writes.SETTLE_SECONDS``) must outlast.

The calls are told apart as AWS tells them apart, by User-Agent: the project's own
provider calls carry ``lightsail-ecr-access md/provider``, the stand-in AWS provider's
``pulumi-aws/<version>``, and each stack's run carries ``app/<stack>``
(``AWS_SDK_UA_APP_ID``, which every process of the run inherits). The server logs each
ECR call with its times (``GET /_lsea/ecr-calls``); a write is paired with the last
read of the same repository by the same stack's provider before it. The program's own
measure of each window (the verification's ``write_window``: from the same read to
the moment the write's result reached the program) is printed beside it.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.aws import sdk
from components.aws.policy_writes import SETTLE_SECONDS
from components.rules.type_tokens import GRANT_VERIFICATION
from emulation.benchmark import OTHER_TEAM
from realengine.aws_plugin.install import write_plugin
from realengine.aws_plugin.provider import USER_AGENT as STAND_IN
from realengine.aws_server import EmulatedAwsServer
from realengine.cli import ensure_cli
from realengine.runner import Stack, Workspace

APP_ID_ENV = "AWS_SDK_UA_APP_ID"
_APP = re.compile(r"(?:^|\s)app/(\S+)")
PROVIDER = sdk.user_agent(sdk.PROVIDER)
WRITES = ("SetRepositoryPolicy", "DeleteRepositoryPolicy")


@dataclass(frozen=True)
class Span:
    """One write of a stack on a repository, from the read its document came from."""

    stack: str
    repository: str
    writer: str
    """``stand-in`` (the AWS provider's policy resource) or ``provider`` (the project's
    own: a fresh grant, a repair, a revoke)."""
    read_start: float
    write_end: float

    @property
    def window(self) -> float:
        return self.write_end - self.read_start


def stack_of(user_agent: str) -> str | None:
    """The stack a call was made for (``app/<stack>`` in its User-Agent)."""
    found = _APP.search(user_agent)
    return found.group(1) if found else None


def read_write_spans(calls: Sequence[dict[str, Any]]) -> list[Span]:
    """Every successful write by a stack's run (its AWS provider's or its own), paired
    with the last read of that repository by the same stack's provider before it."""
    spans = []
    for index, call in enumerate(calls):
        if call["operation"] not in WRITES or call["error"]:
            continue
        agent = call["user_agent"]
        if STAND_IN in agent:
            writer = "stand-in"
        elif PROVIDER in agent:
            writer = "provider"
        else:
            continue
        stack = stack_of(agent)
        read = next(
            (
                c
                for c in reversed(calls[:index])
                if c["operation"] == "GetRepositoryPolicy"
                and c["repository"] == call["repository"]
                and PROVIDER in c["user_agent"]
                and stack_of(c["user_agent"]) == stack
            ),
            None,
        )
        if stack is None or read is None:
            continue
        spans.append(Span(stack, call["repository"], writer, read["start"], call["end"]))
    return spans


def policy_windows(calls: Sequence[dict[str, Any]]) -> list[Span]:
    """The spans that end with the AWS provider's policy write: the windows."""
    return [s for s in read_write_spans(calls) if s.writer == "stand-in"]


def program_windows(stack: Stack) -> list[float]:
    """The windows the program measured itself (the verifications' ``write_window``)."""
    found = []
    for resource in stack.resources():
        if resource.get("type") == GRANT_VERIFICATION:
            window = (resource.get("outputs") or {}).get("write_window")
            if isinstance(window, (int, float)):
                found.append(float(window))
    return found


@dataclass
class Measured:
    windows: list[float]
    program: list[float]
    failed: list[str]
    seconds: float


def _stacks_up_at_once(stacks: Sequence[Stack]) -> list[str]:
    """First `up` of every stack at once; the names of those that failed (and why)."""
    started = [
        (
            s,
            s.workspace.start(
                "up", "--yes", "--skip-preview", stack=s.name, env={APP_ID_ENV: s.name}
            ),
        )
        for s in stacks
    ]
    failed = []
    for stack, process in started:
        out, err = process.communicate()
        if process.returncode != 0:
            failed.append(f"{stack.name}: exit {process.returncode}\n{out[-3000:]}\n{err[-3000:]}")
    return failed


def measure(
    aws: EmulatedAwsServer, workspace: Workspace, label: str, stacks: int, repositories: int
) -> Measured:
    """``stacks`` first ups at once on the same ``repositories`` new repositories."""
    names = [f"{label}/r{i}" for i in range(repositories)]
    for i, name in enumerate(names):
        aws.create_repository(name, OTHER_TEAM if i % 2 == 0 else None)
    made = [
        workspace.stack(
            f"{label.replace('/', '-')}-s{k}",
            {"serviceName": f"{label.replace('/', '-')}-svc{k}", "repositories": names},
        )
        for k in range(stacks)
    ]
    started = time.monotonic()
    failed = _stacks_up_at_once(made)
    seconds = time.monotonic() - started
    ours = {s.name for s in made}
    spans = [s for s in policy_windows(aws.ecr_calls()) if s.stack in ours]
    program = [w for s in made for w in program_windows(s)]
    return Measured([s.window for s in spans], program, failed, seconds)


def _summary(values: Iterable[float]) -> str:
    found = sorted(values)
    if not found:
        return "no windows"
    return f"median {statistics.median(found):.3f} s, max {found[-1]:.3f} s ({len(found)} writes)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--stacks", type=int, default=4)
    parser.add_argument("--repositories", type=int, default=6)
    parser.add_argument(
        "--principal-arn-after", type=int, default=2, help="the server's puller role ARN delay"
    )
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    began = time.monotonic()
    cli = ensure_cli(progress=lambda line: print(f"[cli] {line}", file=sys.stderr, flush=True))
    results: dict[str, list[Measured]] = {"one stack": [], f"{args.stacks} stacks at once": []}
    with (
        tempfile.TemporaryDirectory(prefix="window-") as tmp,
        EmulatedAwsServer(principal_arn_after=args.principal_arn_after) as aws,
    ):
        plugin = write_plugin(Path(tmp) / "plugins")
        workspace = Workspace(
            Path(tmp) / "workspace",
            cli,
            plugin,
            aws.endpoint,
            extra_env={"AWS_CONFIG_FILE": aws.shared_config_file},
        )
        for run in range(args.runs):
            pairs = (
                ("one stack", 1, "solo"),
                (f"{args.stacks} stacks at once", args.stacks, "shared"),
            )
            for label, stacks, kind in pairs:
                measured = measure(
                    aws,
                    workspace,
                    # By kind, not by count: `--stacks 1` makes both kinds one stack.
                    f"w{run}/{kind}",
                    stacks,
                    args.repositories,
                )
                results[label].append(measured)
                say(
                    f"run {run + 1}/{args.runs}, {label}: {_summary(measured.windows)}; "
                    f"program's own measure {_summary(measured.program)}; "
                    f"ups took {measured.seconds:.0f} s"
                    + (f"; FAILED: {len(measured.failed)}" if measured.failed else "")
                )
                for failure in measured.failed:
                    say(failure)
            aws.clear_ecr_calls()
    say("")
    say(
        f"read-to-write window over {args.runs} runs, {args.repositories} repositories a "
        f"stack, first ups (settle delay {SETTLE_SECONDS:g} s):"
    )
    for label, runs in results.items():
        say(f"  {label}: {_summary(w for m in runs for w in m.windows)}")
        say(f"    program's own measure: {_summary(w for m in runs for w in m.program)}")
        failures = sum(len(m.failed) for m in runs)
        if failures:
            say(f"    failed runs: {failures}")
    say(f"took {time.monotonic() - began:.0f} s")
    return 1 if any(m.failed for runs in results.values() for m in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
