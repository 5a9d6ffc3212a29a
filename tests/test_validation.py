"""Tests of components/rules/validation.py: the component's own inputs, checked before any write."""

from __future__ import annotations

from typing import Any

import pytest

from components.rules.validation import (
    MAX_SCALE,
    MIN_SCALE,
    POWERS,
    ConfigurationError,
    check_power,
    check_region,
    check_scale,
    check_service_name,
)
from tests.conftest import refusal

# --- service names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "7", "ab", "orders-api", "a1-b2-c3", "a--b", "a" * 63, "a" + "-" * 61 + "b"],
)
def test_valid_service_names_are_returned_unchanged(name: str) -> None:
    assert check_service_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 64,
        "Orders-api",
        "ORDERS",
        "-orders",
        "orders-",
        "-",
        "orders_api",
        "orders api",
        "orders.api",
        " orders",
        "orders-api\n",  # `$` alone would let a trailing newline through
        "orders-\u0430pi",  # CYRILLIC SMALL LETTER A
    ],
)
def test_invalid_service_names_are_refused_with_the_value_and_the_rule(name: str) -> None:
    message = refusal(check_service_name, name)
    assert repr(name) in message
    assert "serviceName" in message
    # Says how to fix it: the rule and an example.
    assert "1 to 63 lowercase letters, digits and hyphens" in message
    assert "no hyphen at either end" in message
    assert "'orders-api'" in message


@pytest.mark.parametrize("name", [None, 5, ["orders-api"], b"orders-api", 1.5])
def test_non_string_service_names_are_refused(name: Any) -> None:
    assert repr(name) in refusal(check_service_name, name)


def test_configuration_error_is_a_value_error() -> None:
    # Callers (and Pulumi's error output) may treat it as a ValueError.
    assert issubclass(ConfigurationError, ValueError)


# --- power ---------------------------------------------------------------------------


def test_the_six_lightsail_powers_are_known() -> None:
    assert POWERS == ("nano", "micro", "small", "medium", "large", "xlarge")


@pytest.mark.parametrize("power", ["nano", "micro", "small", "medium", "large", "xlarge"])
def test_valid_powers_are_accepted(power: str) -> None:
    assert check_power(power) == power


@pytest.mark.parametrize("power", ["huge", None, "Nano", "", " nano", "xxlarge", 1, ["nano"]])
def test_invalid_powers_are_refused_listing_the_choices(power: Any) -> None:
    message = refusal(check_power, power)
    assert repr(power) in message
    assert "nano, micro, small, medium, large, xlarge" in message


# --- scale ---------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1, 2, 10, 20])
def test_valid_scales_are_accepted(scale: int) -> None:
    assert (MIN_SCALE, MAX_SCALE) == (1, 20)
    result = check_scale(scale)
    assert result == scale
    assert type(result) is int


@pytest.mark.parametrize("scale", [0, 21, -1, True, False, 1.5, 2.0, "2", None])
def test_invalid_scales_are_refused_with_the_range(scale: Any) -> None:
    message = refusal(check_scale, scale)
    assert repr(scale) in message
    assert "1 to 20" in message
    assert "whole number" in message


# --- region --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "region",
    ["us-east-1", "eu-central-1", "ap-southeast-2", "ca-central-1", "cn-north-1", "us-gov-west-1"],
)
def test_valid_region_codes_are_accepted(region: str) -> None:
    assert check_region(region) == region


@pytest.mark.parametrize(
    "region",
    [
        "",
        "US-EAST-1",
        "us-east",
        "useast1",
        "us-east-1a",  # an Availability Zone, not a Region
        "us_east_1",
        "us-east-1\n",
        " us-east-1",
        None,
        1,
    ],
)
def test_invalid_region_codes_are_refused_with_how_to_set_one(region: Any) -> None:
    message = refusal(check_region, region)
    assert repr(region) in message
    assert "pulumi config set aws:region" in message


KNOWN = frozenset({"us-east-1", "us-east-2", "eu-west-1", "ap-southeast-2"})


def test_a_mistyped_region_is_answered_with_the_nearest_known_one() -> None:
    message = refusal(check_region, "us-easty-1", KNOWN)
    assert "'us-easty-1' is not an AWS Region: botocore knows none of that name" in message
    assert "did you mean us-east-1? Set it with `pulumi config set aws:region us-east-1`" in message


def test_a_region_like_none_known_gets_no_guess() -> None:
    message = refusal(check_region, "xx-nowhere-9", KNOWN)
    assert "did you mean" not in message
    assert "pulumi config set aws:region us-east-1" in message


def test_known_regions_pass_and_with_none_known_any_well_formed_code_does() -> None:
    assert check_region("ap-southeast-2", KNOWN) == "ap-southeast-2"
    # botocore's data unreadable: a Region newer than it must not be refused.
    assert check_region("xx-newplace-1", frozenset()) == "xx-newplace-1"
    assert "not an AWS Region code" in refusal(check_region, "us-east1", frozenset())
