"""Run a Pulumi program body under Pulumi's mocks and record every registration.

The mock monitor is wrapped so that tests can see what the engine would see: each
resource's type, parent, dependencies, ignore_changes and retain_on_delete, and the
inputs as they were finally resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from tests.conftest import ACCOUNT, ROLE_ARN

PROJECT = "lightsail-ecr-access"


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    ignore_changes: list[str]
    retain_on_delete: bool
    import_id: str
    inputs: dict[str, Any]
    provider: str = ""


@dataclass
class Recording:
    resources: list[Registration] = field(default_factory=list)

    def of_type(self, suffix: str) -> list[Registration]:
        return [r for r in self.resources if r.type.endswith(suffix)]

    def one(self, suffix: str) -> Registration:
        found = self.of_type(suffix)
        assert len(found) == 1, f"expected one {suffix}, got {[r.name for r in found]}"
        return found[0]

    def by_name(self, name: str) -> Registration:
        return next(r for r in self.resources if r.name == name)


class ServiceMocks(pulumi.runtime.Mocks):
    """Answers registrations as AWS would: a service gets an ARN and URL, the role an ARN."""

    def __init__(
        self, preview: bool, role_arn: str = ROLE_ARN, provider_account: str = ACCOUNT
    ) -> None:
        self.preview = preview
        self.role_arn = role_arn
        self.provider_account = provider_account
        self.invoked_providers: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "aws:lightsail/containerService:ContainerService":
            name = args.inputs["name"]
            outputs["arn"] = f"arn:aws:lightsail:us-east-1:123456789012:ContainerService/{name}"
            outputs["url"] = f"https://{name}.abc123.us-east-1.cs.amazonlightsail.com/"
            return name, outputs
        if args.typ.endswith(":PullerRole"):
            if self.preview:
                # In a preview the ARN is not known yet: leave it out, as the engine does.
                outputs.pop("principal_arn", None)
            else:
                outputs["principal_arn"] = self.role_arn if args.inputs["active"] else ""
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            # The account the AWS provider deploys into.
            self.invoked_providers.append(args.provider)
            return {"accountId": self.provider_account, "arn": "", "userId": ""}, []
        raise AssertionError(f"the program made an unexpected invoke: {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recording.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    ignore_changes=list(request.ignoreChanges),
                    retain_on_delete=bool(request.retainOnDelete),
                    import_id=request.importId,
                    inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
                    provider=request.provider,
                )
            )
        return response


def run_program(
    body: Callable[[], Any],
    *,
    preview: bool = False,
    mocks: ServiceMocks | None = None,
    recording: Recording | None = None,
) -> tuple[Recording, Any]:
    """Run ``body`` as a program; return the registrations and body's resolved result.

    Pass ``recording`` to keep what was registered when the program fails.
    """
    recording = recording if recording is not None else Recording()
    mocks = mocks or ServiceMocks(preview)
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT,
        stack="test",
        preview=preview,
        monitor=RecordingMonitor(mocks, recording),
    )
    result: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> Any:
        value = body()
        return pulumi.Output.from_input(value).apply(lambda v: result.setdefault("value", v))

    program()
    return recording, result.get("value")
