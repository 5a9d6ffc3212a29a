"""The TypeScript example's npm packages: which ones the lock file has fetched, where they
are cached, and that `python -m realengine.cli` still prints the CLI's path when they
cannot be had (only the TypeScript test needs them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realengine import cli
from realengine.nodeprogram import (
    LOCK_FILE,
    NodePrepError,
    cache_dir,
    locked_packages,
    offline_npm_env,
    prepare_node_program,
)

LOCK = {
    "lockfileVersion": 3,
    "packages": {
        "": {"name": "consumer", "dependencies": {"@pulumi/pulumi": "3.248.0"}},
        "node_modules/@pulumi/pulumi": {"version": "3.248.0"},
        "node_modules/semver": {"version": "7.7.2"},
        "node_modules/@pulumi/lightsail-ecr": {"resolved": "sdks/lightsail-ecr", "link": True},
        "sdks/lightsail-ecr": {"name": "@pulumi/lightsail-ecr", "version": "0.2.0"},
        "sdks/lightsail-ecr/node_modules/@pulumi/pulumi": {"version": "3.276.0"},
        "node_modules/a/node_modules/semver": {"version": "6.3.1"},
        "node_modules/strip": {"name": "strip-ansi", "version": "6.0.1"},
    },
}


def test_every_fetched_package_of_the_lock_file_once_by_name_and_version() -> None:
    assert locked_packages(LOCK) == [
        "@pulumi/pulumi@3.248.0",
        "@pulumi/pulumi@3.276.0",  # the generated SDK's own, nested under sdks/
        "semver@6.3.1",
        "semver@7.7.2",
        "strip-ansi@6.0.1",  # an alias is fetched by its real name
    ]


def test_a_lock_file_without_packages_is_refused() -> None:
    with pytest.raises(NodePrepError, match="no `packages`"):
        locked_packages({"lockfileVersion": 1, "dependencies": {}})


def test_the_examples_lock_file_pins_the_node_20_sdk() -> None:
    specs = locked_packages(json.loads(LOCK_FILE.read_text()))
    assert "@pulumi/pulumi@3.248.0" in specs
    assert any(s.startswith("typescript@5.") for s in specs)


def test_the_cache_is_named_by_the_lock_files_content(tmp_path: Path) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps(LOCK))
    first = cache_dir(lock, tmp_path)
    assert first.parent == tmp_path and first.name.startswith("npm-")
    lock.write_text(json.dumps({**LOCK, "name": "changed"}))
    assert cache_dir(lock, tmp_path) != first


def test_a_complete_cache_is_used_without_npm(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps(LOCK))
    done = cache_dir(lock, tmp_path)
    done.mkdir()
    (done / "complete").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    lines: list[str] = []
    assert prepare_node_program(lines.append, lock, tmp_path) == done
    assert lines == []


def test_without_npm_the_error_says_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps(LOCK))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(NodePrepError, match="no `npm` on PATH"):
        prepare_node_program(lambda line: None, lock, tmp_path)
    assert list(tmp_path.iterdir()) == [lock]


def test_a_failed_fetch_names_the_packages_and_leaves_no_cache(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps(LOCK))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code ENOTFOUND' >&2\nexit 1\n")
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(NodePrepError, match="ENOTFOUND") as failed:
        prepare_node_program(lambda line: None, lock, tmp_path)
    assert "@pulumi/pulumi@3.248.0" in str(failed.value)
    assert not cache_dir(lock, tmp_path).exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["bin"]


def test_the_offline_environment_never_reaches_the_registry(tmp_path: Path) -> None:
    env = offline_npm_env(tmp_path)
    assert env["npm_config_offline"] == "true"
    assert env["npm_config_cache"] == str(tmp_path)


def test_the_cli_path_is_printed_even_when_the_examples_packages_cannot_be_had(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Neither example's packages stop the CLI's path being printed (the rest of the
    real-engine suite needs only the CLI); each failure is named on stderr."""
    from realengine.build import BuildError

    monkeypatch.setattr(cli, "ensure_cli", lambda: tmp_path)

    def offline(progress):
        raise NodePrepError("`npm cache add` failed (exit 1)")

    def no_proxy(progress):
        raise BuildError("`go mod download` failed (exit 1)")

    monkeypatch.setattr(cli, "prepare_node_program", offline)
    monkeypatch.setattr(cli, "prepare_go_program", no_proxy)
    assert cli.main() == 0
    out, err = capsys.readouterr()
    assert out == f"{tmp_path}\n"
    assert "npm packages could not be had: `npm cache add` failed" in err
    assert "Go example's modules could not be had: `go mod download` failed" in err


def test_no_cli_is_exit_1_and_prints_no_path(tmp_path: Path, monkeypatch, capsys) -> None:
    from realengine.build import BuildError

    def no_go(progress=None):
        raise BuildError("go 1.22 or newer is needed to build the CLI; none is on PATH")

    monkeypatch.setattr(cli, "ensure_cli", no_go)
    assert cli.main() == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "go 1.22 or newer is needed" in err
