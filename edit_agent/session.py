"""EditSession: the one path every entry point takes for a turn (reason, edit, commit)."""

from __future__ import annotations

import json
import numbers
import os
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import platformdirs
from PIL import Image, ImageFile

from edit_agent import __version__
from edit_agent.backends import (
    DEFAULT_EDITOR,
    DEFAULT_REASONER,
    EDITORS,
    GENERATIVE_EDITORS,
    REASONERS,
    build_options,
    check_backend_name,
    shared_editor,
    shared_reasoner,
)
from edit_agent.errors import (
    CONTROL_CHARACTER,
    EditAgentError,
    ImagesGoneError,
    InvalidArgumentError,
    InvalidImageError,
    InvalidInstructionError,
    NeedsGenerativeEditorError,
    OutOfMemoryError,
    StoreError,
    UnknownSessionError,
    UnknownTurnError,
    UnsupportedInstructionError,
    is_blank,
    is_valid_text,
)
from edit_agent.folders import NAME_MAX, scratch_folder
from edit_agent.history_words import REDO_AFTER_UNDO, is_again_alone
from edit_agent.images import DEFAULT_LIMITS, STORED_LIMITS, ImageInput, ImageLimits, check_image_size, load_image
from edit_agent.protocols import Editor, Reasoner, draws_exactly
from edit_agent.records import (
    MAX_INSTRUCTION_CHARS,
    SEED_RANGE,
    EditResult,
    HistoryTurn,
    Redraw,
    SessionRecord,
    Thought,
    TurnRecord,
    TurnRequest,
    id_problem,
)
from edit_agent.samples import resolve_sample
from edit_agent.store import DATABASE_NAME, Store, branch_to

_stores: dict[Path, Store] = {}
_session_locks: dict[tuple[Path, str], threading.Lock] = {}
_registry_lock = threading.Lock()


def default_store_folder() -> Path:
    """``$EDIT_AGENT_HOME`` if set, else the per-user data folder (e.g. ~/.local/share/edit-agent)."""
    configured = os.environ.get("EDIT_AGENT_HOME")
    return Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("edit-agent"))


def open_store(store: str | Path | Store | None = None) -> Store:
    """The process-wide :class:`Store` for a folder (one connection per folder per process)."""
    if isinstance(store, Store):
        return store
    folder = (as_folder(store, "The store") if store is not None else default_store_folder()).resolve()
    with _registry_lock:
        cached = _stores.get(folder)
        # A deleted folder starts again, empty; a read-only one is read again once it changed or can be written.
        if cached is None or not cached.is_on_disk() or cached.is_stale():
            if cached is not None and not cached.is_on_disk():  # a stale one may still serve open sessions
                cached.close()
            _stores[folder] = Store(folder)
        return _stores[folder]


@contextmanager
def store_made_if_needed(store: str | Path | Store | None = None) -> Iterator[Store]:
    """The store for a command's work that writes to it (``open_store``'s); if the work fails, a store folder that
    opening it made, with the folders made above it, is removed again, unless something was stored there meanwhile
    (another process may have started using it): a refused import or first turn leaves nothing behind.

    For a command that is the process's only user of the store: the store is closed, under any other session of
    this process that holds it."""
    if isinstance(store, Store):
        yield store
        return
    folder = (as_folder(store, "The store") if store is not None else default_store_folder()).absolute()
    made = [place for place in (folder, *folder.parents) if not place.exists()]
    try:
        opened = open_store(folder)
    except BaseException:  # a full disk: opening made the folder, an empty database and images/ before it failed
        # With no store to ask, no image file tells that nothing was stored: every session names one.
        if made and not any(folder.rglob("*.png")):
            _remove_made_folders(made)
        raise
    try:
        yield opened
    except BaseException:
        if made and opened.holds_nothing():
            opened.close()
            _remove_made_folders(made)
        raise


def _remove_made_folders(made: list[Path]) -> None:
    """Remove the store folder ``made[0]`` with all in it, then the folders made above it that are still empty."""
    shutil.rmtree(made[0], ignore_errors=True)
    for place in made[1:]:
        with suppress(OSError):
            place.rmdir()  # only an empty one goes


def existing_store(store: str | Path | Store | None = None) -> Store | None:
    """The store that reading names, or None where its folder holds none (no sessions): reading never makes
    one, so a mistyped folder is not left behind as an empty store."""
    if isinstance(store, Store):
        return store
    folder = as_folder(store, "The store") if store is not None else default_store_folder()
    return open_store(folder) if (folder / DATABASE_NAME).is_file() else None


def as_folder(value: object, what: str, *, kind: str = "folder") -> Path:
    """A folder (or file) argument as a path; one clear error for a number, ``None``, an empty name or a NUL byte."""
    if not isinstance(value, str | os.PathLike) or isinstance(os.fspath(value), bytes):
        raise InvalidArgumentError(f"{what} must be a {kind} path (text or a Path), not {type(value).__name__}.")
    text = os.fspath(value)
    if not text.strip() or "\0" in text or not is_valid_text(text):
        raise InvalidArgumentError(f"{what} {text!r} is not a usable {kind} path.")
    longest = max(Path(text).parts, key=lambda name: len(os.fsencode(name)), default="")
    if len(os.fsencode(longest)) > NAME_MAX:  # the file system's "File name too long", said before anything is made
        raise InvalidArgumentError(f"{what} has a name of {len(os.fsencode(longest)):,} bytes ({longest[:40]}...); a file "
                                   f"or folder name is at most {NAME_MAX}.")
    return Path(text).expanduser()


@contextmanager
def _reasoner_for(editor: str, reasoner: str) -> Iterator[None]:
    """An instruction that only a generative editor could make, refused by a reasoner that reads exact
    operations, while a generative editor is at hand: say that the reasoner is what to change."""
    try:
        yield
    except NeedsGenerativeEditorError as error:
        if editor not in GENERATIVE_EDITORS:
            raise
        raise UnsupportedInstructionError(
            f"{error.what}, and the {reasoner!r} reasoner reads only those: for the {editor!r} editor to make it, "
            "choose a reasoner that passes other instructions on (passthrough, llm or vlm)."
            + (f" {error.also}" if error.also else "")) from None


RESTORED_NOTE = "The image from before that turn is given back as it was stored, not drawn again."


def _saying_what_the_restore_does(thought: Thought, current: Image.Image, restored: Image.Image) -> Thought:
    """``thought`` with the intent of giving ``restored`` back, where its own intent says otherwise (a canvas
    whose earlier turns were drawn differently from the reasoner's replay of them)."""
    from edit_agent.world.restore import REPLAY_DIFFERS_NOTE, restored_intent

    intent = restored_intent(current, restored, thought.intent.text)
    if intent is None:
        return thought
    return thought.model_copy(update={
        "intent": thought.intent.model_copy(update={"text": intent}),
        "reasoning": f"{thought.reasoning}\n{REPLAY_DIFFERS_NOTE.format(intent=intent)}",
    })


def gives_back_an_earlier_image(turn: TurnRecord) -> bool:
    """Whether ``turn`` is a canvas's "undo that" that gave back the image stored before the turn it reverts
    (a photo's "undo that" that an editor drew is an edit like any other)."""
    from edit_agent.world.language import is_undo_request

    return is_undo_request(turn.instruction) and RESTORED_NOTE in turn.reasoning


COMMIT_ATTEMPTS = 3
"""Commits a turn tries when an image it shares with another session goes with that session's deletion meanwhile."""


def _release(image: Image.Image) -> None:
    """Close a stored image opened lazily for one turn (:meth:`Store.lazy_image`) that was never decoded: its file
    is still open. One that was decoded closed its file then, and keeps its pixels for whoever holds it."""
    if isinstance(image, ImageFile.ImageFile) and image.fp is not None:
        image.close()


def turn_running(store: Store, session_id: str) -> bool:
    """Whether an :class:`EditSession` of this process is making a turn of ``session_id`` (or moving its head) now:
    a page reloaded meanwhile can say so, where it would show the session as if nothing were under way."""
    with _registry_lock:
        lock = _session_locks.get((store.folder, session_id))
    return lock is not None and lock.locked()


def _session_lock(store: Store, session_id: str) -> threading.Lock:
    # Two EditSession objects for one session in one process edit one at a time.
    with _registry_lock:
        return _session_locks.setdefault((store.folder, session_id), threading.Lock())


class EditSession:
    """A multi-turn editing session over one image, persisted in a store.

    >>> session = EditSession(store=getfixture("tmp_path"))
    >>> result = session.edit(Image.new("RGB", (64, 32), "navy"), "rotate it 90 degrees")
    >>> result.image.size, result.intent
    ((32, 64), 'Rotate the image 90 degrees clockwise.')
    >>> session.edit(None, "make it brighter").intent
    'Increase the brightness by 20%.'
    >>> [turn.instruction for turn in session.history]
    ['rotate it 90 degrees', 'make it brighter']
    >>> session.undo().instruction
    'rotate it 90 degrees'
    """

    def __init__(
        self,
        store: str | Path | Store | None = None,
        reasoner: str | Reasoner | None = None,
        editor: str | Editor | None = None,
        *,
        limits: ImageLimits = DEFAULT_LIMITS,
        session_id: str | None = None,
        reasoner_options: dict[str, Any] | None = None,
        editor_options: dict[str, Any] | None = None,
    ) -> None:
        check_backend_name(reasoner, "reasoner")
        check_backend_name(editor, "editor")
        _check_session_arguments(session_id, limits)
        self._store = open_store(store)
        if session_id and not self._store.has_session(session_id):
            _check_new_session_id(session_id)  # a stored session opens whatever id an earlier version gave it
            _check_no_stored_id_starts_with(self._store, session_id)
        # Backends are built on first use: reopening a session to read it loads no model.
        self._reasoner_spec, self._editor_spec = reasoner, editor
        self._reasoner_options = _backend_options(reasoner, reasoner_options, "reasoner")
        self._editor_options = _backend_options(editor, editor_options, "editor")
        self._reasoner: Reasoner | None = None
        self._editor: Editor | None = None
        self.limits = limits
        self.id = session_id or uuid.uuid4().hex  # "" too means a new session
        self._lock = _session_lock(self._store, self.id)
        self._had_turns = False
        """Whether this session has been seen in the store: one that is gone since was deleted."""

    # A backend given by name is the process's shared instance for that name and options (its model
    # loads once for every session); an object passed in is this session's own.
    @property
    def reasoner(self) -> Reasoner:
        if self._reasoner is None:
            spec = self._reasoner_spec
            self._reasoner = spec if spec is not None and not isinstance(spec, str) else \
                shared_reasoner(spec or DEFAULT_REASONER, **self._reasoner_options)
        return self._reasoner

    @property
    def editor(self) -> Editor:
        if self._editor is None:
            spec = self._editor_spec
            self._editor = spec if spec is not None and not isinstance(spec, str) else \
                shared_editor(spec or DEFAULT_EDITOR, **self._editor_options)
        return self._editor

    # --- opening, listing, import/export ------------------------------------------------------

    @classmethod
    def open(
        cls,
        session_id: str,
        store: str | Path | Store | None = None,
        *,
        reasoner: str | Reasoner | None = None,
        editor: str | Editor | None = None,
    ) -> EditSession:
        """Reopen a stored session by its id or a prefix of it no other session shares, as the app and the
        command line show it (``UnknownSessionError`` if there is none).

        With no reasoner/editor given, the ones the session was created with are used when they
        are registered names, with the options they were built with (a model path, say); a session
        made with an object of your own gets the defaults unless the object is passed again.
        """
        opened = existing_store(store)
        if opened is None:
            where = "the default store" if store is None else f"{os.fspath(store)!r}"
            raise UnknownSessionError(f"No session {session_id!r}: {where} holds no session store.")
        session_id = opened.full_session_id(session_id)
        settings = opened.get_session(session_id).settings
        if reasoner is None and _registered(settings.get("reasoner"), REASONERS):
            reasoner, reasoner_options = settings["reasoner"], _recorded_options(settings, "reasoner_options")
        else:
            reasoner_options = None
        if editor is None and _registered(settings.get("editor"), EDITORS):
            editor, editor_options = settings["editor"], _recorded_options(settings, "editor_options")
        else:
            editor_options = None
        session = cls(
            store=opened, reasoner=reasoner, editor=editor, session_id=session_id,
            reasoner_options=reasoner_options, editor_options=editor_options,
        )
        session._had_turns = True
        return session

    @staticmethod
    def list(store: str | Path | Store | None = None) -> list[str]:
        """Ids of the stored sessions, oldest first (none where the folder holds no store; none is made)."""
        opened = existing_store(store)
        return opened.list_sessions() if opened is not None else []

    def delete(self) -> None:
        """Delete this session from the store: its turns, and its images that no other session uses
        (``UnknownSessionError`` if it has no turns stored). This object can start a new session after."""
        with self._lock:
            self._store.delete_session(self.id)
            self._had_turns = False  # deleted here, not meanwhile elsewhere: this object starts anew

    def export(self, folder: str | Path) -> Path:
        """Write the session as ``session.jsonl`` plus its PNGs under ``folder`` (created)."""
        from edit_agent.transfer import export_session

        return export_session(self._store, self.id, as_folder(folder, "The export folder"))

    def export_zip(self, archive: str | Path) -> Path:
        """Write the export as one zip file (what the app's "Download session" gives); returns its path.

        An existing file is replaced only if it is such a zip of this session (an earlier download), never
        another file, as :meth:`export` keeps to a folder of its own.
        """
        from edit_agent.archives import exported_session_in, pack_session_archive

        target = as_folder(archive, "The zip to write", kind="file")
        if target.is_dir():
            raise InvalidArgumentError(f"{target} is a folder; give the zip file's own name (such as {target.name}.zip), "
                                       "or export to a folder with export().")
        if target.exists() and exported_session_in(target) != self.id:  # a .docx is a zip too
            raise InvalidArgumentError(f"{target} exists and is not an export of this session; choose another name.")
        with scratch_folder("edit-agent-export-") as folder:
            exported = self.export(folder / "session").parent
            return pack_session_archive(exported, target)

    @classmethod
    def import_folder(cls, folder: str | Path, store: str | Path | Store | None = None) -> EditSession:
        """Import a folder written by :meth:`export`; returns the imported session.

        The session keeps its ids unless the store already holds that session or one of its turn
        ids, in which case it gets fresh ones.
        """
        from edit_agent.transfer import check_export, import_session

        source = as_folder(folder, "The folder to import")
        if source.is_file():
            raise InvalidArgumentError(f"{source} is a file, not an export folder; a zip (the app's download) "
                                       "is opened with EditSession.import_zip().")
        check_export(source)  # before the store, which opening may create
        with store_made_if_needed(store) as opened:  # images are checked there: a refusal leaves no new store
            return cls.open(import_session(opened, source), store=opened)

    @classmethod
    def import_zip(cls, archive: str | Path, store: str | Path | Store | None = None) -> EditSession:
        """Import a zip of an export folder (the app's "Download session"); ids as :meth:`import_folder`."""
        from edit_agent.archives import named_as_archive, unpack_session_archive
        from edit_agent.transfer import import_session

        path = as_folder(archive, "The zip to import", kind="file")
        if not path.is_file():
            raise InvalidArgumentError(f"{path} is not a file; give the .zip the app downloaded.")
        with scratch_folder("edit-agent-import-") as unpacked:
            folder = unpack_session_archive(path, unpacked)  # before the store, which opening may create
            with named_as_archive(folder, str(path)), store_made_if_needed(store) as opened:
                return cls.open(import_session(opened, folder), store=opened)

    # --- the turn ------------------------------------------------------------------------------

    def edit(
        self, image: ImageInput | None, instruction: str, *, seed: int | None = None, from_turn: str | None = None,
        from_source: bool = False,
    ) -> EditResult:
        """Run one turn: reconstruct the intent, edit, commit. Returns the new head.

        ``image`` may be ``None`` after the first turn (continue from the head). ``from_turn`` edits
        the image that earlier turn produced instead, with that turn's history, and ``from_source=True``
        the session's source image: the session branches there, in one step with the edit (``checkout``
        then ``edit`` would let another thread's turn come between them, and a refused edit would leave
        the head moved). A failed turn raises an :class:`EditAgentError` and leaves the session exactly
        as it was.
        """
        started = time.perf_counter()
        instruction = validate_instruction(instruction)
        seed = validated_seed(seed)
        if not isinstance(from_source, bool):
            raise InvalidArgumentError(f"from_source must be True or False, not {type(from_source).__name__}.")
        if sum((image is not None, from_turn is not None, from_source)) > 1:
            raise InvalidArgumentError(
                "Give one of an image, from_turn or from_source: each says which image the turn edits.")
        self._store.check_writable()  # before the models run, not after: the turn could not be kept
        with self._lock:
            session = self._record_or_none()
            head = session.head if session else None
            parent = head if from_turn is None else self._existing_turn(from_turn)
            if parent == head and head is not None and not from_source and is_again_alone(instruction) \
                    and self._store.redo_target(self.id, head) is not None:
                raise InvalidInstructionError(REDO_AFTER_UNDO)
            if from_source:
                if session is None:
                    raise self._no_image_to_start_from()
                parent = None
            input_image, input_hash = self._input_image(image, session, parent)
            source_image = input_image
            if session is not None and session.source_hash != input_hash:
                source_image = self._store.lazy_image(session.source_hash)
            request = TurnRequest(
                instruction=instruction, history=self._history_turns(parent),
                image=input_image, source_image=source_image, number=self._store.next_seq(self.id),
            )
            seed = secrets.randbits(31) if seed is None else seed
            try:
                thought, output, timings = self._reason_and_edit(request, seed, input_is_stored=input_hash is not None)
            finally:
                if source_image is not input_image:
                    _release(source_image)
            timings["total"] = time.perf_counter() - started
            turn = self._commit(session, (head, parent), (input_image, input_hash), output, instruction, thought,
                                seed, timings)
            self._had_turns = True
        # The stored "total" ends where the row is written; the caller's figure includes the commit.
        return self._result(turn, image=output).model_copy(update={"seconds": time.perf_counter() - started})

    def _no_image_to_start_from(self) -> EditAgentError:
        if self._had_turns:  # deleted since, here or by another process
            return self._deleted("give an image to start it again")
        return InvalidImageError("The first turn of a session needs an image.")

    def _deleted(self, what_next: str) -> UnknownSessionError:
        return UnknownSessionError(f"Session {self.id} is no longer in the store at {self._store.folder} (it was "
                                   f"deleted); {what_next}.")

    def _record_or_gone(self) -> SessionRecord | None:
        """The session's record; ``None`` before its first turn, and the deleted error once it had turns: a move
        of the head must not quietly do nothing in a session deleted meanwhile."""
        session = self._record_or_none()
        if session is None and self._had_turns:
            raise self._deleted("nothing was moved")
        return session

    def _existing_turn(self, turn_id: object) -> str:
        """``turn_id`` if it names a turn of this session, else one clear error."""
        if not isinstance(turn_id, str):
            raise InvalidArgumentError(f"from_turn must be a turn id (text), not {type(turn_id).__name__}.")
        if not is_valid_text(turn_id):
            raise InvalidArgumentError("from_turn is not valid Unicode text.")
        if self._record_or_none() is None:
            raise UnknownTurnError(f"No turn {turn_id!r} in session {self.id!r} (it has no turns yet).")
        return self._store.get_turn(self.id, turn_id).id  # raises UnknownTurnError

    def _input_image(
        self, image: ImageInput | None, session: SessionRecord | None, parent: str | None
    ) -> tuple[Image.Image, str | None]:
        """The turn's input image, and its hash when it is already in the store (else ``None``)."""
        if image is not None:
            return load_image(resolve_sample(image) or image, limits=self.limits), None
        if session is None:
            raise self._no_image_to_start_from()
        digest = session.source_hash if parent is None else self._store.get_turn(self.id, parent).output_hash
        return self._store.load_image(digest), digest

    def _reason_and_edit(
        self, request: TurnRequest, seed: int, *, input_is_stored: bool
    ) -> tuple[Thought, Image.Image, dict[str, float]]:
        # No database transaction is open here: inference can take minutes.
        editor = self.editor  # built first: a missing editor model fails before the reasoner's work
        with translated_failures(self.reasoner.name), _reasoner_for(editor.name, self.reasoner.name):
            began = time.perf_counter()
            thought = self.reasoner.reconstruct(request)
            reasoned = time.perf_counter()
        if not isinstance(thought, Thought):
            raise EditAgentError(f"The reasoner {self.reasoner.name!r} returned {type(thought).__name__}, not a Thought.")
        # A photo's take-back edits an image given with the turn (giving an earlier stored one back would drop it); a
        # canvas's "undo that" gives the scene before the turn it reverts back, whatever image came with it.
        from edit_agent.world.language import is_undo_request

        gives_back = input_is_stored or is_undo_request(request.instruction)
        restored = self._restored_image(thought, request) if gives_back else None
        if restored is not None:  # an undo: the image from before the turn it reverts, exactly as it was stored
            output, edited, note = restored, time.perf_counter(), RESTORED_NOTE
            thought = _saying_what_the_restore_does(thought, request.image, restored)
        else:
            # Part of the last edit taken back: that edit with less of it, from the image before it. The turn keeps
            # its own intent (what it does to the image it follows); the reasoning says how it was drawn.
            redraw = thought.redraw if input_is_stored else None
            redrawn = self._redrawn_input(redraw, request) if redraw is not None else None
            asked = thought.intent if redraw is None or redrawn is None else redraw.intent
            if redraw is not None and redrawn is not None:
                thought = thought.model_copy(update={"reasoning": f"{thought.reasoning}\n{redraw.why}"})
            with translated_failures(editor.name):
                # A new input is stored after the edit (the session's source, on a first turn): an editor that
                # draws on its input in place must get a copy. A stored one is already a copy of the store's pixels.
                given = redrawn or (request.image if input_is_stored else request.image.copy())
                output = editor.edit(given, asked, seed=seed)
                edited = time.perf_counter()
                note = editor.info().note
        if note:
            thought = thought.model_copy(update={"reasoning": f"{thought.reasoning}\n{note}"})
        timings = {"reason": reasoned - began, "edit": edited - reasoned}
        return thought, self._checked_output(output), timings

    def _restored_image(self, thought: Thought, request: TurnRequest) -> Image.Image | None:
        """The stored input of the turn ``thought`` gives back (an undo), if it names one on the way to this turn."""
        return self._input_on_the_way(thought.restores_turn, request)

    def _redrawn_input(self, redraw: Redraw, request: TurnRequest) -> Image.Image | None:
        """The stored input of the turn ``redraw`` draws again with less of its edit, if it is on the way to this turn
        and the editor draws that edit exactly: a generative editor would draw another picture, losing the one the
        last turn made."""
        if not draws_exactly(self.editor, redraw.intent):
            return None
        return self._input_on_the_way(redraw.turn_id, request)

    def _input_on_the_way(self, turn_id: str | None, request: TurnRequest) -> Image.Image | None:
        """The stored input of the earlier turn ``turn_id``, if it is on the way to this turn."""
        if turn_id is None or turn_id not in {turn.turn_id for turn in request.history}:
            return None
        return self._store.load_image(self._store.get_turn(self.id, turn_id).input_hash)

    def _checked_output(self, output: object) -> Image.Image:
        """The editor's output as RGB, refused (nothing saved) unless it fits :data:`STORED_LIMITS`.

        An empty crop cannot be written, and a result past Pillow's decompression-bomb threshold
        would commit and then fail to load at every later turn. The input limits do not apply:
        an edit may enlarge or shrink the image.
        """
        if not isinstance(output, Image.Image):
            raise EditAgentError(f"The editor {self.editor.name!r} returned {type(output).__name__}, not an image.")
        try:
            check_image_size(output.size, STORED_LIMITS, advice="")
            return load_image(output, limits=STORED_LIMITS)
        except InvalidImageError as error:
            raise InvalidInstructionError(f"The edited image cannot be kept: {error} Nothing was saved.") from None

    def _commit(
        self, session: SessionRecord | None, head_and_parent: tuple[str | None, str | None],
        given: tuple[Image.Image, str | None], output: Image.Image, instruction: str, thought: Thought, seed: int,
        timings: dict[str, float],
    ) -> TurnRecord:
        """Store the turn as a child of ``parent``, provided the head is still ``head`` (another process
        may have moved it meanwhile)."""
        began = time.perf_counter()
        head, parent = head_and_parent
        input_image, input_hash = given
        # An input that came from the store needs no second hash or write.
        input_hash = input_hash or self._store.put_image(input_image)
        output_hash = self._store.put_image(output)
        new_session = None
        if session is None:
            new_session = SessionRecord(
                id=self.id, created=time.time(), source_hash=input_hash, head=None,
                settings=self._settings(),
            )
        stored = time.perf_counter() - began
        # The total so far covers reasoning and editing; writing the images is part of the turn too.
        timings = {**timings, "store": stored, "total": timings["total"] + stored}
        turn = TurnRecord(
            id=uuid.uuid4().hex[:16], session_id=self.id, parent_id=parent, seq=0,
            instruction=instruction, reasoning=thought.reasoning, intent=thought.intent,
            fallback=thought.fallback, input_hash=input_hash, output_hash=output_hash,
            editor=self.editor.info(), seed=seed, timings=timings, status="committed",
            created=time.time(),
        )
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                return self._store.commit_turn(turn, expected_head=head, new_session=new_session)
            except UnknownSessionError:
                if new_session:
                    raise
                raise self._deleted("this turn was not stored") from None  # while the turn ran
            except ImagesGoneError as gone:  # another session's deletion took a file this turn shares: again
                if attempt == COMMIT_ATTEMPTS:
                    raise
                for digest, image in ((input_hash, input_image), (output_hash, output)):
                    if digest in gone.digests:
                        self._store.put_image(image)
        raise AssertionError("unreachable")

    def _settings(self) -> dict[str, str]:
        settings = {"reasoner": self.reasoner.name, "editor": self.editor.name, "edit_agent": __version__}
        # What a name alone would not rebuild (a model path, a quantization): reopening uses it again.
        for key, backend in (("reasoner_options", self.reasoner), ("editor_options", self.editor)):
            options = build_options(backend)
            if options:
                settings[key] = json.dumps(options, sort_keys=True)
        return settings

    # --- moving the head ---------------------------------------------------------------------

    def undo(self) -> EditResult | None:
        """Move the head to its parent; return the new head (``None`` at the source image).

        At the source image there is nothing to undo and nothing changes.
        """
        return self.undo_step()[1]

    def undo_step(self) -> tuple[bool, EditResult | None]:
        """Like :meth:`undo`, and also whether the head moved: ``(False, None)`` at the source image,
        ``(True, None)`` back to it. Read in the same step as the move, so two undos at once never both
        report one."""
        with self._lock:
            session = self._record_or_gone()
            if session is None or session.head is None:
                return False, None
            parent = self._store.get_turn(self.id, session.head).parent_id
            self._store.move_head(self.id, parent, expected_head=session.head)
            return True, self._result_for(parent)

    def redo(self) -> EditResult | None:
        """Move the head to the child it was last at (after an undo or checkout) and return it.

        With nothing to redo the head stays and is returned.
        """
        return self.redo_step()[1]

    def redo_step(self) -> tuple[bool, EditResult | None]:
        """Like :meth:`redo`, and also whether the head moved (read in the same step as the move)."""
        with self._lock:
            session = self._record_or_gone()
            if session is None:
                return False, None
            target = self._store.redo_target(self.id, session.head)
            if target is None:
                return False, self._result_for(session.head)
            self._store.move_head(self.id, target, expected_head=session.head)
            return True, self._result_for(target)

    def checkout(self, turn_id: str | None) -> EditResult | None:
        """Make ``turn_id`` the head (``None``: the source image); the next edit branches from there."""
        with self._lock:
            if turn_id is None:
                if self._record_or_gone() is not None:
                    self._store.move_head(self.id, None)
                return None
            if self._record_or_gone() is None:
                raise UnknownTurnError(f"No turn {turn_id!r} in session {self.id!r} (it has no turns yet).")
            self._store.get_turn(self.id, turn_id)  # raises UnknownTurnError
            self._store.move_head(self.id, turn_id)
            return self._result_for(turn_id)

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` would move the head (it is on a turn, not the source image)."""
        session = self._record_or_none()
        return session is not None and session.head is not None

    @property
    def can_redo(self) -> bool:
        """Whether :meth:`redo` would move the head (it has a child to go to)."""
        session = self._record_or_none()
        return session is not None and self._store.redo_target(self.id, session.head) is not None

    # --- reading -------------------------------------------------------------------------------

    @property
    def head(self) -> EditResult | None:
        """The current head turn (``None`` at the source image or before the first edit)."""
        session = self._record_or_none()
        return self._result_for(session.head) if session else None

    def step_back_over_undo_turn(self) -> tuple[bool, EditResult | None]:
        """Where the head is a canvas's "undo that" turn, move back past it and return the new head: there is
        nothing to redo after such a turn (a MICE-World canvas keeps undo as a turn of its own), so this is what
        "redo that" means there; the turn before it shows the edit it undid. ``(False, head)`` anywhere else,
        a photo's "undo that" that an editor drew as an edit included. Read in the same step as the move."""
        with self._lock:
            session = self._record_or_none()
            if session is None or session.head is None:
                return False, None
            head = self._store.get_turn(self.id, session.head)
            if head.parent_id is None or not gives_back_an_earlier_image(head):
                return False, self._result(head)
            self._store.move_head(self.id, head.parent_id, expected_head=session.head)
            # redo does not go into it again: that would make the next redo an undo, and a redo loop endless
            self._store.take_back(self.id, head.id)
            return True, self._result_for(head.parent_id)

    @property
    def source_image(self) -> Image.Image | None:
        session = self._record_or_none()
        return self._store.load_image(session.source_hash) if session else None

    @property
    def history(self) -> list[EditResult]:
        """The turns from the source image to the head (the source itself is not a turn)."""
        session, turns = self._record_and_turns()
        if session is None:
            return []
        return [self._result(turn) for turn in branch_to(turns, session.head)]

    @property
    def turns(self) -> list[EditResult]:
        """Every turn of the tree, in the order they were made."""
        return [self._result(turn) for turn in self._store.turns(self.id)]

    def turn(self, turn_id: str) -> EditResult:
        """The turn ``turn_id`` of this session, wherever it is in the tree (:class:`UnknownTurnError` if none)."""
        if self._record_or_none() is None:
            raise UnknownTurnError(f"No turn {turn_id!r} in session {self.id!r} (it has no turns yet).")
        return self._result(self._store.get_turn(self.id, turn_id))

    def turn_records(self) -> list[TurnRecord]:
        """The stored records of every turn (parents, hashes, seeds, timings)."""
        return self._store.turns(self.id)

    def _record_or_none(self) -> SessionRecord | None:
        if not self._store.has_session(self.id):
            return None
        return self._store.get_session(self.id)

    def _record_and_turns(self) -> tuple[SessionRecord | None, dict[str, TurnRecord]]:
        """The session's record and its turns by id, as of one moment: a deletion between the two reads is no
        damaged tree."""
        with self._store.one_moment():
            session = self._record_or_none()
            turns = {turn.id: turn for turn in self._store.turns(self.id)} if session else {}
        return session, turns

    def _path_to(self, head: str | None) -> list[TurnRecord]:
        session, turns = self._record_and_turns()
        if session is None and head is not None:
            raise self._deleted("nothing was changed")
        return branch_to(turns, head)

    def _history_turns(self, head: str | None) -> tuple[HistoryTurn, ...]:
        return tuple(
            HistoryTurn(turn_id=t.id, instruction=t.instruction, reasoning=t.reasoning, intent=t.intent.text,
                        number=t.seq)
            for t in self._path_to(head)
        )

    def _result_for(self, turn_id: str | None) -> EditResult | None:
        return None if turn_id is None else self._result(self._store.get_turn(self.id, turn_id))

    def _stored_image(self, digest: str) -> Image.Image:
        """A turn's image, loaded when asked for: its file gone with a session deleted since is no damage."""
        try:
            return self._store.load_image(digest)
        except StoreError:
            if not self._store.has_session(self.id):
                raise self._deleted("its images went with it") from None
            raise

    def _result(self, turn: TurnRecord, *, image: Image.Image | None = None) -> EditResult:
        digest = turn.output_hash
        return EditResult(
            image=image if image is not None else (lambda: self._stored_image(digest)),
            instruction=turn.instruction, reasoning=turn.reasoning, intent=turn.intent.text,
            constraints=turn.intent.constraints, fallback=turn.fallback, turn_id=turn.id,
            session_id=turn.session_id, editor=turn.editor.backend, seconds=turn.timings.get("total", 0.0),
            seed=turn.seed, changed=turn.changed,
        )

    def __repr__(self) -> str:
        return f"EditSession(id={self.id!r})"


def _registered(name: str | None, table: dict[str, str]) -> str | None:
    return name if name in table else None


def _backend_options(spec: object, options: object, kind: str) -> dict[str, Any]:
    """The keyword options for a backend given by name; one clear error for options without a name."""
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        raise InvalidArgumentError(f"{kind}_options must be a dict of keyword options, not {type(options).__name__}.")
    if options and not isinstance(spec, str):
        raise InvalidArgumentError(
            f"{kind}_options go with a {kind} name (e.g. {kind}=\"llm\"); "
            + (f"a built {kind} object already has its options." if spec is not None else "none was given.")
        )
    return dict(options)


def _recorded_options(settings: dict[str, str | None], key: str) -> dict[str, Any]:
    """Options a session recorded for its backend; ``{}`` when none were (or the record is not readable,
    as in a session written by an older release)."""
    try:
        options = json.loads(settings.get(key) or "{}")
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}


def validate_instruction(instruction: object) -> str:
    if not isinstance(instruction, str):
        raise InvalidInstructionError(f"The instruction must be text, not {type(instruction).__name__}.")
    if not is_valid_text(instruction):
        raise InvalidInstructionError("The instruction is not valid Unicode text (it holds a lone surrogate).")
    text = instruction.strip()
    if is_blank(text):  # spaces, or characters that show nothing (a zero-width space)
        raise InvalidInstructionError("The instruction is empty; say what to change.")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise InvalidInstructionError(
            f"The instruction has {len(text)} characters; the limit is {MAX_INSTRUCTION_CHARS}."
        )
    control = CONTROL_CHARACTER.search(text)
    if control:  # stored and shown as typed: a NUL or an escape sequence would travel into every later view
        raise InvalidInstructionError(
            f"The instruction holds a control character (U+{ord(control.group()):04X}); send plain text.")
    return text




def validated_seed(seed: object) -> int | None:
    """``seed`` as a plain int (numpy integers included), checked before any model runs."""
    if seed is None:
        return None
    if isinstance(seed, numbers.Real) and not isinstance(seed, (bool, numbers.Integral)) and float(seed).is_integer():
        seed = int(seed)  # 7.0, np.float64(7)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InvalidArgumentError(f"The seed must be an integer or None, not {type(seed).__name__} {seed!r}.")
    if not SEED_RANGE[0] <= int(seed) <= SEED_RANGE[1]:
        raise InvalidArgumentError(f"The seed {seed} does not fit in 64 bits; use one from {SEED_RANGE[0]} to {SEED_RANGE[1]}.")
    return int(seed)


def _check_session_arguments(session_id: object, limits: object) -> None:
    if session_id is not None and (
        not isinstance(session_id, str) or (session_id and not session_id.strip()) or not is_valid_text(session_id)
    ):
        raise InvalidArgumentError(f"A session id must be text with a visible character; got {session_id!r}.")
    if not isinstance(limits, ImageLimits):
        raise InvalidArgumentError(f"limits must be an ImageLimits, not {type(limits).__name__}.")


def _check_new_session_id(session_id: str) -> None:
    """A chosen id for a new session is printed by every listing as it is: no escape codes, no line breaks."""
    problem = id_problem(session_id)
    if problem:
        shown = session_id if len(session_id) <= 60 else session_id[:60] + "…"
        raise InvalidArgumentError(f"A session id {problem}; got {shown!r}.")


def _check_no_stored_id_starts_with(store: Store, session_id: str) -> None:
    """A new session may not be named by the start of a stored one's id: the 8 characters the app shows open the
    stored session everywhere, and would then open the new one instead."""
    started = [stored for stored in store.generated_ids_started_by(session_id) if stored != session_id]
    if started:
        raise InvalidArgumentError(
            f"{session_id!r} is the start of the stored session {started[0]}'s id, which it names everywhere ids are "
            f"given: open that session with EditSession.open({session_id!r}), or choose another id for a new one.")


@contextmanager
def translated_failures(backend: str) -> Iterator[None]:
    """Turn backend failures into EditAgentErrors; free accelerator memory after an OOM. (The evaluation runner
    uses it too, so that a backend fails a turn there as it fails one here.)"""
    try:
        yield
    except EditAgentError:
        raise
    except Exception as error:
        if isinstance(error, MemoryError):  # the machine's own memory, not an accelerator's
            _free_accelerator_memory()
            raise OutOfMemoryError(
                f"{backend} ran out of memory on this machine; memory was freed and the session is unchanged. "
                "Try a smaller image, or close other programs."
            ) from error
        if _is_out_of_memory(error):
            _free_accelerator_memory()
            raise OutOfMemoryError(
                f"{backend} ran out of device memory; memory was freed and the session is unchanged. "
                "Try a smaller image, fewer steps, NF4 quantization or CPU offload."
            ) from error
        raise EditAgentError(f"{backend} failed: {type(error).__name__}: {error}") from error


def _is_out_of_memory(error: Exception) -> bool:
    return type(error).__name__ == "OutOfMemoryError" or "out of memory" in str(error).lower()


def _free_accelerator_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")  # only if a backend already loaded it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
