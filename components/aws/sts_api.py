"""The STS call: which account the credentials act in."""

from __future__ import annotations

from typing import Any

from . import sdk
from .identity import AwsIdentity
from .sdk import aws_call


def caller_account(sts: Any) -> str:
    with aws_call("sts:GetCallerIdentity", "the credentials running pulumi"):
        return str(sts.get_caller_identity()["Account"])


def process_account(region: str, identity: AwsIdentity | None = None) -> str:
    """The account ``identity`` acts in, asked once per process (the dynamic providers)."""
    return str(
        sdk.cached_answer(
            "account",
            region,
            identity,
            lambda: caller_account(sdk.cached_client("sts", region, identity)),
        )
    )
