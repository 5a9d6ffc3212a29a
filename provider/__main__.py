"""The `lightsail-ecr` provider, run from source by Pulumi's Python language host.

The installed package is used when the plugin's virtualenv has it (``requirements.txt``
puts it there); in a checkout without one, the repository's own ``components/``."""

import sys
from pathlib import Path

try:
    from lightsail_ecr_access.provider.__main__ import run
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from components.provider.__main__ import run

run(sys.argv[1:])
