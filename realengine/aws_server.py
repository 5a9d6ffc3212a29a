"""The emulated AWS as one HTTP server on 127.0.0.1, for runs made of many processes.

A real ``pulumi`` run is the CLI, the language host and program, the provider plugins,
the dynamic provider host and the policy pack, each a process of its own; an AWS that
lives inside one of them (``emulation.cloud``) is out of reach of the others. This
server holds one emulated AWS for them all: moto's WSGI app (ECR, STS, IAM) and the
Lightsail emulator (``emulation.lightsail``) in the same process, so that the emulator
reads moto's ECR backend when it decides whether a deployment can pull, and places
each call in the account moto gives its access key.

    python -m realengine.aws_server [--port N] [--principal-arn-after N]

prints ``port=<N>`` as its first line and serves until SIGTERM or SIGINT. Clients reach
it with ``endpoint_url=http://127.0.0.1:<N>`` (or ``aws:endpoints`` for the provider).

Control paths under ``/_lsea/`` (JSON in, JSON out), for tests:

- ``POST /_lsea/fault`` ``{"service", "operation", "code", "message"?, "status"?,
  "times"?, "after"?}``: answer that call of a JSON-protocol service (``ecr``,
  ``lightsail``) with that error (``after``: once that many such calls have passed);
  ``DELETE /_lsea/fault`` clears every fault and latency;
- ``POST /_lsea/latency`` ``{"service", "seconds", "operation"?, "user_agent"?}``: every
  request to it (only that operation, only callers whose user agent holds that text)
  waits;
- ``POST /_lsea/service``: a container service made outside Pulumi
  (``LightsailEmulator.add_existing_service``'s arguments);
- ``POST /_lsea/role`` ``{"name", "region", "active"}``: the puller role switched by hand;
- ``GET /_lsea/calls``: the Lightsail calls answered so far, as ``[operation, params]``;
- ``GET /_lsea/ecr-calls``: every ECR call answered so far, in arrival order, as
  ``{"start", "end", "operation", "repository", "user_agent", "error"}`` (wall-clock
  seconds when it was taken up, after any latency, and when its answer was ready; the
  error code or null): who read and wrote which policy when. ``DELETE`` clears it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
import botocore.session

from emulation.cloud import DEV_ACCOUNT, SHARED_CONFIG, EcrHelpers
from emulation.lightsail import LightsailEmulator, credential_scope, error_body
from emulation.provider_identity import send_role_assumptions_to

ROOT = Path(__file__).resolve().parent.parent
CONTROL = "/_lsea/"
_LIGHTSAIL_TARGET = "Lightsail_20161128."

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def _reply(
    start_response: StartResponse, status: int, body: Any, content_type: str = "application/json"
) -> list[bytes]:
    data = json.dumps(body).encode()
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    start_response(
        f"{status} {reasons.get(status, 'Error')}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", "emulated"),
        ],
    )
    return [data]


class _Fault:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.service = str(spec["service"]).lower()
        self.operation = str(spec["operation"])
        self.code = str(spec["code"])
        self.message = str(spec.get("message") or f"emulated {self.code}")
        self.status = int(spec.get("status") or 400)
        self.remaining: int | None = spec.get("times")
        self.after = int(spec.get("after") or 0)


class _Latency:
    """A wait before every request of a service, or of one operation, or of one caller."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.service = str(spec["service"]).lower()
        self.seconds = float(spec["seconds"])
        self.operation = str(spec.get("operation") or "")
        self.user_agent = str(spec.get("user_agent") or "")
        self.key = (self.service, self.operation, self.user_agent)

    def applies(self, service: str, operation: str, agent: str) -> bool:
        return (
            service == self.service
            and (not self.operation or operation == self.operation)
            and self.user_agent in agent
        )


class EmulatedAwsApp:
    """The WSGI app: control paths, then Lightsail, then moto for everything else."""

    def __init__(self, lightsail: LightsailEmulator, moto_app: Callable[..., Iterable[bytes]]):
        self.lightsail = lightsail
        self.moto_app = moto_app
        self._faults: list[_Fault] = []
        self._latency: list[_Latency] = []
        self._ecr_calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL):
            return self._control(path[len(CONTROL) :], environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        access_key, region = credential_scope(environ.get("HTTP_AUTHORIZATION", ""))
        service = _service_of(environ.get("HTTP_AUTHORIZATION", ""), target)
        operation = target.rsplit(".", 1)[-1] if target else ""
        agent = environ.get("HTTP_USER_AGENT", "")
        delay = self._delay(service, operation, agent)
        if delay:
            time.sleep(delay)
        call = self._record_ecr_call(environ, operation, agent) if service == "ecr" else None
        fault = self._take_fault(service, operation)
        if fault is not None:
            status, body = error_body(fault.code, fault.message, fault.status)
            if call is not None:
                call.update(end=time.time(), error=fault.code)
            return _reply(start_response, status, body, "application/x-amz-json-1.1")
        if call is not None:
            return self._answer_ecr(call, environ, start_response)
        if target.startswith(_LIGHTSAIL_TARGET):
            params = json.loads(_body(environ) or b"{}")
            status, body = self.lightsail.answer(
                operation, params, region or "us-east-1", access_key
            )
            return _reply(start_response, status, body, "application/x-amz-json-1.1")
        return self.moto_app(environ, start_response)

    def _delay(self, service: str, operation: str, agent: str) -> float:
        with self._lock:
            return max(
                (d.seconds for d in self._latency if d.applies(service, operation, agent)),
                default=0.0,
            )

    def _record_ecr_call(self, environ: Environ, operation: str, agent: str) -> dict[str, Any]:
        """Log an ECR call as it is taken up; its body is put back for moto."""
        body = _body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            repository = json.loads(body or b"{}").get("repositoryName")
        except (ValueError, AttributeError):
            repository = None
        call = {
            "start": time.time(),
            "end": None,
            "operation": operation,
            "repository": repository,
            "user_agent": agent,
            "error": None,
        }
        with self._lock:
            self._ecr_calls.append(call)
        return call

    def _answer_ecr(
        self, call: dict[str, Any], environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        """moto's answer, with the call's end and error code logged once it is ready."""
        status: list[str] = []

        def record_status(line: str, headers: Any, *rest: Any) -> Any:
            status.append(line)
            return start_response(line, headers, *rest)

        result = self.moto_app(environ, record_status)
        try:
            answer = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        error = None
        if status and not status[0].startswith("2"):
            try:
                error = str(json.loads(b"".join(answer)).get("__type", "")).rsplit("#", 1)[-1]
            except (ValueError, AttributeError):
                error = status[0]
        call.update(end=time.time(), error=error or None)
        return answer

    def _take_fault(self, service: str, operation: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if (fault.service, fault.operation) != (service, operation):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.remaining is None:
                    return fault
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def _control(
        self, what: str, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        spec: dict[str, Any] = json.loads(_body(environ) or b"{}") if method == "POST" else {}
        try:
            if (what, method) == ("fault", "POST"):
                fault = _Fault(spec)
                if fault.service not in ("ecr", "lightsail"):
                    raise ValueError("faults are injected into ecr and lightsail only")
                with self._lock:
                    self._faults.append(fault)
            elif (what, method) == ("fault", "DELETE"):
                with self._lock:
                    self._faults.clear()
                    self._latency.clear()
            elif (what, method) == ("latency", "POST"):
                latency = _Latency(spec)
                with self._lock:
                    self._latency = [d for d in self._latency if d.key != latency.key]
                    if latency.seconds:
                        self._latency.append(latency)
            elif (what, method) == ("ecr-calls", "GET"):
                with self._lock:
                    return _reply(start_response, 200, [dict(c) for c in self._ecr_calls])
            elif (what, method) == ("ecr-calls", "DELETE"):
                with self._lock:
                    self._ecr_calls.clear()
            elif (what, method) == ("service", "POST"):
                self.lightsail.add_existing_service(**spec)
            elif (what, method) == ("role", "POST"):
                self.lightsail.set_role_by_hand(spec["name"], spec["region"], spec["active"])
            elif (what, method) == ("calls", "GET"):
                return _reply(start_response, 200, [list(c) for c in self.lightsail.calls])
            else:
                return _reply(start_response, 404, {"error": f"no control {method} {what}"})
        except (KeyError, TypeError, ValueError) as exc:
            return _reply(start_response, 400, {"error": str(exc)})
        return _reply(start_response, 200, {})


def _body(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def _service_of(authorization: str, target: str) -> str:
    """The signing name of the request's service (``ecr``, ``lightsail``, ``sts``...)."""
    marker = "Credential="
    if marker in authorization:
        scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
        if len(scope) > 3:
            return scope[3]
    if target.startswith(_LIGHTSAIL_TARGET):
        return "lightsail"
    return ""


def serve(port: int, principal_arn_after: int | None, out: Any = None) -> None:
    """Serve on 127.0.0.1:``port`` (0: the kernel chooses) until SIGTERM or SIGINT."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = EmulatedAwsApp(
        LightsailEmulator(arn_after_polls=principal_arn_after),
        DomainDispatcherApplication(create_backend_app),
    )

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *_: Any, **__: Any) -> None:
            pass

    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)

    def stop(*_: Any) -> None:
        # shutdown() waits for serve_forever to return: never call it from its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out = out or sys.stdout
    out.write(f"port={server.server_port}\n")
    out.flush()
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The emulated AWS (ECR, STS, Lightsail)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--principal-arn-after",
        type=int,
        default=2,
        help="GetContainerServices calls after activation before the puller role's ARN "
        "appears (negative: never)",
    )
    args = parser.parse_args(argv)
    after = None if args.principal_arn_after < 0 else args.principal_arn_after
    serve(args.port, after)


# --- the client side, for tests -------------------------------------------------------

FAKE_KEYS = {"aws_access_key_id": "emulated", "aws_secret_access_key": "emulated"}


class EmulatedAwsServer(EcrHelpers):
    """Starts the server as a subprocess (its own process group, killed on exit).

    ``client(service, profile=..., account=...)`` reaches it as the default (dev)
    account, a profile of ``shared_config_file`` (``dev``, ``prod``), or any account
    (by assuming a role there, as moto places assumed-role keys in the role's account).
    """

    def __init__(
        self,
        region: str = "us-east-1",
        principal_arn_after: int | None = 2,
        *,
        python: str = sys.executable,
    ) -> None:
        self.region = region
        self.principal_arn_after = principal_arn_after
        self.python = python
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> EmulatedAwsServer:
        self._config_dir = tempfile.TemporaryDirectory(prefix="emulated-aws-server-")
        self.shared_config_file = os.path.join(self._config_dir.name, "config")
        Path(self.shared_config_file).write_text(SHARED_CONFIG)
        after = -1 if self.principal_arn_after is None else self.principal_arn_after
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            [self.python, "-m", "realengine.aws_server", "--principal-arn-after", str(after)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert self._process.stdout is not None
            first = self._process.stdout.readline().strip()
            if not first.startswith("port="):
                raise RuntimeError(f"the emulated AWS server did not start: {first!r}")
            self.port = int(first.split("=", 1)[1])
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if process.stdout is not None:
                process.stdout.close()
        if hasattr(self, "_config_dir"):
            self._config_dir.cleanup()

    # --- clients -----------------------------------------------------------------------

    def session(self, *, profile: str | None = None, account: str | None = None) -> Any:
        """A boto3 session as the dev account, a shared-config profile, or ``account``."""
        if profile is not None:
            core = botocore.session.Session()
            core.set_config_variable("config_file", self.shared_config_file)
            core.set_config_variable("credentials_file", os.devnull)
            core.set_config_variable("profile", profile)
            send_role_assumptions_to(core, {"sts": self.endpoint})
            session = boto3.session.Session(botocore_session=core, region_name=self.region)
        else:
            session = boto3.session.Session(region_name=self.region, **FAKE_KEYS)
        if account is not None and account != DEV_ACCOUNT:
            sts = session.client("sts", endpoint_url=self.endpoint)
            credentials = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/emulated", RoleSessionName="test"
            )["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.region,
            )
        return session

    def client(
        self, service: str, *, profile: str | None = None, account: str | None = None
    ) -> Any:
        return self.session(profile=profile, account=account).client(
            service, endpoint_url=self.endpoint
        )

    def ecr_as(self, profile: str | None) -> Any:
        return self.client("ecr", profile=profile)

    # --- control -----------------------------------------------------------------------

    def control(self, what: str, spec: dict[str, Any] | None = None, method: str = "POST") -> Any:
        import urllib.request

        data = None if spec is None else json.dumps(spec).encode()
        request = urllib.request.Request(self.endpoint + CONTROL + what, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def fail(
        self, service: str, operation: str, code: str, times: int | None = None, **more: Any
    ) -> None:
        self.control(
            "fault",
            {"service": service, "operation": operation, "code": code, "times": times, **more},
        )

    def clear_faults(self) -> None:
        self.control("fault", None, method="DELETE")

    def add_existing_service(self, name: str, region: str | None = None, **more: Any) -> None:
        self.control("service", {"name": name, "region": region or self.region, **more})

    def add_latency(
        self,
        service: str,
        seconds: float,
        *,
        operation: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        """Every request to ``service`` (``operation`` only; callers whose user agent
        holds ``user_agent`` only) waits ``seconds`` first; 0 removes that wait."""
        self.control(
            "latency",
            {
                "service": service,
                "seconds": seconds,
                "operation": operation,
                "user_agent": user_agent,
            },
        )

    def ecr_calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        """The ECR calls answered so far, in arrival order (see the module's docstring)."""
        calls = self.control("ecr-calls", None, method="GET")
        return [c for c in calls if operation is None or c["operation"] == operation]

    def clear_ecr_calls(self) -> None:
        self.control("ecr-calls", None, method="DELETE")

    def lightsail_calls(self, operation: str | None = None) -> list[Any]:
        calls = self.control("calls", None, method="GET")
        return [c for c in calls if operation is None or c[0] == operation]


if __name__ == "__main__":
    main()
