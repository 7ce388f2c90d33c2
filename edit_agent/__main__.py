"""``python -m edit_agent``: the ``edit-agent`` command, where its script is not on the PATH."""

import sys

from edit_agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
