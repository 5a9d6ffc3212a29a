"""Tests of components/rules/repository.py: repository references as users write them."""

from __future__ import annotations

from typing import Any

import pytest

from components.rules.errors import ConfigurationError
from components.rules.repository import (
    RepositoryRef,
    image_uri_prefix,
    parse_image,
    parse_repositories,
    parse_repository,
    repository_arn,
)
from tests.conftest import ACCOUNT, REGION, refusal

OTHER_ACCOUNT = "111122223333"
ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app"
URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/app"
DIGEST = "sha256:" + "ab" * 32


# --- repository ARNs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("us-east-1", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/app"),
        ("cn-north-1", f"arn:aws-cn:ecr:cn-north-1:{ACCOUNT}:repository/team/app"),
        ("us-gov-west-1", f"arn:aws-us-gov:ecr:us-gov-west-1:{ACCOUNT}:repository/team/app"),
    ],
)
def test_repository_arn_uses_the_region_partition(region: str, expected: str) -> None:
    assert repository_arn(region, ACCOUNT, "team/app") == expected


# --- parse_repository ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["app", "team/app", "a.b_c-d/e-f/g", "ab", "x" * 256])
def test_bare_name_has_no_region_or_account(name: str) -> None:
    ref = parse_repository(name)
    assert ref == RepositoryRef(name=name, given=name, region=None, account=None)


def test_surrounding_whitespace_is_ignored() -> None:
    ref = parse_repository("  team/app \n")
    assert ref.name == "team/app"
    assert ref.given == "team/app"


def test_arn_gives_name_region_and_account() -> None:
    ref = parse_repository(ARN)
    assert ref == RepositoryRef(name="team/app", given=ARN, region=REGION, account=ACCOUNT)


def test_arn_in_another_partition() -> None:
    arn = f"arn:aws-cn:ecr:cn-north-1:{ACCOUNT}:repository/app"
    ref = parse_repository(arn)
    assert (ref.name, ref.region, ref.account) == ("app", "cn-north-1", ACCOUNT)


def test_uri_gives_name_region_and_account() -> None:
    ref = parse_repository(URI)
    assert ref == RepositoryRef(name="team/app", given=URI, region=REGION, account=ACCOUNT)


def test_china_uri() -> None:
    uri = f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/app"
    ref = parse_repository(uri)
    assert (ref.name, ref.region, ref.account) == ("app", "cn-north-1", ACCOUNT)


@pytest.mark.parametrize(
    ("image", "reference"),
    [(f"{URI}:latest", ":latest"), (f"{URI}:v1.2.3", ":v1.2.3"), (f"{URI}@{DIGEST}", f"@{DIGEST}")],
)
def test_image_uri_with_tag_or_digest_is_refused_suggesting_the_repository_uri(
    image: str, reference: str
) -> None:
    message = refusal(parse_repository, image)
    assert repr(image) in message
    assert reference in message
    assert "drop the tag or digest" in message
    # The suggestion is the repository URI itself, without tag or digest.
    assert message.endswith(f"list {URI!r}")


@pytest.mark.parametrize(
    "text",
    [
        "a",  # ECR names are at least 2 characters
        "x" * 257,
        "Team/App",
        "team//app",
        "/app",
        "app/",
        "team/app:latest",  # a tag on a bare name is not a repository either
        "-app",
        "app name",
        f"arn:aws:ecr:{REGION}:1234:repository/app",  # account is 12 digits
        f"arn:aws:s3:::{ACCOUNT}/app",
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/",
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/",
        f"https://{URI}",
    ],
)
def test_invalid_strings_are_refused_naming_the_value(text: str) -> None:
    message = refusal(parse_repository, text)
    assert repr(text) in message
    assert "neither an ECR repository name" in message


@pytest.mark.parametrize("value", [None, 5, ["team/app"], {"name": "app"}, b"app", "", "   "])
def test_non_strings_and_blanks_are_refused_with_examples(value: Any) -> None:
    message = refusal(parse_repository, value)
    assert repr(value) in message
    # Shows the three forms it accepts.
    assert "'team/app'" in message
    assert "arn:aws:ecr:" in message
    assert ".dkr.ecr." in message


# --- RepositoryRef.check_location ----------------------------------------------------


def test_repository_in_another_region_is_refused_naming_both_regions() -> None:
    ref = parse_repository(f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/app")
    message = refusal(ref.check_location, REGION, ACCOUNT)
    assert "eu-west-1" in message
    assert REGION in message
    assert repr(ref.given) in message


def test_repository_uri_in_another_region_is_refused() -> None:
    ref = parse_repository(f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app")
    with pytest.raises(ConfigurationError, match="eu-west-1"):
        ref.check_location(REGION, None)


def test_repository_in_another_account_is_refused_naming_both_accounts() -> None:
    ref = parse_repository(f"arn:aws:ecr:{REGION}:{OTHER_ACCOUNT}:repository/app")
    message = refusal(ref.check_location, REGION, ACCOUNT)
    assert OTHER_ACCOUNT in message
    assert ACCOUNT in message
    assert repr(ref.given) in message


@pytest.mark.parametrize("reference", [ARN, URI])
def test_same_region_and_account_is_accepted(reference: str) -> None:
    assert parse_repository(reference).check_location(REGION, ACCOUNT) is None


def test_account_is_not_checked_when_the_stack_account_is_unknown() -> None:
    ref = parse_repository(f"arn:aws:ecr:{REGION}:{OTHER_ACCOUNT}:repository/app")
    assert ref.check_location(REGION, None) is None


@pytest.mark.parametrize("region", [REGION, "eu-west-1", "cn-north-1"])
def test_name_only_reference_is_accepted_anywhere(region: str) -> None:
    assert parse_repository("team/app").check_location(region, ACCOUNT) is None


# --- parse_repositories --------------------------------------------------------------


def test_parse_repositories_keeps_order() -> None:
    refs = parse_repositories(["bb", ARN, "a/c"])
    assert [r.name for r in refs] == ["bb", "team/app", "a/c"]
    assert [r.given for r in refs] == ["bb", ARN, "a/c"]


def test_empty_list_is_fine() -> None:
    assert parse_repositories([]) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [("team/app", ARN), (ARN, URI), (URI, "team/app"), ("team/app", "team/app")],
)
def test_same_repository_twice_in_any_form_is_refused_naming_both_forms(
    first: str, second: str
) -> None:
    message = refusal(parse_repositories, [first, "other", second])
    assert "listed twice" in message
    assert repr(first) in message
    assert repr(second) in message
    assert "'team/app'" in message


def test_parse_repositories_reports_an_invalid_entry() -> None:
    with pytest.raises(ConfigurationError, match="'Bad'"):
        parse_repositories(["app", "Bad"])


# --- image_uri_prefix ----------------------------------------------------------------


def test_image_uri_prefix_us_east_1() -> None:
    assert (
        image_uri_prefix(ACCOUNT, "us-east-1", "team/app")
        == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/app"
    )


def test_image_uri_prefix_china() -> None:
    assert (
        image_uri_prefix(ACCOUNT, "cn-north-1", "app")
        == f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/app"
    )


@pytest.mark.parametrize("region", ["us-east-1", "cn-northwest-1"])
def test_image_uri_prefix_parses_back_to_the_same_repository(region: str) -> None:
    ref = parse_repository(image_uri_prefix(ACCOUNT, region, "team/app"))
    assert (ref.name, ref.region, ref.account) == ("team/app", region, ACCOUNT)


# --- image URIs ------------------------------------------------------------------------

IMAGE_PREFIX = URI


@pytest.mark.parametrize(
    ("uri", "tag", "digest", "image_id"),
    [
        (f"{IMAGE_PREFIX}:1.4.2", "1.4.2", None, {"imageTag": "1.4.2"}),
        (IMAGE_PREFIX, "latest", None, {"imageTag": "latest"}),
        (f"{IMAGE_PREFIX}@{DIGEST}", None, DIGEST, {"imageDigest": DIGEST}),
        (f"{IMAGE_PREFIX}:v1@{DIGEST}", "v1", DIGEST, {"imageDigest": DIGEST}),
        (f" {IMAGE_PREFIX}:v1 ", "v1", None, {"imageTag": "v1"}),
    ],
)
def test_image_uri_parses_to_repository_and_reference(
    uri: str, tag: str | None, digest: str | None, image_id: dict[str, str]
) -> None:
    image = parse_image(uri)
    assert image.repository == RepositoryRef("team/app", IMAGE_PREFIX, REGION, ACCOUNT)
    assert (image.tag, image.digest, image.image_id) == (tag, digest, image_id)
    assert image.given == uri.strip()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("nginx:latest", "is not an ECR image URI"),
        ("team/app:1.0", "is not an ECR image URI"),
        (f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/app", "is not an ECR image URI"),
        (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/Team/App:1", "is not an ECR image URI"),
        (f"{IMAGE_PREFIX}:", "give a tag or a digest"),
        (f"{IMAGE_PREFIX}:v1@", "give a tag or a digest"),
        (f"{IMAGE_PREFIX}@sha256:abc", "is not an image digest"),
        (f"{IMAGE_PREFIX}:-bad", "is not a valid image tag"),
        (f"{IMAGE_PREFIX}:{'x' * 129}", "is not a valid image tag"),
        (None, "is not an ECR image URI"),
        ("", "is not an ECR image URI"),
    ],
)
def test_malformed_image_uri_is_refused_with_an_example(uri: object, expected: str) -> None:
    assert expected in refusal(parse_image, uri)


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/amazon/lightsail/x", ACCOUNT),
        (f"arn:aws-cn:ecr:cn-north-1:{ACCOUNT}:repository/team/app", ACCOUNT),
        ("arn:aws:s3:::bucket/key", None),  # names no account
        (f"xrn:aws:iam::{ACCOUNT}:role/r", None),  # not an ARN
        ("*", None),
    ],
)
def test_the_account_of_an_arn_has_one_home(arn: str, account: str | None) -> None:
    from components.rules.repository import account_of

    assert account_of(arn) == account
