"""The README's first command: the demo's story through the real CLI, exiting 0."""

from __future__ import annotations

import os

import pytest

from realengine import demo

pytestmark = pytest.mark.real_engine


def test_demo_grants_reruns_quietly_diagnoses_and_destroys_only_its_statement(
    capsys: pytest.CaptureFixture[str], pulumi_cli_dir: object
) -> None:
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    assert demo.main() == 0
    # The demo points this process's AWS clients at its server only while it runs: left
    # set, every later test's boto3 client would call a closed port.
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before

    out = capsys.readouterr().out
    assert "REAL PULUMI CLI" in out
    preview, up, again, doctor, destroy = (
        out.split("$ pulumi preview")[1].split("$ pulumi")[0],
        out.split("$ pulumi up --yes --skip-preview")[1],
        out.split("$ pulumi up --yes --expect-no-changes")[1].split("==")[0],
        out.split("== python -m components.doctor orders-api --region us-east-1")[1],
        out.split("$ pulumi destroy --yes --skip-preview")[1],
    )
    # The CLI's own words: what preview would do, what up did.
    assert "+ 9 to create" in preview
    assert "aws:ecr:RepositoryPolicy orders-api-policy-orders/api create" in preview
    assert "+ 9 created" in up
    assert '+      "Sid": "AllowLightsailPull-orders-api",' in up
    assert "9 unchanged" in again
    healthy, frozen, lifted = doctor.split("\n== ")[:3]
    assert healthy.strip() == "orders-api in us-east-1: 0 problems, 0 warnings (exit 0)"
    assert "problem  deny        orders/api: statement SecurityTeamFreezePulls denies" in frozen
    assert lifted.split("\n$ pulumi")[0].rstrip().endswith("0 problems, 0 warnings (exit 0)")
    guarded = out.split("== the platform team's stack")[1].split("$ pulumi destroy")[0]
    assert "[mandatory]  repository-policy-keeps-live-statements" in guarded
    assert "AllowLightsailPull-orders-api" in guarded
    assert "nothing was written: this service's grant is still in the policy." in guarded
    assert "- 9 deleted" in destroy
    assert '-      "Sid": "AllowLightsailPull-orders-api",' in destroy
    assert "the other teams' statements are intact." in destroy
