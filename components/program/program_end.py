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
program (``ProgramEnd.exact`` says which of the two applies).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any


class ProgramFailed(RuntimeError):
    """The program raised before it finished declaring; nothing should be written for it."""


class ProgramEnd:
    """An awaitable end of the running program's declarations (one per program run)."""

    def __init__(self, root: Any) -> None:
        self._future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._root = root
        self._watcher: asyncio.Task[None] | None = None
        self.signal = ""
        """What ended the declarations: "register_outputs", or "watch" (the fallback)."""
        self.exact = not getattr(root, "_outputs_registered", False)
        if self.exact:
            original = root.register_outputs

            def register_outputs(outputs: Any) -> None:
                self._finish(failed=sys.exc_info()[1], signal="register_outputs")
                original(outputs)

            # An instance attribute: only this run's root stack is affected.
            root.register_outputs = register_outputs

    def _finish(self, failed: BaseException | None, signal: str) -> None:
        if self._future.done():
            return
        self.signal = signal
        if failed is not None:
            self._future.set_exception(
                ProgramFailed(
                    f"the program failed before it finished declaring its grants ({failed}); "
                    "no repository policy is written for this run"
                )
            )
            # A run that declared no grant never awaits this: do not warn that nobody did.
            self._future.exception()
        else:
            self._future.set_result(None)

    @property
    def ended(self) -> bool:
        return self._future.done()

    async def wait(self) -> None:
        if not self.exact:
            await asyncio.sleep(0)  # the straight-line body has run by now
            self._finish(failed=None, signal="one loop turn")
        elif self._watcher is None and not self._future.done():
            # Should a later SDK register the stack's outputs another way, the documents
            # must still be computed, not wait for ever: watch the flag it sets too.
            self._watcher = asyncio.ensure_future(self._watch())
        await self._future

    async def _watch(self) -> None:
        while not self._future.done():
            if getattr(self._root, "_outputs_registered", False):
                self._finish(failed=None, signal="watch")
                return
            await asyncio.sleep(0.05)
