"""Export a session to a folder (``session.jsonl`` + PNGs) and import it back.

The file's first line is the session, each further line one turn::

    {"kind": "session", "id": ..., "created": ..., "settings": {...}, "head": ..., "source": "images/<hash>.png",
     "turns": <how many turn lines follow>}
    {"kind": "turn", "id": ..., "parent_id": ..., "instruction": ..., "input": "images/<hash>.png", "output": ...,
     "visited": <1 for the turn least recently the head; 0 for a canvas's "undo that" turn that redo took back>}

"turns" and "visited" are optional on import (exports made before them read as complete, in file order).
"""

from __future__ import annotations

import contextlib
import filecmp
import functools
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import ValidationError

from edit_agent.errors import (
    CONTROL_CHARACTER,
    ConcurrentEditError,
    EditAgentError,
    ImagesGoneError,
    InvalidArgumentError,
    InvalidExportError,
    InvalidImageError,
    InvalidInstructionError,
    StoreError,
    one_line,
)
from edit_agent.folders import partial_file_beside
from edit_agent.images import (
    STORED_LIMITS,
    ImageLimits,
    declared_size,
    image_hash,
    is_plain_rgb_png,
    load_image,
    read_image_file,
)
from edit_agent.records import MAX_INSTRUCTION_CHARS, SessionRecord, TurnRecord, id_problem
from edit_agent.store import Store

EXPORT_FILE = "session.jsonl"


def export_session(store: Store, session_id: str, folder: Path) -> Path:
    """Write the session's records and images under ``folder``; return the JSONL file's path.

    A folder that already holds another session's export is refused rather than mixed with it;
    exporting the same session again refreshes it.
    """
    with store.one_moment():  # a deletion meanwhile would leave a session line naming turns the export lacks
        session = store.get_session(session_id)
        turns = store.turns(session_id)
        visited = _visit_ranks(store, session_id)
    path = folder / EXPORT_FILE
    _check_export_target(folder, session.id)
    # An image the folder already holds byte for byte was checked when it was copied: exporting again after each
    # turn checks and copies only the new ones.
    to_copy = [digest for digest in _hashes(session, turns)
               if not _same_bytes(store.image_path(digest), folder / exported_image_name(digest))]
    for digest in to_copy:  # an export of a damaged store would only fail later, at its import
        if image_hash(store.load_image(digest, from_file=True)) != digest:  # the file it copies
            raise StoreError(f"The stored image {store.image_path(digest)} does not match its content hash; "
                             "the store is damaged.")
    lines = [_session_line(session, len(turns))] + [_turn_line(turn, visited[turn.id]) for turn in turns]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    try:
        (folder / "images").mkdir(parents=True, exist_ok=True)
        for digest in to_copy:
            _write_whole(folder / exported_image_name(digest), functools.partial(shutil.copyfile, store.image_path(digest)))
        _write_whole(path, lambda partial: partial.write_text(text, encoding="utf-8"))
    except OSError as error:  # a full disk, no permission: not the caller's argument, but still one clear error
        culprit = error.filename2 or error.filename  # a rename's target, where it failed onto one
        at = f" ({culprit})" if culprit and str(culprit) != str(folder) else ""
        raise EditAgentError(f"Cannot write the export to {folder}: {error.strerror or error}{at}.") from None
    return path


def _write_whole(target: Path, write: Callable[[Path], object]) -> None:
    """Make ``target`` the file ``write`` writes at the path it is given: a new file of its own beside ``target``,
    renamed over it once whole. A full disk never leaves half a file, two exports to one folder never write into
    each other's, and a symbolic link planted at ``target`` is replaced, never written through (writing at its name
    would overwrite whatever file it points to)."""
    partial = None
    try:
        partial = partial_file_beside(target)
        write(partial)
        os.replace(partial, target)
    except BaseException as error:  # an interrupt too: no temporary file is left behind
        with contextlib.suppress(OSError):
            if partial is not None:
                partial.unlink(missing_ok=True)
        if isinstance(error, OSError):  # named by the file being written: the temporary name means nothing to a user
            raise OSError(error.errno, error.strerror, str(target)) from None
        raise


def _same_bytes(source: Path, target: Path) -> bool:
    """Whether ``target`` is a copy of ``source``, byte for byte (a copy cut short or damaged is copied again; a
    symbolic link is replaced by a copy, so that the export holds its own files)."""
    try:
        return not target.is_symlink() and target.is_file() and filecmp.cmp(source, target, shallow=False)
    except OSError:  # the store's file is missing: the check that copies it says so
        return False


def exported_session_id(folder: Path) -> str | None:
    """The id of the session exported in ``folder``; ``None`` when it holds no export (or an empty
    file, an export cut short). An export file that cannot be read is refused, never overwritten."""
    existing = folder / EXPORT_FILE
    if not existing.is_file() or existing.stat().st_size == 0:
        return None
    try:
        first = json.loads(existing.read_text(encoding="utf-8").split("\n", 1)[0])
        session_id = first.get("id") if isinstance(first, dict) else None
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's parser goes
        session_id = None
    if not isinstance(session_id, str):
        raise InvalidArgumentError(f"{existing} is there but cannot be read; choose an empty folder.")
    return session_id


def _check_export_target(folder: Path, session_id: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise InvalidArgumentError(f"Cannot export to {folder}: it is a file, not a folder.")
    if (folder / "images").is_symlink():  # the images would be written wherever it points
        raise InvalidArgumentError(f"Cannot export to {folder}: its images folder is a symbolic link; "
                                   "choose an empty folder.")
    existing_id = exported_session_id(folder)
    if existing_id is not None and existing_id != session_id:
        raise InvalidArgumentError(
            f"{folder} already holds an export of another session ({existing_id}); choose an empty folder."
        )


RECORDED_OPTIONS = ("reasoner_options", "editor_options")
"""Session settings that name files on the machine that made the session (see ``EditSession``)."""


DEFAULT_MAX_IMPORT_PIXELS = 8_000_000_000
"""Most pixels the images an import stores may hold together: 200 turns that each edit a new 4096x4096 photo hold
6.7 billion. Each image is decoded to be checked, at about 15 ms a megapixel, so without a bound a zip of a few MB of
huge, flat PNGs kept an import busy for as long as it liked (five 9459x9459 ones in 1.3 MB took 13 s; the app takes
zips of up to 1 GiB). This bound is a couple of minutes."""


def import_session(
    store: Store, folder: Path, *, new_id: str | None = None, image_limits: ImageLimits = STORED_LIMITS,
    max_pixels: int = DEFAULT_MAX_IMPORT_PIXELS,
) -> str:
    """Import an export folder into ``store`` in one transaction; return the session id.

    Records and images are all checked before anything is written to the store; images are held to
    ``image_limits`` (by default :data:`STORED_LIMITS`, which every image a session stores fits), and the
    images it stores (those the store lacks) to ``max_pixels`` in all, read from their headers first.
    ``new_id`` gives the session that id and its turns fresh ones (the app claims the id before the
    import commits); by default the export's ids are kept unless the store already holds one of them.
    """
    if new_id is not None:
        _check_new_id(new_id, store)
    session, turns, visits = _read_export(folder)
    digests = sorted(_hashes(session, turns))
    missing = [digest for digest in digests if not store.has_whole_image(digest)]
    _check_total_pixels(folder, missing, image_limits, max_pixels)
    for digest in set(digests) - set(missing):  # another session's images this one will name too
        store.mark_in_use(digest)
    _store_images(store, folder, missing, image_limits)
    if new_id is not None or store.has_session(session.id) or store.existing_turn_ids([turn.id for turn in turns]) \
            or not _printable_ids(session, turns) or store.generated_ids_started_by(session.id):  # see session.py
        session, turns = _with_fresh_ids(session, turns, new_id or uuid.uuid4().hex)
    try:
        _commit_import(store, folder, (session, turns, visits), image_limits)
    except ConcurrentEditError:
        if new_id is not None:
            raise
        # Another import of the same export took its ids between the check and the commit: fresh ones, as
        # for any export whose ids are taken.
        session, turns = _with_fresh_ids(session, turns, uuid.uuid4().hex)
        _commit_import(store, folder, (session, turns, visits), image_limits)
    return session.id


def _store_images(store: Store, folder: Path, digests: list[str], image_limits: ImageLimits) -> None:
    """Write the export's images ``digests`` into the store. One image at a time, so a long session's images need
    not fit in memory; all of them are checked before the first is written, so a refused import leaves no image
    behind. A plain RGB PNG (what every export of a store holds) is written as it is: the bytes checked, not
    decoded and encoded again."""
    checked = {digest: _load_checked(folder, digest, image_limits) for digest in digests}
    for digest, plain_file in checked.items():
        data = _read_image_file(folder, digest, image_limits)
        if plain_file is not None and hashlib.sha256(data).digest() == plain_file:
            store.put_png(data, digest)
        else:  # another PNG (a profile, a palette...), or a file changed since it was checked: the pixels
            store.put_image(_checked_pixels(folder, digest, data, image_limits), keep_decoded=False)


def _check_total_pixels(folder: Path, digests: list[str], limits: ImageLimits, max_pixels: int) -> None:
    """Refuse images ``digests`` that hold more than ``max_pixels`` together, from their headers: before any is
    decoded, so that the refusal costs next to nothing."""
    total = 0
    for digest in digests:
        data = _read_image_file(folder, digest, limits)
        try:
            width, height = declared_size(data)
        except InvalidImageError as error:
            raise InvalidImageError(f"{folder / exported_image_name(digest)}: {error}") from None
        total += width * height
    if total > max_pixels:
        raise InvalidExportError(f"{folder}: the {len(digests)} images it would store hold {_pixels(total)}; an import "
                                 f"takes at most {_pixels(max_pixels)}, since each is decoded to be checked.")


def _pixels(count: int) -> str:
    return f"{count / 1e6:,.1f} million pixels" if count >= 1_000_000 else f"{count:,} pixels"


IMPORT_ATTEMPTS = 3
"""Commits an import tries when images it shares with another session go with that session's deletion meanwhile."""


def _commit_import(store: Store, folder: Path, records: tuple[SessionRecord, list[TurnRecord], list[int]],
                   image_limits: ImageLimits) -> None:
    """Commit the session's records; images that another session's deletion removed since they were stored are
    written again from the export (which holds every one), and the commit tried again."""
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            store.import_session(*records)
            return
        except ImagesGoneError as gone:
            if attempt == IMPORT_ATTEMPTS:
                raise
            _store_images(store, folder, gone.digests, image_limits)


def check_export(folder: Path) -> None:
    """Refuse, as an import would, an export folder whose records are not valid (its images are read then)."""
    _read_export(folder)


def named_images(text: bytes) -> set[str]:
    """The hashes of the images an export file's lines name (its source, each turn's input and output).
    Text that is not an export's yields what it can; the import that reads it refuses it with the reason."""
    digests = set()
    for line in text.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # a zip import would report a RecursionError as a damaged zip
            continue
        for key in ("source", "input", "output") if isinstance(record, dict) else ():
            with contextlib.suppress(TypeError):
                digests.add(_digest(record.get(key)))
    return digests


def exported_image_name(digest: str) -> str:
    """Where an export keeps the image with this hash, relative to its folder."""
    return f"images/{digest}.png"


def _session_line(session: SessionRecord, n_turns: int) -> dict[str, Any]:
    data = session.model_dump(exclude={"source_hash"})
    # "turns": a file cut short at a line boundary still reads as JSON Lines; the count tells.
    return {"kind": "session", **data, "source": exported_image_name(session.source_hash), "turns": n_turns}


def _turn_line(turn: TurnRecord, visited: int) -> dict[str, Any]:
    data = turn.model_dump(mode="json", exclude={"input_hash", "output_hash"})
    # "visited": the order the turns were last the head in, which is where redo goes.
    return {"kind": "turn", **data, "input": exported_image_name(turn.input_hash),
            "output": exported_image_name(turn.output_hash), "visited": visited}


def _read_export(folder: Path) -> tuple[SessionRecord, list[TurnRecord], list[int]]:
    """The session and its turns (in the order they were last the head, seq renumbered from 1), checked, and
    their "visited" numbers alongside (0: taken back)."""
    path = folder / EXPORT_FILE
    if not path.is_file():
        raise InvalidExportError(f"{folder} has no {EXPORT_FILE}; it is not a session export.")
    lines = _json_lines(path)
    try:
        if not lines or not isinstance(lines[0], dict) or lines[0].get("kind") != "session":
            raise InvalidExportError(f"{path} must start with a session line.")
        header = lines[0]
        session = SessionRecord(**_without(header, "kind", "source", "turns"), source_hash=_digest(header["source"]))
        if any(not isinstance(line, dict) or line.get("kind") != "turn" for line in lines[1:]):
            raise InvalidExportError(f"{path}: every line after the first must be a turn line (kind: turn).")
        turns = [
            TurnRecord(**_without(line, "kind", "input", "output", "visited"),
                       input_hash=_digest(line["input"]), output_hash=_digest(line["output"]))
            for line in lines[1:]
        ]
        visits = [line.get("visited", number) for number, line in enumerate(lines[1:], 1)]
        if not all(isinstance(visit, int) and not isinstance(visit, bool) and visit >= 0 for visit in visits):
            raise TypeError("visited must be a whole number, 0 or more")
    except (ValidationError, KeyError, TypeError, AttributeError) as error:
        raise InvalidExportError(f"{path} is not a valid session export: {one_line(error)}") from None
    written = header.get("turns", len(turns))
    if isinstance(written, int) and len(turns) < written:
        raise InvalidExportError(f"{path} holds {len(turns)} of the {written} turns it was written with; "
                                 "the file was cut short.")
    if not all(isinstance(session.settings.get(kind), str) and session.settings[kind] for kind in ("reasoner", "editor")):
        raise InvalidExportError(f"{path}: the session's settings must name its reasoner and editor.")
    _check_shown_text(session, turns, path)
    _check_tree(session, turns, path)
    if written != len(turns):
        raise InvalidExportError(f"{path} says it holds {written!r} turns but holds {len(turns)}.")
    _check_turns(turns, path)
    renumbered = {turn.id: number for number, turn in enumerate(sorted(turns, key=lambda t: t.seq), 1)}
    turns = [turn.model_copy(update={"seq": renumbered[turn.id]}) for turn in turns]
    # The exporter's model paths and adapters are theirs: an imported session reopens with the backend
    # names only, and what this machine builds for them.
    settings = {key: value for key, value in session.settings.items() if key not in RECORDED_OPTIONS}
    session = session.model_copy(update={"settings": settings})
    in_visit_order = sorted(zip(visits, turns, strict=True), key=lambda pair: pair[0])
    return session, [turn for _, turn in in_visit_order], [visit for visit, _ in in_visit_order]


def _visit_ranks(store: Store, session_id: str) -> dict[str, int]:
    """Each turn's place in the order the turns were last the head, from 1; 0 for a turn taken back (redo does not
    go there: see ``Store.take_back``)."""
    visits = store.visits(session_id)
    ranked = [turn_id for turn_id, visit in visits if visit > 0]
    return {**{turn_id: 0 for turn_id, visit in visits if visit == 0},
            **{turn_id: rank for rank, turn_id in enumerate(ranked, 1)}}


def _json_lines(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as error:  # ValueError: not UTF-8
        raise InvalidExportError(f"{path} cannot be read as UTF-8 text: {one_line(error)}") from None
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError as error:
                raise InvalidExportError(f"{path}, line {number}: not JSON ({error.msg}).") from None
            except RecursionError:  # Python's parser gives up nesting long before a line ends
                raise InvalidExportError(f"{path}, line {number}: its JSON nests too deeply to read.") from None
    return lines


def _check_turns(turns: list[TurnRecord], path: Path) -> None:
    """What the SDK would have written: instructions a turn takes. (A turn's input may be a new image,
    not its parent's result: ``edit(image, ...)`` after the first turn does that.)"""
    from edit_agent.session import validate_instruction  # here: the session module imports this one

    for turn in turns:
        if not turn.instruction.strip() or len(turn.instruction) > MAX_INSTRUCTION_CHARS:
            raise InvalidExportError(f"{path}: turn {turn.id!r} has an empty instruction or one over "
                                     f"{MAX_INSTRUCTION_CHARS} characters.")
        try:  # what the SDK refuses when typed is refused when imported: it is shown as stored
            validate_instruction(turn.instruction)
        except InvalidInstructionError as error:
            raise InvalidExportError(f"{path}: turn {turn.id!r}: {error}") from None


def _check_shown_text(session: SessionRecord, turns: list[TurnRecord], path: Path) -> None:
    """Settings and backend names are printed as they are (`sessions show`, the app): an escape code in one
    would reach the terminal, a line break would forge a line. The SDK writes neither."""
    shown = [*session.settings, *session.settings.values(), *(turn.editor.backend for turn in turns)]
    bad = next((text for text in shown if not isinstance(text, str) or CONTROL_CHARACTER.search(text)
                or "\n" in text or "\r" in text), None)
    if bad is not None:
        raise InvalidExportError(f"{path}: a setting or backend name holds control characters ({bad!r}); the SDK "
                                 "writes none, so the file was changed.")


def _printable_ids(session: SessionRecord, turns: list[TurnRecord]) -> bool:
    """Whether the ids can be kept: `sessions list` and the app show them as they are, so ids with escape codes or
    line breaks (or an older version's over-long chosen ids) are imported under fresh ones, as taken ids are."""
    return all(id_problem(value) is None for value in [session.id, *(turn.id for turn in turns)])


def _check_tree(session: SessionRecord, turns: list[TurnRecord], path: Path) -> None:
    parents = {turn.id: turn.parent_id for turn in turns}
    if len(parents) != len(turns) or len({turn.seq for turn in turns}) != len(turns):
        raise InvalidExportError(f"{path} repeats a turn id or a turn number (seq).")
    dangling = [t.id for t in turns if t.parent_id is not None and t.parent_id not in parents]
    if dangling or (session.head is not None and session.head not in parents):
        raise InvalidExportError(f"{path} refers to turns it does not contain: {dangling or [session.head]}.")
    if any(turn.session_id != session.id for turn in turns):
        raise InvalidExportError(f"{path} mixes turns of several sessions.")
    rooted: set[str] = set()  # turns already known to lead to the source: each is walked once
    for turn_id in parents:
        walked: set[str] = set()
        current: str | None = turn_id
        while current is not None and current not in rooted:
            if current in walked:
                raise InvalidExportError(f"{path} is not a tree: the ancestors of turn {turn_id!r} loop.")
            walked.add(current)
            current = parents[current]
        rooted.update(walked)


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


_EXPORTED_IMAGE_NAME = re.compile(r"images/([0-9a-f]{64})\.png")


def _digest(name: object) -> str:
    """The content hash an export's image name carries; anything else is not a name this format writes
    (and a made-up one could be a path the file system refuses, or one outside the export)."""
    matched = _EXPORTED_IMAGE_NAME.fullmatch(name) if isinstance(name, str) else None
    if matched is None:
        # A TypeError, as a wrong JSON type is: the caller reports both as an invalid export, with its path.
        raise TypeError(f"{str(name)[:80]!r} is not an image name of an export (images/<64 hex digits>.png)")
    return matched.group(1)


def _hashes(session: SessionRecord, turns: list[TurnRecord]) -> set[str]:
    return {session.source_hash} | {h for t in turns for h in (t.input_hash, t.output_hash)}


def _load_checked(folder: Path, digest: str, limits: ImageLimits) -> bytes | None:
    """Check that the export's image ``digest`` decodes, within ``limits``, to pixels of that hash; return the
    SHA-256 of its bytes when it is a plain RGB PNG (which may be stored as it is), else None."""
    data = _read_image_file(folder, digest, limits)
    _checked_pixels(folder, digest, data, limits)
    return hashlib.sha256(data).digest() if is_plain_rgb_png(data) else None


def _read_image_file(folder: Path, digest: str, limits: ImageLimits) -> bytes:
    path = folder / exported_image_name(digest)
    if path.exists() and not path.is_file():  # a named pipe would block the import for ever
        raise InvalidExportError(f"{path} is not a regular file.")
    return read_image_file(path, limits)


def _checked_pixels(folder: Path, digest: str, data: bytes, limits: ImageLimits) -> Image.Image:
    path = folder / exported_image_name(digest)
    try:
        image = load_image(data, limits=limits)
    except InvalidImageError as error:
        raise InvalidImageError(f"{path}: {error}") from None  # which of the session's images it is
    if image_hash(image) != digest:
        raise InvalidImageError(f"{path} does not match its recorded content hash.")
    return image


def _check_new_id(new_id: object, store: Store) -> None:
    if not isinstance(new_id, str) or not _SESSION_ID.fullmatch(new_id):
        raise InvalidArgumentError(f"new_id must be 32 lowercase hex digits, like the ids sessions get: {new_id!r}.")
    if store.has_session(new_id):
        raise InvalidArgumentError(f"The store already holds a session {new_id}.")


_SESSION_ID = re.compile(r"[0-9a-f]{32}")


def _with_fresh_ids(
    session: SessionRecord, turns: list[TurnRecord], new_session_id: str
) -> tuple[SessionRecord, list[TurnRecord]]:
    new_ids = {turn.id: uuid.uuid4().hex[:16] for turn in turns}
    renamed = [
        turn.model_copy(update={
            "id": new_ids[turn.id], "session_id": new_session_id,
            "parent_id": new_ids.get(turn.parent_id) if turn.parent_id else None,
        })
        for turn in turns
    ]
    head = new_ids[session.head] if session.head else None
    return session.model_copy(update={"id": new_session_id, "head": head}), renamed
