"""An emulated Pulumi engine: run the real ``__main__.py`` through up, up, change, destroy.

The program runs under Pulumi's mocks with a monitor of our own, which does for each
registration what the engine does: compare it with the stack's state, then create,
update, replace or leave the resource. Real pulumi-aws resources are carried out by
the emulated providers (against moto and the Lightsail emulator); dynamic resources
are run as Pulumi's dynamic provider host runs them: the pickled provider is restored
from ``__provider`` and its ``check``, ``diff``, ``create``, ``update`` and ``delete`` are
called. After the program, resources it no longer declares are deleted in reverse
dependency order, except that ``retain_on_delete`` resources are only forgotten.
"""

from __future__ import annotations

import base64
import copy
import json
import runpy
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import ROOT, SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from emulation.invokes import InvokeAnswers
from emulation.providers import PROVIDERS

_DYNAMIC = "pulumi-python:dynamic"
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

    @property
    def name(self) -> str:
        return self.urn.split("::")[-1]


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


class DeploymentFailed(RuntimeError):
    """The program or a provider failed; the state keeps what was done before."""


def _provider_of(props: dict[str, Any]) -> Any:
    return dill.loads(base64.b64decode(props[_PROVIDER_KEY]))


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


class EngineMonitor(pulumi_mocks.MockMonitor):
    """The resource monitor: each registration becomes a step against the state."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(InvokeAnswers(str(engine.config.get("aws:region", "us-east-1"))))
        self.engine = engine

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        pulumi_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        resource_id, outputs = self.engine.step(urn, request, inputs)
        outputs_proto = _sync_await(rpc.serialize_properties(outputs, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=outputs_proto)


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
        self._seen: set[str] = set()
        self._pending_deletes: list[ResourceState] = []
        self._dry = False
        self._planned: dict[str, ResourceState] = {}

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

    def up(self) -> RunReport:
        """Run the program and make the emulated cloud match it, as `pulumi up` does."""
        return self._run(preview=False)

    def preview(self) -> RunReport:
        """Run the program and say what `up` would do, changing nothing, as `pulumi preview`.

        Providers are asked only what they may be asked in a preview (check, diff, the
        read of an import); outputs of resources to be created or changed stay unknown.
        """
        return self._run(preview=True)

    def _run(self, preview: bool) -> RunReport:
        self._begin(preview)
        main = self.project_dir / "__main__.py"
        if str(self.project_dir) not in sys.path:
            sys.path.insert(0, str(self.project_dir))
        monitor = EngineMonitor(self)
        # A new root stack for every run: exports must not carry over from another run.
        ROOT.set(None)
        pulumi.runtime.set_mocks(
            monitor.mocks,
            project=self.project,
            stack=self.stack,
            preview=preview,
            monitor=monitor,
        )
        pulumi.runtime.set_all_config(self._config_strings())
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
        try:

            def program() -> None:
                runpy.run_path(str(main), run_name="__main__")

            _sync_await(run_pulumi_func(program))
            # set_mocks made the root stack; `pulumi.export` put the outputs on it.
            root = get_root_resource()
            exported = getattr(root, "outputs", {})
            resolved: Any = _sync_await(pulumi.Output.from_input(exported).future())
            self.stack_outputs = dict(resolved or {})
        except Exception as exc:
            command = "preview" if preview else "up"
            raise DeploymentFailed(f"pulumi {command} failed: {exc}") from exc
        removed = [s for urn, s in self.state.items() if urn not in self._seen]
        self._delete_all([*self._pending_deletes, *removed])
        if preview:
            self.stack_outputs = {}
        self._report.outputs = dict(self.stack_outputs)
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

    # --- steps -------------------------------------------------------------------------

    def step(self, urn: str, request: Any, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create, update, replace or keep one resource; return its id and outputs."""
        with self._lock:
            self._seen.add(urn)
            old = self.state.get(urn)
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
            )
            # A preview plans into a scratch copy; the stack's state stays as it was.
            target = self._planned if self._dry else self.state
            if not new.custom:
                target[urn] = new
                return "", {}
            if old is None and request.importId:
                new.id, new.outputs = self._import(
                    new, request.importId, set(request.ignoreChanges)
                )
                self._report.record("imported", new.name)
            elif old is None:
                new.id, new.outputs = self._planned_outputs(new) if self._dry else self._create(new)
                self._report.record("created", new.name)
            else:
                changes, replaces = self._diff(old, new, set(request.ignoreChanges))
                if not changes:
                    new.id, new.outputs, new.inputs = old.id, old.outputs, old.inputs
                    self._report.record("unchanged", new.name)
                elif replaces:
                    new.id, new.outputs = (
                        self._planned_outputs(new) if self._dry else self._create(new)
                    )
                    self._pending_deletes.append(old)
                    self._report.record("replaced", new.name)
                else:
                    new.id = old.id
                    new.outputs = (
                        self._planned_outputs(new)[1] if self._dry else self._update(old, new)
                    )
                    self._report.record("updated", new.name)
            target[urn] = new
            return new.id, new.outputs

    @staticmethod
    def _planned_outputs(new: ResourceState) -> tuple[str, dict[str, Any]]:
        """What a preview knows of a resource to be created or changed: its inputs.

        An output the inputs hold as null (the puller role's ARN) stays unknown, as it
        does in a real preview of a provider that cannot preview.
        """
        return "", dict(new.inputs)

    def _diff(self, old: ResourceState, new: ResourceState, ignore: set[str]) -> tuple[bool, bool]:
        if new.type.startswith(_DYNAMIC):
            provider = _provider_of(new.inputs)
            new.inputs = provider.check(old.inputs, new.inputs).inputs or new.inputs
            result = provider.diff(old.id, old.outputs, new.inputs)
            return bool(result.changes), bool(result.replaces)
        changed = _changed_keys(old.inputs, new.inputs, ignore)
        replace_keys = PROVIDERS[new.type].replace_keys
        return bool(changed), any(k in replace_keys for k in changed)

    def _import(self, new: ResourceState, id_: str, ignore: set[str]) -> tuple[str, dict[str, Any]]:
        """Adopt a live resource; as Pulumi does, refuse when the program disagrees with it."""
        live_inputs, outputs = PROVIDERS[new.type].read(id_, new.inputs["region"])
        differ = _changed_keys(live_inputs, new.inputs, ignore)
        if differ:
            raise RuntimeError(
                f"inputs to import do not match the existing resource {id_}: "
                + ", ".join(
                    f"{k} is {live_inputs.get(k)!r}, not {new.inputs.get(k)!r}" for k in differ
                )
            )
        return id_, outputs

    def _create(self, new: ResourceState) -> tuple[str, dict[str, Any]]:
        if new.type.startswith(_DYNAMIC):
            provider = _provider_of(new.inputs)
            result = provider.create(new.inputs)
            return str(result.id), {**(result.outs or {}), _PROVIDER_KEY: new.inputs[_PROVIDER_KEY]}
        return PROVIDERS[new.type].create(new.inputs)

    def _update(self, old: ResourceState, new: ResourceState) -> dict[str, Any]:
        if new.type.startswith(_DYNAMIC):
            result = _provider_of(new.inputs).update(old.id, old.outputs, new.inputs)
            return {**(result.outs or {}), _PROVIDER_KEY: new.inputs[_PROVIDER_KEY]}
        return PROVIDERS[new.type].update(old.id, old.outputs, new.inputs)

    def _delete_all(self, doomed: list[ResourceState]) -> None:
        """Delete each resource only once nothing else being deleted depends on it."""
        for resource in delete_order(doomed, list(self.state)):
            if self._dry:
                kind = "retained" if resource.retain_on_delete else "deleted"
                if resource.custom:
                    self._report.record(kind, resource.name)
                continue
            if resource.custom and not resource.retain_on_delete:
                if resource.type.startswith(_DYNAMIC):
                    # The *stored* provider runs the delete, as the engine does.
                    _provider_of(resource.outputs).delete(resource.id, resource.outputs)
                else:
                    PROVIDERS[resource.type].delete(resource.id, resource.outputs)
                self._report.record("deleted", resource.name)
            elif resource.custom:
                self._report.record("retained", resource.name)
            # A replaced resource's old copy leaves no trace: its URN now holds the new one.
            if self.state.get(resource.urn) is resource:
                del self.state[resource.urn]
