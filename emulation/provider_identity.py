"""Whom the emulated AWS provider acts as: its settings from the stack, as pulumi-aws reads them.

Written apart from ``components.identity`` on purpose: the emulation stands for the real
provider, so a mistake in the component's reading of the settings shows up as the two
acting in different accounts, not as the same mistake made twice.

Precedence, as terraform-provider-aws documents it: keys in the settings, then an
explicit profile (which turns the environment's keys off), then the environment and
the shared files; then each role of ``assumeRoles`` in order. ``endpoints`` sends each
named service (``ecr``, ``lightsail``, ``sts``...) to its URL, the role assumptions
included, as the provider's ``aws:endpoints`` does; other services follow the
environment (``AWS_ENDPOINT_URL``...).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.loaders
import botocore.session

# The provider plugin is one long-lived process: it parses the service models once.
_LOADER = botocore.loaders.create_loader()


def _core() -> botocore.session.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return core


def _setting(settings: dict[str, Any], key: str) -> Any:
    value = settings.get(f"aws:{key}", settings.get(key))
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


class EndpointSession(boto3.session.Session):
    """A session whose clients of the services in ``endpoints`` go to those URLs."""

    endpoints: dict[str, str]

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("endpoint_url") is None and service_name in self.endpoints:
            kwargs["endpoint_url"] = self.endpoints[service_name]
        return super().client(service_name, *args, **kwargs)


def endpoints_of(settings: dict[str, Any]) -> dict[str, str]:
    """``endpoints`` of the settings (a list of maps, or its JSON text) as one map."""
    found: dict[str, str] = {}
    entries = _setting(settings, "endpoints") or []
    for entry in entries if isinstance(entries, list) else [entries]:
        found.update({str(k): str(v) for k, v in (entry or {}).items() if v})
    return found


def send_role_assumptions_to(core: botocore.session.Session, endpoints: dict[str, str]) -> None:
    """Have the roles a profile assumes (``role_arn``, web identity) be assumed through
    ``endpoints`` (its ``sts``), as the provider's own STS calls are."""
    if "sts" not in endpoints:
        return
    resolver = core.get_component("credential_provider")
    for name in ("assume-role", "assume-role-with-web-identity"):
        provider = resolver.get_provider(name)
        create = provider._client_creator

        def create_with_endpoint(service: str, *a: Any, _create: Any = create, **kw: Any) -> Any:
            kw.setdefault("endpoint_url", endpoints.get(service))
            return _create(service, *a, **kw)

        provider._client_creator = create_with_endpoint


def _session(endpoints: dict[str, str], **kwargs: Any) -> boto3.session.Session:
    session = EndpointSession(**kwargs)
    session.endpoints = endpoints
    return session


def provider_session(settings: dict[str, Any], region: str) -> boto3.session.Session:
    """A session acting as a provider with ``settings`` (stack config ``aws:*`` keys, or
    an explicit provider's inputs) would."""
    endpoints = endpoints_of(settings)
    if _setting(settings, "accessKey"):
        session = _session(
            endpoints,
            aws_access_key_id=_setting(settings, "accessKey"),
            aws_secret_access_key=_setting(settings, "secretKey"),
            aws_session_token=_setting(settings, "token"),
            region_name=region,
            botocore_session=_core(),
        )
    else:
        core = _core()
        files = _setting(settings, "sharedConfigFiles")
        if files:
            core.set_config_variable("config_file", files[0])
        files = _setting(settings, "sharedCredentialsFiles")
        if files:
            core.set_config_variable("credentials_file", files[0])
        profile = _setting(settings, "profile")
        if profile:
            core.set_config_variable("profile", profile)
        send_role_assumptions_to(core, endpoints)
        session = _session(endpoints, botocore_session=core, region_name=region)
    roles = _setting(settings, "assumeRoles") or _setting(settings, "assumeRole") or []
    for role in roles if isinstance(roles, list) else [roles]:
        parameters = {
            "RoleArn": role["roleArn"],
            "RoleSessionName": role.get("sessionName") or "pulumi-aws",
        }
        if role.get("externalId"):
            parameters["ExternalId"] = role["externalId"]
        credentials = session.client("sts").assume_role(**parameters)["Credentials"]
        session = _session(
            endpoints,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
            botocore_session=_core(),
        )
    return session
