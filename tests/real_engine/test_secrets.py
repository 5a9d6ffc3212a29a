"""No plaintext of a secret config value in the stack's exported state, through the real CLI.

`pulumi config set --secret --path 'aws:assumeRoles[0].externalId' ...` keeps the
assumed role's external ID (and, here, its role ARN) secret. The AWS provider and the
component's own dynamic resources both act as that role; whatever they store must stay
encrypted in the state, through up, a second up and destroy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from realengine.runner import Stack, Workspace
from tests.real_engine.conftest import ACCOUNT, OTHER_TEAMS, SHARED, ours

pytestmark = pytest.mark.real_engine

EXTERNAL_ID = "ext-id-k33p-s3cr3t-4711"
# A role in the dev account itself: the stack deploys where the repositories are.
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/deployer-s3cr3t-name"


def secret_role_stack(workspace: Workspace) -> Stack:
    stack = workspace.stack("web", {"serviceName": "web", "repositories": ["team/app"]})
    stack.set_secret_path("aws:assumeRoles[0].roleArn", ROLE_ARN)
    stack.set_secret_path("aws:assumeRoles[0].externalId", EXTERNAL_ID)
    return stack


def plaintext_places(stack: Stack) -> list[str]:
    """Every place of the exported state (and of the config file) that holds a secret
    in plain text."""
    found = []
    exported = json.dumps(stack.export())
    for secret in (EXTERNAL_ID, ROLE_ARN, "deployer-s3cr3t-name"):
        if secret in exported:
            at = exported.index(secret)
            found.append(f"{secret!r} in the state: ...{exported[max(0, at - 300) : at + 80]}...")
        if secret in stack.config_file.read_text():
            found.append(f"{secret!r} in {stack.config_file.name}")
    return found


def test_a_secret_assumed_role_never_reaches_the_state_in_plain_text(
    workspace: Workspace, aws: Any
) -> None:
    stack = secret_role_stack(workspace)

    stack.up()

    # The stack did act as the role: the grant is there, other teams' statements kept.
    app = aws.policy("team/app")
    assert app["Statement"][: len(OTHER_TEAMS)] == OTHER_TEAMS
    ours(app)
    assert plaintext_places(stack) == []
    # The secrets are in the state, encrypted: the dynamic resources do carry them.
    secret_holders = [
        r["urn"].rsplit("::", 1)[1]
        for r in stack.resources()
        if "4dabf18193072939515e22adb298388d" in json.dumps(r.get("outputs", {}))
    ]
    assert {"web-puller-role", "web-grant-team/app", "web-verify-team/app"} <= set(
        secret_holders
    ), secret_holders

    stack.run("up", "--yes", "--expect-no-changes")
    assert plaintext_places(stack) == []

    stack.destroy()
    assert plaintext_places(stack) == []
    assert aws.policy("team/app") == SHARED


def test_an_identity_made_secret_later_is_encrypted_with_no_change_to_make(
    workspace: Workspace, aws: Any
) -> None:
    # What the real engine does with a dynamic provider's secrets: it strips them before
    # the provider sees its inputs (the host does not accept secrets), so a setting that
    # only became secret is no change to any provider; and it marks secret every output
    # whose input is secret, on every step, a step with no change too.
    stack = workspace.stack(
        "web",
        {
            "serviceName": "web",
            "repositories": ["team/app"],
            "aws:assumeRoles": [{"roleArn": ROLE_ARN, "externalId": EXTERNAL_ID}],
        },
    )
    stack.up()
    assert EXTERNAL_ID in json.dumps(stack.export())  # not secret yet: plain, as asked

    stack.set_secret_path("aws:assumeRoles[0].externalId", EXTERNAL_ID)
    stack.set_secret_path("aws:assumeRoles[0].roleArn", ROLE_ARN)
    stack.run("up", "--yes", "--expect-no-changes")

    assert plaintext_places(stack) == []
    ours(aws.policy("team/app"))
    stack.destroy()
    assert aws.policy("team/app") == SHARED
