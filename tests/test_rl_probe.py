"""scripts/rl_probe.py: editor-noise (the same intents through the SDE and the ODE editor) and by-turn (greedy accuracy per turn)."""

from __future__ import annotations

import pytest

from rl.config import TrainConfig
from rl.trainer import build_image_policy
from scripts import rl_probe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def world_config() -> TrainConfig:
    """The shipped world editor with the rule reasoner's intents, two turns of two sessions."""
    settings = {**rl_probe.PROBE_DEFAULTS, "mode": "image", "text_policy": "rules", "turns": 2,
                "train_sessions": 20, "temperature": 0.7}
    return TrainConfig.from_yaml("rl/configs/world-lm.yaml", settings)


class SlipsWhenStochastic:
    """The shipped editor, except that every second SDE sample leaves the image as it was."""

    def __init__(self, policy):
        self.policy = policy

    def sample(self, images, intents, *, seed, stochastic=True):
        samples = self.policy.sample(images, intents, seed=seed, stochastic=stochastic)
        if stochastic:
            for index in range(0, len(samples), 2):
                samples[index].image = images[index]
        return samples


def test_the_shipped_editor_gives_the_rule_intents_the_same_reward_with_or_without_noise():
    result = rl_probe.editor_noise(world_config(), count=2)
    assert result["turn_samples"] == 2 * 8 * 2
    assert result["same_intent"] == result["turn_samples"]  # the rule reasoner reads the same requests both times
    assert result["same_intent_reward_changed"] == 0
    assert result["reward_sde"] == result["reward_ode"] == pytest.approx(1.0)


def test_an_editor_whose_noise_changes_the_edits_is_counted():
    config = world_config()
    result = rl_probe.editor_noise(config, count=2, image=SlipsWhenStochastic(build_image_policy(config)))
    assert result["same_intent_reward_changed"] > 0
    assert result["reward_sde"] < result["reward_ode"]
    assert result["mean_abs_advantage_change_same_intent"] > 0.0


def test_by_turn_judges_each_turn_on_the_teachers_history():
    rules = rl_probe.by_turn_check(world_config(), 6)
    assert rules["greedy_accuracy_by_turn"] == [1.0] * 5  # the teacher agrees with itself at every turn
    raw = rl_probe.by_turn_check(world_config().model_copy(update={"text_policy": "raw"}), 6)
    assert len(raw["greedy_accuracy_by_turn"]) == 5 and raw["mean"] < 1.0


def test_by_turn_reads_a_checkpoint_with_its_runs_config(tmp_path):
    from edit_agent.cli import main as cli

    out = tmp_path / "smoke"
    assert cli(["train", "--config", "rl/configs/smoke.yaml", "--out", str(out), "--no-progress"]) == 0
    result = rl_probe.by_turn_check(world_config(), 2, out / "checkpoints" / "step-000002")
    assert result["text_model"].endswith("step-000002") and result["greedy_accuracy_by_turn"] == [1.0] * 5
