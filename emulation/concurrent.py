"""Several writers of one repository policy at the same moment, as CI/CD runs them.

Stacks' ``up`` and ``destroy`` runs, and other teams' read-modify-writes, run at once
against one emulated cloud: every stack's program on one event loop (each run in its own
task, hence its own Pulumi settings, as separate processes would have), every provider
action and every other writer on threads. Time is real but scaled
(``ScaledClock``), for the puller role's polls and the policy writes' settle delays
alike, so that the runs overlap as they would in a pipeline, only faster.

An ``Interleaving`` is one seeded way for the writers to meet: each stack starts after
a delay drawn from the seed, and every ECR policy call (GetRepositoryPolicy,
SetRepositoryPolicy, DeleteRepositoryPolicy) is held for a delay drawn from the seed
before it reaches the emulated ECR. The seed fixes the delays; the threads' own
scheduling adds variation on top, so a test runs many seeds, never one lucky ordering.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS

from emulation.component import policy_writes, puller_role, sdk
from emulation.engine import Engine, RunReport

POLICY_CALLS = ("GetRepositoryPolicy", "SetRepositoryPolicy", "DeleteRepositoryPolicy")
# One emulated second lasts this many real seconds: the settle delay of 5 s becomes
# 500 ms, and the puller role's polls 200 ms and up. The emulated engine's read-to-write
# windows (``windows``; `python -m emulation.benchmark --window`) measured 30 to 65 ms,
# four programs sharing two cores; the scenarios assert, run by run, that they stay
# under the settle delay, and a run whose window exceeds it now fails by itself
# (``policy_writes.check_write_window``): at 250 ms, a stall of a loaded CI machine
# failed one of them, so the scaled delay keeps a margin of ten times the windows.
DEFAULT_SCALE = 0.1


class ScaledClock:
    """Real time, scaled: ``sleep(s)`` really sleeps ``s * scale``, so other writers go on
    meanwhile; ``monotonic`` counts in emulated seconds."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def monotonic(self) -> float:
        return time.monotonic() / self.scale

    def time(self) -> float:
        return time.time() / self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0) * self.scale)

    async def pause(self, seconds: float) -> None:
        """``sleep`` for a wait on an event loop (the program's settle delay)."""
        await asyncio.sleep(max(seconds, 0.0) * self.scale)


@dataclass
class Interleaving:
    """One seeded meeting of the writers: start offsets and ECR policy call delays."""

    seed: int
    max_start: float = 0.05
    """Real seconds: each stack's run starts after up to this long."""
    max_call_delay: float = 0.01
    """Real seconds: each ECR policy call is held up to this long before it is answered."""
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    policy_calls: list[tuple[int, str, float]] = field(init=False, default_factory=list)
    """Every ECR policy call as (thread, operation, when ECR answered it), monotonic."""

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self, upper: float) -> float:
        with self._lock:
            return self._random.uniform(0.0, upper)

    def read_write_spans(self) -> list[tuple[float, float]]:
        """Each read followed by a write in the same thread (a revoke, a fresh merge's own
        write, a repair): from the read's answer to the write's."""
        last_read: dict[int, float] = {}
        spans = []
        for thread, operation, moment in self.policy_calls:
            if operation == "GetRepositoryPolicy":
                last_read[thread] = moment
            elif thread in last_read:
                spans.append((last_read.pop(thread), moment))
        return spans

    @contextmanager
    def delaying_policy_calls(self) -> Iterator[None]:
        def hold(operation: str) -> Callable[..., None]:
            def handler(**_: Any) -> None:
                time.sleep(self.draw(self.max_call_delay))
                with self._lock:
                    self.policy_calls.append((threading.get_ident(), operation, time.monotonic()))

            return handler

        entries = [(f"before-send.ecr.{op}", hold(op)) for op in POLICY_CALLS]
        BUILTIN_HANDLERS.extend(entries)
        sdk.forget_cached_clients()
        try:
            yield
        finally:
            for entry in entries:
                BUILTIN_HANDLERS.remove(entry)
            sdk.forget_cached_clients()


@contextmanager
def scaled_time(scale: float = DEFAULT_SCALE, seed: int = 0) -> Iterator[ScaledClock]:
    """The puller role's waits and the settle delays on scaled real time; seeded jitter."""
    clock = ScaledClock(scale)
    saved = (puller_role.time, policy_writes.clock, policy_writes.jitter)
    puller_role.time = clock
    policy_writes.clock = clock
    policy_writes.jitter = random.Random(seed)
    try:
        yield clock
    finally:
        puller_role.time, policy_writes.clock, policy_writes.jitter = saved


@dataclass
class Up:
    engine: Engine


@dataclass
class Destroy:
    engine: Engine


@dataclass
class Writer:
    """Another team's script: read the policy, change it, write it back."""

    change: Callable[[], None]


Run = Up | Destroy | Writer
Outcome = RunReport | BaseException | None


def at_once(runs: list[Run], interleaving: Interleaving) -> list[Outcome]:
    """Start every run at (nearly) the same moment; return each one's report or error."""
    previous = asyncio.get_event_loop_policy().get_event_loop()
    loop = asyncio.new_event_loop()
    # Every blocking provider action and settle delay holds a thread: room for all.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=64, thread_name_prefix="run"))
    asyncio.set_event_loop(loop)

    async def one(run: Run) -> Outcome:
        await asyncio.sleep(interleaving.draw(interleaving.max_start))
        if isinstance(run, Up):
            return await run.engine._run_async(preview=False)
        work = run.engine.destroy if isinstance(run, Destroy) else run.change
        return await loop.run_in_executor(None, work)

    # A collection of the whole heap that the stacks' programs share here would pause
    # every one of them at once for a fifth of a second, stretching read-to-write windows
    # as separate CI runners never do; collect before, and after.
    gc.collect()
    gc.disable()
    try:
        with interleaving.delaying_policy_calls():
            everything = asyncio.gather(*(one(run) for run in runs), return_exceptions=True)
            outcomes: list[Outcome] = list(loop.run_until_complete(everything))
    finally:
        leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(previous)
        gc.enable()
    return outcomes


def read_modify_write(ecr: Any, repository: str, statement: dict[str, Any]) -> float:
    """Another team adds ``statement`` the way people do: read, append, write back.
    Returns when (``time.monotonic``) the write was answered.

    ``ecr`` is a client built before the runs start: building one takes the GIL for a
    while, which would stretch the stacks' windows, as a separate process would not.
    """
    try:
        text = ecr.get_repository_policy(repositoryName=repository)["policyText"]
        document = json.loads(text)
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        document = {"Version": "2012-10-17", "Statement": []}
    statements = document["Statement"]
    statements = [statements] if isinstance(statements, dict) else statements
    document["Statement"] = [*statements, statement]
    ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(document))
    return time.monotonic()


def window_spans(engine: Engine) -> list[tuple[float, float]]:
    """(start, end), monotonic, of each window that ``windows`` measures."""
    starts = {name: start for name, start, _ in engine.timeline if "-document-" in name}
    return [
        (starts[document], end)
        for name, _, end in engine.timeline
        if "-policy-" in name and (document := name.replace("-policy-", "-document-", 1)) in starts
    ]


def inside_a_window(moment: float, engines: list[Engine], interleaving: Interleaving) -> bool:
    """Whether a write answered at ``moment`` fell between one of the stacks' reads and
    the write made from it (a fresh merge and the policy resource's write, or a revoke or
    repair): the one place where another writer's statement can be lost, unseen."""
    spans = [*interleaving.read_write_spans(), *(s for e in engines for s in window_spans(e))]
    return any(start < moment < end for start, end in spans)


def windows(engine: Engine) -> list[float]:
    """Real seconds from the start of each fresh merge (its read) to the end of the policy
    resource's write that followed it in the same run: the window in which another writer
    can be overwritten, measured from above."""
    return [end - start for start, end in window_spans(engine)]
