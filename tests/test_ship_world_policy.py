"""Shipping an RL run's text policy as the offline world reasoner: a LoRA run is merged into its base, a
full fine-tune is copied as it is, and either way the shipped folder answers as the trained policy did."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from edit_agent.reasoners.llm import LLMReasoner
from edit_agent.world.generator import generate_sessions
from rl.config import TrainConfig
from rl.sft import completion_text, rule_traces
from rl.text_policy import LLMTextPolicy
from rl.world_lm import WorldLMShape, new_world_lm, save_world_lm, train_tokenizer
from scripts import ship_world_policy

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = WorldLMShape(hidden_size=32, layers=1, heads=2, intermediate_size=64)
REQUESTS_AND_THOUGHTS = list(rule_traces(generate_sessions(1, turns=2, seed=4)))


def trained_run(tmp_path, finetune: str, numbered_objects: bool = False):
    """A run folder as ``edit-agent train`` leaves it, with a text policy moved away from its base."""
    from edit_agent.reasoners import iccot

    texts = [iccot.user_prompt(request) + completion_text(thought) for request, thought in REQUESTS_AND_THOUGHTS]
    tokenizer = train_tokenizer(texts, vocab_size=400)
    model = new_world_lm(tokenizer, TINY, seed=1)
    setattr(model.config, iccot.NUMBERED_OBJECTS_KEY, numbered_objects)
    base = save_world_lm(model, tokenizer, tmp_path / "base")
    policy = LLMTextPolicy(str(base), max_new_tokens=8, finetune=finetune)
    with torch.no_grad():
        for name, parameter in policy.model.named_parameters():
            if finetune == "full" or "lora_B" in name:
                parameter.add_(0.3 * torch.randn_like(parameter))
    run = tmp_path / "run"
    policy.save(run / "final" / "text")
    config = TrainConfig(text_model=str(base), text_adapter=None, text_finetune=finetune, seed=2)
    (run / "config.yaml").write_text(config.to_yaml())
    (run / "log.jsonl").write_text(json.dumps({"step": 1}) + "\n" + json.dumps({"step": 2}) + "\n")
    return run, policy


@pytest.mark.parametrize("finetune", ["lora", "full"])
def test_the_shipped_folder_answers_as_the_trained_policy(tmp_path, monkeypatch, finetune) -> None:
    from edit_agent.reasoners import iccot

    # Trained on numbered objects: the shipped folder must keep the layout, or its reasoner would prompt
    # with the unnumbered list the weights never saw (and answer differently below).
    run, policy = trained_run(tmp_path, finetune, numbered_objects=True)
    out, adapter_out = tmp_path / "shipped", tmp_path / "adapter"
    monkeypatch.setattr(sys, "argv", ["ship", "--run", str(run), "--out", str(out), "--adapter-out", str(adapter_out)])
    ship_world_policy.main()

    assert not list(out.glob("adapter_*"))  # plain transformers folder, no peft at inference
    assert adapter_out.is_dir() == (finetune == "lora")
    record = json.loads((out / "policy.json").read_text())
    assert record["steps"] == 2 and record["seed"] == 2
    samples = policy.sample([request for request, _ in REQUESTS_AND_THOUGHTS], temperature=1.0, seed=0)
    shipped = LLMTextPolicy(str(out), max_new_tokens=8, finetune="full")
    with torch.no_grad():
        for sample, log_probs in zip(samples, shipped.log_probs(samples)):
            torch.testing.assert_close(log_probs, sample.old_log_probs, atol=1e-4, rtol=1e-4)
    request = REQUESTS_AND_THOUGHTS[0][0]
    shipped_reasoner = LLMReasoner(str(out), max_new_tokens=8)
    assert iccot.reads_numbered_objects(shipped_reasoner.model)
    assert shipped_reasoner.reconstruct(request) == policy.as_reasoner().reconstruct(request)


def test_a_run_without_a_text_policy_is_refused_and_nothing_is_written(tmp_path, monkeypatch) -> None:
    run = tmp_path / "run"
    (run / "final" / "text").mkdir(parents=True)
    (run / "config.yaml").write_text(TrainConfig(text_model="some/model").to_yaml())
    out = tmp_path / "shipped"
    monkeypatch.setattr(sys, "argv", ["ship", "--run", str(run), "--out", str(out)])
    with pytest.raises(SystemExit, match="no world-LM text policy"):
        ship_world_policy.main()
    assert not out.exists()


def test_a_folder_that_holds_anything_but_a_shipped_policy_is_never_replaced(tmp_path, monkeypatch) -> None:
    run, _ = trained_run(tmp_path, "lora")
    notes = tmp_path / "my-folder"
    notes.mkdir()
    (notes / "notes.txt").write_text("keep me")
    monkeypatch.setattr(sys, "argv", ["ship", "--run", str(run), "--out", str(notes), "--adapter-out", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="holds files that are no shipped policy"):
        ship_world_policy.main()
    assert [path.name for path in notes.iterdir()] == ["notes.txt"] and not (tmp_path / "a").exists()


def test_a_chosen_checkpoint_ships_as_it_was_trained_at_that_step(tmp_path, monkeypatch) -> None:
    from rl.trainer import Trainer

    run, _ = trained_run(tmp_path, "full")
    config = TrainConfig.from_yaml(run / "config.yaml").model_copy(
        update={"out": run, "image_model": "tiny", "text_policy": "llm", "resume": False, "progress": False})
    (run / "config.yaml").write_text(config.to_yaml())
    trainer = Trainer(config, sessions=())
    with torch.no_grad():
        for parameter in trainer.text_policy.trainable_parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    trainer.step = 1
    trainer.save_checkpoint()
    out = tmp_path / "shipped"
    monkeypatch.setattr(sys, "argv", ["ship", "--run", str(run), "--out", str(out), "--step", "1"])
    ship_world_policy.main()

    assert json.loads((out / "policy.json").read_text())["steps"] == 1
    request = REQUESTS_AND_THOUGHTS[0][0]
    shipped_reasoner = LLMReasoner(str(out), max_new_tokens=config.text_max_new_tokens)
    assert shipped_reasoner.reconstruct(request) == trainer.text_policy.as_reasoner().reconstruct(request)
    samples = trainer.text_policy.sample([request], temperature=1.0, seed=0)
    shipped = LLMTextPolicy(str(out), max_new_tokens=config.text_max_new_tokens, finetune="full")
    with torch.no_grad():
        torch.testing.assert_close(shipped.log_probs(samples)[0], samples[0].old_log_probs, atol=1e-4, rtol=1e-4)


def test_a_step_without_a_checkpoint_is_refused_and_nothing_is_written(tmp_path, monkeypatch) -> None:
    run, _ = trained_run(tmp_path, "full")
    out = tmp_path / "shipped"
    monkeypatch.setattr(sys, "argv", ["ship", "--run", str(run), "--out", str(out), "--step", "7"])
    with pytest.raises(SystemExit, match="no checkpoint at step 7"):
        ship_world_policy.main()
    assert not out.exists()


def test_the_ready_one_turn_config_is_the_recipe_of_the_shipped_policy() -> None:
    """`edit-agent train --config rl/configs/world-lm-one-turn.yaml` reruns what ships: same start, seed and steps."""
    shipped = json.loads((ship_world_policy.WORLD_POLICY / "policy.json").read_text())
    config = TrainConfig.from_yaml("rl/configs/world-lm-one-turn.yaml")
    assert (config.text_model, config.seed, config.steps) == (shipped["base"], shipped["seed"], shipped["steps"])
    assert config.steps % config.save_every == 0  # the shipped step is saved as a checkpoint, ready to ship
