"""One repository policy resource per repository per program, however many services share it.

An ECR repository policy is one document with no conditional write, so two
`aws.ecr.RepositoryPolicy` resources on one repository would overwrite each other. This
module keeps, for each Pulumi program run, one entry per repository: the policy read
once with boto3, every grant declared on it, the one policy resource that writes the
merged document, and the grant finalizers that take each service's statement out again.

The merged document is computed once the program has declared everything
(``components.program.program_end``), so components may be declared in any order, with
invokes, transforms or awaits between them; a grant declared after that (inside an
``apply`` that runs late) is refused with an error.

Every grant's finalizer is in the stack's state before its statement is written: the
policy resource depends on all of its repository's finalizers. A run that dies at any
point therefore never leaves a statement that `pulumi destroy` would not remove.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pulumi
import pulumi_aws as aws

from .. import served_resources
from ..aws import ecr_api, policy_writes, sdk, sts_api
from ..aws.concurrency import bounded_map
from ..aws.identity import AwsIdentity
from ..dynamic_providers import FreshPolicyDocument, GrantFinalizer, GrantVerification
from ..rules import policy
from ..rules.errors import ConfigurationError
from ..rules.repository import RepositoryRef
from .aws_provider import provider_account
from .program_end import CONSTRUCTING, ComponentEnd, ProgramEnd

WRITES_AT_ONCE = 4
"""How many repositories' fresh read and policy write may be under way at once in one
run. All at once, every fresh read of a large run is taken long before its write is
stepped (the engine takes Checks one at a time, in order, and checkpoints each step):
at 160 repositories through the real CLI a read was 13 to 17 s old when its document was
written (`python -m realengine.window --stacks 1 --repositories 160`), beyond the
settle delay that covers other stacks' writes. With 4 at a time the same run measured
0.65 s median and 1.5 s at most.

Each repository takes one of these slots before its fresh document's step and gives it
back when its policy resource's step ends (``RepositoryPolicyBook._write_slot``), in
whatever order they end, rather than each waiting for one fixed earlier write. Every
repository takes one, even one whose document this run's read finds unchanged: the
fresh document may still be merged and written again (another team edited the policy
since the last merge), which the program cannot tell without the state."""

# A realistic upper bound for a puller role ARN, used to check the document's size
# before the real ARN is known (that is, before anything is written).
_PLACEHOLDER_ROLE_ARN = "arn:aws:iam::123456789012:role/amazon/lightsail/" + "x" * 160


@dataclass
class PlannedGrant:
    """One service's grant on a repository, as the program declares it (not to be
    confused with ``rules.pull_access.Grant``, a statement's effect on one action)."""

    service_name: str
    principal_arn: pulumi.Output[str] | None = None  # known once the role is declared
    finalizer: GrantFinalizer | None = None


@dataclass
class RepositoryEntry:
    """What the program knows and declares about one repository."""

    name: str
    region: str
    arn: str
    uri_prefix: str
    original: policy.Document | None
    grants: list[PlannedGrant] = field(default_factory=list)
    policy_resource: aws.ecr.RepositoryPolicy | None = None
    verification: GrantVerification | None = None
    images: ecr_api.ImageTags = field(default_factory=ecr_api.ImageTags)
    """The tags asked for a deployment that the repository lacks, and its newest ones."""

    def statements(self, principals: dict[str, str]) -> list[policy.Statement]:
        """Every declared grant's pull statement, in declaration order."""
        return [
            policy.pull_statement(g.service_name, principals[g.service_name]) for g in self.grants
        ]

    def merged_text(self, statements: list[policy.Statement]) -> str:
        """The program's read of the policy with ``statements`` merged in, as policy text
        (``policy.merge_grants``, the one merge); too large for ECR is a ConfigurationError."""
        try:
            return policy.serialise(policy.merge_grants(self.original, statements))
        except policy.PolicyTooLargeError as exc:
            raise ConfigurationError(f"repository {self.name} ({self.arn}): {exc}") from None

    def plan(self, principals: dict[str, str]) -> dict[str, Any]:
        """What the program's read says the write will be: the grants in order, the
        merged document (what preview shows) and the grants that read lacks."""
        statements = self.statements(principals)
        for statement in statements:
            held = next(
                (
                    s
                    for s in policy.statements_of(self.original)
                    if s.get("Sid") == statement["Sid"] and s != statement
                ),
                None,
            )
            if held is not None:
                pulumi.log.warn(
                    f"repository {self.name}: statement {statement['Sid']} held "
                    f"{held!r}; it is replaced by this service's pull grant",
                    resource=self.policy_resource,
                )
        return {
            "grants": [
                {"service": g.service_name, "principal": principals[g.service_name]}
                for g in self.grants
            ],
            "planned": self.merged_text(statements),
            "missing": policy.missing_grants(self.original, statements),
        }

    @property
    def finalizers(self) -> list[GrantFinalizer]:
        return [g.finalizer for g in self.grants if g.finalizer is not None]


# One book per program run, found through the run's root stack and monitor: concurrent
# Automation API runs in one process each have their own (context variables of
# Pulumi's), and unit tests that call set_mocks again keep the root but get a new monitor.
_BOOKS: weakref.WeakKeyDictionary[pulumi.Resource, tuple[Any, RepositoryPolicyBook]] = (
    weakref.WeakKeyDictionary()
)


# The last policy write on each repository of the stack being constructed, when a
# provider builds the components: the next component's fresh read waits for it, so two
# components' writes on one repository never race (their fresh reads see each other).
_COMPONENT_WRITES: dict[tuple[str, str, str, str], pulumi.Resource] = {}


def _repository_key(entry: RepositoryEntry) -> tuple[str, str, str, str]:
    return (pulumi.get_project(), pulumi.get_stack(), entry.region, entry.name)


class RepositoryPolicyBook:
    """The repositories one program run grants on; use ``for_this_program()``."""

    def __init__(self, program_end: ProgramEnd | ComponentEnd) -> None:
        self.program_end = program_end
        # A fresh read taken after this was taken in this run (same clock as the reads').
        self.started_at = policy_writes.clock.time()
        self._entries: dict[tuple[str, str, str], RepositoryEntry] = {}
        self._clients: dict[tuple[AwsIdentity, str, str], Any] = {}
        self._sessions: dict[tuple[AwsIdentity, str], Any] = {}
        self._accounts: dict[tuple[AwsIdentity, str], str] = {}
        self._checked: set[tuple[AwsIdentity, str, pulumi.ProviderResource | None]] = set()
        self._slots: asyncio.Semaphore | None = None
        """``WRITES_AT_ONCE`` writes under way at once; made on the run's event loop."""
        self._freeing: set[asyncio.Future[None]] = set()
        """The tasks that give slots back (held: the event loop keeps only weak ones)."""

    @classmethod
    def for_this_program(cls) -> RepositoryPolicyBook:
        """The book of the program now running (a new run gets a new, empty book)."""
        if CONSTRUCTING.get():
            # Built by the project's provider: this component's grants are its own.
            return cls(ComponentEnd())
        root = pulumi.runtime.get_root_resource()
        if root is None:
            raise ConfigurationError(
                "PrivateEcrContainerService must be declared in a Pulumi program run by "
                "`pulumi preview`/`up` or the Automation API, or constructed by this "
                "package's provider (`pulumi package add`); another project's multi-language "
                "component provider cannot load its dynamic resources (pulumi/pulumi#5455)"
            )
        monitor = pulumi.runtime.settings.get_monitor()
        found = _BOOKS.get(root)
        if found is None or found[0] is not monitor:
            found = _BOOKS[root] = (monitor, cls(ProgramEnd(root)))
        return found[1]

    def client(self, service: str, region: str, identity: AwsIdentity) -> Any:
        """One client per identity, service and Region per run, shared by every read."""
        key = (identity, service, region)
        if key not in self._clients:
            # Built in the program's thread, from one session per identity and Region.
            if (identity, region) not in self._sessions:
                self._sessions[(identity, region)] = identity.session(region)
            session = self._sessions[(identity, region)]
            self._clients[key] = sdk.client(service, region, identity, session=session)
        return self._clients[key]

    def account(self, identity: AwsIdentity, region: str) -> str:
        """The account that ``identity``'s credentials belong to (one STS call per run)."""
        key = (identity, region)
        if key not in self._accounts:
            self._accounts[key] = sts_api.caller_account(self.client("sts", region, identity))
        return self._accounts[key]

    def check_same_account(
        self, identity: AwsIdentity, region: str, provider: pulumi.ProviderResource | None
    ) -> None:
        """Stop unless boto3 (as ``identity``) and the AWS provider act in one account."""
        key = (identity, region, provider)
        if key in self._checked:
            return
        ours = self.account(identity, region)
        theirs = provider_account(provider)
        if ours != theirs:
            raise ConfigurationError(
                f"the component's own AWS reads act as account {ours} ({identity.describe()}), "
                f"but the AWS provider deploys into account {theirs}: it would read one "
                "account's repository policies and write them into the other's. Nothing was "
                "changed. Give both the same identity: set aws:profile or aws:assumeRoles on "
                "the stack (the component follows them) and check AWS_PROFILE and "
                "AWS_ACCESS_KEY_ID in the environment that runs pulumi"
            )
        self._checked.add(key)

    def check_location(self, ref: RepositoryRef, region: str, identity: AwsIdentity) -> None:
        """Refuse a repository outside the stack's Region or account."""
        ref.check_location(region, self.account(identity, region) if ref.account else None)

    def repositories(
        self,
        refs: Sequence[RepositoryRef],
        region: str,
        identity: AwsIdentity,
        image_tags: Mapping[str, Collection[str]] | None = None,
    ) -> list[RepositoryEntry]:
        """Look the repositories up and read their policies, once per program run.

        Every location is checked before any read. The repositories not yet read in this
        run are described up to 100 a call, then their policies are read side by side
        (a bounded number at a time) with this run's one ECR client for the Region, and
        with them the images a deployment will pull (``image_tags``: tags by repository
        name), one DescribeImages a repository; each entry's ``images`` says what is
        missing.
        """
        for ref in refs:
            self.check_location(ref, region, identity)
        account = self.account(identity, region)
        unread = list(
            dict.fromkeys(r.name for r in refs if (account, region, r.name) not in self._entries)
        )
        wanted = {name: sorted(tags) for name, tags in (image_tags or {}).items() if tags}
        if unread or wanted:
            ecr = self.client("ecr", region, identity)
            described = ecr_api.describe_repositories(ecr, unread, region) if unread else {}
            arns = [str(described[name]["repositoryArn"]) for name in unread]

            def arn_of(name: str) -> str:
                known = self._entries.get((account, region, name))
                return known.arn if known else str(described[name]["repositoryArn"])

            reads: list[Callable[[], Any]] = [
                partial(ecr_api.get_policy_text, ecr, name, arn)
                for name, arn in zip(unread, arns, strict=True)
            ]
            reads += [
                partial(ecr_api.find_image_tags, ecr, name, arn_of(name), tags)
                for name, tags in wanted.items()
            ]
            answers = bounded_map(lambda read: read(), reads, ecr_api.CONCURRENT_READS)
            texts, images = answers[: len(unread)], answers[len(unread) :]
            # Every policy is parsed before any entry is kept: one bad policy, no entries.
            originals = [
                self._parsed(name, arn, text)
                for name, arn, text in zip(unread, arns, texts, strict=True)
            ]
            for name, arn, original in zip(unread, arns, originals, strict=True):
                uri_prefix = str(described[name]["repositoryUri"])
                self._entries[(account, region, name)] = RepositoryEntry(
                    name, region, arn, uri_prefix, original
                )
            for name, found in zip(wanted, images, strict=True):
                self._entries[(account, region, name)].images = found
        return [self._entries[(account, region, ref.name)] for ref in refs]

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

    def declare(self, entry: RepositoryEntry, service_name: str) -> PlannedGrant:
        """Declare that ``service_name`` will pull from the repository; nothing is created.

        Called before the component registers anything, so that a grant the document
        cannot take (too large, declared twice or too late) stops the run before any
        resource, the container service included, is created.
        """
        if self.program_end.ended:
            raise ConfigurationError(
                f"a grant on repository {entry.name} for {service_name} was declared after "
                "the program finished declaring its resources, when the repository's policy "
                "was already computed; declare every PrivateEcrContainerService in the "
                "program body or its pulumi.run entrypoint, not inside an apply"
            )
        if any(g.service_name == service_name for g in entry.grants):
            raise ConfigurationError(
                f"container service {service_name} is granted repository {entry.name} "
                "twice in this program; list each repository once"
            )
        grant = PlannedGrant(service_name)
        entry.grants.append(grant)
        # Fail on size now, with a role ARN of realistic length standing in for the real one.
        entry.merged_text(
            entry.statements({g.service_name: _PLACEHOLDER_ROLE_ARN for g in entry.grants})
        )
        return grant

    def grant(
        self,
        entry: RepositoryEntry,
        grant: PlannedGrant,
        owner: pulumi.ComponentResource,
        owner_name: str,
        principal_arn: pulumi.Output[str],
        identity: AwsIdentity,
        provider: pulumi.ProviderResource | None,
        after: Sequence[pulumi.Resource] = (),
    ) -> list[pulumi.Resource]:
        """Create what a declared grant needs, now that its principal ARN is an output.

        Every grant gets its own finalizer, a child of its own component, ordered after
        the previous one on the repository so that two removals never race. The first
        grant on a repository creates its policy resource (a child of that grant's
        component), which waits for every finalizer of the repository: a statement is
        never written before the finalizer that removes it is in the state.

        Returns what a deployment must wait for: the finalizer and the policy resource.
        """
        grant.principal_arn = principal_arn
        earlier = entry.finalizers[-1:]
        grant.finalizer = served_resources.GrantFinalizer(
            f"{owner_name}-grant-{entry.name}",
            region=entry.region,
            repository=entry.name,
            sid=policy.statement_sid(grant.service_name),
            identity=identity,
            # ``after``: what must hold before the grant exists at all (an adoption check).
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[*earlier, *after]),
        )
        if entry.policy_resource is None:
            self._declare_writes(entry, owner, owner_name, identity, provider)
        assert entry.policy_resource is not None and entry.verification is not None
        return [grant.finalizer, entry.policy_resource, entry.verification]

    def _declare_writes(
        self,
        entry: RepositoryEntry,
        owner: pulumi.ComponentResource,
        owner_name: str,
        identity: AwsIdentity,
        provider: pulumi.ProviderResource | None,
    ) -> None:
        """The repository's write, made from a fresh read, and its verification.

        Three resources, children of the first grant's component, run one after the
        other: the fresh document (read and merged seconds before the write), the policy
        resource that writes it, and the verification that reads it back after a settle
        delay and repairs what another writer undid (``policy_writes``).
        """
        plan = self._plan(entry)
        # Every finalizer of the repository, known once the program has declared them
        # all, is in the state before any statement is written.
        finalizers: pulumi.Output[list[pulumi.Resource]] = pulumi.Output.from_input(
            self._finalizers(entry)
        )
        # Components built by one provider each write the repository: one after another.
        earlier = self._previous_component_write(entry)
        slot = asyncio.ensure_future(self._write_slot(entry, plan))
        ready: pulumi.Output[list[pulumi.Resource]] = pulumi.Output.from_input(
            self._ready_to_read(entry, slot, earlier)
        )
        document = served_resources.FreshPolicyDocument(
            f"{owner_name}-document-{entry.name}",
            region=entry.region,
            repository=entry.name,
            grants=plan["grants"],
            planned=plan["planned"],
            missing=plan["missing"],
            identity=identity,
            opts=pulumi.ResourceOptions(
                parent=owner,
                depends_on=ready,
            ),
        )
        entry.policy_resource = aws.ecr.RepositoryPolicy(
            f"{owner_name}-policy-{entry.name}",
            repository=entry.name,
            region=entry.region,
            policy=self._to_write(document, plan),
            opts=pulumi.ResourceOptions(
                parent=owner,
                provider=provider,
                depends_on=finalizers.apply(lambda found: [document, *found]),
                # Deleting would wipe every team's statements; finalizers remove ours.
                retain_on_delete=True,
            ),
        )
        freeing = asyncio.ensure_future(self._free_slot(slot, entry.policy_resource))
        self._freeing.add(freeing)
        freeing.add_done_callback(self._freeing.discard)
        if isinstance(self.program_end, ComponentEnd):
            _COMPONENT_WRITES[_repository_key(entry)] = entry.policy_resource
        # Taken in the program as the policy resource's result arrives, that is just
        # after its write (the program is not bound by the dynamic provider's threads).
        started_at = self.started_at
        window = pulumi.Output.all(document.read_at, entry.policy_resource.id).apply(
            lambda done: policy_writes.write_window(done[0], started_at)
        )
        settled_until: pulumi.Output[float | None] = window.apply(policy_writes.settled)
        entry.verification = served_resources.GrantVerification(
            f"{owner_name}-verify-{entry.name}",
            region=entry.region,
            repository=entry.name,
            grants=plan["grants"],
            revision=document.revision,
            write_window=window,
            # The settle delay is waited here, in the program, not in a provider thread.
            settled_until=settled_until,
            identity=identity,
            # Checked only once the policy resource has written.
            opts=pulumi.ResourceOptions(parent=owner, depends_on=[entry.policy_resource]),
        )

    def _previous_component_write(self, entry: RepositoryEntry) -> list[pulumi.Resource]:
        """The policy write of the component built before this one on the same repository
        in this run, when a provider builds them (each holds its own grants)."""
        if not isinstance(self.program_end, ComponentEnd):
            return []
        previous = _COMPONENT_WRITES.get(_repository_key(entry))
        return [previous] if previous is not None else []

    async def _write_slot(
        self, entry: RepositoryEntry, plan: pulumi.Output[dict[str, Any]]
    ) -> bool:
        """Take one of the run's ``WRITES_AT_ONCE`` slots; True when one was taken.

        A plan not yet known (a preview before the puller role exists) takes none: nothing
        is read fresh or written then."""
        planned = await plan.future(with_unknowns=True)
        if not isinstance(planned, dict):
            return False
        if self._slots is None:
            self._slots = asyncio.Semaphore(WRITES_AT_ONCE)
        await self._slots.acquire()
        return True

    async def _ready_to_read(
        self,
        entry: RepositoryEntry,
        slot: asyncio.Future[bool],
        earlier: list[pulumi.Resource],
    ) -> list[pulumi.Resource]:
        """What the fresh document waits for: every finalizer of the repository, the write
        slot when it needs one, and the previous component's write of the repository."""
        found = await self._finalizers(entry)
        await slot
        return [*found, *earlier]

    async def _free_slot(self, slot: asyncio.Future[bool], write: pulumi.Resource) -> None:
        """Give the slot back once the policy resource's step has ended, however it ended."""
        try:
            if not await slot:
                return
        except BaseException:  # the run reports the failure itself
            return
        try:
            await write.urn.future(with_unknowns=True)
        except BaseException:  # a failed write frees its slot too
            pass
        finally:
            assert self._slots is not None
            self._slots.release()

    def _to_write(
        self, document: FreshPolicyDocument, plan: pulumi.Output[dict[str, Any]]
    ) -> pulumi.Output[str]:
        """The document the policy resource writes: the fresh document's when this run
        merged it, else the one merged from this run's own read.

        A fresh document that took a Same step holds the outputs of the run that last
        merged it. With no change that is the very text this run's read gives (that is
        why there was no change); but left out by `up --target`, it is the document
        merged at the last full `up`, and writing it would drop every statement added
        since. The document merged from this run's read, seconds old, is written then.
        A fresh read taken before this run started was not merged by it. (Told by its
        time, not by a run id among its inputs: an id new every run made every document's
        Same step a checkpoint of the whole state, most of a steady `up` at 160
        repositories.)
        """
        started_at = self.started_at

        def chosen(values: list[Any]) -> str:
            fresh, read_at, planned = values
            this_run = isinstance(read_at, (int, float)) and read_at >= started_at
            return str(fresh) if this_run else str(planned["planned"])

        return pulumi.Output.all(document.policy, document.read_at, plan).apply(chosen)

    async def _declared(self, entry: RepositoryEntry) -> list[PlannedGrant]:
        await self.program_end.wait()
        return list(entry.grants)

    async def _finalizers(self, entry: RepositoryEntry) -> list[pulumi.Resource]:
        grants = await self._declared(entry)
        return [g.finalizer for g in grants if g.finalizer is not None]

    def _plan(self, entry: RepositoryEntry) -> pulumi.Output[dict[str, Any]]:
        def plan(grants: list[PlannedGrant]) -> pulumi.Output[dict[str, Any]]:
            principals = pulumi.Output.all(*[g.principal_arn for g in grants])
            return principals.apply(
                lambda arns: entry.plan(
                    {g.service_name: arn for g, arn in zip(grants, arns, strict=True)}
                )
            )

        return pulumi.Output.from_input(self._declared(entry)).apply(plan)  # type: ignore[arg-type]
