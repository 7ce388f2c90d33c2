"""The two halves of a joint policy, text and image: their weights, a copy of them, and putting one back.

Scripts that score checkpoints use them to hold one half at the run's start while the other is trained
(``rl_checkpoints.py --only``), or to replace a trained update by another of the same size
(``rl_fit_gap.py --matched-noise``).
"""

from __future__ import annotations

import torch

from rl.trainer import Trainer

HALVES = ("text", "image")


def half_parameters(trainer: Trainer, half: str) -> list[torch.nn.Parameter]:
    """The weights a checkpoint sets for ``half``: the text policy's trained ones, or every weight of the editor."""
    if half == "text":
        return list(trainer.text_policy.trainable_parameters())
    return list(trainer.image_policy.network.parameters())


def start_halves(trainer: Trainer) -> dict[str, list[torch.Tensor]]:
    """A copy of each half's weights before any checkpoint is loaded: the policy the run started from."""
    return {half: [p.detach().clone() for p in half_parameters(trainer, half)] for half in HALVES}


def restore_half(trainer: Trainer, start: dict[str, list[torch.Tensor]], half: str) -> None:
    """Put ``half`` back to the run's start, leaving the other half as the checkpoint set it."""
    with torch.no_grad():
        for parameter, value in zip(half_parameters(trainer, half), start[half], strict=True):
            parameter.copy_(value)
