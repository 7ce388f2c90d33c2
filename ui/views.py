"""What the app shows for a session: chat messages, the timeline, the current image, a status line.

Everything is rebuilt from the store on each event, so a reload, a second tab or a server restart
shows exactly what is stored.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from typing import Any

from edit_agent.history_words import EARLIER_IMAGE_HINT, HISTORY_HINT, UNDO_HINT
from edit_agent.photo_follow_ups import is_follow_up
from edit_agent.reasoners.rules import PHOTO_EDIT_ON_CANVAS
from edit_agent.records import TurnRecord, unchanged_because
from edit_agent.session import gives_back_an_earlier_image
from edit_agent.store import Store, branch_to, shown_session_id
from ui import files

EMPTY_STATUS = "No session yet: pick a sample below, or attach a photo to the message box."


@dataclass(frozen=True)
class View:
    """The values of the components every event refreshes, in output order."""

    chat: list[dict[str, Any]]
    image: str | None
    timeline: list[tuple[str, str]]
    timeline_index: int | None
    status: str
    head: str | None = None
    """The turn whose image the view shows (``None``: the source image, or no session)."""
    has_session: bool = False
    can_undo: bool = False
    can_redo: bool = False
    """Whether the app's Redo would move: forward to a turn, or back over a canvas's "undo that" turn."""

    def values(self) -> tuple[Any, ...]:
        import gradio as gr

        # Hidden until there is a session: an empty gallery is a tall blank box that pushes the samples down.
        timeline = gr.Gallery(value=self.timeline, selected_index=self.timeline_index, visible=bool(self.timeline))
        return self.chat, self.image, timeline, self.status

    def buttons(self) -> tuple[Any, ...]:
        """Undo, Redo, Download session and Delete, each enabled only where a click on it would act: a button
        that can be clicked but only says "nothing to undo" reads as broken."""
        import gradio as gr

        return (gr.Button(interactive=self.can_undo), gr.Button(interactive=self.can_redo),
                gr.Button(interactive=self.has_session), gr.Button(interactive=self.has_session))


def empty_view() -> View:
    return View(chat=[], image=None, timeline=[], timeline_index=None, status=EMPTY_STATUS)


def session_view(session_id: str, store: Store) -> View:
    record = store.get_session(session_id)
    turns = store.turns(session_id)
    by_id = {turn.id: turn for turn in turns}
    path = branch_to(by_id, record.head)

    def loader(digest: str):
        return lambda: store.load_image(digest)

    head = path[-1] if path else None  # None: the source image
    head_hash = head.output_hash if head else record.source_hash
    # The head's "#k" is its seq, as the timeline and the status line write it.
    download_name = f"{download_stem(session_id)}-" + (f"edit-{head.seq}" if head else "source")
    return View(
        chat=_chat(path, record.source_hash, loader, has_turns=bool(turns)),
        image=files.full_image(head_hash, loader(head_hash), download_name,
                               stored=store.image_path(head_hash) if store.has_whole_image(head_hash) else None),
        timeline=_timeline(turns, record.source_hash, record.head, loader),
        timeline_index=0 if record.head is None else 1 + [t.id for t in turns].index(record.head),
        status=_status(session_id, turns, head, record.settings),
        head=record.head,
        has_session=True,
        can_undo=record.head is not None,
        can_redo=_can_redo(store, session_id, head),
    )


def _can_redo(store: Store, session_id: str, head: TurnRecord | None) -> bool:
    """Whether Redo moves: to the turn it last came back from, or, from a canvas's "undo that" turn, back over it
    (the app's Redo, ``handlers._redo_one_step``)."""
    if store.redo_target(session_id, head.id if head else None) is not None:
        return True
    return head is not None and head.parent_id is not None and gives_back_an_earlier_image(head)


def session_choices(store: Store, session_ids: list[str]) -> list[tuple[str, str]]:
    """Dropdown entries (label, id) for the user's sessions, the last edited first, each with that time: listed
    in the order they were made or opened but dated by their first turn, an opened download sat out of order."""
    entries = []
    for session_id in session_ids:
        record = store.get_session(session_id)
        turns = store.turns_summary(session_id)
        edited = max(record.created, turns.last_created or record.created)
        when = time.strftime("%b %d %H:%M", time.localtime(edited))  # the server's clock: local for a local app
        # The id's start, as the status line shows it: sessions begun alike in the same minute stay apart.
        label = (f"{when} · {_clip(shown_session_id(session_id), 24)} · {turns.count} edit{'s' if turns.count != 1 else ''}"
                 f" · {_clip(turns.first_instruction or '', 32)}")
        entries.append((edited, label, session_id))
    return [(label, session_id) for _, label, session_id in sorted(entries, key=lambda entry: -entry[0])]


AT_SOURCE_NOTE = ("_This is the image the session started from. The next message starts a new branch from it; "
                  "the timeline keeps every turn (↷ Redo goes forward again)._")


def _chat(path: list[TurnRecord], source_hash: str, loader, *, has_turns: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": {"path": files.thumbnail(source_hash, loader(source_hash)),
                                     "alt_text": "The image the session started from"}},
    ]
    if not path and has_turns:  # back at the source: the chat is short, not lost
        messages.append({"role": "assistant", "content": AT_SOURCE_NOTE})
    for turn in path:
        messages.append({"role": "user", "content": as_typed(turn.instruction)})
        # The latest trace starts open ("status" absent); earlier ones start folded ("done").
        folded = {"status": "done"} if turn is not path[-1] else {}
        messages.append({"role": "assistant", "content": as_typed(in_app_words(turn.reasoning)),
                         "metadata": {"title": "Reasoning", **folded}})
        messages.append({"role": "assistant", "content": {"path": files.thumbnail(turn.output_hash, loader(turn.output_hash)),
                                                          "alt_text": f"The image after edit #{turn.seq}"}})
        messages.append({"role": "assistant", "content": _intent_text(turn)})
    return messages


_IN_APP_WORDS = {
    EARLIER_IMAGE_HINT: "pick it in the timeline",
    HISTORY_HINT: "Moves in the history are the Undo and Redo buttons and the timeline.",
    UNDO_HINT: "Going back is the Undo button.",
}
"""The SDK says where agents, programs and the app make a move (in refusals and in a turn's reasoning); a chat user
needs only the app's way."""


def in_app_words(message: str) -> str:
    for everywhere, in_the_app in _IN_APP_WORDS.items():
        message = message.replace(everywhere, in_the_app)
    return message


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~=$])")


_ADDRESS = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
"""A web address or an e-mail address: the chat would make a link of it."""


def as_typed(text: str) -> str:
    """``text`` for the chat's Markdown renderer, shown as it was typed: HTML tags, emphasis, headings and
    lists in an instruction (or a model's answer) are text, not markup, and an address is code, not a link
    (its escaped dots showed as backslashes inside the link the chat made of it). The page's "Copy conversation"
    undoes this (``editAgentShownText`` in :data:`ui.app.HEAD`): markup added here is to be taken out there too."""
    shown, start = [], 0
    for address in _ADDRESS.finditer(text):
        shown += [_escaped(text[start:address.start()]), _code_span(address.group())]
        start = address.end()
    return "".join([*shown, _escaped(text[start:])])


def _escaped(text: str) -> str:
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def _code_span(text: str) -> str:
    """``text`` verbatim in a code span, fenced by more backticks than any run of them it holds."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _intent_text(turn: TurnRecord) -> str:
    lines = [f"**Edit #{turn.seq}:** {as_typed(turn.intent.text)}"]
    if turn.fallback:
        lines.append("_The reasoner could not rewrite this instruction; the raw text was used._")
    if PHOTO_EDIT_ON_CANVAS in turn.reasoning:  # said under Reasoning only, which later turns fold away
        lines.append("_A photo edit of the whole canvas: from here its shapes cannot be edited one by one "
                     "(undo this turn to edit them again)._")
    if not turn.changed:
        # said in the chat, not only under Reasoning, which is folded away for every turn but the newest
        why = unchanged_because(turn.reasoning)
        lines.append("_This turn sets a rule; the image is unchanged._" if _sets_a_rule(turn)
                     else f"_The image is unchanged: {as_typed(why)}._" if why else "_The image is unchanged._")
    if turn.intent.constraints:
        lines.append("**In force:**")
        for constraint in turn.intent.constraints:
            origin = f" (turn {constraint.set_at_turn})" if constraint.set_at_turn else ""
            lines.append(f"- {as_typed(constraint.text)} — _{as_typed(constraint.kind)}{origin}_")
    return "\n".join(lines)


def _timeline(turns: list[TurnRecord], source_hash: str, head: str | None, loader) -> list[tuple[str, str]]:
    seq_of = {turn.id: turn.seq for turn in turns}
    items = [(files.thumbnail(source_hash, loader(source_hash)), ("● " if head is None else "") + "Source")]
    previous: str | None = None
    for turn in turns:
        branch = "" if turn.parent_id == previous else f" ↳ from #{seq_of[turn.parent_id]}" if turn.parent_id else " ↳ from source"
        marker = "● " if turn.id == head else ""  # first: a clipped caption keeps it
        caption = f"{marker}#{turn.seq}{branch}: {_caption_text(turn)}"
        items.append((files.thumbnail(turn.output_hash, loader(turn.output_hash)), caption))
        previous = turn.id
    return items


CAPTION_CHARACTERS = 44
"""An instruction longer than this is cut in its caption: with the turn's number, three lines under a thumbnail
116 px wide (the CSS clamps any longer one at three lines too)."""


def _sets_a_rule(turn: TurnRecord) -> bool:
    return any(constraint.set_at_turn == turn.seq for constraint in turn.intent.constraints)


def _caption_text(turn: TurnRecord) -> str:
    """The instruction, and for a follow-up ("again", "the opposite") what it did: those words alone do not tell
    one turn of the timeline from another. A turn that left the image as it was says so: its thumbnail is the
    one before it again, where the reasoning says why (the chat says that too)."""
    if not turn.changed and not _sets_a_rule(turn) and unchanged_because(turn.reasoning):
        return f"{_clip(turn.instruction, CAPTION_CHARACTERS - 12)} (no change)"
    if is_follow_up(turn.instruction) and turn.intent.text:
        return f"{_clip(turn.instruction, 16)} → {_clip(short_intent(turn.intent.text), 26)}"
    return _clip(turn.instruction, CAPTION_CHARACTERS)


_SHORTER = [
    (re.compile(r"^(increase|decrease) the (\w+) by ([\d.]+%)", re.I),
     lambda m: f"{m.group(2)} {'+' if m.group(1).lower() == 'increase' else '−'}{m.group(3)}"),
    (re.compile(r"^make the image (\w+) by ([\d.]+%)", re.I), lambda m: f"{m.group(1)} {m.group(2)}"),
    (re.compile(r"^rotate the image (\d+) degrees ?(\w*)", re.I), lambda m: f"rotate {m.group(1)}° {m.group(2)}".strip()),
]


def short_intent(intent: str) -> str:
    """An intent's first operation in a few words ("warmth +10%" style), "…" when more follow."""
    first, _, rest = intent.rstrip(".").partition(", then ")
    for pattern, shorter in _SHORTER:
        if (match := pattern.match(first)) is not None:
            first = shorter(match)
            break
    else:
        first = first[:1].lower() + first[1:].replace(" the image", "")
    return f"{first} …" if rest else first


def _status(session_id: str, turns: list[TurnRecord], head: TurnRecord | None, settings: dict) -> str:
    position = f"at edit #{head.seq}" if head else "at the source image"
    items = [f"Session {_code_span(shown_session_id(session_id))}", f"{len(turns)} edit{'s' if len(turns) != 1 else ''}",
             position, f"reasoner **{settings.get('reasoner')}**", f"editor **{settings.get('editor')}**"]
    # each item kept on one line: a narrow panel wrapped "editor" and its name onto two
    return " · ".join(f'<span class="status-item">{item}</span>' for item in items)


def download_stem(session_id: str) -> str:
    """The start of a download's file name: the id as shown, with what a file name cannot hold replaced."""
    return "edit-session-" + re.sub(r"[^A-Za-z0-9._-]+", "-", shown_session_id(session_id))[:32].strip(".-")


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
