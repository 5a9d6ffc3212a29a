"""``python -m components.doctor`` (installed: ``python -m lightsail_ecr_access.doctor``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
