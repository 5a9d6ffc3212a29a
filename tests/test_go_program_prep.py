"""Getting the Go example's modules before the real-engine tests (realengine/goprogram.py):
what it runs, where, and that the checkout's example is left as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from realengine import goprogram
from realengine.build import BuildError
from realengine.versions import PINNED_VERSION


def test_the_example_requires_the_sdk_the_cli_is_built_from():
    go_mod = (goprogram.EXAMPLE / "go.mod").read_text()
    assert re.search(rf"^require github.com/pulumi/pulumi/sdk/v3 v{PINNED_VERSION}$", go_mod, re.M)
    # The generated SDK's module comes from `pulumi package add`, not from the checkout.
    assert "pulumi-lightsail-ecr" not in go_mod
    go_sum = (goprogram.EXAMPLE / "go.sum").read_text()
    assert f"github.com/pulumi/pulumi/sdk/v3 v{PINNED_VERSION} h1:" in go_sum


def test_it_downloads_the_examples_modules_then_compiles_the_sdk_in_a_copy(tmp_path, monkeypatch):
    example = tmp_path / "example"
    example.mkdir()
    (example / "go.mod").write_text("module example.com/x\n")
    (example / "go.sum").write_text("")
    (example / "main.go").write_text("package main\n")
    monkeypatch.setattr(goprogram, "find_go", lambda: Path("/usr/bin/go"))
    steps: list[tuple[list[str], list[str]]] = []

    def run_step(what, argv, progress, cwd):
        steps.append((list(argv), sorted(p.name for p in cwd.iterdir())))
        assert cwd != example

    monkeypatch.setattr(goprogram, "_run_step", run_step)
    goprogram.prepare_go_program(lambda line: None, example=example)

    assert steps == [
        (["/usr/bin/go", "mod", "download", "all"], ["go.mod", "go.sum"]),
        (["/usr/bin/go", "build", *goprogram.SDK_PACKAGES], ["go.mod", "go.sum"]),
    ]
    assert sorted(p.name for p in example.iterdir()) == ["go.mod", "go.sum", "main.go"]


def test_without_go_it_says_go_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BuildError, match="no `go` on PATH"):
        goprogram.prepare_go_program(lambda line: None)
