"""Output folders, checked before the work that fills them rather than after it."""

from __future__ import annotations

import os
from pathlib import Path


def out_folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be created or written, or None when it can.

    >>> out_folder_problem(Path(getfixture("tmp_path")) / "new" / "run") is None
    True
    """
    for place in (folder, *folder.absolute().parents):
        if not place.exists():
            continue
        if not place.is_dir():
            return f"{place} is a file, not a folder"
        if not os.access(place, os.W_OK | os.X_OK):
            return f"{place} is not writable"
        return None
    return None
