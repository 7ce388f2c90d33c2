"""Rule reasoner for exact photo edits: maps the instruction to operations; no weights."""

from __future__ import annotations

from edit_agent.errors import UnsupportedInstructionError
from edit_agent.photo_ops import describe_operations, parse_operations
from edit_agent.records import Intent, Thought, TurnRequest
from edit_agent.world.language import is_undo_request

UNDO_HINT = "Going back is a move in the session: the undo_edit tool (agents), the Undo button (the app) or EditSession.undo() (Python)."


class PhotoRuleReasoner:
    """Rewrites a photo instruction into the canonical text of its exact operations.

    >>> from PIL import Image
    >>> image = Image.new("RGB", (8, 8))
    >>> thought = PhotoRuleReasoner().reconstruct(
    ...     TurnRequest(instruction="mirror it and darken", image=image, source_image=image))
    >>> thought.intent.text
    'Flip the image horizontally, then decrease the brightness by 20%.'
    """

    name = "rules"

    def reconstruct(self, request: TurnRequest) -> Thought:
        if is_undo_request(request.instruction):
            # Going back a turn is a move in the session, not an operation on the pixels.
            raise UnsupportedInstructionError(f"{request.instruction!r} asks to go back one turn. {UNDO_HINT}")
        operations = parse_operations(request.instruction)
        steps = "; ".join(f"{i}. {describe_operations([op])[:-1]}" for i, op in enumerate(operations, 1))
        reasoning = (
            f"The instruction maps completely to {len(operations)} exact operation"
            f"{'s' if len(operations) > 1 else ''}, applied in the order written: {steps}. "
            "They act on the current image only, so no earlier turn needs to be repeated."
        )
        return Thought(reasoning=reasoning, intent=Intent(text=describe_operations(operations)))
