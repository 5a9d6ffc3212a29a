"""The real ``__main__.py`` through its whole life against emulated AWS.

Each scenario asserts what is left in the emulated ECR, since that is what other
teams would see: their statements equal and in order, ours added or gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import DeploymentFailed, Engine
from tests.conftest import ACCOUNT, CI_PUSH, REGION, ROOT

OURS = "AllowLightsailPull-web"
DENY_DELETE = {
    "Sid": "DenyDelete",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "ecr:BatchDeleteImage",
}
NO_SID = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditor"},
    "Action": ["ecr:DescribeImages"],
}
OTHER_TEAMS = [CI_PUSH, DENY_DELETE, NO_SID]


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=3) as aws:
        aws.create_repository("team/app", {"Version": "2012-10-17", "Statement": OTHER_TEAMS})
        aws.create_repository("team/worker")
        yield aws


def config(service: str = "web", **keys: Any) -> dict[str, Any]:
    values = {"serviceName": service, "repositories": ["team/app", "team/worker"], **keys}
    return {
        "config": {
            "aws:region": REGION,
            **{f"lightsail-ecr-access:{k}": v for k, v in values.items()},
        }
    }


def stack(**keys: Any) -> Engine:
    return Engine(ROOT, "dev", config(**keys))


def sids(document: dict[str, Any] | None) -> list[str | None]:
    assert document is not None
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return [s.get("Sid") for s in statements]


def ours(cloud: EmulatedAws, repository: str, service: str = "web") -> dict[str, Any]:
    document = cloud.policy(repository)
    assert document is not None
    return next(s for s in document["Statement"] if s.get("Sid") == f"AllowLightsailPull-{service}")


def test_up_on_a_repository_without_policy_writes_the_guides_document(cloud: EmulatedAws) -> None:
    report = stack().up()

    role_arn = report.outputs["pullerRolePrincipalArn"]
    assert role_arn == cloud.lightsail.service("web", REGION).role_arn != ""
    assert cloud.policy("team/worker") == {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Sid": OURS,
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
    # The ARN appeared only after polling, and the wait was spent in virtual time.
    assert cloud.clock.slept


def test_up_keeps_other_teams_statements_equal_and_in_order(cloud: EmulatedAws) -> None:
    stack().up()

    document = cloud.policy("team/app")
    assert document is not None
    assert document["Version"] == "2012-10-17"
    assert document["Statement"][:3] == OTHER_TEAMS
    assert sids(document) == ["CiPush", "DenyDelete", None, OURS]


def test_single_object_statement_is_kept(cloud: EmulatedAws) -> None:
    cloud.set_policy("team/worker", {"Version": "2012-10-17", "Statement": CI_PUSH})
    stack().up()

    assert sids(cloud.policy("team/worker")) == ["CiPush", OURS]
    assert cloud.policy("team/worker")["Statement"][0] == CI_PUSH  # type: ignore[index]


def test_up_again_changes_nothing(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()
    before = cloud.policy("team/app")
    writes = len(cloud.lightsail.calls_of("UpdateContainerService"))

    again = engine.up()

    assert not again.changed, again.summary()
    assert len(again.unchanged) == 10
    assert cloud.policy("team/app") == before
    assert len(cloud.lightsail.calls_of("UpdateContainerService")) == writes


def test_statement_added_out_of_band_survives_the_next_up(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()
    document = cloud.policy("team/app")
    assert document is not None
    late = {
        "Sid": "LateComer",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["ecr:DescribeImages"],
    }
    cloud.set_policy("team/app", {**document, "Statement": [*document["Statement"], late]})

    report = engine.up()

    assert "web-policy-team/app" in report.updated
    assert sids(cloud.policy("team/app")) == ["CiPush", "DenyDelete", None, OURS, "LateComer"]


def test_repository_taken_off_the_list_loses_only_our_statement(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()
    engine.set_config(config(repositories=["team/worker"]))

    report = engine.up()

    assert sorted(report.deleted) == [
        "web-document-team/app",
        "web-grant-team/app",
        "web-verify-team/app",
    ]
    assert report.retained == ["web-policy-team/app"]
    assert cloud.policy("team/app") == {"Version": "2012-10-17", "Statement": OTHER_TEAMS}
    assert sids(cloud.policy("team/worker")) == [OURS]


def test_access_switched_off_deactivates_role_and_revokes_everywhere(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()
    engine.set_config(config(privateRegistryAccess=False))

    report = engine.up()

    assert "web-puller-role" in report.updated
    assert not cloud.lightsail.service("web", REGION).role_active
    assert cloud.policy("team/app") == {"Version": "2012-10-17", "Statement": OTHER_TEAMS}
    assert cloud.policy("team/worker") is None
    assert report.outputs["pullerRolePrincipalArn"] == ""


def test_destroy_removes_only_our_statements(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()

    report = engine.destroy()

    assert cloud.policy("team/app") == {"Version": "2012-10-17", "Statement": OTHER_TEAMS}
    assert cloud.policy("team/worker") is None  # ours was its only statement
    assert not cloud.lightsail.exists("web", REGION)
    assert sorted(report.retained) == ["web-policy-team/app", "web-policy-team/worker"]
    assert engine.state == {}
    # Dependents go first: each policy (forgotten) before the finalizer it waited for,
    # everything before the service.
    order = [name for _, name in report.sequence]
    for repository in ("team/app", "team/worker"):
        assert order.index(f"web-policy-{repository}") < order.index(f"web-grant-{repository}")
    assert order[-1] == "web-service"


def test_two_stacks_share_a_repository(cloud: EmulatedAws) -> None:
    web = Engine(ROOT, "web", config("web", repositories=["team/app"]))
    jobs = Engine(ROOT, "jobs", config("jobs", repositories=["team/app"]))
    web.up()
    jobs.up()
    assert sids(cloud.policy("team/app")) == [
        "CiPush",
        "DenyDelete",
        None,
        OURS,
        "AllowLightsailPull-jobs",
    ]
    web.up()  # web's next run reads jobs' statement and keeps it
    assert "AllowLightsailPull-jobs" in sids(cloud.policy("team/app"))

    web.destroy()

    assert sids(cloud.policy("team/app")) == [
        "CiPush",
        "DenyDelete",
        None,
        "AllowLightsailPull-jobs",
    ]
    assert ours(cloud, "team/app", "jobs")["Principal"]["AWS"] == (
        cloud.lightsail.service("jobs", REGION).role_arn
    )


def test_existing_service_with_role_off_is_activated_and_granted(cloud: EmulatedAws) -> None:
    cloud.lightsail.add_existing_service("web", REGION, role_active=False)
    engine = stack(adoptExistingService=True)

    report = engine.up()

    assert report.imported == ["web-service"]  # adopted, not created again
    activations = cloud.lightsail.calls_of("UpdateContainerService")
    assert activations == [
        {"serviceName": "web", "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": True}}}
    ]
    role_arn = cloud.lightsail.service("web", REGION).role_arn
    assert role_arn and ours(cloud, "team/app")["Principal"] == {"AWS": role_arn}
    assert not engine.up().changed  # the import option is inert once adopted


def _writes(cloud: EmulatedAws) -> list[str]:
    writes = ("Create", "Update", "Delete", "Tag", "Untag")
    return [op for op, _ in cloud.lightsail.calls if op.startswith(writes)]


def test_adopting_a_service_that_differs_changes_nothing_and_names_each_field(
    cloud: EmulatedAws,
) -> None:
    cloud.lightsail.add_existing_service(
        "web", REGION, power="micro", scale=2, tags={"team": "orders"}
    )
    engine = stack(adoptExistingService=True)  # the stack asks for nano, 1, no tags

    with pytest.raises(DeploymentFailed) as raised:
        engine.up()

    message = str(raised.value)
    assert "power is 'micro' live, 'nano' in the stack" in message
    assert "scale is 2 live, 1 in the stack" in message
    assert "tags are {'team': 'orders'} live, {} in the stack" in message
    assert "nothing was changed" in message
    live = cloud.lightsail.service("web", REGION)
    assert (live.power, live.scale, live.tags) == ("micro", 2, [{"key": "team", "value": "orders"}])
    # The check is a child of the component, which is registered; nothing else is.
    assert _writes(cloud) == [] and [s.name for s in engine.state.values() if s.custom] == []
    assert cloud.policy("team/worker") is None


@pytest.mark.parametrize(
    ("live", "named"),
    [
        ({"is_disabled": True}, "isDisabled is true live"),
        ({"public_domain_names": {"cert": ["www.example.com"]}}, "publicDomainNames"),
    ],
)
def test_adopting_a_disabled_or_domained_service_is_refused(
    cloud: EmulatedAws, live: dict[str, Any], named: str
) -> None:
    cloud.lightsail.add_existing_service("web", REGION, **live)

    with pytest.raises(DeploymentFailed, match=named):
        stack(adoptExistingService=True).up()

    assert _writes(cloud) == []


def test_adopting_a_matching_service_changes_only_its_role_and_keeps_its_tags(
    cloud: EmulatedAws,
) -> None:
    cloud.lightsail.add_existing_service(
        "web", REGION, power="micro", scale=2, tags={"team": "orders"}
    )
    engine = stack(adoptExistingService=True, power="micro", scale=2, tags={"team": "orders"})

    report = engine.up()

    assert report.imported == ["web-service"] and "web-service" not in report.updated
    assert _writes(cloud) == ["UpdateContainerService"]  # the role's activation, nothing else
    live = cloud.lightsail.service("web", REGION)
    assert (live.power, live.scale, live.tags) == ("micro", 2, [{"key": "team", "value": "orders"}])
    assert live.role_active and ours(cloud, "team/app")["Principal"] == {"AWS": live.role_arn}
    assert not engine.up().changed


def test_adopting_a_name_that_does_not_exist_says_so_and_writes_nothing(
    cloud: EmulatedAws,
) -> None:
    engine = stack(adoptExistingService=True)

    with pytest.raises(DeploymentFailed, match="no Lightsail container service named 'web'"):
        engine.up()

    assert cloud.lightsail.calls_of("CreateContainerService") == []
    assert [s.name for s in engine.state.values() if s.custom] == []


def test_adoption_left_on_after_a_rename_says_what_to_do(cloud: EmulatedAws) -> None:
    cloud.lightsail.add_existing_service("web", REGION)
    engine = stack(adoptExistingService=True)
    engine.up()
    engine.set_config(config("web2", adoptExistingService=True))

    with pytest.raises(DeploymentFailed, match="set adoptExistingService to false"):
        engine.up()

    assert not cloud.lightsail.exists("web2", REGION)  # nothing half-done
    engine.set_config(config("web2"))
    report = engine.up()
    assert "web2-service" in report.created and not cloud.lightsail.exists("web", REGION)


def test_deployment_runs_after_the_grants_and_pulls(cloud: EmulatedAws) -> None:
    cloud.push_image("team/app", "1.0")
    containers = [
        {"name": "api", "repository": "team/app", "tag": "1.0", "ports": {"8080": "HTTP"}}
    ]
    report = stack(containers=containers, publicEndpoint={"container": "api", "port": 8080}).up()

    assert "web-deployment" in report.created
    deployment = cloud.lightsail.service("web", REGION).deployments[-1]
    assert deployment["state"] == "ACTIVE"
    assert deployment["containers"]["api"]["image"] == (
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:1.0"
    )


# --- faults ------------------------------------------------------------------------


def test_throttled_policy_read_is_retried(cloud: EmulatedAws) -> None:
    cloud.fail("ecr", "GetRepositoryPolicy", "ThrottlingException", times=1)

    stack().up()

    assert OURS in sids(cloud.policy("team/app"))


def test_access_denied_on_read_writes_nothing(cloud: EmulatedAws) -> None:
    cloud.fail("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    engine = stack()

    with pytest.raises(DeploymentFailed, match="ecr:GetRepositoryPolicy") as raised:
        engine.up()

    assert "operatorPolicy" in str(raised.value)
    assert engine.state == {}
    assert cloud.lightsail.services == {}
    assert cloud.policy("team/worker") is None


def test_destroy_succeeds_when_policy_or_repository_was_deleted_by_hand(
    cloud: EmulatedAws,
) -> None:
    engine = stack()
    engine.up()
    cloud.ecr.delete_repository_policy(repositoryName="team/app")
    cloud.ecr.delete_repository(repositoryName="team/worker", force=True)

    report = engine.destroy()

    assert "web-grant-team/app" in report.deleted and "web-grant-team/worker" in report.deleted
    assert cloud.policy("team/app") is None
    assert engine.state == {}


def test_arn_that_never_appears_fails_within_the_bound(cloud: EmulatedAws) -> None:
    cloud.lightsail.arn_after_polls = None

    with pytest.raises(DeploymentFailed, match=r"no principal ARN appeared after 3\d\d s"):
        stack().up()

    assert sum(cloud.clock.slept) <= 300
    assert cloud.policy("team/worker") is None


# --- preview: says what up will do, and does nothing -----------------------------


def _plan(report: Any) -> dict[str, list[str]]:
    kinds = ("created", "imported", "updated", "replaced", "deleted", "retained", "unchanged")
    return {kind: sorted(getattr(report, kind)) for kind in kinds}


def test_preview_shows_exactly_what_up_then_does(cloud: EmulatedAws) -> None:
    engine = stack()
    untouched = cloud.policy("team/app")

    first = engine.preview()

    assert cloud.policy("team/app") == untouched and cloud.lightsail.services == {}
    assert engine.state == {}
    assert _plan(first) == _plan(engine.up())

    assert not engine.preview().changed  # nothing to do after an up

    engine.set_config(config(repositories=["team/worker"]))
    planned = engine.preview()
    assert sorted(planned.deleted) == [
        "web-document-team/app",
        "web-grant-team/app",
        "web-verify-team/app",
    ]
    assert OURS in sids(cloud.policy("team/app"))  # the preview revoked nothing
    assert _plan(planned) == _plan(engine.up())


def test_preview_fails_on_bad_input_like_up(cloud: EmulatedAws) -> None:
    engine = stack(repositories=["team/app", "team/missing"])

    with pytest.raises(DeploymentFailed, match=r"pulumi preview failed: .*team/missing"):
        engine.preview()


def test_role_switched_off_by_hand_is_switched_on_and_regranted(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()
    old_arn = cloud.lightsail.service("web", REGION).role_arn
    cloud.lightsail.set_role_by_hand("web", REGION, active=False)

    assert "web-puller-role" in engine.preview().updated  # the drift shows in a preview
    report = engine.up()

    new_arn = cloud.lightsail.service("web", REGION).role_arn
    assert new_arn and new_arn != old_arn
    assert sorted(report.updated) == [
        "web-document-team/app",
        "web-document-team/worker",
        "web-policy-team/app",
        "web-policy-team/worker",
        "web-puller-role",
        "web-verify-team/app",
        "web-verify-team/worker",
    ]
    assert ours(cloud, "team/app")["Principal"] == {"AWS": new_arn}
    assert cloud.policy("team/app")["Statement"][:3] == OTHER_TEAMS  # type: ignore[index]


def test_the_example_stack_file_deploys(cloud: EmulatedAws) -> None:
    cloud.create_repository("orders/api")
    cloud.create_repository("orders/worker", {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    cloud.push_image("orders/api", "1.4.2")
    cloud.push_image("orders/worker", "1.4.2")
    engine = Engine(ROOT, "example", ROOT / "Pulumi.example.yaml")

    report = engine.up()

    assert "orders-api-deployment" in report.created
    deployment = cloud.lightsail.service("orders-api", REGION).deployments[-1]
    assert deployment["state"] == "ACTIVE"
    assert deployment["containers"]["worker"]["command"] == ["python", "-m", "orders.worker"]
    assert sids(cloud.policy("orders/worker")) == ["CiPush", "AllowLightsailPull-orders-api"]


def test_renamed_service_moves_its_grants_and_leaves_the_rest(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()
    engine.set_config(config("web2"))

    report = engine.up()

    assert "web2-service" in report.created and "web-service" in report.deleted
    assert sids(cloud.policy("team/app")) == [
        "CiPush",
        "DenyDelete",
        None,
        "AllowLightsailPull-web2",
    ]
    assert sids(cloud.policy("team/worker")) == ["AllowLightsailPull-web2"]
    assert not cloud.lightsail.exists("web", REGION)
    # The policies were written before the old statements were revoked, so the next
    # run writes each once more, with the same content; after that, silence.
    settled = cloud.policy("team/app")
    tidy = engine.up()
    assert sorted(tidy.updated) == [
        f"web2-{kind}-{repository}"
        for kind in ("document", "policy", "verify")
        for repository in ("team/app", "team/worker")
    ]
    assert cloud.policy("team/app") == settled
    assert not engine.up().changed


@pytest.mark.parametrize("missing", ["aws:region", "lightsail-ecr-access:serviceName"])
def test_missing_required_configuration_says_how_to_set_it(
    cloud: EmulatedAws, missing: str
) -> None:
    settings = config()
    del settings["config"][missing]
    engine = Engine(ROOT, "dev", settings)

    with pytest.raises(DeploymentFailed, match=f"pulumi config set {missing}"):
        engine.up()

    assert engine.state == {} and cloud.lightsail.services == {}


# --- drift checks from CI: preview --refresh --expect-no-changes, refresh --expect... --


def test_another_teams_new_statement_is_drift_but_not_a_change_to_make(
    cloud: EmulatedAws,
) -> None:
    engine = stack()
    engine.up()
    engine.refresh()  # records what the first up could not read yet (the role's ARN)
    document = cloud.policy("team/app")
    assert document is not None
    late = {"Sid": "Late", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:*"}
    cloud.set_policy("team/app", {**document, "Statement": [*document["Statement"], late]})

    # The scheduled check the README recommends stays green: the goal is what is live.
    engine.preview(refresh=True, expect_no_changes=True)
    # `pulumi refresh --expect-no-changes` fails on any drift, other teams' included.
    # (The policy resource, and the fresh document that now holds the live policy.)
    with pytest.raises(
        DeploymentFailed,
        match=r"drifted: 2 updated.*\(web-document-team/app, web-policy-team/app\)",
    ):
        engine.refresh(expect_no_changes=True)


@pytest.mark.parametrize("drift", ["our statement removed", "role switched off"])
def test_drift_of_ours_fails_the_refreshed_preview(cloud: EmulatedAws, drift: str) -> None:
    engine = stack()
    engine.up()
    if drift == "role switched off":
        cloud.lightsail.set_role_by_hand("web", REGION, active=False)
    else:
        cloud.set_policy("team/app", {"Version": "2012-10-17", "Statement": OTHER_TEAMS})

    with pytest.raises(DeploymentFailed, match="no changes were expected"):
        engine.preview(refresh=True, expect_no_changes=True)

    engine.up(refresh=True)  # puts it right, keeping everyone else's statements
    engine.preview(refresh=True, expect_no_changes=True)
    assert OURS in sids(cloud.policy("team/app"))
    assert cloud.policy("team/app")["Statement"][:3] == OTHER_TEAMS  # type: ignore[index]


def test_our_statement_removed_by_hand_comes_back_with_the_next_up(
    cloud: EmulatedAws,
) -> None:
    engine = stack()
    engine.up()
    cloud.set_policy("team/app", {"Version": "2012-10-17", "Statement": OTHER_TEAMS})

    # The program's read lacks the grant: the fresh merge writes it back, and it is
    # verified, even though the policy resource's stored state saw nothing to do.
    report = engine.up()
    assert {"web-document-team/app", "web-verify-team/app"} <= set(report.updated)
    assert sids(cloud.policy("team/app")) == ["CiPush", "DenyDelete", None, OURS]
    assert not engine.up().changed


def test_a_quiet_stack_passes_the_refreshed_preview(cloud: EmulatedAws) -> None:
    engine = stack()
    engine.up()

    assert not engine.preview(refresh=True, expect_no_changes=True).changed
    # A refresh records what the first up could not yet read (the role's ARN on the
    # service); from then on it is quiet too.
    engine.refresh()
    assert not engine.refresh(expect_no_changes=True).changed


def test_a_deployment_whose_tag_is_not_pushed_stops_before_anything_is_written(
    cloud: EmulatedAws,
) -> None:
    for tag in ("1.0", "1.1", "1.2"):
        cloud.push_image("team/app", tag)
    containers = [{"name": "api", "repository": "team/app", "tag": "1.3"}]
    engine = stack(containers=containers)

    for run in (engine.preview, engine.up):
        with pytest.raises(DeploymentFailed) as raised:
            run()
        message = str(raised.value)
        assert "container 'api' uses image team/app:1.3" in message
        # The tags that do exist, newest first (pushes within a second may tie).
        nearby = re.search(r"its newest tags are (.*?)\. Push", message)
        assert nearby and sorted(nearby[1].split(", ")) == ["1.0", "1.1", "1.2"]
    assert engine.state == {} and cloud.lightsail.services == {}
    assert cloud.policy("team/worker") is None


def test_image_tags_are_checked_with_one_describe_per_repository(cloud: EmulatedAws) -> None:
    cloud.push_image("team/app", "1.0")
    cloud.push_image("team/worker", "2.0")
    containers = [
        {"name": "api", "repository": "team/app", "tag": "1.0"},
        {"name": "jobs", "repository": "team/app", "tag": "1.0"},
        {"name": "worker", "repository": "team/worker", "tag": "2.0"},
    ]
    with cloud.record_calls() as record:
        stack(containers=containers).up()

    assert record.of("program").get("ecr:DescribeImages") == 2


def test_adoption_counts_the_providers_default_tags_as_the_stacks(cloud: EmulatedAws) -> None:
    cloud.lightsail.add_existing_service("web", REGION)  # no tags live
    engine = stack(adoptExistingService=True)
    engine.config["aws:defaultTags"] = {"tags": {"team": "orders"}}

    with pytest.raises(DeploymentFailed, match=r"tags are \{\} live, \{'team': 'orders'\}"):
        engine.up()

    engine.config["aws:defaultTags"] = "team=orders"
    with pytest.raises(DeploymentFailed, match="aws:defaultTags is 'team=orders'"):
        engine.up()
    assert _writes(cloud) == []


def test_a_denied_image_check_names_the_action_and_writes_nothing(cloud: EmulatedAws) -> None:
    cloud.push_image("team/app", "1.0")
    cloud.fail("ecr", "DescribeImages", "AccessDeniedException")
    engine = stack(containers=[{"name": "api", "repository": "team/app", "tag": "1.0"}])

    with pytest.raises(DeploymentFailed, match="AWS denied ecr:DescribeImages on arn:aws:ecr:"):
        engine.up()

    assert engine.state == {} and cloud.lightsail.services == {}


def test_an_adopted_service_takes_later_changes_with_adoption_left_on(
    cloud: EmulatedAws,
) -> None:
    cloud.lightsail.add_existing_service("web", REGION, power="micro", scale=2)
    engine = stack(adoptExistingService=True, power="micro", scale=2)
    engine.up()

    # Most users leave adoptExistingService on: once adopted, the stack owns the service.
    engine.set_config(config(adoptExistingService=True, power="micro", scale=3))
    planned = engine.preview()
    report = engine.up()

    assert planned.updated == report.updated == ["web-service"]
    assert cloud.lightsail.service("web", REGION).scale == 3
    assert not engine.up().changed


def test_a_mismatched_adoption_is_refused_by_preview_too(cloud: EmulatedAws) -> None:
    cloud.lightsail.add_existing_service("web", REGION, scale=2)
    engine = stack(adoptExistingService=True)

    with pytest.raises(DeploymentFailed, match="scale is 2 live, 1 in the stack"):
        engine.preview()


def test_an_adoption_that_cannot_read_the_service_says_which_permission(
    cloud: EmulatedAws,
) -> None:
    cloud.lightsail.add_existing_service("web", REGION)
    cloud.fail("lightsail", "GetContainerServices", "AccessDeniedException")
    engine = stack(adoptExistingService=True)

    with pytest.raises(DeploymentFailed, match="lightsail:GetContainerServices"):
        engine.preview()
    with pytest.raises(DeploymentFailed, match="lightsail:GetContainerServices"):
        engine.up()

    assert _writes(cloud) == [] and [s for s in engine.state.values() if s.custom] == []


def test_an_up_that_changes_nothing_gives_every_resource_the_inputs_it_has(
    cloud: EmulatedAws,
) -> None:
    """The real engine writes the whole state for every resource whose inputs changed, even
    when its diff finds nothing to do, so an `up` that changes nothing must leave every
    resource's inputs as they are (at 160 repositories, a run id among the documents'
    inputs made most of a steady `up`). Right after an `up` that wrote, only the written
    documents' ``missing`` changes (their grants are no longer missing): the verifications
    keep the write windows they measured."""
    names = ["team/a", "team/b"]
    for name in names:
        cloud.create_repository(name)
    engine = Engine(ROOT, "dev", config(repositories=names))

    def inputs() -> dict[str, dict[str, Any]]:
        return {urn.split("::")[-1]: dict(s.inputs) for urn, s in engine.state.items()}

    engine.up()
    wrote = inputs()
    windows = [i["write_window"] for n, i in wrote.items() if "-verify-" in n]
    assert len(windows) == 2 and all(isinstance(w, float) for w in windows), windows
    engine.up()
    after = inputs()
    changed = {
        (name, key)
        for name, given in after.items()
        for key in set(given) | set(wrote[name])
        if given.get(key) != wrote[name].get(key)
    }
    assert changed == {(f"web-document-{n}", "missing") for n in names}
    engine.up()
    assert inputs() == after


def test_failed_policy_writes_give_their_write_slots_back(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More failed writes than there are slots: the run fails, naming the write, and the
    other repositories still take a slot and are written (a slot kept by a failed write
    would leave them waiting for ever)."""
    import signal

    from components.program.repository_policies import WRITES_AT_ONCE
    from emulation.providers import RepositoryPolicyProvider

    names = [f"team/r{i}" for i in range(3 * WRITES_AT_ONCE)]
    failing = set(names[: WRITES_AT_ONCE + 1])
    write = RepositoryPolicyProvider._write

    def writing(aws: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        if inputs["repository"] in failing:
            raise RuntimeError(f"SetRepositoryPolicy on {inputs['repository']}: throttled")
        return write(aws, inputs)

    monkeypatch.setattr(RepositoryPolicyProvider, "_write", staticmethod(writing))
    for name in names:
        cloud.create_repository(name)
    engine = Engine(ROOT, "dev", config(repositories=names))

    def hung(*_: Any) -> None:
        raise TimeoutError("the run hung: a failed write kept its slot")

    # The engine runs on this thread's event loop: a hang is turned into a failure here.
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        with pytest.raises(DeploymentFailed) as failed:
            engine.up()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    outcome = [failed.value]
    assert "throttled" in str(outcome[0])
    assert all("AllowLightsailPull-web" in sids(cloud.policy(n)) for n in names if n not in failing)


def test_at_most_four_fresh_reads_wait_for_their_write_whatever_makes_the_write(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh read is taken only when fewer than WRITES_AT_ONCE reads await their write,
    so that a large run's reads are not all taken long before their writes: on a first
    `up`, and on an `up` after another team edited every policy (the grants are all there,
    but each document is merged and written again)."""
    import threading
    import time

    from components.aws import policy_writes
    from components.program.repository_policies import WRITES_AT_ONCE
    from emulation.providers import RepositoryPolicyProvider

    lock = threading.Lock()
    unwritten: set[str] = set()
    most = 0
    writes = 0
    fresh_read = policy_writes.merged_from_fresh_read
    write = RepositoryPolicyProvider._write

    def reading(ecr: Any, repository: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal most
        with lock:
            unwritten.add(repository)
            most = max(most, len(unwritten))
        return fresh_read(ecr, repository, *args, **kwargs)

    def writing(aws: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        nonlocal writes
        time.sleep(0.05)  # a write slower than a read, so that reads would pile up
        done = write(aws, inputs)
        with lock:
            unwritten.discard(inputs["repository"])
            writes += 1
        return done

    monkeypatch.setattr(policy_writes, "merged_from_fresh_read", reading)
    monkeypatch.setattr(RepositoryPolicyProvider, "_write", staticmethod(writing))

    names = [f"team/r{i}" for i in range(3 * WRITES_AT_ONCE)]
    for name in names:
        cloud.create_repository(name)
    engine = Engine(ROOT, "dev", config(repositories=names))
    engine.up()
    assert all("AllowLightsailPull-web" in sids(cloud.policy(n)) for n in names)
    assert 1 <= most <= WRITES_AT_ONCE, most

    for name in names:
        edited = cloud.policy(name)
        assert edited is not None
        edited["Statement"].append({**OTHER_TEAMS[0], "Sid": "AuditRead"})
        cloud.set_policy(name, edited)
    most = writes = 0
    engine.up()
    assert writes == len(names)
    assert all({"AllowLightsailPull-web", "AuditRead"} <= set(sids(cloud.policy(n))) for n in names)
    assert 1 <= most <= WRITES_AT_ONCE, most
