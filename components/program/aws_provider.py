"""The AWS provider the component's children run with, and what the component knows of it.

The component's boto3 calls must act as the provider does (``components.identity``).
With the stack's default provider both follow the ``aws:`` stack config. With settings
given to the component (``aws_identity``), the component builds its own provider from
them. An explicit provider passed in ``opts`` cannot be followed: a provider resource's
settings are not readable from the program, so it is refused, with the way to say the
same thing instead.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from ..aws.identity import AwsIdentity
from ..rules.errors import ConfigurationError

_HOW_INSTEAD = (
    "pass the provider's settings as args['aws_identity'] = AwsIdentity(profile=..., "
    "assume_roles=(AssumedRole(role_arn=...),)) instead: the component then builds its AWS "
    "provider from them, so that its own boto3 reads act as the provider writes"
)


def check_no_explicit_provider(opts: pulumi.ResourceOptions | None) -> None:
    """Refuse an AWS provider given in ``opts`` or inherited from the parent."""
    if opts is None:
        return
    given: list[Any] = [opts.provider]
    providers = opts.providers
    if isinstance(providers, dict):
        given.append(providers.get("aws"))
    elif providers:
        given.extend(providers)
    parent_providers = getattr(opts.parent, "_providers", None) or {}
    given.append(parent_providers.get("aws"))
    for provider in given:
        if provider is not None and getattr(provider, "package", "aws") == "aws":
            raise ConfigurationError(
                "PrivateEcrContainerService was given an explicit AWS provider (through "
                "opts.provider, opts.providers or its parent); it cannot read that "
                "provider's settings, so its AWS reads could act as another account: "
                + _HOW_INSTEAD
            )


def provider_for(
    identity: AwsIdentity, region: str, name: str, parent: pulumi.Resource
) -> aws.Provider:
    """An AWS provider with exactly the settings ``identity`` gives boto3."""
    endpoints = dict(identity.endpoints)
    return aws.Provider(
        name,
        region=region,
        profile=identity.profile,
        shared_config_files=[identity.shared_config_file] if identity.shared_config_file else None,
        shared_credentials_files=(
            [identity.shared_credentials_file] if identity.shared_credentials_file else None
        ),
        sts_region=identity.sts_region,
        assume_roles=[
            aws.ProviderAssumeRoleArgs(
                role_arn=role.role_arn,
                session_name=role.session_name,
                external_id=role.external_id,
                duration=f"{role.duration_seconds}s" if role.duration_seconds else None,
                policy=role.policy,
                policy_arns=list(role.policy_arns) or None,
                tags=dict(role.tags) or None,
                transitive_tag_keys=list(role.transitive_tag_keys) or None,
                source_identity=role.source_identity,
            )
            for role in identity.assume_roles
        ]
        or None,
        endpoints=[aws.ProviderEndpointArgs(**endpoints)] if endpoints else None,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def provider_account(provider: pulumi.ProviderResource | None) -> str:
    """The account the provider deploys into, as the provider itself reports it.

    A plain invoke: it returns before the component registers anything.
    """
    return aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider)).account_id


def stack_default_tags() -> dict[str, str]:
    """``aws:defaultTags``: tags the default provider adds to every resource it manages."""
    text = pulumi.Config("aws").get("defaultTags")
    if not text:
        return {}
    try:
        tags = json.loads(text).get("tags") or {}
    except (json.JSONDecodeError, AttributeError):
        raise ConfigurationError(
            f"aws:defaultTags is {text!r}; set it as pulumi-aws takes it, for example "
            "pulumi config set --path 'aws:defaultTags.tags.team' orders"
        ) from None
    return {str(k): str(v) for k, v in tags.items()}
