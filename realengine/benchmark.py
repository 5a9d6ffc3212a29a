"""The benchmark through the real `pulumi` CLI: the program next to its yardstick.

    python -m realengine.benchmark [--sizes 10 40 160] [--repeat 3]

For each number of repositories, the real ``__main__.py`` (one service granting every
repository, each of which holds another team's statement) and the yardstick
(``emulation/trivial_program``: the same resources with constant documents, no reads,
no merges) each make a first ``up``, then run steady-state ``up``s (nothing changes)
interleaved, alternating which goes first. Printed per size: each first ``up``'s time,
the median steady-state ``up`` of each, their ratio, and the spread of the repeats.

Both run in the same emulated AWS server, against the same CLI, one after the other on
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

from emulation.benchmark import repositories, spread
from realengine.aws_plugin.install import write_plugin
from realengine.aws_server import EmulatedAwsServer
from realengine.cli import ensure_cli
from realengine.runner import Stack, Workspace

YARDSTICK = Path(__file__).resolve().parent.parent / "emulation" / "trivial_program"


@dataclass
class Measurement:
    """One size: seconds of each first up, and the steady-state ups' repeats."""

    first: tuple[float, float]
    steady: tuple[list[float], list[float]]

    def line(self, size: int) -> str:
        program, yardstick = (statistics.median(t) for t in self.steady)
        return (
            f"{size:>5} | {self.first[0]:>8.1f} s {self.first[1]:>8.1f} s | "
            f"{program:>7.2f} s {yardstick:>7.2f} s {program / yardstick:>6.2f}x | "
            f"{spread(self.steady[0]):.0%} / {spread(self.steady[1]):.0%}"
        )


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def steady_up(stack: Stack) -> None:
    stack.run("up", "--yes", "--skip-preview", "--expect-no-changes", "--suppress-outputs")


def measure(size: int, repeat: int, root: Path, cli: Path, plugin: Path) -> Measurement:
    with EmulatedAwsServer(principal_arn_after=2) as aws:
        ours, theirs = repositories(aws, size)
        program = Workspace(root / f"program-{size}", cli, plugin, aws.endpoint).stack(
            "bench", {"serviceName": "bench", "repositories": ours}
        )
        yardstick = Workspace(
            root / f"yardstick-{size}", cli, plugin, aws.endpoint, program=YARDSTICK
        ).stack("bench", {"serviceName": "yardstick", "repositories": theirs})
        first = (timed(program.up), timed(yardstick.up))
        times: tuple[list[float], list[float]] = ([], [])
        for turn in range(repeat):
            order = [(0, program), (1, yardstick)]
            for slot, stack in order[::-1] if turn % 2 else order:
                start = time.perf_counter()
                steady_up(stack)
                times[slot].append(time.perf_counter() - start)
        return Measurement(first, times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cli = ensure_cli(progress=lambda line: print(f"[pulumi cli] {line}", flush=True))
    print(
        "repos | first up: program yardstick | steady up: program yardstick ratio | spread",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lightsail-ecr-bench-") as folder:
        root = Path(folder)
        plugin = write_plugin(root / "plugins")
        for size in sorted(args.sizes):
            print(measure(size, args.repeat, root, cli, plugin).line(size), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
