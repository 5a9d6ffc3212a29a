"""Run a Pulumi program that uses the *installed* component through up, up, destroy.

Not a test module: tests/test_package.py runs this file with the Python of a new
virtualenv, outside the checkout, into which it installed the package from its wheel,
with only a copy of `emulation/` on PYTHONPATH and ``EMULATED_COMPONENT`` naming the
installed package. It prints one JSON object of facts for the test to judge.

Usage: python package_lifecycle.py PROJECT_DIR CHECKOUT_DIR
"""

from __future__ import annotations

import base64
import json
import os
import pickletools
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulation.engine import RunReport

SHARED, WEB, JOBS = "shared/base", "team/web", "team/jobs"
OTHER_TEAMS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Id": "shared-base-policy",
    "Statement": [
        {
            "Sid": "CiPushFromPlatformTeam",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/platform-ci"},
            "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "ecr:BatchDeleteImage",
        },
    ],
}

# A new provider process, as Pulumi starts one for `destroy`: isolated (-I: no
# PYTHONPATH, not even its working directory on sys.path), somewhere else on disk.
RESTORE = """
import base64, json, sys
import dill
GRANT = {"region": "us-east-1", "repository": "shared/base", "sid": "x"}
found = []
for text in sys.argv[1:]:
    provider = dill.loads(base64.b64decode(text))
    module = sys.modules[type(provider).__module__]
    found.append({
        "class": type(provider).__name__,
        "module": type(provider).__module__,
        "module_file": module.__file__,
        "implementation": module.implementation.__name__,
        "implementation_file": module.implementation.__file__,
        "grant_diff_without_change": (
            provider.diff("id", dict(GRANT), dict(GRANT)).changes
            if type(provider).__name__ == "GrantFinalizerProvider" else None
        ),
    })
import importlib.util
print(json.dumps({"restored": found, "components_loaded": "components" in sys.modules,
                  "components_importable": importlib.util.find_spec("components") is not None}))
"""


def pickled_global(text: str) -> str:
    """`module.Class` that a base64 dill pickle of a provider refers to."""
    strings = [
        arg for op, arg, _ in pickletools.genops(base64.b64decode(text)) if isinstance(arg, str)
    ]
    return ".".join(strings[:2])


def report(run: RunReport) -> dict[str, Any]:
    return {"summary": run.summary(), "changed": run.changed, "outputs": run.outputs}


def main(project: Path, checkout: Path) -> None:
    # The language host runs a program with its folder first on sys.path, as the engine
    # does: there lives the program's own `components` package, not this project's.
    sys.path.insert(0, str(project))
    import lightsail_ecr_access

    import components
    from emulation.cloud import EmulatedAws
    from emulation.component import PACKAGE
    from emulation.engine import Engine

    facts: dict[str, Any] = {
        "emulated_package": PACKAGE,
        "components_file": components.__file__,
        "package_file": lightsail_ecr_access.__file__,
        "version": lightsail_ecr_access.__version__,
    }
    with EmulatedAws(region="us-east-1", arn_after_polls=2) as aws:
        aws.create_repository(SHARED, OTHER_TEAMS)
        aws.create_repository(WEB)
        aws.create_repository(JOBS)
        engine = Engine(project, "dev", project / "Pulumi.dev.yaml")

        facts["preview"] = report(engine.preview())
        facts["up"] = report(engine.up())
        facts["policies_after_up"] = {name: aws.policy(name) for name in (SHARED, WEB, JOBS)}
        # The component's resources are the package provider's now; a stack made by
        # 0.2.x holds them as dynamic resources, each with its provider pickled as
        # 0.2.x's SDK pickled it: those pickles must still restore anywhere.
        facts["ours_in_state"] = sorted(
            {
                state.type
                for state in engine.state.values()
                if state.custom and state.type.startswith("lightsail-ecr:")
            }
        )
        facts["dynamic_in_state"] = [
            state.type for state in engine.state.values() if "__provider" in state.outputs
        ]
        from lightsail_ecr_access import dynamic_providers
        from pulumi.dynamic.dynamic import serialize_provider

        providers = sorted(
            serialize_provider(cls())
            for cls in (
                dynamic_providers.PullerRoleProvider,
                dynamic_providers.GrantFinalizerProvider,
                dynamic_providers.FreshPolicyDocumentProvider,
                dynamic_providers.GrantVerificationProvider,
            )
        )
        facts["pickled"] = sorted(pickled_global(text) for text in providers)
        elsewhere = subprocess.run(
            [sys.executable, "-I", "-c", RESTORE, *providers],
            cwd=os.environ.get("RESTORE_CWD", "/"),
            capture_output=True,
            text=True,
            check=False,
        )
        facts["restore"] = (
            json.loads(elsewhere.stdout) if elsewhere.returncode == 0 else elsewhere.stderr
        )

        facts["up_again"] = report(engine.up())
        facts["destroy"] = report(engine.destroy())
        facts["state_after_destroy"] = len(engine.state)
        facts["policies_after_destroy"] = {name: aws.policy(name) for name in (SHARED, WEB, JOBS)}
    facts["other_teams"] = OTHER_TEAMS
    # Nothing of the checkout's source ran here: the component came from the virtualenv,
    # the emulation from a copy. (A virtualenv inside the checkout, as CI's, is no source.)
    sources = [
        checkout / name for name in ("components", "emulation", "examples", "tests", "__main__.py")
    ] + [checkout / "lightsail_ecr_access_providers.py"]
    facts["from_checkout"] = sorted(
        name
        for name, module in list(sys.modules.items())
        if any(
            Path(getattr(module, "__file__", None) or "/").resolve().is_relative_to(source)
            for source in sources
        )
    )
    print(json.dumps(facts))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
