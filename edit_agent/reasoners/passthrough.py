"""Pass-through reasoner: the raw instruction goes to the editor as it is (a baseline).

It shows what is lost without intent reconstruction: pronouns, history references, rules,
locks and undos reach the editor with no context.

>>> from PIL import Image
>>> image = Image.new("RGB", (48, 48))
>>> PassthroughReasoner().reconstruct(TurnRequest(instruction="undo that", image=image, source_image=image)).intent.text
'undo that'
"""

from __future__ import annotations

from edit_agent.records import Intent, Thought, TurnRequest


class PassthroughReasoner:
    name = "passthrough"

    def reconstruct(self, request: TurnRequest) -> Thought:
        return Thought(
            reasoning="Pass-through: the raw instruction is the intent; the history is not used.",
            intent=Intent(text=request.instruction),
        )
