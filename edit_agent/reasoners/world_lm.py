"""``world-lm``: the project's own RL-trained intent policy for MICE-World canvases.

A 3.7M-parameter, 8-layer causal LM (``rl/world_lm.py``) trained on the rule reasoner's traces of sessions
of 1-5 turns, then post-trained jointly with the world editor by ``rl/`` (one-turn rollouts, Edit-R2's
objective), every weight trained; the result ships as ``edit_agent/weights/world_policy/`` (a transformers folder).
It reads the ``llm`` reasoner's IC-CoT prompt, which on world canvases lists what the source and
current images hold, so it is the ``llm`` reasoner with these weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edit_agent.errors import ModelUnavailableError, UnsupportedInstructionError
from edit_agent.reasoners.llm import LLMReasoner
from edit_agent.reasoners.world_turns import world_turn_refusal
from edit_agent.records import Thought, TurnRequest

WORLD_POLICY = Path(__file__).resolve().parent.parent / "weights" / "world_policy"


WORLD_LM_MAX_NEW_TOKENS = 192
"""Budget for a world-LM answer: the longest run to about 175 tokens, so the llm reasoner's 160 cuts some off."""


class WorldLMReasoner(LLMReasoner):
    """The ``llm`` reasoner over the shipped world policy (or ``model``: another world LM folder)."""

    name = "world-lm"
    quiet_loading = True  # a few megabytes: a bar at each first canvas turn would be noise

    @staticmethod
    def availability() -> str | None:
        return None if (WORLD_POLICY / "config.json").is_file() else f"no world policy weights at {WORLD_POLICY}"

    def __init__(self, model: str | Path | None = None, *, max_new_tokens: int = WORLD_LM_MAX_NEW_TOKENS, **options: Any) -> None:
        folder = Path(model) if model is not None else WORLD_POLICY
        if not (folder / "config.json").is_file():
            raise ModelUnavailableError(f"No world policy at {folder} (a transformers folder with config.json).")
        super().__init__(str(folder), max_new_tokens=max_new_tokens, **options)

    def reconstruct(self, request: TurnRequest) -> Thought:
        """The world policy's thought; a turn outside what it was trained on is refused, not guessed at."""
        refusal = world_turn_refusal(request)
        if refusal is not None:
            raise UnsupportedInstructionError(refusal)
        return super().reconstruct(request)
