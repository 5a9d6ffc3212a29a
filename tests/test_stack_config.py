"""A misspelt key or field is refused by name, before anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from components.rules.deployment import ContainerSpec, PublicEndpointSpec, container_args
from components.rules.stack_config import (
    CONTAINER_FIELDS,
    PUBLIC_ENDPOINT_FIELDS,
    check_config_keys,
    check_fields,
    closest,
)
from emulation.cloud import EmulatedAws
from emulation.engine import DeploymentFailed, Engine
from tests.conftest import REGION, ROOT, refusal

PROJECT = "lightsail-ecr-access"
DECLARED = ("serviceName", "power", "scale", "repositories", "containers", "publicEndpoint")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("repository", "repositories"),
        ("servicename", "serviceName"),
        ("Power", "power"),
        ("publicEndPoint", "publicEndpoint"),
        ("container", "containers"),
    ],
)
def test_a_misspelt_key_is_refused_naming_the_closest(typo: str, meant: str) -> None:
    message = refusal(check_config_keys, PROJECT, ["serviceName", typo], DECLARED)
    assert f"config key `{PROJECT}:{typo}` is not a key of this project" in message
    assert f"did you mean `{meant}`?" in message
    assert f"pulumi config rm {PROJECT}:{typo}, then set it as {PROJECT}:{meant}" in message
    assert "Nothing was changed" in message


def test_a_key_like_no_other_is_refused_without_a_guess() -> None:
    message = refusal(check_config_keys, PROJECT, ["zzz", "qqq"], DECLARED)
    assert f"`{PROJECT}:qqq` (and zzz)" in message
    assert "did you mean" not in message
    assert f"`pulumi config rm {PROJECT}:qqq`" in message


def test_declared_keys_pass() -> None:
    check_config_keys(PROJECT, DECLARED, DECLARED)
    check_config_keys(PROJECT, [], DECLARED)


def test_closest_ignores_case_and_gives_up_when_nothing_is_near() -> None:
    assert closest("REPOSITORIES", DECLARED) == "repositories"
    assert closest("x", DECLARED) is None


def test_the_program_reads_exactly_the_keys_pulumi_yaml_declares_and_documents() -> None:
    import ast

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    typed = set(project["config"])
    documented = {"tags", "containers", "publicEndpoint"}  # object keys, in its comments
    text = (ROOT / "Pulumi.yaml").read_text()
    assert all(f"#   {key}" in text for key in documented)
    main = ast.parse((ROOT / "__main__.py").read_text())
    keys = next(
        node.value
        for node in ast.walk(main)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "KEYS" for t in node.targets)
    )
    assert set(ast.literal_eval(keys)) == typed | documented


def test_the_field_lists_are_the_specs_fields() -> None:
    assert tuple(ContainerSpec.__annotations__) == CONTAINER_FIELDS
    assert tuple(PublicEndpointSpec.__annotations__) == PUBLIC_ENDPOINT_FIELDS


@pytest.mark.parametrize(
    ("field", "meant"),
    [("repo", "repository"), ("image_tag", "tag"), ("env", "environment"), ("x", None)],
)
def test_an_unknown_container_field_is_refused(field: str, meant: str | None) -> None:
    spec = {"name": "web", "repository": "team/app", "tag": "v1", field: "x"}
    message = refusal(container_args, [spec], {"team/app": "prefix"})
    assert f"container 'web' has no field {field!r}" in message
    assert "its fields are name, repository, tag, ports, environment, command" in message
    assert (f"did you mean `{meant}`?" in message) if meant else ("did you mean" not in message)


def test_an_unknown_endpoint_field_is_refused() -> None:
    message = refusal(
        check_fields, {"container": "web", "prot": 80}, PUBLIC_ENDPOINT_FIELDS, "publicEndpoint"
    )
    assert "publicEndpoint has no field 'prot': did you mean `port`?" in message


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        aws.create_repository("orders/api")
        yield aws


def test_a_misspelt_key_stops_the_run_before_anything_is_written(cloud: EmulatedAws) -> None:
    config: dict[str, Any] = {
        "aws:region": REGION,
        f"{PROJECT}:serviceName": "orders",
        f"{PROJECT}:repository": ["orders/api"],  # singular: a typo
    }
    engine = Engine(ROOT, "dev", {"config": config})

    for run in (engine.preview, engine.up):
        with pytest.raises(DeploymentFailed, match="did you mean `repositories`"):
            run()

    assert engine.state == {} and cloud.lightsail.services == {}
    assert cloud.policy("orders/api") is None


def test_keys_that_cannot_be_listed_are_said_not_checked_silently(
    cloud: EmulatedAws, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A later SDK that keeps its config map elsewhere: typos would pass unseen; say so."""
    config: dict[str, Any] = {
        "aws:region": REGION,
        f"{PROJECT}:serviceName": "orders",
        f"{PROJECT}:repository": ["orders/api"],
    }
    engine = Engine(ROOT, "dev", {"config": config})
    monkeypatch.setattr("components.program.stack_config.project_keys", lambda project: [])

    with caplog.at_level("WARNING"):
        engine.preview()

    assert "misspelt keys are not checked in this run" in caplog.text
