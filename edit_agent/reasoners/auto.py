"""``auto``: the trained world policy on MICE-World canvases, the rule reasoner elsewhere.

This is Edit-R2's learned reasoner where the project has one. It is not the default yet: on
world-test the policy is still far below the rule reasoner (``evals/reports/rl_world_lm.md``).

A turn on a world canvas whose instruction is MICE-World language goes to ``world-lm`` (the
RL-trained policy); anything else (photos, or "rotate it" on a canvas) goes to the rule reasoner,
whose exact photo operations the ``auto`` editor applies, and so does a canvas's "undo that", whose
image the rule reasoner gives back exactly as it was stored. The world policy is loaded on first use;
an install without its weights uses the rule reasoner for world turns too.

>>> from PIL import Image
>>> image = Image.new("RGB", (32, 32), "gray")
>>> AutoReasoner().reconstruct(TurnRequest(instruction="mirror it", image=image, source_image=image)).intent.text
'Flip the image horizontally.'
"""

from __future__ import annotations

import threading

from edit_agent.protocols import Reasoner
from edit_agent.reasoners.world_turns import world_turn_refusal
from edit_agent.records import Thought, TurnRequest
from edit_agent.world.language import is_undo_request


class AutoReasoner:
    """Routes each turn: ``world`` reasoner (default ``world-lm``) for world-language turns on world
    canvases, ``other`` (default ``rules``) for everything else."""

    name = "auto"

    def __init__(self, *, world: Reasoner | None = None, other: Reasoner | None = None) -> None:
        self._world = world
        self._other = other
        self._building = threading.Lock()  # shared by sessions: two first world turns load the model once

    @property
    def world(self) -> Reasoner:
        with self._building:
            if self._world is None:
                from edit_agent.reasoners.world_lm import WorldLMReasoner

                self._world = WorldLMReasoner() if WorldLMReasoner.availability() is None else self.other
        return self._world

    @property
    def other(self) -> Reasoner:
        if self._other is None:
            from edit_agent.reasoners.rules import RuleReasoner

            self._other = RuleReasoner()
        return self._other

    def routes_to_world(self, request: TurnRequest) -> bool:
        """World-language turns on a world canvas whose history is world language too (after a photo edit
        the pixels no longer read as a scene, and the rule reasoner says which turn did that), except
        "undo that": the rule reasoner names the turn it reverts, whose stored image comes back exactly,
        where the policy would write an inverse edit for the editor to draw."""
        return world_turn_refusal(request) is None and not is_undo_request(request.instruction)

    def reconstruct(self, request: TurnRequest) -> Thought:
        return (self.world if self.routes_to_world(request) else self.other).reconstruct(request)
