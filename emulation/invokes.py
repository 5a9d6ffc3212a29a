"""Invokes (data sources) a program may call, answered from the emulated cloud."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi


class InvokeAnswers(pulumi.runtime.Mocks):
    """The mocks' ``call``: each supported invoke reads moto, as the provider reads AWS,
    acting as the provider's identity (``session_for(provider_reference, region)``)."""

    def __init__(self, region: str, session_for: Callable[[str, str], Any]) -> None:
        self.region = region
        self.session_for = session_for

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        raise AssertionError("registrations are handled by the engine monitor")

    def call(self, args: Any) -> tuple[dict[str, Any], list[Any]]:
        region = args.args.get("region") or self.region
        aws = self.session_for(args.provider, region)
        if args.token == "aws:ecr/getRepository:getRepository":
            ecr = aws.client("ecr", region_name=region)
            found = ecr.describe_repositories(repositoryNames=[args.args["name"]])
            repository = found["repositories"][0]
            return {
                "arn": repository["repositoryArn"],
                "name": repository["repositoryName"],
                "registryId": repository["registryId"],
                "repositoryUrl": repository["repositoryUri"],
            }, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = aws.client("sts", region_name=region).get_caller_identity()
            return {
                "accountId": identity["Account"],
                "arn": identity["Arn"],
                "userId": identity["UserId"],
            }, []
        raise NotImplementedError(f"invoke {args.token} is not emulated")
