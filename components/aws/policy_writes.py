"""Writes of a shared repository policy that survive other writers: fresh read, verify, repair.

ECR has no conditional write: SetRepositoryPolicy replaces the whole document, and the
last writer wins. Nothing makes one write safe, so every write of this project is made
the way that keeps the unsafe window small, and then checked:

- merged from a read taken just before it (``ensure_grants``), never from one taken
  minutes earlier;
- verified after a settle delay with jitter (``verify_grants``, ``revoke_verified``):
  the policy is read again and this service's statements must be there (a grant) or gone
  (a revoke), exactly; otherwise it is repaired with a new fresh read-merge-write and
  checked again, a bounded number of times, then the run fails naming the repository,
  the statements and what the live policy held.

Why that is enough for this project's own writers: a writer B can undo A's verified
grant only by writing a document it read before A's write, after A has verified, that
is more than the settle delay after its own read. The settle delay is therefore chosen
longer than the longest window between a fresh read and the write made from it (see
``SETTLE_SECONDS``). A writer outside the project that writes a document it read long
ago (a plain ``aws_ecr_repository_policy``) can still remove a statement after the
check; only detection (``preview --refresh --expect-no-changes``, the doctor) or a
policy pack answers that.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from ..rules import policy
from . import ecr_api, sdk, waits
from .revocation import Revocation, revoke_statement

# The settle delay, from the window it must outlast: the time from the fresh read to the
# end of the policy resource's SetRepositoryPolicy made from it, under the real engine
# (the dynamic provider's answer, the output's way back to the program, the policy's
# RegisterResource, the AWS provider's Check, Diff and Update, the call itself).
# Measured with `python -m realengine.window --runs 10` (first ups through the real CLI,
# 6 repositories a stack, 2 shared cores): one stack 0.19 s median, 0.30 s at most; four
# stacks at once 0.35 s median, 0.94 s at most (the program's own measure, which ends
# when the result reaches it, 1.04 s at most). 5 s is 5.3 (4.8) times the longest; a run
# whose window exceeds it fails loudly (``check_write_window``), so a window that grows
# (a larger or busier run) is seen, not silently unsafe. The AWS provider's own retries
# of a principal IAM has not propagated yet (up to two minutes) would stretch it far
# more, which is why the fresh merge writes a new grant itself first (``ensure_grants``):
# by the time the policy resource writes, the principal is accepted at once. The jitter
# keeps two repairing runs from colliding again on the same beat.
SETTLE_SECONDS = 5.0
JITTER_SECONDS = 2.0
# Each repair is a fresh read-merge-write; a writer that keeps undoing ours for longer
# than this is not a race but a fight, which a person must settle.
MAX_REPAIRS = 3
# ECR answers "Invalid repository policy provided" for a principal IAM does not know yet;
# the AWS provider waits about two minutes for it, and so does this.
PROPAGATION_TIMEOUT_SECONDS = 120.0
_PROPAGATION_FIRST_DELAY, _PROPAGATION_MAX_DELAY = 2.0, 10.0

# The clock and the jitter's source, module attributes so that a harness can scale time
# or seed the jitter for the whole process without reaching into the functions.
clock: Any = waits.clock
jitter = random.Random()


class GrantNotVerified(RuntimeError):
    """A grant or a revoke did not hold after every repair: another writer kept undoing it."""


class WriteWindowExceeded(RuntimeError):
    """A policy was written longer after its fresh read than the settle delay covers."""


@dataclass(frozen=True)
class Ensured:
    """The document as merged from the fresh read, whether this call wrote it, and when
    that read was taken (wall-clock seconds, comparable across the run's processes)."""

    text: str
    wrote: bool
    read_at: float


def _where(repository: str, region: str) -> str:
    return f"repository {repository} in {region}"


def _read(ecr: Any, repository: str, region: str) -> policy.Document | None:
    where = _where(repository, region)
    text = ecr_api.get_policy_text(ecr, repository, where)
    try:
        return policy.parse_policy(text)
    except policy.MalformedPolicyError as exc:
        raise policy.MalformedPolicyError(
            f"the policy of {where} cannot be used: {exc}; nothing was changed. Repair the "
            "policy (aws ecr get-repository-policy / set-repository-policy) and run again"
        ) from None


def settle_deadline() -> float:
    """When a settle delay that starts now ends (``clock.time()``), jitter included."""
    return clock.time() + SETTLE_SECONDS + jitter.uniform(0.0, JITTER_SECONDS)


def settle(until: float | None = None) -> None:
    """Wait long enough that any write made from a read older than ours has landed:
    until ``until`` (a ``settle_deadline`` that someone else already waited for, so
    only what is left of it), or a whole settle delay from now."""
    if until is None:
        clock.sleep(SETTLE_SECONDS + jitter.uniform(0.0, JITTER_SECONDS))
    else:
        clock.sleep(max(until - clock.time(), 0.0))


async def settled(window: float | None) -> float | None:
    """Wait, in the program, for the settle delay after a policy write whose result has
    just arrived; return its deadline, which the verification then does not wait again.

    The wait belongs here rather than in the verification's provider: Pulumi's dynamic
    provider host serves every dynamic resource of a run with 4 threads, and a
    verification sleeping there holds one for 5 to 7 s while fresh documents and the
    engine's Checks of dynamic resources wait for a thread. The program waits on its
    event loop, any number at once. (This alone did not bound the window at 160
    repositories, 14.6 s median; the bounded writes of ``repository_policies`` did.)
    ``window`` None: no write of this run to settle after."""
    if window is None:
        return None
    deadline = settle_deadline()
    left = max(deadline - clock.time(), 0.0)
    # A harness's clock (virtual or scaled time) says how to wait on an event loop.
    pause = getattr(clock, "pause", None)
    await (pause(left) if pause is not None else asyncio.sleep(left))
    return deadline


def merged_from_fresh_read(
    ecr: Any, repository: str, region: str, statements: list[policy.Statement]
) -> tuple[str, list[str]]:
    """The live policy with ``statements`` merged in, as text, and the Sids it lacked."""
    live = _read(ecr, repository, region)
    text = policy.serialise(policy.merge_grants(live, statements))
    return text, policy.missing_grants(live, statements)


def ensure_grants(
    ecr: Any, repository: str, region: str, statements: list[policy.Statement]
) -> Ensured:
    """Make the live policy hold ``statements``, merged into a read taken just now.

    Writes only when a statement is missing or differs. A principal that IAM has not
    propagated yet is retried with a new read each time, so the document written is
    never older than one round trip, however long IAM takes.
    """
    started = clock.monotonic()
    delay = _PROPAGATION_FIRST_DELAY
    while True:
        # Taken before the call: the read may land any time until it answers.
        read_at = clock.time()
        text, missing = merged_from_fresh_read(ecr, repository, region, statements)
        if not missing:
            return Ensured(text, wrote=False, read_at=read_at)
        try:
            ecr_api.set_policy_text(ecr, repository, _where(repository, region), text)
            return Ensured(text, wrote=True, read_at=read_at)
        except sdk.AwsCallError as exc:
            if exc.code != "InvalidParameterException":
                raise
            waited = clock.monotonic() - started
            if waited >= PROPAGATION_TIMEOUT_SECONDS:
                principals = ", ".join(s["Principal"]["AWS"] for s in statements)
                raise sdk.AwsCallError(
                    f"ECR refused the policy of {_where(repository, region)} as invalid for "
                    f"{waited:.0f} s ({exc}). A puller role's principal that IAM has not "
                    f"propagated is refused so for a while; after "
                    f"{PROPAGATION_TIMEOUT_SECONDS:.0f} s it is not that: check that the role "
                    f"{principals} still exists (the service's private registry access is on), "
                    "and that the other statements of the policy are valid, then run "
                    "`pulumi up` again",
                    exc.code,
                ) from None
        clock.sleep(min(delay, PROPAGATION_TIMEOUT_SECONDS - waited))
        delay = min(delay * 2, _PROPAGATION_MAX_DELAY)


def write_window(read_at: Any, started_at: float) -> float | None:
    """Seconds from a fresh read (``read_at``) to now, when the policy resource's write
    made from it has just been reported; None when that read was not taken in this run
    (``started_at``: the run's start), whose write, if any, is not this run's to judge.

    Measured from above: "now" is when the write's result reached the program."""
    if not isinstance(read_at, (int, float)) or read_at < started_at:
        return None
    return max(clock.time() - float(read_at), 0.0)


def check_write_window(repository: str, region: str, window: Any) -> None:
    """Fail loudly when a policy was written longer after its fresh read than the
    settle delay covers: another stack's grant written in between may then be lost
    after that stack verified it, with its run reporting success."""
    if not isinstance(window, (int, float)) or window <= SETTLE_SECONDS:
        return
    raise WriteWindowExceeded(
        f"the policy of {_where(repository, region)} was written {window:.1f} s after the "
        f"read it was merged from, longer than the settle delay covers ({SETTLE_SECONDS:g} s). "
        "This stack's own grants are verified, but a grant another stack (or team) wrote in "
        "between may have been overwritten after its run checked it. Check the other stacks "
        f"that grant {repository} (`pulumi preview --refresh --expect-no-changes`, or "
        "`python -m components.doctor`) and run `pulumi up` on any that lacks its grant. The "
        "window grows when the engine is overloaded: run fewer stacks at once, or with a "
        "lower --parallel"
    )


def verify_grants(
    ecr: Any,
    repository: str,
    region: str,
    statements: list[policy.Statement],
    settled_until: float | None = None,
) -> int:
    """Check, after the settle delay, that the live policy holds ``statements``; repair.

    ``settled_until``: the deadline of a settle delay already waited for the write
    (``settled``); only what is left of it is waited before the first check.
    Returns how many repairs it took (0: the write held). Raises GrantNotVerified,
    naming what the live policy held, when they are still missing after MAX_REPAIRS.
    """
    for repairs in range(MAX_REPAIRS + 1):
        settle(settled_until if repairs == 0 else None)
        live = _read(ecr, repository, region)
        missing = policy.missing_grants(live, statements)
        if not missing:
            return repairs
        if repairs < MAX_REPAIRS:
            ensure_grants(ecr, repository, region, statements)
    raise GrantNotVerified(
        f"the pull statement(s) {', '.join(missing)} on {_where(repository, region)} were "
        f"still missing after {MAX_REPAIRS} repairs: the live policy holds "
        f"{policy.describe_statements(live)}. Another writer keeps replacing the whole "
        "document with one it read earlier (a plain aws.ecr.RepositoryPolicy or "
        "aws_ecr_repository_policy, or a script): find it in CloudTrail's "
        "SetRepositoryPolicy events, make it keep other statements, then run `pulumi up` "
        "again"
    )


def revoke_verified(ecr: Any, repository: str, region: str, sid: str) -> Revocation:
    """Remove one service's statement, then check after the settle delay that it stays gone.

    A writer that read the policy before the revoke may write the statement back: it is
    then revoked again, at most MAX_REPAIRS times, and GrantNotVerified is raised after.
    """
    outcome = revoke_statement(ecr, repository, region, sid)
    for repairs in range(MAX_REPAIRS + 1):
        if outcome is Revocation.REPOSITORY_GONE:
            return outcome
        settle()
        try:
            live = _read(ecr, repository, region)
        except sdk.AwsCallError as exc:
            if exc.code == "RepositoryNotFoundException":
                return Revocation.REPOSITORY_GONE
            raise
        if not policy.has_statement(live, sid):
            return outcome
        if repairs < MAX_REPAIRS:
            again = revoke_statement(ecr, repository, region, sid)
            # Report what was done to the policy, not that the last pass found it gone.
            outcome = again if again is not Revocation.NOT_PRESENT else outcome
    raise GrantNotVerified(
        f"statement {sid} on {_where(repository, region)} came back after {MAX_REPAIRS + 1} "
        f"revokes: the live policy holds {policy.describe_statements(live)}. Another writer "
        "keeps writing a document it read before the revoke (another stack's plain "
        "aws.ecr.RepositoryPolicy, or a script): stop it, then run the destroy again; the "
        "grant stays in the stack's state until it is gone"
    )
