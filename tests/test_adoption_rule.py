"""The adoption rule (`rules.adoption.check_adoptable`): what an import may not change,
on the first run and on the runs after, while the check cannot tell whether the import
happened."""

from __future__ import annotations

from typing import Any

import pytest

from components.rules.adoption import ServiceGoal, check_adoptable
from components.rules.errors import ConfigurationError

GOAL = ServiceGoal("web", "us-east-1", "micro", 2, {"team": "orders"})


def live(**changes: Any) -> dict[str, Any]:
    service = {
        "containerServiceName": "web",
        "power": "micro",
        "scale": 2,
        "tags": [{"key": "team", "value": "orders"}],
        "isDisabled": False,
        "publicDomainNames": {},
    }
    return {**service, **changes}


def goal(**changes: Any) -> ServiceGoal:
    values = {**GOAL.__dict__, **changes}
    return ServiceGoal(**values)


def test_a_first_adoption_of_a_matching_service_passes() -> None:
    check_adoptable(live(), GOAL)


@pytest.mark.parametrize(
    ("service", "named"),
    [
        (live(power="small"), "power is 'small' live, 'micro' in the stack"),
        (live(scale=3), "scale is 3 live, 2 in the stack"),
        (live(tags=[]), "tags are {} live"),
        (live(isDisabled=True), "isDisabled is true live"),
        (live(publicDomainNames={"cert": ["example.com"]}), "publicDomainNames are"),
    ],
)
def test_a_first_adoption_that_would_change_the_service_names_the_field(
    service: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match="nothing was changed") as raised:
        check_adoptable(service, GOAL)
    assert named in str(raised.value)
    assert "changed since" not in str(raised.value)


def test_nothing_to_adopt_is_refused_on_a_first_run_only() -> None:
    with pytest.raises(ConfigurationError, match="no Lightsail container service named 'web'"):
        check_adoptable(None, GOAL)
    # Compared and passed before: an import that fails on its own says the rest.
    check_adoptable(None, GOAL, approved=GOAL)


def test_the_stacks_own_later_change_passes_while_the_live_service_is_as_approved() -> None:
    # An adopted service: the stack now asks for more; the live one is as it was.
    check_adoptable(live(), goal(power="small", scale=3, tags={"team": "orders", "c": "1"}), GOAL)


def test_a_live_change_since_the_last_comparison_is_refused_again() -> None:
    # The check is in the state, the import failed, someone resized the live service:
    # the next import would resize it back.
    with pytest.raises(ConfigurationError) as raised:
        check_adoptable(live(scale=4), GOAL, approved=GOAL)

    message = str(raised.value)
    assert "scale is 4 live, 2 in the stack" in message
    assert "changed since this stack last compared it" in message
    assert "set adoptExistingService to false" in message


def test_a_live_change_that_the_stack_now_asks_for_passes() -> None:
    check_adoptable(live(scale=4), goal(scale=4), approved=GOAL)


def test_a_live_change_and_a_stack_change_that_differ_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="power is 'large' live, 'small' in the stack"):
        check_adoptable(live(power="large"), goal(power="small"), approved=GOAL)


def test_a_service_disabled_since_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="isDisabled is true live"):
        check_adoptable(live(isDisabled=True), GOAL, approved=GOAL)
