"""The README's first command: the demo tells its story, the doctor's diagnosis and the
policy pack's stop included, and exits 0."""

from __future__ import annotations

import pytest

from emulation import demo


def test_demo_grants_reruns_quietly_diagnoses_and_destroys_only_its_statement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert demo.main() == 0

    out = capsys.readouterr().out
    assert out.startswith("EMULATED AWS")
    assert "== pulumi preview: would have 7 created; nothing was changed" in out
    up, again, doctor, destroy = (
        out.split("== pulumi up:")[1],
        out.split("== pulumi up, again:")[1],
        out.split("== python -m components.doctor orders-api --region us-east-1")[1],
        out.split("== pulumi destroy:")[1],
    )
    assert '+      "Sid": "AllowLightsailPull-orders-api",' in up
    assert "created   orders-api-deployment" in up
    assert "nothing to change" in again.split("==")[0]
    healthy, frozen, lifted = doctor.split("\n== ")[:3]
    assert healthy.strip() == "orders-api in us-east-1: 0 problems, 0 warnings (exit 0)"
    assert "problem  deny        orders/api: statement SecurityTeamFreezePulls denies" in frozen
    assert "fix: the owner of statement SecurityTeamFreezePulls must leave" in frozen
    assert "ok       policy      orders/api: statement AllowLightsailPull-orders-api" in frozen
    assert "ok       image       orders/api:1.4.2: exists" in frozen
    assert frozen.rstrip().endswith("orders-api in us-east-1: 1 problem, 0 warnings")
    assert lifted.rstrip().endswith("0 problems, 0 warnings (exit 0)")
    guarded = out.split("== the platform team's stack")[1].split("== pulumi destroy:")[0]
    assert "mandatory policy violation, repository-policy-keeps-live-statements:" in guarded
    assert "would remove 1 statement(s) that are live on ECR repository orders/api" in guarded
    assert ": AllowLightsailPull-orders-api. Fix:" in guarded
    assert "nothing was written: this service's grant is still in the policy." in guarded
    assert '-      "Sid": "AllowLightsailPull-orders-api",' in destroy
    assert "the other teams' statements are intact." in destroy
    assert "pulumi preview --diff" in out
