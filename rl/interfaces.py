"""The contracts between the parts of ``rl/``: what a text policy samples, what a reward scores.

The trainer only talks to these, so the world setup (rule traces, exact scores) and the photo setup
(an LLM reasoner, judge-model rewards) plug into the same loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from PIL import Image

from edit_agent.records import Thought, TurnRequest


@dataclass
class TextSample:
    """One sampled IC-CoT for one turn: the parsed thought and the tokens it came from."""

    thought: Thought
    """Reasoning trace and intent, exactly as a reasoner would return them."""
    prompt_ids: torch.Tensor
    """(P,) token ids of the prompt the completion was sampled from."""
    completion_ids: torch.Tensor
    """(C,) sampled token ids (C = 0 for a policy that samples no tokens, e.g. the rule reasoner)."""
    old_log_probs: torch.Tensor
    """(C,) log-probabilities of ``completion_ids`` under the policy that sampled them (no grad)."""


@runtime_checkable
class TextPolicy(Protocol):
    """The text half of the policy: reconstructs each turn's intent, and can be trained or not."""

    trainable: bool
    """False for fixed policies (the rule reasoner, the raw instruction): no tokens, no gradient."""

    def sample(self, requests: Sequence[TurnRequest], *, temperature: float, seed: int) -> list[TextSample]:
        """One sample per request (batched where the backend can), reproducible under ``seed``."""
        ...

    def log_probs(self, samples: Sequence[TextSample]) -> list[torch.Tensor]:
        """Per-token log-probabilities of each sample's completion under the current parameters (with grad)."""
        ...

    def trainable_parameters(self) -> Iterator[torch.nn.Parameter]:
        """The parameters RL updates (LoRA weights); empty for a fixed policy."""
        ...

    def save(self, folder: str | Path) -> None:
        """Write what training changed (adapters) to ``folder``."""
        ...


@dataclass(frozen=True)
class TurnScores:
    """The three per-turn scores, each in [0, 1]."""

    if_: float
    cc: float
    ga: float


@dataclass
class RolloutTurns:
    """What a reward sees of one rollout: the session and the policy's own images, turn by turn."""

    start_image: Image.Image
    instructions: list[str]
    outputs: list[Image.Image]
    """``outputs[t]`` is the policy's image after turn ``t + 1``; each turn's input is the previous output."""
    intents: list[str]
    """The intent the text policy wrote at each turn (judge rewards may show it to the judge)."""
    session: object | None = None
    """The verifiable session when there is one (a ``WorldSession`` with targets); None for real photos."""


@runtime_checkable
class Reward(Protocol):
    """Scores every turn of a rollout; CC and GA need the earlier turns, so a whole rollout at once."""

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        ...
