"""The policy pack's folder as the CLI uses it: its requirements.txt installs the package
with its `policy` extra into the pack's own virtualenv, and the pack starts from there.

The same offline install as tests/test_package.py (the wheel built without isolation,
installed without dependencies, the dependencies seen through a .pth file), from a copy
of this checkout, in the folder PulumiPolicy.yaml names; then the pack is started as the
CLI starts it and asked what it holds. Nothing of this checkout is on its path.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2_grpc

from components import __version__, policy_pack
from tests.test_package import NOT_PART_OF_A_BUILD, ROOT, _can_build_offline, _new_virtualenv, _run

pytestmark = pytest.mark.slow
PORT_TIMEOUT = 30.0


def test_the_packs_requirements_install_the_package_and_the_pack_starts_from_them(
    tmp_path: Path,
) -> None:
    if not _can_build_offline():
        pytest.fail("setuptools>=70.1 is needed: pip install -r requirements-dev.txt")
    source = tmp_path / "lightsail-ecr-access"
    shutil.copytree(ROOT, source, ignore=NOT_PART_OF_A_BUILD)
    pack_dir = source / "policy-pack"
    settings = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text())
    python = _new_virtualenv(pack_dir / settings["runtime"]["options"]["virtualenv"])

    # What the CLI runs in the pack's folder: pip install -r requirements.txt.
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--no-build-isolation", "-r", "requirements.txt", cwd=pack_dir,
    )  # fmt: skip
    probe = (
        "import importlib.metadata as m, json, lightsail_ecr_access.policy_pack as p; "
        "print(json.dumps({'file': p.__file__, 'requires': m.requires('lightsail-ecr-access'),"
        " 'extras': m.metadata('lightsail-ecr-access').get_all('Provides-Extra')}))"
    )
    installed = json.loads(_run(python, "-c", probe, cwd=tmp_path).strip().splitlines()[-1])
    assert installed["file"].startswith(str(pack_dir / "venv"))
    assert installed["extras"] == ["policy"]
    assert 'pulumi-policy<2,>=1.21; extra == "policy"' in installed["requires"]

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONUNBUFFERED") and not k.startswith("AWS_")
    }
    env.update(
        PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(python.parent.parent),
    )
    process = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:9", str(pack_dir)],
        cwd=pack_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines: queue.Queue[bytes] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            port = int(lines.get(timeout=PORT_TIMEOUT).strip())
        except (queue.Empty, ValueError):
            process.kill()
            _, stderr = process.communicate(timeout=10)
            pytest.fail(
                f"the installed pack printed no port; its stderr:\n{stderr.decode()[-4000:]}"
            )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=PORT_TIMEOUT)
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(
                empty_pb2.Empty(), timeout=PORT_TIMEOUT
            )
    finally:
        process.kill()
        process.wait(timeout=10)
    assert info.name == policy_pack.PACK_NAME
    assert [p.name for p in info.policies] == [p.name for p in policy_pack.POLICIES]


def test_the_pack_folder_names_the_packages_version_and_installs_from_this_checkout() -> None:
    pack_dir = ROOT / "policy-pack"
    settings = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text())
    assert settings["runtime"]["name"] == "python"
    assert str(settings["version"]) == __version__
    lines = [
        line.strip()
        for line in (pack_dir / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["..[policy]"]
    main = (pack_dir / "__main__.py").read_text()
    assert "from lightsail_ecr_access.policy_pack import PACK_NAME, POLICIES" in main
