"""Emulated AWS for whole-program runs: moto for ECR and STS, the Lightsail emulator,
injectable faults, and a virtual clock for the puller role's waits.

Everything lives in this process; fake credentials are set so that no call can ever
reach a real account.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto import mock_aws

from emulation.component import policy_writes, puller_role, sdk
from emulation.lightsail import LightsailEmulator, error_response

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "emulated",
    "AWS_SECRET_ACCESS_KEY": "emulated",
    "AWS_SESSION_TOKEN": "emulated",
    "AWS_EC2_METADATA_DISABLED": "true",
}
DEV_ACCOUNT = "123456789012"  # moto's default: the environment's keys act here
PROD_ACCOUNT = "222222222222"
# A laptop's shared config: the default credentials are the dev account's; the `prod`
# profile assumes a role in another account, as most organisations set it up. moto
# places the calls made with an assumed role's keys into that role's account.
SHARED_CONFIG = f"""\
[profile dev]
aws_access_key_id = emulated-dev
aws_secret_access_key = emulated-dev

[profile prod]
role_arn = arn:aws:iam::{PROD_ACCOUNT}:role/deployer
source_profile = dev
"""


def _rebuild_clients() -> None:
    """Have every client be built anew, so that it has the handlers installed now.

    botocore copies its handlers into a session when the session is made: clients kept
    by the dynamic providers, and boto3's default session (used by the emulated
    pulumi-aws providers), would not see a fault, latency or recorder added later.
    """
    sdk.forget_cached_clients()
    boto3.DEFAULT_SESSION = None


def image_manifest(seed: str) -> dict[str, Any]:
    """A single-platform image manifest whose digests depend on ``seed``."""
    digest = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": digest,
            "size": 1,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": digest,
                "size": 5,
            }
        ],
    }


class VirtualClock:
    """A monotonic clock that sleeping advances at once: waits are measured, not spent."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        """Real wall-clock seconds, not moved by the sleeps: what a window between two
        steps measures. A sleep here stands for a wait that a real run spends beside the
        other steps (a verification's settle delay), not between them."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds

    async def pause(self, seconds: float) -> None:
        """``sleep`` for a wait on an event loop (the program's settle delay)."""
        self.sleep(seconds)


class EcrHelpers:
    """Repositories, policies and images as a test sets them up, through ``ecr_as``:
    shared by the in-process cloud and the emulated AWS server's client side."""

    def ecr_as(self, profile: str | None) -> Any:
        raise NotImplementedError

    def create_repository(
        self, name: str, policy: dict[str, Any] | None = None, *, profile: str | None = None
    ) -> None:
        self.ecr_as(profile).create_repository(repositoryName=name)
        if policy is not None:
            self.set_policy(name, policy, profile=profile)

    def set_policy(self, name: str, policy: dict[str, Any], *, profile: str | None = None) -> None:
        self.ecr_as(profile).set_repository_policy(
            repositoryName=name, policyText=json.dumps(policy)
        )

    def push_image(self, name: str, tag: str, *, profile: str | None = None) -> None:
        """An image under ``tag`` in the repository, as `docker push` would leave it."""
        self.ecr_as(profile).put_image(
            repositoryName=name, imageManifest=json.dumps(image_manifest(tag)), imageTag=tag
        )

    def policy(self, name: str, *, profile: str | None = None) -> dict[str, Any] | None:
        """The repository's policy document, or None when it has none."""
        ecr = self.ecr_as(profile)
        try:
            return dict(json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"]))
        except ecr.exceptions.RepositoryPolicyNotFoundException:
            return None


class EmulatedAws(EcrHelpers):
    """Use as a context manager; repositories, policies and services persist inside it."""

    def __init__(
        self,
        region: str = "us-east-1",
        arn_after_polls: int | None = 2,
        *,
        arn_after_seconds: float | None = None,
    ) -> None:
        self.region = region
        self.clock = VirtualClock()
        self.lightsail = LightsailEmulator(
            arn_after_polls=arn_after_polls,
            arn_after_seconds=arn_after_seconds,
            clock=lambda: self.clock.monotonic(),
        )
        self._faults: list[tuple[str, Any]] = []
        self._latencies: list[tuple[str, Any]] = []
        self.sleep = time.sleep  # the latency's sleep; real time, unlike the puller's waits
        self._saved_env: dict[str, str | None] = {}
        self._mock = mock_aws()

    def __enter__(self) -> EmulatedAws:
        self._config_dir = tempfile.TemporaryDirectory(prefix="emulated-aws-")
        self.shared_config_file = os.path.join(self._config_dir.name, "config")
        with open(self.shared_config_file, "w") as config:
            config.write(SHARED_CONFIG)
        environment = {**_FAKE_ENV, "AWS_CONFIG_FILE": self.shared_config_file}
        for key, value in environment.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
            self._saved_env[key] = os.environ.pop(key, None)
        self._mock.start()
        self.lightsail.install()
        # A new cloud, a new provider process: no client kept from another cloud.
        _rebuild_clients()
        self._real_time = puller_role.time
        puller_role.time = self.clock
        # The settle delays of the policy writes pass on the same virtual clock: runs one
        # after another have nobody to wait for. Writers at the same time need real time
        # (``emulation.concurrent`` scales it instead).
        self._real_write_clock = policy_writes.clock
        policy_writes.clock = self.clock
        return self

    def __exit__(self, *_: Any) -> None:
        puller_role.time = self._real_time
        policy_writes.clock = self._real_write_clock
        self.clear_faults()
        self.clear_latency()
        _rebuild_clients()
        self.lightsail.uninstall()
        self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._config_dir.cleanup()

    # --- ECR helpers -------------------------------------------------------------------

    @property
    def ecr(self) -> Any:
        """ECR as the environment's credentials see it (the dev account)."""
        return boto3.client("ecr", region_name=self.region)

    def ecr_as(self, profile: str | None) -> Any:
        """ECR as a profile of the shared config sees it (``prod``: the prod account)."""
        if profile is None:
            return self.ecr
        return boto3.session.Session(profile_name=profile).client("ecr", region_name=self.region)

    # --- faults ------------------------------------------------------------------------

    def fail(self, service: str, operation: str, code: str, times: int | None = None) -> None:
        """Answer ``operation`` with error ``code`` (``times`` times, or always).

        Faults are injected where botocore sends a request, inside its retry loop, so a
        throttled call is retried exactly as it would be against AWS.
        """
        remaining = [times]

        def handler(**_: Any) -> AWSResponse | None:
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    return None
                remaining[0] -= 1
            return error_response(code, f"emulated {code}")

        entry = (f"before-send.{service}.{operation}", handler)
        BUILTIN_HANDLERS.append(entry)
        self._faults.append(entry)
        # A handler reaches only clients built after it: as when the providers built a
        # client per call, a fault reaches their next call too.
        sdk.forget_cached_clients()

    def clear_faults(self) -> None:
        for entry in self._faults:
            if entry in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(entry)
        self._faults.clear()
        # Clients built while a fault was on keep its handler: without this, a fault
        # cleared between runs would still fail the next run's calls, where a real run
        # (a new provider process) builds its clients afresh.
        _rebuild_clients()

    # --- latency and call counts, for the benchmark ------------------------------------

    def add_latency(self, service: str, seconds: float) -> None:
        """Make every request to ``service`` take ``seconds`` longer, as a far Region does.

        The sleep happens where botocore sends each request (every attempt, retries
        included), in a handler more specific than moto's catch-all ``before-send``, so
        it runs first and returns nothing: moto still answers. Requests from several
        threads sleep at the same time, as round trips in flight do.
        """

        def handler(**_: Any) -> None:
            self.sleep(seconds)

        entry = (f"before-send.{service}", handler)
        BUILTIN_HANDLERS.append(entry)
        self._latencies.append(entry)
        _rebuild_clients()

    def clear_latency(self) -> None:
        for entry in self._latencies:
            if entry in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(entry)
        self._latencies.clear()
        _rebuild_clients()

    @contextmanager
    def record_calls(self) -> Iterator[CallRecord]:
        """Count every API call made by clients built inside the block (one per call,
        however many attempts it took).

        Each call is put down to its caller: ``provider`` when the emulated pulumi-aws
        provider made it (in a real run that is the provider plugin, not this program),
        ``program`` otherwise (the program body and its dynamic providers).
        """
        record = CallRecord()
        entry = ("before-call", record.handler)
        BUILTIN_HANDLERS.append(entry)
        _rebuild_clients()
        try:
            yield record
        finally:
            BUILTIN_HANDLERS.remove(entry)
            _rebuild_clients()


class CallRecord:
    """API calls counted by (caller, "service:Operation")."""

    _PROVIDER_MODULE = "emulation.providers"

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def handler(self, model: Any, **_: Any) -> None:
        caller = "program"
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_globals.get("__name__") == self._PROVIDER_MODULE:
                caller = "provider"
                break
            frame = frame.f_back  # type: ignore[assignment]
        prefix = model.service_model.metadata.get("signingName") or model.service_model.service_name
        with self._lock:
            self.counts[(caller, f"{prefix}:{model.name}")] += 1

    def of(self, caller: str) -> dict[str, int]:
        with self._lock:
            return {op: n for (who, op), n in sorted(self.counts.items()) if who == caller}


@contextmanager
def emulated_aws(**kwargs: Any) -> Iterator[EmulatedAws]:
    with EmulatedAws(**kwargs) as aws:
        yield aws
