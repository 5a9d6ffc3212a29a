"""Reads made as another stack's AWS provider would make them, for the policy pack.

A policy pack runs beside any stack, whose resources name their AWS provider: the
default one (the stack's ``aws:`` config) or an explicit ``aws.Provider`` with its own
``region``, ``profile`` and ``assumeRoles``. The live policy that a resource would
replace is the one in *that* provider's account and Region, so the pack reads with the
provider's settings, as the engine hands them to the pack, and only falls back to the
environment for what the provider leaves unset (as the provider itself does).

Nothing here writes. Whatever cannot be read becomes ``Unreadable``, whose message says
what was missing (credentials, the IAM action, a setting) so the pack can report it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..rules.errors import ConfigurationError
from ..rules.policy import Document, MalformedPolicyError, parse_policy
from . import ecr_api, lightsail_api, sdk
from .identity import AwsIdentity

# Settings of the provider that decide who the reads act as, and in which Region.
_IDENTITY_SETTINGS = (
    "profile",
    "assumeRoles",
    "assumeRole",
    "assumeRoleWithWebIdentity",
    "sharedConfigFiles",
    "sharedCredentialsFiles",
    "stsRegion",
    "endpoints",
)
_STATIC_KEYS = ("accessKey", "secretKey", "token")


UNKNOWN: Any = object()
"""Stands for a value the engine does not know yet (a preview before what it depends on
exists): in a provider's settings here, and in any property the pack reads."""


class Unreadable(RuntimeError):
    """What the pack needed to read could not be read; the message says why."""


class UnknownSetting(Unreadable):
    """A provider setting is not known yet (it depends on another resource's output)."""


@dataclass(frozen=True)
class ProviderAccess:
    """Who the reads act as and where: the provider's identity and Region."""

    identity: AwsIdentity
    region: str
    described: str

    @classmethod
    def of(
        cls, settings: Mapping[str, Any] | None, resource_region: str | None = None
    ) -> ProviderAccess:
        """From the provider's properties (plain values; ``unknown`` marks one not known
        yet) and the resource's own ``region`` argument, which wins when set."""
        settings = dict(settings or {})
        unknown = [k for k in (*_IDENTITY_SETTINGS, "region") if settings.get(k) is UNKNOWN]
        if unknown:
            raise UnknownSetting(
                f"the AWS provider's {', '.join(unknown)} is not known until the resources "
                "it depends on exist"
            )
        keys = [k for k in _STATIC_KEYS if settings.get(k)]
        if keys:
            raise Unreadable(
                f"the AWS provider is given static keys ({', '.join(keys)}), which the policy "
                "pack does not take from a stack; give the pack the same identity through "
                "its environment or a profile (aws:profile), or exempt the repository"
            )
        try:
            identity = AwsIdentity.from_provider_settings(lambda key: _text(settings.get(key)))
        except ConfigurationError as exc:
            raise Unreadable(f"the AWS provider's settings cannot be followed: {exc}") from None
        region = resource_region or _text(settings.get("region")) or identity.configured_region()
        if not region:
            raise Unreadable(
                "no AWS Region is set for the provider (aws:region), the resource or the "
                "environment (AWS_REGION); set one of them"
            )
        return cls(identity, region, identity.describe())


def read_repository_policy(
    access: ProviderAccess, repository: str, registry_id: str | None = None
) -> Document | None:
    """The repository's live policy; None when it has none or does not exist yet."""
    ecr = _client("ecr", access)
    where = f"repository {repository} in {access.region}"
    try:
        text = ecr_api.get_policy_text(ecr, repository, where, registry_id)
    except sdk.AwsCallError as exc:
        if exc.code == "RepositoryNotFoundException":
            return None  # created by this very run, later: nothing is live yet
        raise Unreadable(_as(access, str(exc))) from None
    try:
        return parse_policy(text)
    except MalformedPolicyError as exc:
        raise Unreadable(f"the live policy of {where} cannot be read: {exc}") from None


def read_container_service(access: ProviderAccess, name: str) -> dict[str, Any] | None:
    """The container service as Lightsail describes it; None when there is none."""
    lightsail = _client("lightsail", access)
    try:
        return lightsail_api.get_container_service(lightsail, name)
    except sdk.AwsCallError as exc:
        raise Unreadable(_as(access, str(exc))) from None


def _client(service: str, access: ProviderAccess) -> Any:
    try:
        return sdk.client(service, access.region, access.identity)
    except ConfigurationError as exc:  # a profile that is nowhere, for one
        raise Unreadable(_as(access, str(exc))) from None


def _as(access: ProviderAccess, message: str) -> str:
    return f"{message} (read as {access.described}, the resource's AWS provider)"


def _text(value: Any) -> str | None:
    """A setting as the provider's config hands it over: text, lists and objects as JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
