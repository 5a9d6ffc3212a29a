"""One repository policy resource per repository per program, however many services share it.

An ECR repository policy is one document with no conditional write, so two
`aws.ecr.RepositoryPolicy` resources on one repository would overwrite each other. This
module keeps, for each Pulumi program run, one entry per repository: the policy read
once with boto3, every grant declared on it, the one policy resource that writes the
merged document, and the grant finalizers that take each service's statement out again.

The merged document is computed from the grants declared while the program body runs.
Pulumi runs the body synchronously before it resolves any output, so waiting one turn
of the event loop is enough for every component to have declared its grants; a grant
declared later than that (for example inside an ``apply``) is refused with an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import aws_api, policy
from components.dynamic_providers import GrantFinalizer
from components.repository import RepositoryRef
from components.validation import ConfigurationError

# A realistic upper bound for a puller role ARN, used to check the document's size
# before the real ARN is known (that is, before anything is written).
_PLACEHOLDER_ROLE_ARN = "arn:aws:iam::123456789012:role/amazon/lightsail/" + "x" * 160


@dataclass
class Grant:
    service_name: str
    principal_arn: pulumi.Output[str] | None = None  # known once the role is declared


@dataclass
class RepositoryEntry:
    """What the program knows and declares about one repository."""

    name: str
    region: str
    arn: str
    uri_prefix: str
    original: policy.Document | None
    grants: list[Grant] = field(default_factory=list)
    policy_resource: aws.ecr.RepositoryPolicy | None = None
    last_finalizer: GrantFinalizer | None = None
    sealed: bool = False

    def merged_text(self, principals: dict[str, str], warn: bool = True) -> str:
        """The existing document with every declared grant merged in, as policy text.

        ``warn``: say when a statement with a grant's Sid held something else (off for
        the size check, whose placeholder ARN differs from every real one).
        """
        document = self.original
        for grant in self.grants:
            statement = policy.pull_statement(grant.service_name, principals[grant.service_name])
            result = policy.merge_grant(document, statement)
            if warn and result.replaced is not None:
                pulumi.log.warn(
                    f"repository {self.name}: statement {statement['Sid']} held "
                    f"{result.replaced!r}; it is replaced by this service's pull grant",
                    resource=self.policy_resource,
                )
            document = result.document
        assert document is not None  # at least one grant was merged
        try:
            return policy.serialise(document)
        except policy.PolicyTooLargeError as exc:
            raise ConfigurationError(f"repository {self.name} ({self.arn}): {exc}") from None


class RepositoryPolicyBook:
    """The repositories one program run grants on; use ``for_this_program()``."""

    # The monitor of the run the book belongs to, and the book: a new run, a new book.
    _current: tuple[Any, RepositoryPolicyBook] | None = None

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], RepositoryEntry] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._accounts: dict[str, str] = {}

    @classmethod
    def for_this_program(cls) -> RepositoryPolicyBook:
        """The book of the program now running (a new run gets a new, empty book)."""
        monitor = pulumi.runtime.settings.get_monitor()
        if cls._current is None or cls._current[0] is not monitor:
            cls._current = (monitor, cls())
        return cls._current[1]

    def _client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[(service, region)] = aws_api.client(service, region)
        return self._clients[(service, region)]

    def account(self, region: str) -> str:
        if region not in self._accounts:
            self._accounts[region] = aws_api.caller_account(self._client("sts", region))
        return self._accounts[region]

    def check_location(self, ref: RepositoryRef, region: str) -> None:
        """Refuse a repository outside the stack's Region or account (STS only if needed)."""
        ref.check_location(region, self.account(region) if ref.account else None)

    def repository(self, ref: RepositoryRef, region: str) -> RepositoryEntry:
        """Look the repository up and read its policy, once per program run."""
        return self.repositories([ref], region)[0]

    def repositories(self, refs: Sequence[RepositoryRef], region: str) -> list[RepositoryEntry]:
        """Look the repositories up and read their policies, once per program run.

        Every location is checked before any read. The repositories not yet read in this
        run are described up to 100 a call, then their policies are read side by side
        (a bounded number at a time) with this run's one ECR client for the Region.
        """
        for ref in refs:
            self.check_location(ref, region)
        unread = list(dict.fromkeys(r.name for r in refs if (region, r.name) not in self._entries))
        if unread:
            ecr = self._client("ecr", region)
            described = aws_api.describe_repositories(ecr, unread, region)
            arns = [str(described[name]["repositoryArn"]) for name in unread]
            texts = aws_api.get_policy_texts(ecr, list(zip(unread, arns, strict=True)))
            # Every policy is parsed before any entry is kept: one bad policy, no entries.
            originals = [
                self._parsed(name, arn, text)
                for name, arn, text in zip(unread, arns, texts, strict=True)
            ]
            for name, arn, original in zip(unread, arns, originals, strict=True):
                uri_prefix = str(described[name]["repositoryUri"])
                self._entries[(region, name)] = RepositoryEntry(
                    name, region, arn, uri_prefix, original
                )
        return [self._entries[(region, ref.name)] for ref in refs]

    @staticmethod
    def _parsed(name: str, arn: str, text: str | None) -> policy.Document | None:
        try:
            return policy.parse_policy(text)
        except policy.MalformedPolicyError as exc:
            raise ConfigurationError(
                f"the policy of repository {name} ({arn}) cannot be used: {exc}. "
                "Nothing was changed; repair the policy (aws ecr get-repository-policy / "
                "set-repository-policy) and run again"
            ) from None

    def declare(self, entry: RepositoryEntry, service_name: str) -> Grant:
        """Declare that ``service_name`` will pull from the repository; nothing is created.

        Called before the component registers anything, so that a grant the document
        cannot take (too large, declared twice or too late) stops the run before any
        resource, the container service included, is created.
        """
        if entry.sealed:
            raise ConfigurationError(
                f"a grant on repository {entry.name} for {service_name} was declared after "
                "the repository's policy was computed; declare every component at the top "
                "level of the program, not inside an apply or after awaiting an output"
            )
        if any(g.service_name == service_name for g in entry.grants):
            raise ConfigurationError(
                f"container service {service_name} is granted repository {entry.name} "
                "twice in this program; list each repository once"
            )
        grant = Grant(service_name)
        entry.grants.append(grant)
        # Fail on size now, with a role ARN of realistic length standing in for the real one.
        entry.merged_text({g.service_name: _PLACEHOLDER_ROLE_ARN for g in entry.grants}, warn=False)
        return grant

    def grant(
        self,
        entry: RepositoryEntry,
        grant: Grant,
        owner: pulumi.ComponentResource,
        owner_name: str,
        principal_arn: pulumi.Output[str],
        depends_on: list[pulumi.Resource],
    ) -> GrantFinalizer:
        """Create what a declared grant needs, now that its principal ARN is an output.

        The first grant on a repository creates its policy resource (a child of that
        grant's component); every grant gets its own finalizer, a child of its own
        component, ordered after the previous one so that two removals never race.
        """
        grant.principal_arn = principal_arn
        if entry.policy_resource is None:
            entry.policy_resource = aws.ecr.RepositoryPolicy(
                f"{owner_name}-policy-{entry.name}",
                repository=entry.name,
                region=entry.region,
                policy=self._document(entry),
                opts=pulumi.ResourceOptions(
                    parent=owner,
                    depends_on=depends_on,
                    # Deleting would wipe every team's statements; finalizers remove ours.
                    retain_on_delete=True,
                ),
            )
        previous = [entry.last_finalizer] if entry.last_finalizer else []
        finalizer = GrantFinalizer(
            f"{owner_name}-grant-{entry.name}",
            region=entry.region,
            repository=entry.name,
            sid=policy.statement_sid(grant.service_name),
            opts=pulumi.ResourceOptions(
                parent=owner,
                depends_on=[entry.policy_resource, *previous],
            ),
        )
        entry.last_finalizer = finalizer
        return finalizer

    @staticmethod
    def _document(entry: RepositoryEntry) -> pulumi.Output[str]:
        async def grants_once_declared() -> list[Grant]:
            await asyncio.sleep(0)  # the program body has declared every grant by now
            entry.sealed = True
            return list(entry.grants)

        def merge(grants: list[Grant]) -> pulumi.Output[str]:
            principals = pulumi.Output.all(*[g.principal_arn for g in grants])
            return principals.apply(
                lambda arns: entry.merged_text(
                    {g.service_name: arn for g, arn in zip(grants, arns, strict=True)}
                )
            )

        declared: Awaitable[list[Grant]] = grants_once_declared()
        return pulumi.Output.from_input(declared).apply(merge)  # type: ignore[arg-type]
