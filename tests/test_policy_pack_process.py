"""The policy pack's own process, started as the Pulumi CLI starts a Python pack and
called over gRPC as the engine calls it: end to end, without the CLI (issue 15).

How the CLI starts it (pulumi/pulumi, read for this test):
- ``sdk/python/cmd/pulumi-language-python/main.go`` (RunPlugin, for an analyzer): the
  pack's virtualenv's ``python -u -m pulumi.policy <engine address> <pack directory>``
  (``-u`` matters: the SDK writes its port and never flushes), run in the pack's
  directory, with the virtualenv activated (``toolchain.ActivateVirtualEnv``: its bin
  first on PATH, VIRTUAL_ENV set, PYTHONHOME dropped) and, over the CLI's own
  environment, the stack's PULUMI_CONFIG (JSON, full keys), PULUMI_PROJECT,
  PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_ORGANIZATION;
- ``sdk/policy_proxy.go`` (Attach) reads the first line of the pack's stdout as its port
  and dials 127.0.0.1 there (``pkg/resource/plugin/plugin.go`` reads any plugin's port
  the same way); the rest of stdout is passed on;
- ``pkg/resource/plugin/analyzer_plugin.go`` and ``pkg/engine/update.go``:
  ConfigureStack, GetAnalyzerInfo, Configure (reconciled with the pack's info, see
  ``emulation.analyzer.configure_request``), then Analyze for each resource (its inputs)
  and AnalyzeStack once (every resource's outputs), with unknowns and secrets kept and
  the resource's provider with its own inputs.

The pack's AWS is moto's server in this process: the pack's boto3 honours
AWS_ENDPOINT_URL (botocore 1.31 and later) and has fake credentials, no profile file
and no instance metadata, so nothing leaves this machine. The pack imports the package
as ``lightsail_ecr_access``, from a link to this checkout's ``components``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import grpc
import pytest
from google.protobuf import empty_pb2, json_format
from moto.server import ThreadedMotoServer
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from emulation.analyzer import (
    UNKNOWN,
    ProviderRef,
    Secret,
    StackResource,
    Violation,
    analyze_request,
    analyze_stack_request,
    configure_request,
    default_aws_provider,
    not_applicable,
    struct,
    violations,
)
from tests.conftest import ACCOUNT, CI_PUSH, ROOT

PACK_DIR = ROOT / "policy-pack"
STACK, PROJECT, ORGANIZATION = "dev", "orders", "acme"
HOME_REGION = "us-east-1"  # the pack's own AWS_REGION, and the stack's aws:region
STACK_CONFIG = {"aws:region": HOME_REGION, "orders:serviceName": "orders-api"}
# The engine's address is the pack's first argument; the pack's SDK never dials it.
ENGINE_ADDRESS = "127.0.0.1:9"
PORT_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0

KEEPS = "repository-policy-keeps-live-statements"
READABLE = "repository-policy-readable"
ANONYMOUS = "no-anonymous-pull"
PULLS = "lightsail-pulls-only-granted-images"

PULLER_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{HOME_REGION}/containers/orders-api/"
    "private-repo-access/3EXAMPLE"
)
OTHER_PULLER_ROLE = PULLER_ROLE.replace("orders-api", "billing").replace("3EXAMPLE", "7EXAMPLE")
AUDIT_READ = {
    "Sid": "AuditRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/audit"},
    "Action": "ecr:DescribeImages",
}
ANYONE_PULLS = {
    "Sid": "AnyonePulls",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


def document(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def pull_grant(role: str, sid: str = "OrdersApiPulls") -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{resource_type}::{name}"


def policy_urn(name: str) -> str:
    return urn("aws:ecr/repositoryPolicy:RepositoryPolicy", name)


def provider(name: str, **properties: Any) -> ProviderRef:
    """An explicit ``aws.Provider`` of the stack, with its inputs as the engine sends them."""
    return ProviderRef("pulumi:providers:aws", urn("pulumi:providers:aws", name), name, properties)


DEFAULT_PROVIDER = default_aws_provider(STACK, PROJECT, STACK_CONFIG)


# --- moto's server, the AWS the pack's process sees ----------------------------------


@dataclass
class MotoServer:
    endpoint: str

    def client(self, service: str, region: str = HOME_REGION) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def live_policy(self, repository: str, text: str, region: str = HOME_REGION) -> None:
        """A repository in ``region`` whose policy is ``text`` now."""
        ecr = self.client("ecr", region)
        with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=repository)
        ecr.set_repository_policy(repositoryName=repository, policyText=text)


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoServer(f"http://{host}:{port}")
        # moto's state lives in this process: later tests start from an empty AWS.
        reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
    finally:
        server.stop()


# --- the pack's process ----------------------------------------------------------------


@dataclass
class PackProcess:
    process: subprocess.Popen[bytes]
    stub: Any = None
    info: Any = None
    stderr: list[str] = field(default_factory=list)
    stderr_reader: threading.Thread | None = None

    def analyze(
        self, urn: str, properties: Mapping[str, Any], provider: ProviderRef | None
    ) -> tuple[list[Violation], dict[str, str]]:
        """``Analyze`` of one resource: the diagnostics and the policies not applicable."""
        answer = self.stub.Analyze(analyze_request(urn, properties, provider), timeout=CALL_TIMEOUT)
        return violations(answer), not_applicable(answer)

    def analyze_stack(self, resources: list[StackResource]) -> list[Violation]:
        answer = self.stub.AnalyzeStack(analyze_stack_request(resources), timeout=CALL_TIMEOUT)
        return violations(answer)

    def configure(self, config: Mapping[str, Any]) -> None:
        self.stub.Configure(configure_request(config, self.info), timeout=CALL_TIMEOUT)

    @contextlib.contextmanager
    def configured(self, config: Mapping[str, Any]) -> Iterator[None]:
        """The pack run with a policy config file holding ``config``; then without one."""
        self.configure(config)
        try:
            yield
        finally:
            self.configure({})

    def output(self) -> str:
        """The end of what the process wrote on stderr (all of it, once it has ended)."""
        if self.stderr_reader is not None and self.process.poll() is not None:
            self.stderr_reader.join(timeout=5)
        return "".join(self.stderr)[-4000:] or "(nothing)"


def _pack_environment(aws: MotoServer, where: Path) -> dict[str, str]:
    """The CLI's environment as the language host hands it to a pack: the virtualenv
    activated, the stack's settings; here also moto's endpoint and fake credentials."""
    site = where / "site"
    site.mkdir()
    (site / "lightsail_ecr_access").symlink_to(ROOT / "components", target_is_directory=True)
    (where / "aws-config").write_text("")  # no profile of the developer's reaches the pack
    # PYTHONUNBUFFERED too: the command line alone decides whether the port arrives.
    not_passed = ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PULUMI_")) and k not in not_passed
    }
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        VIRTUAL_ENV=sys.prefix,
        PYTHONPATH=str(site),
        PULUMI_CONFIG=json.dumps(STACK_CONFIG),
        PULUMI_ORGANIZATION=ORGANIZATION,
        PULUMI_PROJECT=PROJECT,
        PULUMI_STACK=STACK,
        PULUMI_DRY_RUN="true",
        AWS_ENDPOINT_URL=aws.endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=HOME_REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(where / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(where / "aws-config"),
    )
    return env


def _drain(stream: Any, into: list[str]) -> None:
    for line in iter(stream.readline, b""):
        into.append(line.decode(errors="replace"))


def _read_port(pack: PackProcess) -> int:
    """The first line of the pack's stdout, as the CLI reads it (``%d\\n``)."""
    lines: queue.Queue[bytes] = queue.Queue()
    stdout = pack.process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=PORT_TIMEOUT)
    except queue.Empty:
        pack.process.kill()
        pack.process.wait()
        pytest.fail(
            f"the policy pack printed no port within {PORT_TIMEOUT:.0f} s; "
            f"its stderr:\n{pack.output()}"
        )
    text = line.decode(errors="replace").strip()
    if not text.isdigit() or not 0 < int(text) <= 65535:
        pack.process.kill()
        code = pack.process.wait()
        pytest.fail(
            f"the policy pack wrote {line!r} where the CLI reads its port (exit code "
            f"{code}); its stderr:\n{pack.output()}"
        )
    threading.Thread(target=_drain, args=(stdout, []), daemon=True).start()
    return int(text)


@pytest.fixture(scope="module")
def pack(aws: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackProcess]:
    where = tmp_path_factory.mktemp("pack-process")
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(PACK_DIR)],
        cwd=PACK_DIR,
        env=_pack_environment(aws, where),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    running = PackProcess(process)
    channel = None
    try:
        running.stderr_reader = threading.Thread(
            target=_drain, args=(process.stderr, running.stderr), daemon=True
        )
        running.stderr_reader.start()
        port = _read_port(running)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=PORT_TIMEOUT)
        running.stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        # The engine's first calls, in its order.
        running.stub.ConfigureStack(
            proto.AnalyzerStackConfigureRequest(
                stack=STACK,
                project=PROJECT,
                organization=ORGANIZATION,
                dry_run=True,
                config=STACK_CONFIG,
                tags={"team": "orders"},
            ),
            timeout=CALL_TIMEOUT,
        )
        running.info = running.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)
        running.configure({})
        yield running
        assert process.poll() is None, f"the pack's process ended: {running.output()}"
    finally:
        if channel is not None:
            channel.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- what the pack says it is ----------------------------------------------------------


def test_the_pack_describes_its_policies_their_levels_and_settings(pack: PackProcess) -> None:
    info = pack.info
    assert info.name == "lightsail-ecr-access"
    assert info.supportsConfig
    policies = {
        p.name: (
            p.enforcementLevel,
            p.policy_type,
            json_format.MessageToDict(p.configSchema.properties),
        )
        for p in info.policies
    }
    resource, stack = proto.PolicyType.POLICY_TYPE_RESOURCE, proto.PolicyType.POLICY_TYPE_STACK
    expected = {
        KEEPS: (proto.MANDATORY, resource, {"exemptRepositories", "exemptSids"}),
        READABLE: (proto.ADVISORY, resource, {"exemptRepositories"}),
        ANONYMOUS: (proto.MANDATORY, resource, {"exemptRepositories"}),
        PULLS: (proto.ADVISORY, stack, {"exemptRepositories", "exemptServices"}),
    }
    assert {n: (lvl, kind, set(schema)) for n, (lvl, kind, schema) in policies.items()} == expected
    for name, (_, _, schema) in policies.items():
        for setting, definition in schema.items():
            assert definition["type"] == "array", (name, setting)
            assert definition["items"] == {"type": "string", "minLength": 1}, (name, setting)
            assert definition["default"] == [], (name, setting)


# --- Analyze: a repository policy about to be written ------------------------------------


@pytest.fixture
def team_app(aws: MotoServer) -> str:
    """team/app, whose live policy holds another team's statement and an audit grant."""
    aws.live_policy("team/app", document(CI_PUSH, AUDIT_READ))
    return "team/app"


def plain(text: str) -> Any:
    return text


@pytest.mark.parametrize("wrap", [plain, Secret], ids=["plain", "secret"])
def test_a_document_that_drops_another_teams_live_statement_is_stopped(
    team_app: str, pack: PackProcess, wrap: Any
) -> None:
    proposed = document(AUDIT_READ, pull_grant(PULLER_ROLE))

    found, skipped = pack.analyze(
        policy_urn("app"), {"repository": team_app, "policy": wrap(proposed)}, DEFAULT_PROVIDER
    )

    assert [(v.policy, v.level) for v in found] == [(KEEPS, "mandatory")]
    assert "team/app" in found[0].message
    assert "CiPush" in found[0].message
    assert "AuditRead" not in found[0].message
    assert f"Region {HOME_REGION}" in found[0].message
    assert skipped == {}


# The same statements in another order and spelling: IAM reads them alike.
RESPELLED = [
    {**AUDIT_READ, "Action": [AUDIT_READ["Action"]]},
    {**CI_PUSH, "Action": ["ecr:InitiateLayerUpload", "ecr:PutImage"]},
]


@pytest.mark.parametrize(
    "statements",
    [[CI_PUSH, AUDIT_READ], RESPELLED],
    ids=["as-live", "respelled"],
)
def test_a_document_that_keeps_every_live_statement_and_adds_one_passes(
    team_app: str, pack: PackProcess, statements: list[dict[str, Any]]
) -> None:
    proposed = document(*statements, pull_grant(PULLER_ROLE))

    found, skipped = pack.analyze(
        policy_urn("app"), {"repository": team_app, "policy": proposed}, DEFAULT_PROVIDER
    )

    assert found == []
    assert skipped == {}


def test_a_document_not_known_yet_is_not_judged(team_app: str, pack: PackProcess) -> None:
    found, skipped = pack.analyze(
        policy_urn("app"), {"repository": team_app, "policy": UNKNOWN}, DEFAULT_PROVIDER
    )

    assert found == []
    assert set(skipped) == {KEEPS, READABLE, ANONYMOUS}
    assert all("not known yet" in reason for reason in skipped.values())


def test_an_anonymous_pull_is_stopped(team_app: str, pack: PackProcess) -> None:
    found, _ = pack.analyze(
        policy_urn("app"),
        {"repository": team_app, "policy": document(CI_PUSH, AUDIT_READ, ANYONE_PULLS)},
        DEFAULT_PROVIDER,
    )

    assert [(v.policy, v.level) for v in found] == [(ANONYMOUS, "mandatory")]
    assert "team/app" in found[0].message
    assert "AnyonePulls" in found[0].message


# --- whose AWS: the resource's provider ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "provider_ref", "stopped"),
    [
        pytest.param("eu-provider", provider("eu", region="eu-west-1"), True, id="eu-provider"),
        pytest.param("us-provider", provider("us", region=HOME_REGION), False, id="us-provider"),
        pytest.param(
            "eu-stack",
            default_aws_provider("prod-eu", PROJECT, {"aws:region": "eu-west-1"}),
            True,
            id="eu-stack",
        ),
        pytest.param("us-stack", DEFAULT_PROVIDER, False, id="us-stack"),
    ],
)
def test_the_providers_region_decides_which_live_policy_is_read(
    aws: MotoServer, pack: PackProcess, name: str, provider_ref: ProviderRef, stopped: bool
) -> None:
    """The live policy is in eu-west-1 only; the pack's own Region is us-east-1."""
    aws.live_policy("team/eu-only", document(CI_PUSH), region="eu-west-1")

    found, _ = pack.analyze(
        policy_urn(name), {"repository": "team/eu-only", "policy": document()}, provider_ref
    )

    if stopped:
        assert [(v.policy, v.level) for v in found] == [(KEEPS, "mandatory")]
        assert "Region eu-west-1" in found[0].message
    else:
        assert found == []  # no such repository in us-east-1: nothing live to drop


UNREADABLE = [
    pytest.param(
        provider("nowhere", region=HOME_REGION, profile="nowhere"), "nowhere", id="profile"
    ),
    pytest.param(
        provider(
            "keys",
            region=HOME_REGION,
            accessKey=Secret("AKIAIOSFODNN7EXAMPLE"),
            secretKey=Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ),
        "static keys",
        id="static-keys",
    ),
]


@pytest.mark.parametrize(("provider_ref", "why"), UNREADABLE)
def test_a_live_policy_that_cannot_be_read_is_reported_not_judged(
    aws: MotoServer, pack: PackProcess, provider_ref: ProviderRef, why: str
) -> None:
    aws.live_policy("team/unreadable", document(CI_PUSH))

    found, _ = pack.analyze(
        policy_urn(f"unreadable-{provider_ref.name}"),
        {"repository": "team/unreadable", "policy": document()},
        provider_ref,
    )

    assert [(v.policy, v.level) for v in found] == [(READABLE, "advisory")]
    assert "team/unreadable" in found[0].message
    assert why in found[0].message
    assert "AKIAIOSFODNN7EXAMPLE" not in found[0].message


# --- Configure: the policy config file -------------------------------------------------


def test_configure_decides_the_level_an_unreadable_policy_is_reported_at(
    aws: MotoServer, pack: PackProcess
) -> None:
    aws.live_policy("team/levels", document(CI_PUSH))
    nowhere = provider("levels", region=HOME_REGION, profile="nowhere")

    def level(name: str) -> list[tuple[str, str]]:
        found, _ = pack.analyze(
            policy_urn(name), {"repository": "team/levels", "policy": document()}, nowhere
        )
        return [(v.policy, v.level) for v in found]

    with pack.configured({READABLE: "mandatory"}):
        assert level("levels-configured") == [(READABLE, "mandatory")]
    assert level("levels-default") == [(READABLE, "advisory")]


def test_configured_exempt_sids_may_be_removed_and_the_rest_still_stop_it(
    aws: MotoServer, pack: PackProcess
) -> None:
    aws.live_policy("team/exempt", document(CI_PUSH, AUDIT_READ))
    properties = {"repository": "team/exempt", "policy": document(pull_grant(PULLER_ROLE))}

    with pack.configured({KEEPS: {"exemptSids": ["Ci*"]}}):
        found, _ = pack.analyze(policy_urn("exempt"), properties, DEFAULT_PROVIDER)

    # Only properties were configured: the policy keeps its own level, mandatory.
    assert [(v.policy, v.level) for v in found] == [(KEEPS, "mandatory")]
    assert "AuditRead" in found[0].message
    assert "CiPush" not in found[0].message


# --- AnalyzeStack: what Lightsail deployments pull ---------------------------------------

SERVICE_URN = urn("aws:lightsail/containerService:ContainerService", "orders-api")
DEPLOYMENT_URN = urn(
    "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion",
    "orders-api",
)
IMAGE = f"{ACCOUNT}.dkr.ecr.{HOME_REGION}.amazonaws.com/team/orders:v1"


def stack(
    active: bool = True, image: str = IMAGE, extra: tuple[StackResource, ...] = ()
) -> list[StackResource]:
    """A Lightsail service and its deployment, with their outputs, as AnalyzeStack gets
    them; the deployment's container ``api`` pulls ``image``."""
    service = {
        "name": "orders-api",
        "power": "nano",
        "scale": 1,
        "privateRegistryAccess": {
            "ecrImagePullerRole": {
                "isActive": active,
                "principalArn": PULLER_ROLE if active else "",
            }
        },
    }
    deployment = {
        "serviceName": "orders-api",
        "containers": [
            {"containerName": "api", "image": image, "ports": {"8080": "HTTP"}},
            {"containerName": "proxy", "image": "public.ecr.aws/nginx/nginx:1.27"},
        ],
        "state": "ACTIVE",
        "version": 1,
    }
    return [
        StackResource(SERVICE_URN, service, DEFAULT_PROVIDER),
        StackResource(DEPLOYMENT_URN, deployment, DEFAULT_PROVIDER, dependencies=(SERVICE_URN,)),
        *extra,
    ]


@pytest.fixture
def orders_repository(aws: MotoServer) -> None:
    """team/orders, whose live policy grants another service's puller role only."""
    aws.live_policy("team/orders", document(pull_grant(OTHER_PULLER_ROLE, "BillingPulls")))


def test_a_deployment_pulling_from_a_repository_that_does_not_grant_it_is_reported(
    orders_repository: None, pack: PackProcess
) -> None:
    found = pack.analyze_stack(stack())

    assert [(v.policy, v.level, v.urn) for v in found] == [(PULLS, "advisory", DEPLOYMENT_URN)]
    assert "container api" in found[0].message
    assert "team/orders" in found[0].message
    assert PULLER_ROLE in found[0].message


def test_a_deployment_granted_by_a_repository_policy_of_the_stack_passes(
    orders_repository: None, pack: PackProcess
) -> None:
    granted = document(
        pull_grant(OTHER_PULLER_ROLE, "BillingPulls"), pull_grant(PULLER_ROLE, "OrdersPulls")
    )
    policy = StackResource(
        policy_urn("orders"),
        {"repository": "team/orders", "policy": granted, "registryId": ACCOUNT},
        DEFAULT_PROVIDER,
    )

    assert pack.analyze_stack(stack(extra=(policy,))) == []


def test_a_deployment_granted_by_the_live_policy_passes(aws: MotoServer, pack: PackProcess) -> None:
    aws.live_policy("team/orders-granted", document(pull_grant(PULLER_ROLE)))
    image = IMAGE.replace("team/orders", "team/orders-granted")

    assert pack.analyze_stack(stack(image=image)) == []


def test_a_deployment_of_a_service_without_private_registry_access_is_reported(
    orders_repository: None, pack: PackProcess
) -> None:
    found = pack.analyze_stack(stack(active=False))

    assert [(v.policy, v.level, v.urn) for v in found] == [(PULLS, "advisory", DEPLOYMENT_URN)]
    assert "container api" in found[0].message
    assert "private registry access is off" in found[0].message


# --- the requests, shaped as the engine sends them -------------------------------------


def test_configure_sends_every_policy_with_its_own_level_and_defaults(pack: PackProcess) -> None:
    request = configure_request({KEEPS: {"exemptSids": ["Ci*"]}, READABLE: "mandatory"}, pack.info)
    sent = {
        name: (entry.enforcementLevel, json_format.MessageToDict(entry.properties))
        for name, entry in request.policyConfig.items()
    }
    assert sent == {
        KEEPS: (proto.MANDATORY, {"exemptRepositories": [], "exemptSids": ["Ci*"]}),
        READABLE: (proto.MANDATORY, {"exemptRepositories": []}),
        ANONYMOUS: (proto.MANDATORY, {"exemptRepositories": []}),
        PULLS: (proto.ADVISORY, {"exemptRepositories": [], "exemptServices": []}),
    }
    every = configure_request({"all": "disabled"}, pack.info).policyConfig
    assert {entry.enforcementLevel for entry in every.values()} == {proto.DISABLED}


def test_the_default_provider_is_named_and_filled_as_the_engine_does() -> None:
    ref = default_aws_provider(
        STACK, PROJECT, {"aws:region": "eu-west-1", "aws:profile": "ops"}, {"aws:profile"}, "7.51.1"
    )
    assert ref.urn == f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:aws::default_7_51_1"
    assert ref.name == "default_7_51_1"
    assert dict(ref.properties) == {
        "region": "eu-west-1",
        "profile": Secret("ops"),
        "version": "7.51.1",
    }


def test_internal_keys_are_left_out_at_the_top_only() -> None:
    sent = json_format.MessageToDict(struct({"__provider": "pickled", "a": {"__b": 1}}))
    assert sent == {"a": {"__b": 1}}
