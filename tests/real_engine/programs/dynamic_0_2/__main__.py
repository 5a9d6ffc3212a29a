"""This repository's program as 0.2.x ran it: the component's own resources as dynamic
resources (Pulumi's dynamic provider host serves them, their providers pickled into the
state), everything else as it is now. The upgrade test makes a stack with it, then runs
the real program on that stack."""

import runpy
from pathlib import Path

from components import container_service, dynamic_providers
from components.program import repository_policies

# 0.2.x declared these very classes (same module path, same inputs), not the provider's.
container_service.PullerRole = dynamic_providers.PullerRole  # type: ignore[misc]
container_service.AdoptionCheck = dynamic_providers.AdoptionCheck  # type: ignore[misc]
repository_policies.served_resources = dynamic_providers  # type: ignore[assignment]

runpy.run_path(str(Path(__file__).resolve().parents[4] / "__main__.py"), run_name="__main__")
