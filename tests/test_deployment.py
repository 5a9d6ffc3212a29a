"""Tests of components/rules/deployment.py: containers may use only granted repositories."""

from __future__ import annotations

from typing import Any

import pytest

from components.rules.deployment import container_args, public_endpoint_args
from components.rules.errors import ConfigurationError
from components.rules.repository import image_uri_prefix
from tests.conftest import ACCOUNT, REGION, refusal

APP = image_uri_prefix(ACCOUNT, REGION, "team/app")
WORKER = image_uri_prefix(ACCOUNT, REGION, "team/worker")
APP_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app"
PREFIXES = {"team/app": APP, APP_ARN: APP, "team/worker": WORKER}


def web(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "web", "repository": "team/app", "tag": "v1"}
    spec.update(overrides)
    return spec


# --- container_args: the happy path ---------------------------------------------------


def test_minimal_container_builds_the_image_from_the_prefix_map() -> None:
    assert container_args([web()], PREFIXES) == [
        {"container_name": "web", "image": f"{APP}:v1", "ports": {}}
    ]


def test_repository_may_be_named_in_any_granted_form() -> None:
    (args,) = container_args([web(repository=APP_ARN, tag="1.0.0")], PREFIXES)
    assert args["image"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:1.0.0"


def test_full_container_maps_command_keeps_environment_and_stringifies_ports() -> None:
    spec = web(
        ports={8080: "HTTP", "9090": "TCP"},
        environment={"MODE": "prod", "LEVEL": "info"},
        command=["python", "-m", "app"],
    )
    (args,) = container_args([spec], PREFIXES)
    assert args == {
        "container_name": "web",
        "image": f"{APP}:v1",
        "ports": {"8080": "HTTP", "9090": "TCP"},
        "environment": {"MODE": "prod", "LEVEL": "info"},
        "commands": ["python", "-m", "app"],
    }
    assert "command" not in args
    assert all(isinstance(port, str) for port in args["ports"])


def test_command_given_as_a_tuple_becomes_a_list() -> None:
    (args,) = container_args([web(command=("serve",))], PREFIXES)
    assert args["commands"] == ["serve"]


def test_inputs_are_copied_not_shared() -> None:
    environment = {"A": "1"}
    (args,) = container_args([web(environment=environment)], PREFIXES)
    environment["B"] = "2"
    assert args["environment"] == {"A": "1"}


def test_several_containers_keep_their_order_and_images() -> None:
    result = container_args(
        [web(), {"name": "worker", "repository": "team/worker", "tag": "latest"}], PREFIXES
    )
    assert [(c["container_name"], c["image"]) for c in result] == [
        ("web", f"{APP}:v1"),
        ("worker", f"{WORKER}:latest"),
    ]


def test_no_containers_gives_no_args() -> None:
    assert container_args([], PREFIXES) == []


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b_c.d", "a" * 128])
def test_valid_tags(tag: str) -> None:
    (args,) = container_args([web(tag=tag)], PREFIXES)
    assert args["image"] == f"{APP}:{tag}"


@pytest.mark.parametrize("protocol", ["HTTP", "HTTPS", "TCP", "UDP"])
def test_every_lightsail_protocol_is_accepted(protocol: str) -> None:
    (args,) = container_args([web(ports={"80": protocol})], PREFIXES)
    assert args["ports"] == {"80": protocol}


# --- container_args: errors ------------------------------------------------------------


@pytest.mark.parametrize("key", ["name", "repository", "tag"])
def test_missing_required_key_is_refused_naming_it(key: str) -> None:
    spec = web()
    del spec[key]
    message = refusal(container_args, [spec], PREFIXES)
    assert f"no {key!r}" in message
    assert "add it" in message


@pytest.mark.parametrize("key", ["name", "repository", "tag"])
def test_empty_required_key_is_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"no '{key}'"):
        container_args([web(**{key: ""})], PREFIXES)


def test_missing_repository_names_the_container() -> None:
    spec = web()
    del spec["repository"]
    with pytest.raises(ConfigurationError, match="container 'web' has no 'repository'"):
        container_args([spec], PREFIXES)


def test_repository_not_granted_is_refused_listing_what_is_granted() -> None:
    message = refusal(container_args, [web(repository="team/other")], PREFIXES)
    assert "'web'" in message
    assert "'team/other'" in message
    assert "not granted" in message
    assert "`repositories`" in message
    assert message.endswith(", ".join(sorted(PREFIXES)))


def test_repository_when_nothing_is_granted() -> None:
    with pytest.raises(ConfigurationError, match=r"\(none granted\)"):
        container_args([web()], {})


def test_image_uri_is_not_a_granted_repository_name() -> None:
    # The prefix map is keyed by how users name repositories, not by image prefixes.
    with pytest.raises(ConfigurationError, match="not granted"):
        container_args([web(repository=APP)], {"team/app": APP})


@pytest.mark.parametrize(
    "tag", ["-v1", ".v1", "v1:latest", "v 1", "a" * 129, "v1@sha256", "v1/2", "v1\n"]
)
def test_bad_tag_is_refused(tag: str) -> None:
    message = refusal(container_args, [web(tag=tag)], PREFIXES)
    assert repr(tag) in message
    assert "not a valid image tag" in message


@pytest.mark.parametrize(
    "ports",
    [{"8080": "http"}, {"8080": "GRPC"}, {"8080": None}, {"http": "HTTP"}, {"-1": "TCP"}],
)
def test_bad_port_or_protocol_is_refused(ports: dict[str, Any]) -> None:
    message = refusal(container_args, [web(ports=ports)], PREFIXES)
    ((port, protocol),) = ports.items()
    assert repr(port) in message
    assert repr(protocol) in message
    assert "HTTP, HTTPS, TCP, UDP" in message


def test_duplicate_container_names_are_refused() -> None:
    message = refusal(container_args, [web(), web(repository="team/worker")], PREFIXES)
    assert "'web'" in message
    assert "listed twice" in message


@pytest.mark.parametrize(
    "name", ["Web", "-web", "web-", "web_1", "web.1", "a" * 54, "web\n", 7, ["web"]]
)
def test_bad_container_name_is_refused(name: Any) -> None:
    message = refusal(container_args, [web(name=name)], PREFIXES)
    assert repr(name) in message
    assert "1 to 53 lowercase letters, digits and hyphens" in message


@pytest.mark.parametrize("name", ["a", "w1", "web-api", "a" * 53])
def test_valid_container_names(name: str) -> None:
    (args,) = container_args([web(name=name)], PREFIXES)
    assert args["container_name"] == name


# --- public_endpoint_args ---------------------------------------------------------------


@pytest.fixture
def deployed() -> list[dict[str, Any]]:
    return container_args(
        [
            web(ports={8080: "HTTP"}),
            {"name": "worker", "repository": "team/worker", "tag": "v2", "ports": {"9000": "TCP"}},
        ],
        PREFIXES,
    )


def test_public_endpoint_defaults_health_check_to_root(deployed: list[dict[str, Any]]) -> None:
    assert public_endpoint_args({"container": "web", "port": 8080}, deployed) == {
        "container_name": "web",
        "container_port": 8080,
        "health_check": {"path": "/"},
    }


def test_public_endpoint_with_string_port_and_health_check(
    deployed: list[dict[str, Any]],
) -> None:
    args = public_endpoint_args(
        {"container": "worker", "port": "9000", "health_check_path": "/healthz"}, deployed
    )
    assert args == {
        "container_name": "worker",
        "container_port": 9000,
        "health_check": {"path": "/healthz"},
    }
    assert isinstance(args["container_port"], int)


def test_public_endpoint_on_unknown_container_is_refused(deployed: list[dict[str, Any]]) -> None:
    message = refusal(public_endpoint_args, {"container": "api", "port": 8080}, deployed)
    assert "publicEndpoint" in message
    assert "'api'" in message
    assert "not deployed" in message


def test_public_endpoint_on_unopened_port_is_refused(deployed: list[dict[str, Any]]) -> None:
    message = refusal(public_endpoint_args, {"container": "web", "port": 9000}, deployed)
    assert "'web'" in message
    assert "does not open port 9000" in message
    assert "add it to its ports" in message


@pytest.mark.parametrize("key", ["container", "port"])
def test_public_endpoint_missing_key_is_refused(key: str, deployed: list[dict[str, Any]]) -> None:
    endpoint: dict[str, Any] = {"container": "web", "port": 8080}
    del endpoint[key]
    with pytest.raises(ConfigurationError, match=f"publicEndpoint has no '{key}'"):
        public_endpoint_args(endpoint, deployed)


@pytest.mark.parametrize("endpoint", ["web:8080", ["web", 8080]])
def test_public_endpoint_that_is_not_an_object_is_refused(
    endpoint: Any, deployed: list[dict[str, Any]]
) -> None:
    message = refusal(public_endpoint_args, endpoint, deployed)
    assert "must be an object with container and port" in message
    assert repr(endpoint) in message


@pytest.mark.parametrize(
    ("tag", "hint"),
    [
        (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:1.4.2", "'1.4.2'"),
        ("team/app:v2", "'v2'"),
        ("v1:latest", "'latest'"),
        ("team/app@sha256:abc", None),
    ],
)
def test_an_image_uri_given_as_the_tag_says_what_a_tag_is(tag: str, hint: str | None) -> None:
    message = refusal(container_args, [web(tag=tag)], PREFIXES)
    assert "a tag is 1 to 128 letters, digits" in message
    assert "give the tag alone, without registry, repository or digest" in message
    assert "made from `repository`" in message
    if hint is not None:
        assert f"here perhaps {hint}" in message
    else:
        assert "here perhaps" not in message


def test_a_bad_port_mapping_reads_as_a_sentence() -> None:
    message = refusal(container_args, [web(ports={"8080": "GRPC"})], PREFIXES)
    assert message == (
        "container 'web': `ports` maps each port number (1 to 65535) to its protocol, one of "
        "HTTP, HTTPS, TCP, UDP, as in {\"8080\": \"HTTP\"}; '8080': 'GRPC' is not such a pair"
    )
