"""Shared fixtures: emulated AWS credentials and Region, moto for ECR and STS, fault injection."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI runs the same examples every time, so a red build is reproducible; run locally
# (or with POLICY_EXAMPLES=4000) to explore new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# The project root holds `components/` and `__main__.py`; tests import from there.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ROLE_ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/"
    "private-repo-access/3EXAMPLE"
)

# Another team's statement, with a Condition: it must survive every run untouched.
CI_PUSH = {
    "Sid": "CiPush",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload"],
    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
}


def container_services(
    active: bool, principal_arn: str = "", service: str = "web"
) -> dict[str, Any]:
    """A GetContainerServices answer describing one service's puller role."""
    return {
        "containerServices": [
            {
                "containerServiceName": service,
                "privateRegistryAccess": {
                    "ecrImagePullerRole": {"isActive": active, "principalArn": principal_arn}
                },
            }
        ]
    }


def run_coroutine(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end on a loop of its own, left unset: ``asyncio.run``
    would leave the thread with no current loop, which the emulated engine's tests after
    it take."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: fake credentials, no profile, no metadata lookups."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Clients the process keeps were built for an earlier test's environment (the real-
    # engine demo's endpoint, say, a closed port by now): each test builds its own.
    from components.aws.sdk import forget_process_clients

    forget_process_clients()


@pytest.fixture(autouse=True)
def _no_config_from_another_test() -> Iterator[None]:
    """Stack config is process-wide in Pulumi's runtime: each test starts with none."""
    import pulumi

    pulumi.runtime.set_all_config({})
    yield
    pulumi.runtime.set_all_config({})


def refusal(check: Callable[..., Any], *args: Any) -> str:
    """Call ``check`` expecting an input to be refused; return the error's message."""
    from components.rules.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        check(*args)
    return str(info.value)


def put_policy(ecr: Any, document: dict[str, Any], repository: str = "team/app") -> str:
    """Store ``document`` as the repository's policy (creating the repository if needed)."""
    import json

    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    text = json.dumps(document)
    ecr.set_repository_policy(repositoryName=repository, policyText=text)
    return text


def push_image(ecr: Any, repository: str, tag: str) -> None:
    """An image under ``tag`` in the repository, as `docker push` would leave it."""
    import json

    from emulation.cloud import image_manifest

    ecr.put_image(
        repositoryName=repository, imageManifest=json.dumps(image_manifest(tag)), imageTag=tag
    )


@pytest.fixture
def moto_aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def lightsail(moto_aws: None) -> Iterator[Any]:
    """The Lightsail emulation, answering every Lightsail client built meanwhile."""
    from emulation.lightsail import LightsailEmulator

    emulator = LightsailEmulator()
    emulator.install()
    try:
        yield emulator
    finally:
        emulator.uninstall()


@pytest.fixture
def ecr(moto_aws: None) -> Any:
    import boto3

    return boto3.client("ecr", region_name=REGION)


class _ErrorResponse:
    status_code = 400
    headers: dict[str, str] = {}


def fail_call(code: str, message: str = "injected") -> Callable[..., Any]:
    """A botocore `before-call` handler that makes the call fail with ``code``."""

    def handler(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _ErrorResponse(), {"Error": {"Code": code, "Message": message}}

    return handler


@pytest.fixture
def client_builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (service, Region) the project builds a client for, in order."""
    from components.aws import sdk

    built: list[tuple[str, str]] = []
    original = sdk.client

    def counting(
        service: str, region: str, identity: Any = None, session: Any = None, **more: Any
    ) -> Any:
        built.append((service, region))
        return original(service, region, identity, session, **more)

    monkeypatch.setattr(sdk, "client", counting)
    return built


@pytest.fixture
def inject_error(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str, str], None]:
    """Make every client the project builds fail ``service``'s ``operation`` with ``code``.

    Usage: ``inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")``.
    """
    from components.aws import sdk

    original = sdk.client
    faults: list[tuple[str, str, str]] = []

    def client(
        service: str, region: str, identity: Any = None, session: Any = None, **more: Any
    ) -> Any:
        built = original(service, region, identity, session, **more)
        for svc, operation, code in faults:
            if svc == service:
                built.meta.events.register(
                    f"before-call.{built.meta.service_model.service_id.hyphenize()}.{operation}",
                    fail_call(code),
                )
        return built

    monkeypatch.setattr(sdk, "client", client)

    def add(service: str, operation: str, code: str) -> None:
        faults.append((service, operation, code))

    return add


@pytest.fixture(autouse=True)
def _new_provider_process() -> Iterator[None]:
    """Each test starts as a new provider process would: no client kept from another
    test, whose patches or emulation it would carry."""
    from components.aws import sdk

    sdk.forget_cached_clients()
    yield
    sdk.forget_cached_clients()


@pytest.fixture(autouse=True)
def _settle_on_a_virtual_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy writes' settle delays pass at once, measured on a virtual clock: a test
    with one writer has nobody to wait for. (Tests of writers at the same time run on
    scaled real time instead, see emulation.concurrent.)"""
    from components.aws import policy_writes
    from emulation.cloud import VirtualClock

    monkeypatch.setattr(policy_writes, "clock", VirtualClock())
