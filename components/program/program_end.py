"""Knowing when a Pulumi program has declared everything it will declare.

A repository shared by several components gets one policy document holding every
component's grant, so the document can be computed only once the program has declared
them all. "One turn of the event loop" is not that moment: a plain invoke, a
``register_*_transform`` or pickling an Output steps the loop while the program body is
still running (pulumi's ``_sync_await``), and a ``pulumi.run`` entrypoint declares
resources after awaits.

The moment the Python runtime itself uses is the root stack's ``register_outputs``:
``pulumi.runtime.stack.run_in_stack`` calls it exactly once, after the program body
and its ``pulumi.run`` entrypoint have returned (or raised). That is the signal here.

Under Pulumi's unit-test mocks (``pulumi.runtime.set_mocks``) the root stack registers
its outputs before the test's program runs, so there is no such signal; the program end
is then taken to be the first turn of the event loop, as it is for a straight-line
program (``ProgramEnd.exact`` says which of the two applies). A component first declared
in a real run once its stack has registered its outputs (inside an ``apply``) is known by
a ``run_in_stack`` still running: the program has ended, and the grant is refused.

A program that raises: the registrations waiting for its end fail with the program's
own exception (type, message, and its traceback as a note), so that the run reports that
exception and writes no repository policy.

``Stack._finish`` and ``Stack._outputs_registered`` are private to the SDK. Without them
the component stops at once, saying what it expected; should the stack register its
outputs another way, the wait gives up after ``PROGRAM_END_TIMEOUT`` saying so, rather
than hang the run.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from contextvars import ContextVar
from importlib import metadata
from typing import Any

from pulumi.runtime import stack as sdk_stack


class ProgramFailed(RuntimeError):
    """The program stopped (not with an ``Exception``) before it finished declaring."""


class ProgramEndUnknown(RuntimeError):
    """This Pulumi SDK does not end a program the way the component relies on."""


PROGRAM_END_TIMEOUT = 3600.0
"""Seconds a declared grant waits for the program's end before the run fails: longer than
any program's own awaits, so that an SDK that ends programs another way stops the run
with a reason instead of hanging it."""

_WATCH_INTERVAL = 0.05


def _pulumi_version() -> str:
    try:
        return metadata.version("pulumi")
    except metadata.PackageNotFoundError:  # pragma: no cover - pulumi is a dependency
        return "unknown"


def _expected() -> str:
    return (
        "the component finds the program's end through the root stack "
        "(pulumi.runtime.stack.Stack): run_in_stack calls its private _finish once the "
        "program has returned, which sets _outputs_registered and calls register_outputs "
        f"(pulumi 3.2xx does); the installed pulumi is {_pulumi_version()}"
    )


def _in_a_program_run() -> bool:
    """Whether a program run (``run_in_stack``, as the language host and the Automation
    API start one) is in progress on this event loop; unit tests under mocks have none."""
    # Not run_pulumi_func: pulumi.runtime.test runs unit tests' programs in it too.
    code = getattr(getattr(sdk_stack, "run_in_stack", None), "__code__", None)
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop: plain unit-test code
        return False
    for task in tasks:
        awaited: Any = task.get_coro()
        while awaited is not None and hasattr(awaited, "cr_code"):
            if code is not None and awaited.cr_code is code:
                return True
            awaited = awaited.cr_await
    return False


class ProgramEnd:
    """An awaitable end of the running program's declarations (one per program run)."""

    def __init__(self, root: Any) -> None:
        if not hasattr(root, "_outputs_registered") or not callable(
            getattr(type(root), "_finish", None)
        ):
            raise ProgramEndUnknown(
                "this Pulumi SDK's root stack has no _finish or _outputs_registered, so "
                "the end of the program cannot be known and no shared repository policy "
                f"can be computed; {_expected()}. Nothing was created: use a pulumi "
                "version this component supports"
            )
        self._future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._root = root
        self._watcher: asyncio.Task[None] | None = None
        self._failure: tuple[BaseException, Any] | None = None
        self.signal = ""
        """What ended the declarations: "register_outputs", "watch" (the fallback), "one
        loop turn" (under unit-test mocks) or "before" (the run had ended already)."""
        registered = bool(root._outputs_registered)
        self.exact = not registered
        if self.exact:
            original = root.register_outputs

            def register_outputs(outputs: Any) -> None:
                self._finish(failed=sys.exc_info()[1], signal="register_outputs")
                original(outputs)

            # An instance attribute: only this run's root stack is affected.
            root.register_outputs = register_outputs
        elif _in_a_program_run():
            # A real run whose stack has registered its outputs: the program has ended
            # and this first component is declared late (inside an apply).
            self._finish(failed=None, signal="before")

    def _finish(self, failed: BaseException | None, signal: str) -> None:
        if self._future.done():
            return
        self.signal = signal
        if isinstance(failed, Exception):
            # The program's own exception, as itself: the registrations waiting for the
            # end fail with it, so that whichever error the SDK reports first is the
            # user's (type, message and traceback), and nothing is written.
            self._failure = (failed, failed.__traceback__)
            # The SDK hands it on through futures shared by several registrations, and
            # asyncio keeps a future's traceback for its first reader only: the frames
            # that the SDK re-raises it with may stop short of the program. Keep them.
            failed.add_note(
                "The program raised it here:\n"
                + "".join(traceback.format_tb(failed.__traceback__)).rstrip()
            )
            self._fail(failed)
        elif failed is not None:
            # SystemExit and the like cannot travel through asyncio's futures as they
            # are (a task re-raises them out of the loop): name it in the message.
            self._fail(
                ProgramFailed(
                    f"the program stopped ({failed!r}) before it finished declaring its "
                    "grants; no repository policy is written for this run"
                )
            )
        else:
            self._future.set_result(None)

    def _fail(self, error: BaseException) -> None:
        self._future.set_exception(error)
        # A run that declared no grant never awaits this: do not warn that nobody did.
        self._future.exception()

    @property
    def ended(self) -> bool:
        return self._future.done()

    async def wait(self) -> None:
        if not self.exact:
            await asyncio.sleep(0)  # the straight-line body has run by now
            self._finish(failed=None, signal="one loop turn")
        elif self._watcher is None and not self._future.done():
            # Should a later SDK register the stack's outputs another way, the documents
            # must still be computed, not wait for ever: watch the flag it sets too, and
            # give up, saying why, past PROGRAM_END_TIMEOUT.
            self._watcher = asyncio.ensure_future(self._watch())
        await asyncio.wait([self._future])
        if self._failure is not None:
            # Each waiter raises it from the program's own traceback: one raise must not
            # leave the next with only its own frames.
            error, trace = self._failure
            raise error.with_traceback(trace)
        self._future.result()

    async def _watch(self) -> None:
        loop = asyncio.get_event_loop()
        deadline = loop.time() + PROGRAM_END_TIMEOUT
        while not self._future.done():
            if getattr(self._root, "_outputs_registered", False):
                self._finish(failed=None, signal="watch")
                return
            if loop.time() >= deadline:
                self._fail(
                    ProgramEndUnknown(
                        f"the program's end was not seen within {PROGRAM_END_TIMEOUT:g} s: "
                        "the root stack neither called register_outputs nor set "
                        f"_outputs_registered; {_expected()}. No repository policy is "
                        "written for this run"
                    )
                )
                return
            await asyncio.sleep(_WATCH_INTERVAL)


class ComponentEnd:
    """The end to wait for when a provider constructs the component (any language, through
    ``pulumi package add``): a provider cannot see the end of the consumer's program, so
    each component holds its own grants, all declared in its ``__init__`` before any of
    them is written. Nothing is waited for; a grant is never "too late"."""

    exact = True
    ended = False

    async def wait(self) -> None:
        return None


CONSTRUCTING: ContextVar[bool] = ContextVar("constructing", default=False)
"""True while the project's provider runs the component's ``__init__`` for a Construct."""
