"""Session exports as one zip file: what the app's download button gives, and what it and
``edit-agent sessions import`` take back.

The zip holds an export folder (``session.jsonl`` and ``images/<hash>.png``), at its top or inside
one folder (zipping the folder itself makes that). Only those files are unpacked, under names built
here, never the zip's own: a member named ``../x`` or ``/etc/x`` cannot land outside the target.
Anything else in the zip (``__MACOSX/``, ``.DS_Store``, a note) is left packed.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from edit_agent.errors import EditAgentError, InvalidExportError
from edit_agent.transfer import EXPORT_FILE

DEFAULT_MAX_UNPACKED_BYTES = 4 * 1024**3
"""Most bytes an archive may unpack to (its images are PNGs, stored or barely compressed by zip)."""

_IMAGE_NAME = re.compile(r"[0-9a-f]{64}\.png")
_CHUNK = 1024 * 1024


def pack_session_archive(folder: Path, target: Path) -> Path:
    """Zip the export in ``folder`` (``session.jsonl`` and its images) as ``target``, whole or not at all."""
    partial = target.with_name(target.name + ".partial")
    try:
        # Stored, not deflated: the PNGs are compressed already.
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.write(folder / EXPORT_FILE, EXPORT_FILE)
            for image in sorted((folder / "images").glob("*.png")):
                archive.write(image, f"images/{image.name}")
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise EditAgentError(f"Cannot write {target}: {error.strerror or error}.") from None
    return target


def is_session_archive(path: Path) -> bool:
    """Whether ``path`` is a file that is a zip (an export folder is not)."""
    return path.is_file() and zipfile.is_zipfile(path)


def unpack_session_archive(archive: Path, into: Path, *, max_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> Path:
    """Unpack the export in ``archive`` under ``into``; return the folder that holds ``session.jsonl``.

    Refused, with one :class:`InvalidExportError`, before anything is written: a file that is no zip,
    a zip with no export or more than one, encrypted members, and contents over ``max_bytes``.
    """
    try:
        with zipfile.ZipFile(archive) as opened:
            members = _export_members(opened, archive, max_bytes)
            target = into / "session"
            (target / "images").mkdir(parents=True, exist_ok=True)
            for member, relative in members:
                _copy_member(opened, member, target / relative)
    except zipfile.BadZipFile as error:
        raise InvalidExportError(f"{archive} is not a readable zip file ({error}).") from None
    except OSError as error:  # a full disk, an unreadable file: one clear error, not a traceback
        raise EditAgentError(f"Cannot unpack {archive}: {error.strerror or error}.") from None
    return target


def _export_members(opened: zipfile.ZipFile, archive: Path, max_bytes: int) -> list[tuple[zipfile.ZipInfo, str]]:
    """The export's members, each with the name it is unpacked to, checked before any is read."""
    exports = [info for info in opened.infolist() if _parts(info)[-1:] == (EXPORT_FILE,) and len(_parts(info)) <= 2]
    if len(exports) != 1:
        found = "no" if not exports else "more than one"
        raise InvalidExportError(
            f"{archive} holds {found} {EXPORT_FILE} at its top or in one folder; it is not a session download."
        )
    folder = _parts(exports[0])[:-1]
    members = [(exports[0], EXPORT_FILE)]
    for info in opened.infolist():
        parts = _parts(info)
        if parts[:-2] == folder and parts[-2:-1] == ("images",) and _IMAGE_NAME.fullmatch(parts[-1]):
            members.append((info, f"images/{parts[-1]}"))
    if any(info.flag_bits & 0x1 for info, _ in members):
        raise InvalidExportError(f"{archive} is encrypted; download the session again without a password.")
    total = sum(info.file_size for info, _ in members)
    if total > max_bytes:
        raise InvalidExportError(
            f"{archive} unpacks to {_size(total)}, over the {_size(max_bytes)} allowed."
        )
    return members


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes:,} bytes"


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    # Zips made on Windows may separate with backslashes.
    return tuple(part for part in PurePosixPath(info.filename.replace("\\", "/")).parts if part not in ("", "/"))


def _copy_member(opened: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    # zipfile stops at the size the header declares and checks the CRC there: a member that lies about
    # its size fails as a bad zip, it never writes more than was counted above.
    with opened.open(info) as source, path.open("wb") as target:
        shutil.copyfileobj(source, target, _CHUNK)
