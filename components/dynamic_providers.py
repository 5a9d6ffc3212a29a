"""The dynamic resources: the puller role's state, the grant finalizer, and the two that
bracket each repository policy write (the fresh document before it, the verification
after it; see ``policy_writes``).

Pulumi stores a dynamic provider in the stack state with dill. A class defined in an
importable module is stored by reference: the pickle holds this module's path and the
class name, no bytecode. So every later `up`, `refresh` and `destroy` runs the provider
code that is on disk *then*, imported in the dynamic provider process, which starts in
the project root (or the `main:` folder of Pulumi.yaml) with that folder first on
`sys.path` (unless PYTHONSAFEPATH is set, which must not be). Hence:
- never rename this module or these classes: existing stacks could no longer destroy;
- keep the methods able to handle state written by every earlier version (an input
  added later is absent from older state: `identity` here was added after the first
  release, and older state means the ambient credentials);
- build boto3 clients inside the provider process, from the Region and the identity
  settings (a profile name, role ARNs, never keys) stored as inputs, once per process
  (``sdk.cached_client``);
- implement `diff`, so that a changed input is seen;
- check the account: `destroy` and `refresh` run no program (so no account guard), only
  these methods, with whatever credentials are around. Each resource records the
  account it acted in (``account``) and refuses to act, or to report a repository gone,
  from another one (``_check_account``); state without ``account`` (0.2.0 and earlier) is
  checked from its next update on.

The classes name `PICKLE_MODULE` as their module, not this module's own name: this
folder is imported as `components` from the project's checkout and as
`lightsail_ecr_access` once installed, and the state must name the same module either
way, from one version to the next. The top-level `lightsail_ecr_access_providers.py`
(at the checkout's root, and installed beside the package) is that module: in a
process that has imported this package, its name is bound to this module (below); in
a new provider process, importing it imports the package beside it. State written by
0.1.0 names `components.dynamic_providers`, which the checkout keeps importable.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import uuid
from contextvars import ContextVar
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .aws import lightsail_api, policy_writes, puller_role, sdk, sts_api
from .aws.identity import AwsIdentity
from .aws.revocation import Revocation
from .rules import adoption, policy
from .rules.errors import ConfigurationError

PICKLE_MODULE = "lightsail_ecr_access_providers"
"""The module path the state holds for these classes. Never change it."""

_ROLE_KEYS = ("region", "service_name", "active", "identity")
_GRANT_KEYS = ("region", "repository", "sid")
_DOCUMENT_KEYS = ("region", "repository", "grants", "identity")
_VERIFICATION_KEYS = ("region", "repository", "grants", "identity", "revision")
# Settings that say how to reach AWS, not what the resource is: a change is an update.
_IDENTITY_KEYS = ("identity",)


# The stack settings an identity comes from. `pulumi config set --secret` (with --path, the
# whole top-level key) makes one secret: an external ID, a role ARN an organisation keeps
# private. Config.get hands it over as plain text, so the identity is marked secret here,
# as an input and as the output the providers echo, or the state would hold it in plain.
_IDENTITY_CONFIG_KEYS = (
    "profile",
    "assumeRoles",
    "assumeRole",
    "sharedConfigFiles",
    "sharedCredentialsFiles",
    "stsRegion",
    "endpoints",
)


def identity_is_secret() -> bool:
    """Whether the stack keeps any of the AWS identity's settings secret."""
    return any(pulumi.runtime.is_config_secret(f"aws:{k}") for k in _IDENTITY_CONFIG_KEYS)


def identity_input(identity: AwsIdentity | None) -> pulumi.Input[dict[str, Any]]:
    """The identity as a dynamic resource's input: secret when the stack keeps any of its
    settings secret."""
    state = (identity or AwsIdentity()).to_state()
    return pulumi.Output.secret(state) if identity_is_secret() else state


def secret_identity_opts(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions | None:
    """``opts``, with the echoed identity output kept secret when the input is."""
    if not identity_is_secret():
        return opts
    secret = pulumi.ResourceOptions(additional_secret_outputs=["identity"])
    return pulumi.ResourceOptions.merge(opts, secret)


def _identity_of(props: dict[str, Any]) -> AwsIdentity:
    """The stored identity. A secret one reaches the provider as plain values: the
    dynamic provider host does not accept secrets, so the engine unwraps them before the
    call and marks secret the outputs that echo a secret input."""
    return AwsIdentity.from_state(props.get("identity"))


def _client(service: str, props: dict[str, Any]) -> Any:
    """The process's client for ``service`` in the resource's Region, as the stored identity."""
    return sdk.cached_client(service, props["region"], _identity_of(props))


def _warn(message: str) -> None:
    """A warning on the resource being stepped (see ``_log``)."""
    if not _log_to_engine("WARNING", message):
        pulumi.log.warn(message)


def _info(message: str) -> None:
    if not _log_to_engine("INFO", message):
        pulumi.log.info(message)


_engine_stub: Any = None

SERVING: ContextVar[tuple[str, str] | None] = ContextVar("serving", default=None)
"""(engine address, URN) of the request a provider of the project's own is serving on
this thread: its diagnostics go to that resource (``components.provider``)."""


def _log_to_engine(severity: str, message: str) -> bool:
    """Send ``message`` to the engine as a diagnostic of the resource being stepped; False
    when this process cannot (not the dynamic provider host, or no request found).

    The dynamic provider host never connects to the engine, so ``pulumi.log`` there prints
    to stderr, which the CLI shows as an info line of the stack with no resource: a
    warning that is not one. The engine's address is the host's first argument (every
    plugin gets it), and the URN is on the gRPC request the host is serving, so the
    message is logged as a provider of the engine's own logs it. This reads the host's
    frames for the request: if a Pulumi release serves requests otherwise, the message
    goes to ``pulumi.log`` as before, never lost. A provider of the project's own logs
    against the resource natively (issue 20).
    """
    global _engine_stub
    serving = SERVING.get()
    address: str | None
    urn: str | None
    if serving is not None:
        # The project's own provider says which engine and resource, as it serves them.
        address, urn = serving
    elif _in_dynamic_provider_host():
        urn = _urn_being_served()
        address = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    else:
        return False
    if not urn or not address:
        return False
    try:
        import grpc
        from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

        if _engine_stub is None:
            _engine_stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))
        _engine_stub.Log(
            engine_pb2.LogRequest(severity=getattr(engine_pb2, severity), message=message, urn=urn),
            timeout=10,
        )
    except Exception:  # an engine that cannot be reached: say it on stderr instead
        return False
    return True


def _urn_being_served() -> str | None:
    """The URN of the request the dynamic provider host is serving on this thread."""
    frame = sys._getframe(1)
    while frame is not None:
        request = frame.f_locals.get("request")
        urn = getattr(request, "urn", None)
        if isinstance(urn, str) and urn.startswith("urn:pulumi:"):
            return urn
        frame = frame.f_back  # type: ignore[assignment]
    return None


class WrongAccountError(RuntimeError):
    """A resource finds itself run with another account's credentials than it acted in."""


def _account_now(props: dict[str, Any]) -> str:
    """The account the resource's identity acts in now (one STS call per process)."""
    return sts_api.process_account(props["region"], _identity_of(props))


def _check_account(props: dict[str, Any], what: str) -> str | None:
    """Stop unless the credentials act in the account ``props`` recorded; return it.

    ``props`` are the stored outputs (delete, read, diff) or the new inputs with the
    old outputs' account (update). State written before accounts were recorded holds
    none: there is nothing to compare, and None is returned without a call.
    """
    recorded = props.get("account")
    if not recorded:
        return None
    now = _account_now(props)
    if now != recorded:
        raise WrongAccountError(_wrong_account_message(props, what, str(recorded), now))
    return now


def _wrong_account_message(props: dict[str, Any], what: str, recorded: str, now: str) -> str:
    identity = _identity_of(props)
    if identity.profile:
        how = (
            f"make the profile {identity.profile!r} of the shared config this run reads "
            f"(AWS_CONFIG_FILE) act in account {recorded}"
        )
    elif identity.assume_roles:
        how = (
            f"give the credentials that may assume {', '.join(identity.assumed_role_arns())} "
            f"into account {recorded}"
        )
    else:
        how = (
            f"give the credentials of account {recorded} (AWS_PROFILE set to a profile of "
            "that account, or its keys in the environment)"
        )
    return (
        f"{what} was deployed in AWS account {recorded}, but the credentials running now act "
        f"in account {now} ({identity.describe()}, Region {props['region']}). Nothing was "
        f"changed, and the resource stays in the stack's state. Run again as account "
        f"{recorded}; {how}; for `pulumi up`, the stack's aws:profile or aws:assumeRoles "
        f"must reach account {recorded} too. (To move the stack to account {now}, destroy "
        f"it as account {recorded} first, then deploy it anew.)"
    )


def _account_for_update(olds: dict[str, Any], news: dict[str, Any], what: str) -> str:
    """The account an update acts in: the one recorded, checked, or recorded now."""
    return _check_account({**news, "account": olds.get("account")}, what) or _account_now(news)


def _role_what(props: dict[str, Any]) -> str:
    return f"the ECR image puller role of container service {props['service_name']}"


def _grant_what(props: dict[str, Any]) -> str:
    return (
        f"the pull statement {props['sid']} on repository {props['repository']} ({props['region']})"
    )


def _document_what(props: dict[str, Any]) -> str:
    return f"the policy write of repository {props['repository']} ({props['region']})"


def _changed(olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    def value(props: dict[str, Any], key: str) -> Any:
        # State written before identities existed holds none: that is the ambient one.
        # (An identity that became secret is no change: the provider sees it plain, and
        # the engine encrypts the outputs of a secret input on every step.)
        if key == "identity":
            return _identity_of(props)
        return props.get(key)

    return [k for k in keys if value(olds, k) != value(news, k)]


class PullerRoleProvider(ResourceProvider):
    """Makes a service's ECR image puller role active or not, and reports its ARN."""

    __module__ = PICKLE_MODULE

    # The provider holds no secrets; keep the state readable.
    serialize_as_secret_always = False

    def _apply(self, props: dict[str, Any], account: str) -> dict[str, Any]:
        principal_arn = puller_role.ensure_puller_role(
            _client("lightsail", props),
            props["service_name"],
            bool(props["active"]),
            timeout=float(props.get("timeout_seconds") or puller_role.DEFAULT_TIMEOUT_SECONDS),
        )
        return {
            "region": props["region"],
            "service_name": props["service_name"],
            "active": bool(props["active"]),
            "timeout_seconds": props.get("timeout_seconds"),
            "identity": props.get("identity"),
            "principal_arn": principal_arn,
            "account": account,
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props, _account_now(props))
        return CreateResult(f"{outs['region']}/{outs['service_name']}", outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = _changed(olds, news, _ROLE_KEYS)
        if not changed:
            # The drift look reads Lightsail: in another account it would find no service.
            _check_account(olds, _role_what(olds))
        if not changed and self._drifted(olds):
            # Someone switched the role by hand (or it was re-created): put it right.
            changed = ["active"]
        replaces = [k for k in changed if k in ("region", "service_name")]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    @staticmethod
    def _drifted(olds: dict[str, Any]) -> bool:
        try:
            live = puller_role.current_role(_client("lightsail", olds), olds["service_name"])
        except Exception as exc:
            # A failed look proves nothing either way: say so, loudly, rather than
            # report "no drift" and let `preview --expect-no-changes` pass in silence.
            _warn(
                f"could not check the ECR image puller role of container service "
                f"{olds.get('service_name')} for drift (lightsail:GetContainerServices): "
                f"{exc}; the role is assumed unchanged"
            )
            return False
        if not olds.get("active"):
            return live.active
        return not live.active or live.principal_arn != olds.get("principal_arn")

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news, _account_for_update(olds, news, _role_what(news))))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Another account has no such service: that must not read as "deleted".
        _check_account(props, _role_what(props))
        service = lightsail_api.get_container_service(
            _client("lightsail", props), props["service_name"]
        )
        if service is None:
            # The service was deleted outside Pulumi, and its role with it: a blank id
            # tells `pulumi refresh` that this resource is gone.
            return ReadResult("", {})
        live = puller_role.role_state(service)
        return ReadResult(
            id_, {**props, "active": live.active, "principal_arn": live.principal_arn}
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # Nothing to undo: the role goes with the container service, and turning access
        # off is an update of this resource, not a delete. But the service is deleted
        # right after (it depends on nothing this resource could stop otherwise), and the
        # AWS provider takes a service it does not find, as in another account, as
        # deleted: so another account's credentials stop the destroy here, first.
        _check_account(props, _role_what(props))


class GrantFinalizerProvider(ResourceProvider):
    """On delete, removes one service's statement from a repository policy, nothing else."""

    __module__ = PICKLE_MODULE

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._outputs(props, _account_now(props))
        return CreateResult(f"{outs['region']}/{outs['repository']}/{outs['sid']}", outs)

    @staticmethod
    def _outputs(props: dict[str, Any], account: str) -> dict[str, Any]:
        return {
            **{k: props[k] for k in _GRANT_KEYS},
            "identity": props.get("identity"),
            # Where the statement is: the delete revokes there, or nowhere.
            "account": account,
        }

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A different repository or Sid is a different grant: the old one must go. A
        # different identity is the same grant reached another way: store it, so that
        # `destroy` revokes as the provider now acts.
        replaces = _changed(olds, news, _GRANT_KEYS)
        changed = replaces + _changed(olds, news, _IDENTITY_KEYS)
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news, _account_for_update(olds, news, _grant_what(news))))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # In another account the repository is not found, which would read as "gone" and
        # forget the grant while its statement stays: stop first, keep it in the state.
        checked = _check_account(props, _grant_what(props))
        # Revoked, then checked after the settle delay: a run that read the policy just
        # before the revoke may write the statement back, and is then undone again.
        outcome = policy_writes.revoke_verified(
            _client("ecr", props), props["repository"], props["region"], props["sid"]
        )
        if outcome is Revocation.REPOSITORY_GONE and checked is None:
            # State from before accounts were recorded: gone here may be elsewhere.
            now = _account_now(props)
            _warn(
                f"repository {props['repository']} was not found in account {now} "
                f"({props['region']}), so statement {props['sid']} is taken as gone with it; "
                f"if the stack was deployed in another account, the statement is still "
                f"there: remove it with that account's credentials"
            )
        _info(f"{props['repository']}: {outcome.value}")


def _statements(props: dict[str, Any]) -> list[policy.Statement]:
    """The pull statements of every grant the program makes on the repository, in order."""
    return [policy.pull_statement(g["service"], g["principal"]) for g in props["grants"]]


class _PolicyWriteStepProvider(ResourceProvider):
    """A step around one repository's policy write (the fresh merge before it, the
    verification after it): create and update do the step in the account recorded; the
    step leaves nothing in AWS to delete. Subclasses say what the step does (``_apply``)
    and which inputs make it run again (``_KEYS``)."""

    __module__ = PICKLE_MODULE

    serialize_as_secret_always = False

    _KEYS: tuple[str, ...] = ()

    def _apply(self, props: dict[str, Any], account: str) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props, _account_now(props))
        return CreateResult(f"{outs['region']}/{outs['repository']}", outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = self._changes(olds, news)
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def _changes(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return _changed(olds, news, self._KEYS)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        account = _account_for_update(olds, news, _document_what(news))
        return UpdateResult(self._apply(news, account))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # Not a thing in AWS: the grant finalizers remove the statements. These steps are
        # the first a destroy deletes: another account's credentials stop it here, before
        # anything is forgotten.
        _check_account(props, _document_what(props))


class FreshPolicyDocumentProvider(_PolicyWriteStepProvider):
    """The repository policy to write, merged from a read taken just before the write.

    Its input ``policy`` is the document merged from the program's own read, which is
    what `pulumi preview` shows; on create and update it is replaced by the document
    merged from a fresh read, seconds before the policy resource writes it. A grant the
    fresh read lacks is written here at once (``policy_writes.ensure_grants``), so that a
    new principal has been accepted by ECR before the policy resource writes.
    """

    __module__ = PICKLE_MODULE

    _KEYS = _DOCUMENT_KEYS

    def _apply(self, props: dict[str, Any], account: str) -> dict[str, Any]:
        ensured = policy_writes.ensure_grants(
            _client("ecr", props), props["repository"], props["region"], _statements(props)
        )
        return {
            **{k: props.get(k) for k in _DOCUMENT_KEYS},
            "policy": ensured.text,
            "missing": [],
            # Every fresh merge is a new revision: the verification runs after each.
            "revision": uuid.uuid4().hex,
            # When the document was read: the verification judges the write's window.
            "read_at": ensured.read_at,
            "account": account,
        }

    def _changes(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        changed = super()._changes(olds, news)
        if news.get("policy") != olds.get("policy"):
            # The live policy changed since the last merge (another team's edit).
            changed.append("policy")
        if news.get("missing"):
            # The program's read lacks a grant that the last merge wrote: put it back.
            changed.append("missing")
        return changed

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Another account has no such repository: that must not read as "deleted".
        _check_account(props, _document_what(props))
        # A refresh shows the live policy with the grants merged in: another team's new
        # statement is no change to make, a grant someone removed is.
        try:
            text, missing = policy_writes.merged_from_fresh_read(
                _client("ecr", props), props["repository"], props["region"], _statements(props)
            )
        except sdk.AwsCallError as exc:
            if exc.code == "RepositoryNotFoundException":
                return ReadResult("", {})
            raise
        return ReadResult(id_, {**props, "policy": text, "missing": missing})


class GrantVerificationProvider(_PolicyWriteStepProvider):
    """After each write of a repository policy, checks that every grant held; repairs."""

    __module__ = PICKLE_MODULE

    _KEYS = _VERIFICATION_KEYS
    _MEASURED = ("write_window", "settled_until")
    """Inputs the program measures on the run that writes; None on a run that does not."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """A verification of a write made by an earlier run keeps that run's measures.

        With this run's None in their place its inputs would change on the `up` after
        every write, and the engine writes the whole state for each such resource (160
        state writes at 160 repositories), though the diff ignores them."""
        if olds and olds.get("revision") == news.get("revision"):
            news = {**news, **{key: olds.get(key) for key in self._MEASURED}}
        return CheckResult(news, [])

    def _apply(self, props: dict[str, Any], account: str) -> dict[str, Any]:
        repairs = policy_writes.verify_grants(
            _client("ecr", props),
            props["repository"],
            props["region"],
            _statements(props),
            # The program waited the settle delay already (``policy_writes.settled``); a
            # verification without it (state of an older version) waits here.
            settled_until=props.get("settled_until"),
        )
        if repairs:
            _warn(
                f"repository {props['repository']}: another writer removed this program's "
                f"pull statement(s) while it wrote them; repaired ({repairs} repair(s)) "
                "and verified"
            )
        # Our grants hold; whether the write could have undone another stack's, only the
        # time from its fresh read says (``write_window``, measured by the program; not
        # an input that makes the verification run again, see ``_KEYS``).
        policy_writes.check_write_window(
            props["repository"], props["region"], props.get("write_window")
        )
        return {
            **{k: props.get(k) for k in _VERIFICATION_KEYS},
            "repairs": repairs,
            "write_window": props.get("write_window"),
            "account": account,
        }


class PullerRole(Resource, module="lightsail-ecr", name="PullerRole"):
    """The ECR image puller role of one container service, as a resource."""

    principal_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        region: pulumi.Input[str],
        service_name: pulumi.Input[str],
        active: pulumi.Input[bool],
        timeout_seconds: pulumi.Input[float] | None = None,
        identity: AwsIdentity | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            PullerRoleProvider(),
            name,
            {
                "region": region,
                "service_name": service_name,
                "active": active,
                "timeout_seconds": timeout_seconds,
                "identity": identity_input(identity),
                "principal_arn": None,
            },
            secret_identity_opts(opts),
        )


class GrantFinalizer(Resource, module="lightsail-ecr", name="GrantFinalizer"):
    """Removes one service's pull statement from one repository when it is deleted."""

    def __init__(
        self,
        name: str,
        *,
        region: pulumi.Input[str],
        repository: pulumi.Input[str],
        sid: pulumi.Input[str],
        identity: AwsIdentity | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            GrantFinalizerProvider(),
            name,
            {
                "region": region,
                "repository": repository,
                "sid": sid,
                "identity": identity_input(identity),
            },
            secret_identity_opts(opts),
        )


class AdoptionCheckProvider(ResourceProvider):
    """Refuses to import a service that the import would change; the import only.

    Its ``check`` compares the live service with the stack's goal; the service waits for
    it. Being in the stack's state does not mean the import happened (it may have failed
    after this resource was created), and nothing the engine hands a provider says
    whether the service is in the state: so it compares on every run, and passes a live
    service that is still as the stack asked when it last compared (``olds``), so that
    an adopted service takes later changes of power, scale or tags as any service does
    (``adoption.check_adoptable``).
    """

    __module__ = PICKLE_MODULE

    serialize_as_secret_always = False

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        live = lightsail_api.get_container_service(_client("lightsail", news), news["service_name"])
        try:
            adoption.check_adoptable(live, _service_goal(news), _approved(olds, news))
        except ConfigurationError as exc:
            return CheckResult(news, [CheckFailure("service_name", str(exc))])
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['region']}/{props['service_name']}", props)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        # Nothing to do in AWS: the comparison is the check's, on every run.
        return DiffResult(changes=False, replaces=[], delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


def _approved(olds: dict[str, Any], news: dict[str, Any]) -> adoption.ServiceGoal | None:
    """What the stack asked of this same service when the check last passed (its stored
    inputs), if any."""
    if not all(k in olds for k in ("service_name", "region", "power", "scale")):
        return None
    if (olds["service_name"], olds["region"]) != (news["service_name"], news["region"]):
        return None
    return _service_goal(olds)


def _service_goal(props: dict[str, Any]) -> adoption.ServiceGoal:
    return adoption.ServiceGoal(
        props["service_name"],
        props["region"],
        props["power"],
        int(props["scale"]),
        dict(props.get("tags") or {}),
    )


class AdoptionCheck(Resource, module="lightsail-ecr", name="AdoptionCheck"):
    """Stands before an adopted service's import: the live service must match the stack."""

    def __init__(
        self,
        name: str,
        *,
        region: str,
        service_name: str,
        power: str,
        scale: int,
        tags: dict[str, str],
        identity: AwsIdentity | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            AdoptionCheckProvider(),
            name,
            {
                "region": region,
                "service_name": service_name,
                "power": power,
                "scale": scale,
                "tags": tags,
                "identity": identity_input(identity),
            },
            secret_identity_opts(opts),
        )


class FreshPolicyDocument(Resource, module="lightsail-ecr", name="FreshPolicyDocument"):
    """One repository's policy document, merged from a read taken just before the write."""

    policy: pulumi.Output[str]
    revision: pulumi.Output[str]
    read_at: pulumi.Output[float]
    """When the fresh read was taken (wall-clock seconds): before this run started when
    the resource took a Same step (no change, or left out by `--target`), whose
    ``policy`` is then as old as that read."""

    def __init__(
        self,
        name: str,
        *,
        region: str,
        repository: str,
        grants: pulumi.Input[list[dict[str, str]]],
        planned: pulumi.Input[str],
        missing: pulumi.Input[list[str]],
        identity: AwsIdentity | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            FreshPolicyDocumentProvider(),
            name,
            {
                "region": region,
                "repository": repository,
                "grants": grants,
                "identity": identity_input(identity),
                # What preview shows; replaced by the fresh merge on create and update.
                "policy": planned,
                "missing": missing,
                "revision": None,
                "read_at": None,
            },
            secret_identity_opts(opts),
        )


class GrantVerification(Resource, module="lightsail-ecr", name="GrantVerification"):
    """Checks, after every write of one repository's policy, that each grant held."""

    def __init__(
        self,
        name: str,
        *,
        region: str,
        repository: str,
        grants: pulumi.Input[list[dict[str, str]]],
        revision: pulumi.Input[str],
        write_window: pulumi.Input[float | None] = None,
        settled_until: pulumi.Input[float | None] = None,
        identity: AwsIdentity | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            GrantVerificationProvider(),
            name,
            {
                "region": region,
                "repository": repository,
                "grants": grants,
                "identity": identity_input(identity),
                # A new revision for every fresh merge: each write is verified. (Not the
                # policy resource's output, which a refresh changes with others' edits.)
                "revision": revision,
                # Seconds from the fresh read to the policy resource's write, when both
                # happened in this run: too long a window fails the run.
                "write_window": write_window,
                # Not compared by the diff: when the program's settle delay ended.
                "settled_until": settled_until,
                "repairs": None,
            },
            secret_identity_opts(opts),
        )


def _bind_pickle_module() -> None:
    """Make `PICKLE_MODULE` this module in this process, so that pickles name it.

    dill pickles a class by reference only when its module path leads back to that very
    class; otherwise it silently stores the class by value (bytecode in the state). So a
    second copy of this package in one process (say `components` and
    `lightsail_ecr_access` both imported) is refused here, not left to do that.
    """
    this = sys.modules[__name__]
    bound = sys.modules.setdefault(PICKLE_MODULE, this)
    # Once `lightsail_ecr_access_providers.py` has run (a provider process), the name is
    # bound to that file's module, which serves the classes of the copy it imported
    # (`implementation`; not set yet while that import is running this very code).
    serving = bound if bound.__name__ != PICKLE_MODULE else getattr(bound, "implementation", this)
    if serving is not this:
        raise ImportError(
            f"{__name__} and {serving.__name__} are two copies of the Lightsail ECR access "
            f"component in one process; import only one of them (the installed "
            f"lightsail_ecr_access, or components from the project's checkout)"
        )


_bind_pickle_module()


# The exit status of a provider process whose engine went away: no one reads it (the
# engine is gone), but it tells a person looking at a process table why it ended.
ENGINE_GONE_EXIT = 70


def _in_dynamic_provider_host() -> bool:
    """Whether this process is Pulumi's dynamic provider host (`python -m pulumi.dynamic`),
    the one the engine starts, rather than a program, a test or the emulated engine."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "pulumi.dynamic.__main__"


def _stdin_is_the_engines_pipe() -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(0).st_mode)
    except OSError:
        return False


def _exit_when_engine_gone(read: Any = os.read, exit_now: Any = os._exit) -> None:
    """Read stdin until the engine closes it, then end this process at once.

    The engine (the `pulumi` CLI) starts each plugin in a process group of its own with
    a pipe on its stdin that it never writes to nor closes: the pipe reaches end-of-file
    only when the CLI has exited. A CLI killed hard (SIGKILL, a CI runner's cancel, a
    lost machine) does not stop its plugins, and this host would otherwise finish
    whatever it was doing: wait minutes for a puller role's ARN, then sleep out a
    verification and repair a policy after another writer changed it, for a run that no
    longer exists and a state that will never record it. So nothing of this project is
    written once the engine is gone: the process ends, in the middle of a wait or a
    retry. (The dynamic host's Cancel does nothing, so a Ctrl-C, which leaves the CLI
    alive, still waits for the calls in flight: only a provider of the project's own
    can honour it.)
    """
    while True:
        try:
            if not read(0, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    exit_now(ENGINE_GONE_EXIT)


def watch_the_engine() -> None:
    """End this provider process when the engine is gone (``_exit_when_engine_gone``):
    the dynamic provider host's, or the package's own provider's."""
    if _stdin_is_the_engines_pipe():
        threading.Thread(target=_exit_when_engine_gone, name="engine-watch", daemon=True).start()


def _watch_the_engine() -> None:
    """In the dynamic provider host only (0.2.x stacks' providers are restored there)."""
    if _in_dynamic_provider_host():
        watch_the_engine()


_watch_the_engine()
