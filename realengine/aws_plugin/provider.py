"""The stand-in pulumi-aws provider: the resources and invokes this project uses.

The AWS calls of each resource are ``emulation.providers``' (the bridged resource's
calls and limits), made as ``emulation.provider_identity`` says the provider acts; this
module adds what the engine sees of a provider: Check with the provider's defaults,
Diff with replaces and a detailed diff, previews with unknown values, secrets kept
secret, reads for refresh and import, and the provider's configuration.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    InvokeRequest,
    InvokeResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)

from components.provider.values import (
    UNKNOWN,
    is_unknown,
    outputs_of,
    plain_map,
    property_value,
)
from emulation.provider_identity import provider_session
from emulation.providers import PROVIDERS, EmulatedProvider
from realengine.aws_plugin.schema import DEPLOYMENT, POLICY, SERVICE, schema_json

VERSION = "7.51.1"
"""The pulumi-aws version this stands in for (the Python SDK's, in requirements.txt)."""

USER_AGENT = f"pulumi-aws/{VERSION} md/stand-in"
"""What this provider's AWS calls add to their User-Agent."""

# The inputs of each type (what Diff compares) and the outputs only AWS knows (unknown
# in a preview of a create).
_INPUTS = {
    SERVICE: (
        "name",
        "power",
        "scale",
        "region",
        "tags",
        "isDisabled",
        "publicDomainNames",
        "privateRegistryAccess",
    ),
    POLICY: ("repository", "policy", "region"),
    DEPLOYMENT: ("serviceName", "containers", "publicEndpoint", "region"),
}
_COMPUTED = {
    SERVICE: ("arn", "url", "principalArn", "privateRegistryAccess", "tagsAll"),
    POLICY: ("registryId",),
    DEPLOYMENT: ("version", "state"),
}
_WHAT = {
    SERVICE: "Lightsail Container Service",
    POLICY: "ECR Repository Policy",
    DEPLOYMENT: "Lightsail Container Service Deployment Version",
}
_POWERS = ("nano", "micro", "small", "medium", "large", "xlarge")
_SERVICE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_INVALID_POLICY = "Invalid repository policy provided"
POLICY_RETRY_ENV = "PULUMI_AWS_STANDIN_POLICY_RETRY_SECONDS"
"""How long a policy write retries "Invalid repository policy provided" (default 120 s,
as the bridged resource waits for IAM to see a new principal)."""

T = TypeVar("T")


def _contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def aws_error(doing: str, exc: Exception) -> RuntimeError:
    """An AWS error as the provider reports it: what it was doing, the code, AWS's text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "")
        return RuntimeError(
            f"{doing}: operation error {operation}: {error.get('Code')}: {error.get('Message')}"
        )
    return RuntimeError(f"{doing}: {exc}")


# --- the provider ---------------------------------------------------------------------


class AwsStandIn(Provider):
    """One provider process: the default provider of a stack, or one explicit
    ``aws.Provider``, configured once with its settings."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.settings: dict[str, Any] = {}
        self.region: str | None = None
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- configuration -----------------------------------------------------------------

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema_json(VERSION))

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        news = plain_map(request.new_inputs)
        failures = []
        region = news.get("region")
        if region is None and not (
            self.environ.get("AWS_REGION") or self.environ.get("AWS_DEFAULT_REGION")
        ):
            failures.append(
                CheckFailure(
                    "region",
                    "no AWS Region: set aws:region in the stack's config (or the provider's "
                    "region), or AWS_REGION in the environment",
                )
            )
        for key in ("endpoints", "assumeRoles", "sharedConfigFiles", "sharedCredentialsFiles"):
            text = news.get(key)
            if isinstance(text, str):
                try:
                    json.loads(text)
                except json.JSONDecodeError as exc:
                    failures.append(CheckFailure(key, f"not valid JSON: {exc}"))
        return CheckResponse(inputs=dict(request.new_inputs), failures=failures)

    async def diff_config(self, request: DiffRequest) -> DiffResponse:
        olds, news = plain_map(request.old_state), plain_map(request.new_inputs)
        changed = sorted(
            k for k in set(olds) | set(news) if olds.get(k) != news.get(k) or news.get(k) is UNKNOWN
        )
        return DiffResponse(
            changes=bool(changed),
            diffs=changed,
            detailed_diff={k: PropertyDiff(_kind(olds.get(k), news.get(k)), True) for k in changed},
        )

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        settings: dict[str, Any] = {}
        for key, value in (request.variables or {}).items():
            settings[key.rsplit(":", 1)[-1]] = value
        settings.update(plain_map(request.args))
        self.settings = {k: v for k, v in settings.items() if v is not UNKNOWN}
        self.region = (
            self.settings.get("region")
            or self.environ.get("AWS_REGION")
            or self.environ.get("AWS_DEFAULT_REGION")
        )
        with self._lock:
            self._sessions.clear()
        if self.region and not _truthy(self.settings.get("skipCredentialsValidation")):
            # As the provider does at Configure: the credentials must name an identity.
            try:
                await asyncio.to_thread(self._caller_identity, self.region)
            except (ClientError, BotoCoreError) as exc:
                raise aws_error(
                    "configuring the AWS provider: validating provider credentials: "
                    "retrieving caller identity from STS",
                    exc,
                ) from exc
        allowed, forbidden = (
            _account_list(self.settings, "allowedAccountIds"),
            _account_list(self.settings, "forbiddenAccountIds"),
        )
        if self.region and (allowed or forbidden):
            # As the provider does at Configure, before any read or write: a refresh or a
            # destroy with the wrong account's credentials stops here, the state untouched.
            try:
                found = await asyncio.to_thread(self._caller_identity, self.region)
            except (ClientError, BotoCoreError) as exc:
                raise aws_error("configuring the AWS provider: checking the account", exc) from exc
            account = str(found["accountId"])
            if (allowed and account not in allowed) or account in forbidden:
                raise RuntimeError(
                    f"configuring the AWS provider: AWS account ID not allowed: {account}"
                )
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=True)

    def session(self, region: str | None) -> Any:
        region = region or self.region
        if not region:
            raise RuntimeError("no AWS Region: set aws:region or the resource's region")
        with self._lock:
            if region not in self._sessions:
                session = provider_session(self.settings, region)
                # As the real provider names itself in every call's User-Agent (which
                # CloudTrail records): its writes can be told from the program's.
                session._session.user_agent_extra = USER_AGENT
                self._sessions[region] = session
            return self._sessions[region]

    def _caller_identity(self, region: str | None) -> dict[str, Any]:
        identity = self.session(region).client("sts", region_name=region).get_caller_identity()
        return {
            "accountId": identity["Account"],
            "arn": identity["Arn"],
            "userId": identity["UserId"],
            "id": identity["Account"],
        }

    # --- invokes -----------------------------------------------------------------------

    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        args = plain_map(request.args)
        region = str(args.get("region") or args.get("name") or self.region or "")
        if request.tok == "aws:index/getCallerIdentity:getCallerIdentity":
            try:
                found = await asyncio.to_thread(self._caller_identity, region)
            except (ClientError, BotoCoreError) as exc:
                raise aws_error("reading the caller's identity from STS", exc) from exc
        elif request.tok == "aws:index/getRegion:getRegion":
            found = {
                "id": region,
                "name": region,
                "region": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }
        elif request.tok == "aws:index/getPartition:getPartition":
            china = str(region).startswith("cn-")
            found = {
                "id": "aws-cn" if china else "aws",
                "partition": "aws-cn" if china else "aws",
                "dnsSuffix": "amazonaws.com.cn" if china else "amazonaws.com",
                "reverseDnsPrefix": "cn.com.amazonaws" if china else "com.amazonaws",
            }
        else:
            raise RuntimeError(f"invoke {request.tok} is not served by the stand-in AWS provider")
        return InvokeResponse(return_value={k: property_value(v) for k, v in found.items()})

    # --- resources ---------------------------------------------------------------------

    @staticmethod
    def _emulated(type_: str) -> EmulatedProvider:
        if type_ not in PROVIDERS:
            raise RuntimeError(f"resource type {type_} is not served by the stand-in AWS provider")
        return PROVIDERS[type_]

    async def check(self, request: CheckRequest) -> CheckResponse:
        emulated = self._emulated(_type(request))
        checked = dict(request.new_inputs)
        for key, default in emulated.defaults.items():
            if checked.get(key) is None or checked[key].value is None:
                checked[key] = property_value(default)
        if (checked.get("region") is None or checked["region"].value is None) and self.region:
            checked["region"] = PropertyValue(self.region)
        return CheckResponse(inputs=checked, failures=_validate(_type(request), plain_map(checked)))

    async def diff(self, request: DiffRequest) -> DiffResponse:
        emulated = self._emulated(_type(request))
        stored_state, goal = plain_map(request.old_state), plain_map(request.new_inputs)
        ignored = set(request.ignore_changes or [])
        detailed: dict[str, PropertyDiff] = {}
        for key in _INPUTS[_type(request)]:
            if key in ignored:
                continue
            stored = stored_state.get(key, emulated.defaults.get(key))
            wanted = goal.get(key, emulated.defaults.get(key))
            if key == "privateRegistryAccess":
                # Only ``isActive`` is an input; the role's ARN is computed.
                stored, wanted = _role_asked(stored), _role_asked(wanted)
            if key == "region" and wanted is None:
                wanted = stored
            if not _contains_unknown(wanted) and (
                stored == wanted or emulated.equivalent(key, stored, wanted)
            ):
                continue
            replace = key in emulated.replace_keys
            detailed[key] = PropertyDiff(_kind(stored, wanted, replace), True)
        replaces = sorted(k for k in detailed if k in emulated.replace_keys)
        return DiffResponse(
            changes=bool(detailed),
            replaces=replaces,
            diffs=sorted(detailed),
            detailed_diff=detailed,
            delete_before_replace=False,
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        emulated = self._emulated(_type(request))
        inputs = plain_map(request.properties)
        if request.preview:
            outputs = {**inputs, **dict.fromkeys(_COMPUTED[_type(request)], UNKNOWN)}
            return CreateResponse(
                resource_id="", properties=outputs_of(outputs, request.properties)
            )
        doing = f"creating {_WHAT[_type(request)]} ({_name_of(_type(request), inputs)})"

        def create() -> tuple[str, dict[str, Any]]:
            return emulated.create(self.session(inputs.get("region")), inputs)

        id_, outputs = await asyncio.to_thread(self._calling, doing, _type(request), create)
        if _type(request) == SERVICE:
            outputs["tagsAll"] = outputs.get("tags") or {}
        return CreateResponse(resource_id=id_, properties=outputs_of(outputs, request.properties))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        emulated = self._emulated(_type(request))
        olds, news = plain_map(request.olds), plain_map(request.news)
        if request.preview:
            kept = {k: olds[k] for k in _COMPUTED[_type(request)] if k in olds}
            return UpdateResponse(properties=outputs_of({**kept, **news}, request.news))
        doing = f"updating {_WHAT[_type(request)]} ({request.resource_id})"

        def update() -> dict[str, Any]:
            session = self.session(news.get("region"))
            return emulated.update(session, request.resource_id, olds, news)

        outputs = await asyncio.to_thread(self._calling, doing, _type(request), update)
        if _type(request) == SERVICE:
            outputs["tagsAll"] = outputs.get("tags") or {}
        return UpdateResponse(properties=outputs_of(outputs, request.news))

    async def delete(self, request: DeleteRequest) -> None:
        emulated = self._emulated(_type(request))
        outputs = plain_map(request.properties)
        doing = f"deleting {_WHAT[_type(request)]} ({request.resource_id})"

        def delete() -> None:
            session = self.session(outputs.get("region"))
            try:
                emulated.delete(session, request.resource_id, outputs)
            except ClientError as exc:
                # Already gone is deleted, as the provider sees it.
                if exc.response.get("Error", {}).get("Code") not in _GONE:
                    raise

        await asyncio.to_thread(self._calling, doing, _type(request), delete)

    async def read(self, request: ReadRequest) -> ReadResponse:
        emulated = self._emulated(_type(request))
        state, inputs = plain_map(request.properties), plain_map(request.inputs)
        region = str(state.get("region") or inputs.get("region") or self.region or "")
        doing = f"reading {_WHAT[_type(request)]} ({request.resource_id})"

        def read() -> tuple[dict[str, Any], dict[str, Any]] | None:
            return emulated.read(self.session(region), request.resource_id, region)

        live = await asyncio.to_thread(self._calling, doing, _type(request), read)
        if live is None:
            return ReadResponse(resource_id="", properties={}, inputs={})
        live_inputs, live_outputs = live
        if _type(request) == POLICY:
            # The stored text stays while the live document means the same; a different
            # one comes back in the provider's normal form.
            for values in (live_inputs, live_outputs):
                kept = state.get("policy") or inputs.get("policy")
                if isinstance(kept, str) and emulated.equivalent("policy", kept, values["policy"]):
                    values["policy"] = kept
                else:
                    values["policy"] = json.dumps(json.loads(values["policy"]))
        if _type(request) == SERVICE:
            live_outputs["tagsAll"] = live_outputs.get("tags") or {}
        return ReadResponse(
            resource_id=request.resource_id,
            properties=outputs_of(live_outputs, request.properties, request.inputs),
            inputs=outputs_of(live_inputs, request.inputs, request.properties),
        )

    def _calling(self, doing: str, type_: str, call: Callable[[], T]) -> T:
        """``call``, with AWS errors told as the provider tells them; a policy write
        retries "Invalid repository policy provided" for a while, as IAM may not yet
        know a new principal."""
        window = float(self.environ.get(POLICY_RETRY_ENV) or 120) if type_ == POLICY else 0
        deadline, pause = time.monotonic() + window, 1.0
        while True:
            try:
                return call()
            except ClientError as exc:
                message = str(exc.response.get("Error", {}).get("Message", ""))
                if _INVALID_POLICY in message and time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 10.0)
                    continue
                raise aws_error(doing, exc) from exc
            except BotoCoreError as exc:
                raise aws_error(doing, exc) from exc


_GONE = {"NotFoundException", "RepositoryPolicyNotFoundException", "RepositoryNotFoundException"}


def _account_list(settings: dict[str, Any], key: str) -> list[str]:
    """``aws:allowedAccountIds`` or ``aws:forbiddenAccountIds``: a list, or the JSON text of
    one as stack config hands it over."""
    value = settings.get(key)
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith("[") else [value]
    return [str(v) for v in value or []]


def _role_asked(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    role = value.get("ecrImagePullerRole")
    if not isinstance(role, dict):
        return value
    return {"ecrImagePullerRole": {"isActive": bool(role.get("isActive", False))}}


def _kind(stored: Any, wanted: Any, replace: bool = False) -> PropertyDiffKind:
    if stored is None:
        return PropertyDiffKind.ADD_REPLACE if replace else PropertyDiffKind.ADD
    if wanted is None:
        return PropertyDiffKind.DELETE_REPLACE if replace else PropertyDiffKind.DELETE
    return PropertyDiffKind.UPDATE_REPLACE if replace else PropertyDiffKind.UPDATE


def _name_of(type_: str, inputs: dict[str, Any]) -> str:
    return str(inputs.get("name") or inputs.get("repository") or inputs.get("serviceName"))


def _type(request: Any) -> str:
    """The resource's own type: a URN's type is qualified by its parents' types
    (``parent$child``), and the SDK's ``request.type`` hands over all of it."""
    return str(request.type).rsplit("$", 1)[-1]


def _validate(type_: str, inputs: dict[str, Any]) -> list[CheckFailure]:
    """The provider's own checks of known values (unknown ones wait for the update)."""
    failures = []

    def known(key: str) -> bool:
        return inputs.get(key) is not None and not _contains_unknown(inputs[key])

    if type_ == SERVICE:
        if known("name") and not _SERVICE_NAME.match(str(inputs["name"])):
            failures.append(
                CheckFailure(
                    "name",
                    "must be 1 to 63 lowercase letters, digits and hyphens, with no hyphen "
                    "at either end",
                )
            )
        if inputs.get("name") is None:
            failures.append(CheckFailure("name", "Missing required argument: name"))
        if known("power") and inputs["power"] not in _POWERS:
            failures.append(CheckFailure("power", f"expected power to be one of {_POWERS}"))
        if known("scale") and not 1 <= int(inputs["scale"]) <= 20:
            failures.append(CheckFailure("scale", "expected scale to be in the range (1 - 20)"))
    elif type_ == POLICY:
        if known("policy"):
            try:
                json.loads(inputs["policy"])
            except (TypeError, json.JSONDecodeError) as exc:
                failures.append(CheckFailure("policy", f"contains an invalid JSON: {exc}"))
        if inputs.get("repository") is None:
            failures.append(CheckFailure("repository", "Missing required argument: repository"))
    elif type_ == DEPLOYMENT:
        for key in ("serviceName", "containers"):
            if inputs.get(key) is None:
                failures.append(CheckFailure(key, f"Missing required argument: {key}"))
    return failures
