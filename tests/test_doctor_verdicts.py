"""The doctor's verdicts, as a table: a hand-written Observation in, the checks out.

No AWS here, not even an emulated one: ``components.doctor.verdicts`` is pure (see
tests/test_layers.py), so each case writes down what the reads would have found and
says what the doctor must conclude. tests/test_doctor.py runs the same verdicts through
the reads, against moto and the Lightsail emulation.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from components.doctor.findings import Check
from components.doctor.observed import ContainerLog, ImageRead, Observation, RepositoryRead
from components.doctor.verdicts import judge, platforms_of
from components.rules.policy import pull_statement
from components.rules.repository import parse_image, parse_repository

SERVICE, REGION, ACCOUNT, OTHER = "web", "us-east-1", "123456789012", "111122223333"
ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/{REGION}/containers/web/"
    "private-repo-access/3EXAMPLE"
)
OLD_ARN = ARN.replace("3EXAMPLE", "0LD")
BOTH = "ecr:BatchGetImage and ecr:GetDownloadUrlForLayer"
URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def repository(
    given: str = "team/app",
    found: bool | None = True,
    text: str | None = policy(pull_statement(SERVICE, ARN)),
    **read: Any,
) -> RepositoryRead:
    """A repository as the user wrote it, found in the service's account by default."""
    ref = parse_repository(given)
    registry = ACCOUNT if found else None
    return RepositoryRead(ref, given, found=found, registry=registry, policy_text=text, **read)


def image(tag: str = "1.0", found: bool = True, platforms: list[str] | None = None) -> ImageRead:
    """An image; with ``platforms``, a multi-platform index listing them."""
    details = {"imageDigest": "sha256:" + "a" * 64} if found else None
    if platforms is None:
        return ImageRead(parse_image(f"{URI}:{tag}"), details)
    index = {
        "mediaType": OCI_INDEX,
        "manifests": [
            {"platform": dict(zip(("os", "architecture"), p.split("/"), strict=True))}
            for p in platforms
        ],
    }
    return ImageRead(parse_image(f"{URI}:{tag}"), details, is_index=True, index=json.dumps(index))


HEALTHY = Observation(
    service=SERVICE,
    region=REGION,
    described={"state": "RUNNING", "isDisabled": False},
    role_active=True,
    principal_arn=ARN,
    account=ACCOUNT,
    repositories=(repository(),),
    images=(image(),),
    latest={"version": 1, "state": "ACTIVE"},
)


def seen(**changes: Any) -> Observation:
    return replace(HEALTHY, **changes)


def of(checks: tuple[Check, ...], name: str) -> list[Check]:
    return [c for c in checks if c.check == name]


# (case, what was read, which check, [(status, label, the start of its detail)])
CASES: list[tuple[str, Observation, str, list[tuple[str, str | None, str]]]] = [
    # --- the service
    ("running", HEALTHY, "service", [("ok", None, f"web is RUNNING in {REGION}")]),
    ("ready", seen(described={"state": "READY"}), "service", [("ok", None, "web is READY")]),
    (
        "disabled",
        seen(described={"state": "RUNNING", "isDisabled": True}),
        "service",
        [("problem", None, "web is disabled: it runs no container")],
    ),
    (
        "deleting",
        seen(described={"state": "DELETING"}),
        "service",
        [("problem", None, f"web is DELETING in {REGION}: it is being deleted")],
    ),
    (
        "still changing",
        seen(described={"state": "UPDATING"}),
        "service",
        [("warning", None, f"web is UPDATING in {REGION}: Lightsail is still changing it")],
    ),
    # --- the puller role
    ("role active", HEALTHY, "role", [("ok", None, f"the ECR image puller role is active: {ARN}")]),
    (
        "role off",
        seen(role_active=False, principal_arn=""),
        "role",
        [("problem", None, "the ECR image puller role is off")],
    ),
    (
        "role without an ARN yet",
        seen(principal_arn=""),
        "role",
        [("problem", None, "the ECR image puller role is active but has no principal ARN")],
    ),
    # --- where each repository is
    (
        "nothing to check",
        seen(repositories=(), images=()),
        "repository",
        [("warning", None, "nothing to check: no deployment of this service uses")],
    ),
    (
        "in the service's Region and account",
        HEALTHY,
        "repository",
        [("ok", "team/app", f"exists in {REGION}, account {ACCOUNT}")],
    ),
    (
        "by an ARN in another Region, where it exists",
        seen(
            repositories=(
                repository(
                    f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app",
                    found=None,
                    exists_elsewhere=True,
                ),
            )
        ),
        "repository",
        [
            (
                "problem",
                f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app",
                f"in Region eu-west-1 (it exists there), but the service is in {REGION}",
            )
        ],
    ),
    (
        "by a URI in another Region, where it is not either",
        seen(
            repositories=(
                repository(
                    f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/app",
                    found=None,
                    exists_elsewhere=False,
                ),
            )
        ),
        "repository",
        [
            (
                "problem",
                f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/app",
                "in Region eu-west-1 (where it does not exist either), but",
            )
        ],
    ),
    (
        "in another Region that could not be read",
        seen(
            repositories=(
                repository(f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app", found=None),
            )
        ),
        "repository",
        [
            (
                "problem",
                f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app",
                f"in Region eu-west-1, but the service is in {REGION}",
            )
        ],
    ),
    (
        "of another account",
        seen(repositories=(repository(f"arn:aws:ecr:{REGION}:{OTHER}:repository/a", found=None),)),
        "repository",
        [
            (
                "problem",
                f"arn:aws:ecr:{REGION}:{OTHER}:repository/a",
                f"belongs to account {OTHER}, but the service to account {ACCOUNT}",
            )
        ],
    ),
    (
        "missing",
        seen(repositories=(repository("team/ghost", found=False),)),
        "repository",
        [("problem", "team/ghost", f"does not exist in Region {REGION}, account {ACCOUNT}")],
    ),
    # --- the grant in its policy
    (
        "granted",
        HEALTHY,
        "policy",
        [("ok", "team/app", f"statement AllowLightsailPull-web allows {ARN} {BOTH}")],
    ),
    (
        "no policy",
        seen(repositories=(repository(text=None),)),
        "policy",
        [("problem", "team/app", f"no repository policy, so nothing allows {ARN} {BOTH}")],
    ),
    (
        "granted only the older ARN",
        seen(repositories=(repository(text=policy(pull_statement(SERVICE, OLD_ARN))),)),
        "policy",
        [
            (
                "problem",
                "team/app",
                f"no statement allows {ARN} {BOTH}; statement AllowLightsailPull-web names "
                f"{OLD_ARN}: an older puller role of web",
            )
        ],
    ),
    (
        "one of the two actions",
        seen(
            repositories=(
                repository(
                    text=policy(
                        {
                            "Sid": "Half",
                            "Effect": "Allow",
                            "Principal": {"AWS": ARN},
                            "Action": "ecr:BatchGetImage",
                        }
                    )
                ),
            )
        ),
        "policy",
        [
            (
                "problem",
                "team/app",
                f"statement Half allows {ARN} ecr:BatchGetImage, but no statement allows it "
                "ecr:GetDownloadUrlForLayer",
            )
        ],
    ),
    (
        "granted under a condition",
        seen(
            repositories=(
                repository(
                    text=policy(
                        {
                            **pull_statement(SERVICE, ARN),
                            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
                        }
                    )
                ),
            )
        ),
        "policy",
        [
            (
                "warning",
                "team/app",
                f"statement AllowLightsailPull-web allows {ARN} {BOTH} only when its "
                "Condition holds: check StringEquals aws:SourceVpce",
            )
        ],
    ),
    (
        "a policy that is no JSON",
        seen(repositories=(repository(text="{not json"),)),
        "policy",
        [("problem", "team/app", "the repository policy cannot be read: ")],
    ),
    (
        "no ARN to look for",
        seen(principal_arn=""),
        "policy",
        [("warning", "team/app", "not checked: the puller role has no principal ARN")],
    ),
    # --- Deny statements
    ("no Deny", HEALTHY, "deny", [("ok", "team/app", "no Deny statement applies")]),
    (
        "no policy, so no Deny",
        seen(repositories=(repository(text=None),)),
        "deny",
        [("ok", "team/app", "no repository policy, so no Deny applies")],
    ),
    (
        "a Deny for everyone",
        seen(
            repositories=(
                repository(
                    text=policy(
                        pull_statement(SERVICE, ARN),
                        {"Sid": "NoPulls", "Effect": "Deny", "Principal": "*", "Action": "ecr:*"},
                    )
                ),
            )
        ),
        "deny",
        [("problem", "team/app", f"statement NoPulls denies {ARN} {BOTH}, and a Deny wins")],
    ),
    (
        "a Deny under a condition",
        seen(
            repositories=(
                repository(
                    text=policy(
                        pull_statement(SERVICE, ARN),
                        {
                            "Sid": "Vpc",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "ecr:*",
                            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}},
                        },
                    )
                ),
            )
        ),
        "deny",
        [("warning", "team/app", f"statement Vpc denies {ARN} {BOTH} when its Condition")],
    ),
    # --- images
    ("an image that exists", HEALTHY, "image", [("ok", "team/app", "exists, digest sha256:")]),
    (
        "a missing tag",
        seen(images=(image("2.0", found=False),)),
        "image",
        [("problem", "team/app", "no image with tag 2.0 in team/app")],
    ),
    ("a single-platform image", HEALTHY, "platform", []),
    (
        "an index with linux/amd64",
        seen(images=(image(platforms=["linux/arm64", "linux/amd64"]),)),
        "platform",
        [("ok", "team/app", "the multi-platform index lists linux/amd64 (linux/arm64, linux")],
    ),
    (
        "an index without linux/amd64",
        seen(images=(image(platforms=["linux/arm64", "unknown/unknown"]),)),
        "platform",
        [
            (
                "problem",
                "team/app",
                "the multi-platform index has no linux/amd64 entry (it lists linux/arm64)",
            )
        ],
    ),
    (
        "an index ECR handed no manifest of",
        seen(images=(ImageRead(parse_image(f"{URI}:1.0"), {}, is_index=True),)),
        "platform",
        [
            (
                "problem",
                "team/app",
                "the multi-platform index has no linux/amd64 entry (it lists no platform)",
            )
        ],
    ),
    # --- the latest deployment
    (
        "no deployment",
        seen(latest=None),
        "deployment",
        [("ok", None, "no deployment yet: nothing has tried to pull")],
    ),
    ("active", HEALTHY, "deployment", [("ok", None, "deployment 1 is ACTIVE")]),
    (
        "activating",
        seen(latest={"version": 2, "state": "ACTIVATING"}),
        "deployment",
        [("warning", None, "deployment 2 is still ACTIVATING")],
    ),
    (
        "failed, with its log",
        seen(
            latest={"version": 3, "state": "FAILED"},
            logs=(ContainerLog("app", ("pull access denied",)), ContainerLog("side", ())),
        ),
        "deployment",
        [
            (
                "problem",
                None,
                "deployment 3 FAILED\nlast 1 log lines of container app:\n  pull access denied"
                "\ncontainer side logged nothing since the deployment began",
            )
        ],
    ),
    (
        "replaced",
        seen(latest={"version": 4, "state": "INACTIVE"}),
        "deployment",
        [("warning", None, "the latest deployment, 4, is INACTIVE: another one replaced it")],
    ),
]


@pytest.mark.parametrize(
    ("seen_", "name", "expected"),
    [pytest.param(o, n, e, id=case) for case, o, n, e in CASES],
)
def test_what_the_doctor_concludes_from_what_it_read(
    seen_: Observation, name: str, expected: list[tuple[str, str | None, str]]
) -> None:
    checks = of(judge(seen_), name)

    assert [(c.status, c.repository) for c in checks] == [(s, r) for s, r, _ in expected]
    for check, (status, _, detail) in zip(checks, expected, strict=True):
        assert check.detail.startswith(detail), check.detail
        # Every problem says how to fix it; an ok needs no fix.
        if status == "problem":
            assert check.fix, check
        if status == "ok":
            assert check.fix is None, check


def test_a_healthy_observation_is_ok_on_every_check_in_the_order_of_a_pull() -> None:
    checks = judge(HEALTHY)
    assert [(c.check, c.status) for c in checks] == [
        ("service", "ok"),
        ("role", "ok"),
        ("repository", "ok"),
        ("policy", "ok"),
        ("deny", "ok"),
        ("image", "ok"),
        ("deployment", "ok"),
    ]


def test_a_repository_the_service_cannot_pull_from_gets_no_policy_verdict() -> None:
    elsewhere = repository(f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/team/app", found=None)
    checks = judge(seen(repositories=(elsewhere,), images=()))
    assert [c.check for c in checks if c.repository] == ["repository"]


def test_the_grant_fix_keeps_every_other_statement() -> None:
    other = {"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:Put*"}
    (check,) = of(judge(seen(repositories=(repository(text=policy(other)),))), "policy")
    text = str(check.fix).split("--policy-text ", 1)[1].strip("'")
    assert json.loads(text)["Statement"] == [other, pull_statement(SERVICE, ARN)]


@pytest.mark.parametrize(
    ("manifest", "platforms"),
    [
        ("not json", []),
        ("[]", []),
        (
            json.dumps(
                {
                    "manifests": [
                        {"platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}
                    ]
                }
            ),
            ["linux/arm/v7"],
        ),
        (
            json.dumps(
                {"manifests": [{"platform": {"os": "unknown", "architecture": "unknown"}}, {}]}
            ),
            [],
        ),
    ],
)
def test_platforms_of_an_index(manifest: str, platforms: list[str]) -> None:
    assert platforms_of(manifest) == platforms
