"""The package's provider, without an engine: its inputs, its schema, its dispatch, its
secrets and its Cancel. (Through the real CLI: tests/real_engine/test_package_provider.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pulumi.errors import InputPropertiesError, InputPropertyError
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import CheckRequest, ConfigureRequest, CreateRequest

from components.aws.identity import AssumedRole, AwsIdentity
from components.container_service import PrivateEcrContainerService, PrivateEcrContainerServiceArgs
from components.dynamic_providers import AdoptionCheckProvider, PullerRoleProvider
from components.provider import component_io, schema
from components.provider.plugin import LightsailEcrProvider, _worker
from components.provider.values import WIRE_UNKNOWN, property_value
from components.rules import type_tokens
from components.rules.errors import ConfigurationError, InputErrors
from tests.conftest import ROOT, run_coroutine


def inputs(**values: object) -> dict[str, PropertyValue]:
    return {k: property_value(v) for k, v in values.items()}


def test_the_schemas_inputs_are_the_components_arguments_in_camel_case() -> None:
    args = component_io.component_args(
        inputs(
            serviceName="web",
            repositories=["team/app"],
            scale=2,
            publicEndpoint={"container": "app", "port": 8080, "healthCheckPath": "/up"},
        ),
        aws_region="eu-west-1",
    )
    assert args == {
        "service_name": "web",
        "repositories": ["team/app"],
        "scale": 2,
        "public_endpoint": {"container": "app", "port": 8080, "health_check_path": "/up"},
        "region": "eu-west-1",
    }


def test_every_schema_input_and_output_is_one_of_the_components() -> None:
    arguments = PrivateEcrContainerServiceArgs.__annotations__
    assert set(component_io.INPUTS) == set(schema.COMPONENT_INPUTS)
    assert set(component_io.INPUTS.values()) <= set(arguments)
    assert set(component_io.OUTPUTS) == set(schema.COMPONENT_OUTPUTS)
    assert set(component_io.OUTPUTS.values()) <= set(PrivateEcrContainerService.__annotations__)
    document = json.loads(schema.text())
    component = document["resources"][type_tokens.COMPONENT]
    assert component["isComponent"] and component["requiredInputs"] == ["serviceName"]
    assert document["name"] == type_tokens.PACKAGE
    for token in (type_tokens.PULLER_ROLE, type_tokens.GRANT_VERIFICATION):
        assert token in document["resources"]


@pytest.mark.parametrize(
    ("given", "key", "words"),
    [
        ({"serviceName": "web", "servicename": "x"}, "servicename", "not an input"),
        ({"serviceName": "web", "tags": {"team": WIRE_UNKNOWN}}, "tags", "must be known"),
        ({"serviceName": "web"}, "region", "pulumi config set aws:region"),
    ],
)
def test_an_input_the_component_cannot_take_is_named_before_anything_is_built(
    given: dict[str, object], key: str, words: str
) -> None:
    with pytest.raises(InputPropertyError) as raised:
        component_io.component_args(inputs(**given), aws_region=None)
    assert raised.value.property_path == key
    assert words in raised.value.reason


@pytest.mark.parametrize(
    ("path", "schema_key"),
    [
        (("service_name",), "serviceName"),
        (("containers", 0, "command"), "containers[0].command"),
        (("containers", 1, "environment", "LOG_LEVEL"), "containers[1].environment.LOG_LEVEL"),
        (("public_endpoint", "health_check_path"), "publicEndpoint.healthCheckPath"),
        (("tags", "cost-center"), 'tags["cost-center"]'),
        (("puller_role_timeout_seconds",), "pullerRoleTimeoutSeconds"),
        ((), ""),
    ],
)
def test_an_inputs_path_is_spelt_as_the_schema_spells_it(
    path: tuple[str | int, ...], schema_key: str
) -> None:
    assert component_io.schema_path(path) == schema_key


def test_an_error_of_the_components_checks_is_put_on_the_key_its_path_names() -> None:
    # The sentence names `repository` (not the schema's `repositories`), and `scale`
    # elsewhere: only the path says which input it is.
    error = ConfigurationError(
        "repositories: repository 5 is not a repository reference (scale aside)",
        path=("repositories", 2),
    )
    raised = component_io.input_error(error)
    assert isinstance(raised, InputPropertyError)
    assert raised.property_path == "repositories[2]"
    assert raised.reason == str(error)


def test_several_bad_inputs_are_each_put_on_their_key() -> None:
    errors = [
        ConfigurationError("scale 40 is out of range", path=("scale",)),
        ConfigurationError("`command` must be a list", path=("containers", 0, "command")),
        ConfigurationError("something of no input"),
    ]
    raised = component_io.input_error(InputErrors(errors))
    assert isinstance(raised, InputPropertiesError)
    assert raised.errors == [
        {"property_path": "scale", "reason": "scale 40 is out of range"},
        {"property_path": "containers[0].command", "reason": "`command` must be a list"},
    ]
    # Nothing is lost: the message holds all three, the one with no key too.
    assert "3 inputs cannot be used" in raised.message
    assert "something of no input" in raised.message


def test_an_error_of_no_input_is_said_as_it_is() -> None:
    raised = component_io.input_error(ConfigurationError("the account differs"))
    assert isinstance(raised, InputPropertiesError)
    assert raised.message == "the account differs" and raised.errors is None


def test_each_resource_is_served_by_the_dynamic_hosts_class_of_the_same_resource() -> None:
    qualified = f"{type_tokens.COMPONENT}${type_tokens.PULLER_ROLE}"
    assert isinstance(_worker(qualified), PullerRoleProvider)
    with pytest.raises(ValueError, match="lightsail-ecr:index:PullerRole"):
        _worker("lightsail-ecr:index:Unknown")


def test_a_secret_input_comes_back_secret_and_reaches_the_work_unwrapped() -> None:
    provider = LightsailEcrProvider()
    configured = run_coroutine(provider.configure(ConfigureRequest({}, {}, True, True)))
    assert configured.accept_secrets
    identity = {"profile": "ops"}
    request = CreateRequest(
        urn=f"urn:pulumi:dev::p::{type_tokens.ADOPTION_CHECK}::web-adoption",
        properties={
            **inputs(region="us-east-1", service_name="web", power="nano", scale=1, tags={}),
            "identity": property_value(identity, secret=True),
        },
        timeout=0,
        preview=False,
    )
    created = run_coroutine(provider.create(request))
    assert created.resource_id == "us-east-1/web"
    assert created.properties is not None
    assert created.properties["identity"].is_secret
    assert not created.properties["region"].is_secret
    assert isinstance(_worker(type_tokens.ADOPTION_CHECK), AdoptionCheckProvider)


def test_a_verification_of_an_earlier_runs_write_keeps_that_runs_measures() -> None:
    """The engine stores the inputs Check returns; a verification of an old write (the
    same revision) keeps its measured window, so an `up` after a write changes no input
    (each changed one costs a write of the whole state). A new write takes the new ones."""
    provider = LightsailEcrProvider()
    urn = f"urn:pulumi:dev::p::{type_tokens.GRANT_VERIFICATION}::web-verify-team/app"
    base = {"region": "us-east-1", "repository": "team/app", "grants": []}
    olds = inputs(**base, revision="r1", write_window=0.6, settled_until=1700000005.5)

    def check(**news: object) -> dict[str, PropertyValue]:
        request = CheckRequest(urn, olds, inputs(**base, **news), b"")
        checked = run_coroutine(provider.check(request))
        assert checked.failures == []
        assert checked.inputs is not None
        return checked.inputs

    kept = check(revision="r1", write_window=None, settled_until=None)
    assert kept == olds
    written = check(revision="r2", write_window=1.2, settled_until=1700000100.0)
    assert written == inputs(**base, revision="r2", write_window=1.2, settled_until=1700000100.0)
    first = run_coroutine(provider.check(CheckRequest(urn, {}, written, b"")))
    assert first.inputs == written


def test_cancel_ends_a_wait_under_way_at_once() -> None:
    # In a process of its own: a cancelled process stays cancelled (as a provider must).
    script = (
        "import threading, time\n"
        "from components.aws import waits\n"
        "threading.Timer(0.2, waits.cancel).start()\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    waits.clock.sleep(30)\n"
        "except waits.Cancelled as exc:\n"
        "    print(round(time.monotonic() - started, 1), exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    waited, _, message = done.stdout.partition(" ")
    assert float(waited) < 5, done
    assert "cancelled" in message and "Run `pulumi up` again" in message


def test_an_aws_identity_is_read_as_the_stacks_aws_config_would_be() -> None:
    args = component_io.component_args(
        inputs(
            serviceName="web",
            awsIdentity={
                "profile": "prod",
                "assumeRoles": [
                    {"roleArn": "arn:aws:iam::111122223333:role/deployer", "externalId": "x"}
                ],
                "endpoints": [{"ecr": "http://127.0.0.1:5000"}],
            },
        ),
        aws_region="eu-west-1",
    )
    identity = args["aws_identity"]
    assert identity == AwsIdentity(
        profile="prod",
        assume_roles=(
            AssumedRole(role_arn="arn:aws:iam::111122223333:role/deployer", external_id="x"),
        ),
        endpoints=(("ecr", "http://127.0.0.1:5000"),),
    )


@pytest.mark.parametrize(
    ("identity", "key", "words"),
    [
        ("prod", "awsIdentity", "give an object"),
        ({"profle": "prod"}, "awsIdentity.profle", "not a setting"),
        ({"accessKey": "AKIA..."}, "awsIdentity.accessKey", "take awsIdentity.accessKey out"),
        (
            {"assumeRoles": [{"sessionName": "x"}]},
            "awsIdentity.assumeRoles[0]",
            "as in set awsIdentity.assumeRoles[0].roleArn to arn:aws:iam::",
        ),
        (
            {"assumeRoles": [{"roleArn": "r", "duration": "an hour"}]},
            "awsIdentity.assumeRoles[0].duration",
            "awsIdentity.assumeRoles[0].duration 'an hour' is not a duration",
        ),
        (
            {"sharedConfigFiles": ["a", "b"]},
            "awsIdentity.sharedConfigFiles",
            "awsIdentity.sharedConfigFiles lists 2 files",
        ),
    ],
)
def test_a_bad_aws_identity_is_named_before_anything_is_built(
    identity: object, key: str, words: str
) -> None:
    with pytest.raises(InputPropertyError) as raised:
        component_io.component_args(
            inputs(serviceName="web", awsIdentity=identity), aws_region="eu-west-1"
        )
    assert raised.value.property_path == key
    assert words in raised.value.reason
    # Named as the component's input, never as the stack's config it is not.
    assert "aws:" not in raised.value.reason.replace("arn:aws:", "")
    assert "pulumi config" not in raised.value.reason
