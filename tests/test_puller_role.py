"""The puller role's state and ARN wait, against a real Lightsail client stubbed by botocore.

moto has no Lightsail, so every call is a queued Stubber response: when a test ends,
``assert_no_pending_responses`` proves the exact sequence (and number) of calls made.
Time is faked: ``sleep`` advances ``clock``, so the backoff is observed without waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from components.aws import puller_role, sdk
from components.aws.puller_role import PullerRoleTimeout, ensure_puller_role
from tests.conftest import REGION, ROLE_ARN, container_services

SERVICE = "web"
GET = {"serviceName": SERVICE}


def update_params(active: bool) -> dict[str, Any]:
    return {
        "serviceName": SERVICE,
        "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": active}},
    }


class FakeTime:
    """A monotonic clock that only moves when ``sleep`` is called."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def lightsail() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lightsail", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def test_already_active_returns_arn_without_update(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(True, ROLE_ARN), GET)

    arn = ensure_puller_role(client, SERVICE, True, sleep=fake_time.sleep, clock=fake_time.clock)

    assert arn == ROLE_ARN
    stubber.assert_no_pending_responses()
    assert fake_time.sleeps == []


def test_inactive_is_activated_then_arn_awaited_with_backoff(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(False), GET)
    stubber.add_response("update_container_service", {}, update_params(True))
    # The ARN is empty on the first two polls and appears on the third.
    stubber.add_response("get_container_services", container_services(True, ""), GET)
    stubber.add_response("get_container_services", container_services(True, ""), GET)
    stubber.add_response("get_container_services", container_services(True, ROLE_ARN), GET)

    arn = ensure_puller_role(
        client, SERVICE, True, timeout=300, sleep=fake_time.sleep, clock=fake_time.clock
    )

    assert arn == ROLE_ARN
    stubber.assert_no_pending_responses()
    # One sleep before each of the three polls, each longer than the one before.
    assert len(fake_time.sleeps) == 3
    assert all(a < b for a, b in zip(fake_time.sleeps, fake_time.sleeps[1:], strict=False))
    assert fake_time.sleeps[0] > 0
    assert max(fake_time.sleeps) <= puller_role._MAX_DELAY


def test_active_without_arn_resumes_waiting_without_second_activation(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    """A re-run after a timeout waits again; it does not call UpdateContainerService."""
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(True, ""), GET)
    stubber.add_response("get_container_services", container_services(True, ROLE_ARN), GET)

    arn = ensure_puller_role(client, SERVICE, True, sleep=fake_time.sleep, clock=fake_time.clock)

    assert arn == ROLE_ARN
    stubber.assert_no_pending_responses()
    assert len(fake_time.sleeps) == 1


def test_active_is_deactivated_and_returns_empty(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(True, ROLE_ARN), GET)
    stubber.add_response("update_container_service", {}, update_params(False))

    arn = ensure_puller_role(client, SERVICE, False, sleep=fake_time.sleep, clock=fake_time.clock)

    assert arn == ""
    stubber.assert_no_pending_responses()
    assert fake_time.sleeps == []


def test_inactive_asked_inactive_makes_no_update(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(False), GET)

    arn = ensure_puller_role(client, SERVICE, False, sleep=fake_time.sleep, clock=fake_time.clock)

    assert arn == ""
    stubber.assert_no_pending_responses()
    assert fake_time.sleeps == []


def test_arn_never_appearing_times_out_within_bound(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    timeout = 100.0
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(False), GET)
    stubber.add_response("update_container_service", {}, update_params(True))
    # Backoff 2, 4, then capped at 5 (18 times), then the 4 s left: 21 polls.
    for _ in range(21):
        stubber.add_response("get_container_services", container_services(True, ""), GET)

    with pytest.raises(PullerRoleTimeout) as caught:
        ensure_puller_role(
            client,
            SERVICE,
            True,
            timeout=timeout,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )

    message = str(caught.value)
    assert repr(SERVICE) in message
    assert "100 s" in message
    stubber.assert_no_pending_responses()
    assert sum(fake_time.sleeps) <= timeout
    assert max(fake_time.sleeps) <= puller_role._MAX_DELAY
    assert fake_time.sleeps == [2.0, 4.0, *[5.0] * 18, 4.0]


def test_tiny_timeout_never_sleeps_past_it(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    """A timeout shorter than the first delay cuts that delay short."""
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(True, ""), GET)
    stubber.add_response("get_container_services", container_services(True, ""), GET)

    with pytest.raises(PullerRoleTimeout, match="'web'"):
        ensure_puller_role(
            client, SERVICE, True, timeout=0.5, sleep=fake_time.sleep, clock=fake_time.clock
        )

    assert fake_time.sleeps == [0.5]
    stubber.assert_no_pending_responses()


def test_missing_service_is_an_error_naming_it(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    client, stubber = lightsail
    stubber.add_client_error(
        "get_container_services",
        service_error_code="NotFoundException",
        service_message="The container service web does not exist.",
        http_status_code=404,
        expected_params=GET,
    )

    with pytest.raises(sdk.AwsCallError) as caught:
        ensure_puller_role(client, SERVICE, True, sleep=fake_time.sleep, clock=fake_time.clock)

    assert repr(SERVICE) in str(caught.value)
    assert "does not exist" in str(caught.value)
    stubber.assert_no_pending_responses()
    assert fake_time.sleeps == []


def test_access_denied_on_update_names_the_action(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    client, stubber = lightsail
    stubber.add_response("get_container_services", container_services(False), GET)
    stubber.add_client_error(
        "update_container_service",
        service_error_code="AccessDeniedException",
        http_status_code=403,
        expected_params=update_params(True),
    )

    with pytest.raises(sdk.AwsCallError) as caught:
        ensure_puller_role(client, SERVICE, True, sleep=fake_time.sleep, clock=fake_time.clock)

    assert "lightsail:UpdateContainerService" in str(caught.value)
    assert caught.value.code == "AccessDeniedException"
    stubber.assert_no_pending_responses()
    assert fake_time.sleeps == []


def test_activation_never_returns_an_arn_read_before_it(
    lightsail: tuple[Any, Stubber], fake_time: FakeTime
) -> None:
    """An inactive role that still reports an old ARN: wait for the new one."""
    client, stubber = lightsail
    new_arn = ROLE_ARN.replace("3EXAMPLE", "4NEW")
    stubber.add_response("get_container_services", container_services(False, ROLE_ARN), GET)
    stubber.add_response("update_container_service", {}, update_params(True))
    stubber.add_response("get_container_services", container_services(True, new_arn), GET)

    arn = ensure_puller_role(client, SERVICE, True, sleep=fake_time.sleep, clock=fake_time.clock)

    assert arn == new_arn
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("appears_after", [0.5, 31.0, 47.5, 120.0])
def test_an_arn_is_noticed_within_5_s_of_appearing(appears_after: float) -> None:
    """A first `up` waits for the ARN no longer than it must: every read is cheap."""
    from emulation.cloud import EmulatedAws

    with EmulatedAws(region=REGION, arn_after_seconds=appears_after) as aws:
        aws.lightsail.add_existing_service(SERVICE, REGION)
        client = sdk.client("lightsail", REGION)

        arn = ensure_puller_role(client, SERVICE, True, timeout=300)

        service = aws.lightsail.service(SERVICE, REGION)
        assert arn == service.role_arn != ""
        waited = sum(aws.clock.slept)
        assert service.arn_seen_at == pytest.approx(waited, abs=0.5)
        assert appears_after <= waited <= appears_after + 5.0
