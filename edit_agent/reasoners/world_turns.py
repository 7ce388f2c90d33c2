"""Which turns the world policy can read: MICE-World language on a MICE-World canvas, after world turns only.

The world LM was trained on scenes and their language alone. A photo, a photo instruction ("make it
warmer"), or any turn after a photo edit (whose pixels no longer read as a scene) is outside what it
knows; there it would answer with confident nonsense, so ``auto`` sends such turns to the rule reasoner
and ``world-lm`` refuses them.
"""

from __future__ import annotations

from edit_agent.records import TurnRequest
from edit_agent.world.canvas import is_world_canvas


def world_turn_refusal(request: TurnRequest) -> str | None:
    """Why the world policy cannot take this turn, or ``None`` when it can."""
    from edit_agent.editors.auto import is_world_language

    if not is_world_canvas(request.source_image):
        return ("The world policy edits MICE-World canvases only, and this image is not one; "
                "use the 'auto' or 'rules' reasoner for photos.")
    if not is_world_language(request.instruction):
        return (f"The world policy reads MICE-World instructions only, and {request.instruction!r} is not one; "
                "the 'auto' reasoner sends such turns to the rule reasoner's photo edits.")
    for turn in request.history:
        if not is_world_language(turn.instruction):
            return (f"An earlier turn ({turn.instruction!r}) is not MICE-World language (a photo edit?), so the "
                    "world policy cannot follow it; undo back past that turn, or use the 'auto' reasoner.")
    return None
