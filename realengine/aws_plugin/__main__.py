"""``python -m realengine.aws_plugin <engine address>``: serve the stand-in provider.

As every plugin does, it prints its port on the first line of stdout, then serves on
127.0.0.1 until the CLI ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

import grpc
import grpc.aio
from pulumi.provider.experimental import provider as sdk
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime import proto
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc

from realengine.aws_plugin.provider import VERSION, AwsStandIn

_KINDS = {
    sdk.PropertyDiffKind.ADD: proto.PropertyDiff.ADD,
    sdk.PropertyDiffKind.ADD_REPLACE: proto.PropertyDiff.ADD_REPLACE,
    sdk.PropertyDiffKind.DELETE: proto.PropertyDiff.DELETE,
    sdk.PropertyDiffKind.DELETE_REPLACE: proto.PropertyDiff.DELETE_REPLACE,
    sdk.PropertyDiffKind.UPDATE: proto.PropertyDiff.UPDATE,
    sdk.PropertyDiffKind.UPDATE_REPLACE: proto.PropertyDiff.UPDATE_REPLACE,
}


class StandInServicer(ProviderServicer):
    """The SDK's servicer, with a DiffConfig that reports its answer as Diff does (the
    SDK's 3.272 DiffConfig hands a bool to the ``changes`` enum and reads a detailed
    diff's kind through an attribute that does not exist)."""

    async def DiffConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        answer = await self._provider.diff_config(
            sdk.DiffRequest(
                request.urn,
                request.id,
                PropertyValue.unmarshal_map(request.olds),
                PropertyValue.unmarshal_map(request.news),
                list(request.ignoreChanges),
            )
        )
        changes = proto.DiffResponse.DIFF_UNKNOWN
        if answer.changes is not None:
            some = answer.changes
            changes = proto.DiffResponse.DIFF_SOME if some else proto.DiffResponse.DIFF_NONE
        return proto.DiffResponse(
            replaces=answer.replaces,
            stables=answer.stables,
            deleteBeforeReplace=answer.delete_before_replace,
            changes=changes,
            diffs=answer.diffs,
            detailedDiff={
                k: proto.PropertyDiff(kind=_KINDS[v.kind], inputDiff=v.input_diff)
                for k, v in answer.detailed_diff.items()
            },
            hasDetailedDiff=True,
        )


async def serve(args: list[str], engine: str) -> None:
    server = grpc.aio.server(options=_GRPC_CHANNEL_OPTIONS)
    servicer = StandInServicer(args, VERSION, AwsStandIn(), engine_address=engine)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description="stand-in pulumi-resource-aws")
    parser.add_argument("engine", help="the Pulumi engine's address")
    known, _ = parser.parse_known_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(sys.argv[1:], known.engine))


if __name__ == "__main__":
    main()
