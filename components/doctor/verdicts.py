"""The doctor's verdicts: what an ``Observation`` says about each thing a pull needs.

Pure, like ``rules``: no AWS, no clock. Each function turns what was read into checks,
``ok``, ``problem`` or ``warning``, and every problem carries its fix (from ``advice``).
The order of the checks follows a pull: the service, its puller role, each repository
(where it is, its policy's grant, its Deny statements), each image, the deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..rules.policy import PULL_ACTIONS, MalformedPolicyError, parse_policy
from ..rules.pull_access import PullAccess, evaluate
from . import advice
from .advice import LIGHTSAIL_PLATFORM
from .findings import OK, PROBLEM, WARNING, Check
from .observed import ContainerLog, ImageRead, Observation, RepositoryRead

_SETTLED = ("READY", "RUNNING")
_BOTH_ACTIONS = " and ".join(PULL_ACTIONS)


def judge(seen: Observation) -> tuple[Check, ...]:
    """Every check, in the order of a pull."""
    checks = [service_check(seen), role_check(seen)]
    if not seen.repositories:
        checks.append(
            Check(
                "repository",
                WARNING,
                "nothing to check: no deployment of this service uses a private ECR image",
                advice.name_what_to_check(),
            )
        )
    for repository in seen.repositories:
        checks.extend(repository_checks(seen, repository))
    for image in seen.images:
        checks.extend(image_checks(seen, image))
    checks.append(deployment_check(seen.latest, seen.logs))
    return tuple(checks)


# --- 1. the service --------------------------------------------------------------------


def service_check(seen: Observation) -> Check:
    service, region = seen.service, seen.region
    state = str(seen.described.get("state", "UNKNOWN"))
    where = f"{service} is {state} in {region}"
    if seen.described.get("isDisabled") or state == "DISABLED":
        return Check(
            "service",
            PROBLEM,
            f"{service} is disabled: it runs no container",
            advice.enable_service(service, region),
        )
    if state == "DELETING":
        return Check("service", PROBLEM, f"{where}: it is being deleted", advice.create_again())
    if state in _SETTLED:
        return Check("service", OK, where)
    return Check(
        "service",
        WARNING,
        f"{where}: Lightsail is still changing it",
        advice.wait_until_settled(),
    )


# --- 2. the puller role ----------------------------------------------------------------


def role_check(seen: Observation) -> Check:
    if not seen.role_active:
        return Check(
            "role",
            PROBLEM,
            "the ECR image puller role is off: the service cannot pull from any private repository",
            advice.activate_role(seen.service, seen.region),
        )
    if not seen.principal_arn:
        return Check(
            "role",
            PROBLEM,
            "the ECR image puller role is active but has no principal ARN yet, so no "
            "repository policy can name it",
            advice.wait_for_the_role_arn(),
        )
    return Check("role", OK, f"the ECR image puller role is active: {seen.principal_arn}")


# --- 3-5. each repository and its policy -----------------------------------------------


def repository_checks(seen: Observation, read: RepositoryRead) -> list[Check]:
    """Where the repository is; then, when the service could pull from it, its policy."""
    ref, label = read.ref, read.label
    region = ref.region or seen.region
    misplaced = ref.misplaced(seen.region, seen.account)
    if misplaced == "region":
        there = {True: " (it exists there)", False: " (where it does not exist either)", None: ""}
        return [
            Check(
                "repository",
                PROBLEM,
                f"in Region {region}{there[read.exists_elsewhere]}, but the service "
                f"is in {seen.region}: Lightsail pulls only from repositories in its own "
                "Region",
                advice.pull_from_the_services_region(seen.region, region),
                repository=label,
            )
        ]
    if misplaced == "account":
        return [
            Check(
                "repository",
                PROBLEM,
                f"belongs to account {ref.account}, but the service to account "
                f"{seen.account}: the puller role can be granted only on its own account's "
                "repositories",
                advice.replicate_into(seen.account),
                repository=label,
            )
        ]
    if not read.found:
        account = f", account {seen.account}" if seen.account else ""
        return [
            Check(
                "repository",
                PROBLEM,
                f"does not exist in Region {region}{account}",
                advice.create_repository(ref.name, region),
                repository=label,
            )
        ]
    registry = read.registry or seen.account or ""
    return [
        Check("repository", OK, f"exists in {region}, account {registry}", repository=label),
        *policy_checks(seen, read),
    ]


def policy_checks(seen: Observation, read: RepositoryRead) -> list[Check]:
    name, label = read.ref.name, read.label
    try:
        document = parse_policy(read.policy_text)
    except MalformedPolicyError as exc:
        return [
            Check(
                "policy",
                PROBLEM,
                f"the repository policy cannot be read: {exc}",
                advice.repair_policy(name, seen.region),
                repository=label,
            )
        ]
    access = evaluate(document, seen.principal_arn, seen.service)
    if not seen.principal_arn:
        return [
            Check(
                "policy",
                WARNING,
                "not checked: the puller role has no principal ARN to look for"
                + _stale_note(access, seen.service),
                repository=label,
            )
        ]
    return [grant_check(seen, read, document, access), *deny_checks(seen, read, document, access)]


def grant_check(
    seen: Observation, read: RepositoryRead, document: Mapping[str, Any] | None, access: PullAccess
) -> Check:
    arn, label = access.principal_arn, read.label
    fix = advice.grant(seen.service, seen.region, read.ref.name, document, arn)
    if access.missing:
        granted = list(access.grants)
        if document is None:
            found = f"no repository policy, so nothing allows {arn} {_BOTH_ACTIONS}"
        elif granted:
            found = (
                f"{_granted(granted)} {arn} {_actions(g.action for g in granted)}, "
                f"but no statement allows it {_actions(access.missing)}"
            )
        else:
            found = f"no statement allows {arn} {_BOTH_ACTIONS}"
        return Check(
            "policy", PROBLEM, found + _stale_note(access, seen.service), fix, repository=label
        )
    if access.conditional_grants:
        conditions = ", ".join(
            sorted({str(c) for g in access.conditional_grants for c in g.conditions})
        )
        return Check(
            "policy",
            WARNING,
            f"{_granted(access.grants)} {arn} {_BOTH_ACTIONS} only when its Condition "
            f"holds: check {conditions}",
            fix,
            repository=label,
        )
    return Check("policy", OK, f"{_granted(access.grants)} {arn} {_BOTH_ACTIONS}", repository=label)


def deny_checks(
    seen: Observation, read: RepositoryRead, document: Mapping[str, Any] | None, access: PullAccess
) -> list[Check]:
    arn, name, label = access.principal_arn, read.ref.name, read.label
    checks = [
        Check(
            "deny",
            PROBLEM,
            f"{denial.statement} denies {arn} {_actions(denial.actions)}, and a Deny "
            "wins over every Allow",
            advice.leave_out_of_deny(str(denial.statement), arn, name, seen.region),
            repository=label,
        )
        for denial in access.blocking
    ]
    for denial in access.uncertain:
        conditions = ", ".join(str(c) for c in denial.conditions)
        checks.append(
            Check(
                "deny",
                WARNING,
                f"{denial.statement} denies {arn} {_actions(denial.actions)} when its "
                f"Condition holds: check {conditions}",
                advice.check_deny_condition(conditions, name, seen.region),
                repository=label,
            )
        )
    if not access.denials:
        what = "no repository policy, so no Deny" if document is None else "no Deny statement"
        checks.append(
            Check("deny", OK, f"{what} applies to the puller role's pulls", repository=label)
        )
    return checks


# --- 6. each image ---------------------------------------------------------------------


def image_checks(seen: Observation, read: ImageRead) -> list[Check]:
    image = read.image
    name = image.repository.name
    what = "digest" if image.digest else "tag"
    if read.details is None:
        return [
            Check(
                "image",
                PROBLEM,
                f"no image with {what} {image.digest or image.tag} in {name}",
                advice.push_image(image.given, what, name, seen.region),
                repository=name,
                image=image.given,
            )
        ]
    checks = [
        Check(
            "image",
            OK,
            f"exists, digest {read.details.get('imageDigest', '')}",
            repository=name,
            image=image.given,
        )
    ]
    if read.is_index:
        checks.append(platform_check(read))
    return checks


def platform_check(read: ImageRead) -> Check:
    image = read.image
    platforms = platforms_of(read.index) if read.index else []
    listed = ", ".join(platforms) or "no platform"
    if LIGHTSAIL_PLATFORM in platforms:
        return Check(
            "platform",
            OK,
            f"the multi-platform index lists {LIGHTSAIL_PLATFORM} ({listed})",
            repository=image.repository.name,
            image=image.given,
        )
    return Check(
        "platform",
        PROBLEM,
        f"the multi-platform index has no {LIGHTSAIL_PLATFORM} entry (it lists {listed}); "
        "Lightsail runs linux/amd64",
        advice.build_for_lightsail(image.given),
        repository=image.repository.name,
        image=image.given,
    )


def platforms_of(manifest: str) -> list[str]:
    """The platforms a multi-platform index lists, as ``os/arch[/variant]``."""
    try:
        index = json.loads(manifest)
    except json.JSONDecodeError:
        return []
    found: list[str] = []
    for entry in index.get("manifests", []) if isinstance(index, dict) else []:
        platform = entry.get("platform") or {}
        os_name, arch = platform.get("os"), platform.get("architecture")
        # Attestation manifests carry "unknown/unknown"; they are not a platform.
        if os_name and arch and "unknown" not in (os_name, arch):
            variant = f"/{platform['variant']}" if platform.get("variant") else ""
            found.append(f"{os_name}/{arch}{variant}")
    return found


# --- 7. the latest deployment ----------------------------------------------------------


def deployment_check(latest: Mapping[str, Any] | None, logs: Iterable[ContainerLog] = ()) -> Check:
    if latest is None:
        return Check("deployment", OK, "no deployment yet: nothing has tried to pull")
    version, state = latest.get("version"), str(latest.get("state", ""))
    if state == "ACTIVE":
        return Check("deployment", OK, f"deployment {version} is ACTIVE")
    if state == "ACTIVATING":
        return Check(
            "deployment",
            WARNING,
            f"deployment {version} is still ACTIVATING",
            advice.wait_for_the_deployment(),
        )
    if state == "FAILED":
        return Check(
            "deployment",
            PROBLEM,
            f"deployment {version} FAILED" + _log_tail(logs),
            advice.deploy_again(),
        )
    return Check(
        "deployment",
        WARNING,
        f"the latest deployment, {version}, is {state}: another one replaced it",
    )


def _log_tail(logs: Iterable[ContainerLog]) -> str:
    text = ""
    for log in logs:
        if log.lines:
            text += f"\nlast {len(log.lines)} log lines of container {log.container}:"
            text += "".join(f"\n  {line}" for line in log.lines)
        else:
            text += f"\ncontainer {log.container} logged nothing since the deployment began"
    return text


# --- wording ---------------------------------------------------------------------------


def _actions(actions: Iterable[str]) -> str:
    return " and ".join(actions)


def _granted(grants: Iterable[Any]) -> str:
    """'statement X allows' or, when two statements share the work, both named."""
    statements = list(dict.fromkeys(str(g.statement) for g in grants))
    return f"{' and '.join(statements)} allow{'s' * (len(statements) == 1)}"


def _stale_note(access: PullAccess, service: str) -> str:
    if not access.stale:
        return ""
    named = "; ".join(f"{s.statement} names {s.principal}" for s in access.stale)
    return (
        f"; {named}: an older puller role of {service} (the role was re-created since, "
        "so that statement grants nobody now)"
    )
