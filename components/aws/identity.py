"""Who the project's own AWS calls act as: the same identity the AWS provider uses.

`aws.ecr.RepositoryPolicy` and `aws.lightsail.ContainerService` run with the AWS
provider's settings (stack config ``aws:profile``, ``aws:assumeRoles``, shared files),
while boto3 alone sees only the environment and ``~/.aws``. A stack with
``aws:profile: prod`` on a laptop whose default profile is another account would read
one account's policy and have the provider write it into the other. So every boto3 call
of this project builds its session from an ``AwsIdentity`` taken from the same settings,
with the provider's precedence:

- static keys in the provider's settings first: refused here, because the dynamic
  resources must act again on ``destroy`` and keys must never go into the state;
- then ``aws:profile`` if set, which wins over keys in the environment (the AWS SDK for Go
  and botocore agree: an explicitly named profile turns the environment's keys off);
- then the environment, the shared files and instance or container roles, as usual;
- then each role of ``aws:assumeRoles`` in order, each assumed with the one before.

An identity holds names and ARNs only (a profile name, role ARNs, file paths), so it can
be stored in a dynamic resource's state and rebuilt in the provider process.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import ProfileNotFound

from ..rules.errors import ConfigurationError

SESSION_NAME = "lightsail-ecr-access"
# Services the project calls, by the key pulumi-aws uses in `aws:endpoints`.
_ENDPOINT_SERVICES = ("ecr", "lightsail", "sts")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
# Keys of an assumeRoles entry, as pulumi-aws names them, and the STS parameter each is.
_ASSUME_ROLE_KEYS = {
    "roleArn": "role_arn",
    "sessionName": "session_name",
    "externalId": "external_id",
    "duration": "duration_seconds",
    "policy": "policy",
    "policyArns": "policy_arns",
    "tags": "tags",
    "transitiveTagKeys": "transitive_tag_keys",
    "sourceIdentity": "source_identity",
}
_SECRET_KEYS = ("accessKey", "secretKey", "token")


@dataclass(frozen=True)
class SettingSource:
    """Where the AWS provider's settings were written, so that an error names a setting
    as its user wrote it and says how to change it there."""

    prefix: str
    """Before a setting's key: ``aws:`` in a stack's config."""
    removal: str
    """How to take the setting ``{name}`` out."""
    example: str
    """How to set ``{name}`` to ``{value}``."""

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}"


STACK_CONFIG = SettingSource(
    "aws:", "pulumi config rm {name}", "pulumi config set --path '{name}' {value}"
)
"""A stack's ``aws:`` config keys, which the stack's default AWS provider reads."""


class SettingError(ConfigurationError):
    """A setting this component cannot follow; ``setting`` is its path below the source
    (``assumeRoles[0].duration``)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class AssumedRole:
    """One entry of ``aws:assumeRoles``: a role assumed with the credentials before it."""

    role_arn: str
    session_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None

    def sts_parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name or SESSION_NAME,
        }
        optional = {
            "ExternalId": self.external_id,
            "DurationSeconds": self.duration_seconds,
            "Policy": self.policy,
            "PolicyArns": [{"arn": arn} for arn in self.policy_arns],
            "Tags": [{"Key": k, "Value": v} for k, v in self.tags],
            "TransitiveTagKeys": list(self.transitive_tag_keys),
            "SourceIdentity": self.source_identity,
        }
        parameters.update({k: v for k, v in optional.items() if v})
        return parameters


@dataclass(frozen=True)
class AwsIdentity:
    """How to authenticate, as the AWS provider would; the Region is given per client.

    The default (no field set) is the ambient chain: environment, ``~/.aws``, instance
    or container role, exactly what the provider does with no settings.
    """

    profile: str | None = None
    assume_roles: tuple[AssumedRole, ...] = ()
    shared_config_file: str | None = None
    shared_credentials_file: str | None = None
    sts_region: str | None = None
    endpoints: tuple[tuple[str, str], ...] = ()

    # --- from settings -----------------------------------------------------------------

    @classmethod
    def from_stack_config(cls) -> AwsIdentity:
        """The identity of the stack's default AWS provider (the ``aws:`` config keys)."""
        import pulumi

        aws_config = pulumi.Config("aws")
        return cls.from_provider_settings(aws_config.get)

    @classmethod
    def from_provider_settings(
        cls, get: Callable[[str], str | None], source: SettingSource = STACK_CONFIG
    ) -> AwsIdentity:
        """Parse the provider's settings; ``get(key)`` answers a key of the ``aws:`` namespace
        as text (lists and objects as JSON, as Pulumi hands config over). ``source`` says
        where they were written, for the errors (a SettingError each)."""
        for key in _SECRET_KEYS:
            if get(key):
                name = source.name(key)
                raise SettingError(
                    key,
                    f"{name} is set: keys in the configuration cannot be used by this "
                    "component, whose grant finalizers must act again on `pulumi destroy` "
                    f"and never store keys; remove it ({source.removal.format(name=name)}) "
                    f"and give the credentials through a profile ({source.name('profile')}) "
                    "or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
                )
        if get("assumeRoleWithWebIdentity"):
            raise SettingError(
                "assumeRoleWithWebIdentity",
                f"{source.name('assumeRoleWithWebIdentity')} is set, which this component "
                "cannot follow; use a profile with role_arn and web_identity_token_file "
                f"({source.name('profile')}) or the AWS_ROLE_ARN and "
                "AWS_WEB_IDENTITY_TOKEN_FILE environment variables",
            )
        return cls(
            profile=get("profile") or None,
            assume_roles=_assume_roles(get("assumeRoles"), get("assumeRole"), source),
            shared_config_file=_one_file(get("sharedConfigFiles"), "sharedConfigFiles", source),
            shared_credentials_file=_one_file(
                get("sharedCredentialsFiles"), "sharedCredentialsFiles", source
            ),
            sts_region=get("stsRegion") or None,
            endpoints=_endpoints(get("endpoints")),
        )

    # --- in a dynamic resource's state ---------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Plain values for a dynamic resource's inputs: names and ARNs, never keys."""
        state = asdict(self)
        state["assume_roles"] = [asdict(role) for role in self.assume_roles]
        state["endpoints"] = dict(self.endpoints)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> AwsIdentity:
        """Rebuild from ``to_state``; state written before identities existed is ambient."""
        if not state:
            return cls()

        def role(values: Mapping[str, Any]) -> AssumedRole:
            return AssumedRole(
                role_arn=values["role_arn"],
                session_name=values.get("session_name"),
                external_id=values.get("external_id"),
                # Numbers come back from the state as floats.
                duration_seconds=(
                    int(values["duration_seconds"]) if values.get("duration_seconds") else None
                ),
                policy=values.get("policy"),
                policy_arns=tuple(values.get("policy_arns") or ()),
                tags=tuple((k, v) for k, v in (values.get("tags") or ())),
                transitive_tag_keys=tuple(values.get("transitive_tag_keys") or ()),
                source_identity=values.get("source_identity"),
            )

        return cls(
            profile=state.get("profile"),
            assume_roles=tuple(role(r) for r in state.get("assume_roles") or ()),
            shared_config_file=state.get("shared_config_file"),
            shared_credentials_file=state.get("shared_credentials_file"),
            sts_region=state.get("sts_region"),
            endpoints=tuple(sorted((state.get("endpoints") or {}).items())),
        )

    # --- sessions and clients ------------------------------------------------------------

    def session(self, region: str) -> boto3.session.Session:
        """A new boto3 session acting as this identity (sessions are not thread-safe:
        build clients from it in one thread, then share the clients)."""
        core = _new_core_session()
        if self.shared_config_file:
            core.set_config_variable("config_file", os.path.expanduser(self.shared_config_file))
        if self.shared_credentials_file:
            core.set_config_variable(
                "credentials_file", os.path.expanduser(self.shared_credentials_file)
            )
        if self.profile:
            # Set as an instance variable, an explicit profile turns off the environment's
            # keys, as the provider's explicit profile does.
            core.set_config_variable("profile", self.profile)
        for role in self.assume_roles:
            core = self._assumed(core, role, region)
        try:
            return boto3.session.Session(botocore_session=core)
        except ProfileNotFound:
            raise self._profile_not_found() from None

    def configured_region(self) -> str | None:
        """The Region the AWS provider falls back to when none is set: the environment's
        (AWS_REGION, then AWS_DEFAULT_REGION), then the profile's in the shared config."""
        for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(variable):
                return os.environ[variable]
        core = _new_core_session()
        if self.shared_config_file:
            core.set_config_variable("config_file", os.path.expanduser(self.shared_config_file))
        if self.profile:
            core.set_config_variable("profile", self.profile)
        try:
            return core.get_config_variable("region") or None
        except ProfileNotFound:
            return None

    def client(
        self,
        service: str,
        region: str,
        config: Config | None = None,
        session: boto3.session.Session | None = None,
    ) -> Any:
        """A client acting as this identity; from ``session`` (one of this identity's,
        used by one thread at a time) when given, so that several clients share its
        credentials (one AssumeRole, not one per client) and its caches."""
        endpoint = dict(self.endpoints).get(service)
        try:
            return (session or self.session(region)).client(
                service, region_name=region, config=config, endpoint_url=endpoint
            )
        except ProfileNotFound:
            raise self._profile_not_found() from None

    def _profile_not_found(self) -> ConfigurationError:
        return ConfigurationError(
            f"AWS profile {self.profile!r} (aws:profile) is not in the shared config or "
            "credentials files this run reads; name a profile that `aws configure "
            "list-profiles` shows, or point aws:sharedConfigFiles at the file that has it"
        )

    def assumed_role_arns(self) -> list[str]:
        return [role.role_arn for role in self.assume_roles]

    def describe(self) -> str:
        """How the identity was chosen, for error messages."""
        parts = [f"profile {self.profile}" if self.profile else "the environment's credentials"]
        parts += [f"then role {arn}" for arn in self.assumed_role_arns()]
        return ", ".join(parts)

    def _assumed(
        self, base: botocore.session.Session, role: AssumedRole, region: str
    ) -> botocore.session.Session:
        """A session whose credentials come from assuming ``role`` with ``base``'s."""
        sts = base.create_client(
            "sts",
            region_name=self.sts_region or region,
            endpoint_url=dict(self.endpoints).get("sts"),
        )

        def fetch() -> dict[str, Any]:
            credentials = sts.assume_role(**role.sts_parameters())["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        assumed = _new_core_session()
        for variable in ("config_file", "credentials_file"):
            assumed.set_config_variable(variable, base.get_config_variable(variable))
        assumed.register_component("credential_provider", CredentialResolver([_Refreshing(fetch)]))
        return assumed


def check_identity(identity: Any) -> AwsIdentity:
    """The component's ``aws_identity`` input: an AwsIdentity, or a sentence that says so."""
    if not isinstance(identity, AwsIdentity):
        raise ConfigurationError(
            f"aws_identity is {identity!r}; give an AwsIdentity, for example "
            "AwsIdentity(profile='prod') (from components.identity)"
        )
    return identity


# Every session of the process reads botocore's service models through one loader, so
# the models are parsed once per process, not once per client (sessions stay separate:
# a session is not thread-safe, its loader's cache of parsed files is only read).
_LOADER = botocore.loaders.create_loader()


def _new_core_session() -> botocore.session.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return core


class _Refreshing(CredentialProvider):
    """Credentials from assuming a role, assumed again before they expire."""

    METHOD = "assume-role"

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self._fetch = fetch

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD)


# --- parsing the provider's settings ---------------------------------------------------


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a plain string where a list is allowed


def _one_file(text: str | None, key: str, source: SettingSource) -> str | None:
    value = _json(text)
    files = [value] if isinstance(value, str) else list(value or [])
    if len(files) > 1:
        raise SettingError(
            key,
            f"{source.name(key)} lists {len(files)} files; this component reads one (boto3 "
            "takes a single file): merge them into one file and list only that one",
        )
    return str(files[0]) if files else None


def _assume_roles(
    many: str | None, single: str | None, source: SettingSource
) -> tuple[AssumedRole, ...]:
    value = _json(many)
    if value is None:
        value = _json(single)
    if value is None:
        return ()
    entries = value if isinstance(value, list) else [value]
    roles = []
    for index, entry in enumerate(entries):
        key = f"assumeRoles[{index}]"
        if not isinstance(entry, dict) or not entry.get("roleArn"):
            example = source.example.format(
                name=source.name(f"{key}.roleArn"), value="arn:aws:iam::111122223333:role/deployer"
            )
            raise SettingError(
                key,
                f"{source.name(key)} is {entry!r}; each entry needs a roleArn, as in {example}",
            )
        unknown = sorted(set(entry) - set(_ASSUME_ROLE_KEYS))
        if unknown:
            raise SettingError(
                f"{key}.{unknown[0]}",
                f"{source.name(key)} has {', '.join(unknown)}, which this component does not "
                "know; the keys it follows are " + ", ".join(_ASSUME_ROLE_KEYS),
            )
        roles.append(
            AssumedRole(
                role_arn=str(entry["roleArn"]),
                session_name=entry.get("sessionName") or None,
                external_id=entry.get("externalId") or None,
                duration_seconds=(
                    parse_duration(str(entry["duration"]), index, source)
                    if entry.get("duration")
                    else None
                ),
                policy=entry.get("policy") or None,
                policy_arns=tuple(entry.get("policyArns") or ()),
                tags=tuple(sorted((entry.get("tags") or {}).items())),
                transitive_tag_keys=tuple(entry.get("transitiveTagKeys") or ()),
                source_identity=entry.get("sourceIdentity") or None,
            )
        )
    return tuple(roles)


def parse_duration(text: str, index: int = 0, source: SettingSource = STACK_CONFIG) -> int:
    """A Go duration as pulumi-aws takes it ("1h", "15m", "1h30m", "900s"), in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        key = f"assumeRoles[{index}].duration"
        raise SettingError(
            key,
            f"{source.name(key)} {text!r} is not a duration; write it as pulumi-aws does, "
            "for example 15m, 1h or 1h30m (15 minutes to 12 hours)",
        )
    return round(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))


def _endpoints(text: str | None) -> tuple[tuple[str, str], ...]:
    value = _json(text)
    entries = value if isinstance(value, list) else [value] if value else []
    found: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            found.update({k: str(v) for k, v in entry.items() if k in _ENDPOINT_SERVICES and v})
    return tuple(sorted(found.items()))
