"""`realengine`: finding or building the real Pulumi CLI directory (fast: no Go, no network).

Fake `pulumi` executables are shell scripts that print a version.
"""

from __future__ import annotations

import os
from collections import namedtuple
from pathlib import Path

import pytest

from realengine import build, cli
from realengine.build import BuildError
from realengine.versions import (
    LANGUAGE_HOSTS,
    PINNED_VERSION,
    find_usable_cli,
    is_at_least,
    parse_version,
)


def _script(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _fake_pulumi(directory: Path, version: str) -> Path:
    return _script(directory, "pulumi", f"echo v{version}")


# --- versions --------------------------------------------------------------------------


def test_parse_version_reads_the_cli_output():
    assert parse_version("v3.276.0") == (3, 276, 0, True)
    assert parse_version("3.280.12\n") == (3, 280, 12, True)
    assert parse_version("v3.276.0-alpha.17+dirty") == (3, 276, 0, False)


def test_parse_version_refuses_text_without_a_version():
    with pytest.raises(ValueError, match="no version number"):
        parse_version("command not found")


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ("v3.276.0", True),
        ("v3.276.1", True),
        ("v3.300.0", True),
        ("v4.0.0", True),
        ("v3.275.9", False),
        ("v3.99.0", False),  # numeric, not string, comparison
        ("v3.276.0-alpha.1", False),  # a pre-release comes before its release
    ],
)
def test_is_at_least_compares_against_the_pin(found, expected):
    assert is_at_least(found, "3.276.0") is expected


def test_the_pin_matches_the_go_module():
    go_mod = (build.GOBUILD_DIR / "go.mod").read_text()
    assert f"github.com/pulumi/pulumi/pkg/v3 v{PINNED_VERSION}" in go_mod
    assert f"github.com/pulumi/pulumi/sdk/v3 v{PINNED_VERSION}" in go_mod


def test_the_yaml_host_version_is_read_from_its_module():
    assert build.yaml_host_version() == "v1.30.0"
    # The YAML host is a module of its own: the CLI's module must not pull pulumi-yaml in
    # (it would not compile there, see gobuild/yamlhost/tools.go).
    assert "pulumi-yaml" not in (build.GOBUILD_DIR / "go.mod").read_text()


def test_a_yamlhost_module_without_pulumi_yaml_is_named(tmp_path):
    (tmp_path / "go.mod").write_text("module m\n\ngo 1.26.6\n")
    with pytest.raises(
        BuildError, match=r"go\.mod does not require github\.com/pulumi/pulumi-yaml"
    ):
        build.yaml_host_version(tmp_path)


# --- a CLI already on PATH ------------------------------------------------------------


def _hosts(directory: Path, *names: str) -> None:
    for name in names or LANGUAGE_HOSTS:
        _script(directory, name, "exit 0")


def test_a_new_enough_pulumi_with_the_hosts_beside_it_is_used(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_pulumi(bin_dir, "3.280.0")
    _hosts(bin_dir)
    assert find_usable_cli(str(bin_dir)) == bin_dir


def test_the_hosts_may_be_elsewhere_on_path(tmp_path):
    cli_dir, python_dir, yaml_dir = tmp_path / "cli", tmp_path / "python", tmp_path / "yaml"
    node_dir, go_dir = tmp_path / "node", tmp_path / "go"
    _fake_pulumi(cli_dir, PINNED_VERSION)
    _hosts(python_dir, "pulumi-language-python")
    _hosts(yaml_dir, "pulumi-language-yaml")
    _hosts(node_dir, "pulumi-language-nodejs")
    _hosts(go_dir, "pulumi-language-go")
    search = os.pathsep.join(
        [str(cli_dir), str(python_dir), str(yaml_dir), str(node_dir), str(go_dir)]
    )
    assert find_usable_cli(search) == cli_dir


def test_an_old_pulumi_is_refused(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_pulumi(bin_dir, "3.200.0")
    _hosts(bin_dir)
    assert find_usable_cli(str(bin_dir)) is None


@pytest.mark.parametrize("missing", LANGUAGE_HOSTS)
def test_a_pulumi_without_one_of_the_hosts_is_refused(tmp_path, missing):
    bin_dir = tmp_path / "bin"
    _fake_pulumi(bin_dir, "3.280.0")
    _hosts(bin_dir, *(name for name in LANGUAGE_HOSTS if name != missing))
    assert find_usable_cli(str(bin_dir)) is None


def test_a_host_that_is_not_executable_does_not_count(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_pulumi(bin_dir, "3.280.0")
    _hosts(bin_dir)
    (bin_dir / "pulumi-language-yaml").chmod(0o644)
    assert find_usable_cli(str(bin_dir)) is None


def test_a_pulumi_that_fails_is_refused(tmp_path):
    bin_dir = tmp_path / "bin"
    _script(bin_dir, "pulumi", "echo v3.280.0; exit 3")
    _hosts(bin_dir)
    assert find_usable_cli(str(bin_dir)) is None


# --- errors before a build --------------------------------------------------------------


def test_no_go_on_path_names_the_go_version_needed(tmp_path):
    wanted = build.required_go_version()
    with pytest.raises(BuildError) as caught:
        build.find_go(path=str(tmp_path))
    message = str(caught.value)
    assert "no `go` on PATH" in message
    assert f"Go >= {wanted}" in message
    assert wanted == "1.26.6"


def test_a_go_too_old_is_named(tmp_path):
    _script(tmp_path, "go", 'echo "go1.21.0"')
    with pytest.raises(BuildError, match=r"is go1\.21\.0: building the Pulumi CLI needs Go >= "):
        build.find_go(path=str(tmp_path))


def test_ensure_cli_without_go_or_cache_raises_the_go_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("LSEA_CLI_CACHE", str(tmp_path / "cache"))
    with pytest.raises(BuildError, match="no `go` on PATH"):
        cli.ensure_cli(progress=lambda line: None)
    assert not (tmp_path / "cache").exists()


def test_low_disk_is_refused_with_the_sizes(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(build.shutil, "disk_usage", lambda path: usage(10, 9, 1024**3))
    go_env = {"GOMODCACHE": str(tmp_path / "mod"), "GOCACHE": str(tmp_path / "gocache")}
    needs = build.disk_needs(go_env, tmp_path / "cli-cache")
    # All four live on one filesystem here: their needs add up.
    assert [need for _, need in needs] == [
        build.NEED_MODULES + build.NEED_YAML_MODULES + build.NEED_BUILD_CACHE + build.NEED_OUTPUT
    ]
    with pytest.raises(BuildError) as caught:
        build.check_disk(needs)
    message = str(caught.value)
    assert "too little free disk" in message
    assert "1.0 GiB free" in message
    assert str(tmp_path / "mod") in message
    assert "GOMODCACHE, GOCACHE or LSEA_CLI_CACHE" in message


def test_modules_already_downloaded_need_no_room(tmp_path):
    modcache = tmp_path / "mod"
    (modcache / "github.com/pulumi/pulumi/pkg" / f"v3@v{PINNED_VERSION}").mkdir(parents=True)
    go_env = {"GOMODCACHE": str(modcache), "GOCACHE": str(tmp_path / "gocache")}
    cache_only = build.NEED_BUILD_CACHE + build.NEED_OUTPUT
    # The CLI's modules are there from an earlier build; the YAML host's are not yet.
    needs = build.disk_needs(go_env, tmp_path / "cli-cache")
    assert [need for _, need in needs] == [build.NEED_YAML_MODULES + cache_only]
    (modcache / "github.com/pulumi" / f"pulumi-yaml@{build.yaml_host_version()}").mkdir()
    needs = build.disk_needs(go_env, tmp_path / "cli-cache")
    assert [need for _, need in needs] == [cache_only]


def test_enough_disk_passes(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(build.shutil, "disk_usage", lambda path: usage(10, 9, 100 * 1024**3))
    build.check_disk([(tmp_path, 6 * 1024**3)])


def test_a_proxy_refusal_says_what_goproxy_must_reach():
    text = (
        "go: example.com/m@v1.0.0: reading https://proxy.example/m/@v/v1.0.0.info: "
        "403 Forbidden\n\tserver response: This module version is not available."
    )
    message = build._explain_failure("downloading the Go modules", ["go", "list"], 1, text)
    assert "403 Forbidden" in message
    assert "GOPROXY must reach the Go module proxy" in message
    compile_error = build._explain_failure("building", ["go", "build"], 1, "main.go:1: syntax")
    assert "GOPROXY" not in compile_error


# --- the cache ------------------------------------------------------------------------


def test_the_cache_key_follows_every_gobuild_file(tmp_path):
    gobuild = tmp_path / "gobuild"
    (gobuild / "cmd" / "host").mkdir(parents=True)
    (gobuild / "go.mod").write_text("module m\n")
    (gobuild / "cmd" / "host" / "main.go").write_text("package main\n")
    first = build.cache_key(gobuild)
    assert first == build.cache_key(gobuild)
    assert first.startswith(f"v{PINNED_VERSION}-")

    (gobuild / "cmd" / "host" / "main.go").write_text("package main // changed\n")
    second = build.cache_key(gobuild)
    assert second != first

    (gobuild / "cmd" / "host" / "extra.go").write_text("package main\n")
    assert build.cache_key(gobuild) not in (first, second)


def test_the_cache_root_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("LSEA_CLI_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert build.default_cache_root() == (
        tmp_path / "lightsail-ecr-access" / f"pulumi-v{PINNED_VERSION}"
    )
    monkeypatch.setenv("LSEA_CLI_CACHE", str(tmp_path / "mine"))
    assert build.default_cache_root() == tmp_path / "mine"


def _prepared(directory: Path, version: str) -> Path:
    _fake_pulumi(directory, version)
    for name in build.EXECUTABLES[1:]:
        _script(directory, name, "exit 0")
    return directory


def test_a_complete_cache_directory_is_returned_without_building(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("LSEA_CLI_CACHE", str(tmp_path / "cache"))
    prepared = _prepared(tmp_path / "cache" / build.cache_key(), PINNED_VERSION)

    def no_build(*args, **kwargs):
        raise AssertionError("a complete cache directory must not be rebuilt")

    monkeypatch.setattr(cli, "build_cli", no_build)
    lines: list[str] = []
    assert cli.ensure_cli(progress=lines.append) == prepared
    assert lines == []


@pytest.mark.parametrize(
    "defect",
    [
        "wrong version",
        "missing host",
        "missing yaml host",
        "missing nodejs host",
        "missing go host",
        "not executable",
    ],
)
def test_an_incomplete_cache_directory_is_rebuilt(tmp_path, monkeypatch, defect):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("LSEA_CLI_CACHE", str(tmp_path / "cache"))
    prepared = _prepared(tmp_path / "cache" / build.cache_key(), PINNED_VERSION)
    if defect == "wrong version":
        _fake_pulumi(prepared, "3.275.0")
    elif defect == "missing host":
        (prepared / "pulumi-language-python").unlink()
    elif defect == "missing yaml host":
        (prepared / "pulumi-language-yaml").unlink()
    elif defect == "missing nodejs host":
        (prepared / "pulumi-language-nodejs").unlink()
    elif defect == "missing go host":
        (prepared / "pulumi-language-go").unlink()
    else:
        (prepared / "pulumi-resource-pulumi-python").chmod(0o644)

    calls = []

    def fake_build(*args):
        calls.append(args)
        return tmp_path / "new"

    monkeypatch.setattr(cli, "build_cli", fake_build)
    assert cli.ensure_cli(progress=lambda line: None) == tmp_path / "new"
    assert len(calls) == 1


def _no_real_go(tmp_path, monkeypatch):
    """A build's checks pass without Go: the steps themselves are the test's fakes."""
    monkeypatch.setattr(build, "find_go", lambda: Path("/nonexistent/go"))
    monkeypatch.setattr(
        build,
        "_go_env",
        lambda go: {"GOMODCACHE": str(tmp_path), "GOCACHE": str(tmp_path)},
    )
    monkeypatch.setattr(build, "check_disk", lambda needs: None)


def test_a_failed_build_leaves_nothing_that_counts_as_done(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    _no_real_go(tmp_path, monkeypatch)

    def half_a_build(target, progress, go):
        _fake_pulumi(target, PINNED_VERSION)  # the CLI is there, the host never came
        raise BuildError("building the Python language host failed")

    monkeypatch.setattr(build, "build_into", half_a_build)
    with pytest.raises(BuildError, match="language host failed"):
        build.build_cli(root, "v3.276.0-0123456789abcdef", lambda line: None)
    assert list(root.iterdir()) == []


def test_a_finished_build_is_renamed_into_place_and_older_ones_go(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    old = _prepared(root / "v3.276.0-00000000000000aa", PINNED_VERSION)
    unrelated = root / "notes"
    unrelated.mkdir()
    _no_real_go(tmp_path, monkeypatch)
    monkeypatch.setattr(
        build, "build_into", lambda target, progress, go: _prepared(target, PINNED_VERSION)
    )
    lines: list[str] = []
    key = "v3.276.0-0123456789abcdef"
    result = build.build_cli(root, key, lines.append)
    assert result == root / key
    assert build.is_complete(result)
    assert not old.exists()
    assert unrelated.exists()
    assert sorted(p.name for p in root.iterdir()) == ["notes", key]
    assert any("ready" in line for line in lines)
