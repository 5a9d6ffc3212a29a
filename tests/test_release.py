"""The package's metadata agrees with the checkout's: one version, one set of ranges."""

from __future__ import annotations

import ast
import re
import tomllib

from components import __version__
from tests.conftest import ROOT


def _requirements(path: str) -> list[str]:
    lines = (ROOT / path).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_the_package_declares_the_runtime_ranges_of_requirements_txt() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert project["dependencies"] == _requirements("requirements.txt")


def test_the_version_comes_from_the_package_and_the_changelog_describes_it() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    changelog = (ROOT / "CHANGELOG.md").read_text()

    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "lightsail_ecr_access.__version__"
    }
    releases = re.findall(r"^## (\d+\.\d+\.\d+)\b", changelog, flags=re.MULTILINE)
    assert releases[0] == __version__
    assert releases == sorted(releases, key=lambda v: tuple(map(int, v.split("."))), reverse=True)


def test_the_example_installs_this_package_from_its_path() -> None:
    assert _requirements("examples/two-services/requirements.txt") == ["../.."]


def test_the_package_imports_itself_only_relatively() -> None:
    """Installed, the folder is `lightsail_ecr_access`: an absolute `components.` import
    inside it would fail there (or import another project's `components`)."""
    absolute = []
    for path in sorted((ROOT / "components").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else
                []
            )  # fmt: skip
            absolute += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name == "components" or name.startswith("components.")
            ]

    assert absolute == []


def test_the_wheel_lists_every_folder_of_the_package() -> None:
    """setuptools installs only the packages listed: a layer left out would be missing
    from the wheel (tests/test_package.py would see it too, but only in its slow build)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = sorted(
        init.parent.relative_to(ROOT / "components")
        for init in (ROOT / "components").rglob("__init__.py")
    )

    assert setuptools["package-dir"] == {"lightsail_ecr_access": "components"}
    assert sorted(setuptools["packages"]) == sorted(
        ".".join(("lightsail_ecr_access", *folder.parts)) for folder in folders
    )


def test_the_doctor_is_a_console_script_of_the_package() -> None:
    """`lightsail-ecr-doctor` runs `lightsail_ecr_access.doctor:main`: the package's
    folder is `components`, and the entry point's wrapper calls `sys.exit(main())`, so
    main takes no argument it must be given and returns the exit status."""
    import inspect

    from components import doctor
    from components.provider.install import PLUGIN

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {
        doctor.SCRIPT: "lightsail_ecr_access.doctor:main",
        # The provider plugin, which another project's Pulumi.yaml finds in venv/bin.
        PLUGIN: "lightsail_ecr_access.provider.__main__:main",
    }
    module, function = project["scripts"][doctor.SCRIPT].split(":")
    assert module.replace("lightsail_ecr_access", "components", 1) == doctor.__name__
    signature = inspect.signature(getattr(doctor, function))
    assert all(p.default is not p.empty for p in signature.parameters.values())
    assert signature.return_annotation in (int, "int")
