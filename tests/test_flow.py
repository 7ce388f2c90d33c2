"""The flow model, its samplers and persistence (tiny random models built from config; no downloads)."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch.distributions import Normal

from edit_agent.flow.data import make_batch, world_triples
from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
from edit_agent.flow.sampling import sample, sde_mean, sde_sigma, sde_step, timesteps


def tiny_model(seed: int = 0, config: FlowEditorConfig | None = None) -> FlowEditorModel:
    torch.manual_seed(seed)
    return FlowEditorModel(config or FlowEditorConfig.tiny()).randomize_output(0.1).eval()


def test_tiny_model_loss_falls() -> None:
    from scripts.train_world_editor import flow_loss

    torch.manual_seed(0)
    model = FlowEditorModel(FlowEditorConfig.tiny())
    stream = world_triples(seed=1)
    batch = make_batch([next(stream) for _ in range(8)], random.Random(0), canvas=48)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss_now(seed: int) -> torch.Tensor:
        return flow_loss(model, batch.image, batch.target, batch.intents, torch.Generator().manual_seed(seed),
                         t_one=0.3, change_weight=9.0)

    with torch.no_grad():
        before = sum(loss_now(s).item() for s in range(3))
    for step in range(25):
        loss = loss_now(100 + step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = sum(loss_now(s).item() for s in range(3))
    assert after < 0.8 * before


CONV_HEAD = FlowEditorConfig.tiny().model_copy(update={"head_kernel": 3, "head_layers": 2})
"""The shipped weights use a head of 3x3 convolutions; the tiny default keeps the per-pixel one."""


@pytest.mark.parametrize("config", [FlowEditorConfig.tiny(), CONV_HEAD], ids=["1x1-head", "3x3-head"])
def test_untrained_model_copies_its_input(config: FlowEditorConfig) -> None:
    model = FlowEditorModel(config).eval()
    image = torch.rand(2, 3, 48, 48) * 2 - 1
    ids, mask = model.tokenizer(["Make no change.", "Remove the small red circle at the center."])
    with torch.no_grad():
        x0 = model.predict_x0(torch.randn(2, 3, 48, 48), torch.ones(2), image, ids, mask)
    assert torch.equal(x0, image)


@pytest.mark.parametrize("config", [FlowEditorConfig.tiny(), CONV_HEAD], ids=["1x1-head", "3x3-head"])
def test_save_load_round_trip_gives_the_same_output(tmp_path, config: FlowEditorConfig) -> None:
    model = tiny_model(config=config)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = FlowEditorModel.load(path)
    assert loaded.config == model.config
    image = torch.rand(1, 3, 48, 48) * 2 - 1
    ids, mask = model.tokenizer(["Add a small blue square at the top left."])

    def run(m: FlowEditorModel) -> torch.Tensor:
        noise = torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            return sample(lambda x, t: m.velocity(x, t, image, ids, mask), noise, steps=3).sample

    assert torch.equal(run(model), run(loaded))


def test_timesteps_match_the_scheduler_grid() -> None:
    assert torch.allclose(timesteps(4), torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0]))
    with pytest.raises(ValueError):
        timesteps(0)


def test_ode_reaches_a_fixed_target_in_any_number_of_steps() -> None:
    target = torch.randn(2, 3, 4, 4)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # the exact field of a point target
        return (x - target) / t.view(-1, 1, 1, 1)

    for steps in (1, 2, 5):
        assert torch.allclose(sample(velocity, torch.randn(2, 3, 4, 4), steps=steps).sample, target, atol=1e-5)


@pytest.mark.parametrize("t, dt, a", [(0.5, -0.25, 0.7), (0.8, -0.1, 1.0), (0.25, -0.25, 0.3)])
def test_sde_log_prob_matches_an_independent_gaussian_density(t: float, dt: float, a: float) -> None:
    generator = torch.Generator().manual_seed(0)
    x, v, eps = (torch.randn(3, 2, 5, 5, generator=generator) for _ in range(3))
    x_next, mu, log_prob = sde_step(x, v, t=t, dt=dt, a=a, noise=eps)

    # the mean and the noise scale written out from docs/design.md with plain Python floats
    sigma = a * math.sqrt(t / (1 - t))
    expected_mu = x + v * dt + sigma**2 / (2 * t) * (x + (1 - t) * v) * dt
    assert torch.allclose(mu, expected_mu, atol=1e-6)
    std = sigma * math.sqrt(-dt)
    assert torch.allclose(x_next, expected_mu + std * eps, atol=1e-6)

    # torch's Normal log-density, less its constant terms (log std + log(2 pi)/2), averaged over elements
    density = Normal(expected_mu, std).log_prob(x_next) + math.log(std) + 0.5 * math.log(2 * math.pi)
    assert torch.allclose(log_prob, density.flatten(1).mean(dim=1), atol=1e-5)
    assert log_prob.shape == (3,)


def test_sde_sigma_is_finite_at_t_one() -> None:
    assert math.isfinite(float(sde_sigma(1.0, a=0.7)))
    assert torch.isfinite(sde_mean(torch.ones(1), torch.ones(1), 1.0, -0.25, 0.7)).all()


def test_sde_window_collects_log_probs_and_is_seeded() -> None:
    model = tiny_model()
    image = torch.zeros(2, 3, 48, 48)
    ids, mask = model.tokenizer(["Change the background to gray.", "Make no change."])

    def run() -> object:
        with torch.no_grad():
            return sample(lambda x, t: model.velocity(x, t, image, ids, mask), torch.ones(2, 3, 48, 48), steps=4,
                          window=(0, 2), a=0.7, generator=torch.Generator().manual_seed(3))

    first, second = run(), run()
    assert first.sde_steps == [0, 1] and len(first.log_probs) == 2 and first.log_probs[0].shape == (2,)
    assert torch.equal(first.sample, second.sample)
    assert all(torch.isfinite(lp).all() for lp in first.log_probs)
