"""The app's event handlers: plain functions over EditSession, one per user action.

Every handler takes the browser state ``{"token": ..., "session_id": ...}`` and returns it
(possibly changed) with the refreshed view. The token is a random secret that the browser keeps;
a session is visible only to the token that created it, and an unknown or foreign session id gets
the same error. Errors reach the user as ``gr.Error`` messages; the session is left as it was.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import logging
import math
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import BaseModel, ConfigDict

from edit_agent.archives import named_as_archive, unpack_session_archive
from edit_agent.backends import DEFAULT_EDITOR, DEFAULT_REASONER, GENERATIVE_EDITORS
from edit_agent.errors import (
    EditAgentError,
    InvalidImageError,
    InvalidInstructionError,
    NeedsGenerativeEditorError,
    UnsupportedInstructionError,
)
from edit_agent.folders import scratch_folder
from edit_agent.history_words import (
    is_history_move,
    is_redo_request,
    steps_back,
)
from edit_agent.image_fitting import SCALABLE_LIMITS
from edit_agent.images import ImageLimits
from edit_agent.photo_parsing import asks_to_undo
from edit_agent.records import EditorInfo, Intent, Thought, TurnRequest
from edit_agent.session import EditSession, open_store, turn_running
from edit_agent.store import Store
from edit_agent.tools import TOOL_LIMITS, SessionOwners, session_owners
from edit_agent.transfer import import_session
from ui import backends, files, views
from ui.attachments import check_attachment, load_attachment

log = logging.getLogger(__name__)


UPLOAD_LIMITS = ImageLimits(max_side=TOOL_LIMITS.max_side, max_pixels=TOOL_LIMITS.max_pixels, max_bytes=64 * 2**20)
"""The agent tools' pixel limits; a file may be larger than theirs (sent as base64), since a 16 MP PNG is 30-50 MB."""


class AppConfig(BaseModel):
    """How the app runs. Defaults run offline on a CPU-only machine."""

    model_config = ConfigDict(frozen=True)

    store: Path | None = None
    """Store folder; ``None``: ``$EDIT_AGENT_HOME`` or the per-user data folder (never Gradio's cache)."""
    reasoner: str = DEFAULT_REASONER
    """Reasoner preselected for new sessions."""
    editor: str = DEFAULT_EDITOR
    """Editor preselected for new sessions."""
    reasoner_options: dict[str, Any] = {}
    """Build options of the preselected reasoner (e.g. ``{"model": folder}``); other picks get their defaults."""
    editor_options: dict[str, Any] = {}
    """Build options of the preselected editor (e.g. ``{"model": folder}``); other picks get their defaults."""
    image_limits: ImageLimits = UPLOAD_LIMITS
    """Limits on uploaded images (after Gradio's byte limit ``max_upload``)."""
    scalable_limits: ImageLimits = SCALABLE_LIMITS
    """An attached image over ``image_limits`` but within these is scaled down to fit them, with a notice."""
    max_upload: str = "256mb"
    """Largest upload Gradio accepts at all: a session's zip, of full-size PNGs (an image is held to
    ``image_limits`` after it arrives)."""
    max_import_bytes: int = 1024**3
    """Most bytes a session zip opened in the app may unpack to."""
    queue_size: int = 64
    """Requests waiting beyond this are refused with a 'queue full' message instead of piling up."""
    gpu_concurrency: int = 1
    """Edits that may run at once (they share one accelerator)."""

    @classmethod
    def from_env(cls) -> AppConfig:
        """``EDIT_AGENT_HOME``, ``EDIT_AGENT_REASONER``, ``EDIT_AGENT_EDITOR`` override the defaults."""
        overrides: dict[str, Any] = {}
        if os.environ.get("EDIT_AGENT_HOME"):
            overrides["store"] = Path(os.environ["EDIT_AGENT_HOME"])
        for field in ("reasoner", "editor"):
            if os.environ.get(f"EDIT_AGENT_{field.upper()}"):
                overrides[field] = os.environ[f"EDIT_AGENT_{field.upper()}"]
        return cls(**overrides)

    def options(self, kind: str, name: str) -> dict[str, Any]:
        """The build options of backend ``name``: the configured ones for the preselected backend, else none."""
        if kind == "reasoner":
            return dict(self.reasoner_options) if name == self.reasoner else {}
        return dict(self.editor_options) if name == self.editor else {}


REFUSAL_SECONDS = None
"""A refusal stays until it is closed or the next message is sent (``CLOSE_TOASTS_JS``): it says what to fix while
the message is fixed. Timed, it could vanish at once: Gradio shows toasts of one kind as one group, closed by the
timer of each toast that started the group, even one closed since."""
NOTICE_SECONDS = 4.0
"""How long a notice (a move made, a session opened) stays on screen."""


def _tell(message: str) -> None:
    """A passing notice (a move made, a session opened): gone after a few seconds, before the next one stacks on
    it over the current image's buttons."""
    gr.Info(message, duration=NOTICE_SECONDS)


def _redo_one_step(session: EditSession) -> bool:
    """Forward one turn; after a canvas's "undo that" turn, which leaves nothing to redo, back past that turn (the
    turn before it shows the edit it undid). True when the head went forward; otherwise the page is told why."""
    if session.redo_step()[0]:
        return True
    if session.step_back_over_undo_turn()[0]:
        _tell("Took back the “undo that” turn: the edit it undid is back.")
    else:
        _tell("Nothing to redo.")
    return False


EMPTY_MESSAGE = "Type what to change (e.g. 'make it warmer')."
SESSION_GONE = ("The session shown here is gone (deleted in another tab?): attach a photo or pick a sample to start "
                "a new one; the others are under My sessions.")


class _SessionGone(Exception):
    """The page's session is no longer there; ``state`` is the page's state without it."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(SESSION_GONE)
        self.state = state


def friendly_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Show SDK errors as messages; log anything else and show a short message, never a trace. A handler that
    draws the page (a method of :class:`ChatApp`) shows a page whose session is gone as no session, said once;
    any other refuses."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except _SessionGone as gone:
            app = args[0] if args and isinstance(args[0], ChatApp) else None
            # a message refused keeps its text in the box (the page then redraws without the session); a download
            # has no page to redraw
            if app is None or handler.__name__ in ("edit", "export"):
                raise gr.Error(SESSION_GONE, duration=REFUSAL_SECONDS, print_exception=False) from None
            gr.Warning(SESSION_GONE, duration=REFUSAL_SECONDS)
            return app._reply(gone.state)
        except gr.Error:
            raise
        except EditAgentError as error:
            # A user's mistake, not a server fault: no traceback in the log. Escaped: the toast renders HTML,
            # and the message may quote what was typed.
            said = views.in_app_words(str(error)) + (
                f" {_where_a_generative_editor_is()}" if isinstance(error, NeedsGenerativeEditorError) else "")
            raise gr.Error(html.escape(said, quote=False), title="Could not do that", duration=REFUSAL_SECONDS,
                           print_exception=False) from error
        except Exception as error:
            log.exception("unexpected failure in %s", handler.__name__)
            raise gr.Error(f"Unexpected {type(error).__name__}; nothing was changed.", title="Error",
                           duration=REFUSAL_SECONDS) from error  # timed, it would close the refusals grouped with it

    return wrapper


def _where_a_generative_editor_is() -> str:
    """What a user told "a generative editor is needed" can do here: pick one that runs on this machine for a new
    session, or, where none does (the offline default), keep to exact edits."""
    here = sorted(name for name in GENERATIVE_EDITORS if backends.unavailable_reason("editor", name) is None)
    if not here:
        return "None can run on this machine (Settings lists why); exact photo edits still work."
    return f"Pick {' or '.join(here)} as the editor in Settings, then start a new session."


@contextlib.contextmanager
def _named_as_sent(upload: Path) -> Iterator[None]:
    """An image error names the file as the user sent it, not by the server's upload path."""
    try:
        yield
    except InvalidImageError as error:
        raise InvalidImageError(str(error).replace(str(upload), upload.name)) from None


class _NotLoaded:
    """Stands in for a backend when a handler only reads or moves the head (no model is loaded)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def reconstruct(self, request: TurnRequest) -> Thought:
        raise AssertionError("read-only session")

    def edit(self, image: object, intent: Intent, *, seed: int | None = None) -> object:
        raise AssertionError("read-only session")

    def info(self) -> EditorInfo:
        return EditorInfo(backend=self.name)


_NEW_SESSION_ID = re.compile(r"[0-9a-f]{32}")

SOURCE_SHOWN = "source"
"""The page state's ``shown_head`` when the page shows the source image (turn ids are hex)."""


EDITING = "Reconstructing the intent and editing…"
"""What the progress bar says while a turn runs."""


class ChatApp:
    """The handlers, bound to one store."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self._first_turns: dict[str, float] = {}
        """The ids of the new sessions whose first turn this app is making now, from the moment the page sent it
        (:meth:`first_turn_sent`), by when it was sent: reading a large photo, loading a model and waiting in the
        queue all come before the session's lock is taken, and a page reloaded meanwhile took the turn for not
        running (and never caught up)."""
        self._first_turns_lock = threading.Lock()

    UNSTARTED_AT_MOST = 20.0
    """Seconds a first turn sent is taken to be on its way before its handler starts. A turn waiting in the queue
    runs only while the page that sent it is there: Gradio drops the queued events of a page that left (a reload)
    once it sees it gone, within about ten seconds, and a page reloaded between its Enter and the turn's joining the
    queue never sent the turn at all. Waited for ten minutes, such a turn left the reloaded page locked for them."""

    def first_turn_sent(self, session_id: str) -> None:
        """The page sent a first turn that will make session ``session_id`` (before it waits in the queue)."""
        with self._first_turns_lock:
            self._first_turns[session_id] = time.monotonic()

    @contextlib.contextmanager
    def _first_turn(self, session_id: str | None) -> Iterator[None]:
        if session_id is None:
            yield
            return
        with self._first_turns_lock:
            self._first_turns[session_id] = math.inf  # running: no longer only queued
        try:
            yield
        finally:
            with self._first_turns_lock:
                self._first_turns.pop(session_id, None)

    @functools.cached_property
    def store(self) -> Store:
        return open_store(self.config.store)

    @functools.cached_property
    def owners(self) -> SessionOwners:
        return session_owners(self.store)

    # --- state ---------------------------------------------------------------------------------

    def _state(self, state: Any, *, gone_is_told: bool = True) -> dict[str, Any]:
        """A clean copy of the browser state, with a token (made on first visit). Where the page's session is
        no longer this browser's (deleted in another tab), :class:`_SessionGone` says so, unless ``gone_is_told``
        is off."""
        clean = self._clean_state(state)
        if gone_is_told and clean["session_id"] is not None and not self._owns(clean):
            raise _SessionGone({**clean, "session_id": None})
        return clean

    @staticmethod
    def _clean_state(state: Any) -> dict[str, Any]:
        state = state if isinstance(state, dict) else {}
        token = state.get("token")
        if not isinstance(token, str) or len(token) < 32:
            token = secrets.token_urlsafe(32)
        session_id = state.get("session_id")
        shown = state.get("shown_head")
        starting = state.get("starting")
        return {"token": token, "session_id": session_id if isinstance(session_id, str) else None,
                "shown_head": shown if isinstance(shown, str) else None,
                "starting": starting if isinstance(starting, str) and _NEW_SESSION_ID.fullmatch(starting) else None}

    def _open(self, state: dict[str, Any], *, for_edit: bool = False, progress: Any = None) -> EditSession:
        session_id = self.owners.check(state["session_id"], state["token"])
        if not for_edit:
            return EditSession.open(
                session_id, store=self.store, reasoner=_NotLoaded("reasoner"), editor=_NotLoaded("editor")
            )
        settings = self.store.get_session(session_id).settings
        # The backends the session recorded, shared with every other session: with the options it recorded
        # (a recorded model path is checked when it loads), or else this app's for that backend, which is
        # how a session opened from a download finds the model this app serves.
        chosen = {kind: self._backend(kind, settings.get(kind) or getattr(self.config, kind), progress)
                  for kind in ("reasoner", "editor") if not settings.get(f"{kind}_options")}
        return EditSession.open(session_id, store=self.store, **chosen)

    def _backend(self, kind: backends.Kind, name: str, progress: Any = None) -> Any:
        """The shared instance of a backend; its first use in this process loads its model, which ``progress`` is
        told of (the bar sat at "Reconstructing the intent" for the minute a language model took to load)."""
        options = self.config.options(kind, name)
        if not options:  # a configured model was loaded when the app started
            self._check_available(kind, name)
        loading = progress is not None and not backends.is_loaded(kind, name, **options)
        if loading:
            progress(0.05, desc=f"Loading the {kind} {name} (its first use here: this can take a minute)…")
        built = backends.reasoner(name, **options) if kind == "reasoner" else backends.editor(name, **options)
        if loading:
            progress(0.1, desc=EDITING)
        return built

    @staticmethod
    def _check_available(kind: backends.Kind, name: str) -> None:
        reason = backends.unavailable_reason(kind, name)
        if reason is not None:
            raise gr.Error(f"The {kind} {name!r} is not available here: {reason}.", duration=REFUSAL_SECONDS, print_exception=False)

    def _reply(self, state: dict[str, Any]) -> tuple[Any, ...]:
        if state["session_id"] is None:
            view = views.empty_view()
            state["shown_head"] = None
        else:
            view = views.session_view(state["session_id"], self.store)
            # What the page shows is what the next message edits, whatever another tab does meanwhile.
            state["shown_head"] = view.head or SOURCE_SHOWN
        no_export = gr.File(value=None, visible=False)  # no stale link to an earlier session's zip
        return (state, *view.values(), self._sessions_menu(state), no_export, state["shown_head"], *view.buttons())

    def _sessions_menu(self, state: dict[str, Any]) -> Any:
        choices = views.session_choices(self.store, self.owners.sessions(state["token"]))
        # An empty list was a blank box that said nothing.
        return gr.Dropdown(choices=choices, value=state["session_id"],
                           info=None if choices else "None yet: each session you start is kept here.")

    # --- handlers ------------------------------------------------------------------------------

    @friendly_errors
    def restore(self, state: Any) -> tuple[Any, ...]:
        """Page load: show the session the browser last had, if it is still this user's."""
        state = self._state(state, gone_is_told=False)
        if state["session_id"] is not None and not self._owns(state):
            state["session_id"] = None
        if state["starting"] is not None and state["starting"] != state["session_id"]:
            self._resume_started(state)  # whether or not another session was on the page when it was sent
        elif self._still_running(state):  # a reload while a later turn ran: shown without it until it lands
            _tell("A turn of this session is still running; it shows here when it is done.")
        return self._reply(state)

    VIEW_OUTPUTS = 12
    """How many outputs the page's view has (``_reply``): a tick with nothing new skips them all."""

    def turn_pending(self, state: Any) -> Any:
        """Page load: watch (each second) for a turn this page sent before it was reloaded, whose reply went to the
        page that was, so that its result shows when it lands instead of the page staying as it was."""
        return gr.Timer(active=self._still_running(self._state(state, gone_is_told=False)))

    def catch_up(self, state: Any) -> tuple[Any, ...]:
        """A tick while such a turn runs: nothing, until it has landed; then the view, and no more ticks."""
        checked = self._state(state, gone_is_told=False)
        if self._still_running(checked):
            return (*(gr.skip() for _ in range(self.VIEW_OUTPUTS)), gr.Timer(active=True))
        starting = checked["starting"]
        if starting is not None and not self._owns({**checked, "session_id": starting}):
            # The page was locked while it looked: unlocked with nothing new, the message sent would seem lost.
            _tell("The message sent before the page was reloaded started no session (refused, or it never ran): "
                  "send it again.")
        return (*self.restore(state), gr.Timer(active=False))

    def _still_running(self, state: dict[str, Any]) -> bool:
        """Whether the turn the page last sent runs in this server now: a first turn whose session is not yet
        stored (one a server stopped mid-turn left claimed runs no longer), or a later turn of the session shown."""
        starting = state["starting"]
        if starting is not None and starting != state["session_id"]:
            with self._first_turns_lock:
                sent_at = self._first_turns.get(starting)
            sent_here = sent_at is not None and (sent_at == math.inf or time.monotonic() - sent_at < self.UNSTARTED_AT_MOST)
            return not self._owns({**state, "session_id": starting}) and (sent_here or turn_running(self.store, starting))
        return state["session_id"] is not None and turn_running(self.store, state["session_id"])

    def _resume_started(self, state: dict[str, Any]) -> None:
        """A reload while a new session's first turn ran: the page learned the id it was given when the
        message was sent (``starting``), not the session, which only the turn's own reply would have told it."""
        starting = state["starting"]
        if self._owns({**state, "session_id": starting}):
            state["session_id"], state["starting"] = starting, None
        elif self._still_running(state):
            _tell("The first turn of the image you sent is still running; it shows here when it is done.")
        # Otherwise refused, or not begun yet (the turn waits in the queue): ``starting`` is kept, so that a later
        # reload still finds a session that does come; the next message replaces it.

    @friendly_errors
    def edit(
        self, message: Any, state: Any, reasoner: str, editor: str, progress: gr.Progress = gr.Progress()
    ) -> tuple[Any, ...]:
        """Run one turn. A message with an image starts a new session from that image."""
        text, image_path = _message_parts(message)
        state = self._state(state, gone_is_told=image_path is None)  # an image starts a new session anyway
        if not text and image_path is None:  # Enter on an empty box (a key meant for a button just left): no toast
            raise gr.Error(EMPTY_MESSAGE, visible=False, print_exception=False)
        if not text:
            raise InvalidInstructionError(EMPTY_MESSAGE)
        progress(0.1, desc=EDITING)
        if image_path is not None:
            with self._first_turn(state["starting"]):
                session = self._start(state, image_path, text, reasoner, editor, progress)
            # That it starts a new session was told when the image was attached (``attached_status``).
            state["session_id"], state["starting"] = session.id, None
        elif state["session_id"] is None:
            raise InvalidImageError("Upload an image or pick a sample first.")
        else:
            self._continue(self._open(state, for_edit=True, progress=progress), text, state["shown_head"])
        # Drawing the reply (the chat, the timeline's thumbnails, the current image) takes a second or more for a
        # large photo: "Done" shown meanwhile read as a hang.
        progress(0.9, desc="Showing the result…")
        return self._reply(state)

    def _start(self, state: dict[str, Any], image_path: str, text: str, reasoner: str, editor: str,
               progress: Any = None) -> EditSession:
        """A new session from the image sent, with its first turn."""
        session = EditSession(
            store=self.store, reasoner=self._backend("reasoner", reasoner or self.config.reasoner, progress),
            editor=self._backend("editor", editor or self.config.editor, progress), limits=self.config.image_limits,
            session_id=self._fresh(state["starting"]),  # the id the page kept when it sent the message
        )
        with self.owners.claiming(session.id, state["token"]), _named_as_sent(Path(image_path)):
            image, scaled = load_attachment(image_path, self.config.image_limits, self.config.scalable_limits)
            session.edit(image, text)  # a refused upload leaves no owner row
        if scaled:
            _tell(html.escape(scaled, quote=False))
        return session

    @friendly_errors
    def check_attachment(self, message: Any, state: Any = None) -> tuple[str, Any]:
        """The images just attached that cannot be used (see :mod:`ui.attachments`), as a JSON list of their paths
        for the page to take out of the box itself: a box sent back from here would overwrite what was typed while
        the check ran. A notice says why each is refused, or that a large photo will be scaled down when sent. And
        the status line: what sending the image will do."""
        attached = attached_paths(message)
        if not attached:
            return "[]", self.attached_status(message, state)
        refused = []
        for path in attached:
            checked = check_attachment(path, self.config.image_limits, self.config.scalable_limits)
            if checked.refusal:
                gr.Warning(html.escape(checked.refusal, quote=False), duration=REFUSAL_SECONDS)
                refused.append(path)
            elif checked.notice:
                _tell(html.escape(checked.notice, quote=False))
        kept = [path for path in attached if path not in refused]
        return json.dumps(refused), self.attached_status({"text": message.get("text") or "", "files": kept}, state)

    @staticmethod
    def settings_picked(state: Any, reasoner: str, editor: str) -> None:
        """Said when a backend is picked mid-session: the pick is for new sessions, and the status line, which names
        the open session's own backends, did not change, so the pick looked ignored."""
        if isinstance(state, dict) and state.get("session_id"):
            _tell(f"New sessions will use the {html.escape(str(reasoner))} reasoner and the "
                  f"{html.escape(str(editor))} editor; the session shown keeps its own.")

    @staticmethod
    def attached_status(message: Any, state: Any) -> Any:
        """Said when an image is attached or a sample picked, not only once it is sent: a picked sample only
        showed as a thumbnail in the box, and that sending it mid-session starts a new session was told after the
        fact. With no session the status line says it (and goes back when the image is taken out)."""
        kept = attached_paths(message) if isinstance(message, dict) else []
        in_a_session = isinstance(state, dict) and bool(state.get("session_id"))
        if not kept:
            return gr.skip() if in_a_session else views.EMPTY_STATUS
        name = Path(kept[-1]).name
        if in_a_session:
            _tell(f"Sending {html.escape(name, quote=False)} starts a new session; the one shown now is kept.")
            return gr.skip()
        return _attached_line(name)

    @staticmethod
    def status_after_refusal(message: Any, state: Any) -> Any:
        """After a refused first message the view is drawn again with no session, and its status line asked for
        the image that is still in the box: it says the image is attached, as before the message was sent."""
        in_a_session = isinstance(state, dict) and bool(state.get("session_id"))
        kept = attached_paths(message) if isinstance(message, dict) else []
        if in_a_session or not kept:
            return gr.skip()
        return _attached_line(Path(kept[-1]).name)

    @staticmethod
    def _continue(session: EditSession, text: str, shown_head: str | None) -> None:
        """One more turn, from the image the page shows; "undo that", where the reasoner cannot read it as
        an edit, moves back a turn."""
        head = session.head.turn_id if session.head is not None else SOURCE_SHOWN
        moved_elsewhere = shown_head is not None and shown_head != head
        # "go back", "undo the last two edits", "undo that because I hate it"
        back = steps_back(text) or (1 if asks_to_undo(text) else None)
        if (shown_head or head) == SOURCE_SHOWN and back is not None:
            # on a canvas the world language would commit "undo that" as a turn that changes nothing
            _tell("Nothing to undo: this is the image the session started from.")
            return
        try:
            if shown_head is None:
                session.edit(None, text)
            else:  # named explicitly, so another tab's move in between changes nothing here
                session.edit(None, text, from_turn=None if shown_head == SOURCE_SHOWN else shown_head,
                             from_source=shown_head == SOURCE_SHOWN)
            if moved_elsewhere:  # another tab moved the session, or a turn finished after a reload
                _tell("The session had moved on elsewhere (another tab?); this edit continues from the "
                        "image shown here.")
        except UnsupportedInstructionError:
            if back is not None:  # a move the page can make, where the reasoner read no edit
                _go_back(session, back, shown_head if moved_elsewhere else None)
                return
            if is_redo_request(text):
                if _redo_one_step(session):
                    _tell("Went forward one turn (the Redo button does the same).")
                return
            if is_history_move(text):  # not an edit the editor failed at: a move the buttons make
                raise InvalidInstructionError(
                    "That reads as a move in the history: use ↶ Undo or ↷ Redo, or click a turn in the "
                    "timeline (Source is the original) to continue from it."
                ) from None
            raise

    @friendly_errors
    def undo(self, state: Any, tab_head: Any = None) -> tuple[Any, ...]:
        """Back one turn from the image this tab shows (``tab_head``; by default the session's head)."""
        state = self._state(state)
        session = self._open(state) if state["session_id"] is not None else None
        if session is not None and _moved_elsewhere(session, tab_head):
            if _undo_from_shown(session, tab_head):  # at the source it says there is nothing to undo
                _tell("The session had moved on elsewhere (another tab?); went back from the image shown here.")
        else:
            _undo_one_turn(session)
        return self._reply(state)

    @friendly_errors
    def redo(self, state: Any, tab_head: Any = None) -> tuple[Any, ...]:
        state = self._state(state)
        session = self._open(state) if state["session_id"] is not None else None
        if session is not None and _moved_elsewhere(session, tab_head):
            _tell("The session had moved on elsewhere (another tab?); this is where it is now.")
        elif session is None:
            _tell("Nothing to redo.")
        else:
            _redo_one_step(session)
        return self._reply(state)

    @friendly_errors
    def checkout(self, state: Any, turn_id: str) -> tuple[Any, ...]:
        """Make a turn current (``""``: the source image); the next edit branches from it."""
        state = self._state(state)
        session = self._open(state)
        session.checkout(turn_id or None)
        return self._reply(state)

    @friendly_errors
    def select_turn(self, state: Any, event: gr.SelectData) -> tuple[Any, ...]:
        """A click on the timeline: item 0 is the source, item k the k-th turn made."""
        state = self._state(state)
        session = self._open(state)
        records = session.turn_records()
        index = event.index if isinstance(event.index, int) else event.index[0]
        turn_id = "" if index == 0 or index > len(records) else records[index - 1].id
        return self.checkout(state, turn_id)

    @friendly_errors
    def clear_chat(self, state: Any, left: Any = None) -> tuple[Any, ...]:
        """The chat's trash icon: a new session, as the New session button starts, said so (an icon with no label
        that emptied the chat read as the session gone). ``left``: the session the page showed, where the page has
        forgotten it already (the page does so at once, so that a message sent meanwhile is not sent to it)."""
        clean = self._state(state, gone_is_told=False)
        left = left if isinstance(left, str) and left else clean["session_id"]
        if left is not None and self._owns({**clean, "session_id": left}):
            _tell("A new session: attach a photo or pick a sample. The one you left is under My sessions.")
        return self.new_session(state)

    @friendly_errors
    def new_session(self, state: Any) -> tuple[Any, ...]:
        state = self._state(state, gone_is_told=False)
        state["session_id"] = state["starting"] = None
        return self._reply(state)

    @friendly_errors
    def open_session(self, state: Any, session_id: str | None) -> tuple[Any, ...]:
        state = self._state(state, gone_is_told=False)
        if state["session_id"] is not None and not self._owns(state):  # left for another: gone is no news then
            state["session_id"] = None
        if session_id and session_id != state["session_id"]:
            if not self._owns({**state, "session_id": session_id}):  # a list drawn before another tab deleted it
                gr.Warning("That session is gone (deleted in another tab?).", duration=REFUSAL_SECONDS)
                return self._reply(state)
            state["session_id"] = session_id
        return self._reply(state)

    @friendly_errors
    def delete_session(self, state: Any, confirmed: Any) -> tuple[Any, ...]:
        """Delete the session on the page (its turns, and the images only it uses), once confirmed."""
        state = self._state(state)
        if state["session_id"] is None:
            _tell("There is no session to delete yet.")  # the page asked nothing: there was nothing to ask
        elif confirmed is True:
            self._open(state)  # this browser's own session, or one clear error
            self.store.delete_session(state["session_id"])
            state["session_id"] = None
            _tell("The session was deleted.")
        return self._reply(state)

    @friendly_errors
    def export(self, state: Any) -> str:
        """The whole session as a zip (session.jsonl and its PNGs), importable with the SDK."""
        state = self._state(state)
        if state["session_id"] is None:
            raise gr.Error("There is no session to download yet.", duration=REFUSAL_SECONDS, print_exception=False)
        session = self._open(state)
        return str(session.export_zip(files.download_path(f"{views.download_stem(session.id)}.zip")))

    @friendly_errors
    def import_zip(self, state: Any, upload: Any) -> tuple[Any, ...]:
        """Open a downloaded session (its zip) as a new session of this browser's; it gets fresh ids."""
        state = self._state(state, gone_is_told=False)
        if not isinstance(upload, str) or not upload:
            raise gr.Error("Choose the .zip that Download session gave.", duration=REFUSAL_SECONDS, print_exception=False)
        session_id = uuid.uuid4().hex
        shown = Path(upload).name  # never the server's path of the upload
        # Its images are held to what a store keeps, not to what an upload may be: an edit may have enlarged
        # them, and a download must open again wherever it is taken. The whole is bounded by max_import_bytes.
        with scratch_folder("edit-agent-import-") as folder:
            export = unpack_session_archive(Path(upload), folder, max_bytes=self.config.max_import_bytes,
                                            shown_as=shown)
            with named_as_archive(export, shown), self.owners.claiming(session_id, state["token"]):
                import_session(self.store, export, new_id=session_id)  # a refusal owns nothing
        state["session_id"], state["starting"] = session_id, None
        turns = self.store.turns_summary(session_id).count
        _tell(f"Opened the downloaded session: {turns} edit{'s' if turns != 1 else ''}, as a new session here.")
        return self._reply(state)

    def _fresh(self, session_id: str | None) -> str | None:
        """``session_id`` for a new session, unless a session has it already (then ``None``: a new id)."""
        return session_id if session_id is not None and not self.store.has_session(session_id) else None

    def _owns(self, state: dict[str, Any]) -> bool:
        try:
            self.owners.check(state["session_id"], state["token"])
        except EditAgentError:
            return False
        return True


def _moved_elsewhere(session: EditSession, tab_head: Any) -> bool:
    """Whether the session's head is not the image this tab last showed (``None``: not known, so no)."""
    if not isinstance(tab_head, str):
        return False
    head = session.head
    return tab_head != (head.turn_id if head is not None else SOURCE_SHOWN)


def _undo_from_shown(session: EditSession, shown_head: str | None) -> bool:
    """"undo that": back one turn from the image the page shows (``None``: from the head)."""
    if shown_head is None:
        return _undo_one_turn(session)
    if shown_head == SOURCE_SHOWN:
        _tell("Nothing to undo: this is the source image.")
        return False
    parents = {turn.id: turn.parent_id for turn in session.turn_records()}
    if shown_head not in parents:
        return _undo_one_turn(session)
    session.checkout(parents[shown_head])
    return True


def _go_back(session: EditSession, back: int | str, shown_head: str | None) -> None:
    """A typed move back: ``back`` turns from the image the page shows, or ``"source"``."""
    if back == "source":
        session.checkout(None)
        _tell("Back at the source image; the turns stay in the timeline.")
        return
    if not _undo_from_shown(session, shown_head):
        return  # it said why: there was nothing to undo
    went = 1
    while went < back and session.undo_step()[0]:
        went += 1
    where = "to the source image" if session.head is None else "(the Undo button does the same)"
    _tell(f"Went back {'one turn' if went == 1 else f'{went} turns'} {where}.")


def _undo_one_turn(session: EditSession | None) -> bool:
    """Move back one turn; with nothing to undo, say so (an undo that silently does nothing looks broken)."""
    if session is None:
        _tell("Nothing to undo yet: upload a photo or pick a sample to start a session.")
        return False
    moved, _ = session.undo_step()  # one step: whether it moved is read with the move
    if not moved:
        _tell("Nothing to undo: this is the image the session started from.")
    return moved


def _message_parts(message: Any) -> tuple[str, str | None]:
    """(instruction, uploaded image path or None) from the multimodal textbox value."""
    if isinstance(message, str):
        return message.strip(), None
    if not isinstance(message, dict):
        return "", None
    text = str(message.get("text") or "").strip()
    uploads = attached_paths(message)
    if len(uploads) > 1:
        raise InvalidImageError("Send one image at a time.")
    return text, uploads[0] if uploads else None


def attached_paths(message: Any) -> list[str]:
    """The paths of the files in a multimodal textbox value (each given as a path or as file data)."""
    if not isinstance(message, dict):
        return []
    return [str(f if isinstance(f, str) else (f or {}).get("path")) for f in message.get("files") or []]


def _attached_line(name: str) -> str:
    return f"{views.as_typed(name)} is attached: say what to change, then press Enter to start the session."
