"""The real Pulumi CLI, built by `realengine.cli`, runs a Python program's whole life.

A tiny program (no providers) goes through stack init, secret config, preview, up,
outputs, export and destroy against a local file backend, so the CLI, our language host,
the SDK's exec shim and the secrets provider are all exercised for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from realengine.versions import PINNED_VERSION, is_at_least

pytestmark = pytest.mark.real_engine

SECRET = "s3cr3t-0f-the-real-engine"

PROGRAM = """\
import pulumi

config = pulumi.Config()
pulumi.export("greeting", "hello from the real engine")
pulumi.export("token", config.require_secret("token"))
"""


def _environment(cli_dir: Path, home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "VIRTUAL_ENV"))  # nothing from the developer's own
    }
    env.update(
        PATH=os.pathsep.join([str(cli_dir), env.get("PATH", "")]),
        PULUMI_HOME=str(home),
        PULUMI_CONFIG_PASSPHRASE="test",
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    return env


class Pulumi:
    """Runs the real CLI in one project directory; fails the test with its output."""

    def __init__(self, cli_dir: Path, project: Path, home: Path) -> None:
        self.project = project
        self.env = _environment(cli_dir, home)

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if ok and done.returncode != 0:
            pytest.fail(
                f"`pulumi {' '.join(args)}` exited with {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done


@pytest.fixture
def pulumi(pulumi_cli_dir: Path, tmp_path: Path) -> Pulumi:
    """A logged-in CLI in a new project whose runtime is this test's virtualenv."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        "name: real-engine-smoke\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        f"    virtualenv: {json.dumps(str(Path(sys.prefix).resolve()))}\n"
        "    toolchain: pip\n"
    )
    (project / "__main__.py").write_text(PROGRAM)
    state = tmp_path / "state"
    state.mkdir()
    run = Pulumi(pulumi_cli_dir, project, tmp_path / "pulumi-home")
    run("login", f"file://{state}")
    run("stack", "init", "dev")
    return run


def test_the_cli_directory_holds_a_new_enough_cli_and_the_python_host(pulumi_cli_dir, tmp_path):
    env = _environment(pulumi_cli_dir, tmp_path)
    assert shutil.which("pulumi", path=env["PATH"]) == str(pulumi_cli_dir / "pulumi")
    host = shutil.which("pulumi-language-python", path=env["PATH"])
    assert host is not None
    # The host runs these two scripts from its own directory.
    for script in ("pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
        assert os.access(Path(host).parent / script, os.X_OK), script
    version = subprocess.run(
        ["pulumi", "version"], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert is_at_least(version, PINNED_VERSION), version


def test_a_python_program_lives_through_preview_up_and_destroy(pulumi):
    pulumi("config", "set", "--secret", "token", SECRET)

    preview = pulumi("preview")
    assert "hello from the real engine" in preview.stdout
    assert SECRET not in preview.stdout + preview.stderr

    pulumi("up", "--yes")

    outputs = json.loads(pulumi("stack", "output", "--json").stdout)
    assert outputs == {"greeting": "hello from the real engine", "token": "[secret]"}
    shown = json.loads(pulumi("stack", "output", "--json", "--show-secrets").stdout)
    assert shown["token"] == SECRET

    exported = pulumi("stack", "export").stdout
    assert SECRET not in exported
    stack = json.loads(exported)["deployment"]["resources"][0]
    assert stack["type"] == "pulumi:pulumi:Stack"
    assert "ciphertext" in stack["outputs"]["token"]

    pulumi("destroy", "--yes")
    after = json.loads(pulumi("stack", "export").stdout)["deployment"]
    assert not after.get("resources")


def test_a_failing_program_fails_the_preview_with_its_own_error(pulumi):
    (pulumi.project / "__main__.py").write_text(
        'raise RuntimeError("the program broke on purpose")\n'
    )
    done = pulumi("preview", ok=False)
    assert done.returncode != 0
    assert "the program broke on purpose" in done.stdout + done.stderr


POLICY_PACK = """\
import os
from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy


def report_what_the_pack_sees(args, report_violation):
    report_violation(f"pack sees stack={os.environ.get('PULUMI_STACK')} "
                     f"config={os.environ.get('PULUMI_CONFIG')}")


PolicyPack(
    name="smoke-pack",
    policies=[StackValidationPolicy(name="sees-the-stack", description="smoke",
                                    validate=report_what_the_pack_sees)],
    enforcement_level=EnforcementLevel.ADVISORY,
)
"""


def test_a_python_policy_pack_runs_through_the_host_with_the_stack_config(pulumi, tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        f"    virtualenv: {json.dumps(str(Path(sys.prefix).resolve()))}\n"
    )
    (pack / "__main__.py").write_text(POLICY_PACK)
    pulumi("config", "set", "--secret", "token", SECRET)
    pulumi("config", "set", "colour", "blue")

    done = pulumi("preview", "--policy-pack", str(pack))
    assert "pack sees stack=dev" in done.stdout
    # The host passes the stack's configuration on; the secret stays hidden.
    assert '"real-engine-smoke:colour":"blue"' in done.stdout
    assert SECRET not in done.stdout + done.stderr
