"""Independent AWS reads run side by side, a bounded number at a time.

The reads wait on the network, not on Python, so threads overlap their round trips
despite the GIL. Callers share one boto3 client across the threads: a client is
thread-safe, a Session is not (so no thread builds a client here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def bounded_map(
    call: Callable[[Item], Result], items: Iterable[Item], workers: int
) -> list[Result]:
    """``call(item)`` for every item, at most ``workers`` at once; results in item order.

    A failure is raised once the calls before it have finished: always the first failing
    item in the order given, whatever order the threads finished in, so an error names
    the same repository on every run. Calls not yet started when it is raised are
    cancelled.
    """
    todo = list(items)
    if len(todo) <= 1 or workers <= 1:
        return [call(item) for item in todo]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix="aws-read")
    try:
        futures = [pool.submit(call, item) for item in todo]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
