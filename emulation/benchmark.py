"""What the program's own work costs, next to a yardstick program of the same shape.

Run from the project root: ``python -m emulation.benchmark [--sizes 10 40 160]
[--repeat 3] [--latency-ms 40]``.

For each number of repositories (one service), the real ``__main__.py`` and the
yardstick (``emulation/trivial_program``: the same resources, with constant documents,
no reads and no merges) run through the same emulated engine against the same emulated
AWS, interleaved, each from its steady state (an ``up`` already done, so nothing
changes). For ``preview`` and ``up`` it prints the median wall time of each, their
ratio, the AWS calls the program made, and how many sequential ECR round trips the
program waited for when every ECR request takes ``--latency-ms`` longer:
(time with latency - time without) / latency. Then the cost per repository, from the
two largest sizes.

Times are of this machine, in one run, and only their ratios mean something; the
emulation answers in-process, so the latency is what stands in for a real network.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulation.cloud import EmulatedAws
from emulation.engine import Engine, RunReport

ROOT = Path(__file__).resolve().parent.parent
YARDSTICK = Path(__file__).resolve().parent / "trivial_program"
REGION = "us-east-1"
OPERATIONS = ("preview", "up")
# Another team's statement in every repository, so that the program merges for real.
OTHER_TEAM = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CiPush",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci"},
            "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload"],
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
        }
    ],
}


@dataclass
class Measurement:
    """One operation at one size: times in seconds, medians of the repeats."""

    program: float
    yardstick: float
    program_with_latency: float
    yardstick_with_latency: float
    latency: float
    calls: dict[str, int] = field(default_factory=dict)
    yardstick_calls: dict[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.program / self.yardstick

    @property
    def round_trips(self) -> float:
        return (self.program_with_latency - self.program) / self.latency

    @property
    def yardstick_round_trips(self) -> float:
        return (self.yardstick_with_latency - self.yardstick) / self.latency


def stack_config(project: str, service: str, repositories: list[str]) -> dict[str, Any]:
    return {
        "config": {
            "aws:region": REGION,
            f"{project}:serviceName": service,
            f"{project}:repositories": repositories,
        }
    }


def run(engine: Engine, operation: str) -> RunReport:
    report = engine.preview() if operation == "preview" else engine.up()
    if report.changed:
        # Measuring anything but the steady state would compare different work.
        raise RuntimeError(f"{engine.project}: {operation} was not steady: {report.summary()}")
    return report


def timed(action: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def interleaved(program: Engine, yardstick: Engine, operation: str, repeat: int) -> list[float]:
    """Median seconds of (program, yardstick), alternating which goes first."""
    times: list[list[float]] = [[], []]
    for turn in range(repeat):
        order = [(0, program), (1, yardstick)]
        if turn % 2:
            order.reverse()
        for slot, engine in order:
            times[slot].append(timed(lambda engine=engine: run(engine, operation)))  # type: ignore[misc]
    return [statistics.median(t) for t in times]


def measure(size: int, repeat: int, latency: float) -> dict[str, Measurement]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        ours = [f"bench/app-{i:03d}" for i in range(size)]
        theirs = [f"yardstick/app-{i:03d}" for i in range(size)]
        for name in ours:
            aws.create_repository(name, OTHER_TEAM)
        for name in theirs:
            aws.create_repository(name)
        program = Engine(ROOT, "bench", stack_config("lightsail-ecr-access", "bench", ours))
        yardstick = Engine(
            YARDSTICK, "bench", stack_config("lightsail-ecr-trivial", "yardstick", theirs)
        )
        program.up()
        yardstick.up()

        results: dict[str, Measurement] = {}
        for operation in OPERATIONS:
            print(f"  {size} repositories: {operation}", file=sys.stderr, flush=True)
            plain = interleaved(program, yardstick, operation, repeat)
            aws.add_latency("ecr", latency)
            slow = interleaved(program, yardstick, operation, repeat)
            aws.clear_latency()
            counted = []
            for engine in (program, yardstick):
                with aws.record_calls() as record:
                    run(engine, operation)
                counted.append(record.of("program"))
            results[operation] = Measurement(
                program=plain[0],
                yardstick=plain[1],
                program_with_latency=slow[0],
                yardstick_with_latency=slow[1],
                latency=latency,
                calls=counted[0],
                yardstick_calls=counted[1],
            )
        return results


def calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in calls.items()) or "none"


def report(sizes: list[int], results: dict[int, dict[str, Measurement]], args: Any) -> None:
    latency_ms = args.latency_ms
    print(
        f"\nMedian of {args.repeat} runs each, program and yardstick interleaved; "
        f"round trips measured with {latency_ms:g} ms added to every ECR request."
    )
    for size in sizes:
        print(f"\n{size} repositories, 1 service")
        print(
            f"  {'operation':<10} {'program':>9} {'yardstick':>10} {'ratio':>6} "
            f"{'ECR round trips waited':>23}"
        )
        for operation, m in results[size].items():
            print(
                f"  {operation:<10} {m.program:>8.3f}s {m.yardstick:>9.3f}s "
                f"{m.ratio:>5.2f}x {m.round_trips:>10.1f} (yardstick {m.yardstick_round_trips:.1f})"
            )
        for operation, m in results[size].items():
            print(f"  AWS calls of the program, {operation}: {calls_text(m.calls)}")
            print(f"    (yardstick: {calls_text(m.yardstick_calls)})")
    if len(sizes) >= 2:
        small, large = sorted(sizes)[-2:]
        print(f"\nCost per repository, from the {small} and {large} figures:")
        for operation in OPERATIONS:
            a, b = results[small][operation], results[large][operation]
            program = (b.program - a.program) / (large - small)
            yardstick = (b.yardstick - a.yardstick) / (large - small)
            trips = (b.round_trips - a.round_trips) / (large - small)
            print(
                f"  {operation:<8} program {program * 1000:.2f} ms, yardstick "
                f"{yardstick * 1000:.2f} ms, the program's own {(program - yardstick) * 1000:.2f}"
                f" ms; {trips:.3f} ECR round trips per repository"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    results = {size: measure(size, args.repeat, args.latency_ms / 1000) for size in sizes}
    report(sizes, results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
