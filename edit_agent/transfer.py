"""Export a session to a folder (``session.jsonl`` + PNGs) and import it back.

The file's first line is the session, each further line one turn::

    {"kind": "session", "id": ..., "created": ..., "settings": {...}, "head": ..., "source": "images/<hash>.png"}
    {"kind": "turn", "id": ..., "parent_id": ..., "instruction": ..., "input": "images/<hash>.png", "output": ...}
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edit_agent.errors import EditAgentError, InvalidArgumentError, InvalidExportError, InvalidImageError, StoreError
from edit_agent.images import STORED_LIMITS, image_hash, load_image
from edit_agent.records import SessionRecord, TurnRecord
from edit_agent.store import Store

EXPORT_FILE = "session.jsonl"


def export_session(store: Store, session_id: str, folder: Path) -> Path:
    """Write the session's records and images under ``folder``; return the JSONL file's path.

    A folder that already holds another session's export is refused rather than mixed with it;
    exporting the same session again refreshes it.
    """
    session = store.get_session(session_id)
    turns = store.turns(session_id)
    path = folder / EXPORT_FILE
    _check_export_target(folder, session.id)
    digests = _hashes(session, turns)
    missing = [digest for digest in digests if not store.image_path(digest).is_file()]
    if missing:
        raise StoreError(f"The stored image {store.image_path(missing[0])} is missing; the store is damaged.")
    try:
        (folder / "images").mkdir(parents=True, exist_ok=True)
        for digest in digests:
            shutil.copyfile(store.image_path(digest), folder / _image_name(digest))
        lines = [_session_line(session)] + [_turn_line(turn) for turn in turns]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    except OSError as error:  # a full disk, no permission: not the caller's argument, but still one clear error
        raise EditAgentError(f"Cannot write the export to {folder}: {error.strerror or error}.") from None
    return path


def exported_session_id(folder: Path) -> str | None:
    """The id of the session exported in ``folder``; ``None`` when it holds no export (or an empty
    file, an export cut short). An export file that cannot be read is refused, never overwritten."""
    existing = folder / EXPORT_FILE
    if not existing.is_file() or existing.stat().st_size == 0:
        return None
    try:
        first = json.loads(existing.read_text(encoding="utf-8").split("\n", 1)[0])
        session_id = first.get("id") if isinstance(first, dict) else None
    except (OSError, ValueError):
        session_id = None
    if not isinstance(session_id, str):
        raise InvalidArgumentError(f"{existing} is there but cannot be read; choose an empty folder.")
    return session_id


def _check_export_target(folder: Path, session_id: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise InvalidArgumentError(f"Cannot export to {folder}: it is a file, not a folder.")
    existing_id = exported_session_id(folder)
    if existing_id is not None and existing_id != session_id:
        raise InvalidArgumentError(
            f"{folder} already holds an export of another session ({existing_id}); choose an empty folder."
        )


def import_session(store: Store, folder: Path) -> str:
    """Import an export folder into ``store`` in one transaction; return the session id.

    Records and images are all checked before anything is written to the store; images are
    held to :data:`STORED_LIMITS`, which every image a session stores fits.
    """
    session, turns = _read_export(folder)
    images = {digest: _load_checked(folder, digest) for digest in _hashes(session, turns)}
    if store.has_session(session.id) or store.existing_turn_ids([turn.id for turn in turns]):
        session, turns = _with_fresh_ids(session, turns)
    for image in images.values():
        store.put_image(image)
    store.import_session(session, turns)
    return session.id


def _image_name(digest: str) -> str:
    return f"images/{digest}.png"


def _session_line(session: SessionRecord) -> dict[str, Any]:
    data = session.model_dump(exclude={"source_hash"})
    return {"kind": "session", **data, "source": _image_name(session.source_hash)}


def _turn_line(turn: TurnRecord) -> dict[str, Any]:
    data = turn.model_dump(mode="json", exclude={"input_hash", "output_hash"})
    return {"kind": "turn", **data, "input": _image_name(turn.input_hash), "output": _image_name(turn.output_hash)}


def _read_export(folder: Path) -> tuple[SessionRecord, list[TurnRecord]]:
    path = folder / EXPORT_FILE
    if not path.is_file():
        raise InvalidExportError(f"{folder} has no {EXPORT_FILE}; it is not a session export.")
    try:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines or lines[0].get("kind") != "session":
            raise InvalidExportError(f"{path} must start with a session line.")
        session = SessionRecord(**_without(lines[0], "kind", "source"), source_hash=_digest(lines[0]["source"]))
        turns = [
            TurnRecord(**_without(line, "kind", "input", "output"),
                       input_hash=_digest(line["input"]), output_hash=_digest(line["output"]))
            for line in lines[1:]
        ]
    except (ValueError, ValidationError, KeyError, TypeError, AttributeError) as error:  # ValueError: also bad UTF-8
        raise InvalidExportError(f"{path} is not a valid session export: {error}") from None
    _check_tree(session, turns, path)
    return session, turns


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
                raise InvalidExportError(f"{path} is not a tree: the ancestors of turn {turn_id} loop.")
            walked.add(current)
            current = parents[current]
        rooted.update(walked)


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def _digest(name: str) -> str:
    return Path(name).name.removesuffix(".png")


def _hashes(session: SessionRecord, turns: list[TurnRecord]) -> set[str]:
    return {session.source_hash} | {h for t in turns for h in (t.input_hash, t.output_hash)}


def _load_checked(folder: Path, digest: str):
    image = load_image(folder / _image_name(digest), limits=STORED_LIMITS)
    if image_hash(image) != digest:
        raise InvalidImageError(f"{folder / _image_name(digest)} does not match its recorded content hash.")
    return image


def _with_fresh_ids(session: SessionRecord, turns: list[TurnRecord]) -> tuple[SessionRecord, list[TurnRecord]]:
    new_session_id = uuid.uuid4().hex
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
