"""Session exports as one zip file: what the app's download button gives, and what it and
``edit-agent sessions import`` take back.

The zip holds an export folder (``session.jsonl`` and ``images/<hash>.png``), at its top or inside
one folder (zipping the folder itself makes that). ``session.jsonl`` is read first, and only the
images it names are unpacked, under names built here, never the zip's own: a member named ``../x``
or ``/etc/x`` cannot land outside the target. Anything else in the zip (``__MACOSX/``, ``.DS_Store``,
a note) is left packed.
"""

from __future__ import annotations

import contextlib
import json
import lzma
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from edit_agent.errors import EditAgentError, InvalidExportError
from edit_agent.folders import partial_file_beside
from edit_agent.images import STORED_LIMITS
from edit_agent.transfer import EXPORT_FILE, named_images

DEFAULT_MAX_UNPACKED_BYTES = 4 * 1024**3
"""Most bytes an archive may unpack to (its images are PNGs, stored or barely compressed by zip)."""
MAX_EXPORT_FILE_BYTES = 32 * 1024**2
"""Most bytes of ``session.jsonl``: a turn takes well under a kilobyte of it."""

_CHUNK = 1024 * 1024
# What a damaged member, or one packed with a method this Python lacks (Deflate64), raises when read.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError)


def pack_session_archive(folder: Path, target: Path) -> Path:
    """Zip the export in ``folder`` (``session.jsonl`` and its images) as ``target``, whole or not at all."""
    partial = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A file of its own beside the target: two exports to one name never write into each other's.
        partial = partial_file_beside(target)
        # Stored, not deflated: the PNGs are compressed already.
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.write(folder / EXPORT_FILE, EXPORT_FILE)
            for image in sorted((folder / "images").glob("*.png")):
                archive.write(image, f"images/{image.name}")
        partial.replace(target)
    except BaseException as error:  # an interrupt too: never a half zip left beside the target
        with contextlib.suppress(OSError):
            if partial is not None:
                partial.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise EditAgentError(f"Cannot write {target}: {error.strerror or error}.") from None
        raise
    return target


def is_session_archive(path: Path) -> bool:
    """Whether ``path`` is a regular file that is a zip (an export folder, or a named pipe, is not)."""
    return path.is_file() and zipfile.is_zipfile(path)


def exported_session_in(path: Path) -> str | None:
    """The id of the session a zip at ``path`` holds the export of; ``None`` for any other file (a .docx is a
    zip too) or a zip that cannot be read."""
    if not is_session_archive(path):
        return None
    with contextlib.suppress(*_UNREADABLE, OSError, InvalidExportError, ValueError), zipfile.ZipFile(path) as opened:
        export, _ = _export_member(opened, str(path))
        with opened.open(export) as source:
            first = json.loads(source.readline(64 * 1024))
        return first.get("id") if isinstance(first, dict) and isinstance(first.get("id"), str) else None
    return None


def starts_as_zip(path: Path) -> bool:
    """Whether the file at ``path`` begins as a zip does (a zip cut short is not one :mod:`zipfile` reads)."""
    try:
        with path.open("rb") as file:
            return file.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _not_a_zip(archive: Path, shown: str) -> str:
    """Why a file is not a readable zip: one that starts as a zip but lacks its end was cut short."""
    if starts_as_zip(archive):
        return f"{shown} is an incomplete zip (its end is missing: a download cut short?); download the session again."
    return f"{shown} is not a zip file; give the .zip that Download session gave."


def unpack_session_archive(
    archive: Path, into: Path, *, max_bytes: int = DEFAULT_MAX_UNPACKED_BYTES, shown_as: str | None = None,
    max_image_bytes: int = STORED_LIMITS.max_bytes,
) -> Path:
    """Unpack the export in ``archive`` under ``into``; return the folder that holds ``session.jsonl``.

    Refused with one :class:`InvalidExportError`: a file that is no zip or is damaged, a zip with no
    export or more than one, encrypted members, a ``session.jsonl`` over :data:`MAX_EXPORT_FILE_BYTES`,
    an image it names that the zip lacks or that unpacks to over ``max_image_bytes`` (the import would
    refuse it anyway: the zip's headers say so before any byte is unpacked), and contents over ``max_bytes``.
    Messages name the zip
    ``shown_as`` (default: its path).
    """
    shown = shown_as or str(archive)
    try:
        if not zipfile.is_zipfile(archive):
            raise InvalidExportError(_not_a_zip(archive, shown))
        with zipfile.ZipFile(archive) as opened:
            export, folder = _export_member(opened, shown)
            text = _read_export_text(opened, export, shown)
            images = _named_images(opened, folder, text, shown)
            for digest, info in images.items():
                if info.file_size > max_image_bytes:
                    raise InvalidExportError(f"{shown}: images/{digest}.png unpacks to {_size(info.file_size)}; "
                                             f"the limit for an image is {_size(max_image_bytes)}.")
            total = export.file_size + sum(info.file_size for info in images.values())
            if total > max_bytes:
                raise InvalidExportError(f"{shown} unpacks to {_size(total)}, over the {_size(max_bytes)} allowed.")
            target = into / "session"
            (target / "images").mkdir(parents=True, exist_ok=True)
            (target / EXPORT_FILE).write_bytes(text)
            for digest, info in images.items():  # named by its hash, whatever the zip calls it ("a\\b.png")
                _copy_member(opened, info, target / "images" / f"{digest}.png")
    except _UNREADABLE as error:
        raise InvalidExportError(f"{shown} is damaged or packed in a way this cannot read ({error}); "
                                 "download it again, or zip the export folder again.") from None
    except OSError as error:  # a full disk, an unreadable file: one clear error, not a traceback
        raise EditAgentError(f"Cannot unpack {shown}: {error.strerror or error}.") from None
    return target


@contextlib.contextmanager
def named_as_archive(unpacked: Path, shown: str) -> Iterator[None]:
    """Errors about the unpacked files name the zip and its member instead ("download.zip: session.jsonl,
    line 3 ..."): the temporary folder means nothing to the user, and is gone by the time they read it."""
    try:
        yield
    except EditAgentError as error:
        message = str(error).replace(f"{unpacked}/", f"{shown}: ").replace(str(unpacked), shown)
        if message == str(error):
            raise
        raise type(error)(message) from None


def _export_member(opened: zipfile.ZipFile, shown: str) -> tuple[zipfile.ZipInfo, tuple[str, ...]]:
    """``session.jsonl``'s member, and the folder it is in (``()`` at the top)."""
    exports = [info for info in opened.infolist() if _parts(info)[-1:] == (EXPORT_FILE,) and len(_parts(info)) <= 2]
    if len(exports) != 1 or exports[0].is_dir():
        found = "more than one" if len(exports) > 1 else "no"
        raise InvalidExportError(f"{shown} holds {found} {EXPORT_FILE} at its top or in one folder; "
                                 "it is not a session download.")
    if exports[0].flag_bits & 0x1:
        raise InvalidExportError(f"{shown} is encrypted; download the session again without a password.")
    return exports[0], _parts(exports[0])[:-1]


def _read_export_text(opened: zipfile.ZipFile, export: zipfile.ZipInfo, shown: str) -> bytes:
    if export.file_size > MAX_EXPORT_FILE_BYTES:
        raise InvalidExportError(f"{shown}: {EXPORT_FILE} is {_size(export.file_size)}, over the "
                                 f"{_size(MAX_EXPORT_FILE_BYTES)} a session's records take.")
    with opened.open(export) as source:  # zipfile stops at the declared size and checks the CRC there
        return source.read()


def _named_images(
    opened: zipfile.ZipFile, folder: tuple[str, ...], text: bytes, shown: str
) -> dict[str, zipfile.ZipInfo]:
    """The members of the images ``session.jsonl`` names, by hash: each must be in the zip itself."""
    members = {}
    for info in opened.infolist():
        parts = _parts(info)
        if parts[:-2] == folder and parts[-2:-1] == ("images",) and not info.is_dir():
            members[parts[-1]] = info
    images = {}
    for digest in sorted(named_images(text)):
        info = members.get(f"{digest}.png")
        if info is None:
            raise InvalidExportError(f"{shown} lacks images/{digest}.png, which its {EXPORT_FILE} names.")
        if info.flag_bits & 0x1:
            raise InvalidExportError(f"{shown} is encrypted; download the session again without a password.")
        images[digest] = info
    return images


def _size(n_bytes: int) -> str:
    if n_bytes < 2**20:
        return f"{n_bytes:,} bytes"
    return f"{n_bytes / 2**20:,.1f} MiB" if n_bytes % 2**20 else f"{n_bytes // 2**20:,} MiB"


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    # Zips made on Windows may separate with backslashes.
    return tuple(part for part in PurePosixPath(info.filename.replace("\\", "/")).parts if part not in ("", "/"))


def _copy_member(opened: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    # zipfile stops at the size the header declares and checks the CRC there: a member that lies about
    # its size fails as a bad zip, it never writes more than was counted above.
    with opened.open(info) as source, path.open("wb") as target:
        shutil.copyfileobj(source, target, _CHUNK)
