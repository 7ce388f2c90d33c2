"""Typed text that asks for a move in a session's history ("undo that", "redo", "start over"), which is
not an edit of the pixels: the reasoners refuse it with where those moves are, and the app makes them.

>>> [is_history_move(text) for text in ("undo the last two edits", "never mind", "turn the sky back to blue")]
[True, True, False]
>>> is_redo_request("redo that"), is_redo_request("redo the crop but tighter")
(True, False)
"""

from __future__ import annotations

import re

UNDO_HINT = ("Going back is a move in the session: the undo_edit tool (agents), the Undo button (the app) "
             "or EditSession.undo() (Python).")
HISTORY_HINT = ("Moves in the history are the undo_edit and redo_edit tools and edit_image's image_id (agents), "
                "the Undo and Redo buttons and the timeline (the app), or EditSession.undo(), redo() and "
                "checkout() (Python).")

_PLEASE = r"^\s*(?:please\s+)?"
_STARTS_AS_A_MOVE = re.compile(_PLEASE + r"(?:undo|redo|revert|go\s+back|go\s+forward|start\s+over)\b", re.IGNORECASE)
"""Text that opens with a move ("undo the last two", "go back to the original")."""
_WHOLLY_A_MOVE = re.compile(
    _PLEASE + r"(?:never\s*mind|reset(?:\s+(?:it|everything|the\s+image))?"
    r"|(?:restore|back\s+to|return\s+to)\s+the\s+(?:original|source)(?:\s+(?:image|photo|picture))?)[\s.!]*$",
    re.IGNORECASE,
)
"""Phrases that are a move only when they are all there is: "never mind the sky, add a dog" is an edit."""

_REDO = re.compile(_PLEASE + r"(?:redo(?:\s+(?:that|it|the\s+last\s+(?:edit|change|step)))?|go\s+forward"
                   r"(?:\s+(?:one|a)\s+(?:turn|step))?)(?:\s+please)?[\s.!]*$", re.IGNORECASE)


def is_history_move(text: str) -> bool:
    """True when ``text`` asks to move in the history (undo, redo, go back, start over...) rather than to edit."""
    return bool(_STARTS_AS_A_MOVE.match(text) or _WHOLLY_A_MOVE.match(text))


def is_redo_request(text: str) -> bool:
    """True for a request of one step forward ("redo", "redo that", "go forward"), which the Redo button makes."""
    return bool(_REDO.match(text))
