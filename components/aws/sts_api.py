"""The STS call: which account the credentials act in."""

from __future__ import annotations

from typing import Any

from .sdk import aws_call


def caller_account(sts: Any) -> str:
    with aws_call("sts:GetCallerIdentity", "the credentials running pulumi"):
        return str(sts.get_caller_identity()["Account"])
