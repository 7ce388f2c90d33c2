"""Typed text that asks for a move in a session's history ("undo that", "redo", "start over"), which is
not an edit of the pixels: the reasoners refuse it with where those moves are, and the app makes them.

>>> [is_history_move(text) for text in ("undo the last two edits", "never mind", "turn the sky back to blue")]
[True, True, False]
>>> is_redo_request("redo that"), is_redo_request("redo the crop but tighter")
(True, False)
>>> steps_back("go back two steps"), steps_back("start over"), steps_back("undo the last blur")
(2, 'source', None)
"""

from __future__ import annotations

import re

UNDO_HINT = ("Going back is a move in the session: the undo_edit tool (agents), the Undo button (the app) "
             "or EditSession.undo() (Python).")
REDO_AFTER_UNDO = ("Right after an undo, 'again' could mean the edit just undone or the one before it: redo brings "
                   "back the undone edit (the redo_edit tool, the Redo button, EditSession.redo()); to repeat another, "
                   "say it in full.")
"""The answer to 'again' right after an undo, where the history the reasoner reads ends before the undone edit."""
EARLIER_IMAGE_HINT = "the timeline in the app, edit_image's image_id for agents, EditSession.checkout() in Python"
"""Where a user, an agent or a program continues from an earlier turn's image, for refusals that send them there."""
HISTORY_HINT = ("Moves in the history are the undo_edit and redo_edit tools and edit_image's image_id (agents), "
                "the Undo and Redo buttons and the timeline (the app), or EditSession.undo(), redo() and "
                "checkout() (Python).")

_LEAD_IN = (r"^\s*(?:(?:please|pls|ok(?:ay)?|oops|hmm+|so|just|now|actually|never\s*mind|no|nope|nah|ugh|argh|oh|sorry"
            r"|wait)\b[\s,]*"
            r"|(?:can|could|would|will)\s+(?:you|we)\s+|let['’]?s\s+"
            r"|(?:is|would)\s+it\s+(?:be\s+)?possible\s+(?:for\s+you\s+)?to\s+|do\s+you\s+think\s+(?:you|we)\s+(?:could|can)\s+"
            r"|(?:is\s+there\s+)?any\s+chance\s+you\s+(?:could|can)\s+|i\s+(?:was|am)\s+wondering\s+if\s+you\s+(?:could|can)\s+"
            r"|(?:would|do)\s+you\s+mind\s+(?=\w+ing\b))*")
"""What people say before a move: "can you undo that", "oops, undo", "let's start over", "is it possible to undo
that?", "would you mind undoing that?"."""
_MOVE = (r"(?:undo|redo|revert|go\s+back|go\s+forward|start\s+over|take\s+(?:me|us|it)\s+back"
         r"|undoing|redoing|reverting|going\s+back|going\s+forward|starting\s+over|taking\s+(?:me|us|it)\s+back)")
_WHAT = (r"(?:\s+(?:that|it|this|everything|please|pls|plz"
         r"|(?:the\s+)?last(?:\s+\w+)?(?:\s+(?:edits?|changes?|steps?|turns?))?"
         r"|(?:one|a|two|three|four|five|\d+)\s+(?:more\s+)?(?:steps?|turns?|edits?|changes?)"
         r"|twice|(?:two|three|four|five|\d+)\s+times|all|both|x\s*\d+|\d+\s*x|(?:one|two|three|four|five|\d+)"
         r"|to\s+(?:the\s+)?(?:original|source|start|beginning|previous(?:\s+(?:image|version|one))?)"
         r"(?:\s+(?:image|photo|picture|version))?))*")
"""What a move may name: what it undoes or where it goes. Anything else makes it an edit ("go back to black
and white", "revert the sky to blue", "start over with a blue background")."""
_END = r"(?:[\s,.!?]+(?:thanks|thank\s+you|thx|ty|please|pls|plz))*[\s.!?]*$"
_A_MOVE = re.compile(_LEAD_IN + _MOVE + _WHAT + _END, re.IGNORECASE)
_WHOLLY_A_MOVE = re.compile(
    _LEAD_IN + r"(?:never\s*mind(?:\s+that)?|reset(?:\s+(?:it|everything|the\s+image))?"
    r"|(?:restore|back\s+to|return\s+to)\s+the\s+(?:original|source)(?:\s+(?:image|photo|picture))?)" + _END,
    re.IGNORECASE,
)
"""Phrases that are a move when they are all there is: "never mind the sky, add a dog" is an edit."""

_REDO = re.compile(_LEAD_IN + r"(?:redo(?:\s+(?:that|it|the\s+last\s+(?:edit|change|step)))?|go\s+forward"
                   r"(?:\s+(?:one|a)\s+(?:turn|step))?)(?:\s+please)?" + _END, re.IGNORECASE)
"""One step forward, as an undo is said ("redo, thanks", "nope, redo that", "ok redo")."""


def is_history_move(text: str) -> bool:
    """True when ``text`` asks to move in the history (undo, redo, go back, start over...) rather than to edit."""
    return bool(_A_MOVE.match(text) or _WHOLLY_A_MOVE.match(text))


_TAKE_BACK = re.compile(_LEAD_IN + r"(?:undo|revert|take\s+back|put\s+(?:it|them|that)\s+back|go\s+back)\b",
                        re.IGNORECASE)


def may_take_back(text: str) -> bool:
    """True for text that starts as taking something back does, however it goes on ("undo the crop but keep the
    rotation", "go back to how it was two edits ago", but also "undo the red eye" or "go back to black and white"):
    where an exact editor cannot read it, the answer names the history's moves as well as a generative editor."""
    return bool(_TAKE_BACK.match(text))


def is_redo_request(text: str) -> bool:
    """True for a request of one step forward ("redo", "redo that", "go forward"), which the Redo button makes."""
    return bool(_REDO.match(text))


_COUNTS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "twice": 2, "both": 2}
_BACK = re.compile(_LEAD_IN + r"(?:undo|revert|go\s+back|take\s+(?:me|us|it)\s+back|never\s*mind)"
                   r"(?P<what>.*?)" + _END, re.IGNORECASE)
_TO_SOURCE = re.compile(_LEAD_IN + r"(?:start\s+over|reset(?:\s+(?:it|everything|the\s+image))?"
                        r"|(?:restore|back\s+to|return\s+to)\s+the\s+(?:original|source)(?:\s+(?:image|photo|picture))?)"
                        + r"(?:[\s,]+please)?" + _END, re.IGNORECASE)
_ONE_STEP = re.compile(r"^(?:(?:that|it|this|please)\s*)*$"
                       r"|^(?:the\s+)?(?:last|previous)(?:\s+(?:edit|change|step|turn|image|version|one))?$"
                       r"|^to\s+(?:the\s+)?previous(?:\s+(?:image|version|one))?$")
_SEVERAL = re.compile(r"^(?:the\s+)?(?:last\s+)?(?P<count>a|one|two|three|four|five|both|\d+)(?:\s+(?:more\s+)?"
                      r"(?:steps?|turns?|edits?|changes?))?$|^(?:(?:that|it|this)\s+)?(?P<times>twice|(?:two|three|"
                      r"four|five|\d+)\s+times)$|^x\s*(?P<x_count>\d+)$|^(?P<count_x>\d+)\s*x$")
_EVERYTHING = re.compile(r"^(?:everything|(?:it\s+)?all|to\s+(?:the\s+)?(?:original|source|start|beginning)"
                         r"(?:\s+(?:image|photo|picture|version))?)$")


def steps_back(text: str) -> int | str | None:
    """How far back a typed move asks to go, where it says so plainly: a number of turns ("go back", "undo the
    last two edits"), or ``"source"`` for the image the session started from ("start over"). ``None`` for
    anything else: a step forward, an edit, or a move that names what to undo ("undo the last blur"), which
    a step count could get wrong."""
    if _TO_SOURCE.match(text):
        return "source"
    move = _BACK.match(text)
    if move is None or not is_history_move(text):
        return None
    what = " ".join(move.group("what").lower().replace(",", " ").split())
    what = re.sub(r"(?:(?:^|\s)(?:please|thanks|thank\s+you|thx|ty))+$", "", what).strip()
    if _EVERYTHING.match(what):
        return "source"
    if _ONE_STEP.match(what):
        return 1
    several = _SEVERAL.match(what)
    if several is None:
        return None
    word = (several.group("count") or several.group("x_count") or several.group("count_x")
            or several.group("times").split()[0]).lower()
    count = int(word) if word.isdigit() else _COUNTS[word]
    return count if count >= 1 else None


_AGAIN_ALONE = re.compile(r"^\W*(?:(?:please|ok|okay)\W+)*(?:(?:do\s+)?(?:it|that|this)\s+)?(?:again|once\s+more|one\s+more"
                          r"\s+time)(?:\W+(?:please|thanks))*\W*$", re.IGNORECASE)


def is_again_alone(text: str) -> bool:
    """Whether ``text`` is 'again' with nothing else ("do it again", "once more please"): it repeats the last edit
    of the history, which right after an undo is the edit before the one undone, seldom what is meant."""
    return _AGAIN_ALONE.match(text) is not None
