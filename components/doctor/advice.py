"""The doctor's advice: for each kind of problem, the fix a user can run.

A fix is a config key and ``pulumi up``, or the AWS CLI command that does the same
without Pulumi. Pure: every value a fix names is handed in.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from ..rules.policy import PolicyError, merge_grant, pull_statement, serialise, statement_sid

LIGHTSAIL_PLATFORM = "linux/amd64"  # Lightsail runs containers on linux/amd64 only


def enable_service(service: str, region: str) -> str:
    return (
        f"aws lightsail update-container-service --service-name {service} "
        f"--no-is-disabled --region {region}"
    )


def create_again() -> str:
    return "create it again with `pulumi up` once the deletion has finished"


def wait_until_settled() -> str:
    return "run the doctor again when the service is READY or RUNNING"


def activate_role(service: str, region: str) -> str:
    return (
        "pulumi config set privateRegistryAccess true && pulumi up (without Pulumi: "
        f"aws lightsail update-container-service --service-name {service} "
        "--private-registry-access ecrImagePullerRole={isActive=true} "
        f"--region {region})"
    )


def wait_for_the_role_arn() -> str:
    return (
        "Lightsail creates it within a minute of activation: run the doctor again; "
        "`pulumi up` waits for it and then grants it"
    )


def name_what_to_check() -> str:
    return "name what should be pulled: --repository NAME or --image URI"


def pull_from_the_services_region(service_region: str, repository_region: str) -> str:
    return (
        f"push the image to a repository in {service_region} and deploy from it "
        f"(`containers[].repository`, `repositories`), or run the service in "
        f"{repository_region} (pulumi config set aws:region {repository_region})"
    )


def replicate_into(account: str | None) -> str:
    return (
        f"replicate the image into a repository of account {account} (ECR "
        "replication) and deploy from it"
    )


def create_repository(name: str, region: str) -> str:
    return (
        f"aws ecr create-repository --repository-name {name} --region {region} and push "
        "the image, or correct the repository in `containers` and `repositories`"
    )


def repair_policy(name: str, region: str) -> str:
    return (
        f"see it with aws ecr get-repository-policy --repository-name {name} --region "
        f"{region}, and repair it (set-repository-policy with valid JSON)"
    )


def grant(
    service: str, region: str, name: str, document: Mapping[str, Any] | None, arn: str
) -> str:
    """``pulumi up`` with the repository listed; without Pulumi, the exact
    set-repository-policy that adds the statement and keeps every other one."""
    sid = statement_sid(service)
    fix = (
        f"run `pulumi up` on the stack of {service} with {name} in `repositories` "
        f"(pulumi config set --path 'repositories[<n>]' {name}): it writes statement "
        f"{sid} for the current ARN"
    )
    try:
        merged = serialise(merge_grant(document, pull_statement(service, arn)).document)
    except PolicyError:
        return fix
    return (
        f"{fix}; without Pulumi: aws ecr set-repository-policy --repository-name {name} "
        f"--region {region} --policy-text {shlex.quote(merged)}"
    )


def _show_policy(name: str, region: str) -> str:
    return f"aws ecr get-repository-policy --repository-name {name} --region {region}"


def leave_out_of_deny(statement: str, arn: str, name: str, region: str) -> str:
    return (
        f"the owner of {statement} must leave {arn} out of it (narrow its "
        f"Principal, or name the ARN in a NotPrincipal); see it with {_show_policy(name, region)}"
    )


def check_deny_condition(conditions: str, name: str, region: str) -> str:
    return (
        f"make sure {conditions} does not hold for pulls by the puller role; see the "
        f"statement with {_show_policy(name, region)}"
    )


def push_image(image: str, what: str, name: str, region: str) -> str:
    return (
        f"push it (docker push {image}), or deploy a {what} that exists: change "
        f"`containers[].tag` (aws ecr describe-images --repository-name {name} --region "
        f"{region} lists them)"
    )


def build_for_lightsail(image: str) -> str:
    return (
        f"build and push it for {LIGHTSAIL_PLATFORM} too: docker buildx build --platform "
        f"{LIGHTSAIL_PLATFORM},linux/arm64 -t {image} --push ."
    )


def wait_for_the_deployment() -> str:
    return "run the doctor again in a few minutes, when it is ACTIVE or FAILED"


def deploy_again() -> str:
    return "fix what the checks above (or the log lines) name, then deploy again: `pulumi up`"
