"""Every wait of the project's AWS work, in one place so that a provider can stop them.

The puller role's polling (up to minutes), the grant propagation retries (up to two
minutes) and the settle delays all sleep here. A provider told to cancel (Ctrl-C, a CI
job cancelled: the engine's Cancel) calls ``cancel()``: every wait under way and every
later one ends at once with ``Cancelled``, so the operation fails and the engine can end
the run, instead of waiting minutes for polls whose result nobody will read. The dynamic
provider host never calls it (its Cancel does nothing); the project's own provider does.
"""

from __future__ import annotations

import threading
import time as _time

_cancelled = threading.Event()


class Cancelled(RuntimeError):
    """The run was cancelled while this operation waited; nothing more was written."""


def pause(seconds: float) -> None:
    """Sleep ``seconds``, unless the run is cancelled first (then raise ``Cancelled``)."""
    if _cancelled.wait(max(seconds, 0.0)) or _cancelled.is_set():
        raise Cancelled(
            "the run was cancelled while this operation waited on AWS; nothing more was "
            "written. Run `pulumi up` again: every step resumes from what AWS holds"
        )


def cancel() -> None:
    """End every wait of this process, now and from now on."""
    _cancelled.set()


def cancelled() -> bool:
    return _cancelled.is_set()


class _Clock:
    """Real time, with the stoppable ``pause`` as its sleep. The modules that wait hold
    it as a module attribute, which a test harness may swap for scaled or virtual time."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)
    sleep = staticmethod(pause)


clock = _Clock()
