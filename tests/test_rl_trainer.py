"""The RL trainer on tiny models: smoke runs, trajectory filtering, log-prob consistency, checkpoints, CLI."""

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

from edit_agent.editors.world import WorldEditor
from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.records import Intent, Thought, TurnRequest
from edit_agent.world.generator import generate_sessions
from edit_agent.world.render import render
from rl.config import TrainConfig
from rl.image_policy import FlowImagePolicy
from rl.interfaces import RolloutTurns, TextSample, TurnScores
from rl.objectives import group_advantages, rewards_to_go
from rl.rewards import WorldReward
from rl.rollout import Group, Rollout, _reward_view, collect_groups, gold_prefix, session_requests
from rl.trainer import LOG_KEYS, RunFolderError, Trainer, carries_signal, evaluate, make_batch


def tiny_editor(seed: int = 0) -> FlowEditorModel:
    """A tiny editor whose output depends on its noise and weights (the untrained one copies its input)."""
    torch.manual_seed(seed)
    return FlowEditorModel(FlowEditorConfig.tiny()).randomize_output(0.3)


class ChoiceModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(2))


class ChoiceTextPolicy:
    """A one-token text policy with real parameters: token 1 writes the rule reasoner's intent, token 0 the raw one."""

    trainable = True

    def __init__(self) -> None:
        self.model = ChoiceModel()
        self.rules = RuleReasoner()

    def sample(self, requests: Sequence[TurnRequest], *, temperature: float, seed: int) -> list[TextSample]:
        generator = torch.Generator().manual_seed(seed)
        samples = []
        for request in requests:
            with torch.no_grad():
                logits = self.model.logits / max(temperature, 1e-3)
                choice = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator))
                log_prob = torch.log_softmax(self.model.logits, -1)[choice]
            thought = self.rules.reconstruct(request) if choice else Thought(
                reasoning="raw", intent=Intent(text=request.instruction))
            samples.append(TextSample(thought=thought, prompt_ids=torch.zeros(1, dtype=torch.long),
                                      completion_ids=torch.tensor([choice]), old_log_probs=log_prob.view(1)))
        return samples

    def log_probs(self, samples: Sequence[TextSample]) -> list[torch.Tensor]:
        log_softmax = torch.log_softmax(self.model.logits, -1)
        return [log_softmax[s.completion_ids] for s in samples]

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        return iter([self.model.logits])

    def save(self, folder: str | Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), Path(folder) / "choice.pt")


class PixelReward:
    """Scores that vary with the output pixels, so a group's rollouts get different advantages."""

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        return [TurnScores(if_=1.0, cc=float(np.asarray(image).mean() / 255), ga=float(np.asarray(image)[..., 0].mean() / 255))
                for image in rollout.outputs]


class ScriptedIFReward(PixelReward):
    """PixelReward with IF scripted per rollout, in the order the rollouts are scored."""

    def __init__(self, if_rows: list[list[float]]) -> None:
        self.rows = itertools.cycle(if_rows)

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        row = next(self.rows)
        return [TurnScores(if_=row[t], cc=s.cc, ga=s.ga) for t, s in enumerate(super().score(rollout))]


def small_config(tmp_path: Path, **fields) -> TrainConfig:
    values = {"turns": 2, "group_size": 2, "sessions_per_step": 1, "sde_steps": 3, "sde_window": (1, 3),
              "image_size": 48, "steps": 2, "updates_per_batch": 2, "image_lr": 1e-3, "text_lr": 1e-1,
              "out": tmp_path / "run", "progress": False, "save_every": 1, "threads": 1, "text_policy": "llm",
              "mode": "joint"}
    values.update(fields)
    return TrainConfig(**values)


SESSIONS = generate_sessions(4, turns=3, seed=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def trainer(config: TrainConfig, *, reward=None, image: FlowImagePolicy | None = None, text=None) -> Trainer:
    image = image or FlowImagePolicy(tiny_editor(), steps=config.sde_steps, window=config.sde_window,
                                     finetune=config.image_finetune)
    return Trainer(config, text_policy=text or ChoiceTextPolicy(), image_policy=image, reward=reward or PixelReward(),
                   sessions=SESSIONS)


def snapshot(parameters) -> list[torch.Tensor]:
    return [p.detach().clone() for p in parameters]


def test_smoke_two_joint_steps_change_every_trainable_parameter(tmp_path):
    run = trainer(small_config(tmp_path))
    parameters = run.trainable_parameters()
    before = snapshot(parameters)
    final = run.train()

    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(set(LOG_KEYS) <= set(r) for r in records)
    assert all(math.isfinite(r["loss"]) and r["image_loss"] != 0 and r["text_loss"] != 0 for r in records)
    assert len(records[0]["reward_per_turn"]) == 2 and records[0]["rollouts"] == 2
    unchanged = [i for i, (p, b) in enumerate(zip(parameters, before)) if torch.equal(p.detach(), b)]
    assert not unchanged, f"{len(unchanged)} of {len(parameters)} trainable tensors did not change"
    assert (tmp_path / "run" / "log.png").stat().st_size > 0
    editor = WorldEditor(final / "image" / "world_editor.safetensors", steps=3)  # the shipped format
    assert torch.equal(editor.model.head[-1].weight, run.image_policy.model.head[-1].weight)
    assert (final / "text" / "choice.pt").exists()


@pytest.mark.parametrize("finetune, saved", [("lora", "adapter_config.json"), ("full", "config.json")])
def test_smoke_two_joint_steps_with_a_tiny_random_llm_policy(tmp_path, finetune, saved):
    from rl.text_policy import LLMTextPolicy
    from tests import model_fixtures

    model, tokenizer = model_fixtures.tiny_chat_lm()
    text = LLMTextPolicy(model, tokenizer=tokenizer, max_new_tokens=6, finetune=finetune)
    run = trainer(small_config(tmp_path, text_lr=1e-2), text=text)
    parameters = run.trainable_parameters()
    assert any(p is q for p in parameters for q in text.trainable_parameters())
    before = snapshot(parameters)
    run.train()
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(math.isfinite(r["loss"]) and r["text_loss"] != 0 for r in records)
    assert all(not torch.equal(p.detach(), b) for p, b in zip(parameters, before))
    assert (tmp_path / "run" / "final" / "text" / saved).exists()
    weights = sorted((tmp_path / "run").rglob("*.safetensors"))  # checkpoints, editor, adapter or model
    readable = (tmp_path / "run" / "config.yaml").stat().st_mode & 0o777
    assert len(weights) >= 5 and {path.stat().st_mode & 0o777 for path in weights} == {readable}, (
        "trained weights must be as readable as the run's other files (safetensors writes them owner-only)")


def test_lora_image_only_trains_the_adapters_and_keeps_the_base(tmp_path):
    config = small_config(tmp_path, mode="image", text_policy="rules", image_finetune="lora")
    image = FlowImagePolicy(tiny_editor(), steps=3, window=(1, 3), finetune="lora")
    run = trainer(config, image=image)
    base = {n: p.detach().clone() for n, p in image.network.named_parameters() if "lora_" not in n}
    parameters = run.trainable_parameters()
    before = snapshot(parameters)
    run.train()
    assert parameters and all("lora_" in n for n, p in image.network.named_parameters() if p.requires_grad)
    assert all(not torch.equal(p.detach(), b) for p, b in zip(parameters, before))
    assert all(torch.equal(p, base[n]) for n, p in image.network.named_parameters() if n in base)


def test_filtered_turns_contribute_exactly_zero_gradient(tmp_path):
    """Rollout 1 fails turn 1 (IF 0): corrupting what its turn 2 sampled must not move any gradient."""
    config = small_config(tmp_path, turns=3, sde_steps=3)
    run = trainer(config, reward=ScriptedIFReward([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
    batch = make_batch(run.rollouts(), config)
    assert batch.mask.tolist() == [1, 0, 0, 1, 1, 1]  # rollout 1: turns 2 and 3 filtered

    def gradients(batch) -> list[torch.Tensor]:
        policy = run.accelerator.unwrap_model(run.policy)
        policy.zero_grad(set_to_none=False)
        image_out, text_out = policy(batch.images, batch.texts)
        from rl.trainer import image_loss, text_loss

        (image_loss(image_out, batch, config)[0] + text_loss(text_out, batch, config)[0]).backward()
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in run.trainable_parameters()]

    def corrupted(batch, turns: list[int]):
        images = list(batch.images)
        texts = list(batch.texts)
        for index in turns:
            sample = images[index]
            images[index] = type(sample)(**{**sample.__dict__, "next_states": torch.randn_like(sample.next_states),
                                            "states": torch.randn_like(sample.states)})
            texts[index] = TextSample(thought=texts[index].thought, prompt_ids=texts[index].prompt_ids,
                                      completion_ids=1 - texts[index].completion_ids,
                                      old_log_probs=texts[index].old_log_probs - 1.0)
        return type(batch)(**{**batch.__dict__, "images": images, "texts": texts})

    clean = gradients(batch)
    assert any(g.abs().sum() > 0 for g in clean)
    filtered = gradients(corrupted(batch, [1, 2]))
    assert all(torch.equal(a, b) for a, b in zip(clean, filtered))
    kept = gradients(corrupted(batch, [4]))  # a turn that is not filtered does move the gradient
    assert not all(torch.equal(a, b) for a, b in zip(clean, kept))
    unfiltered = make_batch(run.rollouts(), small_config(tmp_path, turns=3, sde_steps=3, filtering=False))
    assert unfiltered.mask.tolist() == [1.0] * 6 and unfiltered.filter_mask.tolist() == batch.filter_mask.tolist()


def test_return_credit_normalises_each_turns_reward_to_go(tmp_path):
    config = small_config(tmp_path, turns=3, credit="return")
    batch = make_batch(trainer(config).rollouts(), config)  # one session: batch.rewards is its [G, T]
    expected = group_advantages(rewards_to_go(batch.rewards)).flatten()
    assert torch.allclose(batch.advantages, expected)
    assert not torch.allclose(batch.advantages, group_advantages(batch.rewards).flatten())


class TiedSessionsReward(PixelReward):
    """PixelReward, except that every rollout of the ``tied`` sessions gets the same perfect scores."""

    def __init__(self, tied: set[str]) -> None:
        self.tied = tied

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        if rollout.session.id in self.tied:
            return [TurnScores(if_=1.0, cc=1.0, ga=1.0)] * len(rollout.outputs)
        return super().score(rollout)


def scored_group(rows: list[list[tuple[float, float, float]]]) -> Group:
    """A group whose rollouts carry only their (IF, CC, GA) per turn: what the objective reads."""
    rollouts = [Rollout(session=SESSIONS[0], start_image=render(SESSIONS[0].start, 48),
                        scores=[TurnScores(if_=i, cc=c, ga=g) for i, c, g in row]) for row in rows]
    return Group(session=SESSIONS[0], rollouts=rollouts)


def test_a_group_carries_signal_only_where_a_turn_that_gets_gradient_does_not_tie(tmp_path):
    config = small_config(tmp_path)
    assert not carries_signal(scored_group([[(1, 1, 1), (1, 0.5, 1)], [(1, 1, 1), (1, 0.5, 1)]]), config)
    assert carries_signal(scored_group([[(1, 1, 1), (1, 0.5, 1)], [(1, 1, 1), (1, 0.9, 1)]]), config)
    # both rollouts fail turn 1 alike, so only filtered turns differ: nothing to learn with filtering, signal without
    failed_alike = scored_group([[(0, 1, 1), (1, 0.5, 1)], [(0, 1, 1), (1, 0.9, 1)]])
    assert not carries_signal(failed_alike, config)
    assert carries_signal(failed_alike, small_config(tmp_path, filtering=False))


def informative_run(tmp_path, tied: set[str], **fields) -> Trainer:
    config = small_config(tmp_path, turns=1, sessions_per_step=2, **fields)
    return trainer(config, reward=TiedSessionsReward(tied))


def test_informative_groups_roll_out_more_sessions_until_every_group_carries_signal(tmp_path):
    tied = {SESSIONS[0].id, SESSIONS[2].id}  # seed 0's first round draws sessions 2 and 3: one tied, one not
    run = informative_run(tmp_path, tied, informative_groups=True, max_rollout_rounds=2)
    groups = run.rollouts()
    assert run.sessions_rolled == 4
    assert {group.session.id for group in groups} == {SESSIONS[1].id, SESSIONS[3].id}
    assert all(carries_signal(group, run.config) for group in groups)

    plain = informative_run(tmp_path, tied)  # off by default: one round, and the same first draw keeps a tied group
    groups = plain.rollouts()
    assert plain.sessions_rolled == 2
    assert any(group.session.id in tied for group in groups)


def test_informative_groups_fill_a_shortfall_with_tied_groups_after_the_last_round(tmp_path):
    tied = {SESSIONS[0].id, SESSIONS[1].id, SESSIONS[2].id}
    run = informative_run(tmp_path, tied, informative_groups=True, max_rollout_rounds=3)
    groups = run.rollouts()
    assert run.sessions_rolled == 4  # the pool ran out before a third round
    assert len(groups) == 2 and groups[0].session.id == SESSIONS[3].id
    assert groups[1].session.id in tied and len({group.session.id for group in groups}) == 2


def test_a_step_with_informative_groups_logs_the_sessions_it_rolled_and_full_signal(tmp_path):
    run = informative_run(tmp_path, {SESSIONS[0].id}, informative_groups=True, steps=1)
    run.train()
    [record] = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert record["signal_fraction"] == 1.0 and record["rollouts"] == 4
    assert record["sessions_rolled"] == run.sessions_rolled >= 2


def test_recomputed_log_probs_equal_the_rollouts_at_unchanged_parameters():
    policy = FlowImagePolicy(tiny_editor(), steps=4, window=(1, 3))
    [group] = collect_groups(SESSIONS[:1], text_policy=ChoiceTextPolicy(), image_policy=policy, reward=PixelReward(),
                             group_size=3, turns=2, temperature=0.7, seed=5)
    samples = [image for rollout in group.rollouts for image in rollout.images]
    out = policy(samples)
    old = torch.stack([s.old_log_probs for s in samples])
    assert out.log_probs.shape == (6, 2)
    assert torch.allclose(out.log_probs, old, atol=1e-5)
    assert torch.allclose(out.kl, torch.zeros_like(out.kl))
    assert out.log_probs.requires_grad


def test_checkpoint_and_resume_round_trip(tmp_path):
    config = small_config(tmp_path, steps=2)
    first = trainer(config)
    first.train()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-000001", "step-000002"]

    resumed = trainer(small_config(tmp_path, steps=3))
    assert resumed.step == 2
    for a, b in zip(first.trainable_parameters(), resumed.trainable_parameters()):
        assert torch.equal(a.detach(), b.detach())
    state_a, state_b = first.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k]["exp_avg"], state_b[k]["exp_avg"]) for k in state_a)
    resumed.train()
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]



def test_a_fresh_run_refuses_a_folder_that_holds_a_run(tmp_path):
    trainer(small_config(tmp_path, steps=1)).train()
    with pytest.raises(RunFolderError, match="holds a run already"):  # never two runs mixed in one folder
        trainer(small_config(tmp_path, steps=3, resume=False)).train()


def test_a_run_whose_checkpoints_are_gone_or_files_not_a_runs_is_not_overwritten(tmp_path):
    trainer(small_config(tmp_path, steps=2)).train()
    shutil.rmtree(tmp_path / "run" / "checkpoints")  # deleted to save disk: its log and policy are still there
    log = (tmp_path / "run" / "log.jsonl").read_text()
    with pytest.raises(RunFolderError, match="holds a run already"):
        trainer(small_config(tmp_path, steps=1, resume=False)).train()
    assert (tmp_path / "run" / "log.jsonl").read_text() == log
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.yaml").write_text("my: precious settings\n")
    (theirs / "log.jsonl").write_text('{"step": 7}\n')
    with pytest.raises(RunFolderError, match="is not a training run's config"):
        trainer(small_config(tmp_path, steps=1).model_copy(update={"out": theirs})).train()
    assert (theirs / "log.jsonl").read_text() == '{"step": 7}\n'


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path):
    from rl.trainer import run_folder_lock

    config = small_config(tmp_path, steps=1)
    in_use = pytest.raises(RunFolderError, match=r"is in use by another run \(process \d+\)")
    with run_folder_lock(config.out), in_use:  # as a run in another process holds it
        trainer(config).train()
    assert not (config.out / "log.jsonl").exists()
    trainer(config).train()  # free again once that run ends
    assert (config.out / "log.jsonl").is_file()


def test_a_run_folder_under_home_is_the_home_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert TrainConfig(out="~/runs/x").out == tmp_path / "runs" / "x"


@pytest.mark.parametrize("text, told", [
    ("", "the file is empty"),
    ("steps: 2\n\tsde_window: [1, 3]\n", "line 2, column 1: found character '\\t' that cannot start any token"),
    ("sde_window: [1, 3\nsteps: 2\n", "line 2, column 6: expected ',' or ']'"),
])
def test_a_config_file_that_is_empty_or_not_yaml_is_told_where(tmp_path, capsys, text, told):
    from edit_agent.cli import main

    (tmp_path / "bad.yaml").write_text(text)
    assert main(["train", "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "run")]) == 2
    assert told in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_a_policy_that_cannot_be_written_whole_leaves_the_last_one_and_one_error(tmp_path, monkeypatch):
    run = trainer(small_config(tmp_path, steps=1))
    run.train()
    final = tmp_path / "run" / "final"
    before = {path.relative_to(final): path.read_bytes() for path in final.rglob("*") if path.is_file()}

    class SafetensorError(Exception):
        """What safetensors raises for a full disk, known by its name."""

    def disk_full(folder):
        folder.mkdir(parents=True)
        (folder / "world_editor.safetensors").write_bytes(b"half")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(run.image_policy, "save", disk_full)
    with pytest.raises(OSError, match=r"Writing .*final failed \(Error while serializing.*\); is the disk full\?"):
        run.save_policy(final)
    assert {path.relative_to(final): path.read_bytes() for path in final.rglob("*") if path.is_file()} == before
    assert sorted(path.name for path in final.parent.iterdir() if path.name.startswith(".final")) == []


def test_a_resumed_run_logs_each_step_once(tmp_path):
    trainer(small_config(tmp_path, steps=3)).train()
    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step-000003")  # stopped after logging step 3, before saving it
    resumed = trainer(small_config(tmp_path, steps=4))
    assert resumed.step == 2
    resumed.train()
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


@pytest.mark.parametrize("damaged", [b"cut short", b""])
def test_a_damaged_checkpoint_is_a_clear_resume_error(tmp_path, damaged):
    trainer(small_config(tmp_path, steps=1)).train()
    (tmp_path / "run" / "checkpoints" / "step-000001" / "optimizer.pt").write_bytes(damaged)
    with pytest.raises(RunFolderError, match="Cannot resume from .*step-000001"):
        trainer(small_config(tmp_path, steps=2))


def test_a_torn_log_line_does_not_stop_a_resume(tmp_path):
    trainer(small_config(tmp_path, steps=1)).train()
    with (tmp_path / "run" / "log.jsonl").open("a") as log:
        log.write('{"step": 2, "rew')  # killed mid-write
    trainer(small_config(tmp_path, steps=2)).train()
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


def test_evaluate_scores_the_deterministic_policy_per_turn():
    policy = FlowImagePolicy(tiny_editor(), steps=2, window=(0, 1))
    summary = evaluate(ChoiceTextPolicy(), policy, sessions=SESSIONS[:2], turns=2, size=48)
    assert summary["n_sessions"] == 2
    assert set(summary["per_turn"]) == {"IF", "CC", "GA", "SR"} and len(summary["per_turn"]["SR"]) == 2


def test_config_rejects_training_a_fixed_text_policy_and_bad_windows():
    with pytest.raises(ValueError, match="text_policy: llm"):
        TrainConfig(mode="joint", text_policy="rules")
    with pytest.raises(ValueError, match="sde_window"):
        TrainConfig(sde_steps=2, sde_window=(1, 3))
    assert TrainConfig.from_yaml(Path("rl/configs/world.yaml")).mode == "joint"



@pytest.mark.parametrize("setting", [{"image_lr": float("inf")}, {"reward_if": float("nan")}, {"sde_a": float("inf")},
                                     {"seed": 2**64}, {"seed": -1}, {"eval_sessions": 501}, {"out": " "}])
def test_config_refuses_values_that_would_train_nonsense_or_crash(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):  # pydantic's error names the field
        TrainConfig(**setting)


@pytest.mark.parametrize("setting", [{"steps": True}, {"text_lr": False}, {"time_budget_s": True}, {"mode": True}])
def test_config_refuses_true_or_false_for_a_setting_that_is_not_a_switch(setting):
    # pydantic alone reads true as 1: "--set steps=true" trained one step and said nothing
    with pytest.raises(ValueError, match=f"{next(iter(setting))}\n.*not (true|false)"):
        TrainConfig(**setting)
    assert TrainConfig(resume=False, filtering=True).resume is False  # the real switches still take them


def test_a_missing_text_adapter_is_an_error_not_a_silent_fresh_lora(tmp_path):
    from edit_agent.errors import ModelUnavailableError
    from rl.trainer import build_text_policy

    with pytest.raises(ModelUnavailableError, match="text_adapter: null"):
        build_text_policy(TrainConfig(text_policy="llm", text_adapter=str(tmp_path / "typo-adapter")))

def test_cli_trains_the_smoke_config(tmp_path, capsys):
    from edit_agent.cli import main

    out = tmp_path / "smoke"
    assert main(["train", "--config", "rl/configs/smoke.yaml", "--out", str(out), "--no-progress",
                 "--set", "eval_sessions=1", "--set", "eval_turns=2"]) == 0
    assert "rl: 2 steps" in capsys.readouterr().out
    assert len((out / "log.jsonl").read_text().splitlines()) == 2
    assert (out / "final" / "image" / "world_editor.safetensors").exists()
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert summary["n_sessions"] == 1 and len(summary["per_turn"]["IF"]) == 2


def test_the_smoke_config_trains_its_editor(tmp_path):
    """The CLI's smoke run is a real training run: its rollouts differ in reward and every editor weight moves."""
    from edit_agent.cli import main
    from rl.trainer import build_image_policy

    config = TrainConfig.from_yaml(Path("rl/configs/smoke.yaml"))
    torch.manual_seed(config.seed)  # as the trainer does before it builds the editor
    start = build_image_policy(config).network.state_dict()
    out = tmp_path / "smoke"
    assert main(["train", "--config", "rl/configs/smoke.yaml", "--out", str(out), "--no-progress"]) == 0

    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert all(r["signal_fraction"] > 0 for r in records), [r["signal_fraction"] for r in records]
    trained = FlowEditorModel.load(out / "final" / "image" / "world_editor.safetensors").state_dict()
    assert trained.keys() == start.keys()
    unchanged = [name for name in start if torch.equal(trained[name], start[name])]
    assert not unchanged, f"{len(unchanged)} of {len(start)} editor tensors did not change: {unchanged[:3]}"


def test_cli_set_overrides_the_file_even_with_null_and_unset_flags_keep_it():
    import argparse

    from rl.cli import _add_arguments, load_config

    parser = argparse.ArgumentParser()
    _add_arguments(parser)  # the train command's own arguments, so the test reads them as a user's shell does
    config = load_config(parser.parse_args(["--config", "rl/configs/world-lm.yaml", "--seed", "3",
                                            "--set", "time_budget_s=null", "--set", "text_lr=1e-4"]))
    assert config.time_budget_s is None  # the file says 840: null removes the budget
    assert config.text_lr == 1e-4 and config.seed == 3
    assert config.steps == TrainConfig.from_yaml(Path("rl/configs/world-lm.yaml")).steps  # --steps not given


def test_cli_reports_a_bad_config_in_one_line(tmp_path, capsys):
    from edit_agent.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: joint\ntext_policy: rules\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "text_policy: llm" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["train", "--config", "rl/configs/smoke.yaml", "--set", "=3"]) == 2
    assert "--set needs FIELD=VALUE" in capsys.readouterr().err


def test_a_misspelt_setting_is_refused_with_the_one_that_was_meant(tmp_path, capsys):
    from edit_agent.cli import main

    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(Path("rl/configs/smoke.yaml").read_text().replace("\nsteps:", "\nstpes:", 1))
    assert main(["train", "--config", str(misspelt), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip().endswith("stpes is not a setting; the nearest is steps.")
    assert main(["train", "--config", "rl/configs/smoke.yaml", "--set", "zzz=1", "--out", str(tmp_path / "run")]) == 2
    told = capsys.readouterr().err
    assert "zzz is not a setting; the settings are: " in told and " steps, " in told
    assert not (tmp_path / "run").exists()


def test_a_spent_time_budget_ends_the_run_at_a_step_boundary_with_a_checkpoint(tmp_path):
    run = trainer(small_config(tmp_path, steps=50, save_every=50, time_budget_s=1e-9))
    final = run.train()
    assert run.step == 0 and (final / "image" / "world_editor.safetensors").exists()
    longer = trainer(small_config(tmp_path, steps=50, save_every=50, time_budget_s=0.5, out=tmp_path / "longer"))
    longer.train()
    assert 1 <= longer.step < 50
    assert (tmp_path / "longer" / "checkpoints" / f"step-{longer.step:06d}" / "state.json").exists()



def test_resuming_with_another_recipe_is_refused_but_more_steps_are_not(tmp_path):
    trainer(small_config(tmp_path, steps=2, save_every=1)).train()
    saved = (tmp_path / "run" / "config.yaml").read_text()
    with pytest.raises(RunFolderError, match="image_lr"):  # the rest of the run would follow another recipe
        trainer(small_config(tmp_path, steps=4, save_every=1, image_lr=0.5)).train()
    assert (tmp_path / "run" / "config.yaml").read_text() == saved  # the record of the run is untouched
    # How the machine is used may change: a run begun on a CPU goes on on a GPU, decoding more requests at once.
    longer = trainer(small_config(tmp_path, steps=3, save_every=1, text_generation_batch=256, micro_batch=64))
    longer.train()
    assert longer.step == 3

@pytest.mark.parametrize("record", [None, "just-a-string", "{{{", ""])
def test_a_run_without_a_readable_config_is_not_resumed(tmp_path, record):
    trainer(small_config(tmp_path, steps=2, save_every=1)).train()
    saved = tmp_path / "run" / "config.yaml"
    if record is None:
        saved.unlink()
    else:
        saved.write_text(record)
    with pytest.raises(RunFolderError, match="config.yaml"):  # its recipe is unknown: never mix two runs
        trainer(small_config(tmp_path, steps=3, save_every=1, seed=9)).train()
    assert not (tmp_path / "run" / "checkpoints" / "step-000003").exists()


def test_fewer_steps_than_a_run_has_done_are_refused_and_its_config_kept(tmp_path):
    trainer(small_config(tmp_path, steps=3, save_every=1)).train()
    saved = (tmp_path / "run" / "config.yaml").read_text()
    with pytest.raises(RunFolderError, match="has done 3 steps"):
        trainer(small_config(tmp_path, steps=2, save_every=1)).train()
    assert (tmp_path / "run" / "config.yaml").read_text() == saved


def test_a_last_checkpoint_cut_short_is_written_again_when_the_run_is_rerun(tmp_path):
    trainer(small_config(tmp_path, steps=3, save_every=2)).train()
    last = tmp_path / "run" / "checkpoints" / "step-000003"
    (last / "state.json").unlink()  # as a kill in the middle of the final save leaves it
    rerun = trainer(small_config(tmp_path, steps=3, save_every=2))  # resumes from step 2, the last complete one
    rerun.train()
    assert rerun.step == 3 and json.loads((last / "state.json").read_text())["step"] == 3


def test_micro_batches_accumulate_the_gradient_of_the_whole_batch(tmp_path):
    runs = [trainer(small_config(tmp_path / str(size), micro_batch=size, turns=3, updates_per_batch=1),
                    text=ChoiceTextPolicy(), reward=ScriptedIFReward([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
            for size in (64, 2)]
    first, second = (run.train_step() for run in runs)
    assert first["loss"] == pytest.approx(second["loss"], abs=1e-6)
    # gradients, not parameters: Adam turns rounding-level differences of near-zero gradients into lr-sized steps
    for a, b in zip(*(run.trainable_parameters() for run in runs)):
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-7)


def test_minibatch_indices_cover_every_turn_sample_once_in_near_equal_parts():
    from rl.trainer import minibatch_indices

    parts = minibatch_indices(10, 4, random.Random(0))
    assert sorted(i for part in parts for i in part) == list(range(10))
    assert sorted(len(part) for part in parts) == [2, 2, 3, 3]
    assert len(minibatch_indices(3, 8, random.Random(0))) == 3  # never an empty optimiser step
    assert minibatch_indices(5, 1, random.Random(0)) == [[0, 1, 2, 3, 4]]  # one step keeps rollout order


def test_minibatches_take_one_optimiser_step_each_per_pass(tmp_path):
    counts = {}
    for minibatches in (1, 3):
        run = trainer(small_config(tmp_path / str(minibatches), turns=3, updates_per_batch=2, minibatches=minibatches,
                                   steps=1))
        with mock.patch.object(run.optimizer, "step", wraps=run.optimizer.step) as optimiser_step:
            record = run.train_step()
        assert math.isfinite(record["loss"])
        counts[minibatches] = optimiser_step.call_count
    assert counts == {1: 2, 3: 6}


def test_skipping_filtered_turns_in_the_update_leaves_the_gradient_unchanged(tmp_path):
    from rl.trainer import gradient_carrying

    config = small_config(tmp_path, turns=3, updates_per_batch=1, micro_batch=2)
    run = trainer(config, reward=ScriptedIFReward([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]))
    batch = make_batch(run.rollouts(), config)
    kept = gradient_carrying(batch)
    assert batch.mask.tolist() == [1, 0, 0, 1, 1, 0] and len(kept.texts) == 3 and kept.mask.tolist() == [1, 1, 1]

    def gradients(update_batch) -> list[torch.Tensor]:
        run.update(update_batch)  # one optimiser step; the gradients it used stay on the parameters
        return [p.grad.clone() for p in run.trainable_parameters()]

    before = snapshot(run.trainable_parameters())
    whole = gradients(batch)
    with torch.no_grad():
        for parameter, value in zip(run.trainable_parameters(), before):
            parameter.copy_(value)
    for a, b in zip(whole, gradients(kept)):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


class ScriptedReward(ScriptedIFReward):
    """ScriptedIFReward with CC and GA always 1, so rollouts with the same IF tie."""

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        return [TurnScores(if_=s.if_, cc=1.0, ga=1.0) for s in super().score(rollout)]


@pytest.mark.parametrize("mode", ["text", "joint"])
def test_texts_without_gradient_skip_the_forward_and_leave_the_gradient_unchanged(tmp_path, mode):
    from rl import trainer as trainer_module
    from rl.text_policy import LLMTextPolicy
    from tests import model_fixtures

    model, tokenizer = model_fixtures.tiny_chat_lm()
    text = LLMTextPolicy(model, tokenizer=tokenizer, max_new_tokens=6, finetune="full")
    config = small_config(tmp_path, mode=mode, turns=2, sessions_per_step=2, micro_batch=3, updates_per_batch=1)
    # group 1 ties at both turns; group 2's first rollout fails turn 1, so its turn 2 is filtered out
    run = trainer(config, text=text, reward=ScriptedReward([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.5]]))
    batch = make_batch(run.rollouts(), config)
    assert trainer_module.text_gradient_rows(batch) == [4, 6, 7]
    assert trainer_module.text_gradient_rows(batch.select([0, 1])) == [0]  # never empty

    def gradients(everything: bool) -> tuple[list[torch.Tensor], list[int]]:
        run.optimizer.zero_grad(set_to_none=True)
        rows = (lambda part: list(range(len(part.texts)))) if everything else trainer_module.text_gradient_rows
        with mock.patch.object(trainer_module, "text_gradient_rows", rows), \
                mock.patch.object(run.optimizer, "step"), \
                mock.patch.object(text, "log_probs", wraps=text.log_probs) as log_probs:
            run.update(batch)
        return [p.grad.clone() for p in run.trainable_parameters()], [len(c.args[0]) for c in log_probs.call_args_list]

    (full, full_rows), (skipped, skipped_rows) = gradients(True), gradients(False)
    # micro-batches of 3: rows 0-2 carry nothing (row 0 keeps the graph), then rows 4 and 6-7
    assert full_rows == [3, 3, 2] and skipped_rows == [1, 1, 2]
    assert any(g.abs().sum() > 0 for g in skipped)
    for a, b in zip(full, skipped):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


class RecordingTextPolicy(ChoiceTextPolicy):
    """ChoiceTextPolicy that keeps every request it is asked to answer."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TurnRequest] = []

    def sample(self, requests: Sequence[TurnRequest], *, temperature: float, seed: int) -> list[TextSample]:
        self.requests.extend(requests)
        return super().sample(requests, temperature=temperature, seed=seed)


class RecordingReward(PixelReward):
    def __init__(self) -> None:
        self.views: list[RolloutTurns] = []

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        self.views.append(rollout)
        return super().score(rollout)


def test_a_gold_prefix_hands_the_policy_the_teachers_history_and_the_exact_image():
    text, reward = RecordingTextPolicy(), RecordingReward()
    policy = FlowImagePolicy(tiny_editor(), steps=3, window=(1, 3))
    groups = collect_groups(SESSIONS[:2], text_policy=text, image_policy=policy, reward=reward, group_size=2, turns=1,
                            temperature=1.0, seed=0, size=48, gold_turns=[2, 0])

    teacher = [request for request, _ in session_requests(SESSIONS[0], RuleReasoner(), size=48)]
    late, early = text.requests[0], text.requests[2]
    assert late.instruction == SESSIONS[0].turns[2].instruction
    assert late.history == teacher[2].history and len(late.history) == 2
    assert np.array_equal(np.asarray(late.image), np.asarray(teacher[2].image))
    assert early.instruction == SESSIONS[1].turns[0].instruction and early.history == ()

    # the reward sees the whole session (gold turns, then the policy's), the rollout keeps the policy's turn only
    view = reward.views[0]
    assert len(view.outputs) == 3 and view.intents[:2] == [turn.intent for turn in teacher[2].history]
    assert np.array_equal(np.asarray(view.outputs[1]), np.asarray(teacher[2].image))
    late_rollout = groups[0].rollouts[0]
    assert late_rollout.first_turn == 2 and len(late_rollout.scores) == 1
    assert late_rollout.scores[0] == PixelReward().score(view)[2]
    assert groups[0].tensor("ga").shape == groups[1].tensor("ga").shape == (2, 1)


def test_the_world_reward_scores_a_gold_prefix_as_flawless():
    [session] = generate_sessions(1, turns=5, seed=11)
    prefix = gold_prefix(session, 4)
    rollout = Rollout(session=session, start_image=render(session.start, 96), prefix=prefix)
    scores = WorldReward().score(_reward_view(rollout))
    assert len(scores) == 4 and all(s.if_ == 1.0 and s.ga == 1.0 for s in scores)
    with pytest.raises(ValueError, match="no turn to play"):
        gold_prefix(session, 5)


def test_training_with_gold_prefixes_plays_later_turns(tmp_path):
    config = small_config(tmp_path, turns=1, gold_prefix_turns=2, train_sessions=6, sessions_per_step=6, steps=1,
                          mode="text")
    text = RecordingTextPolicy()
    run = Trainer(config, text_policy=text, image_policy=FlowImagePolicy(tiny_editor(), steps=3, window=(1, 3)),
                  reward=PixelReward())
    assert {len(session.turns) for session in run.sessions} == {3}
    record = run.train_step()
    assert math.isfinite(record["loss"]) and len(record["reward_per_turn"]) == 1
    assert len({len(request.history) for request in text.requests}) > 1  # groups start at different turns


def test_the_log_plot_of_a_long_run_keeps_every_legend_off_its_lines():
    """Inside the panels, a 60-step run's lines filled every corner, and the filtered fraction's legend lay under
    the KL line's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from rl.plots import log_figure

    records = [{"step": step, "reward": 0.5 + 0.4 * (step % 2), "reward_per_turn": [0.1 + 0.8 * (step % 2)] * 5,
                "IF": 0.9 - 0.8 * (step % 2), "CC": 0.5, "GA": 0.1 + 0.8 * (step % 2),
                "filtered_fraction": step % 2, "kl": 1 - step % 2} for step in range(1, 61)]
    figure = log_figure(records, title="run")
    FigureCanvasAgg(figure).draw()  # as savefig draws it
    legends = [legend for axis in figure.axes if (legend := axis.get_legend())]
    labels = [[text.get_text() for text in legend.get_texts()] for legend in legends]
    assert ["filtered fraction", "KL (right)"] in labels and len(legends) == 3
    renderer = figure.canvas.get_renderer()
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert all(box.y1 <= axis.get_window_extent(renderer).y0 for axis in figure.axes), "a legend covers a panel"
        assert box.x0 >= 0 and box.x1 <= figure.bbox.x1 and box.y0 >= 0, "a legend is cut off by the figure's edge"


def test_sessions_shorter_than_the_turns_asked_for_play_what_they_have():
    short = [session.model_copy(update={"turns": session.turns[:1]}) for session in SESSIONS[:2]]
    policy = FlowImagePolicy(tiny_editor(), steps=3, window=(1, 3))
    groups = collect_groups(short, text_policy=ChoiceTextPolicy(), image_policy=policy, reward=PixelReward(),
                            group_size=2, turns=3, temperature=0.7, seed=0, size=48)
    assert [len(rollout.images) for group in groups for rollout in group.rollouts] == [1, 1, 1, 1]


def test_the_log_plot_of_a_one_step_run_shows_its_points(tmp_path):
    """Lines alone drew nothing for one step: three empty panels."""
    import json

    import numpy as np
    from PIL import Image

    from rl.plots import plot_log

    record = {"step": 1, "reward": 0.8, "reward_per_turn": [0.9, 0.7], "IF": 0.9, "CC": 0.8, "GA": 0.9,
              "filtered_fraction": 0.1, "kl": 0.01}
    (tmp_path / "log.jsonl").write_text(json.dumps(record) + "\n")
    pixels = np.asarray(Image.open(plot_log(tmp_path / "log.jsonl", tmp_path / "log.png")).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (480, 1500)
    middle_of_the_kl_panel = pixels[150:260, 1150:1280]  # away from the legend under the panel
    red = np.abs(middle_of_the_kl_panel - (214, 39, 40)).sum(axis=2) < 60  # the KL point (tab:red)
    assert red.sum() >= 5


def test_an_interrupted_run_says_which_step_the_same_command_goes_on_from(tmp_path, capsys, monkeypatch):
    from edit_agent.cli import main
    from rl.trainer import Trainer

    saved = Trainer.save_checkpoint

    def save_then_interrupt(self):
        saved(self)
        raise KeyboardInterrupt  # Ctrl-C right after the first checkpoint

    monkeypatch.setattr(Trainer, "save_checkpoint", save_then_interrupt)
    out = tmp_path / "run"
    assert main(["train", "--config", "rl/configs/smoke.yaml", "--out", str(out), "--no-progress"]) == 130
    assert "the same command goes on from the checkpoint of step 1" in capsys.readouterr().err
    monkeypatch.setattr(Trainer, "save_checkpoint", saved)
    assert main(["train", "--config", "rl/configs/smoke.yaml", "--out", str(out), "--no-progress"]) == 0
    assert "rl: 2 steps;" in capsys.readouterr().out


def test_a_log_cut_short_by_a_kill_reads_up_to_its_last_whole_line_and_a_damaged_one_is_located(tmp_path):
    from rl.plots import read_log

    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "reward": 0.5}\n{"step": 2, "reward": 0.6}\n{"step": 3, "rew')
    assert [record["step"] for record in read_log(log)] == [1, 2]
    log.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(ValueError, match="line 2: not a training log record"):
        read_log(log)


@pytest.mark.parametrize("seed, message", [(20260202, "held-out split world-test"), (20260101, "world-dev"),
                                           (-7, "greater than or equal to 0")])
def test_the_training_pool_cannot_be_a_held_out_split(seed, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        TrainConfig(session_seed=seed)


def test_a_field_given_both_as_a_flag_and_by_set_is_refused(tmp_path):
    # "--out A --set out=B" trained into B, with --out said to override the config
    config = tmp_path / "c.yaml"
    config.write_text("steps: 1\n")
    with pytest.raises(ValueError, match="out is given twice"):
        TrainConfig.from_yaml(config, {"out": str(tmp_path / "b")}, out=str(tmp_path / "a"))
    assert TrainConfig.from_yaml(config, {"steps": 2}, out=str(tmp_path / "a")).steps == 2
