"""scripts/rl_fit_gap.py: the sessions it calls "trained" are the ones the trainer drew."""

from __future__ import annotations

from pathlib import Path

import pytest

from edit_agent.world.generator import generate_sessions
from rl.config import TrainConfig
from rl.trainer import Trainer
from scripts.rl_fit_gap import matched_noise, trained_session_indices
from tests.test_rl_trainer import ChoiceTextPolicy, PixelReward, tiny_editor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_trained_session_indices_replay_the_trainers_draws(tmp_path: Path, monkeypatch) -> None:
    from rl.image_policy import FlowImagePolicy

    pool = generate_sessions(40, turns=1, seed=5)
    config = TrainConfig(turns=1, group_size=2, sessions_per_step=3, sde_steps=3, sde_window=(1, 3), image_size=48,
                         out=tmp_path / "run", progress=False, threads=1, text_policy="llm", seed=4)
    trainer = Trainer(config, text_policy=ChoiceTextPolicy(), image_policy=FlowImagePolicy(tiny_editor(), steps=3),
                      reward=PixelReward(), sessions=pool)
    drawn: list[str] = []
    monkeypatch.setattr(trainer, "_collect", lambda sessions, rng, round_index: drawn.extend(s.id for s in sessions) or [])
    for step in range(3):
        trainer.step = step
        trainer.rollouts()
    assert drawn == [pool[index].id for index in trained_session_indices(config, len(pool), 3)]
    assert len(set(drawn)) > 3  # different sessions at different steps


def test_matched_noise_is_as_large_as_the_update_tensor_by_tensor_in_a_random_direction() -> None:
    import torch

    generator = torch.Generator().manual_seed(0)
    start = [torch.randn(64, 64, generator=generator), torch.randn(256, generator=generator), torch.zeros(8)]
    moved = [start[0] + 0.01 * torch.randn(64, 64, generator=generator), start[1] + 0.3, start[2].clone()]
    first, second = matched_noise(start, moved, seed=0), matched_noise(start, moved, seed=1)
    for noise, before, after in zip(first, start, moved, strict=True):
        assert noise.shape == before.shape
        rms = (after - before).pow(2).mean().sqrt()
        assert noise.pow(2).mean().sqrt() == pytest.approx(rms, rel=0.15, abs=1e-12)
    assert torch.equal(first[2], torch.zeros(8))  # a tensor the update left alone stays
    cosine = torch.nn.functional.cosine_similarity(first[1], torch.full((256,), 0.3), dim=0)
    assert abs(cosine) < 0.3  # not the update's direction
    assert not torch.equal(first[0], second[0])
    assert torch.equal(first[0], matched_noise(start, moved, seed=0)[0])  # a seed gives the same noise
