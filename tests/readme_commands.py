"""The README's quick-start commands, read from the README itself, so that CI runs the very
command a newcomer is told to run and the two cannot drift apart.

    python3 tests/readme_commands.py 2    # prints the second command (the tests)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def commands(readme: Path = README) -> list[str]:
    """Each ```bash block of the README, in order, as one command line."""
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", readme.read_text(), re.DOTALL)]


if __name__ == "__main__":
    number = int(sys.argv[1])
    print(commands()[number - 1])
