"""Many repositories in one run: batched describes, concurrent policy reads, one client.

The component runs under Pulumi's mocks with ECR and STS emulated by moto. Every ECR
client the project builds is wrapped so that the test sees each call it makes (once per
call, whatever the retries) and can make a chosen repository's call fail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from components import PrivateEcrContainerService
from components.aws import ecr_api, sdk
from components.aws.concurrency import bounded_map
from components.aws.sdk import AwsCallError
from tests.conftest import ACCOUNT, CI_PUSH, REGION, fail_call
from tests.mock_program import Recording, run_program

POLICY_TYPE = "aws:ecr/repositoryPolicy:RepositoryPolicy"


def names(count: int) -> list[str]:
    return [f"team/app-{i:03d}" for i in range(count)]


@dataclass
class EcrCalls:
    """What the clients built by ``sdk.client`` were asked, and by which client."""

    built: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    clients: set[int] = field(default_factory=set)
    deny: dict[str, str] = field(default_factory=dict)
    """GetRepositoryPolicy of these repositories fails with this error code."""
    deny_describe: set[str] = field(default_factory=set)
    """A DescribeRepositories call naming one of these is denied."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params in self.calls if op == operation]


@pytest.fixture
def ecr_calls(ecr: Any, monkeypatch: pytest.MonkeyPatch) -> EcrCalls:
    seen = EcrCalls()
    original = sdk.client

    def client(
        service: str, region: str, identity: Any = None, session: Any = None, **more: Any
    ) -> Any:
        built = original(service, region, identity, session, **more)
        seen.built.append((service, region))

        def record(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            # The call's own parameters; the context carries them to `deny` below.
            context["test_params"] = dict(params)
            with seen.lock:
                seen.calls.append((model.name, dict(params)))
                seen.clients.add(id(built))

        def deny(model: Any, context: dict[str, Any], **_: Any) -> Any:
            params = context.get("test_params", {})
            code = seen.deny.get(params.get("repositoryName", ""))
            if model.name == "GetRepositoryPolicy" and code:
                return fail_call(code)()
            if seen.deny_describe.intersection(params.get("repositoryNames", [])):
                return fail_call("AccessDeniedException")()
            return None

        if service == "ecr":
            built.meta.events.register("before-parameter-build.ecr", record)
            built.meta.events.register("before-call.ecr", deny)
        return built

    monkeypatch.setattr(sdk, "client", client)
    return seen


def create(ecr: Any, repositories: list[str]) -> None:
    for name in repositories:
        ecr.create_repository(repositoryName=name)
    # A policy on some, none on the others: both answers come back concurrently.
    for name in repositories[::3]:
        ecr.set_repository_policy(
            repositoryName=name,
            policyText=json.dumps({"Version": "2012-10-17", "Statement": [CI_PUSH]}),
        )


def build(repositories: list[str], name: str = "web") -> PrivateEcrContainerService:
    return PrivateEcrContainerService(
        name, {"service_name": name, "region": REGION, "repositories": repositories}
    )


def failing(body: Callable[[], Any]) -> tuple[str, Recording]:
    recording = Recording()
    with pytest.raises(AwsCallError) as raised:
        run_program(body, recording=recording)
    return str(raised.value), recording


def arn(name: str) -> str:
    return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"


# --- batched describes -----------------------------------------------------------------


def test_160_repositories_are_described_in_two_calls_of_at_most_100(
    ecr: Any, ecr_calls: EcrCalls
) -> None:
    repositories = names(160)
    create(ecr, repositories)

    recording, _ = run_program(lambda: build(repositories))

    described = ecr_calls.of("DescribeRepositories")
    assert sorted(len(call["repositoryNames"]) for call in described) == [60, 100]
    assert sorted(n for call in described for n in call["repositoryNames"]) == repositories
    assert len(recording.of_type(POLICY_TYPE)) == 160


def test_merged_documents_match_each_repository_after_concurrent_reads(
    ecr: Any, ecr_calls: EcrCalls
) -> None:
    repositories = names(40)
    create(ecr, repositories)

    recording, _ = run_program(lambda: build(repositories))

    for policy in recording.of_type(POLICY_TYPE):
        sids = [s.get("Sid") for s in json.loads(policy.inputs["policy"])["Statement"]]
        had_policy = repositories.index(policy.inputs["repository"]) % 3 == 0
        assert sids == (["CiPush"] if had_policy else []) + ["AllowLightsailPull-web"]


@pytest.mark.parametrize("position", [77, 149])
def test_a_missing_repository_among_150_is_named_with_its_region(
    ecr: Any, ecr_calls: EcrCalls, position: int
) -> None:
    repositories = names(150)
    create(ecr, [n for i, n in enumerate(repositories) if i != position])

    message, recording = failing(lambda: build(repositories))

    missing = repositories[position]
    assert f"ECR repository '{missing}' does not exist in Region {REGION}" in message
    assert recording.resources == []
    assert ecr_calls.of("GetRepositoryPolicy") == []  # no policy read either


def test_of_two_missing_repositories_the_first_listed_is_named(
    ecr: Any, ecr_calls: EcrCalls
) -> None:
    repositories = names(150)
    create(ecr, [n for i, n in enumerate(repositories) if i not in (30, 130)])

    message, _ = failing(lambda: build(repositories))

    assert f"'{repositories[30]}' does not exist" in message


def test_describe_denied_for_one_repository_names_that_repository(
    ecr: Any, ecr_calls: EcrCalls
) -> None:
    repositories = names(120)
    create(ecr, repositories)
    # IAM refuses a whole call that names one repository the identity may not describe.
    ecr_calls.deny_describe = {repositories[101]}

    message, recording = failing(lambda: build(repositories))

    assert message.startswith(
        f"AWS denied ecr:DescribeRepositories on repository {repositories[101]} in {REGION}"
    )
    assert recording.resources == []


# --- concurrent policy reads -------------------------------------------------------------


def test_exactly_one_policy_read_per_repository_and_one_client(
    ecr: Any, ecr_calls: EcrCalls
) -> None:
    repositories = names(110)
    create(ecr, repositories)

    def two_services_sharing_repositories() -> Any:
        build(repositories, "web")
        return build(repositories[::2], "jobs")

    run_program(two_services_sharing_repositories)

    read = sorted(call["repositoryName"] for call in ecr_calls.of("GetRepositoryPolicy"))
    assert read == repositories  # once each, though two services grant half of them
    # One client per service for the run, every thread (STS: the account check).
    assert ecr_calls.built == [("sts", REGION), ("ecr", REGION)]
    assert len(ecr_calls.clients) == 1


def test_access_denied_on_one_of_many_reads_names_action_and_that_arn(
    ecr: Any, ecr_calls: EcrCalls
) -> None:
    repositories = names(100)
    create(ecr, repositories)
    ecr_calls.deny = {repositories[63]: "AccessDeniedException"}

    message, recording = failing(lambda: build(repositories))

    assert f"AWS denied ecr:GetRepositoryPolicy on {arn(repositories[63])}" in message
    assert "operatorPolicy" in message
    assert recording.resources == []


def test_of_several_denied_reads_the_first_listed_is_named(ecr: Any, ecr_calls: EcrCalls) -> None:
    repositories = names(60)
    create(ecr, repositories)
    ecr_calls.deny = {repositories[i]: "AccessDeniedException" for i in (59, 41, 17)}

    message, _ = failing(lambda: build(repositories))

    assert arn(repositories[17]) in message


def test_client_pool_holds_a_connection_per_concurrent_read() -> None:
    built = sdk.client("ecr", REGION)

    assert built.meta.config.max_pool_connections >= ecr_api.CONCURRENT_READS


# --- the bounded map itself ---------------------------------------------------------------


def test_bounded_map_keeps_order_and_runs_up_to_the_bound_at_once() -> None:
    workers = 5
    in_flight = 0
    most = 0
    lock = threading.Lock()
    enough = threading.Event()

    def call(item: int) -> int:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
            if in_flight == workers:
                enough.set()
        # The first calls wait until the bound is reached: they really overlap.
        enough.wait(timeout=10)
        with lock:
            in_flight -= 1
        return item * 2

    assert bounded_map(call, range(40), workers) == [i * 2 for i in range(40)]
    assert most == workers


def test_bounded_map_raises_the_first_failure_in_item_order() -> None:
    late_failure_done = threading.Event()

    def call(item: int) -> int:
        if item == 7:
            late_failure_done.set()
            raise ValueError("seven")
        if item == 3:
            late_failure_done.wait(timeout=10)  # fails after item 7 has failed
            raise ValueError("three")
        return item

    with pytest.raises(ValueError, match="three"):
        bounded_map(call, range(10), 4)
