"""The project's own provider: the component through Construct, and its own resources.

One provider process serves a stack's run (the engine starts it as
``pulumi-resource-lightsail-ecr``). It differs from Pulumi's dynamic provider host, where
a Python program's copies of these resources run, exactly where the guarantees live:

- it accepts secrets: a secret identity reaches the resource code unwrapped and every
  output echoing it goes back secret, whatever the engine would have done;
- its warnings are the engine's diagnostics on the resource being stepped;
- Cancel (Ctrl-C, a cancelled CI job) ends every wait under way (``aws.waits``): a run
  stops in seconds, not after minutes of polling;
- it is not bound to 4 threads: each request gets a thread of a pool sized for the
  largest runs, so a verification's wait never holds up a fresh read.

The work of each resource is done by the provider class the dynamic host runs for it
(``resources.PROVIDERS``): both ways of serving act alike.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pulumi.dynamic import ResourceProvider
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    ConstructRequest,
    ConstructResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)

from ..aws import waits
from ..dynamic_providers import SERVING
from ..rules import type_tokens
from ..served_resources import PROVIDERS
from . import component_io, schema
from .serving import tell
from .values import WIRE_UNKNOWN, outputs_of, plain_map, property_value

T = TypeVar("T")

THREADS = 64
"""Requests served at once. The engine steps at most ``--parallel`` resources at a time
(8 by default on two cores) but a run of 160 repositories keeps many verifications and
fresh reads in flight: none of them may wait for another's thread."""


class LightsailEcrProvider(Provider):
    """The provider of package ``lightsail-ecr``: one per stack run."""

    def __init__(self, engine_address: str = "") -> None:
        self.engine_address = engine_address
        self._pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="lightsail-ecr")

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema=schema.text())

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        # No preview of create or update: the engine shows the inputs as the outputs, as it
        # does for the dynamic host, and no AWS call is made by a preview's steps.
        return ConfigureResponse(
            accept_secrets=True, supports_preview=False, accept_resources=True, accept_outputs=True
        )

    async def cancel(self) -> None:
        waits.cancel()

    # --- the component ----------------------------------------------------------------

    async def construct(self, request: ConstructRequest) -> ConstructResponse:
        if request.resource_type != type_tokens.COMPONENT:
            raise ValueError(
                f"{request.resource_type} is not a component of package {type_tokens.PACKAGE}; "
                f"it has one: {type_tokens.COMPONENT}"
            )
        return await component_io.construct(request)

    # --- the project's own resources -------------------------------------------------

    async def check(self, request: CheckRequest) -> CheckResponse:
        worker = _worker(request.type)
        if type(worker).check is ResourceProvider.check:
            return CheckResponse(inputs=request.new_inputs)
        olds = plain_map(request.old_inputs, WIRE_UNKNOWN)
        news = plain_map(request.new_inputs, WIRE_UNKNOWN)
        result = await self._serve(request.urn, lambda: worker.check(olds, news))
        failures = [CheckFailure(f.property, f.reason) for f in result.failures or []]
        return CheckResponse(inputs=_checked(request, olds, news, result.inputs), failures=failures)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        worker = _worker(request.type)
        olds = plain_map(request.old_state, WIRE_UNKNOWN)
        news = plain_map(request.new_inputs, WIRE_UNKNOWN)
        result = await self._serve(
            request.urn, lambda: worker.diff(request.resource_id, olds, news)
        )
        return DiffResponse(
            changes=result.changes,
            replaces=list(result.replaces or []),
            stables=list(result.stables or []),
            delete_before_replace=bool(result.delete_before_replace),
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        worker = _worker(request.type)
        inputs = plain_map(request.properties)
        result = await self._serve(request.urn, lambda: worker.create(inputs))
        return CreateResponse(
            resource_id=str(result.id), properties=outputs_of(result.outs or {}, request.properties)
        )

    async def read(self, request: ReadRequest) -> ReadResponse:
        worker = _worker(request.type)
        state = plain_map(request.properties)
        result = await self._serve(request.urn, lambda: worker.read(request.resource_id, state))
        if not result.id:
            return ReadResponse(resource_id="", properties={}, inputs={})
        return ReadResponse(
            resource_id=str(result.id),
            properties=outputs_of(result.outs or {}, request.properties, request.inputs),
            inputs=request.inputs,
        )

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        worker = _worker(request.type)
        olds, news = plain_map(request.olds), plain_map(request.news)
        result = await self._serve(
            request.urn, lambda: worker.update(request.resource_id, olds, news)
        )
        return UpdateResponse(properties=outputs_of(result.outs or {}, request.news, request.olds))

    async def delete(self, request: DeleteRequest) -> None:
        worker = _worker(request.type)
        state = plain_map(request.properties)
        await self._serve(request.urn, lambda: worker.delete(request.resource_id, state))

    async def _serve(self, urn: str, work: Callable[[], T]) -> T:
        """``work`` on a thread of the pool, its diagnostics sent to ``urn``."""
        context = contextvars.copy_context()
        context.run(SERVING.set, (self.engine_address, urn))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, context.run, work)
        except Exception as error:
            tell(error)
            raise


def _checked(
    request: CheckRequest,
    olds: dict[str, Any],
    news: dict[str, Any],
    checked: dict[str, Any] | None,
) -> dict[str, PropertyValue]:
    """The inputs as the worker's Check left them: a value it took from the old inputs is
    the old property itself (secret or not, as it was), any other new one is built."""
    inputs = dict(request.new_inputs or {})
    for key, value in (checked or {}).items():
        if key in news and news[key] == value:
            continue
        if key in olds and olds[key] == value and request.old_inputs:
            inputs[key] = request.old_inputs[key]
        else:
            inputs[key] = property_value(value)
    return inputs


def _worker(qualified_type: str) -> ResourceProvider:
    # A URN's type names its parents' types first (`parent$child`): the last is its own.
    type_ = qualified_type.rsplit("$", 1)[-1]
    provider = PROVIDERS.get(type_)
    if provider is None:
        raise ValueError(
            f"{type_} is not a resource of package {type_tokens.PACKAGE}; it serves "
            f"{', '.join(sorted(PROVIDERS))}"
        )
    return provider()
