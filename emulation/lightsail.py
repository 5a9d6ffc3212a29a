"""An emulated Lightsail container-service API, answering boto3 calls in-process.

moto has no Lightsail, so this answers the calls the project (and the emulated
pulumi-aws provider) makes, in the real API's JSON shapes, from the botocore
``before-send`` event: any client built while it is installed reaches it, and nothing
leaves the process. It follows the behaviour the design depends on:

- ``privateRegistryAccess.ecrImagePullerRole.principalArn`` appears only after the role
  is activated, and only after a configurable number of GetContainerServices calls;
- a deployment whose ECR image the puller role may not pull (role off, or the
  repository policy does not name the role's principal) ends ``FAILED``, as the real
  service cancels it, and each of its containers logs why (GetContainerLog);
- each account has its own services: the account of a call is the one moto gives its
  access key (a key from ``sts.assume_role`` belongs to the role's account).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto.ecr.models import ecr_backends
from moto.iam.models import get_account_id_from

ACCOUNT = "123456789012"
_EVENT = "before-send.lightsail"
_LOG_PAGE = 20  # log events per GetContainerLog page: small, so paging is exercised


class ResponseBody:
    """The raw-response shape botocore reads a body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class LightsailError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Service:
    name: str
    region: str
    power: str
    scale: int
    tags: list[dict[str, str]]
    account: str = ACCOUNT
    role_active: bool = False
    role_arn: str = ""
    polls_since_activation: int = 0
    activated_at: float = 0.0
    arn_seen_at: float | None = None
    """When (on the emulator's clock) a look first returned the ARN, since activation."""
    is_disabled: bool = False
    public_domain_names: dict[str, list[str]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Per container name: log events as GetContainerLog returns them, oldest first.
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class LightsailEmulator:
    """In-memory container services; ``install()`` routes boto3's Lightsail calls here.

    ``arn_after_seconds`` (with ``clock``, a monotonic clock): instead, how long after
    activation the ARN appears, as the real service takes a while to create the role.
    ``arn_after_polls``: how many GetContainerServices calls after activation the role's
    principal ARN stays empty (``None``: it never appears).
    """

    def __init__(
        self,
        arn_after_polls: int | None = 2,
        account: str = ACCOUNT,
        *,
        arn_after_seconds: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.arn_after_polls = arn_after_polls
        self.arn_after_seconds = arn_after_seconds
        self.clock = clock or (lambda: 0.0)
        self.account = account
        self.services: dict[tuple[str, str, str], Service] = {}
        # The account of the call being answered (the default one outside a call).
        self._caller = account
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.on_arn_wait: Callable[[str, int], None] | None = None
        """Called with a service's name and the poll's number each time a look at it
        finds its activated role still without an ARN (a scenario's hook for "while the
        run waits for the ARN"); called outside the emulator's lock."""
        self._waiting = threading.local()

    # --- installation ------------------------------------------------------------------

    def install(self) -> None:
        # More specific than moto's catch-all `before-send`, so it is asked first.
        BUILTIN_HANDLERS.append((_EVENT, self._handle))

    def uninstall(self) -> None:
        BUILTIN_HANDLERS[:] = [h for h in BUILTIN_HANDLERS if h[1] != self._handle]

    # --- helpers for scenarios ---------------------------------------------------------

    def add_existing_service(
        self,
        name: str,
        region: str,
        role_active: bool = False,
        *,
        account: str | None = None,
        power: str = "nano",
        scale: int = 1,
        tags: dict[str, str] | None = None,
        is_disabled: bool = False,
        public_domain_names: dict[str, list[str]] | None = None,
    ) -> None:
        """A service made outside Pulumi (by hand, or to be imported)."""
        with self._lock:
            account = account or self.account
            service = Service(
                name,
                region,
                power,
                scale,
                [{"key": k, "value": v} for k, v in (tags or {}).items()],
                account,
                is_disabled=is_disabled,
                public_domain_names=dict(public_domain_names or {}),
            )
            self.services[(account, region, name)] = service
            if role_active:
                self._activate(service)

    def set_role_by_hand(self, name: str, region: str, active: bool) -> None:
        """Switch the puller role as someone would in the console, outside Pulumi."""
        with self._lock:
            self._set_role(self.service(name, region), active)

    def add_log_lines(
        self, name: str, region: str, container: str, *lines: str, at: float | None = None
    ) -> None:
        """Log lines of one container, as the container (or Lightsail) would write them."""
        with self._lock:
            self._log(self.service(name, region), container, lines, at)

    def service(self, name: str, region: str, account: str | None = None) -> Service:
        return self.services[(account or self.account, region, name)]

    def exists(self, name: str, region: str, account: str | None = None) -> bool:
        return (account or self.account, region, name) in self.services

    def calls_of(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params in self.calls if op == operation]

    # --- the API -----------------------------------------------------------------------

    def _handle(self, request: Any, **_: Any) -> AWSResponse:
        """The botocore hook: one request of an in-process client."""
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        region = request.url.split(".")[1]  # https://lightsail.<region>.amazonaws.com/
        access_key, _region = credential_scope(request.headers.get("Authorization", b""))
        status, body = self.answer(operation, json.loads(request.body or b"{}"), region, access_key)
        return json_response(status, body)

    def answer(
        self, operation: str, params: dict[str, Any], region: str, access_key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """One call of the API, whichever way it arrived (a botocore hook in this process,
        or HTTP to the emulated AWS server): the status and the JSON body of the reply.

        The call acts in the account moto gives ``access_key`` (the default one without).
        """
        self._waiting.polls = []
        try:
            return self._answer(operation, region, params, access_key)
        finally:
            hook, polls = self.on_arn_wait, self._waiting.polls
            if hook is not None:
                for name, poll in polls:
                    hook(name, poll)

    def _answer(
        self, operation: str, region: str, params: dict[str, Any], access_key: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._caller = ACCOUNT if access_key is None else str(get_account_id_from(access_key))
            self.calls.append((operation, params))
            try:
                handler: Callable[[str, dict[str, Any]], dict[str, Any]] = getattr(
                    self, f"_op_{operation}"
                )
            except AttributeError:
                return error_body("InvalidInputException", f"{operation} is not emulated")
            try:
                return 200, handler(region, params)
            except LightsailError as exc:
                return error_body(exc.code, exc.message, exc.status)

    def _find(self, region: str, name: str) -> Service:
        service = self.services.get((self._caller, region, name))
        if service is None:
            raise LightsailError("NotFoundException", f"container service {name} not found")
        return service

    def _set_role(self, service: Service, active: bool) -> None:
        if active and not service.role_active:
            self._activate(service)
        elif not active:
            service.role_active, service.role_arn = False, ""

    def _activate(self, service: Service) -> None:
        service.role_active = True
        service.role_arn = ""
        service.polls_since_activation = 0
        service.activated_at = self.clock()
        service.arn_seen_at = None

    def _describe(self, service: Service) -> dict[str, Any]:
        # Each look at a freshly activated role brings its ARN closer, as the real
        # service takes a while to create it.
        if service.role_active and not service.role_arn:
            if self.arn_after_seconds is not None:
                due = self.clock() - service.activated_at >= self.arn_after_seconds
            else:
                due = (
                    self.arn_after_polls is not None
                    and service.polls_since_activation >= self.arn_after_polls
                )
            if due:
                service.role_arn = (
                    f"arn:aws:iam::{service.account}:role/amazon/lightsail/{service.region}/"
                    f"containers/{service.name}/private-repo-access/{secrets.token_hex(8)}"
                )
                service.arn_seen_at = self.clock() - service.activated_at
            else:
                polls = getattr(self._waiting, "polls", None)
                if polls is not None:
                    polls.append((service.name, service.polls_since_activation))
            service.polls_since_activation += 1
        current = service.deployments[-1] if service.deployments else None
        described: dict[str, Any] = {
            "containerServiceName": service.name,
            "arn": f"arn:aws:lightsail:{service.region}:{service.account}:ContainerService/"
            f"{service.name}",
            "createdAt": service.created_at.timestamp(),
            "location": {"availabilityZone": "all", "regionName": service.region},
            "resourceType": "ContainerService",
            "tags": service.tags,
            "power": service.power,
            "powerId": f"{service.power}-1",
            "state": "RUNNING" if current and current["state"] == "ACTIVE" else "READY",
            "scale": service.scale,
            "isDisabled": service.is_disabled,
            "publicDomainNames": service.public_domain_names,
            "principalArn": f"arn:aws:iam::{service.account}:role/amazon/lightsail/"
            f"{service.region}/containers/{service.name}/service",
            "privateDomainName": f"{service.name}.service.local",
            "url": f"https://{service.name}.emulated.{service.region}.cs.amazonlightsail.com/",
            "privateRegistryAccess": {
                "ecrImagePullerRole": {
                    "isActive": service.role_active,
                    "principalArn": service.role_arn,
                }
            },
        }
        if current:
            described["currentDeployment"] = current
        return described

    def _op_CreateContainerService(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = p["serviceName"]
        if (self._caller, region, name) in self.services:
            raise LightsailError("InvalidInputException", f"{name} already exists")
        service = Service(
            name, region, p["power"], int(p["scale"]), p.get("tags", []), self._caller
        )
        service.public_domain_names = dict(p.get("publicDomainNames") or {})
        self.services[(self._caller, region, name)] = service
        role = p.get("privateRegistryAccess", {}).get("ecrImagePullerRole", {})
        if role.get("isActive"):
            self._activate(service)
        return {"containerService": self._describe(service)}

    def _op_GetContainerServices(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if p.get("serviceName"):
            return {"containerServices": [self._describe(self._find(region, p["serviceName"]))]}
        return {
            "containerServices": [
                self._describe(s)
                for (a, r, _), s in self.services.items()
                if (a, r) == (self._caller, region)
            ]
        }

    def _op_UpdateContainerService(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        service = self._find(region, p["serviceName"])
        service.power = p.get("power", service.power)
        service.scale = int(p.get("scale", service.scale))
        service.is_disabled = bool(p.get("isDisabled", service.is_disabled))
        if "publicDomainNames" in p:
            service.public_domain_names = dict(p["publicDomainNames"] or {})
        role = p.get("privateRegistryAccess", {}).get("ecrImagePullerRole")
        if role is not None:
            self._set_role(service, bool(role.get("isActive")))
        return {"containerService": self._describe(service)}

    def _op_DeleteContainerService(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self._find(region, p["serviceName"])
        del self.services[(self._caller, region, p["serviceName"])]
        return {}

    def _op_TagResource(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        service = self._find(region, p["resourceName"])
        keys = {t["key"] for t in p["tags"]}
        service.tags = [t for t in service.tags if t["key"] not in keys] + p["tags"]
        return {}

    def _op_UntagResource(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        service = self._find(region, p["resourceName"])
        service.tags = [t for t in service.tags if t["key"] not in set(p["tagKeys"])]
        return {}

    def _op_CreateContainerServiceDeployment(  # noqa: N802
        self, region: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        service = self._find(region, p["serviceName"])
        pullable = all(
            self._can_pull(service, c["image"]) for c in p.get("containers", {}).values()
        )
        service.deployments.append(
            {
                "version": len(service.deployments) + 1,
                # The real service cancels a deployment whose image it cannot pull.
                "state": "ACTIVE" if pullable else "FAILED",
                "containers": p.get("containers", {}),
                "publicEndpoint": p.get("publicEndpoint", {}),
                "createdAt": dt.datetime.now(dt.UTC).timestamp(),
            }
        )
        if not pullable:
            self._log_failed_pull(service, service.deployments[-1])
        return {"containerService": self._describe(service)}

    def _op_GetContainerServiceDeployments(  # noqa: N802
        self, region: str, p: dict[str, Any]
    ) -> dict[str, Any]:
        service = self._find(region, p["serviceName"])
        # The API lists the newest version first.
        return {"deployments": list(reversed(service.deployments))}

    def _op_GetContainerLog(self, region: str, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        service = self._find(region, p["serviceName"])
        container = p["containerName"]
        if container not in service.logs and not any(
            container in d["containers"] for d in service.deployments
        ):
            raise LightsailError(
                "InvalidInputException", f"container {container} is not in service {service.name}"
            )
        start, end = p.get("startTime"), p.get("endTime")
        events = [
            e
            for e in service.logs.get(container, [])
            # Times travel as whole Unix seconds: an event inside the end second counts.
            if (start is None or e["createdAt"] >= start)
            and (end is None or e["createdAt"] < end + 1)
        ]
        offset = int(p.get("pageToken") or 0)
        page: dict[str, Any] = {"logEvents": events[offset : offset + _LOG_PAGE]}
        if offset + _LOG_PAGE < len(events):
            page["nextPageToken"] = str(offset + _LOG_PAGE)
        return page

    def _log(self, service: Service, container: str, lines: Any, at: float | None = None) -> None:
        created = dt.datetime.now(dt.UTC).timestamp() if at is None else at
        service.logs.setdefault(container, []).extend(
            {"createdAt": created, "message": line} for line in lines
        )

    def _log_failed_pull(self, service: Service, deployment: dict[str, Any]) -> None:
        """What each container of a deployment that could not pull logs (emulated wording)."""
        version = deployment["version"]
        for name, container in deployment["containers"].items():
            image = container["image"]
            self._log(
                service,
                name,
                [
                    f"[deployment:{version}] Creating your deployment",
                    f"[deployment:{version}] Started 1 new node",
                    f"[deployment:{version}] Failed to pull image {image}: "
                    "CannotPullContainerError: pull access denied, the repository does "
                    "not exist or may require authorization: 403 Forbidden",
                    f"[deployment:{version}] Deployment failed: the image could not be pulled",
                ],
                deployment["createdAt"],
            )

    def _can_pull(self, service: Service, image: str) -> bool:
        """Whether the puller role may pull ``image`` (an ECR URI) under its repository policy."""
        if ".dkr.ecr." not in image:
            return True  # a public image needs no grant
        if not service.role_active or not service.role_arn:
            return False
        repository = image.split("/", 1)[1].split(":")[0].split("@")[0]
        # Read in the service's own account, whoever made the call.
        repositories = ecr_backends[service.account][service.region].repositories
        found = repositories.get(repository)
        if found is None or not found.policy:
            return False
        text = found.policy
        statements = json.loads(text)["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            principal = statement.get("Principal", {})
            arns = principal.get("AWS") if isinstance(principal, dict) else principal
            arns = arns if isinstance(arns, list) else [arns]
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if (
                statement.get("Effect") == "Allow"
                and service.role_arn in arns
                and {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= set(actions)
            ):
                return True
        return False


def credential_scope(authorization: str | bytes) -> tuple[str | None, str | None]:
    """The access key and Region of a SigV4 ``Authorization`` header (None: unsigned).

    moto gives each access key its account (a key from ``sts.assume_role`` belongs to the
    role's account); the Region is the one the client signed for.
    """
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    marker = "Credential="
    if marker not in authorization:
        return None, None
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
    return scope[0], (scope[2] if len(scope) > 2 else None)


def json_response(status: int, body: dict[str, Any]) -> AWSResponse:
    """A reply in the JSON 1.1 protocol (Lightsail's, and ECR's too)."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "emulated"}
    return AWSResponse("https://emulated/", status, headers, ResponseBody(data))


def error_body(code: str, message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    """An error reply in the JSON 1.1 protocol: its status and body."""
    return status, {"__type": code, "message": message}


def error_response(code: str, message: str, status: int = 400) -> AWSResponse:
    return json_response(*error_body(code, message, status))
