"""The pack's policies, called as the pulumi-policy SDK calls them, against moto's ECR.

Each test builds the SDK's own argument types (``ResourceValidationArgs``,
``StackValidationArgs``, ``PolicyResource``, ``PolicyProviderResource``,
``PolicyResourceOptions``) with properties handed over as the SDK's analyzer servicer
hands them (through a protobuf Struct, deserialized, wrapped in the unknown-checking
proxy), and calls each policy's ``validate``. A few go through the servicer itself
(``emulation.analyzer``), with requests shaped as the engine sends them.

Lightsail, which moto lacks, is the project's emulation (``emulation.lightsail``).
Both ways throughout: what must be reported, and what must not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from google.protobuf import json_format, struct_pb2
from moto.core import patch_client
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components import policy_pack
from components.container_service import TYPE_TOKEN
from components.policy_pack import (
    CONTAINER_SERVICE,
    DEPLOYMENT_VERSION,
    KEEPS_LIVE_STATEMENTS,
    LIVE_READS,
    NO_ANONYMOUS_PULL,
    POLICIES,
    PULLS_ONLY_GRANTED,
    READABLE,
    REPOSITORY_POLICY,
    STACK_SERVICES,
)
from tests.conftest import ACCOUNT, REGION, put_policy

POLICY: dict[str, Any] = {policy.name: policy for policy in POLICIES}
STACK = "urn:pulumi:dev::shop"
REPOSITORY = "team/app"
OTHER_ACCOUNT = "222222222222"
DEPLOYER = f"arn:aws:iam::{OTHER_ACCOUNT}:role/deployer"
BATCH, LAYER = "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"
PULLER = (
    f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/"
    "private-repo-access/3EXAMPLE"
)
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:1.4"

CI_PUSH: dict[str, Any] = {
    "Sid": "CiPush",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"},
    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload"],
    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
}
DENY_DELETE_NO_SID = {
    "Effect": "Deny",
    "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"},
    "Action": "ecr:Delete*",
}
AUDIT_NO_SID = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "ecr:DescribeImages",
}


def grant(service: str = "web", principal: str = PULLER) -> dict[str, Any]:
    """A pull grant as the component writes it."""
    return {
        "Sid": f"AllowLightsailPull-{service}",
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": [BATCH, LAYER],
    }


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


# --- the SDK's argument types, built as its analyzer servicer builds them --------------


def handed_over(properties: dict[str, Any]) -> Any:
    """Properties as the servicer hands them to a policy: a protobuf Struct, read back and
    deserialized, in the proxy that raises on an unknown value."""
    message = struct_pb2.Struct()
    message.update(properties)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(message)))


OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def urn(resource_type: str, name: str, stack: str = STACK) -> str:
    return f"{stack}::{resource_type}::{name}"


def aws_provider(stack: str = STACK, name: str = "default", **settings: Any) -> Any:
    """An AWS provider as the engine describes it: the default one's properties are the
    stack's ``aws:`` config; an explicit one's are its inputs, objects and lists as JSON
    text when the program is in Python."""
    return PolicyProviderResource(
        "pulumi:providers:aws",
        handed_over({"version": "7.51.1", **settings}),
        urn("pulumi:providers:aws", name, stack),
        name,
    )


DEFAULT = object()


def provider_or_default(provider: Any) -> Any:
    return aws_provider(region=REGION) if provider is DEFAULT else provider


def policy_args(
    document: dict[str, Any] | str,
    repository: str = REPOSITORY,
    *,
    name: str = "app-policy",
    stack: str = STACK,
    provider: Any = DEFAULT,
    config: dict[str, Any] | None = None,
    wrap: Callable[[dict[str, Any]], Any] = handed_over,
    **properties: Any,
) -> ResourceValidationArgs:
    """An ``aws.ecr.RepositoryPolicy`` about to be written."""
    text = document if isinstance(document, str) else json.dumps(document)
    return ResourceValidationArgs(
        REPOSITORY_POLICY,
        wrap({"repository": repository, "policy": text, **properties}),
        urn(REPOSITORY_POLICY, name, stack),
        name,
        OPTIONS,
        provider_or_default(provider),
        config,
    )


def service_args(name: str = "web", stack: str = STACK, parent: str = "") -> ResourceValidationArgs:
    """An ``aws.lightsail.ContainerService`` about to be created (its role ARN unknown),
    as a child of a component of type ``parent`` when given."""
    properties = {
        "name": name,
        "power": "nano",
        "scale": 1,
        "privateRegistryAccess": {"ecrImagePullerRole": {"isActive": True}},
    }
    return ResourceValidationArgs(
        CONTAINER_SERVICE,
        handed_over(properties),
        urn(f"{parent}${CONTAINER_SERVICE}" if parent else CONTAINER_SERVICE, name, stack),
        name,
        OPTIONS,
        aws_provider(stack, region=REGION),
    )


def validate(policy: str, args: Any) -> list[str]:
    """Every message ``policy`` reports for ``args`` (resource or stack validation)."""
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    assert POLICY[policy].validate(args, report) is None  # synchronous: nothing to await
    return messages


def not_applicable(policy: str, args: Any) -> str:
    """The reason ``policy`` gives for not judging ``args`` (the SDK's own exception)."""
    with pytest.raises(_NotApplicableError) as info:
        validate(policy, args)
    assert info.value.reason
    return str(info.value.reason)


def resource_policies(args: ResourceValidationArgs) -> dict[str, list[str]]:
    """What each resource policy reports, run as the servicer runs them: in order."""
    return {
        name: validate(name, args) for name in (KEEPS_LIVE_STATEMENTS, READABLE, NO_ANONYMOUS_PULL)
    }


@pytest.fixture(autouse=True)
def _a_new_pack_process() -> Iterator[None]:
    """Each test starts as a new pack process: no stack's services, no live read kept."""
    STACK_SERVICES.forget()
    LIVE_READS.forget()
    yield
    STACK_SERVICES.forget()
    LIVE_READS.forget()


@pytest.fixture(scope="module")
def _one_ecr_client() -> Any:
    """One client for the tests' own writes: building one takes longer than most tests.
    Built before any test's mock starts, so handed to moto explicitly (used only in one)."""
    client = boto3.client(
        "ecr", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    patch_client(client)
    return client


@pytest.fixture
def ecr(moto_aws: None, _one_ecr_client: Any) -> Any:
    """ECR in moto (the conftest's, but its client built once for this module)."""
    return _one_ecr_client


@pytest.fixture
def live(ecr: Any) -> Callable[..., None]:
    """Store a live policy on a repository (moto's ECR, the default account and Region)."""

    def store(*statements: dict[str, Any], repository: str = REPOSITORY) -> None:
        put_policy(ecr, doc(*statements), repository)

    return store


# --- repository-policy-keeps-live-statements: what must be reported --------------------


def test_dropping_live_statements_names_repository_each_statement_and_the_fix(
    live: Callable[..., None],
) -> None:
    live(CI_PUSH, AUDIT_NO_SID, DENY_DELETE_NO_SID, grant("api"), grant("web"))

    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(grant("web"))))

    assert f"ECR repository {REPOSITORY} (Region {REGION})" in message
    assert "would remove 4 statement(s)" in message
    # Each statement by its Sid, or by principal and actions when it has none.
    assert "CiPush" in message and "AllowLightsailPull-api" in message
    assert "a statement without Sid" in message
    assert "arn:aws:iam::111122223333:root" in message and "ecr:DescribeImages" in message
    assert 'Deny Action "ecr:Delete*" to NotPrincipal' in message and "role/admin" in message
    # The fix: keep them, let the component manage the grant, or exempt the Sids.
    assert "keep each of them in the document" in message
    assert f"aws ecr get-repository-policy --repository-name {REPOSITORY}" in message
    assert "lightsail-ecr-access component" in message
    assert "exemptSids" in message
    assert "AllowLightsailPull-api is a Lightsail service's pull grant" in message
    # What is kept is not named.
    assert "AllowLightsailPull-web" not in message


@pytest.mark.parametrize("version", ["2008-10-17", "2012-10-17"])
def test_a_single_statement_object_dropped_is_reported(
    live: Callable[..., None], ecr: Any, version: str
) -> None:
    put_policy(ecr, {"Version": version, "Statement": CI_PUSH}, REPOSITORY)

    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args({"Statement": AUDIT_NO_SID}))

    assert "would remove 1 statement(s)" in message and "CiPush" in message


def test_a_changed_pull_grant_is_reported_as_gone(live: Callable[..., None]) -> None:
    live(CI_PUSH, grant("api"))
    changed = grant("api", PULLER.replace("/web/", "/api/").replace("3EXAMPLE", "9OTHER"))

    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(CI_PUSH, changed)))

    assert "would remove 1 statement(s)" in message and "AllowLightsailPull-api" in message
    assert "declare it before this policy" in message


def test_a_pull_grant_of_a_service_in_another_stack_is_reported(
    live: Callable[..., None],
) -> None:
    live(grant("web"))
    # The same service name, analyzed in another stack and in another project.
    validate(KEEPS_LIVE_STATEMENTS, service_args("web", stack="urn:pulumi:prod::shop"))
    validate(KEEPS_LIVE_STATEMENTS, service_args("web", stack="urn:pulumi:dev::blog"))
    validate(KEEPS_LIVE_STATEMENTS, service_args("api"))

    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(CI_PUSH)))

    assert "AllowLightsailPull-web" in message


def test_a_pull_grant_of_a_service_declared_after_the_policy_is_reported(
    live: Callable[..., None],
) -> None:
    live(grant("web"))
    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(CI_PUSH)))
    validate(KEEPS_LIVE_STATEMENTS, service_args("web"))

    assert "declare it before this policy so that the pack sees it" in message


def per_stack(stack: str) -> dict[str, Any]:
    """What a per-stack loop writes: one statement per stack, both for one account."""
    return {
        "Sid": f"AllowECRAccess-{stack}",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }


@pytest.mark.parametrize(
    ("case", "proposed", "gone"),
    [
        ("one per-stack statement dropped", doc(per_stack("prod")), "AllowECRAccess-staging"),
        (
            "renamed, the same permissions",
            doc(per_stack("prod"), {**per_stack("staging"), "Sid": "AllowECRAccess"}),
            "AllowECRAccess-staging",
        ),
    ],
)
def test_a_sid_dropped_beside_one_that_grants_the_same_is_reported(
    live: Callable[..., None], case: str, proposed: dict[str, Any], gone: str
) -> None:
    """The other Sid's owner may revoke theirs later: then nothing grants the account."""
    live(per_stack("prod"), per_stack("staging"))

    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(proposed))

    assert "would remove 1 statement(s)" in message, case
    assert f": {gone}. Fix:" in message, case


def test_per_stack_statements_reordered_and_reformatted_are_not_reported(
    live: Callable[..., None],
) -> None:
    live(per_stack("prod"), per_stack("staging"))
    reformatted = [
        {**per_stack(stack), "Action": ["ECR:GetDownloadUrlForLayer", "ecr:BatchGetImage"]}
        for stack in ("staging", "prod")
    ]

    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(*reformatted))) == []


# --- repository-policy-keeps-live-statements: what must not be reported ----------------


@pytest.mark.parametrize(
    ("case", "proposed"),
    [
        ("unchanged", doc(CI_PUSH, AUDIT_NO_SID, grant("api"))),
        ("only adds", doc(CI_PUSH, AUDIT_NO_SID, grant("api"), grant("web"))),
        ("reordered", doc(grant("api"), AUDIT_NO_SID, CI_PUSH, version="2008-10-17")),
        (
            "reformatted",
            doc(
                {**CI_PUSH, "Action": list(reversed(CI_PUSH["Action"]))},
                {**AUDIT_NO_SID, "Action": ["ecr:DescribeImages"]},
                {**grant("api"), "Principal": {"AWS": [grant("api")["Principal"]["AWS"]]}},
            ),
        ),
        (
            "an owner edits their own Sid",
            doc({**CI_PUSH, "Action": "ecr:*", "Condition": {}}, AUDIT_NO_SID, grant("api")),
        ),
    ],
)
def test_a_document_that_keeps_every_live_statement_is_not_reported(
    live: Callable[..., None], case: str, proposed: dict[str, Any]
) -> None:
    live(CI_PUSH, AUDIT_NO_SID, grant("api"))

    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(proposed)) == [], case
    # The same text pretty-printed, as many programs pass it (the live read is reused).
    text = json.dumps(proposed, indent=2)
    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(text)) == [], case


def test_the_grant_of_a_service_analyzed_earlier_in_the_same_stack_is_its_own(
    live: Callable[..., None],
) -> None:
    old = grant("web", PULLER.replace("3EXAMPLE", "0OLDROLE"))
    live(CI_PUSH, old)
    # The component declares its service first (a child of the component, in the URN).
    args = service_args("web", parent=TYPE_TOKEN)
    assert validate(KEEPS_LIVE_STATEMENTS, args) == []

    # Its grant replaced with the service's new puller role: its own to change.
    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(CI_PUSH, grant("web")))) == []
    # Another service's grant is still reported.
    live(CI_PUSH, old, grant("api"))
    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(CI_PUSH), name="other"))
    assert "AllowLightsailPull-api" in message and "AllowLightsailPull-web" not in message


def test_nothing_live_is_nothing_removed(ecr: Any) -> None:
    # No repository yet (created in the same update), then a repository without policy.
    args = policy_args(doc(grant("web")))
    assert resource_policies(args) == {
        KEEPS_LIVE_STATEMENTS: [],
        READABLE: [],
        NO_ANONYMOUS_PULL: [],
    }

    ecr.create_repository(repositoryName=REPOSITORY)
    LIVE_READS.forget()
    assert resource_policies(args) == {
        KEEPS_LIVE_STATEMENTS: [],
        READABLE: [],
        NO_ANONYMOUS_PULL: [],
    }


# --- configuration ----------------------------------------------------------------------


def test_exempt_sids_with_wildcards_may_be_removed(live: Callable[..., None]) -> None:
    live(CI_PUSH, AUDIT_NO_SID, grant("api"), {**CI_PUSH, "Sid": "CiPull"})
    config = {"exemptSids": ["Ci*", "AllowLightsailPull-?pi"]}

    (message,) = validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(), config=config))

    assert "would remove 1 statement(s)" in message and "a statement without Sid" in message
    for exempt in ("CiPush", "CiPull", "AllowLightsailPull-api"):
        assert exempt not in message


def test_an_exempt_repository_is_not_judged_nor_read(
    live: Callable[..., None], client_builds: list[tuple[str, str]]
) -> None:
    live(CI_PUSH)
    args = policy_args(doc(), config={"exemptRepositories": ["other", REPOSITORY]})

    assert not_applicable(KEEPS_LIVE_STATEMENTS, args) == f"repository {REPOSITORY} is exempt"
    assert not_applicable(READABLE, args) == f"repository {REPOSITORY} is exempt"
    assert client_builds == []
    # Another repository is still judged.
    live(CI_PUSH, repository="team/other")
    other = policy_args(doc(), "team/other", config={"exemptRepositories": [REPOSITORY]})
    assert len(validate(KEEPS_LIVE_STATEMENTS, other)) == 1


@pytest.mark.parametrize(
    ("policy", "key", "value"),
    [
        (KEEPS_LIVE_STATEMENTS, "exemptSids", "CiPush"),
        (KEEPS_LIVE_STATEMENTS, "exemptRepositories", REPOSITORY),
        (READABLE, "exemptRepositories", {"team/app": True}),
        (NO_ANONYMOUS_PULL, "exemptRepositories", 3),
    ],
)
def test_a_config_value_that_is_not_a_list_says_what_to_give(
    live: Callable[..., None], policy: str, key: str, value: Any
) -> None:
    live(CI_PUSH)

    with pytest.raises(ValueError) as info:
        validate(policy, policy_args(doc(), config={key: value}))

    message = str(info.value)
    assert f"policy {policy}: config {key} is {value!r}" in message
    assert "give a list of strings" in message and f'{{"{policy}": {{"{key}": [' in message


def test_a_stack_config_value_that_is_not_a_list_says_what_to_give() -> None:
    with pytest.raises(ValueError, match="give a list of strings"):
        validate(PULLS_ONLY_GRANTED, StackValidationArgs([], {"exemptServices": "web"}))


# --- unknown documents: judged at `pulumi up`, not in preview --------------------------


def raw(properties: dict[str, Any]) -> dict[str, Any]:
    """Properties as a plain dict (the sentinel in place, no proxy)."""
    return properties


@pytest.mark.parametrize("wrap", [handed_over, raw], ids=["proxied", "plain"])
@pytest.mark.parametrize(
    "unknown",
    [{"policy": UNKNOWN_STRING_VALUE}, {"repository": UNKNOWN_STRING_VALUE}],
    ids=["policy", "repository"],
)
def test_an_unknown_document_is_not_judged(
    live: Callable[..., None],
    client_builds: list[tuple[str, str]],
    wrap: Callable[[dict[str, Any]], Any],
    unknown: dict[str, Any],
) -> None:
    live(CI_PUSH)
    args = policy_args(doc(), wrap=wrap, **unknown)

    for policy in (KEEPS_LIVE_STATEMENTS, READABLE, NO_ANONYMOUS_PULL):
        reason = not_applicable(policy, args)
        assert "the document is not known yet" in reason
        assert "judged at `pulumi up`, before it is written" in reason
    assert client_builds == []  # nothing read for a document not known


def test_an_unknown_document_through_the_sdks_servicer_is_not_applicable(ecr: Any) -> None:
    from emulation.analyzer import UNKNOWN, InProcessPack, analyze_request, default_aws_provider
    from emulation.analyzer import not_applicable as reasons

    put_policy(ecr, doc(CI_PUSH), REPOSITORY)
    pack = InProcessPack("lightsail-ecr-access", POLICIES)
    provider = default_aws_provider("dev", "shop", {"aws:region": REGION})
    request = analyze_request(
        urn(REPOSITORY_POLICY, "app-policy"),
        {"repository": REPOSITORY, "policy": UNKNOWN},
        provider,
    )

    response = pack.servicer.Analyze(request, None)

    assert list(response.diagnostics) == []
    found = reasons(response)
    assert sorted(found) == sorted([KEEPS_LIVE_STATEMENTS, READABLE, NO_ANONYMOUS_PULL])
    assert all("the document is not known yet" in reason for reason in found.values())


def test_a_document_dropping_a_statement_through_the_sdks_servicer_is_mandatory(
    live: Callable[..., None],
) -> None:
    from emulation.analyzer import InProcessPack, analyze_request, default_aws_provider

    live(CI_PUSH, grant("api"))
    pack = InProcessPack("lightsail-ecr-access", POLICIES)
    provider = default_aws_provider("dev", "shop", {"aws:region": REGION})
    request = analyze_request(
        urn(REPOSITORY_POLICY, "app-policy"),
        {"repository": REPOSITORY, "policy": json.dumps(doc(grant("api")))},
        provider,
    )

    (violation,) = pack.analyze(request)

    assert (violation.policy, violation.level) == (KEEPS_LIVE_STATEMENTS, "mandatory")
    assert "CiPush" in violation.message


def test_a_document_that_is_not_a_policy_is_not_judged(live: Callable[..., None]) -> None:
    live(CI_PUSH)

    reason = not_applicable(KEEPS_LIVE_STATEMENTS, policy_args("{not json"))

    assert "the document is not a policy" in reason and "ECR refuses it" in reason


# --- whose identity, which Region -------------------------------------------------------


def ecr_in(region: str, **credentials: Any) -> Any:
    return boto3.client("ecr", region_name=region, **credentials)


def ecr_as_deployer(region: str = REGION) -> Any:
    """ECR in the other account, as the provider's assumed role sees it."""
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(RoleArn=DEPLOYER, RoleSessionName="test")["Credentials"]
    return ecr_in(
        region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def dropping(args: ResourceValidationArgs) -> str:
    """The one message keeps-live-statements reports (and readable reports none)."""
    assert validate(READABLE, args) == []
    (message,) = validate(KEEPS_LIVE_STATEMENTS, args)
    return message


def test_the_providers_region_wins_over_the_environment(moto_aws: None) -> None:
    put_policy(ecr_in("eu-west-1"), doc(CI_PUSH), REPOSITORY)

    message = dropping(policy_args(doc(), provider=aws_provider(region="eu-west-1")))

    assert "Region eu-west-1" in message
    # The environment's Region (us-east-1) has no such repository: nothing to remove.
    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(), name="env", provider=None)) == []


def test_the_resources_own_region_wins_over_the_providers(moto_aws: None) -> None:
    put_policy(ecr_in("ap-southeast-2"), doc(CI_PUSH), REPOSITORY)
    provider = aws_provider(region="eu-west-1")

    message = dropping(policy_args(doc(), provider=provider, region="ap-southeast-2"))

    assert "Region ap-southeast-2" in message
    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(), name="p", provider=provider)) == []


def shared_config(tmp_path: Path) -> Path:
    """A shared config file whose profile ``prod`` assumes a role in the other account,
    in its own Region, as most organisations set profiles up."""
    path = tmp_path / "config"
    path.write_text(
        "[profile base]\n"
        "aws_access_key_id = base-key\n"
        "aws_secret_access_key = base-secret\n"
        "[profile prod]\n"
        f"role_arn = {DEPLOYER}\n"
        "source_profile = base\n"
        "region = eu-west-1\n"
    )
    return path


@pytest.mark.parametrize("where", ["sharedConfigFiles", "AWS_CONFIG_FILE"])
def test_a_providers_profile_is_honoured(
    moto_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    config = shared_config(tmp_path)
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the profile's Region, then
    put_policy(ecr_as_deployer("eu-west-1"), doc(CI_PUSH), REPOSITORY)
    settings: dict[str, Any] = {"profile": "prod"}
    if where == "sharedConfigFiles":
        settings[where] = json.dumps([str(config)])  # a list, as the Python SDK hands it
    else:
        monkeypatch.setenv(where, str(config))

    message = dropping(policy_args(doc(), provider=aws_provider(**settings)))

    assert "CiPush" in message and "Region eu-west-1" in message
    # Without the profile, the environment's identity: another account, nothing live.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(), name="env", provider=None)) == []


@pytest.mark.parametrize(
    ("key", "roles"),
    [
        # The Python SDK hands a provider's list and object arguments over as JSON text.
        ("assumeRoles", json.dumps([{"roleArn": DEPLOYER, "sessionName": "ci"}])),
        ("assumeRoles", [{"roleArn": DEPLOYER, "sessionName": "ci"}]),
        ("assumeRole", json.dumps({"roleArn": DEPLOYER})),  # the older single role
    ],
    ids=["json-text", "list", "older-assumeRole"],
)
def test_assumed_roles_are_followed(moto_aws: None, key: str, roles: Any) -> None:
    put_policy(ecr_as_deployer(), doc(CI_PUSH), REPOSITORY)
    provider = aws_provider(region=REGION, **{key: roles})

    assert "CiPush" in dropping(policy_args(doc(), provider=provider))
    # The same document in the environment's own account: nothing live there.
    assert validate(KEEPS_LIVE_STATEMENTS, policy_args(doc(), name="own")) == []


def test_static_keys_in_the_provider_are_reported_as_unreadable(live: Callable[..., None]) -> None:
    live(CI_PUSH)
    provider = aws_provider(region=REGION, accessKey="AKIAEXAMPLE", secretKey="wJalrEXAMPLE")
    args = policy_args(doc(), provider=provider)

    (message,) = validate(READABLE, args)

    assert f"the live policy of ECR repository {REPOSITORY} could not be read" in message
    assert f"so {KEEPS_LIVE_STATEMENTS} could not check" in message
    assert "static keys (accessKey, secretKey)" in message
    assert "give the pack the same identity through its environment or a profile" in message
    assert "AKIAEXAMPLE" not in message and "wJalrEXAMPLE" not in message
    assert validate(KEEPS_LIVE_STATEMENTS, args) == []  # not judged: readable says why


def test_a_web_identity_provider_is_reported_as_unreadable(live: Callable[..., None]) -> None:
    live(CI_PUSH)
    web_identity = json.dumps({"roleArn": DEPLOYER, "webIdentityToken": "token"})
    args = policy_args(
        doc(), provider=aws_provider(region=REGION, assumeRoleWithWebIdentity=web_identity)
    )

    (message,) = validate(READABLE, args)

    assert "the AWS provider's settings cannot be followed" in message
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in message  # the way that does work
    assert validate(KEEPS_LIVE_STATEMENTS, args) == []


def test_access_denied_names_the_permission(
    live: Callable[..., None], inject_error: Callable[[str, str, str], None]
) -> None:
    live(CI_PUSH)
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    args = policy_args(doc())

    (message,) = validate(READABLE, args)

    assert "AWS denied ecr:GetRepositoryPolicy" in message
    assert f"repository {REPOSITORY} in {REGION}" in message
    assert "need the IAM permission ecr:GetRepositoryPolicy" in message
    assert "(read as the environment's credentials, the resource's AWS provider)" in message
    assert validate(KEEPS_LIVE_STATEMENTS, args) == []


def test_access_denied_to_an_assumed_role_names_the_role(
    live: Callable[..., None], inject_error: Callable[[str, str, str], None]
) -> None:
    live(CI_PUSH)
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")
    provider = aws_provider(region=REGION, assumeRoles=json.dumps([{"roleArn": DEPLOYER}]))

    (message,) = validate(READABLE, policy_args(doc(), provider=provider))

    assert "ecr:GetRepositoryPolicy" in message and f"then role {DEPLOYER}" in message


def test_no_credentials_at_all_are_reported_as_such(
    live: Callable[..., None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live(CI_PUSH)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    args = policy_args(doc())

    (message,) = validate(READABLE, args)

    assert "ecr:GetRepositoryPolicy" in message
    assert "needs AWS credentials and none were found" in message
    assert validate(KEEPS_LIVE_STATEMENTS, args) == []


def test_a_profile_the_pack_does_not_have_is_reported_not_raised(
    live: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live(CI_PUSH)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    args = policy_args(doc(), provider=aws_provider(region=REGION, profile="prod"))

    (message,) = validate(READABLE, args)

    assert "AWS profile 'prod'" in message and "could not be read" in message
    assert validate(KEEPS_LIVE_STATEMENTS, args) == []


def test_no_region_anywhere_is_reported(
    live: Callable[..., None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live(CI_PUSH)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    (message,) = validate(READABLE, policy_args(doc(), provider=None))

    assert "no AWS Region is set" in message and "aws:region" in message


@pytest.mark.parametrize("setting", ["profile", "assumeRoles", "region"])
def test_a_provider_setting_not_known_yet_is_not_applicable(
    live: Callable[..., None], client_builds: list[tuple[str, str]], setting: str
) -> None:
    live(CI_PUSH)
    settings = {"region": REGION, setting: UNKNOWN_STRING_VALUE}
    args = policy_args(doc(), provider=aws_provider(**settings))

    for policy in (KEEPS_LIVE_STATEMENTS, READABLE):
        reason = not_applicable(policy, args)
        assert f"the AWS provider's {setting} is not known until" in reason
    assert client_builds == []


def test_one_live_read_serves_every_policy_of_one_resource(
    live: Callable[..., None], client_builds: list[tuple[str, str]]
) -> None:
    live(CI_PUSH)
    args = policy_args(doc())

    found = resource_policies(args)

    assert len(found[KEEPS_LIVE_STATEMENTS]) == 1 and found[READABLE] == []
    assert client_builds == [("ecr", REGION)]


# --- no-anonymous-pull ------------------------------------------------------------------


def anyone(principal: Any = "*", action: Any = None, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal}
    statement["Action"] = [BATCH, LAYER] if action is None else action
    return {**statement, **extra}


@pytest.mark.parametrize(
    ("statement", "actions"),
    [
        (anyone("*"), [BATCH, LAYER]),
        (anyone({"AWS": "*"}), [BATCH, LAYER]),
        (anyone({"AWS": ["*"]}), [BATCH, LAYER]),
        (anyone(action="ecr:*"), [BATCH, LAYER]),
        (anyone(action="*"), [BATCH, LAYER]),
        (anyone(action="ecr:Batch*"), [BATCH]),
        (anyone(action="ECR:batchgetimage"), [BATCH]),
        (
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "ecr:*",
            },
            [BATCH, LAYER],
        ),
        ({"Effect": "Allow", "Principal": "*", "NotAction": "ecr:PutImage"}, [BATCH, LAYER]),
    ],
)
def test_each_anonymous_pull_is_reported(
    client_builds: list[tuple[str, str]], statement: dict[str, Any], actions: list[str]
) -> None:
    (message,) = validate(NO_ANONYMOUS_PULL, policy_args(doc(CI_PUSH, statement)))

    assert f"the policy of ECR repository {REPOSITORY} lets anyone pull its images" in message
    assert f"allows {', '.join(actions)} to everyone" in message
    # Without a Sid, the statement is named by what it does.
    assert "a statement without Sid" in message
    assert "Fix: name the principals that pull" in message and "exemptRepositories" in message
    assert client_builds == []  # judged from the document alone


def test_an_anonymous_pull_with_a_sid_is_named_by_it() -> None:
    public = {"Sid": "Public", **anyone()}

    (message,) = validate(NO_ANONYMOUS_PULL, policy_args({"Statement": public}))

    assert f"Public allows {BATCH}, {LAYER} to everyone" in message


@pytest.mark.parametrize(
    "statement",
    [
        anyone(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}),
        anyone(Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        {**anyone(), "Effect": "Deny"},
        anyone({"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"}),
        anyone({"AWS": ACCOUNT}),
        anyone({"Service": "codebuild.amazonaws.com"}),
        grant("web"),
        anyone(action="ecr:PutImage"),
        anyone(action=["ecr:DescribeImages", "ecr:ListImages"]),
        {"Effect": "Allow", "Principal": "*", "NotAction": [BATCH, LAYER]},
        {"Effect": "Allow", "Principal": "*", "NotAction": "ecr:*"},
    ],
)
def test_what_is_not_an_anonymous_pull_is_not_reported(statement: dict[str, Any]) -> None:
    assert validate(NO_ANONYMOUS_PULL, policy_args(doc(CI_PUSH, statement))) == []


def test_a_repository_public_on_purpose_is_exempt() -> None:
    args = policy_args(doc(anyone()), config={"exemptRepositories": [REPOSITORY]})

    assert not_applicable(NO_ANONYMOUS_PULL, args) == f"repository {REPOSITORY} is exempt"
    assert validate(NO_ANONYMOUS_PULL, policy_args(doc(anyone()), "other")) != []


def test_other_resources_are_not_judged(client_builds: list[tuple[str, str]]) -> None:
    bucket = ResourceValidationArgs(
        "aws:s3/bucketPolicy:BucketPolicy",
        handed_over({"bucket": "b", "policy": json.dumps(doc(anyone(action="s3:*")))}),
        urn("aws:s3/bucketPolicy:BucketPolicy", "b"),
        "b",
        OPTIONS,
        aws_provider(region=REGION),
    )
    assert resource_policies(bucket) == {
        KEEPS_LIVE_STATEMENTS: [],
        READABLE: [],
        NO_ANONYMOUS_PULL: [],
    }
    assert client_builds == []


# --- lightsail-pulls-only-granted-images (a stack validation) --------------------------


def resource(resource_type: str, name: str, properties: dict[str, Any]) -> PolicyResource:
    return PolicyResource(
        resource_type,
        handed_over(properties),
        urn(resource_type, name),
        name,
        OPTIONS,
        aws_provider(region=REGION),
        None,
        [],
        {},
    )


def service(name: str = "web", active: Any = True, principal: Any = PULLER) -> PolicyResource:
    role: dict[str, Any] = {"isActive": active}
    if principal is not None:
        role["principalArn"] = principal
    return resource(
        CONTAINER_SERVICE,
        name,
        {
            "name": name,
            "power": "nano",
            "scale": 1,
            "privateRegistryAccess": {"ecrImagePullerRole": role},
        },
    )


def deployment(
    service: str = "web", images: dict[str, str] | None = None, **properties: Any
) -> PolicyResource:
    containers = [
        {"containerName": name, "image": image, "ports": {"80": "HTTP"}}
        for name, image in (images or {"app": IMAGE}).items()
    ]
    return resource(
        DEPLOYMENT_VERSION,
        f"{service}-deployment",
        {"serviceName": service, "containers": containers, **properties},
    )


def repository_policy(
    document: dict[str, Any] | str, repository: str = REPOSITORY
) -> PolicyResource:
    text = document if isinstance(document, str) else json.dumps(document)
    return resource(
        REPOSITORY_POLICY, f"{repository}-policy", {"repository": repository, "policy": text}
    )


def stack_violations(
    *resources: PolicyResource, config: dict[str, Any] | None = None
) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append((message, urn))

    args = StackValidationArgs(list(resources), config)
    assert POLICY[PULLS_ONLY_GRANTED].validate(args, report) is None
    return found


def test_a_private_image_nothing_grants_is_reported_on_the_deployment(
    live: Callable[..., None],
) -> None:
    live(CI_PUSH, grant("api", PULLER.replace("/web/", "/api/")))
    pulled = deployment()

    ((message, at),) = stack_violations(service(), pulled, repository_policy(doc(CI_PUSH)))

    assert at == pulled.urn
    assert message.startswith(f"container app of Lightsail service web pulls {IMAGE}")
    assert f"from private ECR repository {REPOSITORY}" in message
    assert f"neither this stack nor the live policy grants its puller role {PULLER}" in message
    assert f"repositories: [{REPOSITORY}]" in message


def test_granted_by_a_document_of_the_stack_is_not_reported(ecr: Any) -> None:
    # Nothing live yet: the stack's document is what will be written.
    documents = repository_policy(doc(CI_PUSH, grant("web")))
    assert stack_violations(service(), deployment(), documents) == []
    # Granted as IAM reads it: a wildcard action, a single Statement object.
    wildcard = {**grant("web"), "Sid": "Anything", "Action": "ecr:*"}
    documents = repository_policy({"Version": "2008-10-17", "Statement": wildcard})
    assert stack_violations(service(), deployment(), documents) == []


def test_granted_only_by_the_live_policy_is_not_reported(live: Callable[..., None]) -> None:
    live(CI_PUSH, grant("web"))

    assert stack_violations(service(), deployment()) == []


def test_a_live_deny_on_the_puller_role_is_reported_even_when_granted(
    live: Callable[..., None],
) -> None:
    freeze = {
        "Sid": "FreezePulls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:BatchGetImage",
    }
    live(grant("web"), freeze)

    ((message, _),) = stack_violations(service(), deployment())

    assert (
        f"the live policy denies its puller role {PULLER} the pull (statement FreezePulls)"
        in message
    )
    assert "lightsail_ecr_access.doctor web --region" in message
    # A Deny that holds only under a condition is for a person to read, not a verdict.
    live(grant("web"), {**freeze, "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert stack_violations(service(), deployment()) == []


def test_a_stack_document_of_another_repository_does_not_grant(ecr: Any) -> None:
    other = repository_policy(doc(grant("web")), repository="team/other")

    ((message, _),) = stack_violations(service(), deployment(), other)

    assert "neither this stack nor the live policy grants" in message


def test_a_stack_document_in_another_region_does_not_grant(ecr: Any) -> None:
    elsewhere = repository_policy(doc(grant("web")))
    elsewhere.props = handed_over(
        {"repository": REPOSITORY, "policy": json.dumps(doc(grant("web"))), "region": "eu-west-1"}
    )

    ((message, _),) = stack_violations(service(), deployment(), elsewhere)

    assert "neither this stack nor the live policy grants" in message
    here = repository_policy(doc(grant("web")))
    here.props = handed_over(
        {"repository": REPOSITORY, "policy": json.dumps(doc(grant("web"))), "region": REGION}
    )
    assert stack_violations(service(), deployment(), here) == []


def test_private_registry_access_off_is_reported(live: Callable[..., None]) -> None:
    live(grant("web"))

    for declared in (service(active=False, principal=""), service(active=None, principal=None)):
        ((message, _),) = stack_violations(declared, deployment())
        assert "but the service's private registry access is off" in message
        assert "privateRegistryAccess.ecrImagePullerRole.isActive" in message


def test_the_components_first_preview_is_not_reported(client_builds: list[tuple[str, str]]) -> None:
    # The role's ARN is not known yet; the component's document names the service's Sid.
    grant_text = doc(CI_PUSH, {**grant("web"), "Principal": {"AWS": ""}})
    for principal in (UNKNOWN_STRING_VALUE, "", None):
        assert (
            stack_violations(
                service(principal=principal), deployment(), repository_policy(grant_text)
            )
            == []
        )
    assert client_builds == []


def test_an_unknown_role_or_document_is_not_reported(client_builds: list[tuple[str, str]]) -> None:
    unknown_text = repository_policy(UNKNOWN_STRING_VALUE)
    unknown_repository = resource(
        REPOSITORY_POLICY, "p", {"repository": UNKNOWN_STRING_VALUE, "policy": json.dumps(doc())}
    )
    assert stack_violations(service(), deployment(), unknown_text) == []
    assert stack_violations(service(), deployment(), unknown_repository) == []
    assert stack_violations(service(active=UNKNOWN_STRING_VALUE), deployment()) == []
    assert client_builds == []


def test_without_an_arn_and_without_a_grant_in_the_stack_is_reported(
    client_builds: list[tuple[str, str]],
) -> None:
    ((message, _),) = stack_violations(service(principal=UNKNOWN_STRING_VALUE), deployment())

    assert "this stack does not grant it (its puller role has no ARN yet)" in message
    assert client_builds == []


@pytest.mark.parametrize(
    "image",
    [
        "nginx:latest",
        "public.ecr.aws/nginx/nginx:1.27",
        ":web.app.3",
        UNKNOWN_STRING_VALUE,
    ],
)
def test_a_public_or_unknown_image_is_not_reported(
    client_builds: list[tuple[str, str]], image: str
) -> None:
    assert stack_violations(service(), deployment(images={"app": image})) == []
    assert client_builds == []


def test_exempt_services_and_repositories_are_not_checked(live: Callable[..., None]) -> None:
    live(CI_PUSH)

    assert stack_violations(service(), deployment(), config={"exemptServices": ["web"]}) == []
    config = {"exemptRepositories": [REPOSITORY]}
    assert stack_violations(service(), deployment(), config=config) == []
    assert len(stack_violations(service(), deployment(), config={"exemptServices": ["api"]})) == 1


def test_each_container_is_judged_on_its_own(live: Callable[..., None], ecr: Any) -> None:
    live(grant("web"))
    put_policy(ecr, doc(CI_PUSH), "team/worker")
    images = {
        "app": IMAGE,
        "worker": IMAGE.replace(REPOSITORY, "team/worker"),
        "proxy": "nginx:latest",
    }

    ((message, _),) = stack_violations(service(), deployment(images=images))

    assert message.startswith("container worker of Lightsail service web")
    assert "private ECR repository team/worker" in message


def test_containers_pulling_from_one_repository_share_one_read(
    live: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    live(CI_PUSH)
    reads: list[str] = []
    real = policy_pack.read_repository_policy

    def counted(access: Any, repository: str, registry_id: str | None = None) -> Any:
        reads.append(repository)
        return real(access, repository, registry_id)

    monkeypatch.setattr(policy_pack, "read_repository_policy", counted)
    images = {"app": IMAGE, "sidecar": IMAGE.replace(":1.4", ":1.5")}

    found = stack_violations(service(), deployment(images=images))

    assert [m.split(" of ")[0] for m, _ in found] == ["container app", "container sidecar"]
    assert reads == [REPOSITORY]


@pytest.fixture
def live_service(lightsail: Any) -> Callable[..., None]:
    """A container service that exists outside the stack, in the emulated Lightsail."""

    def add(name: str = "web", region: str = REGION, active: bool = True) -> None:
        lightsail.add_existing_service(name, region, role_active=active)
        if active:
            lightsail.service(name, region).role_arn = PULLER

    return add


def test_a_service_not_in_the_stack_is_read_live(
    live: Callable[..., None], live_service: Callable[..., None], lightsail: Any
) -> None:
    live_service()
    live(CI_PUSH)

    ((message, _),) = stack_violations(deployment())

    assert f"neither this stack nor the live policy grants its puller role {PULLER}" in message
    assert lightsail.calls_of("GetContainerServices") == [{"serviceName": "web"}]

    live(CI_PUSH, grant("web"))
    assert stack_violations(deployment()) == []


def test_a_service_not_in_the_stack_with_its_role_off_is_reported(
    live: Callable[..., None], live_service: Callable[..., None]
) -> None:
    live_service(active=False)
    live(grant("web"))

    ((message, _),) = stack_violations(deployment())

    assert "private registry access is off" in message


def test_a_service_that_exists_nowhere_is_left_to_the_deployment(
    live: Callable[..., None], lightsail: Any
) -> None:
    live(CI_PUSH)

    assert stack_violations(deployment()) == []
    assert lightsail.calls_of("GetContainerServices") == [{"serviceName": "web"}]


def test_a_service_not_in_the_stack_is_read_in_the_deployments_region(
    live: Callable[..., None], live_service: Callable[..., None], lightsail: Any
) -> None:
    # The provider's Region is us-east-1; the deployment says where its service is.
    live_service(region="eu-west-1", active=False)
    live(grant("web"))

    ((message, _),) = stack_violations(deployment(region="eu-west-1"))

    assert "private registry access is off" in message


def test_a_service_that_cannot_be_read_is_reported_with_the_reason(
    live: Callable[..., None], lightsail: Any, inject_error: Callable[[str, str, str], None]
) -> None:
    live(CI_PUSH)
    inject_error("lightsail", "GetContainerServices", "AccessDeniedException")

    ((message, _),) = stack_violations(deployment())

    assert "the pack could not check that it may" in message
    assert "AWS denied lightsail:GetContainerServices" in message


def test_a_profile_the_pack_does_not_have_is_reported_for_a_service_outside_the_stack(
    lightsail: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    pulled = deployment()
    pulled.provider = aws_provider(region=REGION, profile="prod")

    ((message, at),) = stack_violations(pulled)

    assert at == pulled.urn
    assert "the pack could not check that it may" in message and "AWS profile 'prod'" in message


def test_a_live_policy_that_cannot_be_read_is_reported_with_the_reason(
    live: Callable[..., None], inject_error: Callable[[str, str, str], None]
) -> None:
    live(CI_PUSH)
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")

    ((message, _),) = stack_violations(service(), deployment())

    assert "the pack could not read its live policy to check" in message
    assert "AWS denied ecr:GetRepositoryPolicy" in message


def test_a_stack_through_the_sdks_servicer_reports_on_the_deployment(
    live: Callable[..., None],
) -> None:
    from emulation.analyzer import (
        InProcessPack,
        StackResource,
        analyze_stack_request,
        default_aws_provider,
    )

    live(CI_PUSH)
    provider = default_aws_provider("dev", "shop", {"aws:region": REGION})
    pulled = urn(DEPLOYMENT_VERSION, "web-deployment")
    role = {"isActive": True, "principalArn": PULLER}
    request = analyze_stack_request(
        [
            StackResource(
                urn(CONTAINER_SERVICE, "web"),
                {"name": "web", "privateRegistryAccess": {"ecrImagePullerRole": role}},
                provider,
            ),
            StackResource(
                pulled,
                {"serviceName": "web", "containers": [{"containerName": "app", "image": IMAGE}]},
                provider,
            ),
        ]
    )

    (violation,) = InProcessPack("lightsail-ecr-access", POLICIES).analyze_stack(request)

    assert (violation.policy, violation.level, violation.urn) == (
        PULLS_ONLY_GRANTED,
        "advisory",
        pulled,
    )
    assert "container app of Lightsail service web" in violation.message
