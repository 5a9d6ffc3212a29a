"""The emulated engine held to the real one: the same scenario through both.

What is compared is what a user compares: the resources in the state (type, name,
parent, dependencies), what each run did to each resource, and the stack's outputs. The
fast suite's many small cases run on the emulated engine (`emulation/engine.py`); where
the two differ here, the emulation is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import Engine, RunReport
from realengine.runner import Run, Stack, Workspace, project_name
from tests.conftest import ROOT
from tests.real_engine.conftest import REGION, SHARED

pytestmark = pytest.mark.real_engine

SERVICE = "web"
FIRST = {"serviceName": SERVICE, "repositories": ["team/app", "team/worker"]}
# The change a user makes most: a repository off the list, one more node.
CHANGED = {**FIRST, "repositories": ["team/worker"], "scale": 2}

# Each step of the scenario: (what the user runs, the project config for it).
SCENARIO: list[tuple[str, dict[str, Any]]] = [
    ("preview", FIRST),
    ("up", FIRST),
    ("up", FIRST),
    ("preview", CHANGED),
    ("up", CHANGED),
    ("destroy", CHANGED),
]
# The real engine's step operations, in the emulated engine's words.
_KINDS = {
    "create": "created",
    "same": "unchanged",
    "update": "updated",
    "replace": "replaced",
    "import": "imported",
    "delete": "deleted",
}
# Parts of an output that differ from run to run (the puller role's random suffix).
_RANDOM = re.compile(r"private-repo-access/[0-9a-f]+")


@dataclass
class Observed:
    """What a user sees of one step: what happened to each custom resource, by name,
    and afterwards the state's resources and the stack's outputs."""

    steps: dict[str, str]
    resources: list[tuple[str, str, str, tuple[str, ...]]]
    outputs: dict[str, Any]


def _name(urn: str) -> str:
    return urn.split("::")[-1] if urn else ""


def _resources(states: list[dict[str, Any]]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(type, name, parent's name, dependencies' names) of every resource a program
    declared; the stack and the engine's default providers are the engine's own."""
    return sorted(
        (
            s["type"],
            _name(s["urn"]),
            _name(s.get("parent") or ""),
            tuple(sorted(_name(d) for d in s.get("dependencies") or [])),
        )
        for s in states
        if s["type"] != "pulumi:pulumi:Stack" and not s["type"].startswith("pulumi:providers:")
    )


def _normalised(outputs: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(_RANDOM.sub("private-repo-access/X", json.dumps(outputs))))


# --- the emulated engine -----------------------------------------------------------------


def _emulated_step(report: RunReport) -> dict[str, str]:
    return {name: kind for kind, name in report.sequence}


def run_emulated() -> list[Observed]:
    seen = []
    with EmulatedAws(region=REGION, arn_after_polls=2) as aws:
        aws.create_repository("team/app", SHARED)
        aws.create_repository("team/worker")
        engine = Engine(ROOT, "web", {"config": {"aws:region": REGION}})
        for command, config in SCENARIO:
            engine.set_config(
                {
                    "config": {
                        "aws:region": REGION,
                        **{f"{project_name()}:{k}": v for k, v in config.items()},
                    }
                }
            )
            report = getattr(engine, command)()
            states = [vars(s) for s in engine.state.values()]
            seen.append(Observed(_emulated_step(report), _resources(states), engine.stack_outputs))
    return seen


# --- the real engine ---------------------------------------------------------------------


def _events(run: Run) -> Iterator[dict[str, Any]]:
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def _real_steps(run: Run, preview: bool) -> dict[str, str]:
    """Each custom resource's step, from `preview --json` (one document) or `up --json`
    (a stream of engine events)."""
    if preview:
        steps = json.loads(run.stdout)["steps"]
        metadata = [
            s for s in steps if (s.get("newState") or s.get("oldState") or {}).get("custom")
        ]
    else:
        metadata = [
            e["resourcePreEvent"]["metadata"] for e in _events(run) if "resourcePreEvent" in e
        ]
        # An event's state has no `custom`; a custom resource is the one with a provider.
        metadata = [m for m in metadata if (m.get("new") or m.get("old") or {}).get("provider")]
    found = {}
    for step in metadata:
        old = step.get("old") or step.get("oldState") or {}
        kind = _KINDS.get(step["op"])
        if kind is None or step["urn"].split("::")[-2].startswith("pulumi:providers:"):
            continue
        if kind == "deleted" and old.get("retainOnDelete"):
            kind = "retained"
        found[_name(step["urn"])] = kind
    return found


def run_real(stack: Stack) -> list[Observed]:
    seen = []
    commands: dict[str, Callable[[], Run]] = {
        "preview": lambda: stack.run("preview", "--json"),
        "up": lambda: stack.run("up", "--yes", "--skip-preview", "--json"),
        "destroy": lambda: stack.run("destroy", "--yes", "--skip-preview", "--json"),
    }
    for command, config in SCENARIO:
        stack.configure(config)
        steps = _real_steps(commands[command](), preview=command == "preview")
        export = stack.export()["deployment"]
        states = export.get("resources") or []
        outputs = next(
            (s.get("outputs") or {} for s in states if s["type"] == "pulumi:pulumi:Stack"), {}
        )
        seen.append(Observed(steps, _resources(states), outputs))
    return seen


def test_the_emulated_engine_does_what_the_real_one_does(workspace: Workspace) -> None:
    emulated = run_emulated()
    real = run_real(workspace.stack("web", FIRST))

    for (command, _), mine, theirs in zip(SCENARIO, emulated, real, strict=True):
        where = f"after {command}"
        if command == "preview":  # `preview --json` lists only the steps that change
            mine.steps = {k: v for k, v in mine.steps.items() if v != "unchanged"}
        assert mine.steps == theirs.steps, where
        assert mine.resources == theirs.resources, where
        assert _normalised(mine.outputs) == _normalised(theirs.outputs), where
