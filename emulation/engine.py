"""An emulated Pulumi engine: run the real ``__main__.py`` through up, up, change, destroy.

The program runs under Pulumi's mocks with a monitor of our own, which does for each
registration what the engine does: compare it with the stack's state, then create,
update, replace or leave the resource. Real pulumi-aws resources are carried out by
the emulated providers (against moto and the Lightsail emulator); dynamic resources
are run as Pulumi's dynamic provider host runs them: the pickled provider is restored
from ``__provider`` and its ``check``, ``diff``, ``create``, ``update`` and ``delete`` are
called. After the program, resources it no longer declares are deleted in reverse
dependency order, except that ``retain_on_delete`` resources are only forgotten.

It follows the real engine (3.174 and later) where the project's guarantees depend on it:
- the program runs inside ``run_in_stack``, as the language host runs it, so the root
  stack registers its outputs only when the program (and a ``pulumi.run`` entrypoint)
  has finished;
- an import reads the live resource, then diffs the goal against it and updates;
- a bridged resource is diffed against its stored state (its outputs), which a refresh
  brings up to date; ``preview(refresh=True, expect_no_changes=True)`` fails only when
  the goal differs from the refreshed state, ``refresh(expect_no_changes=True)`` on any
  drift;
- the AWS provider acts as the identity its settings give (stack config ``aws:*``, or an
  explicit provider resource's inputs), which may not be the ambient one;
- a run can be made to die right after the N-th provider action, before the engine
  records it (``crash_after``), as a cancelled CI job or a lost runner would;
- what the program and the providers log reaches the run's report as a diagnostic of a
  resource (``RunReport.diagnostics``): a program's ``pulumi.log`` call names its
  resource or none (the stack); a provider's is the resource it is serving, as the
  dynamic provider host of this project sends it (``dynamic_providers._log_to_engine``);
- a dynamic provider never sees a secret (its host answers Configure with
  ``acceptSecrets: false``): its inputs, old outputs and state reach it as plain values,
  and what it returns is marked secret where the value it came from was (the engine's
  ``annotateSecrets``); after every step with a new state, a Same step too, an output is
  made secret when its key is in ``additionalSecretOutputs`` or its input is secret.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import copy
import dataclasses
import importlib
import json
import runpy
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2, resource_pb2
from pulumi.runtime.settings import ROOT, SETTINGS, get_root_resource
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from emulation.analyzer import (
    InProcessPack,
    ProviderRef,
    StackResource,
    Violation,
    analyze_request,
    analyze_stack_request,
    default_aws_provider,
)
from emulation.invokes import InvokeAnswers
from emulation.provider_identity import provider_session
from emulation.providers import PROVIDERS

_DYNAMIC = "pulumi-python:dynamic"
# The package's own provider's resources (components.rules.type_tokens.PACKAGE). Not
# imported: the program under test brings its own copy of the package (the checkout's
# `components` or the installed `lightsail_ecr_access`), and a second copy in one
# process is refused.
_SERVED = "lightsail-ecr:index:"
_PROVIDER_TYPE = "pulumi:providers:"
_PROVIDER_KEY = "__provider"


@dataclass
class ResourceState:
    urn: str
    type: str
    custom: bool
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    retain_on_delete: bool
    provider: str = ""
    """The explicit provider's reference (``urn::id``); empty for the default provider."""

    @property
    def name(self) -> str:
        return self.urn.split("::")[-1]


_SEVERITIES = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}
_SERVING: contextvars.ContextVar[str] = contextvars.ContextVar("emulated_serving", default="")
"""The URN of the resource a provider is being called for in this context ("" for
none): a provider's log without a resource is about that one."""


@dataclass(frozen=True)
class Diagnostic:
    """One message a user sees in the run's ``Diagnostics:``, under its resource's name
    (the stack's name for a message about no resource)."""

    severity: str
    resource: str
    message: str


@dataclass
class RunReport:
    """What one run did, resource by resource (names, in the order it happened)."""

    created: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    sequence: list[tuple[str, str]] = field(default_factory=list)
    """Every step as (kind, name), in the order it was taken."""
    policy: list[Violation] = field(default_factory=list)
    """What the policy pack reported, every level, in the order it was reported."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """What the program and the providers logged, in the order it was logged."""

    def warnings(self) -> dict[str, list[str]]:
        """Each resource's warnings, by name, in the order they were logged."""
        found: dict[str, list[str]] = {}
        for d in self.diagnostics:
            if d.severity == "warning":
                found.setdefault(d.resource, []).append(d.message)
        return found

    def record(self, kind: str, name: str) -> None:
        getattr(self, kind).append(name)
        self.sequence.append((kind, name))

    @property
    def changed(self) -> bool:
        return bool(self.created or self.imported or self.updated or self.replaced or self.deleted)

    def summary(self) -> str:
        parts = [
            f"{len(getattr(self, kind))} {kind}"
            for kind in (
                "created",
                "imported",
                "updated",
                "replaced",
                "deleted",
                "retained",
                "unchanged",
            )
            if getattr(self, kind)
        ]
        return ", ".join(parts) or "nothing"


@dataclass
class Registered:
    """A registration as it reached the engine: inputs still serialised (a secret is a
    wrapped value there), and the outputs the program asked to keep secret."""

    inputs: dict[str, Any]
    additional_secret_outputs: list[str]


class DeploymentFailed(RuntimeError):
    """The program or a provider failed; the state keeps what was done before."""


class PolicyViolation(DeploymentFailed):
    """A mandatory policy of the pack was violated: the step did not run."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__(
            "policy violations (mandatory): "
            + "; ".join(f"[{v.policy}] {v.urn}: {v.message}" for v in violations)
        )


class EngineCrashed(RuntimeError):
    """The run died (``crash_after``): the last provider action was not recorded."""


def _provider_of(props: dict[str, Any]) -> Any:
    # The SDK sends the pickled provider as a secret unless the provider class sets
    # ``serialize_as_secret_always = False``; the host, which accepts no secrets, gets it
    # plain.
    return dill.loads(base64.b64decode(_plain(props[_PROVIDER_KEY])))


def _is_ours(type_: str) -> bool:
    """A resource of this project's own: a dynamic one (0.2.x state) or one the package's
    provider serves. The same provider classes do the work of both."""
    return type_.startswith(_DYNAMIC) or type_.startswith(_SERVED)


def _worker(type_: str, props: dict[str, Any]) -> Any:
    """Who steps a resource of ours: a dynamic one's pickled provider (as stored), a
    served one's class in the package's provider."""
    if type_.startswith(_DYNAMIC):
        return _provider_of(props)
    # The provider classes of whichever copy of the package the program imported: the
    # module every copy binds to the name its dynamic providers' pickles hold.
    providers = importlib.import_module("lightsail_ecr_access_providers")
    return getattr(providers, f"{type_[len(_SERVED) :]}Provider")()


def _with_provider(outs: dict[str, Any], type_: str, props: dict[str, Any]) -> dict[str, Any]:
    """A dynamic resource's outputs carry its pickled provider on; a served one's do not."""
    if type_.startswith(_DYNAMIC):
        return {**outs, _PROVIDER_KEY: props[_PROVIDER_KEY]}
    return outs


def _plain(value: Any) -> Any:
    """``value`` with every secret unwrapped: what a provider that does not accept
    secrets is handed."""
    if rpc.is_rpc_secret(value):
        return _plain(value["value"])
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _has_secrets(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(_has_secrets(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secrets(v) for v in value)
    return False


def _annotate_secrets(outs: dict[str, Any], ins: dict[str, Any]) -> dict[str, Any]:
    """The engine's ``annotateSecrets``: what a provider that does not accept secrets
    returned, secret wherever the same key held a secret in what it was handed (a map
    key by key, unless the whole map was secret; anything else whole)."""
    result = dict(outs)
    for key, given in ins.items():
        if key not in result:
            continue
        out = result[key]
        if isinstance(out, dict) and isinstance(given, dict) and not rpc.is_rpc_secret(given):
            if not rpc.is_rpc_secret(out):
                result[key] = _annotate_secrets(out, given)
        elif not rpc.is_rpc_secret(out) and _has_secrets(given):
            result[key] = rpc.wrap_rpc_secret(out)
    return result


def _secret_outputs(
    outputs: dict[str, Any], inputs: dict[str, Any], additional: list[str]
) -> dict[str, Any]:
    """What the step executor does to every new state: an output listed in
    ``additionalSecretOutputs``, or whose input of the same key is secret, is secret."""
    return {
        k: rpc.wrap_rpc_secret(v) if k in additional or rpc.is_rpc_secret(inputs.get(k)) else v
        for k, v in outputs.items()
    }


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def _changed_keys(olds: dict[str, Any], news: dict[str, Any], ignore: set[str]) -> list[str]:
    keys = (set(olds) | set(news)) - ignore - {_PROVIDER_KEY}
    return sorted(
        k
        for k in keys
        if olds.get(k) != news.get(k) and not (_empty(olds.get(k)) and _empty(news.get(k)))
    )


def delete_order(doomed: list[ResourceState], state_order: list[str]) -> list[ResourceState]:
    """Dependents (by dependency or parenthood) before what they depend on.

    Among resources free to go, the one registered last goes first, as the engine does.
    """
    position = {urn: i for i, urn in enumerate(state_order)}
    remaining = sorted(doomed, key=lambda r: position.get(r.urn, len(position)), reverse=True)
    ordered: list[ResourceState] = []
    while remaining:
        free = next(
            (
                r
                for r in remaining
                if not any(
                    o is not r and (r.urn in o.dependencies or o.parent == r.urn) for o in remaining
                )
            ),
            remaining[0],  # a cycle cannot come from a program; do not hang on one
        )
        remaining.remove(free)
        ordered.append(free)
    return ordered


class EngineLog(pulumi_mocks.MockEngine):
    """The engine's Log service: each message becomes a diagnostic of the run, and is
    still logged (tests read it with ``caplog``)."""

    def __init__(self, record: Callable[[str, str, str], None]) -> None:
        super().__init__(None)
        self._record = record

    def Log(self, request: Any) -> None:  # noqa: N802 - gRPC method name
        severity = _SEVERITIES.get(request.severity, "info")
        self._record(severity, request.urn or _SERVING.get(), request.message)
        super().Log(request)


class EngineMonitor(pulumi_mocks.MockMonitor):
    """The resource monitor: each registration becomes a step against the state."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(
            InvokeAnswers(str(engine.config.get("aws:region", "us-east-1")), engine.session_for)
        )
        self.engine = engine

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        pulumi_mocks._ensure_event_loop()
        self.engine.registrations[request.name] = Registered(
            json_format.MessageToDict(request.object),
            list(request.additionalSecretOutputs),
        )
        inputs = rpc.deserialize_properties(request.object)
        resource_id, outputs = self.engine.step(urn, request, inputs, self._aliases(request))
        outputs_proto = _sync_await(rpc.serialize_properties(outputs, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=outputs_proto)

    def _aliases(self, request: Any) -> list[str]:
        """The URNs the resource may have had, from its aliases (a URN, or a spec whose
        unset parts are the resource's own), as the engine resolves them."""
        found = []
        for alias in request.aliases:
            if alias.urn:
                found.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            found.append(
                self.make_urn(parent, spec.type or request.type, spec.name or request.name)
            )
        return found


class Engine:
    """One stack of one project: its configuration, its state, and up/destroy."""

    def __init__(self, project_dir: Path, stack: str, stack_config: Path | dict[str, Any]):
        self.project_dir = Path(project_dir).resolve()
        self.stack = stack
        project = yaml.safe_load((self.project_dir / "Pulumi.yaml").read_text())
        self.project = str(project["name"])
        self._defaults = {
            f"{self.project}:{key}": spec["default"]
            for key, spec in (project.get("config") or {}).items()
            if isinstance(spec, dict) and "default" in spec
        }
        self.set_config(stack_config)
        self.state: dict[str, ResourceState] = {}
        self.stack_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._report = RunReport()
        self._log = EngineLog(self._diagnose)
        self._seen: set[str] = set()
        self._pending_deletes: list[ResourceState] = []
        self._dry = False
        self._planned: dict[str, ResourceState] = {}
        self.crash_after: int | None = None
        """Die right after this many provider actions of the next run (None: never)."""
        self._actions = 0
        self._dead = False
        self._sessions: dict[tuple[str, str], Any] = {}
        self.secret_keys: set[str] = set()
        """Config keys the stack holds as secrets (`pulumi config set --secret`)."""
        self.registrations: dict[str, Registered] = {}
        """The last run's registrations by name, as the engine received them."""
        self.timeline: list[tuple[str, float, float]] = []
        """Every provider action of the last run: (resource name, start, end), monotonic."""
        self.policy_pack: InProcessPack | None = None
        """The pack `--policy-pack` would run: every resource is analyzed before its
        step, the stack once it is known; a mandatory violation stops the run."""

    # --- configuration -----------------------------------------------------------------

    def set_config(self, stack_config: Path | dict[str, Any]) -> None:
        """Take configuration in the form of a ``Pulumi.<stack>.yaml`` file (or its dict)."""
        if isinstance(stack_config, Path):
            loaded = yaml.safe_load(stack_config.read_text()) or {}
        else:
            loaded = copy.deepcopy(stack_config)
        self.config: dict[str, Any] = {**self._defaults, **(loaded.get("config") or {})}

    def _config_strings(self) -> dict[str, str]:
        # The language host hands every value over as text; objects and lists as JSON.
        return {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in self.config.items()
        }

    # --- runs --------------------------------------------------------------------------

    def up(self, *, refresh: bool = False) -> RunReport:
        """Run the program and make the emulated cloud match it, as `pulumi up` does.

        ``refresh`` first reads every resource back into the state, as `--refresh` does:
        without it, a bridged resource changed outside Pulumi is compared by its stored
        state and left as it is.
        """
        if refresh:
            self._begin(preview=False)
            self._refresh_state()
        return self._run(preview=False)

    def preview(self, *, refresh: bool = False, expect_no_changes: bool = False) -> RunReport:
        """Run the program and say what `up` would do, changing nothing, as `pulumi preview`.

        Providers are asked only what they may be asked in a preview (check, diff, read);
        outputs of resources to be created or changed stay unknown. ``refresh`` plans
        against a refreshed copy of the state, which is not kept, as `--refresh` does.
        """
        if not refresh:
            report = self._run(preview=True)
        else:
            kept = self.state
            self.state = copy.deepcopy(kept)
            try:
                self._begin(preview=False)
                self._refresh_state()
                report = self._run(preview=True)
            finally:
                self.state = kept
        if expect_no_changes and report.changed:
            changed = report.created + report.updated + report.replaced + report.deleted
            raise DeploymentFailed(
                f"pulumi preview: no changes were expected but changes were proposed: "
                f"{report.summary()} ({', '.join(changed)})"
            )
        return report

    def refresh(self, *, expect_no_changes: bool = False) -> RunReport:
        """Read every resource back from the cloud into the state, as `pulumi refresh` does.

        A drifted resource is reported as updated, a vanished one as deleted; with
        ``expect_no_changes`` any drift fails the run (the state is left as it was).
        """
        self._begin(preview=False)
        kept = copy.deepcopy(self.state)
        self._refresh_state()
        if expect_no_changes and self._report.changed:
            self.state = kept
            drifted = ", ".join(self._report.updated + self._report.deleted)
            raise DeploymentFailed(
                f"pulumi refresh: no changes were expected but the state drifted: "
                f"{self._report.summary()} ({drifted})"
            )
        return self._report

    def _refresh_state(self) -> None:
        for urn, resource in list(self.state.items()):
            if not resource.custom or resource.type.startswith(_PROVIDER_TYPE):
                continue
            with self._serving(urn):
                found = self._read(resource)
            if found is None:
                del self.state[urn]
                self._report.record("deleted", resource.name)
            elif found != resource.outputs:
                resource.outputs = found
                self._report.record("updated", resource.name)
            else:
                self._report.record("unchanged", resource.name)

    def _read(self, resource: ResourceState) -> dict[str, Any] | None:
        """The resource's live outputs, as its provider reads them; None when it is gone."""
        if _is_ours(resource.type):
            read = _worker(resource.type, resource.outputs).read(
                resource.id, _plain(resource.outputs)
            )
            if not read.id:
                return None
            return _annotate_secrets(
                _with_provider(read.outs or {}, resource.type, resource.outputs),
                resource.outputs,
            )
        live = PROVIDERS[resource.type].read(
            self.session_for(resource.provider, resource.outputs["region"]),
            resource.id,
            resource.outputs["region"],
        )
        return None if live is None else {**resource.outputs, **live[1]}

    def _run(self, preview: bool) -> RunReport:
        loop = asyncio.get_event_loop()
        try:
            return loop.run_until_complete(self._run_async(preview))
        except BaseException:
            # The run's process ends; here its unfinished registrations must end too.
            _end_leftover_tasks()
            raise

    async def _run_async(self, preview: bool) -> RunReport:
        """One run of the program. Awaited alone, or beside other stacks' runs on one
        event loop (each task has its own context, hence its own Pulumi settings), as
        several CI jobs run at the same moment."""
        self._begin(preview)
        main = self.project_dir / "__main__.py"
        if str(self.project_dir) not in sys.path:
            sys.path.insert(0, str(self.project_dir))
        monitor = EngineMonitor(self)
        pulumi.runtime.set_mocks(
            monitor.mocks,
            project=self.project,
            stack=self.stack,
            preview=preview,
            monitor=monitor,
        )
        SETTINGS.engine = self._log  # what the program logs is the run's diagnostics
        pulumi.runtime.set_all_config(self._config_strings(), sorted(self.secret_keys))
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
        # set_mocks leaves a finished root stack behind; the language host starts the
        # program in a new one, which registers its outputs when the program is done.
        ROOT.set(None)
        try:
            roots: list[Any] = []

            def program() -> None:
                # The stack lives in the run's own context: catch it from inside.
                roots.append(get_root_resource())
                runpy.run_path(str(main), run_name="__main__")

            await run_in_stack(program)
            exported = getattr(roots[0], "outputs", {}) if roots else {}
            resolved: Any = await pulumi.Output.from_input(exported).future()
            if not preview:  # a preview plans; the stack keeps the outputs it had
                self.stack_outputs = dict(resolved or {})
        except (EngineCrashed, PolicyViolation):
            raise
        except Exception as exc:
            crash = _crash_in(exc)
            if crash is not None:
                raise crash from exc
            command = "preview" if preview else "up"
            raise DeploymentFailed(f"pulumi {command} failed: {exc}") from exc
        removed = [s for urn, s in self.state.items() if urn not in self._seen]
        # Deletes call providers, which block: off the loop, as other stacks share it.
        # (In this run's context: what they log is this run's.)
        await asyncio.get_event_loop().run_in_executor(
            None,
            contextvars.copy_context().run,
            self._delete_all,
            [*self._pending_deletes, *removed],
        )
        self._report.outputs = {} if preview else dict(self.stack_outputs)
        self._analyze_stack()
        return self._report

    def destroy(self) -> RunReport:
        """Delete every resource of the stack, as `pulumi destroy` does (no program run)."""
        self._begin(preview=False)
        self._delete_all(list(self.state.values()))
        self.stack_outputs = {}
        return self._report

    def _begin(self, preview: bool) -> None:
        self._dry = preview
        self._planned = {}
        self._report = RunReport()
        self._seen = set()
        self._pending_deletes = []
        self._actions = 0
        self._sessions = {}
        self.timeline = []
        self._dead = False

    @contextmanager
    def _serving(self, urn: str) -> Iterator[None]:
        """Providers called inside are serving ``urn``: what they log without naming a
        resource is about it, as the real engine attributes a provider's log."""
        engine, token = SETTINGS.engine, _SERVING.set(urn)
        SETTINGS.engine = self._log
        try:
            yield
        finally:
            SETTINGS.engine = engine
            _SERVING.reset(token)

    def _diagnose(self, severity: str, urn: str, message: str) -> None:
        if severity == "debug":
            return  # the SDK's own tracing, shown only by `--debug`
        name = urn.split("::")[-1] if urn else f"{self.project}-{self.stack}"
        self._report.diagnostics.append(Diagnostic(severity, name, message))

    def _acted(self) -> None:
        """A provider has just acted; a run set to crash dies here, before recording it."""
        self._actions += 1
        if self.crash_after is not None and self._actions >= self.crash_after:
            self.crash_after = None
            self._dead = True
            raise EngineCrashed(f"the run died after provider action {self._actions}")

    def _alive(self) -> None:
        """A dead run's process is gone: registrations still in flight here (other
        threads, other tasks) must neither act nor be recorded."""
        if self._dead:
            raise EngineCrashed("the run has died: nothing more is done or recorded")

    # --- the AWS provider's identity ---------------------------------------------------

    def session_for(self, provider: str, region: str) -> Any:
        """A session acting as the default provider (stack config) or an explicit one."""
        key = (provider, region)
        if key not in self._sessions:
            if provider:
                urn = provider.rsplit("::", 1)[0]
                holder = self._planned.get(urn) or self.state.get(urn)
                if holder is None:
                    raise RuntimeError(f"unknown provider {provider}")
                settings = holder.inputs
            else:
                settings = {k: v for k, v in self.config.items() if k.startswith("aws:")}
            # One per run, as one provider process serves a whole run.
            self._sessions[key] = provider_session(settings, region)
        return self._sessions[key]

    # --- steps -------------------------------------------------------------------------

    def step(
        self, urn: str, request: Any, inputs: dict[str, Any], aliases: Sequence[str] = ()
    ) -> tuple[str, dict[str, Any]]:
        """Create, update, replace or keep one resource; return its id and outputs. A
        resource the state holds under one of its ``aliases`` is that resource."""
        with self._lock:
            self._alive()
            self._seen.add(urn)
            old = self.state.get(urn)
            was = next((a for a in aliases if old is None and a in self.state), None)
            if was is not None:
                self._seen.add(was)
                old = self.state[was]
            new = ResourceState(
                urn=urn,
                type=request.type,
                custom=bool(request.custom),
                id="",
                inputs=inputs,
                outputs={},
                parent=request.parent,
                dependencies=list(request.dependencies),
                retain_on_delete=bool(request.retainOnDelete),
                provider=request.provider,
            )
            # A preview plans into a scratch copy; the stack's state stays as it was.
            target = self._planned if self._dry else self.state
            if not new.custom:
                target[urn] = new
                return "", {}
            with self._serving(urn):
                self._custom_step(new, old, request)
            target[urn] = new
            if was is not None and not self._dry:
                del self.state[was]  # moved to its new URN, as the engine renames it
            return new.id, new.outputs

    def _custom_step(self, new: ResourceState, old: ResourceState | None, request: Any) -> None:
        """Check, analyze, then import, create, diff and update or replace: ``new`` gets
        its id and outputs."""
        ignore = set(request.ignoreChanges)
        if _is_ours(new.type):
            self._check(new, old.inputs if old is not None else {})
        self._analyze(new)
        if old is None and request.importId:
            old = self._import(new, request.importId)
            self._report.record("imported", new.name)
        if old is None:
            new.id, new.outputs = self._planned_outputs(new) if self._dry else self._create(new)
            self._report.record("created", new.name)
        else:
            changes, replaces = self._diff(old, new, ignore)
            if not changes:
                # A Same step: the old outputs, stored with the new inputs.
                new.id, new.outputs = old.id, old.outputs
                if new.name not in self._report.imported:
                    self._report.record("unchanged", new.name)
            elif replaces:
                new.id, new.outputs = self._planned_outputs(new) if self._dry else self._create(new)
                self._pending_deletes.append(old)
                self._report.record("replaced", new.name)
            else:
                new.id = old.id
                new.outputs = self._planned_outputs(new)[1] if self._dry else self._update(old, new)
                self._report.record("updated", new.name)
        new.outputs = _secret_outputs(
            new.outputs, new.inputs, list(request.additionalSecretOutputs)
        )

    # --- the policy pack -----------------------------------------------------------------

    def _provider_ref(self, resource: ResourceState) -> ProviderRef | None:
        """The resource's provider as the engine describes it to a pack."""
        if resource.provider:
            urn = resource.provider.rsplit("::", 1)[0]
            holder = self._planned.get(urn) or self.state.get(urn)
            if holder is not None:
                return ProviderRef(holder.type, urn, holder.name, holder.inputs)
        if resource.type.startswith("aws:"):
            return default_aws_provider(self.stack, self.project, self.config, self.secret_keys)
        return None

    def _analyze(self, new: ResourceState) -> None:
        """Analyze, before the step: the inputs as the provider's Check left them, with
        unknowns and secrets kept, as the engine's step generator hands them over."""
        if self.policy_pack is not None:
            request = analyze_request(new.urn, new.inputs, self._provider_ref(new), new.parent)
            self._judged(self.policy_pack.analyze(request))

    def _analyze_stack(self) -> None:
        """AnalyzeStack, once the run is done: each resource's outputs (planned ones in a
        preview). A mandatory violation fails the run, after its steps, as for real."""
        if self.policy_pack is None:
            return
        target = self._planned if self._dry else self.state
        resources = [
            StackResource(r.urn, r.outputs, self._provider_ref(r), r.parent, tuple(r.dependencies))
            for r in target.values()
            if r.custom
        ]
        self._judged(self.policy_pack.analyze_stack(analyze_stack_request(resources)))

    def _judged(self, found: list[Violation]) -> None:
        self._report.policy.extend(found)
        mandatory = [v for v in found if v.level == "mandatory"]
        if mandatory:
            raise PolicyViolation(mandatory)

    @staticmethod
    def _check(new: ResourceState, olds: dict[str, Any]) -> None:
        """The provider's Check, called for every registration, a new resource's too
        (``olds`` empty), in a preview as in an up; its failures fail the step."""
        result = _worker(new.type, new.inputs).check(_plain(olds), _plain(new.inputs))
        if result.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in result.failures)
            raise RuntimeError(f"{new.name}: the provider's check failed: {reasons}")
        new.inputs = _annotate_secrets(result.inputs or _plain(new.inputs), new.inputs)

    @staticmethod
    def _planned_outputs(new: ResourceState) -> tuple[str, dict[str, Any]]:
        """What a preview knows of a resource to be created or changed: its inputs.

        An output the inputs hold as null (the puller role's ARN) stays unknown, as it
        does in a real preview of a provider that cannot preview.
        """
        return "", dict(new.inputs)

    def _diff(self, old: ResourceState, new: ResourceState, ignore: set[str]) -> tuple[bool, bool]:
        if _is_ours(new.type):
            provider = _worker(new.type, new.inputs)
            # The engine hands the provider the old *outputs*.
            result = provider.diff(old.id, _plain(old.outputs), _plain(new.inputs))
            return bool(result.changes), bool(result.replaces)
        if new.type.startswith(_PROVIDER_TYPE):
            changed = _changed_keys(old.inputs, new.inputs, ignore)
            return bool(changed), False
        # A bridged resource is diffed against its stored state: what the provider last
        # wrote or read, refreshed or imported, not what the program asked last time.
        emulated = PROVIDERS[new.type]
        goal = {**emulated.defaults, **new.inputs}
        stored = {
            k: old.outputs.get(k, emulated.defaults.get(k)) for k in set(goal) | set(old.inputs)
        }
        changed = [
            k
            for k in _changed_keys(stored, goal, ignore)
            if not emulated.equivalent(k, stored.get(k), goal.get(k))
        ]
        return bool(changed), any(k in emulated.replace_keys for k in changed)

    def _import(self, new: ResourceState, id_: str) -> ResourceState:
        """Read a live resource into the state, as an import does; the caller then diffs
        the goal against it and updates, as the engine has done since 3.174."""
        region = new.inputs["region"]
        live = PROVIDERS[new.type].read(self.session_for(new.provider, region), id_, region)
        if live is None:
            raise RuntimeError(f"importing {id_}: the resource does not exist in {region}")
        imported = dataclasses.replace(new, id=id_, inputs=live[0], outputs=live[1])
        if not self._dry:
            self._acted()
        return imported

    def _create(self, new: ResourceState) -> tuple[str, dict[str, Any]]:
        started = time.monotonic()
        if _is_ours(new.type):
            result = _worker(new.type, new.inputs).create(_plain(new.inputs))
            created = (
                str(result.id),
                _annotate_secrets(
                    _with_provider(result.outs or {}, new.type, new.inputs), new.inputs
                ),
            )
        elif new.type.startswith(_PROVIDER_TYPE):
            created = f"provider-{len(self.state)}", dict(new.inputs)
        else:
            created = PROVIDERS[new.type].create(
                self.session_for(new.provider, new.inputs["region"]), new.inputs
            )
        self.timeline.append((new.name, started, time.monotonic()))
        self._acted()
        return created

    def _update(self, old: ResourceState, new: ResourceState) -> dict[str, Any]:
        started = time.monotonic()
        if _is_ours(new.type):
            result = _worker(new.type, new.inputs).update(
                old.id, _plain(old.outputs), _plain(new.inputs)
            )
            updated = _annotate_secrets(
                _with_provider(result.outs or {}, new.type, new.inputs), new.inputs
            )
        elif new.type.startswith(_PROVIDER_TYPE):
            updated = dict(new.inputs)
        else:
            updated = PROVIDERS[new.type].update(
                self.session_for(new.provider, new.inputs["region"]),
                old.id,
                old.outputs,
                new.inputs,
            )
        self.timeline.append((new.name, started, time.monotonic()))
        self._acted()
        return updated

    def _delete_all(self, doomed: list[ResourceState]) -> None:
        """Delete each resource only once nothing else being deleted depends on it."""
        for resource in delete_order(doomed, list(self.state)):
            if self._dry:
                kind = "retained" if resource.retain_on_delete else "deleted"
                if resource.custom:
                    self._report.record(kind, resource.name)
                continue
            if resource.custom and not resource.retain_on_delete:
                with self._serving(resource.urn):
                    self._delete(resource)
                self._acted()
                self._report.record("deleted", resource.name)
            elif resource.custom:
                self._report.record("retained", resource.name)
            # A replaced resource's old copy leaves no trace: its URN now holds the new one.
            if self.state.get(resource.urn) is resource:
                del self.state[resource.urn]

    def _delete(self, resource: ResourceState) -> None:
        if _is_ours(resource.type):
            # The *stored* provider runs a dynamic resource's delete, as the engine does.
            _worker(resource.type, resource.outputs).delete(resource.id, _plain(resource.outputs))
        elif not resource.type.startswith(_PROVIDER_TYPE):
            PROVIDERS[resource.type].delete(
                self.session_for(resource.provider, resource.outputs["region"]),
                resource.id,
                resource.outputs,
            )


def _end_leftover_tasks() -> None:
    """A failed run's process ends; here its unfinished registrations must end too, or
    they would carry on in the next run's event loop and write into its cloud."""
    loop = asyncio.get_event_loop()
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def _crash_in(exc: BaseException) -> EngineCrashed | None:
    """The crash behind a failure the SDK wrapped on its way out of the program."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EngineCrashed):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
