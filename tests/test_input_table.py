# ruff: noqa: E501 - the table reads one input per line
"""Every input of the component and of the stack configuration, each wrong type, wrong
shape and out-of-range value, in one table: each is refused with a sentence that names
its key, before anything is read from or written to AWS.

Three ways in, the same errors:
- a Python program's arguments (``COMPONENT``): the component under Pulumi's mocks; its
  error carries the input's path, nothing registers, no AWS client is even built;
- the package's provider (``Construct``): the same rows in the schema's spelling; the
  engine is told the schema's key (``containers[0].command``), from the error's path;
- a stack's configuration (``STACK``): the project's ``__main__.py`` in the emulated
  engine; preview and up fail, and the state, Lightsail and the policy stay as they were.

docs/inputs.md lists the same inputs: a test holds its table to the rows here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from pulumi.errors import InputPropertiesError, InputPropertyError
from pulumi.provider.experimental.provider import ConstructRequest

from components.aws.identity import AwsIdentity
from components.container_service import PrivateEcrContainerService, PrivateEcrContainerServiceArgs
from components.program.plan import ARGUMENTS, check_inputs
from components.provider import component_io
from components.provider.values import property_value
from components.rules import type_tokens
from components.rules.errors import ConfigurationError, InputErrors
from emulation.cloud import EmulatedAws
from emulation.engine import DeploymentFailed, Engine
from tests.conftest import ACCOUNT, REGION, ROOT, run_coroutine
from tests.mock_program import PROJECT, Recording, RecordingMonitor, ServiceMocks, run_program

BASE: dict[str, Any] = {"service_name": "web", "region": REGION, "repositories": ["team/app"]}
WEB: dict[str, Any] = {
    "name": "web",
    "repository": "team/app",
    "tag": "v1",
    "ports": {"8080": "HTTP"},
}
ENDPOINT: dict[str, Any] = {"container": "web", "port": 8080}


def web(**fields: Any) -> dict[str, Any]:
    """BASE deploying one container, WEB with ``fields`` (None: the field left out)."""
    spec = {k: v for k, v in {**WEB, **fields}.items() if v is not None}
    return {"containers": [spec]}


def endpoint(**fields: Any) -> dict[str, Any]:
    """BASE deploying WEB behind a public endpoint with ``fields`` (None: left out)."""
    given = {k: v for k, v in {**ENDPOINT, **fields}.items() if v is not None}
    return {"containers": [WEB], "public_endpoint": given}


@dataclass(frozen=True)
class Row:
    """One bad input: ``given`` overrides BASE; the error's path, the schema's key for it
    (None: not an input of the schema), and words the message must hold besides the
    key's name ``names``."""

    doc: str
    """The input as docs/inputs.md lists it."""
    given: dict[str, Any]
    path: tuple[str | int, ...]
    schema: str | None
    names: str
    words: str = ""

    @property
    def id(self) -> str:
        return f"{self.doc}={self.given!r}"[:90]


C0 = ("containers", 0)
LONG_KEY = "k" * 129
FIFTY_ONE = {f"t{i}": "x" for i in range(51)}

COMPONENT = [
    # --- the service ---------------------------------------------------------------
    Row("serviceName", {"service_name": None}, ("service_name",), "serviceName", "serviceName"),
    Row("serviceName", {"service_name": "Orders_API"}, ("service_name",), "serviceName", "serviceName", "1 to 63 lowercase"),
    Row("serviceName", {"service_name": 5}, ("service_name",), "serviceName", "serviceName"),
    Row("serviceName", {"service_name": "a" * 64}, ("service_name",), "serviceName", "serviceName"),
    Row("serviceName", {"service_name": "-web"}, ("service_name",), "serviceName", "serviceName", "no hyphen at either end"),
    Row("region", {"region": "us-easty-1"}, ("region",), "region", "region", "did you mean us-east-1? Set it with `pulumi config set aws:region us-east-1`"),
    Row("region", {"region": "eu-wst-1"}, ("region",), "region", "region", "did you mean eu-west-1?"),
    Row("region", {"region": "US-EAST-1"}, ("region",), "region", "region", "not an AWS Region code"),
    Row("region", {"region": "us-east-1a"}, ("region",), "region", "region", "not an AWS Region code"),
    Row("region", {"region": 1}, ("region",), "region", "region"),
    Row("region", {"region": None}, ("region",), "region", "region", "aws:region"),
    Row("power", {"power": "huge"}, ("power",), "power", "power", "nano, micro, small, medium, large, xlarge"),
    Row("power", {"power": 1}, ("power",), "power", "power", "nano, micro"),
    Row("power", {"power": ["nano"]}, ("power",), "power", "power", "nano, micro"),
    Row("scale", {"scale": 0}, ("scale",), "scale", "scale", "1 to 20 nodes"),
    Row("scale", {"scale": 21}, ("scale",), "scale", "scale", "1 to 20 nodes"),
    Row("scale", {"scale": True}, ("scale",), "scale", "scale", "whole number"),
    Row("scale", {"scale": 1.5}, ("scale",), "scale", "scale", "whole number"),
    Row("scale", {"scale": "2"}, ("scale",), "scale", "scale", "whole number"),
    Row("privateRegistryAccess", {"private_registry_access": "yes"}, ("private_registry_access",), "privateRegistryAccess", "privateRegistryAccess", "true or false, got text 'yes'"),
    Row("privateRegistryAccess", {"private_registry_access": 1}, ("private_registry_access",), "privateRegistryAccess", "privateRegistryAccess", "true or false"),
    Row("adoptExistingService", {"adopt_existing_service": "true"}, ("adopt_existing_service",), "adoptExistingService", "adoptExistingService", "true or false"),
    Row("adoptExistingService", {"adopt_existing_service": 0}, ("adopt_existing_service",), "adoptExistingService", "adoptExistingService", "true or false"),
    Row("pullerRoleTimeoutSeconds", {"puller_role_timeout_seconds": 0}, ("puller_role_timeout_seconds",), "pullerRoleTimeoutSeconds", "pullerRoleTimeoutSeconds", "above 0 and at most 3600"),
    Row("pullerRoleTimeoutSeconds", {"puller_role_timeout_seconds": -5}, ("puller_role_timeout_seconds",), "pullerRoleTimeoutSeconds", "pullerRoleTimeoutSeconds", "above 0"),
    Row("pullerRoleTimeoutSeconds", {"puller_role_timeout_seconds": 3601}, ("puller_role_timeout_seconds",), "pullerRoleTimeoutSeconds", "pullerRoleTimeoutSeconds", "at most 3600"),
    Row("pullerRoleTimeoutSeconds", {"puller_role_timeout_seconds": "300"}, ("puller_role_timeout_seconds",), "pullerRoleTimeoutSeconds", "pullerRoleTimeoutSeconds", "number of seconds"),
    Row("pullerRoleTimeoutSeconds", {"puller_role_timeout_seconds": True}, ("puller_role_timeout_seconds",), "pullerRoleTimeoutSeconds", "pullerRoleTimeoutSeconds", "number of seconds"),
    # --- repositories --------------------------------------------------------------
    Row("repositories", {"repositories": "team/app"}, ("repositories",), "repositories", "repositories", "must be a list, got text 'team/app'"),
    Row("repositories", {"repositories": {"team/app": 1}}, ("repositories",), "repositories", "repositories", "must be a list, got a map"),
    Row("repositories", {"repositories": [5]}, ("repositories", 0), "repositories[0]", "repositories", "not a repository reference"),
    Row("repositories", {"repositories": ["team/app", "Team App"]}, ("repositories", 1), "repositories[1]", "repositories", "neither an ECR repository name"),
    Row("repositories", {"repositories": [f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:v1"]}, ("repositories", 0), "repositories[0]", "repositories", "names an image"),
    Row("repositories", {"repositories": ["team/app", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app"]}, ("repositories", 1), "repositories[1]", "repositories", "listed twice"),
    Row("repositories", {"repositories": [f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app"]}, ("repositories", 0), "repositories[0]", "repositories", "Lightsail pulls only from repositories in its own Region"),
    # --- tags ------------------------------------------------------------------------
    Row("tags", {"tags": ["team", "orders"]}, ("tags",), "tags", "tags", "must be a map of name to text, as in {team: orders}; got a list"),
    Row("tags", {"tags": "team=orders"}, ("tags",), "tags", "tags", "got text"),
    Row("tags", {"tags": ["team=orders"]}, ("tags",), "tags", "tags", "here: {team: orders}"),
    Row("tags", {"tags": {"cost": 12.5}}, ("tags", "cost"), "tags.cost", "tags", "decimal number 12.5"),
    Row("tags", {"tags": {"team": None}}, ("tags", "team"), "tags.team", "tags", "is null"),
    Row("tags", {"tags": {"team": ["a"]}}, ("tags", "team"), "tags.team", "tags", "is a list"),
    Row("tags", {"tags": {"": "x"}}, ("tags",), "tags", "tags", "non-empty text"),
    Row("tags", {"tags": {"aws:team": "x"}}, ("tags", "aws:team"), 'tags["aws:team"]', "tags", "does not start with 'aws:'"),
    Row("tags", {"tags": {LONG_KEY: "x"}}, ("tags", LONG_KEY), f"tags.{LONG_KEY}", "tags", "1 to 128 characters"),
    Row("tags", {"tags": {"team": "v" * 257}}, ("tags", "team"), "tags.team", "tags", "at most 256"),
    Row("tags", {"tags": FIFTY_ONE}, ("tags",), "tags", "tags", "at most 50"),
    # --- containers ------------------------------------------------------------------
    Row("containers", {"containers": {"name": "web"}}, ("containers",), "containers", "containers", "must be a list, got a map"),
    Row("containers", {"containers": "web"}, ("containers",), "containers", "containers", "must be a list, got text"),
    Row("containers", {"containers": [5]}, C0, "containers[0]", "containers", "must be an object with name, repository and tag"),
    Row("containers", {"containers": [WEB, {**WEB, "repository": "team/app"}]}, (*C0[:1], 1, "name"), "containers[1].name", "containers", "listed twice"),
    Row("containers", {"containers": [{**WEB, "env": {"A": "b"}}]}, (*C0, "env"), "containers[0].env", "field", "did you mean `environment`?"),
    Row("containers", {"private_registry_access": False, **web()}, (*C0, "repository"), "containers[0].repository", "repositories", "not granted"),
    Row("containers[].name", web(name=None), (*C0, "name"), "containers[0].name", "name", "add it"),
    Row("containers[].name", web(name="Web"), (*C0, "name"), "containers[0].name", "name", "1 to 53 lowercase"),
    Row("containers[].name", web(name=7), (*C0, "name"), "containers[0].name", "name", "1 to 53 lowercase"),
    Row("containers[].repository", web(repository=None), (*C0, "repository"), "containers[0].repository", "repository", "add it"),
    Row("containers[].repository", web(repository="team/other"), (*C0, "repository"), "containers[0].repository", "repository", "not granted"),
    Row("containers[].tag", web(tag=None), (*C0, "tag"), "containers[0].tag", "tag", "add it"),
    Row("containers[].tag", web(tag="-v1"), (*C0, "tag"), "containers[0].tag", "tag", "not a valid image tag"),
    Row("containers[].tag", web(tag=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app:v1"), (*C0, "tag"), "containers[0].tag", "tag", "give the tag alone"),
    Row("containers[].tag", web(tag=1.1), (*C0, "tag"), "containers[0].tag", "tag", "decimal number 1.1"),
    Row("containers[].tag", web(tag=["v1"]), (*C0, "tag"), "containers[0].tag", "tag", "it takes text"),
    Row("containers[].ports", web(ports=[8080]), (*C0, "ports"), "containers[0].ports", "ports", 'map of port number to protocol, as in {"8080": "HTTP"}; got a list [8080]'),
    Row("containers[].ports", web(ports="8080"), (*C0, "ports"), "containers[0].ports", "ports", "got text"),
    Row("containers[].ports", web(ports={"8080": "GRPC"}), (*C0, "ports", "8080"), 'containers[0].ports["8080"]', "ports", "HTTP, HTTPS, TCP, UDP"),
    Row("containers[].ports", web(ports={"99999": "HTTP"}), (*C0, "ports", "99999"), 'containers[0].ports["99999"]', "ports", "1 to 65535"),
    Row("containers[].ports", web(ports={"http": "HTTP"}), (*C0, "ports", "http"), "containers[0].ports.http", "ports", "1 to 65535"),
    Row("containers[].environment", web(environment=["LOG_LEVEL=info"]), (*C0, "environment"), "containers[0].environment", "environment", "got a list ['LOG_LEVEL=info']; here: {LOG_LEVEL: info}"),
    Row("containers[].environment", web(environment="LOG_LEVEL=info"), (*C0, "environment"), "containers[0].environment", "environment", "map of name to text"),
    Row("containers[].environment", web(environment={"RATE": 1.5}), (*C0, "environment", "RATE"), "containers[0].environment.RATE", "environment RATE", "quote it"),
    Row("containers[].environment", web(environment={"MODE": None}), (*C0, "environment", "MODE"), "containers[0].environment.MODE", "environment MODE", "is null"),
    Row("containers[].environment", web(environment={"MODE": {"a": 1}}), (*C0, "environment", "MODE"), "containers[0].environment.MODE", "environment MODE", "is a map"),
    Row("containers[].environment", web(environment={"": "x"}), (*C0, "environment"), "containers[0].environment", "environment", "non-empty text"),
    Row("containers[].command", web(command="python -m app"), (*C0, "command"), "containers[0].command", "command", "list of words, as Lightsail takes it, got the text 'python -m app'; write it as ['python', '-m', 'app']"),
    Row("containers[].command", web(command={"run": "app"}), (*C0, "command"), "containers[0].command", "command", "got a map"),
    Row("containers[].command", web(command=[["python"]]), (*C0, "command", 0), "containers[0].command[0]", "command", "is a list"),
    Row("containers[].command", web(command=["sleep", 0.5]), (*C0, "command", 1), "containers[0].command[1]", "command", "decimal number 0.5"),
    # --- the public endpoint ---------------------------------------------------------
    Row("publicEndpoint", {"containers": [WEB], "public_endpoint": ["web"]}, ("public_endpoint",), "publicEndpoint", "publicEndpoint", "must be an object with container and port, got a list"),
    Row("publicEndpoint", {"containers": [WEB], "public_endpoint": "web:8080"}, ("public_endpoint",), "publicEndpoint", "publicEndpoint", "got text"),
    Row("publicEndpoint", {"public_endpoint": ENDPOINT}, ("public_endpoint",), "publicEndpoint", "publicEndpoint", "`containers` is empty"),
    Row("publicEndpoint", endpoint(prot=80), ("public_endpoint", "prot"), "publicEndpoint.prot", "publicEndpoint", "did you mean `port`?"),
    Row("publicEndpoint.container", endpoint(container=None), ("public_endpoint", "container"), "publicEndpoint.container", "container", "add it"),
    Row("publicEndpoint.container", endpoint(container="api"), ("public_endpoint", "container"), "publicEndpoint.container", "container", "not deployed"),
    Row("publicEndpoint.port", endpoint(port=None), ("public_endpoint", "port"), "publicEndpoint.port", "port", "add it"),
    Row("publicEndpoint.port", endpoint(port="x"), ("public_endpoint", "port"), "publicEndpoint.port", "port", "1 to 65535"),
    Row("publicEndpoint.port", endpoint(port=0), ("public_endpoint", "port"), "publicEndpoint.port", "port", "1 to 65535"),
    Row("publicEndpoint.port", endpoint(port=70000), ("public_endpoint", "port"), "publicEndpoint.port", "port", "1 to 65535"),
    Row("publicEndpoint.port", endpoint(port=True), ("public_endpoint", "port"), "publicEndpoint.port", "port", "a boolean"),
    Row("publicEndpoint.port", endpoint(port=9000), ("public_endpoint", "port"), "publicEndpoint.port", "port", "does not open port 9000"),
    Row("publicEndpoint.health_check_path", endpoint(health_check_path="healthz"), ("public_endpoint", "health_check_path"), "publicEndpoint.healthCheckPath", "health_check_path", "starting with '/'"),
    Row("publicEndpoint.health_check_path", endpoint(health_check_path=5), ("public_endpoint", "health_check_path"), "publicEndpoint.healthCheckPath", "health_check_path", "a number"),
    # --- how to reach AWS, and keys the component does not take ----------------------
    Row("aws_identity", {"aws_identity": "prod"}, ("aws_identity",), "awsIdentity", "aws_identity", "'prod'"),
    Row("(any other key)", {"servicename": "web"}, ("servicename",), "servicename", "servicename", "did you mean"),
]  # fmt: skip


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS client the component builds (the one way it reaches AWS): none, here."""
    from components.aws import sdk

    built: list[str] = []
    monkeypatch.setattr(sdk, "client", lambda service, *_, **__: built.append(service))
    return built


def test_the_base_arguments_are_good_so_each_row_fails_for_its_own_input() -> None:
    assert check_inputs(BASE).service_name == "web"
    checked = check_inputs({**BASE, **endpoint(health_check_path="/up")})
    assert checked.public_endpoint == {
        "container_name": "web",
        "container_port": 8080,
        "health_check": {"path": "/up"},
    }


def test_every_argument_of_the_component_has_rows() -> None:
    arguments = set(PrivateEcrContainerServiceArgs.__annotations__)
    assert set(ARGUMENTS) == arguments
    assert {key for row in COMPONENT for key in row.given if key in arguments} | {
        row.path[0] for row in COMPONENT
    } >= arguments


@pytest.mark.parametrize("row", COMPONENT, ids=lambda row: row.id)
def test_a_bad_argument_is_refused_by_name_before_anything(row: Row, no_aws: list[str]) -> None:
    args = {**BASE, **row.given}
    recording = Recording()

    with pytest.raises(ConfigurationError) as raised:
        run_program(lambda: PrivateEcrContainerService("web", args), recording=recording)  # type: ignore[arg-type]

    error = raised.value
    assert not isinstance(error, InputErrors), str(error)
    assert error.path == row.path, str(error)
    assert row.names in str(error) and row.words in str(error), str(error)
    assert recording.resources == [] and no_aws == []


def _schema_inputs(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as a consumer of the package writes them (camelCase, healthCheckPath)."""
    to_schema = {argument: key for key, argument in component_io.INPUTS.items()}
    given: dict[str, Any] = {}
    for key, value in args.items():
        if key == "public_endpoint" and isinstance(value, dict):
            value = {
                "healthCheckPath" if k == "health_check_path" else k: v for k, v in value.items()
            }
        if value is not None:
            given[to_schema.get(key, key)] = value
    return given


def _construct(inputs: dict[str, Any]) -> Recording:
    recording = Recording()
    mocks = ServiceMocks(preview=True)
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT,
        stack="test",
        preview=True,
        monitor=RecordingMonitor(mocks, recording),
    )
    request = ConstructRequest(
        type_tokens.COMPONENT,
        "web",
        {k: property_value(v) for k, v in inputs.items()},
        pulumi.ResourceOptions(),
    )
    run_coroutine(component_io.construct(request))
    return recording


@pytest.mark.parametrize("row", [r for r in COMPONENT if r.schema], ids=lambda row: row.id)
def test_through_construct_the_error_is_on_the_schemas_key(row: Row, no_aws: list[str]) -> None:
    with pytest.raises(InputPropertyError) as raised:
        _construct(_schema_inputs({**BASE, **row.given}))

    assert raised.value.property_path == row.schema
    assert row.words in raised.value.reason
    assert no_aws == []


def test_several_bad_inputs_are_all_named_at_once(no_aws: list[str]) -> None:
    args = {
        **BASE,
        "scale": 40,
        "tags": ["team"],
        **web(command="serve now"),
        "region": "us-easty-1",
    }

    with pytest.raises(InputErrors) as raised:
        run_program(lambda: PrivateEcrContainerService("web", args))  # type: ignore[arg-type]
    assert [e.path for e in raised.value.errors] == [
        ("region",),
        ("scale",),
        ("tags",),
        ("containers", 0, "command"),
    ]
    assert str(raised.value).startswith("4 inputs cannot be used; nothing was changed:\n  - ")

    with pytest.raises(InputPropertiesError) as through_construct:
        _construct(_schema_inputs(args))
    assert [e["property_path"] for e in through_construct.value.errors or []] == [
        "region",
        "scale",
        "tags",
        "containers[0].command",
    ]
    assert no_aws == []


def test_numbers_and_booleans_are_taken_as_the_text_yaml_wrote() -> None:
    checked = check_inputs(
        {
            **BASE,
            "tags": {"cost-center": 1234, "billable": False},
            **web(environment={"WORKERS": 4, "DEBUG": True}, command=["sleep", 30], tag=2),
        }
    )
    assert checked.tags == {"cost-center": "1234", "billable": "false"}
    (container,) = checked.containers
    assert container["environment"] == {"WORKERS": "4", "DEBUG": "true"}
    assert container["commands"] == ["sleep", "30"]
    assert container["tag"] == "2"


def test_tags_that_are_outputs_pass_unread() -> None:
    team = pulumi.Output.from_input("orders")
    assert check_inputs({**BASE, "tags": {"team": team}}).tags == {"team": team}


def test_an_identity_passes() -> None:
    assert check_inputs({**BASE, "aws_identity": AwsIdentity(profile="ops")}).region == REGION


# --- the stack's configuration, through the project's program -----------------------

P = "lightsail-ecr-access"
STACK_BASE: dict[str, Any] = {
    "aws:region": REGION,
    f"{P}:serviceName": "orders",
    f"{P}:repositories": ["orders/api"],
}
API: dict[str, Any] = {
    "name": "api",
    "repository": "orders/api",
    "tag": "1.0",
    "ports": {"8080": "HTTP"},
}


class _LeftOut:
    """A key the row leaves unset (its repr is fixed, so test ids match across workers)."""

    def __repr__(self) -> str:
        return "<left out>"


LEFT_OUT = _LeftOut()


@dataclass(frozen=True)
class StackRow:
    doc: str
    config: dict[str, Any]
    """Overrides of STACK_BASE (LEFT_OUT: the key is not set)."""
    words: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc}={self.config!r}"[:90]


def api(**fields: Any) -> dict[str, Any]:
    return {f"{P}:containers": [{**API, **fields}]}


STACK = [
    StackRow("serviceName", {f"{P}:serviceName": LEFT_OUT}, [f"{P}:serviceName"]),
    StackRow("serviceName", {f"{P}:serviceName": "Orders"}, ["serviceName 'Orders'"]),
    StackRow("region", {"aws:region": LEFT_OUT}, ["aws:region"]),
    StackRow("region", {"aws:region": "us-easty-1"}, ["region 'us-easty-1'", "did you mean us-east-1?", "pulumi config set aws:region us-east-1"]),
    StackRow("power", {f"{P}:power": 5}, ["power 5", "nano, micro"]),
    StackRow("power", {f"{P}:power": "huge"}, ["power 'huge'"]),
    StackRow("scale", {f"{P}:scale": "abc"}, ["scale 'abc'", "1 to 20"]),
    StackRow("scale", {f"{P}:scale": 40}, ["scale 40", "1 to 20"]),
    StackRow("repositories", {f"{P}:repositories": "orders/api"}, ["repositories must be a list, got text 'orders/api'"]),
    StackRow("privateRegistryAccess", {f"{P}:privateRegistryAccess": "yes"}, ["privateRegistryAccess must be true or false, got text 'yes'"]),
    StackRow("adoptExistingService", {f"{P}:adoptExistingService": "maybe"}, ["adoptExistingService must be true or false"]),
    StackRow("tags", {f"{P}:tags": ["team", "orders"]}, ["tags must be a map of name to text"]),
    StackRow("tags", {f"{P}:tags": {"cost": 12.5}}, ["tags cost is the decimal number 12.5"]),
    StackRow("containers", {f"{P}:containers": {"name": "api"}}, ["containers must be a list, got a map"]),
    StackRow("containers[].command", api(command="python -m app"), ["container 'api': `command` must be a list of words", "['python', '-m', 'app']"]),
    StackRow("containers[].environment", api(environment=["LOG_LEVEL=info"]), ["container 'api': environment must be a map of name to text", "here: {LOG_LEVEL: info}"]),
    StackRow("containers[].ports", api(ports=[8080]), ["container 'api': `ports` must be a map of port number to protocol", "got a list [8080]"]),
    StackRow("containers[].tag", api(tag=1.1), ["container 'api': tag is the decimal number 1.1"]),
    StackRow("publicEndpoint", {**api(), f"{P}:publicEndpoint": ["api"]}, ["publicEndpoint must be an object with container and port, got a list"]),
    StackRow("publicEndpoint.port", {**api(), f"{P}:publicEndpoint": {"container": "api", "port": "x"}}, ["publicEndpoint: port must be a port number", "got text 'x'"]),
    StackRow("(any other key)", {f"{P}:repository": ["orders/api"]}, [f"`{P}:repository`", "did you mean `repositories`?"]),
]  # fmt: skip


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws:
        aws.create_repository("orders/api")
        aws.push_image("orders/api", "1.0")
        yield aws


def _engine(overrides: dict[str, Any]) -> Engine:
    config = {k: v for k, v in {**STACK_BASE, **overrides}.items() if v is not LEFT_OUT}
    return Engine(ROOT, "dev", {"config": config})


_WRITE = re.compile(r":(Create|Update|Delete|Set|Put|Tag|Untag|Attach|Detach)")


@pytest.mark.parametrize("row", STACK, ids=lambda row: row.id)
def test_a_bad_stack_setting_stops_preview_and_up_before_any_write(
    row: StackRow, cloud: EmulatedAws
) -> None:
    engine = _engine(row.config)

    with cloud.record_calls() as calls:
        for run in (engine.preview, engine.up):
            with pytest.raises(DeploymentFailed) as raised:
                run()
            for words in row.words:
                assert words in str(raised.value), str(raised.value)

    assert [op for op in calls.counts if _WRITE.search(op[1])] == []
    assert engine.state == {} and cloud.lightsail.services == {}
    assert cloud.policy("orders/api") is None


def test_numbers_and_booleans_in_a_stack_reach_lightsail_as_text(cloud: EmulatedAws) -> None:
    engine = _engine(
        {
            f"{P}:tags": {"cost-center": 1234},
            **api(environment={"WORKERS": 4, "DEBUG": True}, command=["sleep", 30]),
        }
    )

    engine.up()

    service = cloud.lightsail.service("orders", REGION)
    assert {"key": "cost-center", "value": "1234"} in service.tags
    (container,) = service.deployments[-1]["containers"].values()
    assert container["environment"] == {"WORKERS": "4", "DEBUG": "true"}
    assert container["command"] == ["sleep", "30"]


# --- docs/inputs.md ---------------------------------------------------------------------


def test_the_docs_list_exactly_the_inputs_of_the_table() -> None:
    text = (ROOT / "docs" / "inputs.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)`", text, flags=re.MULTILINE))
    tested = {row.doc for row in COMPONENT} | {row.doc for row in STACK}
    assert documented == tested
