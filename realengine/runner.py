"""Running a Pulumi program through the real `pulumi` CLI, against emulated AWS.

A ``Workspace`` is one throwaway Pulumi installation: its own ``PULUMI_HOME``, a local
file backend, a passphrase secrets provider, and a project folder whose program is
this repository's own (``__main__.py`` and ``components/`` linked, not copied, so what
runs is what is checked in), or another program folder: a Python one the same way, a
YAML one (``runtime: yaml``), whose ``Pulumi.yaml`` is the program, or a Node.js one. The stand-in
``pulumi-resource-aws`` is installed into the home as pulumi-aws 7.51.1 (as ``pulumi
plugin install --file`` installs a provider), so the engine loads it as it loads the
real one, with no "from $PATH" warning; the CLI's folder comes first on ``PATH``;
nothing is downloaded (automatic plugin acquisition is off) and no call can reach a
real account (fake keys, endpoints on loopback, no instance metadata).

Every ``pulumi`` command runs as a user runs it: a subprocess of the CLI with
``--non-interactive`` and the stack named explicitly. Output is kept whole on the
result, so a failing test shows what pulumi printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components import __version__
from components.provider.install import write_plugin as write_provider
from components.rules.type_tokens import PACKAGE
from realengine.aws_plugin.provider import VERSION as AWS_VERSION

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "real-engine-tests"  # the stacks' secrets provider; never a real secret
# What a project folder links from this checkout besides the program: what it imports
# (the dynamic providers' pickles name the shim module, imported from the project root).
LIBRARY_FILES = ("components", "lightsail_ecr_access_providers.py")
# What a Go program folder holds besides its *.go files.
GO_FILES = ("Pulumi.yaml", "go.mod", "go.sum")
# Keys that would send a call to a real account or a real service if they leaked in
# from the environment of whoever runs the tests.
_SCRUBBED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
FAKE_KEYS = {
    "AWS_ACCESS_KEY_ID": "emulated",
    "AWS_SECRET_ACCESS_KEY": "emulated",
    "AWS_SESSION_TOKEN": "emulated",
    "AWS_EC2_METADATA_DISABLED": "true",
}
COMMAND_TIMEOUT = 900.0
"""Seconds one pulumi command may take before the test fails: a first `up` waits for the
puller role's ARN and the verifications' settle delays, minutes at most."""


class PulumiFailed(AssertionError):
    """A pulumi command that was expected to succeed did not; carries all it printed."""


@dataclass(frozen=True)
class Run:
    """One finished pulumi command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return (
            f"$ pulumi {' '.join(self.args)}  (exit {self.returncode})\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


class Workspace:
    """A Pulumi home, a file backend and a project folder, all under ``root``."""

    def __init__(
        self,
        root: Path,
        cli_dir: Path,
        aws_plugin: Path,
        aws_endpoint: str,
        *,
        program: Path = ROOT,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.cli_dir = cli_dir
        self.aws_endpoint = aws_endpoint
        self.home = root / "pulumi-home"
        self.backend = root / "backend"
        self.project = root / "project"
        for folder in (self.home, self.backend, self.project):
            folder.mkdir(parents=True, exist_ok=True)
        self.project_name = link_program(program, self.project)
        self.env = self._environment(extra_env or {})
        self.install_provider("aws", AWS_VERSION, aws_plugin)
        # The package's own provider, run from this checkout: the component's resources.
        provider = write_provider(root / "lightsail-ecr-plugin", path=str(ROOT))
        self.install_provider(PACKAGE, __version__, provider)

    def install_provider(self, name: str, version: str, executable: Path) -> None:
        """Install a resource provider plugin (this project's own, say) for the workspace."""
        self.pulumi("plugin", "install", "resource", name, version, "--file", str(executable))

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(FAKE_KEYS)
        env.update(
            {
                "PATH": os.pathsep.join([str(self.cli_dir), env.get("PATH", "")]),
                "PULUMI_HOME": str(self.home),
                "PULUMI_BACKEND_URL": f"file://{self.backend}",
                "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_SKIP_CONFIRMATIONS": "true",
                # No shared config of the tester's: a profile named by a test is defined
                # in the workspace's own file.
                "AWS_CONFIG_FILE": str(self.root / "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "aws-credentials"),
                # Whatever is not told the stack's `aws:endpoints` (a client built
                # without the stack's identity) still reaches the emulated AWS.
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "NO_COLOR": "1",
            }
        )
        env.update(extra)
        return env

    def pulumi(
        self,
        *args: str,
        stack: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> Run:
        """Run ``pulumi args...`` in the project folder; raise PulumiFailed on a failure
        when ``check``."""
        argv = [*args, "--non-interactive", "--color", "never"]
        if stack:
            argv += ["--stack", stack]
        done = subprocess.run(
            [str(self.cli_dir / "pulumi"), *argv],
            cwd=self.project,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = Run(tuple(argv), done.returncode, done.stdout, done.stderr)
        if check and run.returncode != 0:
            raise PulumiFailed(str(run))
        return run

    def start(self, *args: str, stack: str, env: Mapping[str, str] | None = None) -> Any:
        """Start ``pulumi args...`` without waiting: for runs at once, and for signals.
        The CLI gets a process group of its own, as a CI job's shell gives it."""
        argv = [*args, "--non-interactive", "--color", "never", "--stack", stack]
        return subprocess.Popen(
            [str(self.cli_dir / "pulumi"), *argv],
            cwd=self.project,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def stack(self, name: str, config: Mapping[str, Any], region: str = "us-east-1") -> Stack:
        """A new stack of the project, configured for the emulated AWS in ``region``."""
        self.pulumi("stack", "init", name)
        stack = Stack(self, name)
        stack.configure(
            {
                "aws:region": region,
                "aws:skipCredentialsValidation": True,
                "aws:skipRequestingAccountId": False,
                "aws:endpoints": [{s: self.aws_endpoint for s in ("ecr", "lightsail", "sts")}],
                **config,
            }
        )
        return stack


class Stack:
    """One stack of a workspace's project."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name

    @property
    def config_file(self) -> Path:
        return self.workspace.project / f"Pulumi.{self.name}.yaml"

    def configure(self, values: Mapping[str, Any]) -> None:
        """Set config keys; a key without a namespace is the project's. Structured values
        go in as YAML, as a user writes them in Pulumi.<stack>.yaml."""
        document = yaml.safe_load(self.config_file.read_text()) if self.config_file.exists() else {}
        config = (document or {}).get("config") or {}
        for key, value in values.items():
            config[self.qualified(key)] = value
        self.config_file.write_text(yaml.safe_dump({"config": config}, sort_keys=True))

    def set_secret(self, key: str, value: str) -> None:
        self.workspace.pulumi(
            "config", "set", "--secret", self.qualified(key), value, stack=self.name
        )

    def set_secret_path(self, path: str, value: str) -> None:
        self.workspace.pulumi(
            "config", "set", "--secret", "--path", self.qualified(path), value, stack=self.name
        )

    def remove(self, *keys: str) -> None:
        for key in keys:
            self.workspace.pulumi("config", "rm", self.qualified(key), stack=self.name)

    def qualified(self, key: str) -> str:
        """A config key as the stack file holds it: a bare key is the project's."""
        return key if ":" in key else f"{self.workspace.project_name}:{key}"

    def run(self, *args: str, check: bool = True, **kwargs: Any) -> Run:
        return self.workspace.pulumi(*args, stack=self.name, check=check, **kwargs)

    def up(self, *args: str, check: bool = True) -> Run:
        return self.run("up", "--yes", "--skip-preview", *args, check=check)

    def preview(self, *args: str, check: bool = True) -> Run:
        return self.run("preview", *args, check=check)

    def refresh(self, *args: str, check: bool = True) -> Run:
        return self.run("refresh", "--yes", "--skip-preview", *args, check=check)

    def destroy(self, *args: str, check: bool = True) -> Run:
        return self.run("destroy", "--yes", "--skip-preview", *args, check=check)

    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self.run("stack", "output", "--json").stdout or "{}"))

    def export(self) -> dict[str, Any]:
        return dict(json.loads(self.run("stack", "export").stdout))

    def resources(self) -> list[dict[str, Any]]:
        deployment = self.export().get("deployment") or {}
        return list(deployment.get("resources") or [])

    def start(self, *args: str) -> Any:
        return self.workspace.start(*args, stack=self.name)


def project_name(program: Path = ROOT) -> str:
    return str(yaml.safe_load((program / "Pulumi.yaml").read_text())["name"])


def runtime_of(manifest: Mapping[str, Any]) -> str:
    """The language a Pulumi.yaml names: ``runtime: yaml`` or ``runtime: {name: yaml}``."""
    runtime = manifest.get("runtime", "python")
    return str(runtime["name"] if isinstance(runtime, Mapping) else runtime)


def link_program(program: Path, project: Path, python: str = sys.executable) -> str:
    """Make ``project`` run ``program``'s files with ``python``'s environment; return the
    project's name.

    A Python program's Pulumi.yaml is rewritten, not linked: its ``virtualenv`` option
    names the folder of the interpreter running the tests (absolute), so the language
    host and the dynamic provider host use the packages installed there. A YAML program
    needs no environment: its Pulumi.yaml, which holds the whole program, is copied as it
    is (a copy, as a stack's `pulumi config set` may write beside it). A Node.js
    program's files are copied too (`pulumi package add` rewrites package.json and the
    lock file, and generates sdks/ beside them); its packages are installed there. A Go
    program's files are copied as they are too: it builds against the module cache, not
    a venv."""
    manifest = yaml.safe_load((program / "Pulumi.yaml").read_text())
    if runtime_of(manifest) == "yaml":
        (project / "Pulumi.yaml").write_bytes((program / "Pulumi.yaml").read_bytes())
        return str(manifest["name"])
    if runtime_of(manifest) == "nodejs":
        for source in program.iterdir():
            if source.is_file():
                (project / source.name).write_bytes(source.read_bytes())
        return str(manifest["name"])
    if runtime_of(manifest) == "go":
        # Copies: `pulumi package add` writes go.mod and go.sum, and sdks/ beside them.
        for source in program.iterdir():
            if source.is_file() and (source.suffix == ".go" or source.name in GO_FILES):
                (project / source.name).write_bytes(source.read_bytes())
        return str(manifest["name"])
    options = manifest.setdefault("runtime", {"name": "python"})
    if isinstance(options, str):
        options = manifest["runtime"] = {"name": options}
    options.setdefault("options", {})["virtualenv"] = str(Path(python).parent.parent)
    options["options"]["toolchain"] = "pip"
    # Its plugin paths are the checkout's; a workspace installs the plugins it runs.
    manifest.pop("plugins", None)
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    sources = [ROOT / name for name in LIBRARY_FILES]
    sources += [p for p in program.iterdir() if p.name != "Pulumi.yaml" and p.suffix == ".py"]
    for source in sources:
        target = project / source.name
        if not target.exists():
            target.symlink_to(source)
    return str(manifest["name"])


def stop_group(process: Any, sig: int = signal.SIGINT) -> None:
    """Send ``sig`` to a started CLI's whole process group."""
    os.killpg(process.pid, sig)


def workspace_processes(root: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every process running in a workspace's folders: the CLI's
    plugins start there, and a killed CLI leaves them running."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if cwd == str(root) or cwd.startswith(f"{root}/"):
            found.append((int(proc.name), cmdline))
    return found


def local_policy_pack(folder: Path, python: str = sys.executable) -> Path:
    """A copy of ``policy-pack/`` in ``folder`` that the CLI runs with ``python``'s
    environment: its ``virtualenv`` is that one (which has pulumi-policy), and
    ``lightsail_ecr_access`` is this checkout's ``components/`` linked beside the pack's
    ``__main__.py``, where an installed package would be found. (Installing the package
    into the pack's own virtualenv is ``tests/test_policy_pack_install.py``.)"""
    pack = _local_python_plugin(ROOT / "policy-pack", "PulumiPolicy.yaml", folder, python)
    (pack / "lightsail_ecr_access").symlink_to(ROOT / "components")
    return pack


def local_provider_plugin(folder: Path, python: str = sys.executable) -> Path:
    """A copy of ``provider/`` (the package's provider as a source plugin) in ``folder``
    that the CLI runs with ``python``'s environment, where this checkout's ``components/``
    serves as the package."""
    return _local_python_plugin(ROOT / "provider", "PulumiPlugin.yaml", folder, python)


def _local_python_plugin(source: Path, settings_file: str, folder: Path, python: str) -> Path:
    """``source``'s settings with ``python``'s virtualenv, its ``__main__.py`` linked."""
    plugin = folder / source.name
    plugin.mkdir(parents=True)
    settings = yaml.safe_load((source / settings_file).read_text())
    settings["runtime"]["options"]["virtualenv"] = str(Path(python).parent.parent)
    (plugin / settings_file).write_text(yaml.safe_dump(settings))
    (plugin / "__main__.py").symlink_to(source / "__main__.py")
    return plugin
