"""The emulated engine held to the real one: the same scenarios through both.

What is compared is what a user compares: the resources in the state (type, name,
parent, dependencies), what each run did to each resource, the stack's outputs, and the
diagnostics shown on each resource (warnings, and the infos of this program's providers).
The fast suite's many small cases run on the emulated engine (`emulation/engine.py`);
where the two differ here, the emulation is wrong.

Each scenario is a list of steps: something done to AWS outside Pulumi first (another
team's writer, a fault), then the config the user sets, then the command. The same
action is done to the in-process emulated AWS (`emulation.cloud`) for the emulated engine
and to the emulated AWS server (`realengine.aws_server`) for the real CLI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from emulation.cloud import EmulatedAws
from emulation.engine import Engine, RunReport
from realengine.runner import Run, Stack, project_name
from tests.conftest import ROOT
from tests.real_engine.conftest import (
    ACCOUNT,
    OTHER_TEAMS,
    REGION,
    SHARED,
    seeded_aws,
    workspace_for,
)

pytestmark = pytest.mark.real_engine

SERVICE = "web"
STACK = "lightsail-ecr-access-web"  # the stack's name: where a message of no resource shows
FIRST = {"serviceName": SERVICE, "repositories": ["team/app", "team/worker"]}
# The change a user makes most: a repository off the list, one more node.
CHANGED = {**FIRST, "repositories": ["team/worker"], "scale": 2}
# A service made by hand, adopted: power, scale and tags as the stack says.
TAGS = {"team": "orders"}
ADOPTING = {**FIRST, "adoptExistingService": True, "power": "micro", "scale": 2, "tags": TAGS}
# A statement under our Sid that is not our grant (left by an older role): replaced, warned.
STALE = {
    "Sid": f"AllowLightsailPull-{SERVICE}",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/left-over"},
    "Action": ["ecr:BatchGetImage"],
}

Cloud = Any
"""`emulation.cloud.EmulatedAws` or `realengine.aws_server.EmulatedAwsServer`: what a
step does to AWS is written once, with what both offer."""


def stale_statement(aws: Cloud) -> None:
    aws.set_policy("team/app", {**SHARED, "Statement": [*OTHER_TEAMS, STALE]})


def stale_statement_and_no_lightsail_reads(aws: Cloud) -> None:
    """The stale statement back, and lightsail:GetContainerServices denied: the puller
    role's drift check cannot look and says so."""
    stale_statement(aws)
    aws.fail("lightsail", "GetContainerServices", "AccessDeniedException")


def faults_cleared(aws: Cloud) -> None:
    aws.clear_faults()


def existing_service(aws: Cloud) -> None:
    if isinstance(aws, EmulatedAws):
        aws.lightsail.add_existing_service(SERVICE, REGION, power="micro", scale=2, tags=TAGS)
    else:
        aws.add_existing_service(SERVICE, power="micro", scale=2, tags=TAGS)


@dataclass(frozen=True)
class Step:
    """What the user runs (``preview``, ``up``, ``destroy``) with the project config,
    after ``before`` was done to AWS."""

    command: str
    config: dict[str, Any]
    before: Callable[[Cloud], None] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]
    seed: Callable[[Cloud], None] | None = None
    """Done to AWS before the stack exists (after the repositories are made)."""
    warns: set[str] = field(default_factory=set)
    """Resources the scenario must see warned about, by both engines: a scenario meant
    to compare warnings that warned of nothing would compare nothing."""
    does: set[str] = field(default_factory=set)
    """Step kinds (``imported``, ``deleted``...) the scenario must see done: an adoption
    that adopted nothing would compare two creates."""


SCENARIOS = [
    Scenario(
        "lifecycle",
        [
            Step("preview", FIRST),
            Step("up", FIRST),
            Step("up", FIRST),
            Step("preview", CHANGED),
            Step("up", CHANGED),
            Step("destroy", CHANGED),
        ],
        does={"created", "updated", "deleted"},
    ),
    Scenario(
        "warnings",
        [
            Step("preview", FIRST),
            Step("up", FIRST),
            Step("preview", FIRST, before=stale_statement_and_no_lightsail_reads),
            Step("up", FIRST, before=faults_cleared),
            Step("destroy", FIRST),
        ],
        seed=stale_statement,
        warns={f"{SERVICE}-policy-team/app", f"{SERVICE}-puller-role"},
    ),
    Scenario(
        "adoption, pull access off and on",
        [
            Step("preview", ADOPTING),
            Step("up", ADOPTING),
            Step("up", {**ADOPTING, "privateRegistryAccess": False}),
            Step("up", {**ADOPTING, "privateRegistryAccess": True}),
            Step("destroy", ADOPTING),
        ],
        seed=existing_service,
        does={"imported", "updated", "deleted"},
    ),
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
    diagnostics: dict[str, list[str]]
    """Each resource's diagnostics by name (the stack's name for a message of no
    resource), as ``severity: message``, normalised and sorted: the order they arrive in
    is the threads', not the engine's."""


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


# What a user sees under `Diagnostics:` without `--debug`. ("info#err", a plugin's stderr,
# is left out: the emulated engine runs no plugin processes. A warning sent there
# instead of to its resource still shows here, as a warning missing on the real side.)
_SHOWN = ("warning", "info", "error")


def _diagnostics(found: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """(severity, resource name, message) triples as `Observed.diagnostics`."""
    by_name: dict[str, list[str]] = {}
    for severity, name, message in found:
        if severity in _SHOWN:
            text = _RANDOM.sub("private-repo-access/X", message.strip())
            by_name.setdefault(name or STACK, []).append(f"{severity}: {text}")
    return {name: sorted(messages) for name, messages in by_name.items()}


def _warned(seen: Observed, name: str) -> bool:
    return any(d.startswith("warning: ") for d in seen.diagnostics.get(name, []))


# --- the emulated engine -----------------------------------------------------------------


def _emulated_step(report: RunReport) -> dict[str, str]:
    return {name: kind for kind, name in report.sequence}


def run_emulated(scenario: Scenario) -> list[Observed]:
    seen = []
    with EmulatedAws(region=REGION, arn_after_polls=2) as aws:
        aws.create_repository("team/app", SHARED)
        aws.create_repository("team/worker")
        if scenario.seed:
            scenario.seed(aws)
        engine = Engine(ROOT, "web", {"config": {"aws:region": REGION}})
        for step in scenario.steps:
            if step.before:
                step.before(aws)
            engine.set_config(
                {
                    "config": {
                        "aws:region": REGION,
                        **{f"{project_name()}:{k}": v for k, v in step.config.items()},
                    }
                }
            )
            report = getattr(engine, step.command)()
            states = [vars(s) for s in engine.state.values()]
            said = _diagnostics([(d.severity, d.resource, d.message) for d in report.diagnostics])
            seen.append(
                Observed(_emulated_step(report), _resources(states), engine.stack_outputs, said)
            )
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


def _real_diagnostics(run: Run, preview: bool) -> dict[str, list[str]]:
    """Each resource's diagnostics, from `preview --json` (its ``diagnostics``) or
    `up --json` (its ``diagnosticEvent``s): what the CLI shows under ``Diagnostics:``."""
    if preview:
        diagnostics = json.loads(run.stdout).get("diagnostics") or []
    else:
        diagnostics = [e["diagnosticEvent"] for e in _events(run) if "diagnosticEvent" in e]
    # `preview --json` puts the "warning: " prefix in the message, `up --json` beside it.
    return _diagnostics(
        [
            (
                d["severity"],
                _name(d.get("urn") or ""),
                d["message"].removeprefix(f"{d['severity']}: "),
            )
            for d in diagnostics
        ]
    )


def run_real(stack: Stack, aws: Any, scenario: Scenario) -> list[Observed]:
    seen = []
    commands: dict[str, Callable[[], Run]] = {
        "preview": lambda: stack.run("preview", "--json"),
        "up": lambda: stack.run("up", "--yes", "--skip-preview", "--json"),
        "destroy": lambda: stack.run("destroy", "--yes", "--skip-preview", "--json"),
    }
    for step in scenario.steps:
        if step.before:
            step.before(aws)
        stack.configure(step.config)
        run = commands[step.command]()
        steps = _real_steps(run, preview=step.command == "preview")
        said = _real_diagnostics(run, preview=step.command == "preview")
        export = stack.export()["deployment"]
        states = export.get("resources") or []
        outputs = next(
            (s.get("outputs") or {} for s in states if s["type"] == "pulumi:pulumi:Stack"), {}
        )
        seen.append(Observed(steps, _resources(states), outputs, said))
    return seen


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_emulated_engine_does_what_the_real_one_does(
    scenario: Scenario, tmp_path: Path, pulumi_cli_dir: Path, aws_plugin: Path
) -> None:
    emulated = run_emulated(scenario)
    with seeded_aws() as aws:
        if scenario.seed:
            scenario.seed(aws)
        workspace = workspace_for(tmp_path, pulumi_cli_dir, aws_plugin, aws)
        real = run_real(workspace.stack("web", scenario.steps[0].config), aws, scenario)

    for i, (step, mine, theirs) in enumerate(zip(scenario.steps, emulated, real, strict=True)):
        where = f"step {i + 1}, {step.command}"
        if step.command == "preview":  # `preview --json` lists only the steps that change
            mine.steps = {k: v for k, v in mine.steps.items() if v != "unchanged"}
        assert mine.steps == theirs.steps, where
        assert mine.resources == theirs.resources, where
        assert _normalised(mine.outputs) == _normalised(theirs.outputs), where
        assert mine.diagnostics == theirs.diagnostics, where
    for name in scenario.warns:
        assert any(_warned(seen, name) for seen in real), f"nothing warned on {name}"
    done = {kind for seen in real for kind in seen.steps.values()}
    assert scenario.does <= done, f"{scenario.does - done} never happened: {done}"
