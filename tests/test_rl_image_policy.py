"""The world editor as an RL policy: sampling, stored transitions, log-probs, KL, LoRA and persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edit_agent.editors.world import WorldEditor
from edit_agent.flow.canvas import PALETTE
from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
from edit_agent.records import Intent
from edit_agent.world import Scene, SceneObject, render
from rl.image_policy import FlowImagePolicy

SCENE = Scene(background="sky", objects=(SceneObject(shape="circle", color="red", size="large", cell="center"),))
INTENTS = ["Recolor the large red circle at the center to blue.", "Change the background to gray."]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_editor(seed: int = 0) -> FlowEditorModel:
    torch.manual_seed(seed)
    return FlowEditorModel(FlowEditorConfig.tiny()).randomize_output(0.3)  # an untrained head copies its input


def test_outputs_keep_the_input_size_and_the_world_palette():
    policy = FlowImagePolicy(tiny_editor(), steps=3, window=(1, 2))
    samples = policy.sample([render(SCENE, 99), render(SCENE, 48)], INTENTS, seed=0)
    assert [s.image.size for s in samples] == [(99, 99), (48, 48)]
    palette = {tuple(c) for c in PALETTE.tolist()}
    assert {tuple(c) for c in np.asarray(samples[0].image).reshape(-1, 3).tolist()} <= palette
    assert samples[0].states.shape == (1, 3, 48, 48) and samples[0].times.tolist() == pytest.approx([2 / 3])
    assert samples[0].dts.tolist() == pytest.approx([-1 / 3])


def test_ode_sampling_is_exactly_the_world_editor():
    model = tiny_editor()
    policy = FlowImagePolicy(model, steps=3, window=(0, 2))
    image = render(SCENE, 96)
    [sample] = policy.sample([image], INTENTS[:1], seed=11, stochastic=False)
    expected = WorldEditor(model, steps=3, device="cpu").edit(image, Intent(text=INTENTS[0]), seed=11)
    assert np.array_equal(np.asarray(sample.image), np.asarray(expected))
    assert sample.old_log_probs.numel() == 0


def test_sde_sampling_is_seeded_and_explores():
    policy = FlowImagePolicy(tiny_editor(), steps=4, window=(1, 3), a=0.9)
    images = [render(SCENE, 48)] * 4
    first = policy.sample(images, INTENTS * 2, seed=3)
    again = policy.sample(images, INTENTS * 2, seed=3)
    other = policy.sample(images, INTENTS * 2, seed=4)
    assert all(torch.equal(a.next_states, b.next_states) for a, b in zip(first, again))
    assert not torch.equal(first[0].next_states, other[0].next_states)
    assert not torch.equal(first[0].next_states, first[2].next_states)  # same input and intent, own noise


@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_log_probs_match_at_unchanged_parameters_and_kl_grows_when_they_move(finetune):
    policy = FlowImagePolicy(tiny_editor(), steps=4, window=(1, 3), finetune=finetune, lora_rank=4)
    samples = policy.sample([render(SCENE, 48)] * 2, INTENTS, seed=0)
    out = policy(samples)
    old = torch.stack([s.old_log_probs for s in samples])
    assert torch.allclose(out.log_probs, old, atol=1e-5)
    assert out.kl.abs().max() < 1e-8
    with torch.no_grad():
        for parameter in policy.trainable_parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    moved = policy(samples)
    assert (moved.kl > 0).all()
    assert not torch.allclose(moved.log_probs, old, atol=1e-5)
    moved.log_probs.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.trainable_parameters())


def test_lora_trains_only_adapters_and_merges_into_a_plain_editor(tmp_path):
    policy = FlowImagePolicy(tiny_editor(), steps=2, window=(0, 1), finetune="lora", lora_rank=4)
    names = [n for n, p in policy.network.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    with torch.no_grad():
        for parameter in policy.trainable_parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    merged = policy.editor_model()
    assert type(merged) is FlowEditorModel
    x, image = torch.randn(1, 3, 48, 48), torch.zeros(1, 3, 48, 48)
    ids, mask = merged.tokenizer(INTENTS[:1])
    with torch.no_grad():
        assert torch.allclose(merged.velocity(x, torch.tensor([0.5]), image, ids, mask),
                              policy.model.velocity(x, torch.tensor([0.5]), image, ids, mask), atol=1e-5)

    policy.save(tmp_path / "policy")
    assert WorldEditor(tmp_path / "policy" / "world_editor.safetensors", steps=2, device="cpu").info().steps == 2
    restored = FlowImagePolicy(tiny_editor(), steps=2, window=(0, 1), finetune="lora", lora_rank=4)
    restored.load(tmp_path / "policy")
    assert all(torch.equal(a, b) for a, b in zip(restored.trained_state().values(), policy.trained_state().values()))


def test_window_must_lie_within_the_steps():
    with pytest.raises(ValueError, match="window"):
        FlowImagePolicy(tiny_editor(), steps=2, window=(1, 3))
    with pytest.raises(ValueError, match="finetune"):
        FlowImagePolicy(tiny_editor(), finetune="half")  # type: ignore[arg-type]
