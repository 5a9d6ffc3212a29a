"""The layers of components/: each imports only the layers below it, and nothing cycles.

    rules      pure: policy documents, grants, inputs, references (the standard library only)
    aws        boto3: clients, identity, the puller role's waiter, the policy writes
    providers  dynamic_providers.py: the classes the state names (their path never moves);
               served_resources.py: the same resources as the package's provider serves them
    program    the Pulumi side: the provider, the program's end, the shared policy resources
    component  container_service.py, the package's public names (__init__, identity)
    provider   provider/: the package's own provider, which builds the component (Construct)
    tools      doctor/: read-only diagnosis, from the rules and AWS alone (its verdicts,
               advice and output as pure as the rules: table-tested without AWS);
               policy_pack.py: the organisation's CrossGuard policies, the same way

Read from the source (every import, also those inside functions), not by importing it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "components"

ORDER = ("rules", "aws", "providers", "program", "component", "provider")
"""Bottom to top: a layer may import its own and those before it."""

ALLOWED = {layer: set(ORDER[: i + 1]) for i, layer in enumerate(ORDER)} | {
    "tools": {"rules", "aws", "tools"},
}

ROOT_MODULES = {
    "dynamic_providers": "providers",
    "served_resources": "providers",
    "container_service": "component",
    "__init__": "component",
    "identity": "component",
    "doctor": "tools",
    "policy_pack": "tools",
}

# What the pure rules must never import, however indirectly they could be reached.
NOT_PURE = {"boto3", "botocore", "pulumi", "pulumi_aws", "pulumi_policy", "moto"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("components", *parts))


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "component"
    if len(parts) == 1 and parts[0] in ROOT_MODULES:
        return ROOT_MODULES[parts[0]]
    if parts[0] in ("rules", "aws", "program", "provider"):
        return parts[0]
    if parts[0] == "doctor":
        return "tools"
    raise AssertionError(f"{module} is in no layer: add it to tests/test_layers.py")


SOURCES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_module(name: str) -> bool:
    return name in SOURCES


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """(modules of this package, top-level names of other packages) that ``module`` imports."""
    path = SOURCES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                outside.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                outside.add((node.module or "").split(".")[0])
                continue
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            submodules = {f"{target}.{alias.name}" for alias in node.names}
            inside.update(m for m in submodules if _is_module(m))
            # `from . import a_module` uses the module, not the package's own names.
            if node.module or not all(_is_module(m) for m in submodules):
                inside.add(target)
    return inside, outside


GRAPH = {module: imports_of(module) for module in SOURCES}


def test_every_module_is_in_a_layer() -> None:
    for module in SOURCES:
        layer_of(module)


def test_every_import_inside_the_package_names_a_module_of_it() -> None:
    for module, (inside, _) in GRAPH.items():
        unknown = {target for target in inside if not _is_module(target)}
        assert not unknown, f"{module} imports {unknown}, which is not in components/"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_a_layer_imports_only_the_layers_below_it(module: str) -> None:
    layer = layer_of(module)
    inside, _ = GRAPH[module]
    wrong = {
        f"{target} ({layer_of(target)})"
        for target in inside
        if layer_of(target) not in ALLOWED[layer]
    }
    assert not wrong, f"{module} ({layer}) imports {sorted(wrong)}"


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if layer_of(m) == "rules"))
def test_the_rules_import_only_the_standard_library_and_each_other(module: str) -> None:
    _, outside = GRAPH[module]
    assert not outside & NOT_PURE, f"{module} imports {sorted(outside & NOT_PURE)}"
    foreign = outside - set(sys.stdlib_module_names) - {"__future__"}
    assert not foreign, f"{module} imports {sorted(foreign)}, which is not pure"


# The doctor's modules that judge and print what was read: pure, so that a table of
# hand-written observations tests every verdict without AWS.
PURE_DOCTOR = {
    f"components.doctor.{name}" for name in ("output", "findings", "observed", "advice", "verdicts")
}


@pytest.mark.parametrize("module", sorted(PURE_DOCTOR))
def test_the_doctors_verdicts_advice_and_output_are_pure(module: str) -> None:
    inside, outside = GRAPH[module]
    foreign = outside - set(sys.stdlib_module_names) - {"__future__"}
    assert not foreign, f"{module} imports {sorted(foreign)}, which is not pure"
    impure = {
        target for target in inside if layer_of(target) != "rules" and target not in PURE_DOCTOR
    }
    assert not impure, f"{module} imports {sorted(impure)}, which may reach AWS"


def test_the_component_never_imports_the_tests_or_the_emulation() -> None:
    for module, (_, outside) in GRAPH.items():
        assert not outside & {"tests", "emulation", "components", "lightsail_ecr_access"}, module


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = (*path[path.index(module) :], module)
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(GRAPH[module][0]):
            visit(target, (*path, module))
        done.add(module)

    for module in sorted(SOURCES):
        visit(module, ())
