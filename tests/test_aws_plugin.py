"""The stand-in pulumi-resource-aws, driven over gRPC as the engine drives a provider.

The plugin runs as the CLI runs it (the wrapper script, an engine address as its first
argument, its port on stdout) in front of the emulated AWS server; nothing here reaches
AWS or needs the Pulumi CLI.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.provider.values import UNKNOWN, plain, property_value
from emulation.providers import PROVIDERS
from realengine.aws_plugin import provider
from realengine.aws_plugin.install import write_plugin
from realengine.aws_plugin.provider import POLICY_RETRY_ENV
from realengine.aws_server import EmulatedAwsServer

SERVICE = "aws:lightsail/containerService:ContainerService"
POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
DEPLOYMENT = "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion"
REGION = "us-east-1"
PROD = "222222222222"
Diff = provider_pb2.DiffResponse
Kind = provider_pb2.PropertyDiff


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::project::{type_}::{name}"


def struct(values: dict[str, Any], secret: tuple[str, ...] = ()) -> Any:
    return PropertyValue.marshal_map({k: property_value(v, k in secret) for k, v in values.items()})


def unpack(message: Any) -> dict[str, Any]:
    return {k: plain(v) for k, v in PropertyValue.unmarshal_map(message).items()}


def secrets_of(message: Any) -> set[str]:
    return {k for k, v in PropertyValue.unmarshal_map(message).items() if v.is_secret}


class Plugin:
    """The plugin process and a stub to it, as the engine holds them."""

    def __init__(self, path: Path, aws: EmulatedAwsServer) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="emulated",
            AWS_SECRET_ACCESS_KEY="emulated",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        env[POLICY_RETRY_ENV] = "2"
        self.aws = aws
        self.process = subprocess.Popen(
            [str(path), "127.0.0.1:1"],  # no engine is called by these requests
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline().strip())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def stop(self) -> None:
        self.channel.close()
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(10)

    def configure(self, **settings: Any) -> Any:
        args = {"region": REGION, "endpoints": self.endpoints(), **settings}
        return self.stub.Configure(
            provider_pb2.ConfigureRequest(args=struct(args), acceptSecrets=True)
        )

    def endpoints(self) -> str:
        url = self.aws.endpoint
        return json.dumps([{"ecr": url, "lightsail": url, "sts": url}])

    def check(self, type_: str, name: str, news: dict[str, Any], olds: Any = None, **kw: Any):
        return self.stub.Check(
            provider_pb2.CheckRequest(
                urn=urn(type_, name), olds=olds or struct({}), news=struct(news, **kw)
            )
        )

    def create(self, type_: str, name: str, inputs: Any, preview: bool = False) -> Any:
        return self.stub.Create(
            provider_pb2.CreateRequest(urn=urn(type_, name), properties=inputs, preview=preview)
        )

    def diff(self, type_: str, name: str, id_: str, olds: Any, news: Any) -> Any:
        return self.stub.Diff(
            provider_pb2.DiffRequest(urn=urn(type_, name), id=id_, olds=olds, news=news)
        )

    def read(self, type_: str, name: str, id_: str, properties: Any = None) -> Any:
        return self.stub.Read(
            provider_pb2.ReadRequest(
                urn=urn(type_, name), id=id_, properties=properties or struct({})
            )
        )

    def invoke(self, token: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.stub.Invoke(provider_pb2.InvokeRequest(tok=token, args=struct(args or {})))
        return unpack(getattr(response, "return"))


@pytest.fixture(scope="module")
def aws() -> Iterator[EmulatedAwsServer]:
    with EmulatedAwsServer(principal_arn_after=1) as server:
        yield server


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plugin(tmp_path_factory.mktemp("bin"))


@pytest.fixture(scope="module")
def plugin(plugin_path: Path, aws: EmulatedAwsServer) -> Iterator[Plugin]:
    started = Plugin(plugin_path, aws)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(autouse=True)
def default_provider(request: pytest.FixtureRequest) -> None:
    """Each test starts with the plugin configured as a stack's default provider."""
    if "plugin" in request.fixturenames:
        request.getfixturevalue("plugin").configure()


# --- the plugin and its configuration -------------------------------------------------


def test_the_wrapper_runs_the_stand_in(plugin: Plugin, plugin_path: Path) -> None:
    assert plugin.stub.GetPluginInfo(empty_pb2.Empty()).version == "7.51.1"
    assert os.access(plugin_path, os.X_OK)
    assert "-m realengine.aws_plugin" in plugin_path.read_text()


def test_the_schema_describes_what_the_stand_in_serves(plugin: Plugin) -> None:
    """A YAML program's host type-checks against it: every served type and invoke, with
    the inputs Diff compares, the outputs a preview leaves unknown, and pulumi-aws's
    module format (so `aws:ecr:RepositoryPolicy` names the policy)."""
    schema = json.loads(plugin.stub.GetSchema(provider_pb2.GetSchemaRequest()).schema)
    assert (schema["name"], schema["version"]) == ("aws", provider.VERSION)
    assert set(schema["resources"]) == set(PROVIDERS) == {SERVICE, POLICY, DEPLOYMENT}
    for token, spec in schema["resources"].items():
        assert set(spec["inputProperties"]) == set(provider._INPUTS[token]), token
        assert set(spec["properties"]) >= set(provider._COMPUTED[token]), token
        assert set(spec["requiredInputs"]) <= set(spec["inputProperties"]), token
    assert schema["resources"][POLICY]["requiredInputs"] == ["policy", "repository"]
    assert set(schema["functions"]) == {
        "aws:index/getCallerIdentity:getCallerIdentity",
        "aws:index/getRegion:getRegion",
        "aws:index/getPartition:getPartition",
    }
    module = re.fullmatch(schema["meta"]["moduleFormat"], "ecr/repositoryPolicy")
    assert module is not None and module.group(1) == "ecr"


def test_configure_accepts_secrets_and_previews(plugin: Plugin) -> None:
    answer = plugin.configure(skipCredentialsValidation="false")
    assert answer.acceptSecrets and answer.supportsPreview


def test_configure_validates_credentials_unless_told_not_to(plugin: Plugin) -> None:
    dead = json.dumps([{"sts": "http://127.0.0.1:9"}])
    with pytest.raises(grpc.RpcError, match="validating provider credentials"):
        plugin.configure(endpoints=dead)
    assert plugin.configure(endpoints=dead, skipCredentialsValidation=True).acceptSecrets


def test_check_config_wants_a_region(plugin: Plugin) -> None:
    missing = plugin.stub.CheckConfig(
        provider_pb2.CheckRequest(urn=urn("pulumi:providers:aws", "p"), news=struct({}))
    )
    assert [f.property for f in missing.failures] == ["region"]
    given = plugin.stub.CheckConfig(
        provider_pb2.CheckRequest(
            urn=urn("pulumi:providers:aws", "p"), news=struct({"region": REGION})
        )
    )
    assert not given.failures and unpack(given.inputs) == {"region": REGION}


def test_diff_config_reports_the_changed_settings(plugin: Plugin) -> None:
    answer = plugin.stub.DiffConfig(
        provider_pb2.DiffRequest(
            urn=urn("pulumi:providers:aws", "p"),
            olds=struct({"region": REGION, "profile": "dev"}),
            news=struct({"region": "eu-west-1", "profile": "dev"}),
        )
    )
    assert answer.changes == Diff.DIFF_SOME and not answer.replaces
    assert dict(answer.detailedDiff)["region"].kind == Kind.UPDATE
    same = plugin.stub.DiffConfig(
        provider_pb2.DiffRequest(olds=struct({"region": REGION}), news=struct({"region": REGION}))
    )
    assert same.changes == Diff.DIFF_NONE


def test_caller_identity_follows_the_provider_settings(plugin: Plugin) -> None:
    token = "aws:index/getCallerIdentity:getCallerIdentity"
    assert plugin.invoke(token)["accountId"] == "123456789012"
    role = f"arn:aws:iam::{PROD}:role/deployer"
    plugin.configure(assumeRoles=[{"roleArn": role}])
    assert plugin.invoke(token)["accountId"] == PROD
    plugin.configure(profile="prod", sharedConfigFiles=[plugin.aws.shared_config_file])
    assert plugin.invoke(token)["accountId"] == PROD
    assert plugin.invoke("aws:index/getRegion:getRegion")["name"] == REGION
    assert plugin.invoke("aws:index/getPartition:getPartition")["dnsSuffix"] == "amazonaws.com"
    with pytest.raises(grpc.RpcError, match="not served"):
        plugin.invoke("aws:ecr/getImage:getImage")


# --- the container service --------------------------------------------------------------


def _service(name: str, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "power": "nano",
        "scale": 1,
        "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": True}},
        **more,
    }


def test_container_service_lifecycle(plugin: Plugin) -> None:
    checked = plugin.check(SERVICE, "svc", _service("plugin-web", tags={"team": "a"}))
    inputs = unpack(checked.inputs)
    # The provider's defaults and Region are filled in.
    assert (inputs["region"], inputs["isDisabled"], inputs["publicDomainNames"]) == (
        REGION,
        False,
        {},
    )
    created = plugin.create(SERVICE, "svc", checked.inputs)
    assert created.id == "plugin-web"
    outputs = unpack(created.properties)
    assert outputs["arn"] == "arn:aws:lightsail:us-east-1:123456789012:ContainerService/plugin-web"
    assert outputs["url"].startswith("https://plugin-web.")
    assert outputs["principalArn"].endswith("/containers/plugin-web/service")
    assert outputs["privateRegistryAccess"]["ecrImagePullerRole"]["isActive"] is True
    assert outputs["tagsAll"] == {"team": "a"}
    sent = plugin.aws.lightsail_calls("CreateContainerService")[-1][1]
    assert sent["privateRegistryAccess"] == {"ecrImagePullerRole": {"isActive": True}}

    # A refresh sees the role's ARN once the service has made it.
    read = unpack(plugin.read(SERVICE, "svc", "plugin-web", created.properties).properties)
    role = read["privateRegistryAccess"]["ecrImagePullerRole"]
    assert role["principalArn"].startswith("arn:aws:iam::123456789012:role/amazon/lightsail/")

    same = plugin.diff(SERVICE, "svc", "plugin-web", created.properties, checked.inputs)
    assert same.changes == Diff.DIFF_NONE

    # The role turned off and a bigger service: an update that never sends the role.
    goal = plugin.check(
        SERVICE,
        "svc",
        _service(
            "plugin-web",
            power="micro",
            tags={"team": "b"},
            privateRegistryAccess={"ecrImagePullerRole": {"isActive": False}},
        ),
    ).inputs
    diff = plugin.diff(SERVICE, "svc", "plugin-web", created.properties, goal)
    assert diff.changes == Diff.DIFF_SOME and not diff.replaces
    assert set(diff.diffs) == {"power", "tags", "privateRegistryAccess"}
    assert dict(diff.detailedDiff)["power"].kind == Kind.UPDATE
    updated = plugin.stub.Update(
        provider_pb2.UpdateRequest(
            urn=urn(SERVICE, "svc"), id="plugin-web", olds=created.properties, news=goal
        )
    )
    after = unpack(updated.properties)
    assert after["power"] == "micro" and after["tags"] == {"team": "b"}
    assert after["privateRegistryAccess"]["ecrImagePullerRole"]["isActive"] is True
    sent = plugin.aws.lightsail_calls("UpdateContainerService")[-1][1]
    assert "privateRegistryAccess" not in sent and sent["power"] == "micro"

    renamed = plugin.check(SERVICE, "svc", _service("plugin-web-2")).inputs
    replace = plugin.diff(SERVICE, "svc", "plugin-web", updated.properties, renamed)
    assert list(replace.replaces) == ["name"]
    assert dict(replace.detailedDiff)["name"].kind == Kind.UPDATE_REPLACE

    plugin.stub.Delete(
        provider_pb2.DeleteRequest(
            urn=urn(SERVICE, "svc"), id="plugin-web", properties=updated.properties
        )
    )
    assert plugin.read(SERVICE, "svc", "plugin-web", updated.properties).id == ""
    # Deleting what is already gone succeeds, as the provider's delete does.
    plugin.stub.Delete(
        provider_pb2.DeleteRequest(
            urn=urn(SERVICE, "svc"), id="plugin-web", properties=updated.properties
        )
    )


def test_container_service_check_rejects_what_the_provider_rejects(plugin: Plugin) -> None:
    failures = plugin.check(SERVICE, "bad", _service("Bad-", power="huge", scale=21)).failures
    assert {f.property for f in failures} == {"name", "power", "scale"}


def test_import_reads_an_existing_service_with_its_tags(plugin: Plugin) -> None:
    plugin.aws.add_existing_service("plugin-imported", tags={"owner": "ops"}, power="small")
    read = plugin.read(SERVICE, "imported", "plugin-imported")
    assert read.id == "plugin-imported"
    inputs, outputs = unpack(read.inputs), unpack(read.properties)
    assert inputs["tags"] == {"owner": "ops"} and inputs["power"] == "small"
    assert inputs["region"] == REGION
    assert inputs["privateRegistryAccess"] == {"ecrImagePullerRole": {"isActive": False}}
    assert outputs["arn"].endswith(":ContainerService/plugin-imported")
    # The program's goal against the imported state: only what differs is an update.
    goal = plugin.check(
        SERVICE,
        "imported",
        _service("plugin-imported", power="small", tags={"owner": "ops"}),
        olds=read.inputs,
    ).inputs
    diff = plugin.diff(SERVICE, "imported", "plugin-imported", read.properties, goal)
    assert list(diff.diffs) == ["privateRegistryAccess"] and not diff.replaces


def test_a_preview_of_a_create_leaves_what_aws_computes_unknown(plugin: Plugin) -> None:
    checked = plugin.check(SERVICE, "later", {**_service("plugin-later"), "name": UNKNOWN})
    assert not checked.failures
    created = plugin.create(SERVICE, "later", checked.inputs, preview=True)
    assert created.id == ""
    outputs = unpack(created.properties)
    assert outputs["arn"] is UNKNOWN and outputs["name"] is UNKNOWN
    assert outputs["power"] == "nano"
    assert not [
        c
        for c in plugin.aws.lightsail_calls("CreateContainerService")
        if c[1]["serviceName"] == "plugin-later"
    ]


# --- the repository policy --------------------------------------------------------------


def _document(*principals: str) -> dict[str, Any]:
    return {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Sid": f"S{i}",
                "Effect": "Allow",
                "Principal": {"AWS": p},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
            for i, p in enumerate(principals)
        ],
    }


CI = "arn:aws:iam::123456789012:role/ci"
OPS = "arn:aws:iam::123456789012:role/ops"


def test_repository_policy_lifecycle(plugin: Plugin) -> None:
    plugin.aws.create_repository("plugin-repo")
    text = json.dumps(_document(CI), indent=2)
    checked = plugin.check(POLICY, "pol", {"repository": "plugin-repo", "policy": text})
    assert unpack(checked.inputs)["region"] == REGION
    created = plugin.create(POLICY, "pol", checked.inputs)
    assert created.id == "plugin-repo"
    assert unpack(created.properties)["registryId"] == "123456789012"
    assert plugin.aws.policy("plugin-repo") == _document(CI)

    # The same document written another way is no change.
    compact = json.dumps(_document(CI), separators=(",", ":"))
    equal = plugin.check(POLICY, "pol", {"repository": "plugin-repo", "policy": compact}).inputs
    assert plugin.diff(POLICY, "pol", "plugin-repo", created.properties, equal).changes == (
        Diff.DIFF_NONE
    )
    other = plugin.check(
        POLICY, "pol", {"repository": "plugin-repo", "policy": json.dumps(_document(CI, OPS))}
    ).inputs
    diff = plugin.diff(POLICY, "pol", "plugin-repo", created.properties, other)
    assert (diff.changes, list(diff.diffs), list(diff.replaces)) == (
        Diff.DIFF_SOME,
        ["policy"],
        [],
    )
    moved = plugin.check(POLICY, "pol", {"repository": "plugin-repo-2", "policy": text}).inputs
    assert list(plugin.diff(POLICY, "pol", "plugin-repo", created.properties, moved).replaces) == [
        "repository"
    ]

    # A refresh keeps the stored text while the live document means the same...
    read = plugin.read(POLICY, "pol", "plugin-repo", created.properties)
    assert unpack(read.properties)["policy"] == text
    # ...and brings back another writer's document, in normal form.
    plugin.aws.set_policy("plugin-repo", _document(OPS))
    drifted = unpack(plugin.read(POLICY, "pol", "plugin-repo", created.properties).properties)
    assert drifted["policy"] == json.dumps(_document(OPS))

    updated = plugin.stub.Update(
        provider_pb2.UpdateRequest(
            urn=urn(POLICY, "pol"), id="plugin-repo", olds=created.properties, news=other
        )
    )
    assert plugin.aws.policy("plugin-repo") == _document(CI, OPS)
    plugin.stub.Delete(
        provider_pb2.DeleteRequest(
            urn=urn(POLICY, "pol"), id="plugin-repo", properties=updated.properties
        )
    )
    assert plugin.aws.policy("plugin-repo") is None
    assert plugin.read(POLICY, "pol", "plugin-repo", updated.properties).id == ""


def test_a_missing_repository_fails_with_the_aws_error(plugin: Plugin) -> None:
    checked = plugin.check(
        POLICY, "lost", {"repository": "plugin-missing", "policy": json.dumps(_document(CI))}
    )
    with pytest.raises(grpc.RpcError) as raised:
        plugin.create(POLICY, "lost", checked.inputs)
    message = raised.value.details()
    assert "creating ECR Repository Policy (plugin-missing)" in message
    assert "RepositoryNotFoundException" in message and "'plugin-missing'" in message


def test_an_invalid_policy_is_retried_then_fails(plugin: Plugin) -> None:
    plugin.aws.create_repository("plugin-invalid")
    empty = json.dumps({"Version": "2008-10-17", "Statement": []})
    checked = plugin.check(POLICY, "bad", {"repository": "plugin-invalid", "policy": empty})
    started = time.monotonic()
    with pytest.raises(grpc.RpcError, match="Invalid repository policy provided"):
        plugin.create(POLICY, "bad", checked.inputs)
    assert time.monotonic() - started >= 1  # retried within the (shortened) window
    not_json = plugin.check(POLICY, "bad", {"repository": "plugin-invalid", "policy": "{"})
    assert [f.property for f in not_json.failures] == ["policy"]


def test_a_secret_input_stays_secret(plugin: Plugin) -> None:
    plugin.aws.create_repository("plugin-secret")
    news = {"repository": "plugin-secret", "policy": json.dumps(_document(CI))}
    checked = plugin.check(POLICY, "sec", news, secret=("policy",))
    assert secrets_of(checked.inputs) == {"policy"}
    created = plugin.create(POLICY, "sec", checked.inputs)
    assert secrets_of(created.properties) == {"policy"}
    read = plugin.read(POLICY, "sec", "plugin-secret", created.properties)
    assert "policy" in secrets_of(read.properties) and "policy" in secrets_of(read.inputs)


def test_an_unknown_policy_in_a_preview_is_a_change(plugin: Plugin) -> None:
    plugin.aws.create_repository("plugin-preview")
    known = plugin.check(
        POLICY, "pre", {"repository": "plugin-preview", "policy": json.dumps(_document(CI))}
    )
    created = plugin.create(POLICY, "pre", known.inputs)
    unknown = plugin.check(POLICY, "pre", {"repository": "plugin-preview", "policy": UNKNOWN})
    assert not unknown.failures
    diff = plugin.diff(POLICY, "pre", "plugin-preview", created.properties, unknown.inputs)
    assert diff.changes == Diff.DIFF_SOME and list(diff.diffs) == ["policy"]
    planned = plugin.stub.Update(
        provider_pb2.UpdateRequest(
            urn=urn(POLICY, "pre"),
            id="plugin-preview",
            olds=created.properties,
            news=unknown.inputs,
            preview=True,
        )
    )
    assert unpack(planned.properties)["registryId"] == "123456789012"
    assert plugin.aws.policy("plugin-preview") == _document(CI)  # nothing written


# --- the deployment version -------------------------------------------------------------


def test_deployment_version_pulls_only_with_a_grant_and_is_replaced_on_change(
    plugin: Plugin,
) -> None:
    service = plugin.create(
        SERVICE, "dsvc", plugin.check(SERVICE, "dsvc", _service("plugin-deploy")).inputs
    )
    role = unpack(plugin.read(SERVICE, "dsvc", "plugin-deploy", service.properties).properties)
    principal = role["privateRegistryAccess"]["ecrImagePullerRole"]["principalArn"]
    assert principal
    plugin.aws.create_repository("plugin-images", _document(CI))
    plugin.aws.push_image("plugin-images", "1.0")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/plugin-images:1.0"
    deployment = {
        "serviceName": "plugin-deploy",
        "containers": [{"containerName": "app", "image": image, "ports": {"80": "HTTP"}}],
        "publicEndpoint": {
            "containerName": "app",
            "containerPort": 80,
            "healthCheck": {"path": "/", "intervalSeconds": 10},
        },
    }
    checked = plugin.check(DEPLOYMENT, "dep", deployment)
    with pytest.raises(grpc.RpcError, match="ended FAILED"):
        plugin.create(DEPLOYMENT, "dep", checked.inputs)

    plugin.aws.set_policy("plugin-images", _document(CI, principal))
    created = plugin.create(DEPLOYMENT, "dep", checked.inputs)
    assert created.id == "plugin-deploy/2"
    assert unpack(created.properties)["state"] == "ACTIVE"
    read = plugin.read(DEPLOYMENT, "dep", created.id, created.properties)
    assert unpack(read.inputs)["containers"][0]["image"] == image

    newer = dict(deployment, containers=[{"containerName": "app", "image": image + "x"}])
    diff = plugin.diff(
        DEPLOYMENT,
        "dep",
        created.id,
        created.properties,
        plugin.check(DEPLOYMENT, "dep", newer).inputs,
    )
    assert list(diff.replaces) == ["containers"]
