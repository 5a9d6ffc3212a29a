"""Adopting a container service made outside Pulumi, through the real CLI.

`adoptExistingService: true` imports the service instead of creating it. Since Pulumi
3.174 an import is followed by an update to the stack's settings, so the component
compares the live service with the stack first (the AdoptionCheck resource) and refuses
any difference before anything is written. What is asserted is what Lightsail and the
repositories saw: the calls made, the service's power, scale and tags, the grants.
"""

from __future__ import annotations

from typing import Any

import pytest

from realengine.runner import Stack, Workspace
from tests.real_engine.conftest import OTHER_TEAMS, SHARED, ours, service

pytestmark = pytest.mark.real_engine

TAGS = {"team": "orders", "env": "dev"}
WRITES = (
    "CreateContainerService",
    "UpdateContainerService",
    "DeleteContainerService",
    "CreateContainerServiceDeployment",
)


def adopting(workspace: Workspace, **keys: Any) -> Stack:
    return workspace.stack(
        "web",
        {
            "serviceName": "web",
            "repositories": ["team/app"],
            "adoptExistingService": True,
            "power": "micro",
            "scale": 2,
            "tags": TAGS,
            **keys,
        },
    )


def writes(aws: Any) -> list[Any]:
    return [c for c in aws.lightsail_calls() if c[0] in WRITES]


def settings(live: dict[str, Any] | None) -> tuple[Any, Any, dict[str, str]]:
    assert live is not None, "the service is gone"
    return live["power"], live["scale"], {t["key"]: t["value"] for t in live.get("tags") or []}


def test_a_matching_service_is_adopted_and_only_its_role_turned_on(
    workspace: Workspace, aws: Any
) -> None:
    aws.add_existing_service("web", power="micro", scale=2, tags=TAGS)
    stack = adopting(workspace)

    run = stack.up()

    assert settings(service(aws, "web")) == ("micro", 2, TAGS)
    assert [c[0] for c in writes(aws)] == ["UpdateContainerService"], writes(aws)
    # That one update is the puller role's, and nothing else.
    assert set(writes(aws)[0][1]) == {"serviceName", "privateRegistryAccess"}, writes(aws)
    role = service(aws, "web")["privateRegistryAccess"]["ecrImagePullerRole"]
    assert role["isActive"] and role["principalArn"]
    assert ours(aws.policy("team/app"))["Principal"] == {"AWS": role["principalArn"]}
    assert aws.policy("team/app")["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    assert "import" in run.stdout.lower(), run
    stack.run("up", "--yes", "--expect-no-changes")


def test_a_differing_service_is_refused_before_any_write(workspace: Workspace, aws: Any) -> None:
    aws.add_existing_service("web", power="micro", scale=3, tags=TAGS)
    stack = adopting(workspace)

    run = stack.up(check=False)

    assert run.returncode != 0, run
    assert "scale is 3 live, 2 in the stack" in run.output, str(run)
    assert writes(aws) == []
    assert settings(service(aws, "web")) == ("micro", 3, TAGS)
    assert aws.policy("team/app") == SHARED


def test_an_import_that_failed_after_the_check_was_created_is_compared_again(
    workspace: Workspace, aws: Any
) -> None:
    aws.add_existing_service("web", power="micro", scale=2, tags=TAGS)
    stack = adopting(workspace)
    # The check's read of the service passes; the import's own read (the next one) is
    # refused, as for an operator without lightsail:GetContainerServices in the provider.
    aws.fail("lightsail", "GetContainerServices", "AccessDeniedException", after=1)
    failed = stack.up(check=False)
    assert failed.returncode != 0, failed
    names = {r["urn"].rsplit("::", 1)[1] for r in stack.resources()}
    assert "web-adoption" in names and "web-service" not in names, (names, str(failed))
    aws.clear_faults()
    # Someone resizes the live service before the next run.
    aws.client("lightsail").update_container_service(serviceName="web", scale=4)
    before = len(writes(aws))

    run = stack.up(check=False)

    # The import would resize it back to 2: refused, as on a first adoption.
    assert run.returncode != 0, run
    assert "scale is 4 live, 2 in the stack" in run.output, str(run)
    assert len(writes(aws)) == before
    assert settings(service(aws, "web")) == ("micro", 4, TAGS)
    assert aws.policy("team/app") == SHARED

    # Once the stack matches the live service, the adoption goes on and changes nothing.
    stack.configure({"scale": 4})
    stack.up()
    assert settings(service(aws, "web")) == ("micro", 4, TAGS)
    ours(aws.policy("team/app"))
    stack.run("up", "--yes", "--expect-no-changes")


def test_an_adopted_service_takes_later_changes_of_the_stack(
    workspace: Workspace, aws: Any
) -> None:
    aws.add_existing_service("web", power="micro", scale=2, tags=TAGS)
    stack = adopting(workspace)
    stack.up()

    stack.configure({"power": "small", "scale": 3, "tags": {**TAGS, "cost": "42"}})
    stack.up()

    assert settings(service(aws, "web")) == ("small", 3, {**TAGS, "cost": "42"})
    ours(aws.policy("team/app"))
