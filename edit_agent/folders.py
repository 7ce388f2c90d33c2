"""Output folders and files: checked before the work that fills them, and written whole; scratch folders that a
killed process does not leave behind for good."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

NAME_MAX = 255
"""The longest file or folder name that common file systems take (bytes)."""


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
    owner-only, so an exported file can be shared like any other the user makes. Its name carries the writer's
    process id, so the partial files of ``target`` that killed writers left are taken away here."""
    _remove_partials_left_by_the_dead(target)
    while True:
        partial = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # another writer's name: draw again
            continue
        return partial


PARTIAL_LEFT_AFTER_S = 60.0
"""How long a partial file of a writer no longer running here must have stood still before it is taken away: a
writer on another machine sharing the folder has a process id that means nothing here, and keeps its file moving."""


def _remove_partials_left_by_the_dead(target: Path) -> None:
    """A writer killed before its rename (SIGKILL, a power cut) leaves its partial file for good: the next writer of
    the same target removes each one whose process is gone and which has not changed for a minute."""
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            pid = _writer_of(entry.name, prefix)
            if pid is None or _is_running(pid):
                continue
            with contextlib.suppress(OSError):
                if time.time() - entry.stat(follow_symlinks=False).st_mtime > PARTIAL_LEFT_AFTER_S:
                    os.unlink(entry.path)


def _writer_of(name: str, prefix: str) -> int | None:
    """The process id in a partial file's name made for the target ``prefix`` names, else None."""
    if not (name.startswith(prefix) and name.endswith(".partial")):
        return None
    writer, _, drawn = name[len(prefix):-len(".partial")].partition("-")
    return int(writer) if writer.isdigit() and len(drawn) == 8 else None


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):  # another user's, or not a process id this system knows
        return True
    return True


def share_weights_like_other_files(where: Path) -> None:
    """Give the ``.safetensors`` files at ``where`` (a file, or a folder searched through) the mode a plain ``open()``
    gives. safetensors 0.8 writes them owner-only (0600) whatever the umask (safetensors#782), so a trained policy
    beside its readable config could not be loaded by another user or a container's service account."""
    files = [where] if where.is_file() else list(where.rglob("*.safetensors"))
    if not files:
        return
    mode = _mode_of_new_file(files[0].parent)
    for path in files:
        path.chmod(mode)


def _mode_of_new_file(folder: Path) -> int:
    """The permission bits the umask gives a new file in ``folder`` (read from one, not by changing the umask,
    which is shared by every thread of the process)."""
    probe = partial_file_beside(folder / "mode")
    try:
        return probe.stat().st_mode & 0o777
    finally:
        probe.unlink()


@contextlib.contextmanager
def held_folder(folder: Path, in_use: Callable[[], Exception]) -> Iterator[None]:
    """Hold the existing ``folder`` for this process while the block runs; ``in_use()`` is raised at once where
    another process holds it. The lock is on the folder itself (no file is left in it) and goes with the process,
    however it ends. Where there is no ``flock`` (Windows) nothing is held."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:  # other than held: a file system without locks (some network ones) goes on unheld
            if isinstance(error, BlockingIOError):
                raise in_use() from None
        yield
    finally:
        os.close(handle)  # which releases the lock


SCRATCH_MARK = "held-"
"""Follows the prefix in the name of every scratch folder, so that the sweep takes only folders made by code that
holds them (an earlier version's, or another program's, are left alone)."""
SCRATCH_GRACE_SECONDS = 60  # a folder made this recently may not be held yet: its maker locks it just after making it


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new folder in the system's temporary folder for the block's work, removed after it.

    A process killed in the block (SIGKILL, the out-of-memory killer, a power cut) runs no clean-up, and a zip
    export or import leaves its whole unpacked session behind. So each folder is held (``flock``) while in use,
    and making one first removes the folders of the same ``prefix`` that no live process holds.
    """
    prefix = f"{prefix}{SCRATCH_MARK}"  # no name tempfile draws has a "-": never a folder made by code that holds none
    _remove_abandoned_scratch(prefix)
    with tempfile.TemporaryDirectory(prefix=prefix) as made:
        folder = Path(made)
        with held_folder(folder, in_use=lambda: RuntimeError(f"{folder} is held by another process")):
            yield folder


def _remove_abandoned_scratch(prefix: str) -> None:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): nothing tells an abandoned folder from one in use
        return
    now = time.time()
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            if not folder.is_dir() or folder.is_symlink() or now - folder.stat().st_mtime < SCRATCH_GRACE_SECONDS:
                continue
            handle = os.open(folder, os.O_RDONLY)
        except OSError:  # gone meanwhile, or another user's
            continue
        try:
            with contextlib.suppress(OSError):  # held by a live process: in use, left alone
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(handle)
