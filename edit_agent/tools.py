"""Image editing as tools for other LLM agents (langchain-core), plus their OpenAI schemas.

Six tools: ``edit_image``, ``undo_edit``, ``redo_edit``, ``get_image``, ``session_history`` and
``list_sessions``. They are built for one *owner* (a user or an agent run): a tool set only ever sees the sessions it created, and an id
it does not own gets exactly the same error as an id that does not exist, so ids cannot be probed.
Images go in as base64 or as images the host attached by name (never server paths or URLs), and come
back as ids (a turn id names the image that turn produced) or, on request, as an image content block that
a model which reads images sees (:func:`as_json_text` gives the one-text form that the app's API sends).

>>> tools = {tool.name: tool for tool in make_tools("agent-1", store=getfixture("tmp_path"))}
>>> from edit_agent.images import encode_png
>>> from PIL import Image
>>> png = base64.b64encode(encode_png(Image.new("RGB", (32, 24), "teal"))).decode()
>>> reply = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees", "image_base64": png}))
>>> reply["intent"], reply["size"]
('Rotate the image 90 degrees clockwise.', [24, 32])
>>> tools["undo_edit"].invoke({"session_id": "0" * 32})
'Unknown session id 00000000000000000000000000000000.'
>>> [schema["function"]["name"] for schema in OPENAI_TOOL_SCHEMAS]
['edit_image', 'undo_edit', 'redo_edit', 'get_image', 'session_history', 'list_sessions']
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from langchain_core.messages import ToolMessage
from langchain_core.messages.content import create_image_block, create_text_block
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_core.utils.function_calling import convert_to_openai_tool
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edit_agent.backends import (
    DEFAULT_EDITOR,
    DEFAULT_REASONER,
    SUMMARIES,
    check_backend_name,
    make_editor,
    make_reasoner,
)
from edit_agent.errors import (
    EditAgentError,
    InvalidArgumentError,
    StoreError,
    UnknownSessionError,
    UnknownTurnError,
    is_blank,
    is_valid_text,
    quoted,
)
from edit_agent.image_fitting import SCALABLE_LIMITS, load_image_to_fit
from edit_agent.images import ImageInput, ImageLimits, encode_png, load_image
from edit_agent.photo_ops import OPERATION_KINDS
from edit_agent.protocols import Editor, Reasoner
from edit_agent.records import SEED_RANGE, EditResult, unchanged_because
from edit_agent.samples import SAMPLE_NAMES, SAMPLE_PREFIX, resolve_sample
from edit_agent.session import MAX_INSTRUCTION_CHARS, EditSession, as_folder, existing_store, open_store
from edit_agent.store import Store

SESSION_ID_PATTERN = r"^[0-9a-f]{32}$"

TOOL_LIMITS = ImageLimits(max_side=4096, max_pixels=16_000_000, max_bytes=12 * 1024 * 1024)
"""Limits on images that agents send; stricter than the SDK's, since tool input is untrusted."""

MAX_BASE64_CHARS = (TOOL_LIMITS.max_bytes * 4) // 3 + 128
"""Longest accepted base64 text (the byte limit, encoded, plus room for a data-URL prefix)."""

SHOWN_SIDE = 1568
"""Longest side of the copy of an image that a reply shows the model: vision models scale larger ones down to
about this anyway, and the full image stays the tool message's artifact for the host."""


MAX_ATTACHED_NAME_CHARS = 200
MAX_ATTACHED_IMAGES = 16
"""Attached images a tool set keeps (the most recent); a session started from one keeps its own copy."""

OWNERS_DATABASE = "owners.db"


# --- who owns which session ------------------------------------------------------------------


class SessionOwners:
    """Which owner created which session, kept beside the store's database.

    Owners are stored only as SHA-256 digests, so the file never holds a usable token.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = store.folder / OWNERS_DATABASE
        self._lock = threading.Lock()
        with self._using():
            if store.read_only:  # sessions can be listed and read; a claim gets the store's read-only error
                self._db = self._read_only_database()
                return
            self._db = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            _create_owners_table(self._db)

    def _read_only_database(self) -> sqlite3.Connection:
        if self.path.is_file():
            return sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                   isolation_level=None)
        empty = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)  # nobody owns any
        _create_owners_table(empty)
        return empty

    @contextmanager
    def _using(self) -> Iterator[None]:
        """One use of the database, under the lock; a damaged file is a StoreError, not a sqlite3 traceback."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as error:
                reason = str(error).rstrip(".")
                raise StoreError(f"The session owners file {self.path} cannot be used: {reason}.") from None


    def claim(self, session_id: str, owner: str) -> None:
        """Record ``owner`` as the owner of a new session."""
        self.store.check_writable()
        with self._using():
            self._db.execute(
                "INSERT OR IGNORE INTO owners VALUES (?, ?, ?)", (session_id, _digest(owner), time.time())
            )
        self.check_claimed(session_id, owner)

    @contextmanager
    def claiming(self, session_id: str, owner: str) -> Iterator[None]:
        """Own ``session_id`` before its first turn commits, and no longer if that turn fails: a kill
        after the commit can then never leave a session that no owner reaches. (A kill before it leaves
        a row for a session that does not exist, which every check and listing skips.)"""
        self.claim(session_id, owner)
        try:
            yield
        except BaseException:
            if not self.store.has_session(session_id):  # a failure after the commit keeps its owner
                with self._using():
                    self._db.execute("DELETE FROM owners WHERE session_id = ?", (session_id,))
            raise

    def check(self, session_id: object, owner: str) -> str:
        """Return ``session_id`` if ``owner`` owns a stored session with it, else raise.

        Unknown, malformed and foreign ids raise the same :class:`UnknownSessionError`.
        """
        self.check_claimed(session_id, owner)
        if not self.store.has_session(str(session_id)):
            raise _unknown(session_id)
        return str(session_id)

    def check_claimed(self, session_id: object, owner: str) -> None:
        if not isinstance(session_id, str) or len(session_id) > 64:
            raise _unknown(session_id)
        with self._using():
            row = self._db.execute("SELECT owner FROM owners WHERE session_id = ?", (session_id,)).fetchone()
        if row is None or row[0] != _digest(owner):
            raise _unknown(session_id)

    def sessions(self, owner: str) -> list[str]:
        """The stored sessions of ``owner``, newest first."""
        with self._using():
            rows = self._db.execute(
                "SELECT session_id FROM owners WHERE owner = ? ORDER BY created DESC", (_digest(owner),)
            ).fetchall()
        return [session_id for (session_id,) in rows if self.store.has_session(session_id)]


def _create_owners_table(database: sqlite3.Connection) -> None:
    database.execute(
        "CREATE TABLE IF NOT EXISTS owners (session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL)"
    )
    database.execute("CREATE INDEX IF NOT EXISTS owners_by_owner ON owners (owner, created)")


_owners_lock = threading.Lock()


def session_owners(store: str | Path | Store | None = None) -> SessionOwners:
    """The :class:`SessionOwners` of a store (``open_store``'s for a folder), made once and kept with the store.

    One per Store object, not per folder: owners read through a read-only or closed store, or one whose folder was
    deleted and started again, would refuse or lose the claims of every store opened on that folder after it."""
    opened = open_store(store)
    with _owners_lock:
        owners = getattr(opened, "session_owners", None)
        if owners is None:
            owners = opened.session_owners = SessionOwners(opened)
        return owners


def _digest(owner: str) -> str:
    # Only spaces or control characters would be a secret anyone can guess, and one that two agents share.
    if not isinstance(owner, str) or not is_valid_text(owner) or is_blank(owner):
        raise InvalidArgumentError("A session owner must be a string of valid Unicode text with something in it "
                                   "besides spaces and control characters.")
    return hashlib.sha256(owner.encode()).hexdigest()


def _unknown(session_id: object) -> UnknownSessionError:
    shown = session_id if isinstance(session_id, str) and len(session_id) <= 64 else "(malformed)"
    return UnknownSessionError(f"Unknown session id {shown}.")


# --- argument schemas ------------------------------------------------------------------------


SOURCE_IMAGE_ID = "source"
"""The ``image_id`` of the image a session started from (turn ids are 16 hex characters)."""

IMAGE_ID_PATTERN = rf"^([0-9a-f]{{16}}|{SOURCE_IMAGE_ID})$"
_UUID_FORM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A session id written as a UUID: the same 32 hex digits, with dashes."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_means_not_given(cls, values: object) -> object:
        # Models often fill optional fields they do not use with "" or null: that is leaving them out.
        if not isinstance(values, dict):
            return values
        # An empty field the tool does not take says nothing either; one with a value is refused as unknown.
        required = {name for name, field in cls.model_fields.items() if field.is_required()}
        return {key: value for key, value in values.items() if key in required or not _says_nothing(value)}

    @field_validator("seed", "limit", "offset", mode="before", check_fields=False)
    @classmethod
    def _not_true_or_false(cls, value: object) -> object:
        # pydantic reads true as 1: "seed": true would run seed 1, "limit": true list one session
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not true or false")
        return value

    @field_validator("session_id", "image_id", mode="before", check_fields=False)
    @classmethod
    def _id_as_written(cls, value: object) -> object:
        # Models copy ids with the quotes or spaces around them, in capitals, or as a UUID with its dashes.
        if not isinstance(value, str):
            return value
        cleaned = _unquoted(value).lower()
        return cleaned.replace("-", "") if _UUID_FORM.fullmatch(cleaned) else cleaned


def _unquoted(text: str) -> str:
    return text.strip().strip("'\"`").strip()


def _says_nothing(value: object) -> bool:
    """An optional field a model filled without a value: null, "", or only spaces or quotes ("''")."""
    return value is None or (isinstance(value, str) and not _unquoted(value))


class EditImageArgs(_Args):
    """Arguments of ``edit_image``."""

    instruction: str = Field(
        min_length=1, max_length=MAX_INSTRUCTION_CHARS,
        description="What to change, in plain words, e.g. 'make it warmer'. Earlier turns stay in force.",
    )

    session_id: str | None = Field(
        None, pattern=SESSION_ID_PATTERN,
        description="Session to continue (from an earlier edit_image reply). Omit it to start a new "
        "session, and then pass attached_image or image_base64.",
    )
    image_base64: str | None = Field(
        None, max_length=MAX_BASE64_CHARS,
        description="The image to start a new session with: base64 PNG/JPEG/WEBP/BMP/GIF bytes "
        "(a data: URL prefix is allowed). Only with no session_id.",
    )
    attached_image: str | None = Field(
        None, max_length=MAX_ATTACHED_NAME_CHARS,
        description="Start a new session with an image the user attached, by the name the conversation gives "
        f"it (instead of image_base64), or with a bundled sample: '{SAMPLE_PREFIX}NAME', NAME one of "
        f"{', '.join(SAMPLE_NAMES)}. Only with no session_id.",
    )
    image_id: str | None = Field(
        None, pattern=IMAGE_ID_PATTERN,
        description="Edit the image an earlier turn of this session produced (a turn_id from "
        f"session_history), or '{SOURCE_IMAGE_ID}' for the image the session started from, instead of the "
        "current one; the session branches from there.",
    )
    seed: int | None = Field(None, ge=SEED_RANGE[0], le=SEED_RANGE[1],
                             description="Seed for generative editors (a reply's seed redoes that edit exactly).")
    return_image: bool = Field(
        False, description="Also show the edited image (an image after the JSON, at most "
        f"{SHOWN_SIDE} px a side). Leave it off unless you must see the pixels: the image stays in the session "
        "under its turn_id, and get_image shows it later.",
    )

    @field_validator("image_base64", mode="before")
    @classmethod
    def _unwrapped(cls, value: object) -> object:
        # Base64 wrapped at 76 characters (MIME) has 2-3% line breaks: an image under the byte limit is not over
        # the text limit for them. Text far over it is left to be refused as it is, not scanned.
        if isinstance(value, str) and len(value) <= 2 * MAX_BASE64_CHARS:
            return re.sub(r"\s+", "", value)
        return value

    @field_validator("instruction", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        # measured as the SDK measures it: surrounding spaces are not part of the instruction
        if isinstance(value, str) and value and not value.strip():  # not "at least 1 character": some were sent
            raise ValueError("has only spaces: say what to change, e.g. 'make it warmer'")
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_image_source(self) -> EditImageArgs:
        new_images = [name for name in ("image_base64", "attached_image") if getattr(self, name) is not None]
        # An image_id alone is the more telling mistake: the model meant a session and left out its id.
        if self.image_id is not None and self.session_id is None and not new_images:
            raise ValueError("image_id needs the session_id it belongs to")
        if self.session_id is None and not new_images:
            raise ValueError("pass image_base64 or attached_image to start a session, or session_id to continue one")
        if len(new_images) > 1:
            raise ValueError("pass one of image_base64 and attached_image")
        if self.session_id is not None and new_images:
            raise ValueError(f"{new_images[0]} starts a new session: omit session_id to edit a new image")
        if self.image_id is not None and self.session_id is None:  # with a new image: it picks none of its turns
            raise ValueError(f"{new_images[0]} starts a new session, which has no earlier image to pick: leave out "
                             "image_id")
        return self


class SessionArgs(_Args):
    """Arguments of ``undo_edit``, ``redo_edit`` and ``session_history``."""

    session_id: str = Field(pattern=SESSION_ID_PATTERN, description="The session, from an edit_image reply.")


class GetImageArgs(SessionArgs):
    """Arguments of ``get_image``."""

    image_id: str | None = Field(
        None, pattern=IMAGE_ID_PATTERN,
        description=f"A turn_id of this session, or '{SOURCE_IMAGE_ID}' for the image it started from; omit it "
        "for the current image (the one the next edit changes).",
    )


# --- the tools -------------------------------------------------------------------------------


SESSIONS_LISTED = 20
"""Sessions ``list_sessions`` gives at a time: an owner's hundreds, all in one reply, would fill the model's context."""


class ListSessionsArgs(_Args):
    """Arguments of ``list_sessions``."""

    limit: int = Field(SESSIONS_LISTED, ge=1, le=100, description="How many sessions to list, newest first.")
    offset: int = Field(0, ge=0, description="How many of the newest to skip: the `offset` a reply's `more` names.")


class _Attached(NamedTuple):
    """An image the host attached, as the tools took it, and its size before it was scaled down to fit them."""

    image: Image.Image
    scaled_from: tuple[int, int] | None


class _Toolbox:
    """The implementation behind the three tools of one owner."""

    def __init__(
        self, owner: str, *, store: str | Path | Store | None, reasoner: str | Reasoner | None,
        editor: str | Editor | None, limits: ImageLimits,
    ) -> None:
        _digest(owner)  # reject an empty owner now, not at the first call
        # ... and a backend name or store argument that cannot work: the model calling a tool could not fix it
        check_backend_name(reasoner, "reasoner")
        check_backend_name(editor, "editor")
        if store is not None and not isinstance(store, Store):
            folder = as_folder(store, "The store")
            if folder.exists() and not folder.is_dir():  # told to the host now: the model can do nothing about it
                raise InvalidArgumentError(f"The store {str(folder)!r} is a file; give a folder.")
        self.owner, self._store_spec, self.limits = owner, store, limits
        self._reasoner_spec, self._editor_spec = reasoner, editor
        self._attached: OrderedDict[str, _Attached] = OrderedDict()
        self._attached_lock = threading.Lock()

    def attach(self, name: str, image: ImageInput) -> str:
        """Make ``image`` available to ``edit_image`` as ``attached_image=name``; checked now, with the tools'
        limits, and scaled down to fit them when it is a larger photo (up to ``SCALABLE_LIMITS``), as the app
        does. The last :data:`MAX_ATTACHED_IMAGES` stay (decoded pixels are large); older names are forgotten."""
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_ATTACHED_NAME_CHARS or not is_valid_text(name):
            raise InvalidArgumentError(
                f"An attached image needs a name of 1 to {MAX_ATTACHED_NAME_CHARS} characters of text.")
        attached = self._fitted(resolve_sample(image) or image)
        with self._attached_lock:
            self._attached.pop(name, None)
            self._attached[name] = attached
            while len(self._attached) > MAX_ATTACHED_IMAGES:
                self._attached.popitem(last=False)
        return name

    def detach(self, name: str) -> None:
        with self._attached_lock:
            self._attached.pop(name, None)

    def _fitted(self, image: ImageInput) -> _Attached:
        # The host's file, not the model's base64: a camera PNG may be larger in bytes than the tools take.
        loaded, original = load_image_to_fit(
            image, self.limits.model_copy(update={"max_bytes": SCALABLE_LIMITS.max_bytes}))
        return _Attached(loaded, original)

    def _attached_image(self, name: str) -> _Attached:
        with self._attached_lock:
            attached, names = self._attached.get(name), sorted(self._attached)
        if attached is None and name.startswith(SAMPLE_PREFIX):
            return self._fitted(resolve_sample(name))  # raises, naming the samples there are
        if attached is None:
            raise ToolException(_not_attached(name, names))
        return attached

    # Built on first use, so that exporting schemas neither opens a store nor loads a model.
    @cached_property
    def store(self) -> Store:
        """The store, made where there is none: only a new session's first turn asks for it before one exists."""
        return open_store(self._store_spec)

    def _store_is_there(self) -> bool:
        """Whether the store exists. A read where there is none finds no session and makes no store: like the SDK
        and the CLI, the tools never leave a mistyped store folder behind as an empty store."""
        return "store" in self.__dict__ or existing_store(self._store_spec) is not None

    @cached_property
    def owners(self) -> SessionOwners:
        return session_owners(self.store)

    @cached_property
    def reasoner(self) -> Reasoner:
        return make_reasoner(self._reasoner_spec)

    @cached_property
    def editor(self) -> Editor:
        return make_editor(self._editor_spec)

    def _open(self, session_id: str) -> EditSession:
        if not self._store_is_there():
            raise _unknown(session_id)
        self.owners.check(session_id, self.owner)
        return EditSession.open(session_id, store=self.store, reasoner=self.reasoner, editor=self.editor)

    def edit_image(self, **arguments: Any) -> tuple[str | list[dict[str, Any]], EditResult]:
        args = EditImageArgs(**arguments)
        with _as_tool_errors():
            if args.session_id is None:
                if args.attached_image is not None:
                    image, scaled_from = self._attached_image(args.attached_image)
                else:
                    scaled_from = None
                    image = load_image(_decode_base64(args.image_base64 or ""), limits=self.limits)
                session = EditSession(store=self.store, reasoner=self.reasoner, editor=self.editor, limits=self.limits)
                owning = self.owners.claiming(session.id, self.owner)  # a refused first turn leaves no row
            else:
                image, scaled_from = None, None
                session = self._open(args.session_id)
                owning = contextlib.nullcontext()
            # image_id branches in the same step as the edit: a refused edit moves nothing, and a parallel
            # call on the session cannot slip its own turn between the branch and the edit.
            from_source = args.image_id == SOURCE_IMAGE_ID
            with owning:
                result = session.edit(image, args.instruction, seed=args.seed,
                                      from_turn=None if from_source else args.image_id, from_source=from_source)
            reply: dict[str, Any] = _describe(result)
            if scaled_from is not None:  # the host attached it; neither it nor the model would know otherwise
                reply["note"] = (f"The attached image ({scaled_from[0]}x{scaled_from[1]}) was scaled down to "
                                 f"{image.width}x{image.height} to fit the tools' limits.")
            if args.return_image:
                return _with_image(reply, result.image, self.limits.max_bytes), result
        return json.dumps(reply), result

    def undo_edit(self, session_id: str) -> str:
        with _as_tool_errors():
            moved, head = self._open(session_id).undo_step()
            if not moved:  # an agent must be able to tell a no-op from an undo
                return json.dumps({"session_id": session_id, "undone": False, "head": None,
                                   "note": "Nothing to undo: the session is at its source image."})
            if head is None:
                return json.dumps({"session_id": session_id, "undone": True, "head": None,
                                   "note": "Back at the source image."})
            return json.dumps({"session_id": session_id, "undone": True, "head": _describe(head)})

    def redo_edit(self, session_id: str) -> str:
        with _as_tool_errors():
            session = self._open(session_id)
            moved, head = session.redo_step()
            if not moved:  # a canvas's undo is a turn: the turn before it shows what it undid
                moved, head = session.step_back_over_undo_turn()
                if moved:
                    return json.dumps({"session_id": session_id, "redone": True,
                                       "head": _describe(head) if head else None,
                                       "note": "The latest turn was an 'undo that' turn; moved back past it, so "
                                               "the edit it undid is the head again."})
            if not moved:
                return json.dumps({"session_id": session_id, "redone": False,
                                   "head": _describe(head) if head else None,
                                   "note": "Nothing to redo: no edit was undone from here."})
            return json.dumps({"session_id": session_id, "redone": True, "head": _describe(head)})

    def get_image(self, session_id: str, image_id: str | None = None) -> tuple[list[dict[str, Any]], Image.Image]:
        with _as_tool_errors():
            session = self._open(session_id)
            current = session.head
            if image_id is None:
                turn = current
            else:
                turn = None if image_id == SOURCE_IMAGE_ID else session.turn(image_id)
            if turn is None:
                image = session.source_image
                if image is None:  # deleted (from another tab, say) since the ownership check
                    raise _unknown(session_id)
                reply: dict[str, Any] = {"session_id": session_id, "image_id": SOURCE_IMAGE_ID,
                                         "note": "The image the session started from.", "size": list(image.size)}
            else:
                image, reply = turn.image, _describe(turn)
            reply["is_current"] = _turn_id(turn) == _turn_id(current)
        return _with_image(reply, image, self.limits.max_bytes), image

    def session_history(self, session_id: str) -> str:
        with _as_tool_errors():
            session = self._open(session_id)
            head = session.head
            records = session.turn_records()
        turns = [
            {
                "turn_id": turn.id, "number": turn.seq, "parent_id": turn.parent_id, "instruction": turn.instruction,
                "intent": turn.intent.text, "is_head": head is not None and turn.id == head.turn_id,
            }
            for turn in records
        ]
        return json.dumps({"session_id": session_id, "head": head.turn_id if head else None, "turns": turns})

    def list_sessions(self, limit: int = SESSIONS_LISTED, offset: int = 0) -> str:
        with _as_tool_errors():
            owned = self.owners.sessions(self.owner) if self._store_is_there() else []
            listed = [self._summary(session_id) for session_id in owned[offset:offset + limit]]
        reply: dict[str, Any] = {"sessions": [summary for summary in listed if summary is not None], "total": len(owned)}
        older = len(owned) - offset - limit
        if older > 0:
            reply["more"] = f"{older} older sessions are not listed: call list_sessions with offset {offset + limit}."
        return json.dumps(reply)

    def _summary(self, session_id: str) -> dict[str, Any] | None:
        """What an agent needs to pick a session up again, or None if it was deleted meanwhile."""
        try:
            record, turns = self.store.get_session(session_id), self.store.turns_summary(session_id)
        except UnknownSessionError:
            return None
        head = None
        if record.head:
            with contextlib.suppress(UnknownTurnError):  # deleted meanwhile: listed without it, as before
                head = self.store.get_turn(session_id, record.head)
        created = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="seconds")
        return {"session_id": session_id, "created": created, "turns": turns.count,
                "first_instruction": turns.first_instruction,
                "head": {"turn_id": head.id, "number": head.seq, "intent": head.intent.text} if head else None}


def _not_attached(name: str, attached: list[str]) -> str:
    known = f"attached: {', '.join(repr(known) for known in attached)}" if attached else (
        "no image is attached here: pass the image as image_base64")
    sample = f"{SAMPLE_PREFIX}{name.strip().lower()}"
    also = f" The bundled sample of that name is {sample!r}." if sample.removeprefix(SAMPLE_PREFIX) in SAMPLE_NAMES else ""
    return f"No attached image is named {name!r}; {known}.{also}"


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """Re-raise the SDK's errors as ToolException, whose text the calling agent reads."""
    try:
        yield
    except EditAgentError as error:
        raise ToolException(str(error)) from error


_DATA_URL_PREFIX = re.compile(r"data:[^,]*,", re.IGNORECASE)
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def _decode_base64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not, wrapped or not, with or without a data: URL prefix."""
    text = "".join(text.split())
    prefix = _DATA_URL_PREFIX.match(text)
    if prefix:
        text = text[prefix.end():]  # drop "data:image/png;base64,"
    text = text.translate(_URL_SAFE_TO_STANDARD).rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ToolException(
            "image_base64 is not valid base64: it may hold only A-Z, a-z, 0-9, +, / (or -, _) and = padding, "
            "after an optional data: URL prefix."
        ) from None




def _with_image(reply: dict[str, Any], image: Image.Image, max_bytes: int) -> list[dict[str, Any]]:
    """A reply as content blocks: its JSON, then the image as an image block, which a model that reads images
    sees (as base64 text, an image only filled the context: hundreds of thousands of characters)."""
    shown = image.copy()
    shown.thumbnail((SHOWN_SIDE, SHOWN_SIDE), Image.Resampling.LANCZOS)
    png = encode_png(shown)
    if len(png) > max_bytes:
        reply.update(_left_out(image, len(png), max_bytes))
        return [create_text_block(json.dumps(reply))]
    if shown.size != image.size:
        reply["shown_size"] = list(shown.size)
    return [create_text_block(json.dumps(reply)),
            create_image_block(base64=base64.b64encode(png).decode(), mime_type="image/png")]


def as_json_text(reply: ToolMessage | str | list[Any], *, max_bytes: int = TOOL_LIMITS.max_bytes) -> str:
    """A tool's reply as one text, for clients that take text only (the app's API and MCP tools, OpenAI's Chat
    Completions, whose tool messages hold no images): an image the reply shows goes into its JSON as
    ``image_base64``. From a ToolMessage (a tool invoked with a tool call) that is a PNG of the whole image, left
    out with a note over ``max_bytes``; from content alone (invoked with plain arguments), the copy it shows. A
    refusal is its text, as the tool gave it."""
    content = reply.content if isinstance(reply, ToolMessage) else reply
    if isinstance(content, str):
        return content
    blocks = [block for block in content if isinstance(block, dict)]
    described = json.loads(next(block["text"] for block in blocks if block.get("type") == "text"))
    shown = next((block for block in blocks if block.get("type") == "image"), None)
    if shown is None:
        return json.dumps(described)
    if isinstance(reply, ToolMessage):
        artifact = reply.artifact
        described.pop("shown_size", None)
        described.update(_returned_image(artifact.image if isinstance(artifact, EditResult) else artifact, max_bytes))
    else:
        described["image_base64"] = shown["base64"]
    return json.dumps(described)


def as_openai_messages(*messages: ToolMessage) -> list[dict[str, Any]]:
    """Tool replies as OpenAI Chat Completions messages: each tool message with its JSON, and, for a reply that
    shows an image, a user message with that image (at most ``SHOWN_SIDE`` px a side) as an image part, which a
    model that reads images sees. A tool message holds text only, and the image as base64 text there would fill
    the model's context with hundreds of thousands of characters it cannot see.

    Give the replies to all the tool calls of one assistant message in one call: Chat Completions wants every tool
    message right after that assistant message, so the image messages come after all of them."""
    tool_messages, image_messages = [], []
    for message in messages:
        tool_message, image_message = _as_openai_parts(message)
        tool_messages.append(tool_message)
        if image_message is not None:
            image_messages.append(image_message)
    return tool_messages + image_messages


def _as_openai_parts(message: ToolMessage) -> tuple[dict[str, Any], dict[str, Any] | None]:
    content = message.content
    tool_message = {"role": "tool", "tool_call_id": message.tool_call_id}
    if isinstance(content, str):
        return {**tool_message, "content": content}, None
    blocks = [block for block in content if isinstance(block, dict)]
    text = next(block["text"] for block in blocks if block.get("type") == "text")
    shown = next((block for block in blocks if block.get("type") == "image"), None)
    if shown is None:
        return {**tool_message, "content": text}, None
    described = json.loads(text)
    described["image"] = "shown in a user message after the tool messages"
    image_url = f"data:{shown.get('mime_type', 'image/png')};base64,{shown['base64']}"
    return {**tool_message, "content": json.dumps(described)}, {"role": "user", "content": [
        {"type": "text", "text": f"The image of tool call {message.tool_call_id} ({message.name}):"},
        {"type": "image_url", "image_url": {"url": image_url}}]}


def _returned_image(image: Image.Image, max_bytes: int) -> dict[str, str]:
    """The image as base64 PNG, unless it is larger than the images the tool takes in: an
    enlarged result can be hundreds of megabytes of text, more than any agent's context holds."""
    png = encode_png(image)
    if len(png) > max_bytes:
        return _left_out(image, len(png), max_bytes)
    return {"image_base64": base64.b64encode(png).decode()}


def _left_out(image: Image.Image, png_bytes: int, max_bytes: int) -> dict[str, str]:
    return {"image_note": f"The image ({image.width}x{image.height}, a {png_bytes / 2**20:.1f} MiB PNG) "
            f"is larger than the {max_bytes / 2**20:g} MiB the tools pass, so it was left out; it stays in the "
            "session under its image_id (continue from it with image_id)."}


def _turn_id(result: EditResult | None) -> str | None:
    return result.turn_id if result is not None else None


def _describe(result: EditResult) -> dict[str, Any]:
    described = {
        "session_id": result.session_id, "turn_id": result.turn_id, "image_id": result.turn_id,
        "instruction": result.instruction, "intent": result.intent, "reasoning": result.reasoning,
        "constraints": [constraint.text for constraint in result.constraints],
        "size": list(result.image.size), "changed": result.changed, "editor": result.editor, "seed": result.seed,
    }
    if result.changed is False:  # why, in a field: a lock that picked no object read like one that was set
        described["unchanged_because"] = unchanged_because(result.reasoning) or UNCHANGED_UNTOLD
    return described


UNCHANGED_UNTOLD = ("the edit gave back the same pixels: the image already was as the intent asks (a resize to the "
                    "size it has, say), or the editor changed nothing")
"""``unchanged_because`` where the reasoning does not say why: a null gave the model nothing to go on."""


RULE_LANGUAGE = (
    f"It understands exact photo operations ({OPERATION_KINDS}; several in one instruction, amounts such as "
    "'a bit', 'much', 'by 30%' or 'to 80%'), follow-ups of the turn before ('again', 'a bit more', 'the "
    "opposite'), rules that stay in force ('from now on keep it black and white'), and on "
    "MICE-World canvases of shapes their shape language ('add a small red circle at the top left'); anything "
    "else is refused with the reason."
)


def what_it_understands(reasoner: str | Reasoner | None, editor: str | Editor | None) -> str:
    """What the configured backends make of an instruction, for edit_image's description: a model should
    know before its first refusal that, say, the offline default makes exact edits only."""
    reasoner_name = _backend_name(reasoner, DEFAULT_REASONER)
    editor_name = _backend_name(editor, DEFAULT_EDITOR)
    described = [
        f"{kind} {name}" + (f" ({SUMMARIES[kind][name]})" if name in SUMMARIES[kind] else "")
        for kind, name in (("reasoner", reasoner_name), ("editor", editor_name))
    ]
    here = f"Here the {described[0]} and the {described[1]} run."
    return f"{RULE_LANGUAGE} {here}" if reasoner_name in RULE_REASONERS else here


RULE_REASONERS = frozenset({"rules", "auto"})
"""Reasoners that read the exact photo and MICE-World language, and refuse the rest."""


def _backend_name(spec: object, default: str) -> str:
    if spec is None:
        return default
    return spec if isinstance(spec, str) else str(getattr(spec, "name", type(spec).__name__))


_PATTERN_MEANING = {
    SESSION_ID_PATTERN: "must be the 32-character session id (lowercase hex) of an edit_image or list_sessions reply",
    IMAGE_ID_PATTERN: "must be a 16-character turn id (lowercase hex) from a reply or session_history, or 'source'",
}
"""What an id pattern asks for, said to an agent rather than as the regular expression."""


def _validation_message(error: ValidationError) -> str:
    problems = "; ".join(
        ": ".join(filter(None, (".".join(str(part) for part in item["loc"]), _problem(item))))
        for item in error.errors()
    )
    return f"Invalid arguments: {problems}."


def _problem(item: Any) -> str:
    pattern = (item.get("ctx") or {}).get("pattern")
    if item["type"] == "string_pattern_mismatch" and pattern in _PATTERN_MEANING:
        given = str(item["input"])
        shown = repr(given) if len(given) <= 40 else f"{given[:40]!r}... ({len(given)} characters)"
        return f"{_PATTERN_MEANING[pattern]}, not {shown}"
    return item["msg"].removeprefix("Value error, ")


def make_tools(
    owner: str,
    *,
    store: str | Path | Store | None = None,
    reasoner: str | Reasoner | None = None,
    editor: str | Editor | None = None,
    limits: ImageLimits = TOOL_LIMITS,
    images: Mapping[str, ImageInput] | None = None,
) -> EditTools:
    """The ``edit_image``, ``undo_edit``, ``redo_edit``, ``get_image``, ``session_history`` and ``list_sessions``
    tools of one owner.

    ``owner`` scopes the sessions (a user id, or a secret per agent run); the store, reasoner and
    editor default to the SDK's offline defaults. Errors come back as text the agent can act on.
    ``images`` are attached under their names (as :meth:`EditTools.attach` does), so that the model
    can start a session on a user's image by name instead of writing it out as base64. Owners starting with
    :data:`TOKEN_OWNERS` are the app's callers (:func:`make_token_tools`), which a host's owner never reaches.
    """
    if isinstance(owner, str) and owner.startswith(TOKEN_OWNERS):
        raise InvalidArgumentError(f"Owners starting with {TOKEN_OWNERS!r} are the app's API and MCP callers, named by "
                                   "their owner_token; choose another owner name.")
    return _tools_of(owner, store=store, reasoner=reasoner, editor=editor, limits=limits, images=images)


TOKEN_OWNERS = "app-token:"
"""Before the owner_token of an app's API or MCP caller: a Python host names the owners of its tools by what it
likes, a user id even ("alice@example.com"), which is no secret, and a caller sending that as its token must not
reach them in a store the two share; nor may a host name an owner so as to reach a caller's sessions."""


def make_token_tools(owner_token: str, **options: Any) -> EditTools:
    """:func:`make_tools` for a caller of the app's API or MCP tools, who is known by ``owner_token`` alone."""
    if not isinstance(owner_token, str):
        raise InvalidArgumentError(f"owner_token must be text, not {type(owner_token).__name__}.")
    return _tools_of(TOKEN_OWNERS + owner_token, **options)


def _tools_of(owner: str, *, store: str | Path | Store | None = None, reasoner: str | Reasoner | None = None,
              editor: str | Editor | None = None, limits: ImageLimits = TOOL_LIMITS,
              images: Mapping[str, ImageInput] | None = None) -> EditTools:
    box = _Toolbox(owner, store=store, reasoner=reasoner, editor=editor, limits=limits)
    for name, image in (images or {}).items():
        box.attach(name, image)
    common: dict[str, Any] = {"handle_tool_error": True, "handle_validation_error": _validation_message}
    return EditTools(box, [
        StructuredTool.from_function(
            func=_as_validated(box.edit_image, EditImageArgs), name="edit_image", args_schema=EditImageArgs,
            response_format="content_and_artifact",
            description="Edit an image by instruction, one turn of a multi-turn session that remembers "
            "earlier edits and rules. Start with attached_image (an image the user attached) or image_base64; "
            "continue with session_id. Returns JSON "
            "with session_id, turn_id (the new image's id), the reconstructed intent and constraints. "
            + what_it_understands(reasoner, editor),
            **common,
        ),
        StructuredTool.from_function(
            func=_as_validated(box.undo_edit, SessionArgs), name="undo_edit", args_schema=SessionArgs,
            description="Undo the latest edit of a session (move back one turn). Returns the new latest turn, "
            "and undone: false when there was nothing to undo.",
            **common,
        ),
        StructuredTool.from_function(
            func=_as_validated(box.redo_edit, SessionArgs), name="redo_edit", args_schema=SessionArgs,
            description="Redo the edit that undo_edit last took back (move forward one turn). Returns the new "
            "latest turn, and redone: false when there was nothing to redo.",
            **common,
        ),
        StructuredTool.from_function(
            func=_as_validated(box.get_image, GetImageArgs), name="get_image", args_schema=GetImageArgs, response_format="content_and_artifact",
            description="Look at an image of a session: the current one, a turn's (image_id), or the one it "
            f"started from (image_id '{SOURCE_IMAGE_ID}'). Returns JSON describing it, then the image itself "
            f"(at most {SHOWN_SIDE} px a side; shown_size says when it was scaled down to show).",
            **common,
        ),
        StructuredTool.from_function(
            func=_as_validated(box.session_history, SessionArgs), name="session_history", args_schema=SessionArgs,
            description="List every turn of a session (ids, parents, instructions, intents) and which is current.",
            **common,
        ),
        StructuredTool.from_function(
            func=_as_validated(box.list_sessions, ListSessionsArgs), name="list_sessions", args_schema=ListSessionsArgs,
            description=f"List your sessions, newest first ({SESSIONS_LISTED} at a time; `more` says how to get "
            "older ones): id, when made, how many turns, the first instruction and the current turn. Use it to "
            "continue a session started earlier.",
            **common,
        ),
    ])


def _as_validated(method: Callable[..., Any], schema: type[_Args]) -> Callable[..., Any]:
    """``method`` called with its arguments as ``schema`` reads them (ids cleaned, numbers as numbers). A dict
    input arrives read so already; a plain string (``tool.run("...")``, as ReAct-style agents call tools) is
    checked by langchain against the schema's first field and then passed on as typed, which let "5" reach
    ``list_sessions`` as text and an upper-case id go uncleaned."""
    first_field = next(iter(schema.model_fields))

    @functools.wraps(method)
    def call(*typed: Any, **named: Any) -> Any:
        if typed:
            named = {first_field: typed[0], **named}
        try:
            arguments = schema(**named)
        except ValidationError as error:
            raise ToolException(_validation_message(error)) from None
        return method(**{name: getattr(arguments, name) for name in named})

    return call


class EditTools(list[BaseTool]):
    """The tools of :func:`make_tools` (a plain list of them), plus :meth:`attach` for images the user
    gives the host during the conversation."""

    def __init__(self, box: _Toolbox, tools: list[BaseTool]) -> None:
        super().__init__(tools)
        self._box = box

    def attach(self, name: str, image: ImageInput) -> str:
        """Let the model start a session on ``image`` with ``edit_image(attached_image=name, ...)``; tell it
        the name in the conversation. Checked now: a bad image raises here, not at the model's call. A photo
        over the tools' limits but within ``edit_agent.image_fitting.SCALABLE_LIMITS`` (50 MP) is scaled down
        to fit them. The last :data:`MAX_ATTACHED_IMAGES` attached stay available."""
        return self._box.attach(name, image)

    def detach(self, name: str) -> None:
        """Forget an attached image (sessions started from it keep their own copy)."""
        self._box.detach(name)

    def run_tool_call(self, name: object, arguments: object, call_id: str = "") -> ToolMessage:
        """Run a tool call as a model wrote it: an OpenAI tool call's ``function.name``, its ``function.arguments``
        (JSON text, or a dict already parsed) and its ``id``. A call no tool can run (arguments that are not a
        JSON object, a tool that does not exist) comes back as an error message the model can act on, as a
        refusal does, never as an exception in the host's loop."""
        call_id = call_id if isinstance(call_id, str) else ""
        tool = next((tool for tool in self if tool.name == name), None)
        if tool is None:
            known = ", ".join(tool.name for tool in self)
            return _call_error(f"There is no tool named {quoted(str(name), 60)}; the tools are {known}.", name, call_id)
        try:
            parsed = _call_arguments(arguments)
        except ValueError as error:
            return _call_error(f"{name}: {error}", name, call_id)
        return tool.invoke({"type": "tool_call", "id": call_id, "name": name, "args": parsed})


def _call_arguments(arguments: object) -> dict[str, Any]:
    """A tool call's arguments as a dict; no arguments at all (``""``, ``null``) are an empty one."""
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as error:
            raise ValueError(f"the arguments are not valid JSON ({error.msg} at character {error.pos}); "
                             "send one JSON object") from None
        except RecursionError:  # Python's parser gives up on arrays or objects nested a thousand deep
            raise ValueError("the arguments nest too deeply to read; send one JSON object of named fields") from None
    if arguments is None:
        return {}
    if not isinstance(arguments, Mapping):
        raise ValueError(f"the arguments must be one JSON object of named fields, not {type(arguments).__name__}")
    return dict(arguments)


def _call_error(text: str, name: object, call_id: str) -> ToolMessage:
    return ToolMessage(content=text, name=str(name), tool_call_id=call_id, status="error")


def openai_tool_schemas() -> list[dict[str, Any]]:
    """The tools as OpenAI function-calling schemas."""
    return [convert_to_openai_tool(tool) for tool in make_tools("schema")]


OPENAI_TOOL_SCHEMAS: list[dict[str, Any]] = openai_tool_schemas()
