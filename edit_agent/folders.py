"""Output folders and files: checked before the work that fills them, and written whole."""

from __future__ import annotations

import os
import secrets
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


def partial_file_beside(target: Path) -> Path:
    """A new empty file in ``target``'s folder to write ``target`` under before renaming it: readers never
    see half a file. Its permissions are those a plain ``open()`` gives (the umask's), not ``mkstemp``'s
    owner-only, so an exported file can be shared like any other the user makes."""
    while True:
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # another writer's name: draw again
            continue
        return partial
