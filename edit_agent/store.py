"""The session store: SQLite (through sqlite-utils) for records, content-addressed PNG files for images.

Crash safety comes from the order of writes: an image file is written to a temporary name,
fsynced and renamed into place before the row that names it is committed, and a turn's row
and the session's new head are committed together in one ``BEGIN IMMEDIATE`` transaction.
A process killed at any point leaves either the whole turn or none of it (plus, at worst, an
unreferenced image file, which the next open sweeps away once it is older than a grace period,
so that a turn still running in another process keeps its file).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from edit_agent.decoded_images import shared_decoded_images
from edit_agent.errors import (
    ConcurrentEditError,
    ImagesGoneError,
    InvalidArgumentError,
    StoreError,
    UnknownSessionError,
    UnknownTurnError,
    is_valid_text,
    one_line,
)
from edit_agent.images import encode_png, image_hash
from edit_agent.records import EditorInfo, Intent, SessionRecord, TurnRecord

DATABASE_NAME = "edit_agent.db"
SCHEMA_VERSION = 1
ANY_HEAD = object()
"""``move_head``'s default: an absolute move, made from wherever the head is."""
MIN_ID_PREFIX = 4
"""The shortest prefix that may name a session (a shorter one would too easily name another)."""
_GENERATED_ID = re.compile(r"[0-9a-f]{32}")
_ID_PREFIX = re.compile(rf"[0-9a-fA-F]{{{MIN_ID_PREFIX},32}}")
ORPHAN_GRACE_SECONDS = 3600.0
"""Unreferenced image files younger than this are kept: another process may be mid-turn."""
RECENT_IMAGE_SECONDS = 10.0
"""A session's deletion leaves image files used this recently to the sweep: an edit may be about to name them
(a turn stores its images a moment before its row commits)."""


def _import_sqlite_utils_without_pandas():
    """sqlite-utils imports pandas when it is installed, only to give ``pandas.Timestamp`` values a column type.
    The store never writes one, and pandas (with the pyarrow it pulls in) took 70 of the 132 MB an SDK process
    peaked at for one photo edit, and most of its start-up. Where pandas is already imported (the app: Gradio uses it),
    sqlite-utils takes it as usual; a later ``import pandas`` works either way."""
    if "pandas" in sys.modules or "sqlite_utils" in sys.modules:
        import sqlite_utils

        return sqlite_utils
    sys.modules["pandas"] = None  # makes ``import pandas`` raise ImportError, which sqlite-utils expects
    try:
        import sqlite_utils
    finally:
        if sys.modules.get("pandas", ...) is None:
            del sys.modules["pandas"]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils_without_pandas()

_COLUMNS: dict[str, dict[str, type]] = {
    "sessions": {"id": str, "created": float, "settings": str, "source_hash": str, "head": str},
    "turns": {
        "id": str, "session_id": str, "parent_id": str, "seq": int, "instruction": str,
        "reasoning": str, "intent": str, "fallback": int, "input_hash": str,
        "output_hash": str, "editor": str, "seed": int, "timings": str, "status": str,
        "created": float, "visited": int,
    },
}
_IMAGE_NAME = re.compile(r"[0-9a-f]{64}\.png|tmp\w+\.tmp")
"""What the store itself writes under images/<2 hex>/: the sweep leaves any other file alone."""
_IMAGE_FOLDER = re.compile(r"[0-9a-f]{2}")
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
"""The last 12 bytes of every whole PNG file: its empty IEND chunk."""


class Store:
    """One folder holding a database and its images. Safe to share between threads."""

    def __init__(
        self, folder: str | Path, *, orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS, read_only: bool | None = None
    ) -> None:
        """``read_only``: open for reading only (sessions can be listed, shown, opened and exported, not
        changed); by default, when the store exists and this process may not write to it (a read-only
        mount, another user's store)."""
        self.folder = Path(folder).expanduser().resolve()
        self.images_folder = self.folder / "images"
        self.read_only = _cannot_write(self.folder) if read_only is None else bool(read_only)
        self.session_owners: object | None = None
        """Who owns which session, for the agent tools (``edit_agent.tools.session_owners``): kept with the store."""
        # One connection per Store, shared by threads: sqlite3 connections are not re-entrant.
        self._lock = threading.RLock()
        self._decoded = shared_decoded_images()
        try:
            if self.read_only:
                self._opened_as = _file_identity(self.folder / DATABASE_NAME)
                connection, self._immutable = _connect_read_only(self.folder / DATABASE_NAME)
                self.db = sqlite_utils.Database(connection)
                self.created = self._prepare_read_only()
                return
            self.images_folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.folder / DATABASE_NAME, timeout=60.0, check_same_thread=False)
            self.db = sqlite_utils.Database(connection)
            self.created = self._prepare()
            self.sweep_orphans(older_than=orphan_grace_seconds)
        except (OSError, sqlite3.DatabaseError) as error:
            advice = FULL_DISK_ADVICE if _is_full_disk(error, self.folder) else \
                "Pass another folder (or set EDIT_AGENT_HOME)."
            raise StoreError(f"Cannot use {self.folder} as a session store: {error}. {advice}") from None

    # --- set-up ------------------------------------------------------------------------------

    def _prepare(self) -> float:
        """Set the database up (checked before anything is written to it); return when it was created."""
        with self._lock:
            self.db.execute("PRAGMA busy_timeout = 60000")
            with self._write():
                had_tables = self._check_schema()
            self.db.enable_wal()
            # FULL: a committed turn survives power loss, not only a killed process.
            self.db.execute("PRAGMA synchronous = FULL")
            with self._write():
                self._create_tables()
                return self._creation_time(fresh=not had_tables)

    def _prepare_read_only(self) -> float:
        with self._reading():
            if not self._check_schema():
                raise StoreError(f"{self.folder} holds no session store to read.")
            if "store_info" not in self.db.table_names():  # a store made before its creation time was kept
                return 0.0
            row = self.db.execute("SELECT value FROM store_info WHERE key = 'created'").fetchone()
            return float(row[0]) if row is not None else 0.0

    def _creation_time(self, *, fresh: bool) -> float:
        """When this database was created: the sweep leaves older image files alone, since no row of this
        database can have written them (they are what is left of a database that was lost). A store made
        before the time was recorded reads 0: every orphan is swept by age, as before."""
        row = self.db.execute("SELECT value FROM store_info WHERE key = 'created'").fetchone()
        if row is None:
            created = time.time() if fresh else 0.0
            self.db.execute("INSERT INTO store_info VALUES ('created', ?)", [repr(created)])
            return created
        return float(row[0])

    def _check_schema(self) -> bool:
        """Refuse a database another program (or a newer edit-agent) made; return whether tables exist."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.folder} was made by a newer edit-agent (store version {version}; this one "
                             f"reads {SCHEMA_VERSION}). Upgrade edit-agent, or pass another folder.")
        tables = set(self.db.table_names())
        if not tables:
            return False
        missing = {name for name, columns in _COLUMNS.items()
                   if name not in tables or not set(columns) <= set(self.db[name].columns_dict)}
        if missing or version != SCHEMA_VERSION:
            raise StoreError(f"{self.folder / DATABASE_NAME} is not an edit-agent session store "
                             "(its tables are not the store's); pass another folder.")
        return True

    def _create_tables(self) -> None:
        self.db["sessions"].create(_COLUMNS["sessions"], pk="id", if_not_exists=True)
        self.db["turns"].create(_COLUMNS["turns"], pk="id", if_not_exists=True)
        self.db["store_info"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        self.db["turns"].create_index(["session_id", "seq"], unique=True, if_not_exists=True)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, taking the database's write lock up front (no upgrade deadlocks)."""
        self.check_writable()
        with self._lock, _database_errors(self.folder):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.rollback()
                raise
            self.db.commit()

    @contextlib.contextmanager
    def one_moment(self) -> Iterator[None]:
        """Reads made inside see the store as of one moment (one read transaction): another process's deletion or
        turn cannot come between them. This thread's other use of the store waits meanwhile."""
        with self._lock, _database_errors(self.folder):
            self.db.execute("BEGIN")
            try:
                yield
            finally:
                self.db.execute("COMMIT")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock, _database_errors(self.folder):
            yield

    def check_writable(self) -> None:
        """Raise the read-only :class:`StoreError` when this store is open read-only."""
        if self.read_only:
            raise StoreError(f"The session store at {self.folder} is open read-only: its sessions can be read "
                             "and exported, not changed. Import one into a store of your own to edit it.")

    def holds_nothing(self) -> bool:
        """Whether the store holds no session and no image file."""
        return not self.list_sessions() and not any(self.images_folder.rglob("*.png"))

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def is_stale(self) -> bool:
        """Whether a store opened read-only no longer reads what is there: its folder may be written now, or,
        read as immutable, its database file changed since (which such a read would not see)."""
        if not self.read_only:
            return False
        changed = self._immutable and _file_identity(self.folder / DATABASE_NAME) != self._opened_as
        return changed or not _cannot_write(self.folder)

    def is_on_disk(self) -> bool:
        """Whether the database file is still there: an open connection outlives a deleted folder
        and would write into the deleted file, where nothing can find it again."""
        return (self.folder / DATABASE_NAME).is_file()

    # --- images ------------------------------------------------------------------------------

    def image_path(self, digest: str) -> Path:
        return self.images_folder / digest[:2] / f"{digest}.png"

    def put_image(self, image: Image.Image, *, keep_decoded: bool = True) -> str:
        """Store ``image`` durably under its content hash and return the hash. ``keep_decoded``: also keep
        its pixels at hand for the next read (off for images written in bulk, such as an import)."""
        self.check_writable()
        digest = image_hash(image)
        path = self.image_path(digest)
        if self.has_whole_image(digest):
            self.mark_in_use(digest)  # about to be named by a row that is not committed yet
            if keep_decoded:  # the new mtime is a new identity: keep the pixels at hand under it
                self._decoded.put(path, image)
            return digest
        self._write_whole(path, lambda: encode_png(image))  # encoded as it is written: a failure is the write's
        if keep_decoded:
            self._decoded.put(path, image)  # most often the next turn's input
        return digest

    def put_png(self, png: bytes, digest: str) -> None:
        """Store a PNG file as it is, under ``digest``: the caller has decoded these very bytes to an image with
        that hash, and they hold a plain 8-bit RGB PNG (see :func:`edit_agent.images.is_plain_rgb_png`), which
        reads back as those pixels. An import writes its images so, without encoding them again."""
        self.check_writable()
        path = self.image_path(digest)
        if self.has_whole_image(digest):
            self.mark_in_use(digest)
            return
        self._write_whole(path, lambda: png)

    def has_whole_image(self, digest: str) -> bool:
        """Whether the file of ``digest`` is there and whole. A file cut short (a disk that filled up, a copy
        that stopped) is written again by the next turn or import that stores these pixels, instead of being
        named by more rows that no later process could read; a cut-short PNG lacks its closing IEND chunk."""
        path = self.image_path(digest)
        try:
            with open(path, "rb") as file:
                file.seek(-len(_PNG_END), os.SEEK_END)
                whole = file.read() == _PNG_END
        except OSError:  # missing, or shorter than the closing chunk itself
            return False
        if not whole:
            self._decoded.discard(path)  # pixels kept under the damaged file's identity would hide it
        return whole

    def _write_whole(self, path: Path, data: Callable[[], bytes]) -> None:
        """Write ``data()`` durably at ``path``: under another name first, so a crash never leaves half a file."""
        try:
            path.parent.mkdir(exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError as error:
            raise self._unwritable(error) from None
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException as error:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            if isinstance(error, OSError):  # a full disk, a read-only folder
                raise self._unwritable(error) from None
            raise
        _fsync_folder(path.parent)

    def mark_in_use(self, digest: str) -> None:
        """Mark a stored image as in use: the sweep and a session's deletion leave recently written files alone,
        so one about to be named by a row that is not committed yet is not deleted meanwhile."""
        with contextlib.suppress(OSError):
            os.utime(self.image_path(digest))

    def _unwritable(self, error: OSError) -> StoreError:
        return StoreError(f"Cannot write an image into the session store at {self.folder}: "
                          f"{error.strerror or error}. Nothing was saved.")

    def load_image(self, digest: str, *, from_file: bool = False) -> Image.Image:
        """The stored image ``digest`` (a copy of its decoded pixels when they are at hand; ``from_file``:
        decoded from its file whatever is at hand, to check the file itself)."""
        path = self.image_path(digest)
        cached = None if from_file else self._decoded.get(path)
        if cached is not None:
            return cached
        try:
            with Image.open(path) as image:
                loaded = image.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise StoreError(f"The stored image {path} cannot be read ({error}); the store is damaged.") from None
        self._decoded.put(path, loaded)
        return loaded

    def lazy_image(self, digest: str) -> Image.Image:
        """The stored image ``digest``, its pixels decoded only once they are used: its size is known at once. A
        session's source image is mostly looked at for its size (a photo is no MICE-World canvas), and a large one
        is not kept decoded (:class:`~edit_agent.decoded_images.DecodedImages`): decoding it at every turn took
        half a second and 150 MB at 40 MP. Close it when done (its file stays open until it is decoded)."""
        path = self.image_path(digest)
        cached = self._decoded.get(path)
        if cached is not None:
            return cached
        if not self.has_whole_image(digest):  # a cut-off file is the store's damage, not whatever decodes it later
            raise StoreError(f"The stored image {path} cannot be read (it is missing or was cut off); the store is "
                             "damaged.")
        try:
            image = Image.open(path)
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise StoreError(f"The stored image {path} cannot be read ({error}); the store is damaged.") from None
        if image.mode != "RGB":  # written by another version: decoded and converted now, as load_image does
            image.close()
            return self.load_image(digest)
        return image

    def sweep_orphans(self, *, older_than: float = ORPHAN_GRACE_SECONDS) -> int:
        """Delete the store's image files no row names (and its stale temporary files); return how many.

        Only files the store writes (``images/<2 hex>/<64 hex>.png`` and its ``.tmp`` files), written
        since this database was created, are candidates: anything else in the folder is not ours to
        delete. Housekeeping only: a file that another process removes meanwhile, or one that cannot be
        removed, is left alone.
        """
        if self.read_only:
            return 0
        with self._reading():
            referenced = self._image_hashes_locked("", "", [])
        cutoff = time.time() - older_than
        removed = 0
        for path in self.images_folder.glob("*/*"):
            if not (_IMAGE_FOLDER.fullmatch(path.parent.name) and _IMAGE_NAME.fullmatch(path.name)):
                continue
            if path.suffix == ".png" and path.stem in referenced:
                continue
            with contextlib.suppress(OSError):
                if path.is_file() and self.created <= path.stat().st_mtime < cutoff:
                    path.unlink()
                    self._decoded.discard(path)
                    removed += 1
        return removed

    # --- sessions ------------------------------------------------------------------------------

    def create_session(self, record: SessionRecord) -> None:
        with self._write():
            self.db["sessions"].insert(_session_row(record))

    def full_session_id(self, given: str) -> str:
        """The id of the session ``given`` names: its id, or the start (at least :data:`MIN_ID_PREFIX`
        characters) of one generated id that no other shares (the app's status line shows ids by their first
        eight). ``UnknownSessionError`` when none matches; ``InvalidArgumentError`` when several do."""
        _check_id(given, UnknownSessionError, "session")
        if self.has_session(given):
            return given
        given = given.strip()  # copied from a page or a terminal with the spaces around it
        if self.has_session(given):
            return given
        matches = self.generated_ids_started_by(given)
        if not matches:
            raise UnknownSessionError(f"No session {given!r} in the store at {self.folder}{self._prefix_hint(given)}.")
        if len(matches) > 1:
            listed = ", ".join(matches[:4]) + (", ..." if len(matches) > 4 else "")
            raise InvalidArgumentError(f"{given!r} starts {len(matches)} session ids ({listed}); give more of the id.")
        return matches[0]

    def generated_ids_started_by(self, given: str) -> list[str]:
        """The generated session ids that ``given`` is the start of (at least :data:`MIN_ID_PREFIX` hex
        characters). Only the start of a generated id: "run-1" must not open a session named "run-10"."""
        if not _ID_PREFIX.fullmatch(given):
            return []
        return [session_id for session_id in self.list_sessions() if _GENERATED_ID.fullmatch(session_id)
                and session_id.startswith(given.lower())]

    def _prefix_hint(self, given: str) -> str:
        """What to give instead, when ``given`` starts an id that it does not open."""
        if not given:
            return " (give a session id: `edit-agent sessions list` shows them)"
        starting = [session_id for session_id in self.list_sessions() if session_id.startswith(given)]
        generated = [session_id for session_id in starting if _GENERATED_ID.fullmatch(session_id)]
        if generated and len(given) < MIN_ID_PREFIX:
            return f" (give at least {MIN_ID_PREFIX} characters of an id, such as {generated[0][:8]!r})"
        chosen = [session_id for session_id in starting if not _GENERATED_ID.fullmatch(session_id)]
        return f" (a chosen id such as {chosen[0]!r} opens only when given whole)" if chosen else ""

    def get_session(self, session_id: str) -> SessionRecord:
        _check_id(session_id, UnknownSessionError, "session")
        with self._reading():
            rows = list(self.db["sessions"].rows_where("id = ?", [session_id]))
        if not rows:
            raise UnknownSessionError(f"No session {session_id!r} in the store at {self.folder}.")
        return _session_record(rows[0])

    def has_session(self, session_id: str) -> bool:
        with self._reading():
            return isinstance(session_id, str) and self._session_exists_locked(session_id)

    def _session_exists_locked(self, session_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is not None

    def delete_session(self, session_id: str) -> int:
        """Delete a session, its turns, and its image files that no other session uses; return how many
        files went. A file written or reused in the last few seconds stays (an edit in progress may be about
        to name it); if nothing names it by then, the orphan sweep removes it later."""
        _check_id(session_id, UnknownSessionError, "session")
        with self._write():
            if not self._session_exists_locked(session_id):
                raise UnknownSessionError(f"No session {session_id!r} in the store at {self.folder}.")
            digests = self._image_hashes_locked("WHERE id = ?", "WHERE session_id = ?", [session_id])
            self.db.execute("DELETE FROM turns WHERE session_id = ?", [session_id])
            self.db.execute("DELETE FROM sessions WHERE id = ?", [session_id])
        # The files go once the rows are gone (a crash in between leaves orphans for the sweep, never a session
        # naming missing files), under the write lock again: an import that names some of them commits either
        # before (they stay, still used) or after, when it finds them gone and writes them again.
        with self._write():
            return self._remove_unused_files(digests - self._image_hashes_locked("", "", []))

    def _remove_unused_files(self, digests: set[str]) -> int:
        recent = time.time() - RECENT_IMAGE_SECONDS
        removed = 0
        for digest in digests:
            path = self.image_path(digest)
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < recent:
                    path.unlink()
                    self._decoded.discard(path)  # a deleted session's pixels do not stay in memory either
                    removed += 1
        return removed

    def _image_hashes_locked(self, sessions_where: str, turns_where: str, parameters: list[str]) -> set[str]:
        digests = {row[0] for row in self.db.execute(f"SELECT source_hash FROM sessions {sessions_where}", parameters)}
        for inputs, outputs in self.db.execute(f"SELECT input_hash, output_hash FROM turns {turns_where}", parameters):
            digests.update((inputs, outputs))
        return digests

    def list_sessions(self) -> list[str]:
        with self._reading():
            return [row[0] for row in self.db.execute("SELECT id FROM sessions ORDER BY created, id")]

    # --- turns ---------------------------------------------------------------------------------

    def turns(self, session_id: str) -> list[TurnRecord]:
        with self._reading():
            rows = list(self.db["turns"].rows_where("session_id = ?", [session_id], order_by="seq"))
        return [_turn_record(row) for row in rows]

    def turns_summary(self, session_id: str) -> TurnsSummary:
        """How many turns a session has, its first instruction and when its last turn was made, read without
        loading every turn (a listing of many long sessions read them all)."""
        with self._reading():
            count, last = self.db.execute(
                "SELECT COUNT(*), MAX(created) FROM turns WHERE session_id = ?", [session_id]).fetchone()
            first = self.db.execute(
                "SELECT instruction FROM turns WHERE session_id = ? ORDER BY seq LIMIT 1", [session_id]).fetchone()
        return TurnsSummary(count=count, first_instruction=first[0] if first else None, last_created=last)

    def get_turn(self, session_id: str, turn_id: str) -> TurnRecord:
        _check_id(turn_id, UnknownTurnError, "turn")
        with self._reading():
            rows = list(self.db["turns"].rows_where("id = ? AND session_id = ?", [turn_id, session_id]))
        if not rows:
            raise UnknownTurnError(f"No turn {turn_id!r} in session {session_id!r}.")
        return _turn_record(rows[0])

    def commit_turn(
        self, turn: TurnRecord, *, expected_head: str | None, new_session: SessionRecord | None = None
    ) -> TurnRecord:
        """Insert ``turn`` and make it the head, atomically; refuse if the head moved meanwhile.

        ``new_session`` is created in the same transaction (a session's first turn), so a failure
        never leaves a session without its turn. Returns the turn with its assigned ``seq``.

        Raises :class:`ImagesGoneError` (nothing stored) when an image it names is no longer whole: one this turn
        found already stored, and marked in use, may have gone meanwhile with the deletion of a session sharing it
        (a turn paused past the grace period, say).
        """
        with self._write():
            named = {turn.input_hash, turn.output_hash} | ({new_session.source_hash} if new_session else set())
            gone = sorted(digest for digest in named if not self.has_whole_image(digest))
            if gone:
                raise ImagesGoneError(gone)
            if new_session is not None:
                if self._session_exists_locked(new_session.id):
                    raise ConcurrentEditError(
                        f"Session {new_session.id} was started by another process during this turn; "
                        "nothing was saved. Try the turn again: it then continues from that session's last turn."
                    )
                self.db["sessions"].insert(_session_row(new_session))
            self._check_head(turn.session_id, expected_head)
            row = _turn_row(turn)
            row["seq"] = self._next_seq_locked(turn.session_id)
            row["visited"] = self._next_visit_locked(turn.session_id)
            self.db["turns"].insert(row)
            self.db["sessions"].update(turn.session_id, {"head": turn.id})
        return turn.model_copy(update={"seq": row["seq"]})

    def import_session(self, session: SessionRecord, turns: list[TurnRecord], visits: list[int] | None = None) -> None:
        """Insert a whole session and its turns in one transaction (images must be stored first). ``turns`` come in
        the order they were last the head; ``visits``, alongside them, marks with 0 those taken back.

        Raises :class:`ImagesGoneError` (nothing imported) when an image it names is no longer whole: a long
        import stores its images well before it commits, and another session's deletion may remove meanwhile
        those it shares."""
        visits = visits if visits is not None else [1] * len(turns)
        named = {session.source_hash} | {digest for turn in turns for digest in (turn.input_hash, turn.output_hash)}
        try:
            with self._write():
                gone = sorted(digest for digest in named if not self.has_whole_image(digest))
                if gone:
                    raise ImagesGoneError(gone)
                self.db["sessions"].insert(_session_row(session))
                for rank, (turn, visit) in enumerate(zip(turns, visits, strict=True), 1):
                    self.db["turns"].insert({**_turn_row(turn), "visited": rank if visit else 0})
        except sqlite3.IntegrityError:
            raise ConcurrentEditError(
                f"Session {session.id} or one of its turn ids was stored by another import meanwhile; "
                "nothing was imported. Import again."
            ) from None

    def existing_turn_ids(self, turn_ids: list[str]) -> set[str]:
        """Which of ``turn_ids`` the store already holds (in any session)."""
        chunks = [turn_ids[start:start + 500] for start in range(0, len(turn_ids), 500)]  # SQLite caps bound variables
        with self._reading():
            return {
                row[0] for chunk in chunks
                for row in self.db.execute(f"SELECT id FROM turns WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            }

    def move_head(self, session_id: str, turn_id: str | None, *, expected_head: str | object | None = ANY_HEAD) -> None:
        """Make ``turn_id`` (``None``: the source image) the head, and remember it and the turns on the way to it as
        the latest visited: redo from any of them then goes back toward it.

        A move relative to the head (undo, redo) passes the head it started from: when another process
        moved it meanwhile, the move is refused rather than made from the wrong place.
        """
        with self._write():
            if expected_head is ANY_HEAD:
                self._head_locked(session_id)  # the session may have been deleted since the caller looked
            else:
                self._check_head(session_id, expected_head)
            if turn_id is not None:
                self._mark_visited_locked(session_id, turn_id)
            self.db["sessions"].update(session_id, {"head": turn_id})

    def _mark_visited_locked(self, session_id: str, turn_id: str) -> None:
        """Give ``turn_id`` and its ancestors the next visit number. Its ancestors too: after a checkout to a turn
        deep in another branch, redo from one of them must go that way, not to a sibling visited in between."""
        self.db.execute(
            # UNION, not UNION ALL: a damaged store's loop of parents ends the walk instead of running forever
            "WITH RECURSIVE path(id) AS (SELECT ? UNION SELECT parent_id FROM turns JOIN path USING (id) "
            "WHERE parent_id IS NOT NULL) UPDATE turns SET visited = ? WHERE session_id = ? AND id IN path",
            [turn_id, self._next_visit_locked(session_id), session_id],
        )

    def take_back(self, session_id: str, turn_id: str) -> None:
        """Mark ``turn_id`` as taken back: redo does not go there until it, or a turn after it, is the head again. (A
        canvas's "undo that" turn, which redo moved back past: going into it again would make the next redo an
        undo.)"""
        with self._write():
            self.db.execute("UPDATE turns SET visited = 0 WHERE session_id = ? AND id = ?", [session_id, turn_id])

    def _head_locked(self, session_id: str) -> str | None:
        """The session's head; :class:`UnknownSessionError` when there is no such session."""
        row = self.db.execute("SELECT head FROM sessions WHERE id = ?", [session_id]).fetchone()
        if row is None:
            raise UnknownSessionError(f"No session {session_id!r} in the store at {self.folder}.")
        return row[0]

    def _check_head(self, session_id: str, expected_head: str | None) -> None:
        if self._head_locked(session_id) != expected_head:
            raise ConcurrentEditError(
                f"Session {session_id} was changed by another process meanwhile; "
                "nothing was saved. Try the turn again: it then continues from where the session now is."
            )

    def next_seq(self, session_id: str) -> int:
        """The number the session's next turn will get (1 for a new session)."""
        with self._reading():
            return self._next_seq_locked(session_id)

    def _next_seq_locked(self, session_id: str) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM turns WHERE session_id = ?", [session_id]).fetchone()
        return (row[0] or 0) + 1

    def _next_visit_locked(self, session_id: str) -> int:
        row = self.db.execute("SELECT MAX(visited) FROM turns WHERE session_id = ?", [session_id]).fetchone()
        return (row[0] or 0) + 1

    def visits(self, session_id: str) -> list[tuple[str, int]]:
        """The session's turn ids with their visit numbers, least recently the head first (what redo follows); 0
        for a turn marked by :meth:`take_back` since it was last the head."""
        with self._reading():
            return [(row[0], row[1]) for row in self.db.execute(
                "SELECT id, visited FROM turns WHERE session_id = ? ORDER BY visited, seq", [session_id])]

    def redo_target(self, session_id: str, head: str | None) -> str | None:
        """The child of ``head`` on the way to where the head most recently was (where redo goes), if any; never one
        marked :meth:`take_back` since."""
        with self._reading():
            condition = "parent_id IS NULL" if head is None else "parent_id = ?"
            params = [session_id] + ([] if head is None else [head])
            row = self.db.execute(
                f"SELECT id FROM turns WHERE session_id = ? AND {condition} AND visited > 0 "
                "ORDER BY visited DESC LIMIT 1",
                params,
            ).fetchone()
        return row[0] if row else None

    def integrity_check(self) -> str:
        with self._lock:
            return self.db.execute("PRAGMA integrity_check").fetchone()[0]


@dataclass(frozen=True)
class TurnsSummary:
    """A session's turns as a listing shows them (see :meth:`Store.turns_summary`)."""

    count: int
    first_instruction: str | None
    last_created: float | None


def branch_to(turns: dict[str, TurnRecord], head: str | None) -> list[TurnRecord]:
    """The turns from the source image to ``head``, oldest first, from a session's turns by id.

    A missing parent or a loop means a damaged store: a :class:`StoreError`, never an endless walk.
    """
    path: list[TurnRecord] = []
    while head is not None:
        if head not in turns or len(path) > len(turns):
            raise StoreError("The turns of a session do not form a tree; the store is damaged.")
        path.append(turns[head])
        head = turns[head].parent_id
    return path[::-1]


def _file_identity(path: Path) -> tuple[int, int, int, bool] | None:
    """What tells a changed database: its inode, size, modification time, and whether a log is beside it."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns, path.with_name(path.name + "-wal").exists()


def _cannot_write(folder: Path) -> bool:
    """Whether an existing store is out of this process's reach for writing (a new one is made writable)."""
    database = folder / DATABASE_NAME
    return database.is_file() and not (os.access(folder, os.W_OK) and os.access(database, os.W_OK))


def _connect_read_only(database: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection that never writes the database (SQLite may keep its shared-memory and log files beside it
    where the folder allows). A store in WAL mode needs that shared-memory file, which a read-only folder may
    lack and cannot get: then the database is read as immutable, which is exact as long as no write-ahead log
    is left over (a writer still open, or one that was killed) and nothing writes it meanwhile; the
    process-wide store (``open_store``) is opened again when the file changes (see ``Store.is_stale``).
    Returns the connection and whether it reads the database as immutable."""
    uri = database.as_uri()
    if not database.is_file():
        raise sqlite3.OperationalError("no database file")
    connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60.0, check_same_thread=False)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection, False
    except sqlite3.OperationalError:
        connection.close()
        log = database.with_name(database.name + "-wal")
        if log.exists() and log.stat().st_size > 0:  # its edits are not in the database file yet
            raise sqlite3.OperationalError(
                f"its folder cannot be written, and {log.name} holds edits that a process which stopped (or is still "
                "open) left to fold into the database; open the store once where its folder can be written, or "
                "wait for that process to end") from None
    connection = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return connection, True


@contextlib.contextmanager
def _database_errors(folder: Path) -> Iterator[None]:
    """A damaged, foreign or full database is a StoreError with the folder, not a raw sqlite3 traceback."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a constraint the caller checks for (a concurrent import)
    except sqlite3.DatabaseError as error:
        advice = f" {FULL_DISK_ADVICE}" if _is_full_disk(error, folder) else ""
        raise StoreError(f"The session store at {folder} cannot be used: {error}.{advice}") from None


FULL_DISK_ADVICE = "The disk is full: free some space there, then try again (nothing was changed)."


def _is_full_disk(error: Exception, folder: Path) -> bool:
    """Whether ``error`` comes of a full disk. SQLite says so ("database or disk is full") only while writing; on
    opening, even to list sessions, it says "disk I/O error", as it cannot grow its shared-memory file: such an
    error, with the disk all but full, is told as one. A damaged database is not, however full its disk."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    name = getattr(error, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or "disk is full" in str(error):
        return True
    if not name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        return False
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


NEARLY_FULL_BYTES = 2**20
"""Free space under which a database error is told as a full disk."""


def shown_session_id(session_id: str) -> str:
    """How a session id is shown (the app's status line, its session list): a generated id by its first eight
    characters, which open it (:meth:`Store.full_session_id`); an id its user chose, in full, since only all of
    it opens it ("run-1" must not open "run-10")."""
    return session_id[:8] if _GENERATED_ID.fullmatch(session_id) else session_id


def _check_id(value: object, error: type[Exception], what: str) -> None:
    # Without this, passing e.g. an EditResult gives sqlite3's "Error binding parameter".
    if not isinstance(value, str):
        hint = " (use its .turn_id)" if what == "turn" and hasattr(value, "turn_id") else ""
        raise error(f"A {what} id is text; got {type(value).__name__}{hint}.")
    if not is_valid_text(value):  # SQLite cannot even bind it; no stored id is like it
        raise error(f"No {what} {value!r}: an id is valid Unicode text.")


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder entry is; not every OS lets us open a folder.
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _session_row(record: SessionRecord) -> dict[str, Any]:
    return {
        "id": record.id, "created": record.created, "settings": json.dumps(record.settings),
        "source_hash": record.source_hash, "head": record.head,
    }


@contextlib.contextmanager
def _stored_record(kind: str, row: dict[str, Any]) -> Iterator[None]:
    try:
        yield
    except (ValueError, TypeError) as error:  # pydantic's ValidationError is a ValueError; so is bad JSON
        raise StoreError(f"The stored {kind} {row.get('id')!r} cannot be read ({one_line(error)}); "
                         "the store is damaged.") from None


def _session_record(row: dict[str, Any]) -> SessionRecord:
    with _stored_record("session", row):
        return SessionRecord(
            id=row["id"], created=row["created"], settings=json.loads(row["settings"]),
            source_hash=row["source_hash"], head=row["head"],
        )


def _turn_row(turn: TurnRecord) -> dict[str, Any]:
    return {
        "id": turn.id, "session_id": turn.session_id, "parent_id": turn.parent_id, "seq": turn.seq,
        "instruction": turn.instruction, "reasoning": turn.reasoning,
        "intent": turn.intent.model_dump_json(), "fallback": int(turn.fallback),
        "input_hash": turn.input_hash, "output_hash": turn.output_hash,
        "editor": turn.editor.model_dump_json(), "seed": turn.seed,
        "timings": json.dumps(turn.timings), "status": turn.status, "created": turn.created,
    }


def _turn_record(row: dict[str, Any]) -> TurnRecord:
    with _stored_record("turn", row):
        return _turn_record_unchecked(row)


def _turn_record_unchecked(row: dict[str, Any]) -> TurnRecord:
    return TurnRecord(
        id=row["id"], session_id=row["session_id"], parent_id=row["parent_id"], seq=row["seq"],
        instruction=row["instruction"], reasoning=row["reasoning"],
        intent=Intent.model_validate_json(row["intent"]), fallback=bool(row["fallback"]),
        input_hash=row["input_hash"], output_hash=row["output_hash"],
        editor=EditorInfo.model_validate_json(row["editor"]), seed=row["seed"],
        timings=json.loads(row["timings"]), status=row["status"], created=row["created"],
    )
