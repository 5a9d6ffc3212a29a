"""The README is what a newcomer reads first: short, its two commands the ones CI runs,
and every page it sends them to exists (and every page under docs/ is reachable from it).
The modules the pages tell a user to run with `python -m` exist."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

from tests import readme_commands
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PROJECT_PACKAGES = {"components", "lightsail_ecr_access", "realengine", "emulation"}


def test_the_readme_stays_short() -> None:
    # Ten minutes of reading; the rest belongs in docs/.
    assert len(README.read_text().splitlines()) <= 150


def test_the_readmes_second_command_is_what_ci_runs() -> None:
    setup, tests = readme_commands.commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    # CI runs the README's command word for word, whole, so that any failure in it fails
    # CI (under `set -e` a failing first link of an `&&` chain would not).
    assert "'" not in tests
    assert f"bash -c '{tests}'" in ci
    assert [line for line in ci if "tests/run" in line and not line.startswith("#")] == [
        f"bash -c '{tests}'"
    ]
    printed = subprocess.run(
        [sys.executable, "tests/readme_commands.py", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert printed == tests
    assert tests.endswith("bash tests/run")
    assert setup.endswith(".venv/bin/python -m realengine.demo")
    # Both make the same environment the project's Pulumi.yaml runs the program in.
    assert setup.split(" && ")[:2] == tests.split(" && ")[:2]


def test_every_page_the_readme_links_exists_and_every_page_is_linked() -> None:
    readme = README.read_text()
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)\)", readme))
    pages = {str(p.relative_to(ROOT)) for p in DOCS.glob("*.md")}
    assert linked - pages == set(), "the README links pages that do not exist"
    assert pages - linked == set(), "a page under docs/ that the README does not lead to"


def test_links_between_pages_lead_somewhere() -> None:
    broken = [
        f"{page.name} -> {target}"
        for page in DOCS.glob("*.md")
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text())
        if not (page.parent / target).resolve().is_file()
    ]
    assert broken == []


def test_every_module_the_pages_say_to_run_exists() -> None:
    texts = [README.read_text()] + [p.read_text() for p in DOCS.glob("*.md")]
    modules = {m for text in texts for m in re.findall(r"python -m ([a-z_][a-z_.]*[a-z_])", text)}
    # Run from a checkout: the package's import name is the installed one.
    # Only this project's own modules (a container's `python -m app` is the user's).
    ours = {m for m in modules if m.split(".")[0] in PROJECT_PACKAGES}
    assert {"components.doctor", "realengine.demo", "realengine.benchmark"} <= ours
    missing = [
        m
        for m in sorted(ours)
        if importlib.util.find_spec(m.replace("lightsail_ecr_access", "components", 1)) is None
    ]
    assert missing == []
