"""Writes of the shared repository policy that survive other writers, against moto's ECR.

ECR has no conditional write, so the project's writes are merged from a fresh read,
checked after a settle delay and repaired. These tests play the other writer by hand:
a second client (another team, a stale stack) writes the policy at a chosen moment,
either from a botocore ``before-call`` handler (during our call) or from the virtual
clock's sleep (during a settle delay or a propagation back-off). The clock is the
conftest's VirtualClock, so every wait is measured in ``clock.slept``, never spent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from pulumi.dynamic import ReadResult

from components.aws import policy_writes, sdk
from components.aws.identity import AssumedRole, AwsIdentity
from components.aws.policy_writes import (
    JITTER_SECONDS,
    MAX_REPAIRS,
    PROPAGATION_TIMEOUT_SECONDS,
    SETTLE_SECONDS,
    GrantNotVerified,
    WriteWindowExceeded,
    check_write_window,
    ensure_grants,
    merged_from_fresh_read,
    revoke_verified,
    verify_grants,
    write_window,
)
from components.aws.revocation import Revocation
from components.dynamic_providers import (
    FreshPolicyDocumentProvider,
    GrantFinalizerProvider,
    GrantVerificationProvider,
    WrongAccountError,
)
from components.rules import policy
from components.rules.policy import MalformedPolicyError, pull_statement, statement_sid
from emulation.cloud import VirtualClock
from tests.conftest import ACCOUNT, CI_PUSH, REGION, ROLE_ARN, fail_call, put_policy, run_coroutine

REPOSITORY = "team/app"
SERVICE = "web"
SID = statement_sid(SERVICE)
OURS = pull_statement(SERVICE, ROLE_ARN)
API_ROLE_ARN = ROLE_ARN.replace("/web/", "/api/").replace("3EXAMPLE", "4EXAMPLE")
API_OURS = pull_statement("api", API_ROLE_ARN)
# The same Sid, as a run with the service's previous puller role left it.
OURS_OLD_ROLE = {**OURS, "Principal": {"AWS": ROLE_ARN.replace("3EXAMPLE", "0OLDROLE")}}
AUDITORS: dict[str, Any] = {
    "Sid": "AuditRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditor"},
    "Action": ["ecr:DescribeImages"],
}
WHERE = f"repository {REPOSITORY} in {REGION}"


# --- helpers ---------------------------------------------------------------------------


def stored(ecr: Any, repository: str = REPOSITORY) -> dict[str, Any] | None:
    """The live policy document, or None when the repository has no policy."""
    try:
        return json.loads(ecr.get_repository_policy(repositoryName=repository)["policyText"])
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None


def stored_text(ecr: Any) -> str:
    return str(ecr.get_repository_policy(repositoryName=REPOSITORY)["policyText"])


def calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """Every ``operation`` call ``client`` makes from now on, with its parameters."""
    made: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        made.append(json.loads(params["body"]))  # ECR's JSON protocol: the API's parameters

    client.meta.events.register(f"before-call.ecr.{operation}", record)
    return made


def another_writer() -> Any:
    """A second ECR client on the same (moto) account: another team, another stack."""
    return boto3.client("ecr", region_name=REGION)


def write(document: dict[str, Any]) -> None:
    another_writer().set_repository_policy(
        repositoryName=REPOSITORY, policyText=json.dumps(document)
    )


class HookedClock(VirtualClock):
    """A virtual clock that lets another writer act while the code under test sleeps."""

    def __init__(self, on_sleep: Callable[[int], None]) -> None:
        super().__init__()
        self.on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.on_sleep(len(self.slept))  # 1 on the first sleep


@pytest.fixture
def clock() -> VirtualClock:
    """The virtual clock the autouse fixture installed in policy_writes."""
    installed = policy_writes.clock
    assert isinstance(installed, VirtualClock)
    return installed


def hook_sleep(monkeypatch: pytest.MonkeyPatch, on_sleep: Callable[[int], None]) -> HookedClock:
    hooked = HookedClock(on_sleep)
    monkeypatch.setattr(policy_writes, "clock", hooked)
    return hooked


class _Ok:
    status_code = 200
    headers: dict[str, str] = {}


def answer_policy_text(text: str) -> Callable[..., Any]:
    """A `before-call` handler answering GetRepositoryPolicy with ``text`` (ECR itself
    refuses to store a malformed policy, so moto cannot hold one)."""

    def handler(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Ok(), {"registryId": ACCOUNT, "repositoryName": REPOSITORY, "policyText": text}

    return handler


def fail_first(times: int, code: str, between: Callable[[int], None] | None = None) -> Any:
    """A `before-call` handler failing the first ``times`` calls with ``code``; before
    failing call n (1-based), ``between(n)`` runs (another writer acting meanwhile)."""
    seen: list[int] = []

    def handler(**kwargs: Any) -> Any:
        seen.append(1)
        if len(seen) > times:
            return None
        if between is not None:
            between(len(seen))
        return fail_call(code, "Invalid parameter at 'PolicyText' failed to satisfy constraint")(
            **kwargs
        )

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


@pytest.fixture
def repository(ecr: Any) -> Iterator[str]:
    ecr.create_repository(repositoryName=REPOSITORY)
    yield REPOSITORY


# --- ensure_grants ---------------------------------------------------------------------


def test_ensure_writes_a_missing_grant_after_the_other_statements(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS]})
    writes = calls(ecr, "SetRepositoryPolicy")

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert ensured.wrote is True
    assert len(writes) == 1
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS, OURS]}
    # The text returned is the text written, byte for byte.
    assert ensured.text == stored_text(ecr) == writes[0]["policyText"]
    # The other team's statement is byte-equal (key order, Condition and all).
    written = json.loads(ensured.text)["Statement"][0]
    assert json.dumps(written) == json.dumps(CI_PUSH)


def test_ensure_merges_several_grants_in_order(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [API_OURS, OURS])

    assert ensured.wrote is True
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, API_OURS, OURS]}


def test_ensure_does_not_write_a_grant_that_is_already_there(ecr: Any) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    writes = calls(ecr, "SetRepositoryPolicy")

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert ensured.wrote is False
    assert writes == []
    assert stored_text(ecr) == text
    assert json.loads(ensured.text) == {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}


def test_ensure_replaces_our_statement_with_another_principal_in_place(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [OURS_OLD_ROLE, CI_PUSH]})

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert ensured.wrote is True
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [OURS, CI_PUSH]}


def test_ensure_on_a_repository_without_policy_writes_a_2008_document(
    ecr: Any, repository: str
) -> None:
    ensured = ensure_grants(ecr, repository, REGION, [OURS])

    assert ensured.wrote is True
    assert stored(ecr) == {"Version": "2008-10-17", "Statement": [OURS]}


def test_ensure_retries_an_unpropagated_principal_with_a_fresh_read_each_time(
    ecr: Any, clock: VirtualClock
) -> None:
    """IAM has not propagated the new puller role: ECR says InvalidParameterException.
    Each retry must merge into a new read, or it would write back a document older than
    the other writers' edits made while it waited."""
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    edits = {1: AUDITORS, 2: API_OURS}

    def other_team_edits(failure: int) -> None:
        live = stored(another_writer())
        assert live is not None
        write({**live, "Statement": [*live["Statement"], edits[failure]]})

    failing = fail_first(2, "InvalidParameterException", between=other_team_edits)
    ecr.meta.events.register("before-call.ecr.SetRepositoryPolicy", failing)
    reads = calls(ecr, "GetRepositoryPolicy")

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert ensured.wrote is True
    assert len(failing.seen) == 3
    assert len(reads) == 3
    # Both edits made while we waited survive, and ours is there.
    assert stored(ecr) == {
        "Version": "2012-10-17",
        "Statement": [CI_PUSH, AUDITORS, API_OURS, OURS],
    }
    # The back-off: 2 s, then doubled.
    assert clock.slept == [2.0, 4.0]


def test_ensure_does_not_write_when_another_writer_added_our_grant_while_it_waited(
    ecr: Any,
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    # Another run of this stack (or the policy resource) lands our statement meanwhile.
    failing = fail_first(
        1, "InvalidParameterException", between=lambda _: write({"Statement": [CI_PUSH, OURS]})
    )
    ecr.meta.events.register("before-call.ecr.SetRepositoryPolicy", failing)

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert ensured.wrote is False
    assert len(failing.seen) == 1
    assert stored(ecr) == {"Statement": [CI_PUSH, OURS]}


def test_ensure_gives_up_on_an_unpropagated_principal_after_the_timeout(
    ecr: Any, clock: VirtualClock
) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    writes = calls(ecr, "SetRepositoryPolicy")
    ecr.meta.events.register(
        "before-call.ecr.SetRepositoryPolicy", fail_call("InvalidParameterException")
    )

    with pytest.raises(sdk.AwsCallError) as caught:
        ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert caught.value.code == "InvalidParameterException"
    message = str(caught.value)
    assert "ecr:SetRepositoryPolicy" in message
    assert WHERE in message
    assert "InvalidParameterException" in message
    # Waited the whole timeout on the virtual clock, never longer, backing off up to 10 s.
    assert PROPAGATION_TIMEOUT_SECONDS - 1.0 < sum(clock.slept) <= PROPAGATION_TIMEOUT_SECONDS
    assert clock.slept[:4] == [2.0, 4.0, 8.0, 10.0]
    assert max(clock.slept) == 10.0
    assert len(writes) == len(clock.slept) + 1
    assert stored_text(ecr) == text


def test_ensure_gives_up_saying_it_waited_for_iam_and_what_to_check(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    ecr.meta.events.register(
        "before-call.ecr.SetRepositoryPolicy", fail_call("InvalidParameterException")
    )

    with pytest.raises(sdk.AwsCallError) as caught:
        ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    message = str(caught.value)
    assert "120" in message
    assert ROLE_ARN in message


def test_ensure_does_not_retry_access_denied(ecr: Any, clock: VirtualClock) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    failing = fail_first(99, "AccessDeniedException")
    ecr.meta.events.register("before-call.ecr.SetRepositoryPolicy", failing)

    with pytest.raises(sdk.AwsCallError) as caught:
        ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert caught.value.code == "AccessDeniedException"
    message = str(caught.value)
    assert f"AWS denied ecr:SetRepositoryPolicy on {WHERE}" in message
    assert "operatorPolicy" in message
    assert len(failing.seen) == 1
    assert clock.slept == []
    assert stored_text(ecr) == text


@pytest.mark.parametrize(
    "text", ['{"Version": "2012-10-17"', '{"Version": "2012-10-17"}', '["not", "a", "policy"]']
)
def test_ensure_refuses_a_malformed_live_policy_and_changes_nothing(
    ecr: Any, repository: str, text: str
) -> None:
    ecr.meta.events.register("before-call.ecr.GetRepositoryPolicy", answer_policy_text(text))
    writes = calls(ecr, "SetRepositoryPolicy")

    with pytest.raises(MalformedPolicyError) as caught:
        ensure_grants(ecr, repository, REGION, [OURS])

    message = str(caught.value)
    assert f"the policy of {WHERE} cannot be used" in message
    assert "nothing was changed" in message
    assert "set-repository-policy" in message and "run again" in message
    assert writes == []


def test_merged_from_fresh_read_reports_the_missing_sids_and_writes_nothing(ecr: Any) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    writes = calls(ecr, "SetRepositoryPolicy")

    merged, missing = merged_from_fresh_read(ecr, REPOSITORY, REGION, [OURS, API_OURS])

    assert missing == [statement_sid("api")]
    assert json.loads(merged)["Statement"] == [CI_PUSH, OURS, API_OURS]
    assert writes == []
    assert stored_text(ecr) == text


# --- verify_grants ---------------------------------------------------------------------


def test_verify_returns_zero_when_the_grant_held_after_one_settle(
    ecr: Any, clock: VirtualClock
) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    writes = calls(ecr, "SetRepositoryPolicy")

    assert verify_grants(ecr, REPOSITORY, REGION, [OURS]) == 0

    assert len(clock.slept) == 1
    assert SETTLE_SECONDS <= clock.slept[0] <= SETTLE_SECONDS + JITTER_SECONDS
    assert writes == []
    assert stored_text(ecr) == text


def test_settle_jitter_comes_from_the_module_jitter(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    import random

    monkeypatch.setattr(policy_writes, "jitter", random.Random(7))
    policy_writes.settle()
    policy_writes.settle()
    expected = random.Random(7)

    assert clock.slept == [
        SETTLE_SECONDS + expected.uniform(0.0, JITTER_SECONDS),
        SETTLE_SECONDS + expected.uniform(0.0, JITTER_SECONDS),
    ]
    assert clock.slept[0] != clock.slept[1]


def test_verify_repairs_a_grant_removed_during_the_settle_keeping_the_other_writer(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})

    def stale_writer(sleep: int) -> None:
        if sleep == 1:
            # Another team's whole-document write, from a read older than our grant.
            write({"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS]})

    hooked = hook_sleep(monkeypatch, stale_writer)
    writes = calls(ecr, "SetRepositoryPolicy")

    assert verify_grants(ecr, REPOSITORY, REGION, [OURS]) == 1

    assert len(writes) == 1
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS, OURS]}
    # Settled, repaired, settled again and found it held.
    assert len(hooked.slept) == 2


def test_verify_repairs_a_grant_whose_principal_another_writer_changed(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    hook_sleep(
        monkeypatch,
        lambda n: (
            write({"Version": "2012-10-17", "Statement": [CI_PUSH, OURS_OLD_ROLE]})
            if n == 1
            else None
        ),
    )

    assert verify_grants(ecr, REPOSITORY, REGION, [OURS]) == 1

    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}


def test_verify_fails_after_max_repairs_naming_what_the_live_policy_holds(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    # A whole-document writer on a loop: every settle, the grant is gone again.
    hooked = hook_sleep(
        monkeypatch, lambda _: write({"Version": "2012-10-17", "Statement": [CI_PUSH]})
    )
    writes = calls(ecr, "SetRepositoryPolicy")

    with pytest.raises(GrantNotVerified) as caught:
        verify_grants(ecr, REPOSITORY, REGION, [OURS])

    assert len(writes) == MAX_REPAIRS
    assert len(hooked.slept) == MAX_REPAIRS + 1
    message = str(caught.value)
    assert (
        f"the pull statement(s) {SID} on {WHERE} were still missing after {MAX_REPAIRS} repairs"
        in message
    )
    assert "the live policy holds 1 statement(s): CiPush." in message
    assert "CloudTrail" in message and "SetRepositoryPolicy" in message
    assert "`pulumi up` again" in message


def test_verify_failure_lists_a_statement_without_sid_by_what_it_grants(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_sid = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"},
        "Action": "ecr:BatchGetImage",
    }
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    hook_sleep(monkeypatch, lambda _: write({"Version": "2012-10-17", "Statement": [no_sid]}))

    with pytest.raises(GrantNotVerified) as caught:
        verify_grants(ecr, REPOSITORY, REGION, [OURS, API_OURS])

    message = str(caught.value)
    assert f"{SID}, {statement_sid('api')} on {WHERE}" in message
    assert (
        "the live policy holds 1 statement(s): a statement without Sid (Allow Action "
        f'"ecr:BatchGetImage" to Principal {{"AWS": "arn:aws:iam::{ACCOUNT}:role/ci"}})' in message
    )


def test_verify_when_the_policy_was_deleted_during_the_settle_writes_it_again(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [OURS]})
    hook_sleep(
        monkeypatch,
        lambda n: (
            another_writer().delete_repository_policy(repositoryName=REPOSITORY) if n == 1 else None
        ),
    )

    assert verify_grants(ecr, REPOSITORY, REGION, [OURS]) == 1

    assert stored(ecr) == {"Version": "2008-10-17", "Statement": [OURS]}


# --- revoke_verified -------------------------------------------------------------------


def test_revoke_verified_removes_only_ours(ecr: Any, clock: VirtualClock) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS, AUDITORS]})

    assert revoke_verified(ecr, REPOSITORY, REGION, SID) is Revocation.REMOVED

    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS]}
    assert len(clock.slept) == 1
    assert SETTLE_SECONDS <= clock.slept[0] <= SETTLE_SECONDS + JITTER_SECONDS


def test_revoke_verified_revokes_again_what_a_stale_writer_wrote_back(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}
    put_policy(ecr, before)
    # A run that read the policy before our revoke writes its document afterwards.
    hooked = hook_sleep(monkeypatch, lambda n: write(before) if n == 1 else None)
    writes = calls(ecr, "SetRepositoryPolicy")

    assert revoke_verified(ecr, REPOSITORY, REGION, SID) is Revocation.REMOVED

    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH]}
    assert len(writes) == 2
    assert len(hooked.slept) == 2


def test_revoke_verified_deletes_the_policy_when_ours_was_the_last(
    ecr: Any, clock: VirtualClock
) -> None:
    put_policy(ecr, {"Version": "2008-10-17", "Statement": [OURS]})

    assert revoke_verified(ecr, REPOSITORY, REGION, SID) is Revocation.POLICY_DELETED

    assert stored(ecr) is None
    assert len(clock.slept) == 1


def test_revoke_verified_reports_what_the_last_revoke_did(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_policy(ecr, {"Version": "2008-10-17", "Statement": [OURS]})
    hook_sleep(
        monkeypatch,
        lambda n: (
            write({"Version": "2008-10-17", "Statement": [CI_PUSH, OURS]}) if n == 1 else None
        ),
    )

    # What was done to the policy last: the second pass removed ours, kept CiPush.
    assert revoke_verified(ecr, REPOSITORY, REGION, SID) is Revocation.REMOVED
    assert stored(ecr) == {"Version": "2008-10-17", "Statement": [CI_PUSH]}


def test_revoke_verified_of_a_missing_repository_is_gone_without_settling(
    ecr: Any, clock: VirtualClock
) -> None:
    assert revoke_verified(ecr, "team/deleted", REGION, SID) is Revocation.REPOSITORY_GONE
    assert clock.slept == []


def test_revoke_verified_when_the_repository_is_deleted_during_the_settle(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    hook_sleep(
        monkeypatch,
        lambda _: another_writer().delete_repository(repositoryName=REPOSITORY, force=True),
    )

    assert revoke_verified(ecr, REPOSITORY, REGION, SID) is Revocation.REPOSITORY_GONE


def test_revoke_verified_fails_when_the_statement_keeps_coming_back(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}
    put_policy(ecr, before)
    hooked = hook_sleep(monkeypatch, lambda _: write(before))
    writes = calls(ecr, "SetRepositoryPolicy")

    with pytest.raises(GrantNotVerified) as caught:
        revoke_verified(ecr, REPOSITORY, REGION, SID)

    # The first revoke, then MAX_REPAIRS more; a check after each.
    assert len(writes) == MAX_REPAIRS + 1
    assert len(hooked.slept) == MAX_REPAIRS + 1
    message = str(caught.value)
    assert f"statement {SID} on {WHERE} came back" in message
    assert f"the live policy holds 2 statement(s): CiPush, {SID}." in message
    assert "run the destroy again" in message
    assert "the grant stays in the stack's state until it is gone" in message


def test_revoke_verified_failure_counts_every_revoke(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}
    put_policy(ecr, before)
    hook_sleep(monkeypatch, lambda _: write(before))
    writes = calls(ecr, "SetRepositoryPolicy")

    with pytest.raises(GrantNotVerified) as caught:
        revoke_verified(ecr, REPOSITORY, REGION, SID)

    assert f"came back after {len(writes)} revokes" in str(caught.value)


# --- the providers ---------------------------------------------------------------------

AMBIENT = AwsIdentity().to_state()
PROD = AwsIdentity(
    profile="prod", assume_roles=(AssumedRole("arn:aws:iam::222222222222:role/deployer"),)
).to_state()
GRANTS = [{"service": SERVICE, "principal": ROLE_ARN}]


def planned(document: dict[str, Any] | None, statements: list[dict[str, Any]]) -> str:
    """The text the program's own read would plan (what preview shows)."""
    return policy.serialise(policy.merge_grants(document, statements))


def document_props(**changes: Any) -> dict[str, Any]:
    base = {"Version": "2012-10-17", "Statement": [CI_PUSH]}
    props: dict[str, Any] = {
        "region": REGION,
        "repository": REPOSITORY,
        "grants": GRANTS,
        "identity": AMBIENT,
        "policy": planned(base, [OURS]),
        "missing": [SID],
        "revision": None,
    }
    return {**props, **changes}


def outputs(result: Any) -> dict[str, Any]:
    """A CreateResult's or UpdateResult's outputs (typed optional by Pulumi)."""
    assert result.outs is not None
    return dict(result.outs)


def document_outputs(**changes: Any) -> dict[str, Any]:
    """State after a create: the fresh merge, nothing missing, a revision."""
    base = {"Version": "2012-10-17", "Statement": [CI_PUSH]}
    return document_props(policy=planned(base, [OURS]), missing=[], revision="r1", **changes)


def test_document_diff_is_no_change_when_nothing_changed() -> None:
    olds = document_outputs()
    news = document_props(missing=[], revision=None)
    assert news["policy"] == olds["policy"]

    result = FreshPolicyDocumentProvider().diff("id", olds, news)

    assert result.changes is False
    assert not result.replaces


def test_document_diff_state_without_identity_is_the_ambient_identity() -> None:
    olds = {**document_outputs(), "identity": None}

    result = FreshPolicyDocumentProvider().diff("id", olds, document_props(missing=[]))

    assert result.changes is False


@pytest.mark.parametrize(
    "news",
    [
        # Another team edited the policy since the last merge.
        document_props(policy=planned({"Statement": [CI_PUSH, AUDITORS]}, [OURS]), missing=[]),
        # The program's read lacks the grant the last merge wrote: put it back.
        document_props(),
        # Another service granted on the same repository.
        document_props(grants=[*GRANTS, {"service": "api", "principal": API_ROLE_ARN}]),
        document_props(grants=[{"service": SERVICE, "principal": API_ROLE_ARN}], missing=[]),
        document_props(identity=PROD, missing=[]),
        document_props(region="eu-west-1", missing=[]),
    ],
    ids=["policy", "missing", "grant added", "principal", "identity", "region"],
)
def test_document_diff_is_a_change_without_replace(news: dict[str, Any]) -> None:
    result = FreshPolicyDocumentProvider().diff("id", document_outputs(), news)

    assert result.changes is True
    # A document, not a thing in AWS: never replaced.
    assert result.replaces == []


def test_document_create_merges_into_a_read_taken_at_create_time(ecr: Any) -> None:
    # The program read [CI_PUSH] and planned its text; then another team added AUDITORS.
    props = document_props()
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS]})

    result = FreshPolicyDocumentProvider().create(props)

    assert result.id == f"{REGION}/{REPOSITORY}"
    outs = outputs(result)
    assert json.loads(outs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [CI_PUSH, AUDITORS, OURS],
    }
    assert outs["policy"] != props["policy"]
    # The new grant was written at once, so its principal is accepted before the policy
    # resource writes the same text.
    assert stored_text(ecr) == outs["policy"]
    assert outs["missing"] == []
    assert isinstance(outs["revision"], str) and outs["revision"]
    assert isinstance(outs["read_at"], float)
    assert {k: outs[k] for k in ("region", "repository", "grants", "identity")} == {
        k: props[k] for k in ("region", "repository", "grants", "identity")
    }


def test_document_create_writes_nothing_when_the_grant_is_there(ecr: Any) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    writes = calls(sdk.cached_client("ecr", REGION, AwsIdentity()), "SetRepositoryPolicy")

    outs = outputs(FreshPolicyDocumentProvider().create(document_props(missing=[])))

    assert writes == []
    assert json.loads(outs["policy"]) == json.loads(text)
    assert stored_text(ecr) == text


def test_every_create_and_update_is_a_new_revision(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    provider = FreshPolicyDocumentProvider()

    first = outputs(provider.create(document_props()))
    second = outputs(provider.create(document_props()))
    updated = outputs(provider.update("id", first, document_props(missing=[])))

    assert len({first["revision"], second["revision"], updated["revision"]}) == 3
    assert first["policy"] == second["policy"] == updated["policy"]


def test_document_read_shows_the_live_policy_with_the_grants_merged(ecr: Any) -> None:
    # Someone removed our grant and another team added a statement since the last up.
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS]})
    state = document_outputs()

    result = FreshPolicyDocumentProvider().read(f"{REGION}/{REPOSITORY}", state)

    assert result.id == f"{REGION}/{REPOSITORY}"
    assert result.outs is not None
    assert json.loads(result.outs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [CI_PUSH, AUDITORS, OURS],
    }
    assert result.outs["missing"] == [SID]
    assert result.outs["revision"] == state["revision"]
    # A refresh reads; it never writes.
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, AUDITORS]}


def test_document_read_of_a_healthy_policy_misses_nothing(ecr: Any) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})

    result = FreshPolicyDocumentProvider().read("id", document_outputs())

    assert result.outs is not None
    assert result.outs["missing"] == []
    assert json.loads(result.outs["policy"]) == json.loads(text)


def test_document_read_of_a_deleted_repository_is_gone(ecr: Any) -> None:
    result = FreshPolicyDocumentProvider().read("id", document_outputs())

    assert isinstance(result, ReadResult)
    assert result.id == ""
    assert result.outs == {}


def test_document_read_reports_other_failures(
    ecr: Any, inject_error: Callable[[str, str, str], None]
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    inject_error("ecr", "GetRepositoryPolicy", "AccessDeniedException")

    with pytest.raises(sdk.AwsCallError) as caught:
        FreshPolicyDocumentProvider().read("id", document_outputs())

    assert caught.value.code == "AccessDeniedException"
    assert f"AWS denied ecr:GetRepositoryPolicy on {WHERE}" in str(caught.value)


def test_document_read_in_another_account_stops_instead_of_reporting_it_gone(ecr: Any) -> None:
    # The repository is not in this account: without the check, refresh would drop it.
    with pytest.raises(WrongAccountError, match="account 999999999999"):
        FreshPolicyDocumentProvider().read("id", {**document_outputs(), "account": "999999999999"})


def test_document_and_verification_updates_in_another_account_stop(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    before = stored_text(ecr)

    with pytest.raises(WrongAccountError, match="Nothing was changed"):
        FreshPolicyDocumentProvider().update(
            "id", {**document_outputs(), "account": "999999999999"}, document_outputs()
        )
    with pytest.raises(WrongAccountError, match="Nothing was changed"):
        GrantVerificationProvider().update(
            "id", {**VERIFICATION, "account": "999999999999"}, dict(VERIFICATION)
        )

    assert stored_text(ecr) == before


VERIFICATION = {
    "region": REGION,
    "repository": REPOSITORY,
    "grants": GRANTS,
    "identity": AMBIENT,
    "revision": "r1",
}


def test_verification_diff_is_no_change_for_the_same_inputs() -> None:
    olds = {**VERIFICATION, "repairs": 0}

    result = GrantVerificationProvider().diff("id", olds, {**VERIFICATION, "repairs": None})

    assert result.changes is False
    assert result.replaces == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("revision", "r2"),
        ("grants", [*GRANTS, {"service": "api", "principal": API_ROLE_ARN}]),
        ("region", "eu-west-1"),
        ("repository", "team/other"),
        ("identity", PROD),
    ],
)
def test_verification_diff_is_a_change_for_each_input(key: str, value: Any) -> None:
    result = GrantVerificationProvider().diff(
        "id", {**VERIFICATION, "repairs": 0}, {**VERIFICATION, key: value}
    )

    assert result.changes is True
    assert result.replaces == []


def test_verification_create_on_a_healthy_policy_repairs_nothing(
    ecr: Any, clock: VirtualClock
) -> None:
    text = put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})

    result = GrantVerificationProvider().create({**VERIFICATION, "repairs": None})

    assert result.id == f"{REGION}/{REPOSITORY}"
    assert result.outs == {**VERIFICATION, "repairs": 0, "write_window": None, "account": ACCOUNT}
    assert len(clock.slept) == 1
    assert stored_text(ecr) == text


def test_verification_update_repairs_and_counts(ecr: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})
    hook_sleep(
        monkeypatch,
        lambda n: write({"Version": "2012-10-17", "Statement": [CI_PUSH]}) if n == 1 else None,
    )

    outs = outputs(GrantVerificationProvider().update("id", {}, {**VERIFICATION, "revision": "r2"}))

    assert outs["repairs"] == 1
    assert outs["revision"] == "r2"
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}


def test_finalizer_delete_still_removes_only_our_statement(ecr: Any) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS, API_OURS]})

    GrantFinalizerProvider().delete(
        f"{REGION}/{REPOSITORY}/{SID}", {"region": REGION, "repository": REPOSITORY, "sid": SID}
    )

    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, API_OURS]}


def test_finalizer_delete_revokes_again_after_a_stale_write(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}
    put_policy(ecr, before)
    hooked = hook_sleep(monkeypatch, lambda n: write(before) if n == 1 else None)

    GrantFinalizerProvider().delete(
        "id", {"region": REGION, "repository": REPOSITORY, "sid": SID, "identity": AMBIENT}
    )

    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH]}
    assert len(hooked.slept) == 2


# --- the window from the fresh read to the policy resource's write ----------------------


def test_ensure_says_when_its_document_was_read_before_the_read(
    ecr: Any, clock: VirtualClock
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    before = clock.time()

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    assert before <= ensured.read_at <= clock.time()


def test_ensure_dates_its_document_from_the_last_read_of_a_propagation_retry(
    ecr: Any, clock: VirtualClock
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    failing = fail_first(2, "InvalidParameterException")
    ecr.meta.events.register("before-call.ecr.SetRepositoryPolicy", failing)
    reads: list[float] = []
    ecr.meta.events.register(
        "before-call.ecr.GetRepositoryPolicy", lambda **_: reads.append(clock.time())
    )

    ensured = ensure_grants(ecr, REPOSITORY, REGION, [OURS])

    # The document written comes from the third read, taken after two back-offs.
    assert len(reads) == 3 and clock.slept
    assert reads[1] <= ensured.read_at <= reads[2]


class WallClock(VirtualClock):
    """A clock whose wall time a test sets."""

    def __init__(self, now: float) -> None:
        super().__init__()
        self.now = now

    def time(self) -> float:
        return self.now


def test_write_window_is_the_time_since_a_read_of_this_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(policy_writes, "clock", WallClock(1000.0 + 1.5))

    assert write_window(1000.0, started_at=999.0) == 1.5
    # A read taken at the very start of the run counts as this run's.
    assert write_window(999.0, started_at=999.0) == 2.5


@pytest.mark.parametrize("read_at", [None, "unknown"])
def test_write_window_of_a_read_not_taken_in_this_run_is_none(
    clock: VirtualClock, read_at: Any
) -> None:
    # No read recorded (older state, a preview's unknown), or one from an earlier run
    # whose document this run did not write: nothing of this run to judge.
    started = clock.time()
    assert write_window(read_at, started) is None
    assert write_window(started - 60.0, started) is None


@pytest.mark.parametrize("window", [None, 0.0, 0.8, SETTLE_SECONDS])
def test_a_window_within_the_settle_delay_passes(window: float | None) -> None:
    check_write_window(REPOSITORY, REGION, window)


def test_a_window_longer_than_the_settle_delay_fails_naming_repository_and_window() -> None:
    with pytest.raises(WriteWindowExceeded) as caught:
        check_write_window(REPOSITORY, REGION, SETTLE_SECONDS + 2.34)

    message = str(caught.value)
    assert WHERE in message
    assert f"{SETTLE_SECONDS + 2.34:.1f} s after the read" in message
    assert f"settle delay covers ({SETTLE_SECONDS:g} s)" in message
    assert "preview --refresh --expect-no-changes" in message


def test_verification_of_a_late_write_verifies_then_fails_loudly(
    ecr: Any, clock: VirtualClock
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH]})
    late = {**VERIFICATION, "repairs": None, "write_window": SETTLE_SECONDS + 1.0}

    with pytest.raises(WriteWindowExceeded, match=r"written 6\.0 s after the read"):
        GrantVerificationProvider().create(late)

    # Our own grant was still checked (and here repaired) before the run was stopped.
    assert len(clock.slept) >= 1
    assert stored(ecr) == {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]}


def test_verification_of_a_write_within_the_window_records_it(
    ecr: Any, clock: VirtualClock
) -> None:
    put_policy(ecr, {"Version": "2012-10-17", "Statement": [CI_PUSH, OURS]})

    outs = outputs(GrantVerificationProvider().create({**VERIFICATION, "write_window": 0.4}))

    assert outs["write_window"] == 0.4
    assert outs["repairs"] == 0


def test_verification_diff_ignores_the_window() -> None:
    # Measured anew in every run: a different window is not a change to verify again.
    result = GrantVerificationProvider().diff(
        "id", {**VERIFICATION, "write_window": 0.4}, {**VERIFICATION, "write_window": None}
    )

    assert result.changes is False


def test_the_programs_settle_wait_is_not_waited_again_by_the_verification() -> None:
    """The program waits the settle delay after a write (on its event loop, not in one of
    the dynamic host's threads); the verification then waits only what is left of it."""

    from emulation.cloud import VirtualClock

    clock = VirtualClock()
    saved = policy_writes.clock
    policy_writes.clock = clock
    try:
        assert run_coroutine(policy_writes.settled(None)) is None  # no wait
        assert clock.slept == []

        deadline = run_coroutine(policy_writes.settled(0.4))
        waited = clock.slept[-1]
        assert (
            policy_writes.SETTLE_SECONDS
            <= waited
            <= policy_writes.SETTLE_SECONDS + policy_writes.JITTER_SECONDS
        )
        assert deadline is not None

        # The virtual clock's wall time did not move: the verification's own wait is
        # what is left until the deadline, never a second whole settle delay.
        policy_writes.settle(until=deadline)
        assert clock.slept[-1] <= waited + 0.5
        policy_writes.settle(until=clock.time() - 1.0)  # a deadline already passed
        assert clock.slept[-1] == 0.0
    finally:
        policy_writes.clock = saved
