"""``python -m lightsail_ecr_access.provider <engine address>``: the provider plugin's
process, as the engine starts ``pulumi-resource-lightsail-ecr`` (see ``install``)."""

from __future__ import annotations

import sys

from .. import __version__
from ..dynamic_providers import watch_the_engine
from .plugin import LightsailEcrProvider
from .serving import serve


def run(argv: list[str]) -> None:
    # The engine's address comes first, flags (--logtostderr...) after: diagnostics of
    # the resources go there.
    engine = next((a for a in argv if not a.startswith("-")), "")
    # A CLI killed hard leaves its plugins running: nothing is written for a dead run.
    watch_the_engine()
    serve(argv, __version__, LightsailEcrProvider(engine), engine)


def main() -> None:
    """The installed plugin executable, ``pulumi-resource-lightsail-ecr``."""
    run(sys.argv[1:])


if __name__ == "__main__":
    main()
