"""How every AWS SDK call of the project is made, and the sentences its failures turn into.

Clients are built for an explicit Region (the stack's ``aws:region``), never from
whatever the environment's default happens to be. Tests point a client elsewhere with
botocore's own per-service endpoint variables (``AWS_ENDPOINT_URL_ECR`` and so on) or
with an emulation installed at the botocore level, so no code here knows about tests.

Errors come back as AwsCallError, whose message names what was being done to what and,
for an access problem, the IAM action that is missing. The calls themselves are in
``ecr_api``, ``lightsail_api`` and ``sts_api``, one module per service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .identity import AwsIdentity

# Standard retry mode backs off on throttling and transient faults by itself; a few
# more attempts than the default ride out a busy account during a large `up`. The
# connection pool holds one connection per concurrent read (ecr_api.CONCURRENT_READS),
# so threads sharing a client never queue for, or discard, a connection.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)

# Every call says who made it, in the User-Agent that CloudTrail records: this project,
# and which of its processes (the program's reads, the dynamic providers' reads and
# writes), so that a policy write found in CloudTrail can be traced to its step.
USER_AGENT = "lightsail-ecr-access"
PROGRAM, PROVIDER = "program", "provider"


def user_agent(caller: str) -> str:
    """The User-Agent suffix of the calls ``caller`` (PROGRAM, PROVIDER) makes."""
    return f"{USER_AGENT} md/{caller}"


ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
OPERATOR_POLICY_HINT = (
    "the stack output `operatorPolicy` is the least-privilege IAM policy to attach to "
    "the identity that runs pulumi"
)


class AwsCallError(RuntimeError):
    """An AWS call failed; the message says what was being done, to what, and why."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class NoCredentialsFound(AwsCallError):
    """No AWS credentials were found for a call: none configured, or a profile without any."""


def client(
    service: str,
    region: str,
    identity: AwsIdentity | None = None,
    session: Any | None = None,
    caller: str = PROGRAM,
) -> Any:
    """A boto3 client for ``service`` in ``region``, acting as ``identity`` (the AWS
    provider's; ambient credentials when None), with standard retries, its calls
    tagged with ``caller``.

    Without ``session`` a fresh one is made; a session given must be the identity's
    and used by one thread at a time (sessions are not thread-safe, clients are)."""
    config = _RETRIES.merge(Config(user_agent_extra=user_agent(caller)))
    return (identity or AwsIdentity()).client(service, region, config=config, session=session)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


@contextmanager
def aws_call(action: str, resource: str) -> Iterator[None]:
    """Turn a failure of ``action`` (an IAM action name) on ``resource`` into a sentence."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        detail = exc.response.get("Error", {}).get("Message", "")
        if code in ACCESS_DENIED:
            raise AwsCallError(
                f"AWS denied {action} on {resource}: the credentials running pulumi need "
                f"the IAM permission {action} on that resource; {OPERATOR_POLICY_HINT}",
                code,
            ) from None
        raise AwsCallError(f"{action} on {resource} failed: {code}: {detail}", code) from None
    except NoCredentialsError:
        raise NoCredentialsFound(
            f"{action} on {resource} needs AWS credentials and none were found: configure "
            "them as for the AWS CLI (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or an instance or CI role)"
        ) from None
    except BotoCoreError as exc:
        raise AwsCallError(f"{action} on {resource} failed: {exc}") from None


# --- Clients kept for a whole process (the dynamic providers) -------------------------

# One client per (service, Region) for the process: building one parses botocore's
# service model anew (each client has its own Session, since a Session is not
# thread-safe), while a built client is thread-safe and the provider host may call from
# several threads, and keyed by identity too: one process may act for several.
_process_clients: dict[tuple[str, str, AwsIdentity], Any] = {}
_process_clients_lock = threading.Lock()
# What a process's credentials answer once and keep (the account they act in): a new
# provider process, like new clients, asks again.
_process_answers: dict[tuple[str, str, AwsIdentity], Any] = {}


def cached_client(service: str, region: str, identity: AwsIdentity | None = None) -> Any:
    """The process's client for ``service`` in ``region`` as ``identity``, built on first use."""
    key = (service, region, identity or AwsIdentity())
    with _process_clients_lock:
        if key not in _process_clients:
            _process_clients[key] = client(service, region, identity, caller=PROVIDER)
        return _process_clients[key]


def forget_process_clients() -> None:
    """Drop the process's clients and answers: the next call builds and asks anew. For a
    process whose environment changes under it (a test run, a demo that points AWS
    clients at an emulation and then stops it); a provider process never needs it."""
    with _process_clients_lock:
        _process_clients.clear()
        _process_answers.clear()


def cached_answer(
    question: str, region: str, identity: AwsIdentity | None, ask: Callable[[], Any]
) -> Any:
    """``ask()``'s answer for ``identity`` in ``region``, asked once per process."""
    key = (question, region, identity or AwsIdentity())
    with _process_clients_lock:
        if key in _process_answers:
            return _process_answers[key]
    answer = ask()  # outside the lock: a slow call must not hold up other threads
    with _process_clients_lock:
        return _process_answers.setdefault(key, answer)


def forget_cached_clients() -> None:
    """Drop the process's clients and what they answered (a new provider process, or
    new botocore handlers)."""
    with _process_clients_lock:
        _process_clients.clear()
        _process_answers.clear()
