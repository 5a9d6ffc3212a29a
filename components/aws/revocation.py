"""Take one service's pull statement out of a repository policy, and nothing else.

`aws.ecr.RepositoryPolicy` would delete the whole document (every team's statements),
so the project retains it on delete and removes its own statement here instead: read
the document, drop the statements with this service's Sid, write the rest back, or
delete the policy when nothing is left (ECR refuses a document with no statements).
"""

from __future__ import annotations

import enum
from typing import Any

from ..rules import policy
from . import ecr_api, sdk


class Revocation(enum.Enum):
    REMOVED = "removed this service's statement; the other statements were kept"
    POLICY_DELETED = "deleted the policy: this service's statement was the last one"
    NOT_PRESENT = "nothing to do: the policy holds no statement of this service"
    REPOSITORY_GONE = "nothing to do: the repository no longer exists"


def revoke_statement(ecr: Any, repository: str, region: str, sid: str) -> Revocation:
    where = f"repository {repository} in {region}"
    try:
        text = ecr_api.get_policy_text(ecr, repository, where)
    except sdk.AwsCallError as exc:
        if exc.code == "RepositoryNotFoundException":
            return Revocation.REPOSITORY_GONE
        raise
    try:
        document = policy.parse_policy(text)
    except policy.MalformedPolicyError as exc:
        raise policy.MalformedPolicyError(
            f"cannot remove statement {sid} from the policy of {where}: {exc}; nothing was "
            "changed. Repair the policy (or remove the statement by hand) and run again"
        ) from None
    if not policy.has_statement(document, sid):
        return Revocation.NOT_PRESENT
    remaining = policy.revoke_grant(document, sid)
    if remaining is None:
        ecr_api.delete_policy(ecr, repository, where)
        return Revocation.POLICY_DELETED
    ecr_api.set_policy_text(ecr, repository, where, policy.serialise(remaining))
    return Revocation.REMOVED
