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

``--split 40 160`` instead splits a steady-state up's time, for the program and the
yardstick, between emulated AWS, the AWS SDK's own work, building clients, and the
rest (the engine's and the program's Python).

``--writes 10 40`` instead measures what a run that writes every repository's policy
costs next to a steady-state up of the same stack: the wall time (the settle delays
pass on the virtual clock, and are reported apart), the ECR calls per repository, and
the settle delay each verification waited.

``--window`` instead measures the window that the settle delay must outlast: from the
start of each fresh merge (its read) to the end of the policy resource's write, for one
stack alone and for four stacks' first ups at once (``emulation.concurrent``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from emulation.cloud import EcrHelpers, EmulatedAws
from emulation.engine import Engine, RunReport

ROOT = Path(__file__).resolve().parent.parent
YARDSTICK = Path(__file__).resolve().parent / "trivial_program"
REGION = "us-east-1"
OPERATIONS = ("preview", "up")
# Another team's statement in every repository, so that the program merges for real.
OTHER_TEAM: dict[str, Any] = {
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
    spread: tuple[float, float] = (0.0, 0.0)
    """(program, yardstick): (slowest - fastest) / median of the repeats without latency."""
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


def spread(times: list[float]) -> float:
    return (max(times) - min(times)) / statistics.median(times)


def interleaved_runs(
    program: Engine, yardstick: Engine, operation: str, repeat: int
) -> list[list[float]]:
    """Seconds of every repeat, (program, yardstick), alternating which goes first."""
    times: list[list[float]] = [[], []]
    for turn in range(repeat):
        order = [(0, program), (1, yardstick)]
        if turn % 2:
            order.reverse()
        for slot, engine in order:
            times[slot].append(timed(partial(run, engine, operation)))
    return times


def interleaved(program: Engine, yardstick: Engine, operation: str, repeat: int) -> list[float]:
    """Median seconds of (program, yardstick), alternating which goes first."""
    return [statistics.median(t) for t in interleaved_runs(program, yardstick, operation, repeat)]


def repositories(aws: EcrHelpers, size: int) -> tuple[list[str], list[str]]:
    """``size`` repositories for the program (with another team's statement) and as many
    for the yardstick."""
    ours = [f"bench/app-{i:03d}" for i in range(size)]
    theirs = [f"yardstick/app-{i:03d}" for i in range(size)]
    for name in ours:
        aws.create_repository(name, OTHER_TEAM)
    for name in theirs:
        aws.create_repository(name)
    return ours, theirs


def measure(size: int, repeat: int, latency: float) -> dict[str, Measurement]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        ours, theirs = repositories(aws, size)
        program = Engine(ROOT, "bench", stack_config("lightsail-ecr-access", "bench", ours))
        yardstick = Engine(
            YARDSTICK, "bench", stack_config("lightsail-ecr-trivial", "yardstick", theirs)
        )
        program.up()
        yardstick.up()

        results: dict[str, Measurement] = {}
        for operation in OPERATIONS:
            print(f"  {size} repositories: {operation}", file=sys.stderr, flush=True)
            runs = interleaved_runs(program, yardstick, operation, repeat)
            plain = [statistics.median(t) for t in runs]
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
                spread=(spread(runs[0]), spread(runs[1])),
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
            f"{'ECR round trips waited':>23}  spread of repeats"
        )
        for operation, m in results[size].items():
            print(
                f"  {operation:<10} {m.program:>8.3f}s {m.yardstick:>9.3f}s "
                f"{m.ratio:>5.2f}x {m.round_trips:>10.1f} (yardstick {m.yardstick_round_trips:.1f})"
                f"  {m.spread[0]:.0%} / {m.spread[1]:.0%}"
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
    print("\nGoals for many repositories (steady-state up):")
    if 160 in results:
        trips = results[160]["up"].round_trips
        print(f"  160 repositories, at most 16 ECR round trips waited: {trips:.1f}")
    for size in (40, 160):
        if size in results:
            ratio = results[size]["up"].ratio
            print(f"  {size} repositories, within 1.5x the yardstick: {ratio:.2f}x")


class Stopwatches:
    """Wall time spent inside a few functions, summed over calls (one thread at a time)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, attribute, timed_call)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()


def split_time(size: int, runs: int) -> None:
    """Split a steady-state up's wall time between the engine, the emulation and the program.

    The policy reads run one at a time here, so that time spent in calls adds up to
    wall time (threads would overlap); the work is the same, since under the GIL the
    threads' Python work is serial anyway. Stopwatches around moto's responder, the
    Lightsail emulator, every boto3 API call and the building of clients say how much
    of each run is the emulated service, the SDK's own work in this process, and the
    client set-up; the rest is the engine's and the program's Python.
    """
    import botocore.client
    from moto.core.models import BotocoreStubber

    from components.aws import ecr_api, sdk
    from emulation.lightsail import LightsailEmulator

    ecr_api.CONCURRENT_READS = 1
    splits: dict[str, dict[str, float]] = {}
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        ours, theirs = repositories(aws, size)
        engines = {
            "program": Engine(ROOT, "bench", stack_config("lightsail-ecr-access", "bench", ours)),
            "yardstick": Engine(
                YARDSTICK, "bench", stack_config("lightsail-ecr-trivial", "yardstick", theirs)
            ),
        }
        for engine in engines.values():
            engine.up()
        for label, engine in engines.items():
            watches = Stopwatches()
            watches.wrap(BotocoreStubber, "__call__", "moto")
            watches.wrap(LightsailEmulator, "_handle", "lightsail")
            watches.wrap(botocore.client.BaseClient, "_make_api_call", "calls")
            watches.wrap(sdk, "client", "clients")
            try:
                walls = [timed(partial(run, engine, "up")) for _ in range(runs)]
            finally:
                watches.restore()
            spent = {k: v / runs for k, v in watches.spent.items()}
            emulated = spent.get("moto", 0.0) + spent.get("lightsail", 0.0)
            wall = statistics.mean(walls)
            splits[label] = {
                "emulated AWS answering (moto, Lightsail emulator)": emulated,
                "AWS SDK in this process (serialise, sign, parse)": spent.get("calls", 0.0)
                - emulated,
                "building boto3 clients": spent.get("clients", 0.0),
                "engine and program Python (the rest)": wall
                - spent.get("calls", 0.0)
                - spent.get("clients", 0.0),
                "wall time": wall,
            }
    print(
        f"\nWhere a steady-state up's time goes, {size} repositories, ms per run "
        f"(mean of {runs}, policy reads one at a time)"
    )
    print(f"  {'':<52} {'program':>8} {'yardstick':>10} {'difference':>11}")
    for name in splits["program"]:
        a, b = splits["program"][name] * 1000, splits["yardstick"][name] * 1000
        print(f"  {name:<52} {a:>8.1f} {b:>10.1f} {a - b:>11.1f}")


def writing_runs(size: int, runs: int) -> None:
    """A run that writes every policy, next to a steady-state up, ``runs`` of each."""
    from emulation.component import policy_writes

    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        ours, _ = repositories(aws, size)
        engine = Engine(ROOT, "bench", stack_config("lightsail-ecr-access", "bench", ours))
        engine.up()
        steady: list[float] = []
        writing: list[float] = []
        settles: list[float] = []
        calls: dict[str, int] = {}
        for turn in range(runs):
            steady.append(timed(partial(run, engine, "up")))
            # Another team edits every policy: the next up merges and writes each again.
            for name in ours:
                document = aws.policy(name) or {}
                edit = {**OTHER_TEAM["Statement"][0], "Sid": f"Edit{turn}"}
                aws.set_policy(name, {**document, "Statement": [*document["Statement"], edit]})
            slept = len(aws.clock.slept)
            with aws.record_calls() as record:
                writing.append(timed(engine.up))
            calls = record.of("program") | {
                f"{op} (provider)": n for op, n in record.of("provider").items()
            }
            settles += aws.clock.slept[slept:]
    print(f"\n{size} repositories, an up that writes every policy vs a steady-state up")
    print(
        f"  steady up {statistics.median(steady):.3f}s, writing up "
        f"{statistics.median(writing):.3f}s (medians of {runs}, settle delays excluded), "
        f"ratio {statistics.median(writing) / statistics.median(steady):.2f}x"
    )
    per_repository = {op: n / size for op, n in calls.items() if n >= size}
    print(
        "  ECR calls per repository in a writing up: "
        + ", ".join(f"{op} {n:g}" for op, n in per_repository.items())
    )
    print(
        f"  settle delays: {len(settles) // runs} per run, each {min(settles):.1f} to "
        f"{max(settles):.1f} s (SETTLE_SECONDS {policy_writes.SETTLE_SECONDS:g} + jitter up "
        f"to {policy_writes.JITTER_SECONDS:g}); the engine runs the repositories' "
        "verifications side by side, so a run waits about one of them"
    )


def measure_windows(seeds: int) -> None:
    """The fresh read-to-write windows, one stack alone and four at once."""
    from emulation.component import policy_writes
    from emulation.concurrent import DEFAULT_SCALE, Interleaving, Up, at_once, scaled_time
    from emulation.concurrent import windows as windows_of

    found: dict[str, list[float]] = {"one stack alone": [], "four stacks at once": []}
    for seed in range(seeds):
        for label, count in (("one stack alone", 1), ("four stacks at once", 4)):
            with EmulatedAws(region=REGION, arn_after_polls=2) as aws:
                aws.create_repository("shared/base", OTHER_TEAM)
                engines = [
                    Engine(
                        ROOT,
                        f"ci-{i}",
                        stack_config("lightsail-ecr-access", f"svc-{i}", ["shared/base"]),
                    )
                    for i in range(count)
                ]
                with scaled_time(seed=seed):
                    at_once([Up(e) for e in engines], Interleaving(seed))
                found[label] += [w for e in engines for w in windows_of(e)]
    settle = policy_writes.SETTLE_SECONDS * DEFAULT_SCALE
    print(
        f"\nFresh read to policy write, real ms, {seeds} seeds (emulated engine, ECR calls "
        "held up to 10 ms each)"
    )
    for label, values in found.items():
        values.sort()
        print(
            f"  {label:<20} median {statistics.median(values) * 1000:6.1f}, "
            f"max {values[-1] * 1000:6.1f} (of {len(values)})"
        )
    print(
        f"  settle delay in the emulation: {settle * 1000:.0f} ms "
        f"({policy_writes.SETTLE_SECONDS:g} s scaled by {DEFAULT_SCALE:g})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 160])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument(
        "--split",
        type=int,
        nargs="+",
        metavar="N",
        help="instead, split a steady-state up's time at N repositories (engine, "
        "emulation, SDK, clients); --repeat runs each",
    )
    parser.add_argument(
        "--writes",
        type=int,
        nargs="+",
        metavar="N",
        help="instead, an up that writes every policy at N repositories next to a steady one",
    )
    parser.add_argument(
        "--window",
        action="store_true",
        help="instead, measure the fresh read-to-write windows (--repeat seeds)",
    )
    args = parser.parse_args(argv)
    if args.window:
        measure_windows(max(args.repeat, 3))
        return 0
    if args.writes:
        for size in args.writes:
            writing_runs(size, max(args.repeat, 3))
        return 0
    if args.split:
        for size in args.split:
            split_time(size, max(args.repeat, 3))
        return 0
    sizes = sorted(args.sizes)
    results = {size: measure(size, args.repeat, args.latency_ms / 1000) for size in sizes}
    report(sizes, results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
