"""The README's first command: the demo tells its story and exits 0."""

from __future__ import annotations

import pytest

from emulation import demo


def test_demo_grants_reruns_quietly_and_destroys_only_its_statement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert demo.main() == 0

    out = capsys.readouterr().out
    assert out.startswith("EMULATED AWS")
    assert "== pulumi preview: would have 5 created; nothing was changed" in out
    up, again, destroy = (
        out.split("== pulumi up:")[1],
        out.split("== pulumi up, again:")[1],
        out.split("== pulumi destroy:")[1],
    )
    assert '+      "Sid": "AllowLightsailPull-orders-api",' in up
    assert "created   orders-api-deployment" in up
    assert "nothing to change" in again.split("==")[0]
    assert '-      "Sid": "AllowLightsailPull-orders-api",' in destroy
    assert "the other teams' statements are intact." in destroy
    assert "pulumi preview --diff" in out
