"""What an undo that gives a stored canvas back changes, said in the world language.

The rule reasoner writes an undo's intent from its replay of the session's instructions. When the earlier turns
were drawn another way (another reasoner read "the square" as another object, or a generative editor drew a
shape off), the replay is not what the images show, and its intent names edits that giving the stored image back
does not make. The images themselves say what it does.
"""

from __future__ import annotations

from PIL import Image

from edit_agent.world.canvas import is_world_canvas
from edit_agent.world.interpreter import apply_program, describe_scene_change
from edit_agent.world.language import WorldLanguageError
from edit_agent.world.parse import parse

REPLAY_DIFFERS_NOTE = (
    "The images of the earlier turns differ from this replay of their instructions, so the intent above is not "
    "what giving the stored image back does; what it does: {intent}"
)


def restored_intent(current: Image.Image, restored: Image.Image, intent: str) -> str | None:
    """The intent that turns ``current`` into ``restored``, when both are canvases and ``intent`` does not do that;
    ``None`` when ``intent`` is right (or the images are not canvases, where there is nothing to read)."""
    if not (is_world_canvas(current) and is_world_canvas(restored)) or _is_photo_edit(intent):
        return None  # a photo edit taken back ("the opposite" of "make it brighter"): its pixels are no scene to read
    now, then = parse(current), parse(restored)
    try:
        already_right = apply_program(now, intent) == then
    except WorldLanguageError:  # not world language, so it cannot say what the restore does
        already_right = False
    return None if already_right else describe_scene_change(now, then)


def _is_photo_edit(intent: str) -> bool:
    from edit_agent.errors import EditAgentError
    from edit_agent.photo_parsing import parse_operations

    try:
        return bool(parse_operations(intent, everyday=False))
    except EditAgentError:
        return False
