"""The module path that Pulumi's state holds for the dynamic providers: never rename it.

Pulumi pickles a dynamic provider into the state by reference: this module's path and
the class name (`PullerRoleProvider`, `GrantFinalizerProvider`). The classes are written
in `components/dynamic_providers.py`, which is imported as `components` from this
project's checkout and as `lightsail_ecr_access` once the package is installed; both
declare this module as theirs, so the state is the same whichever way a program runs.

This file lies at the checkout's root and is installed beside the `lightsail_ecr_access`
package (site-packages), so the provider process that Pulumi starts for `up`, `refresh`
and `destroy` finds it whatever its working directory. A process that has already
imported the package has this name bound to the package's module and never runs this
file; a new provider process runs it, and it serves the classes of the package that
lies beside it: `components/` in the checkout, `lightsail_ecr_access/` when installed.
"""

from __future__ import annotations

import importlib.util
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

_HERE = Path(__file__).resolve().parent


def _package() -> str:
    """The installed package when it lies beside this file; in the checkout, `components`
    if that name leads to the folder beside this file; never another project's
    `components` (an editable install used from elsewhere takes the installed name)."""
    if (_HERE / "lightsail_ecr_access" / "__init__.py").is_file():
        return "lightsail_ecr_access"
    spec = importlib.util.find_spec("components")
    origin = None if spec is None or spec.origin is None else Path(spec.origin).resolve()
    checkout = origin == _HERE / "components" / "__init__.py"
    return "components" if checkout else "lightsail_ecr_access"


implementation: ModuleType = import_module(f"{_package()}.dynamic_providers")
"""The module whose classes this one serves."""


def __getattr__(name: str) -> Any:
    return getattr(implementation, name)
