"""Many repositories through the real ``__main__.py`` against emulated AWS: each policy
read once per run, throttling retried by botocore, nothing written when nothing changed,
clients built once per run (program) and once per process (providers), and the
benchmark's latency reaching every ECR request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import Engine
from tests.conftest import CI_PUSH, REGION, ROOT

OURS = "AllowLightsailPull-web"


def names(count: int) -> list[str]:
    return [f"team/app-{i:03d}" for i in range(count)]


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        yield aws


def stack(cloud: EmulatedAws, count: int) -> Engine:
    repositories = names(count)
    for name in repositories:
        cloud.create_repository(name, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    config = {
        "aws:region": REGION,
        "lightsail-ecr-access:serviceName": "web",
        "lightsail-ecr-access:repositories": repositories,
    }
    return Engine(ROOT, "dev", {"config": config})


def sids(cloud: EmulatedAws, repository: str) -> list[str]:
    document = cloud.policy(repository)
    assert document is not None
    return [s.get("Sid") for s in document["Statement"]]


def test_each_policy_is_read_once_per_run_unless_the_run_writes(cloud: EmulatedAws) -> None:
    engine = stack(cloud, 101)

    # A run that writes reads each policy twice more: just before the write (the fresh
    # merge) and after it (the verification). Preview and a steady up read it once.
    for run, reads in ((engine.preview, 1), (engine.up, 3), (engine.up, 1)):
        with cloud.record_calls() as record:
            run()
        calls = record.of("program")
        assert calls["ecr:GetRepositoryPolicy"] == 101 * reads
        assert calls["ecr:DescribeRepositories"] == 2  # 100 names, then 1


def test_many_repositories_preview_matches_up_and_the_next_up_writes_nothing(
    cloud: EmulatedAws,
) -> None:
    engine = stack(cloud, 30)

    planned = engine.preview()
    done = engine.up()

    kinds = ("created", "updated", "replaced", "deleted", "unchanged")
    assert {k: sorted(getattr(planned, k)) for k in kinds} == {
        k: sorted(getattr(done, k)) for k in kinds
    }
    assert all(sids(cloud, name) == ["CiPush", OURS] for name in names(30))
    with cloud.record_calls() as record:
        again = engine.up()
    assert not again.changed, again.summary()
    writes = [op for op in record.of("provider") if not op.split(":")[1].startswith("Get")]
    assert writes == []
    assert "ecr:SetRepositoryPolicy" not in record.of("program")


def test_throttled_reads_among_many_are_retried_by_botocore(cloud: EmulatedAws) -> None:
    engine = stack(cloud, 20)
    cloud.fail("ecr", "GetRepositoryPolicy", "ThrottlingException", times=2)

    with cloud.record_calls() as record:
        engine.up()

    # Without botocore's retries the run would stop on the first ThrottlingException.
    assert all(OURS in sids(cloud, name) for name in names(20))
    # Calls, not attempts: the program's read, the fresh merge's, the verification's.
    assert record.of("program")["ecr:GetRepositoryPolicy"] == 3 * 20


def test_program_builds_clients_per_run_and_providers_per_process(
    cloud: EmulatedAws, client_builds: list[tuple[str, str]]
) -> None:
    built = client_builds
    engine = stack(cloud, 30)
    engine.up()
    # The program's, shared by its threads; the dynamic providers' (one per process).
    assert built.count(("ecr", REGION)) == 2
    assert built.count(("lightsail", REGION)) == 1  # the puller role provider's

    for _ in range(2):
        built.clear()
        engine.up()  # the puller role's diff looks at Lightsail again, with its kept client
        assert built == [("sts", REGION), ("ecr", REGION)]  # the account check, the reads


def test_latency_reaches_every_ecr_request_and_moto_still_answers(cloud: EmulatedAws) -> None:
    engine = stack(cloud, 5)
    slept: list[float] = []
    cloud.sleep = slept.append

    cloud.add_latency("ecr", 0.04)
    with cloud.record_calls() as record:
        engine.up()

    ecr_calls = sum(
        n for who in ("program", "provider") for op, n in record.of(who).items() if "ecr:" in op
    )
    # One describe; per repository the program's read, the fresh merge's read and write
    # (the grant is new), the provider's write and the verification's read.
    assert ecr_calls == 1 + 5 * 5
    assert slept == [0.04] * ecr_calls

    cloud.clear_latency()
    engine.up()
    assert len(slept) == ecr_calls
    assert sids(cloud, "team/app-000") == ["CiPush", OURS]  # moto answered throughout
