"""The CI workflow docs/ci-cd.md offers is one a team can paste and run: it logs in to a
state backend, assumes the AWS role without stored keys, and runs the three jobs the
page recommends with the flags it names."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / "examples" / "ci" / "pulumi.yml"


def load() -> dict[str, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as True.
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return dict(loaded)


def pulumi_steps() -> dict[str, dict[str, Any]]:
    steps = load()["jobs"]["pulumi"]["steps"]
    return {s["name"]: s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions")}


def test_it_runs_on_pull_requests_main_and_a_schedule() -> None:
    triggers = load()["on"]
    assert "pull_request" in triggers
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["schedule"][0]["cron"].count(" ") == 4


def test_every_pulumi_step_can_log_in_to_a_backend_and_aws_without_keys() -> None:
    workflow = load()
    assert workflow["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert "PULUMI_CONFIG_PASSPHRASE" in workflow["env"]
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["pulumi"]["steps"]
    aws = next(s for s in steps if "configure-aws-credentials" in s.get("uses", ""))
    assert "role-to-assume" in aws["with"] and "aws-access-key-id" not in aws["with"]
    for step in pulumi_steps().values():
        assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
        assert step["with"]["stack-name"] == "${{ vars.PULUMI_STACK }}"
    # The project's own requirements, into the virtualenv Pulumi.yaml names.
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    venv = project["runtime"]["options"]["virtualenv"]
    assert any(
        s.get("run") == f"python -m venv {venv} && {venv}/bin/pip install -r requirements.txt"
        for s in steps
    )


def test_preview_and_up_run_the_policy_pack_of_this_repository() -> None:
    steps = pulumi_steps()
    for name in ("preview (pull request)", "up (main)"):
        pack = ROOT / steps[name]["with"]["policyPacks"]
        assert (pack / "PulumiPolicy.yaml").is_file(), name


def test_forks_and_other_branches_never_reach_aws() -> None:
    # A fork's pull request has no OIDC token and no secrets; a workflow_dispatch from
    # any branch but main must not run `up`. The job-level guard says both.
    guard = " ".join(load()["jobs"]["pulumi"]["if"].split())
    assert "github.event.pull_request.head.repo.full_name == github.repository" in guard
    assert "github.event_name != 'workflow_dispatch' || github.ref == 'refs/heads/main'" in guard
    assert "forks" in WORKFLOW.read_text().lower()


def test_the_three_jobs_use_the_flags_the_readme_recommends() -> None:
    steps = pulumi_steps()
    preview = steps["preview (pull request)"]
    up = steps["up (main)"]
    drift = steps["drift check (schedule)"]
    assert (preview["with"]["command"], preview["with"]["diff"]) == ("preview", True)
    assert "pull_request" in preview["if"]
    assert (up["with"]["command"], up["with"]["refresh"]) == ("up", True)
    assert "push" in up["if"]
    assert drift["with"] == {
        **drift["with"],
        "command": "preview",
        "refresh": True,
        "expect-no-changes": True,
    }
    assert "schedule" in drift["if"]


def test_the_ci_page_points_to_it() -> None:
    page = (ROOT / "docs" / "ci-cd.md").read_text()
    assert "`examples/ci/pulumi.yml`" in page
