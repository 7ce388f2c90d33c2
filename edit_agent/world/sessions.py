"""Session files (JSON Lines, one session a line): the docs/world.md format and Edit-R2/EDiVal photo rows.

>>> import io
>>> line = '{"id": "s1", "start": {"background": "white", "objects": []}, "turns": [{"instruction": "add a circle"}]}'
>>> [session] = read_sessions(io.StringIO(line))
>>> complete(session).turns[0].target.objects[0].describe()
'large red circle at the top left'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edit_agent.errors import EditAgentError, is_valid_text, one_line
from edit_agent.records import MAX_INSTRUCTION_CHARS
from edit_agent.world.scene import Scene

if TYPE_CHECKING:
    from edit_agent.world.interpreter import TurnOutcome


class SessionFileError(EditAgentError, ValueError):
    """A session file cannot be read; the message names the line and what is wrong."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorldTurn(_Frozen):
    instruction: str = Field(max_length=MAX_INSTRUCTION_CHARS)
    task_type: str | None = None
    """Computed by the interpreter when absent."""
    target: Scene | None = None
    """The ground truth when given; otherwise the interpreter computes it."""


class WorldSession(_Frozen):
    kind: str = "world"
    id: str
    start: Scene
    turns: tuple[WorldTurn, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id_is_valid_text(cls, value: str) -> str:
        if not is_valid_text(value):  # it becomes turn ids and file names; a lone surrogate breaks both later
            raise ValueError("the id is not valid Unicode text (it holds a lone surrogate)")
        return value

    def to_json(self) -> str:
        """One line of a session file; ``task_type`` and ``target`` are always written."""
        turns = [
            {"instruction": t.instruction, "task_type": t.task_type, "target": t.target.to_dict() if t.target else None}
            for t in self.turns
        ]
        return json.dumps({"id": self.id, "start": self.start.to_dict(), "turns": turns})


class PhotoTurn(_Frozen):
    instruction: str
    task_type: str | None = None
    formatted_instruction: str | None = None
    unchanged_objects: Any = None
    all_objects: Any = None


class PhotoSession(_Frozen):
    """An Edit-R2/EDiVal row: one source photo and parallel per-turn lists."""

    kind: str = "photo"
    id: str
    source_image: str
    """Path of the source photo (resolved against the session file's folder when relative)."""
    turns: tuple[PhotoTurn, ...]


SOURCE_KEYS = ("source_image", "image", "image_path", "input_image", "source", "img_path", "path", "image_file")
ID_KEYS = ("id", "session_id", "image_id", "key", "uid")
PARALLEL_KEYS = ("instruction", "task_type", "formatted_instruction", "unchanged_objects", "all_objects")


def read_sessions(source: str | Path | IO[str]) -> list[WorldSession | PhotoSession]:
    """Read a session file (path or open text stream). Blank lines are skipped."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise SessionFileError(f"No session file at {path}.")
        try:
            with path.open(encoding="utf-8-sig") as stream:  # -sig: a byte-order mark some editors write
                return _read_lines(stream, base=path.parent)
        except UnicodeDecodeError:
            raise SessionFileError(f"{path} is not a UTF-8 text file of JSON lines.") from None
    return _read_lines(source, base=Path("."))


def read_world_sessions(source: str | Path | IO[str]) -> list[WorldSession]:
    sessions = read_sessions(source)
    photo = [s.id for s in sessions if isinstance(s, PhotoSession)]
    if photo:
        raise SessionFileError(f"Expected MICE-World sessions; {len(photo)} are photo rows (first: {photo[0]!r}).")
    return sessions  # type: ignore[return-value]


def _read_lines(stream: Iterable[str], base: Path) -> list[WorldSession | PhotoSession]:
    sessions: list[WorldSession | PhotoSession] = []
    first_line: dict[str, int] = {}  # id -> line: a repeated id would make the per-turn rows ambiguous
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError("a line must be a JSON object")
            sessions.append(parse_row(row, base=base, default_id=f"line-{number}"))
        except (ValueError, TypeError, ValidationError) as error:
            raise SessionFileError(f"Session file line {number}: {one_line(error)}") from None
        session_id = sessions[-1].id
        if session_id in first_line:
            raise SessionFileError(f"Session file line {number}: the id {session_id!r} is used already, on line "
                                   f"{first_line[session_id]}; each session needs its own.")
        first_line[session_id] = number
    return sessions


def parse_row(row: dict[str, Any], *, base: Path = Path("."), default_id: str = "session") -> WorldSession | PhotoSession:
    if "start" in row:
        return WorldSession.model_validate(row)
    if isinstance(row.get("instruction"), list):
        return _photo_row(row, base, default_id)
    raise ValueError("neither a MICE-World session (no 'start') nor an Edit-R2/EDiVal row (no 'instruction' list)")


def _photo_row(row: dict[str, Any], base: Path, default_id: str) -> PhotoSession:
    source = next((row[k] for k in SOURCE_KEYS if isinstance(row.get(k), str)), None)
    if source is None:
        raise ValueError(f"an Edit-R2/EDiVal row needs a source image path under one of: {', '.join(SOURCE_KEYS)}")
    n_turns = len(row["instruction"])
    columns = {}
    for key in PARALLEL_KEYS:
        values = row.get(key)
        if values is None:
            values = [None] * n_turns
        if not isinstance(values, list) or len(values) != n_turns:
            raise ValueError(f"{key!r} must be a list as long as 'instruction' ({n_turns})")
        columns[key] = values
    turns = tuple(PhotoTurn(**{key: columns[key][i] for key in PARALLEL_KEYS}) for i in range(n_turns))
    session_id = next((str(row[k]) for k in ID_KEYS if row.get(k) is not None), default_id)
    path = Path(source)
    return PhotoSession(id=session_id, source_image=str(path if path.is_absolute() else base / path), turns=turns)


def turn_outcomes(session: WorldSession) -> Iterator[TurnOutcome | None]:
    """The interpreter's outcome of each turn in order, or None for a turn not in the world's words that the file
    gives the target of (a file from elsewhere need not be in our words). The interpreter's state then misses that
    turn, so every later turn is None too and needs its target in the file; a turn that could not be scored raises
    an error naming the session and the turn."""
    from edit_agent.world.interpreter import WorldInterpreter
    from edit_agent.world.language import WorldLanguageError

    world, unread = WorldInterpreter(session.start), 0
    for index, turn in enumerate(session.turns, 1):
        if unread and turn.target is None:
            raise WorldLanguageError(f"Session {session.id}, turn {index}: turn {unread} could not be read, so this "
                                     "turn needs its target in the file.")
        if unread:
            yield None
            continue
        try:
            outcome = world.step(turn.instruction)
        except WorldLanguageError as error:
            if turn.target is None:
                raise WorldLanguageError(f"Session {session.id}, turn {index}: {error}") from None
            unread = index
            outcome = None
        yield outcome


UNREAD_TASK_TYPE = "unread"
"""The ``task_type`` of a turn the interpreter cannot read and the file gives none for (what evaluation writes)."""


def complete(session: WorldSession) -> WorldSession:
    """The session with every turn's ``task_type`` and ``target`` filled (given ones are kept); a turn not in the
    world's words keeps the file's target (see :func:`turn_outcomes`), as evaluation scores it, and its
    ``task_type`` or else :data:`UNREAD_TASK_TYPE`: what kind of edit it is cannot be told, and output always has one."""
    turns = tuple(
        turn.model_copy(update={"task_type": turn.task_type or UNREAD_TASK_TYPE}) if outcome is None else
        WorldTurn(instruction=turn.instruction, task_type=turn.task_type or outcome.task_type,
                  target=turn.target or outcome.target)
        for turn, outcome in zip(session.turns, turn_outcomes(session))
    )
    return session.model_copy(update={"turns": turns})


def write_sessions(sessions: Iterable[WorldSession], stream: IO[str]) -> int:
    """Write complete sessions, one a line; returns how many were written."""
    count = 0
    for session in sessions:
        stream.write(complete(session).to_json() + "\n")
        count += 1
    return count
