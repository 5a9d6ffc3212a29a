"""The benchmark through the real `pulumi` CLI: the program next to its yardstick.

    python -m realengine.benchmark [--sizes 10 40 160] [--repeat 3] [--package]

For each number of repositories, the real ``__main__.py`` (one service granting every
repository, each of which holds another team's statement) and the yardstick
(``emulation/trivial_program``: the same resources with constant documents, no reads,
no merges) each make a first ``up``, then run steady-state ``up``s (nothing changes)
interleaved, alternating which goes first. Printed per size: each first ``up``'s time,
the median steady-state ``up`` of each, their ratio, and the spread of the repeats.

With ``--package``, a third column: the same service declared by a consumer of the
package (``tests/real_engine/programs/construct``), which the package's own provider
builds through Construct and whose resources it serves (64 threads, not the dynamic
host's 4).

All run in the same emulated AWS server, against the same CLI, one after the other on
this machine: only the ratios measured side by side in one run mean something (the
machine is shared), and the emulated AWS answers in well under a millisecond, so a real
account's network time is not in these figures. A first ``up`` waits for the puller
role's ARN (the server's ``principal_arn_after`` polls, with the component's backoff)
and for the verifications' settle delays, as a real one does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components import __version__
from components.provider.install import write_plugin as write_provider
from emulation.benchmark import OTHER_TEAM, repositories, spread
from realengine.aws_plugin.install import write_plugin
from realengine.aws_server import EmulatedAwsServer
from realengine.cli import ensure_cli
from realengine.runner import ROOT, Stack, Workspace

YARDSTICK = ROOT / "emulation" / "trivial_program"
PACKAGE_CONSUMER = ROOT / "tests" / "real_engine" / "programs" / "construct"


@dataclass
class Measurement:
    """One size: seconds of each first up, and the steady-state ups' repeats, per column
    (the program, the package consumer when measured, the yardstick last)."""

    first: list[float]
    steady: list[list[float]]

    def line(self, size: int) -> str:
        medians = [statistics.median(t) for t in self.steady]
        yardstick = medians[-1]
        firsts = " ".join(f"{t:>8.1f} s" for t in self.first)
        steadies = " ".join(f"{m:>7.2f} s {m / yardstick:>5.2f}x" for m in medians[:-1])
        spreads = " / ".join(f"{spread(t):.0%}" for t in self.steady)
        return f"{size:>5} | {firsts} | {steadies} {yardstick:>7.2f} s | {spreads}"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def steady_up(stack: Stack) -> None:
    stack.run("up", "--yes", "--skip-preview", "--expect-no-changes", "--suppress-outputs")


def measure(
    size: int, repeat: int, root: Path, cli: Path, plugin: Path, provider: Path | None = None
) -> Measurement:
    with EmulatedAwsServer(principal_arn_after=2) as aws:
        ours, theirs = repositories(aws, size)
        stacks = [
            Workspace(root / f"program-{size}", cli, plugin, aws.endpoint).stack(
                "bench", {"serviceName": "bench", "repositories": ours}
            )
        ]
        if provider is not None:
            workspace = Workspace(
                root / f"package-{size}", cli, plugin, aws.endpoint, program=PACKAGE_CONSUMER
            )
            workspace.install_provider("lightsail-ecr", __version__, provider)
            packaged = [f"packaged/app-{i:03d}" for i in range(size)]
            for name in packaged:
                aws.create_repository(name, OTHER_TEAM)
            services = [{"serviceName": "packaged", "repositories": packaged}]
            stacks.append(workspace.stack("bench", {"services": services}))
        stacks.append(
            Workspace(
                root / f"yardstick-{size}", cli, plugin, aws.endpoint, program=YARDSTICK
            ).stack("bench", {"serviceName": "yardstick", "repositories": theirs})
        )
        first = [timed(stack.up) for stack in stacks]
        times: list[list[float]] = [[] for _ in stacks]
        for turn in range(repeat):
            # Alternate which goes first, so that neither always runs on a warmer machine.
            order = list(enumerate(stacks))
            for slot, stack in order[::-1] if turn % 2 else order:
                start = time.perf_counter()
                steady_up(stack)
                times[slot].append(time.perf_counter() - start)
        return Measurement(first, times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--package", action="store_true", help="also measure a consumer of the package"
    )
    args = parser.parse_args(argv)
    cli = ensure_cli(progress=lambda line: print(f"[pulumi cli] {line}", flush=True))
    columns = "program package yardstick" if args.package else "program yardstick"
    print(f"repos | first up: {columns} | steady up (ratio to yardstick): {columns} | spread")
    with tempfile.TemporaryDirectory(prefix="lightsail-ecr-bench-") as folder:
        root = Path(folder)
        plugin = write_plugin(root / "plugins")
        provider = write_provider(root / "provider", path=str(ROOT)) if args.package else None
        for size in sorted(args.sizes):
            measured = measure(size, args.repeat, root, cli, plugin, provider)
            print(measured.line(size), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
