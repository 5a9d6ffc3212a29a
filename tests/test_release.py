"""The package's metadata agrees with the checkout's: one version, one set of ranges."""

from __future__ import annotations

import ast
import re
import tomllib

import yaml

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
    sections = re.findall(r"^## (.+)$", changelog, flags=re.MULTILINE)
    released = [
        s.split()[0] for s in sections if re.fullmatch(r"\d+\.\d+\.\d+ \(\d{4}-\d\d-\d\d\)", s)
    ]
    # Every section is a release with its date, except an "Unreleased (X.Y.Z)" on top.
    assert sections[1:] == [s for s in sections[1:] if s.split()[0] in released]
    assert released == sorted(released, key=_version_key, reverse=True)
    if __version__.endswith(".dev0"):
        # main between releases: the next version, whose changes are written as they land.
        upcoming = __version__.removesuffix(".dev0")
        assert sections[0] == f"Unreleased ({upcoming})"
        assert _version_key(upcoming) > _version_key(released[0])
    else:
        assert sections[0].split()[0] == __version__ == released[0]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(map(int, version.split(".")))


def test_every_pin_the_project_suggests_names_a_released_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = set(re.findall(r"^## (\d+\.\d+\.\d+) \(", changelog, flags=re.MULTILINE))
    suggested = ["examples/two-services/requirements.txt", "policy-pack/requirements.txt"]
    suggested += [str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")]
    suggested.append("README.md")
    pins = {
        (path, pin)
        for path in suggested
        for pin in re.findall(r"lightsail-ecr-access@v(\S+?)[\"`\s]", (ROOT / path).read_text())
    }
    assert pins, "the install page shows a pin to a tag"
    assert {(path, pin) for path, pin in pins if pin not in released} == set()


def test_the_policy_pack_and_the_package_say_one_version() -> None:
    pack = yaml.safe_load((ROOT / "policy-pack" / "PulumiPolicy.yaml").read_text())
    assert str(pack["version"]) == __version__.removesuffix(".dev0")


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
