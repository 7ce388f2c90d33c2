"""Typed records that cross module boundaries: intents, reasoner output, turns and results."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from edit_agent.errors import CONTROL_CHARACTER, is_blank, is_valid_text

SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds are stored as SQLite integers: signed 64-bit."""


def seeds_fit(first: int, last: int) -> bool:
    """Whether every seed from ``first`` to ``last`` (a run of turns, seed + t each) can be stored."""
    return SEED_RANGE[0] <= min(first, last) and max(first, last) <= SEED_RANGE[1]

MAX_INSTRUCTION_CHARS = 2000
"""Longest instruction a turn takes (the SDK, the tools and session files alike)."""

MAX_ID_CHARS = 128
"""The longest session or turn id: a chosen id is a name, and it is printed in every listing."""


def id_problem(value: object) -> str | None:
    """Why ``value`` cannot be a session or turn id, or None: ids are shown in listings, logs and the app as they are."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if not is_valid_text(value):
        return "is not valid Unicode (it holds a lone surrogate)"
    if is_blank(value):
        return "needs a visible character"
    control = CONTROL_CHARACTER.search(value)
    if control:
        return f"holds a control character (U+{ord(control.group()):04X})"
    if any(char in "\t\n\r\u2028\u2029" for char in value):  # a listing shows one id a line
        return "holds a tab or a line break"
    if len(value) > MAX_ID_CHARS:
        return f"has {len(value)} characters; the limit is {MAX_ID_CHARS}"
    return None


LATEST_TIMESTAMP = 253402300799.0
"""The end of year 9999: a later ``created`` cannot be shown as a date."""


class Record(BaseModel):
    # No inf or NaN: SQLite keeps NaN as NULL, and an infinite time cannot be shown as a date.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # Records go to SQLite and JSONL as UTF-8; a lone surrogate would fail there, after the edit ran. Free-form
        # fields (an editor's ``extra``) hold it anywhere inside, as a key or a value.
        problem = _storage_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


MAX_NESTING = 100
"""How many levels free-form values (an editor's ``extra``) may nest. The store reads a turn back with pydantic's JSON
parser, which stops at 200 levels: a deeper value would be stored, and its session never read again."""


def _storage_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored, or None. Walked without recursion: nesting as deep as JSON from an export
    can hold would overflow Python's stack."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str) and not is_valid_text(item):
            return "text must be valid Unicode (it holds a lone surrogate)"
        if isinstance(item, (dict, list, tuple)):
            if depth == MAX_NESTING:
                return f"values may nest at most {MAX_NESTING} levels deep"
            inside = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((part, depth + 1) for part in inside)
    return None


class Constraint(Record):
    """One constraint still in force at a turn, e.g. a rule or a lock."""

    text: str
    """Human-readable statement, e.g. "every new shape must be blue"."""
    kind: str = "rule"
    """What sort of constraint: "rule", "lock", "default", ..."""
    set_at_turn: int | None = None
    """The number of the turn that set it, as the session numbers its turns (in the order they were made:
    the app's "#k"); on a session without branches, its 1-based position from the source image."""


class Intent(Record):
    """The self-contained instruction for one turn, plus the constraints in force."""

    text: str
    """What the editor is asked to do; it must make sense without the history."""
    constraints: tuple[Constraint, ...] = ()


class Redraw(Record):
    """Another way to make a turn: its edit drawn again from the stored input of an earlier turn on the way to it."""

    turn_id: str
    """The earlier turn whose input is edited."""
    intent: Intent
    """What the editor is asked to do to that input."""
    why: str
    """The sentence that says so, added to the turn's reasoning when the session takes this way."""


class Thought(Record):
    """What a reasoner returns: the reasoning trace and the reconstructed intent."""

    reasoning: str
    intent: Intent
    fallback: bool = False
    """True when the reasoner could not produce an intent and fell back to the raw instruction."""
    restores_turn: str | None = None
    """The id of an earlier turn on the way to this one whose input this turn gives back exactly (an undo that
    reverts it): the session then reuses that stored image instead of having the editor redraw it."""
    redraw: Redraw | None = None
    """Part of the last turn's edit taken back ("too much"): the same image made as that edit with less of it, from
    the image before it. The session draws it so when the turn edits the stored image (none given with it): what
    that edit clipped at white, or rounded, then comes back, where the intent done to its output would keep the
    loss. The turn's intent stays ``intent``: what it does to the image it follows."""


class HistoryTurn(Record):
    """One earlier turn as a reasoner sees it (from the source image towards the head)."""

    turn_id: str
    instruction: str
    reasoning: str
    intent: str
    number: int | None = None
    """The turn's number in its session (the order turns were made in); ``None``: its position."""


class TurnRequest(BaseModel):
    """Everything a reasoner may use to reconstruct the intent of the current turn."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    instruction: str
    history: tuple[HistoryTurn, ...] = ()
    image: Image.Image
    """The image the turn starts from (the head's output, or the source image)."""
    source_image: Image.Image
    """The session's source image (the start of the history)."""
    number: int | None = None
    """The number this turn gets in its session; ``None``: its position (one after the history)."""

    def turn_number(self, position: int) -> int:
        """The number to show for the turn at 1-based ``position`` on the way from the source image (the
        history, then this turn): after a branch, positions and the session's turn numbers differ."""
        if position == len(self.history) + 1:
            return self.number if self.number is not None else position
        if 1 <= position <= len(self.history):
            number = self.history[position - 1].number
            return number if number is not None else position
        return position


class EditorInfo(Record):
    """Which backend produced an image and how (stored with every turn)."""

    backend: str
    model: str | None = None
    steps: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    """A sentence about the last edit that the session appends to the turn's reasoning
    (e.g. which path a routing editor took, and why)."""


def _an_id(value: str | None) -> str | None:
    if value is not None and (not value or value != value.strip()):
        raise ValueError(f"an id is text with no surrounding spaces, not {value!r}")
    return value


_UNCHANGED_BECAUSE = re.compile(r"(?:^|(?<=\. ))So the image stays as it is: (.+?)\.?$", re.MULTILINE)
"""The rule reasoners' last sentence when a turn changes nothing (a line of its own in the world's reasoning)."""


def unchanged_because(reasoning: str) -> str | None:
    """Why a turn left its image as it was ("'the red one' picks no object, so the lock sets nothing"), as its
    reasoning says; ``None`` when it does not say."""
    found = _UNCHANGED_BECAUSE.findall(reasoning)
    return found[-1] if found else None


class TurnRecord(Record):
    """A committed turn, as stored."""

    id: str
    session_id: str
    parent_id: str | None
    seq: int = Field(ge=0, le=2**63 - 1)  # what a SQLite INTEGER holds
    """Creation order within the session (1 for the first turn committed)."""
    instruction: str
    reasoning: str
    intent: Intent
    fallback: bool
    input_hash: str
    output_hash: str
    editor: EditorInfo
    seed: int | None = Field(ge=SEED_RANGE[0], le=SEED_RANGE[1])
    timings: dict[str, float]
    status: Literal["committed"]
    created: float = Field(ge=0.0, le=LATEST_TIMESTAMP)

    _ids = field_validator("id", "session_id", "parent_id")(_an_id)

    @property
    def changed(self) -> bool:
        """Whether the turn's image differs from its input (stored images are named by their pixels' hash)."""
        return self.output_hash != self.input_hash


class SessionRecord(Record):
    id: str
    created: float = Field(ge=0.0, le=LATEST_TIMESTAMP)
    settings: dict[str, str | None]
    """Which reasoner and editor made the session, and with which edit-agent version."""
    source_hash: str
    head: str | None

    _ids = field_validator("id", "head")(_an_id)


class EditResult(BaseModel):
    """The outcome of one turn, as the user sees it.

    ``image`` may be given as a PIL image or as a zero-argument loader; a loader runs on first
    access, so listing a long history does not decode every image.

    >>> from PIL import Image
    >>> result = EditResult(image=lambda: Image.new("RGB", (4, 4)), instruction="undo", reasoning="",
    ...                     intent="Undo.", turn_id="t", session_id="s", editor="exact", seconds=0.0)
    >>> result.image.size
    (4, 4)
    """

    model_config = ConfigDict(frozen=True)

    instruction: str
    """The raw instruction the user gave."""
    reasoning: str
    intent: str
    """The self-contained instruction the editor received."""
    constraints: tuple[Constraint, ...] = ()
    fallback: bool = False
    """True when the reasoner fell back to the raw instruction."""
    turn_id: str
    session_id: str
    editor: str
    """Name of the session's editor backend (``auto``, the default, hands a MICE-World canvas's edits in its
    language to the world editor and everything else to the exact photo editor)."""
    seconds: float
    """Wall time of the turn (reasoning, editing and commit)."""
    seed: int | None = None
    """The seed the editor got: pass it to ``edit(..., seed=)`` to redo a generative edit exactly."""
    changed: bool | None = None
    """Whether the image differs from the turn's input, pixel for pixel (``None``: not known). A turn that
    changed nothing ("add a circle" where one already is) still commits, with its reasoning saying why."""

    _image: Image.Image | None = PrivateAttr(None)
    _load_image: Callable[[], Image.Image] | None = PrivateAttr(None)

    def __init__(self, *, image: Image.Image | Callable[[], Image.Image], **fields: Any) -> None:
        super().__init__(**fields)
        if isinstance(image, Image.Image):
            self._image = image
        else:
            self._load_image = image

    @property
    def image(self) -> Image.Image:
        """The edited image (RGB)."""
        if self._image is None:
            assert self._load_image is not None
            self._image = self._load_image()
        return self._image

    def __getstate__(self) -> dict[Any, Any]:
        # A loader reads from an open store and does not pickle: a pickled result carries its pixels.
        image = self.image
        state = super().__getstate__()
        state["__pydantic_private__"] = {**state["__pydantic_private__"], "_image": image, "_load_image": None}
        return state
