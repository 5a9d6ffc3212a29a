"""The component package the emulation reaches into: its clients and its clocks.

From this checkout that is `components`, the folder the project's own `__main__.py`
imports. The packaging test (tests/test_package.py) runs an outside program against a
copy of the component installed from the wheel, where the only name is
`lightsail_ecr_access`: it sets ``EMULATED_COMPONENT=lightsail_ecr_access`` so that the
emulation patches the copy that program runs, and never imports the checkout's.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING

PACKAGE = os.environ.get("EMULATED_COMPONENT", "components")

if TYPE_CHECKING:
    from components.aws import policy_writes, puller_role, sdk
else:
    sdk = import_module(f"{PACKAGE}.aws.sdk")
    puller_role = import_module(f"{PACKAGE}.aws.puller_role")
    policy_writes = import_module(f"{PACKAGE}.aws.policy_writes")

__all__ = ["PACKAGE", "policy_writes", "puller_role", "sdk"]
