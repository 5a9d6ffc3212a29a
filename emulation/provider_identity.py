"""Whom the emulated AWS provider acts as: its settings from the stack, as pulumi-aws reads them.

Written apart from ``components.identity`` on purpose: the emulation stands for the real
provider, so a mistake in the component's reading of the settings shows up as the two
acting in different accounts, not as the same mistake made twice.

Precedence, as terraform-provider-aws documents it: keys in the settings, then an
explicit profile (which turns the environment's keys off), then the environment and
the shared files; then each role of ``assumeRoles`` in order.
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


def provider_session(settings: dict[str, Any], region: str) -> boto3.session.Session:
    """A session acting as a provider with ``settings`` (stack config ``aws:*`` keys, or
    an explicit provider's inputs) would."""
    if _setting(settings, "accessKey"):
        session = boto3.session.Session(
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
        session = boto3.session.Session(botocore_session=core, region_name=region)
    roles = _setting(settings, "assumeRoles") or _setting(settings, "assumeRole") or []
    for role in roles if isinstance(roles, list) else [roles]:
        parameters = {
            "RoleArn": role["roleArn"],
            "RoleSessionName": role.get("sessionName") or "pulumi-aws",
        }
        if role.get("externalId"):
            parameters["ExternalId"] = role["externalId"]
        credentials = session.client("sts").assume_role(**parameters)["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
            botocore_session=_core(),
        )
    return session
