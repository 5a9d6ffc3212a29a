"""The component as another team uses it: built, installed with pip, run from outside.

The package is built from a copy of this checkout and installed, with pip and the
example's own requirements.txt, into a new virtualenv in a temporary folder; the
example program (examples/two-services, copied elsewhere, next to a `components`
package of its own) then runs through `up`, `up` again and `destroy` against emulated
AWS in that virtualenv's Python, where this checkout's `components` is not importable.

Offline and in seconds: the wheel is built without build isolation (setuptools comes
from requirements-dev.txt), installed without dependencies, and the new virtualenv sees
the dependencies already installed here (pulumi, pulumi-aws, boto3; moto and PyYAML for
the emulation) through a .pth file: the package itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from components import __version__
from components.rules.policy import statement_sid

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "two-services"
NOT_PART_OF_A_BUILD = shutil.ignore_patterns(
    ".git", ".venv*", "venv", "__pycache__", "build", "dist", "*.egg-info", ".*_cache",
    ".hypothesis", ".demo-state",
)  # fmt: skip
PICKLE_MODULE = "lightsail_ecr_access_providers"
OWN_COMPONENTS = '"""The other team\'s own package named components."""\nOWNER = "other team"\n'

pytestmark = pytest.mark.slow


def _can_build_offline() -> bool:
    """setuptools 70.1 and later build wheels by themselves (no `wheel` package)."""
    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except Exception:
        return False
    return (major, minor) >= (70, 1)


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _new_virtualenv(where: Path) -> Path:
    """A virtualenv of this Python, with none of this checkout, seeing our dependencies."""
    _run(sys.executable, "-m", "venv", "--without-pip", where, cwd=where.parent)
    python = where / "bin" / "python"
    purelib = _run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=where
    ).strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    dependencies = [p for p in sys.path if p in ours or p.endswith(("site-packages", ".pth"))]
    Path(purelib, "dependencies-of-the-test-runner.pth").write_text("\n".join(dependencies) + "\n")
    return python


@pytest.fixture(scope="module")
def installed_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not _can_build_offline():
        message = (
            f"setuptools>=70.1 is needed to build the wheel offline (found "
            f"{version('setuptools')}): pip install -r requirements-dev.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("package")
    # What `pip install git+URL` would build: the checkout's files, none of its leftovers.
    source = tmp / "lightsail-ecr-access"
    shutil.copytree(ROOT, source, ignore=NOT_PART_OF_A_BUILD)
    python = _new_virtualenv(tmp / "venv")

    # The example's own install line (`../..`), from the example's folder, as Pulumi runs it.
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps"]
    _run(
        *pip, "--no-index", "--no-build-isolation", "-r", "requirements.txt",
        cwd=source / "examples" / "two-services",
    )  # fmt: skip

    # The program lives elsewhere, beside a `components` package of its own.
    program = tmp / "their-infra" / "two-services"
    shutil.copytree(EXAMPLE, program, ignore=NOT_PART_OF_A_BUILD)
    (program / "components").mkdir()
    (program / "components" / "__init__.py").write_text(OWN_COMPONENTS)
    # The emulation, and only it, from copies: PYTHONPATH holds nothing of the checkout.
    harness = tmp / "harness"
    shutil.copytree(ROOT / "emulation", harness / "emulation", ignore=NOT_PART_OF_A_BUILD)
    shutil.copy(ROOT / "tests" / "package_lifecycle.py", harness)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()

    env = {
        **os.environ,
        "PYTHONPATH": str(harness),
        "EMULATED_COMPONENT": "lightsail_ecr_access",
        "RESTORE_CWD": str(elsewhere),
    }
    out = _run(python, harness / "package_lifecycle.py", program, ROOT, cwd=program, env=env)
    facts: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    facts["venv"] = str(tmp / "venv")
    return facts


def test_the_package_comes_from_the_wheel_and_leaves_their_components_alone(
    installed_run: dict[str, Any],
) -> None:
    assert installed_run["package_file"].startswith(installed_run["venv"])
    assert installed_run["version"] == __version__
    assert installed_run["emulated_package"] == "lightsail_ecr_access"
    # `components` is the program's own package, untouched; nothing of this checkout ran.
    their_own = "their-infra/two-services/components/__init__.py"
    assert installed_run["components_file"].endswith(their_own)
    assert installed_run["from_checkout"] == []


def test_up_grants_both_services_in_the_shared_repository_and_each_its_own(
    installed_run: dict[str, Any],
) -> None:
    preview, up = installed_run["preview"], installed_run["up"]
    assert preview["changed"] and up["changed"]
    assert preview["summary"] == up["summary"]
    web, jobs = statement_sid("example-web"), statement_sid("example-jobs")
    policies = installed_run["policies_after_up"]
    other_teams = installed_run["other_teams"]["Statement"]

    shared = policies["shared/base"]
    assert shared["Id"] == "shared-base-policy"
    assert shared["Statement"][: len(other_teams)] == other_teams
    assert sorted(s.get("Sid") for s in shared["Statement"][len(other_teams) :]) == sorted(
        [web, jobs]
    )
    assert [s["Sid"] for s in policies["team/web"]["Statement"]] == [web]
    assert [s["Sid"] for s in policies["team/jobs"]["Statement"]] == [jobs]
    outputs = up["outputs"]
    for role in ("web", "jobs"):
        assert outputs[f"{role}ServiceName"] == f"example-{role}"
        assert outputs[f"{role}PullerRolePrincipalArn"].startswith("arn:aws:iam::")
        assert set(outputs[f"{role}ImageUriPrefixes"]) == {"shared/base", f"team/{role}"}


def test_up_again_changes_nothing_and_destroy_keeps_other_teams_statements(
    installed_run: dict[str, Any],
) -> None:
    assert installed_run["up_again"]["changed"] is False
    assert installed_run["destroy"]["changed"] is True
    assert installed_run["state_after_destroy"] == 0
    assert installed_run["policies_after_destroy"] == {
        "shared/base": installed_run["other_teams"],
        "team/web": None,
        "team/jobs": None,
    }


def test_state_names_the_stable_module_and_a_new_process_anywhere_restores_it(
    installed_run: dict[str, Any],
) -> None:
    # The component's resources are the package provider's: nothing pickled in the state.
    assert installed_run["ours_in_state"] == [
        "lightsail-ecr:index:FreshPolicyDocument",
        "lightsail-ecr:index:GrantFinalizer",
        "lightsail-ecr:index:GrantVerification",
        "lightsail-ecr:index:PullerRole",
    ]
    assert installed_run["dynamic_in_state"] == []
    # A 0.2.x stack's pickled providers (the dynamic host restores them for a `refresh` or
    # `destroy` before the stack's next `up` moves them) name the stable module.
    assert installed_run["pickled"] == [
        f"{PICKLE_MODULE}.FreshPolicyDocumentProvider",
        f"{PICKLE_MODULE}.GrantFinalizerProvider",
        f"{PICKLE_MODULE}.GrantVerificationProvider",
        f"{PICKLE_MODULE}.PullerRoleProvider",
    ]
    restore = installed_run["restore"]
    assert isinstance(restore, dict), restore
    # No `components` at all there: neither loaded nor importable.
    assert restore["components_loaded"] is False
    assert restore["components_importable"] is False
    assert {r["class"] for r in restore["restored"]} == {
        "FreshPolicyDocumentProvider",
        "GrantFinalizerProvider",
        "GrantVerificationProvider",
        "PullerRoleProvider",
    }
    for restored in restore["restored"]:
        assert restored["module"] == PICKLE_MODULE
        assert restored["module_file"].startswith(installed_run["venv"])
        assert restored["implementation"] == "lightsail_ecr_access.dynamic_providers"
        assert restored["implementation_file"].startswith(installed_run["venv"])
    grant = next(r for r in restore["restored"] if r["class"] == "GrantFinalizerProvider")
    assert grant["grant_diff_without_change"] is False


def test_the_doctor_is_installed_as_a_console_script(installed_run: dict[str, Any]) -> None:
    script = Path(installed_run["venv"]) / "bin" / "lightsail-ecr-doctor"
    assert script.is_file()
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=False, cwd=script.parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: lightsail-ecr-doctor [-h] --region REGION")
    # And under automation: a failure is one JSON object on stdout, exit 2, before any call.
    done = subprocess.run(
        [str(script), "web", "--region", "us-east1", "--json"],
        capture_output=True, text=True, check=False, cwd=script.parent,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["error"]["kind"] == "region"
