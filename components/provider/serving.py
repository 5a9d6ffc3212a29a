"""The provider's gRPC server, and what the user reads when a step fails.

The SDK's server (``pulumi.provider.experimental.server``) reports any exception as
"Unexpected <class ...>: message" followed by the provider's Python traceback. The
project's own errors are sentences written for the person running `pulumi` (what was
being done, why it failed, what to do): they are reported as that sentence alone. An
error of any other kind (a bug) keeps its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc
import grpc.aio
from pulumi.provider.experimental.provider import Provider
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

_PROJECT = __name__.split(".")[0]
"""The package the project's modules are in (``components`` or ``lightsail_ecr_access``)."""

_TOLD: ContextVar[str | None] = ContextVar("told", default=None)


def tell(error: BaseException) -> None:
    """Mark ``error``, about to leave a provider method, as the user's to read as it is,
    when it is one of the project's own (raised by its modules, for the user)."""
    if type(error).__module__.split(".")[0] == _PROJECT:
        _TOLD.set(str(error))


Method = Callable[[Any, Any, Any], Awaitable[Any]]


def _in_plain_words(method: Method) -> Method:
    async def serve(self: Any, request: Any, context: Any) -> Any:
        _TOLD.set(None)
        try:
            return await method(self, request, context)
        except Exception:
            told = _TOLD.get()
            if told is None:
                raise
            await context.abort(grpc.StatusCode.UNKNOWN, told)

    return serve


class _Servicer(ProviderServicer):
    """The SDK's servicer, its resource methods reporting the project's errors plainly."""


for _name in ("Check", "Diff", "Create", "Read", "Update", "Delete"):
    setattr(_Servicer, _name, _in_plain_words(getattr(ProviderServicer, _name)))


def serve(args: list[str], version: str, provider: Provider, engine_address: str) -> None:
    """Serve ``provider`` as a plugin: the port on stdout, as the engine expects, until
    the engine ends the process."""

    async def run() -> None:
        server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
        servicer = _Servicer(args, version, provider, engine_address=engine_address)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port(address="127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    # The engine ends a plugin with a signal; that is no error.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
