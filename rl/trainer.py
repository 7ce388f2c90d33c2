"""The joint text+image GRPO trainer: it wires rollouts, the objective's pure functions and accelerate.

One training step:
1. roll out ``sessions_per_step`` sessions ``group_size`` times each (:func:`rl.rollout.collect_groups`);
2. per group and turn: reward ``w . (IF, CC, GA)``, group-normalised advantage, trajectory-filter mask;
3. ``updates_per_batch`` passes over the same rollouts, each of ``minibatches`` optimiser steps on
   ``image: masked mean over SDE steps of clipped-ratio loss + beta * KL(policy step || reference step)``
   ``text:  clipped-ratio loss over the IC-CoT tokens`` (:func:`rl.text_policy.text_policy_loss`),
   both with the turn's advantage and mask, so a filtered turn contributes exactly nothing;
4. one JSONL log line; a checkpoint every ``save_every`` steps.

The text policy and the image policy sit in one ``nn.Module`` (:class:`JointPolicy`) that
``accelerate`` prepares, so DDP/FSDP synchronise both gradients (``accelerate launch --config_file
rl/accelerate/ddp.yaml -m rl.cli --config ...``); every process rolls out its own sessions.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, DistributedType, get_int_from_env
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from edit_agent.errors import EditAgentError, ModelUnavailableError, one_line
from edit_agent.folders import out_folder_problem, share_weights_like_other_files
from edit_agent.world.generator import generate_sessions
from edit_agent.world.sessions import WorldSession
from rl.config import TrainConfig
from rl.image_policy import FlowImagePolicy, ImageSample, StepLogProbs
from rl.interfaces import Reward, RolloutTurns, TextPolicy, TextSample, TurnScores
from rl.objectives import (
    clipped_policy_loss,
    filtered_fraction,
    group_advantages,
    masked_mean,
    rewards_to_go,
    trajectory_filter_mask,
    turn_rewards,
)
from rl.rollout import Group, collect_groups
from rl.text_policy import pad_log_probs, text_policy_loss

LOG_KEYS = (
    "step", "reward", "reward_per_turn", "IF", "CC", "GA", "IF_per_turn", "filtered_fraction", "signal_fraction", "kl",
    "image_clip_fraction", "text_clip_fraction", "image_loss", "text_loss", "loss", "rollouts", "sessions_rolled",
    "seconds", "rollout_seconds", "update_seconds",
)
"""Keys of every line of ``log.jsonl``: per-turn lists are turn 1 first; ``seconds`` is the step's wall time;
``signal_fraction`` is the share of turn-samples with a non-zero advantage (the others tie with their whole group
and teach nothing); ``rollouts`` counts the rollouts trained on, ``sessions_rolled`` the sessions played to find them
(more than ``sessions_per_step`` only with ``informative_groups``)."""


@dataclass
class Batch:
    """The turn-samples of one step, flattened over (group, rollout, turn), with their advantage and mask."""

    texts: list[TextSample]
    images: list[ImageSample]
    advantages: torch.Tensor
    """(N,) the turn's group-normalised advantage."""
    mask: torch.Tensor
    """(N,) 1 where the turn gets gradient (trajectory filtering)."""
    rewards: torch.Tensor
    """[groups * G, T] per-turn rewards."""
    scores: dict[str, torch.Tensor]
    """``IF``/``CC``/``GA``: [groups * G, T]."""
    filter_mask: torch.Tensor
    """[groups * G, T] the filter mask before any switch turned it off (for the logged fraction)."""


    def select(self, indices: Sequence[int]) -> Batch:
        """The turn-samples at ``indices`` (the per-rollout statistics stay whole)."""
        index = torch.tensor(list(indices), dtype=torch.long)
        return Batch(texts=[self.texts[i] for i in index], images=[self.images[i] for i in index],
                     advantages=self.advantages[index], mask=self.mask[index], rewards=self.rewards,
                     scores=self.scores, filter_mask=self.filter_mask)


def gradient_carrying(batch: Batch) -> Batch:
    """The turn-samples that trajectory filtering leaves a gradient.

    A filtered turn's terms are masked out of every loss (and out of the micro-batch weights), so
    it adds exactly zero; skipping it only saves its forward and backward passes, which is most of
    the update when earlier turns fail often.
    """
    kept = [index for index, value in enumerate(batch.mask.tolist()) if value > 0]
    return batch.select(kept) if kept else batch  # nothing kept: the optimiser still takes its (zero) step


def step_rng(seed: int, step: int, process_index: int) -> random.Random:
    """The generator that draws a step's sessions on one process (``step`` counts from 0)."""
    return random.Random(f"{seed}:{step}:{process_index}")


def minibatch_indices(size: int, parts: int, shuffle: random.Random) -> list[list[int]]:
    """``range(size)`` shuffled and cut into ``min(parts, size)`` parts whose sizes differ by at most one."""
    order = list(range(size))
    count = max(1, min(parts, size))
    if count == 1:
        return [order]  # one full-batch step, in rollout order, as before minibatches existed
    shuffle.shuffle(order)
    return [order[part::count] for part in range(count)]


def _micro_batch_weights(batch: Batch, size: int) -> tuple[list[float], list[float]]:
    """Each micro-batch's share of the unmasked SDE steps and of the unmasked completion tokens."""
    steps = [float(batch.mask[i:i + size].sum()) for i in range(0, len(batch.images), size)]
    tokens = [float(sum(batch.mask[j] * batch.texts[j].completion_ids.numel()
                        for j in range(i, min(i + size, len(batch.texts)))))
              for i in range(0, len(batch.texts), size)]
    return [s / max(sum(steps), 1.0) for s in steps], [t / max(sum(tokens), 1.0) for t in tokens]


def _accumulate(metrics: dict[str, float], values: dict[str, float], weight: float) -> None:
    for name, value in values.items():
        metrics[name] += weight * value


class JointPolicy(nn.Module):
    """Both halves in one module, so a single ``accelerator.prepare`` covers their gradients.

    ``forward`` recomputes, with grad, what the loss needs: the image policy's SDE-step log-probs and
    KL, and the text policy's token log-probs (through the text model registered here).
    """

    def __init__(self, image: FlowImagePolicy, text: TextPolicy, *, train_image: bool, train_text: bool) -> None:
        super().__init__()
        self.image = image
        self.text_policy = text
        self.train_image, self.train_text = train_image, train_text
        # registered so that DDP/FSDP see the text model's parameters; the policy calls the same object
        text_model = getattr(text, "model", None)
        self.text_model = text_model if train_text and isinstance(text_model, nn.Module) else None
        image.requires_grad_(False)
        if train_image:
            for parameter in _image_trainable(image):
                parameter.requires_grad_(True)
        if not train_text:
            for parameter in text.trainable_parameters():
                parameter.requires_grad_(False)

    def forward(self, images: Sequence[ImageSample], texts: Sequence[TextSample],
                text_rows: Sequence[int] | None = None) -> tuple[StepLogProbs | None, list[torch.Tensor] | None]:
        """``text_rows``: the texts whose log-probs are recomputed (None: all); see :meth:`_text_log_probs`."""
        image_out = self.image(images) if self.train_image else None
        text_out = self._text_log_probs(texts, text_rows) if self.train_text else None
        return image_out, text_out

    def _text_log_probs(self, texts: Sequence[TextSample], rows: Sequence[int] | None) -> list[torch.Tensor]:
        """New log-probs for the texts at ``rows``; every other text stands in with its old log-probs.

        A text with no advantage (its group tied) or masked out by the filter has a zero loss and a zero
        gradient whatever its log-probs are; with its old ones its ratio is 1, so it is not counted as
        clipped either. Its tokens still count in the loss's token mean, so the gradient is exactly that of
        the full batch, while the forward and backward passes are paid only for the rows that carry it.
        """
        if rows is None:
            return self.text_policy.log_probs(texts)
        computed = dict(zip(rows, self.text_policy.log_probs([texts[row] for row in rows])))
        device = next(iter(computed.values())).device
        return [computed[row] if row in computed else texts[row].old_log_probs.to(device) for row in range(len(texts))]


def text_gradient_rows(batch: Batch) -> list[int]:
    """The turn-samples whose text loss has a gradient: a non-zero advantage and not filtered out.

    Never empty: with no such row the first is kept, so that every text parameter stays in the graph
    (DDP expects a gradient for each) and receives its zero.
    """
    rows = [row for row, (advantage, mask) in enumerate(zip(batch.advantages.tolist(), batch.mask.tolist()))
            if advantage != 0 and mask > 0]
    return rows or [0]


def _image_trainable(image: FlowImagePolicy) -> list[nn.Parameter]:
    """The parameters training may change: the adapters (LoRA) or every weight of the editor (full)."""
    if image.finetune == "lora":
        return [p for name, p in image.network.named_parameters() if "lora_" in name]
    return list(image.network.parameters())


# ---------------------------------------------------------------------- pure wiring of one batch
@dataclass
class GroupTerms:
    """One group's [G, T] rewards, group-normalised advantages and trajectory-filter masks."""

    reward: torch.Tensor
    advantages: torch.Tensor
    filter_mask: torch.Tensor
    """The filter as computed, even when ``config.filtering`` is off (for the logged fraction)."""
    mask: torch.Tensor
    """Where the group's turns get gradient: ``filter_mask``, or all ones without filtering."""
    scores: dict[str, torch.Tensor]
    """``IF``/``CC``/``GA``: [G, T], the scores the reward was made of (for the step's log)."""


def group_terms(group: Group, config: TrainConfig) -> GroupTerms:
    """What the objective makes of one group's scores under ``config`` (weights, filtering, credit)."""
    if_, cc, ga = group.tensor("if_"), group.tensor("cc"), group.tensor("ga")
    reward = turn_rewards(if_, cc, ga, config.reward_weights)
    filter_mask = trajectory_filter_mask(if_, threshold=config.filter_threshold)
    mask = filter_mask if config.filtering else torch.ones_like(filter_mask)
    credited = rewards_to_go(reward) if config.credit == "return" else reward
    return GroupTerms(reward=reward, advantages=group_advantages(credited), filter_mask=filter_mask, mask=mask,
                      scores={"IF": if_, "CC": cc, "GA": ga})


def carries_signal(group: Group, config: TrainConfig) -> bool:
    """Whether any turn of ``group`` that gets gradient has a non-zero advantage (else its policy loss is zero)."""
    terms = group_terms(group, config)
    return bool(((terms.advantages != 0) & (terms.mask > 0)).any())


def make_batch(groups: Sequence[Group], config: TrainConfig) -> Batch:
    """Rewards, advantages and filter masks of each group, flattened to turn-samples."""
    texts, images, advantages, masks, rewards, filters = [], [], [], [], [], []
    scores: dict[str, list[torch.Tensor]] = {"IF": [], "CC": [], "GA": []}
    for group in groups:
        terms = group_terms(group, config)
        advantages.append(terms.advantages.flatten())
        masks.append(terms.mask.flatten())
        for rollout in group.rollouts:
            texts += rollout.texts
            images += rollout.images
        rewards.append(terms.reward)
        filters.append(terms.filter_mask)
        for name in scores:
            scores[name].append(terms.scores[name])
    return Batch(texts=texts, images=images, advantages=torch.cat(advantages), mask=torch.cat(masks),
                 rewards=torch.cat(rewards), scores={k: torch.cat(v) for k, v in scores.items()},
                 filter_mask=torch.cat(filters))


def image_loss(out: StepLogProbs, batch: Batch, config: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped-ratio loss on every SDE step plus ``beta`` times its KL to the reference, under the turn mask."""
    old = torch.stack([s.old_log_probs for s in batch.images]).to(out.log_probs.device)
    advantages = batch.advantages.to(old.device)[:, None]
    mask = batch.mask.to(old.device)[:, None].expand_as(old)
    per_step, clipped = clipped_policy_loss(out.log_probs, old, advantages, clip_eps=config.clip_eps)
    loss = masked_mean(per_step + config.beta * out.kl, mask)
    return loss, {"kl": float(masked_mean(out.kl.detach(), mask)),
                  "image_clip_fraction": float(masked_mean(clipped.float(), mask))}


def text_loss(new_log_probs: list[torch.Tensor], batch: Batch, config: TrainConfig
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped-ratio loss over the IC-CoT tokens; a filtered turn's tokens are all masked out."""
    new, token_mask = pad_log_probs(new_log_probs)
    old, _ = pad_log_probs([s.old_log_probs for s in batch.texts])
    device = new.device
    mask = token_mask.to(device) * batch.mask.to(device)[:, None]
    loss, clip_fraction = text_policy_loss(new, old.to(device), batch.advantages.to(device), mask,
                                           clip_eps=config.clip_eps)
    return loss, {"text_clip_fraction": float(clip_fraction)}


# ---------------------------------------------------------------------- the trainer
class LaunchError(EditAgentError, RuntimeError):
    """The processes were launched in a way the trainer cannot use together."""


class RunFolderError(EditAgentError, RuntimeError):
    """A run folder cannot be used: its checkpoint is damaged or from another config, or it holds a run
    and the config says not to resume it."""


RESUMABLE_SETTINGS = frozenset({"steps", "time_budget_s", "save_every", "eval_sessions", "eval_turns", "threads",
                                "cpu", "micro_batch", "text_generation_batch", "progress", "resume", "out"})
"""What a resumed run may change: how long it goes on, how it saves, evaluates and uses the machine (a run begun on
a CPU goes on on a GPU with larger batches: the same distributions, drawn in other groupings). Anything else would
train the rest of the run by another recipe than the one its ``config.yaml`` records."""


def check_run_folder(config: TrainConfig) -> None:
    """Refuse a folder that holds a run when ``resume`` is off, or when the run was made with other settings:
    two runs are never mixed in one folder."""
    out = Path(config.out)
    problem = out_folder_problem(out)
    if problem:
        raise RunFolderError(f"out {config.out}: {problem}.")
    checkpoint = latest_checkpoint(out)
    # A run's own files count without checkpoints too (deleted to save disk, or a run killed before its first):
    # starting afresh would empty its log and replace its config and policy.
    run_files = [name for name in RUN_FILES if (out / name).exists()]
    if checkpoint is None and not run_files:
        if (out / "summary.json").is_file() or (out / "turns.jsonl").is_file():
            raise RunFolderError(f"{config.out} holds an evaluation run (summary.json, turns.jsonl); write the "
                                 "training run to another folder.")
        return
    if not config.resume:
        raise RunFolderError(f"{config.out} holds a run already; write to another folder, or resume it (resume: true).")
    saved = _saved_config(out)
    done = _checkpoint_step(checkpoint) if checkpoint is not None else 0
    if config.steps < done:
        raise RunFolderError(
            f"{config.out} holds a run that has done {done} steps; steps: {config.steps} would not undo them. "
            f"Use its checkpoints (checkpoints/step-*), or write to another folder."
        )
    current = config.model_dump(mode="json")
    missing = sorted(TRAINER_KEYS - set(saved))
    if missing:  # not a config a trainer wrote (an older one has these too): whatever it belongs to is not ours
        raise RunFolderError(f"{out / 'config.yaml'} is not a training run's config (it lacks {', '.join(missing)}); "
                             "write to another folder.")
    changed = [f"{key}: {saved[key]!r} there, {value!r} here" for key, value in current.items()
               if key not in RESUMABLE_SETTINGS and key in saved and saved[key] != value]
    if changed:
        raise RunFolderError(
            f"{config.out} holds a run made with other settings ({'; '.join(changed[:3])}); resume it with its own "
            f"config.yaml (only {', '.join(sorted(RESUMABLE_SETTINGS - {'out', 'resume', 'progress'}))} may change), "
            "or write to another folder."
        )


def _saved_config(out: Path) -> dict[str, Any]:
    """The config a run folder records; without a readable one its recipe is unknown, so it is not resumed."""
    path = out / "config.yaml"
    try:
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        saved = None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RunFolderError(f"{path} cannot be read ({one_line(error)}), so the run it belongs to cannot be "
                             "resumed safely; write to another folder.") from None
    if not isinstance(saved, dict):
        raise RunFolderError(f"{out} holds a run's files but no readable config.yaml, so the run they belong to "
                             "cannot be resumed safely; write to another folder.")
    return saved


@contextlib.contextmanager
def run_folder_lock(out: Path) -> Iterator[None]:
    """Hold ``out`` for this run: a second run into it at the same time interleaved its log with this one's and
    wrote the same checkpoints (both ended "successfully"). The lock goes with the process, however it ends."""
    try:
        import fcntl
    except ImportError:  # not on Windows: no lock there
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise RunFolderError(f"{out} is in use by another run{f' (process {holder})' if holder else ''}; wait "
                                 "for it to end, or write to another folder.") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


TRAINER_KEYS = frozenset({"mode", "text_policy", "steps", "out"})
"""Settings every config.yaml a trainer wrote holds, whatever its version."""

RUN_FILES = ("config.yaml", "log.jsonl", "final")
"""Besides its checkpoints, what a training run writes into its folder that a new run would overwrite."""


def build_accelerator(config: TrainConfig) -> Accelerator:
    """accelerate's state for this process; several processes on a machine with no accelerator share it on CPU.

    accelerate sets up DDP on CPU (gloo) only when asked for the CPU: without that, each process of ``torchrun`` or
    ``accelerate launch`` on such a machine would train alone, all of them on the same sessions and into the same
    folder. A launch it still does not join is an error rather than that. With GPUs (or another accelerator that
    accelerate distributes over) the choice is accelerate's own, unchanged.
    """
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=True)]
    launched = get_int_from_env(["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"], 1)
    if config.cpu or launched == 1 or _has_distributed_accelerator():
        return Accelerator(cpu=config.cpu, kwargs_handlers=handlers)
    if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        raise LaunchError("FSDP (rl/accelerate/fsdp.yaml) shards the policy over GPUs and torch does not run it on the "
                          "CPU; there, launch with rl/accelerate/ddp.yaml.")
    accelerator = Accelerator(cpu=True, kwargs_handlers=handlers)
    if accelerator.num_processes != launched:
        raise LaunchError(f"Launched as {launched} processes, but accelerate set up {accelerator.num_processes}: each "
                          "would train alone, on the same sessions, into the same folder. Launch with "
                          "`accelerate launch --config_file rl/accelerate/ddp.yaml -m rl.cli ...` or torchrun.")
    return accelerator


def _has_distributed_accelerator() -> bool:
    """Whether this machine has a device that accelerate runs DDP on (CUDA, XPU, NPU, HPU...; not MPS)."""
    from accelerate.state import get_distributed_backend, get_torch_accelerator_backend

    device_type, _ = get_torch_accelerator_backend()
    return device_type is not None and get_distributed_backend(device_type) is not None


def _checkpoint_step(folder: Path | None) -> int:
    try:
        return int(json.loads((folder / "state.json").read_text())["step"]) if folder else 0
    except (OSError, ValueError, KeyError, TypeError):
        return 0  # a damaged state.json is reported when the checkpoint loads


class Trainer:
    """Runs a :class:`TrainConfig`; the policies, reward and sessions are built from it unless given.

    Example::

        Trainer(TrainConfig.from_yaml("rl/configs/smoke.yaml")).train()
    """

    def __init__(self, config: TrainConfig, *, text_policy: TextPolicy | None = None,
                 image_policy: FlowImagePolicy | None = None, reward: Reward | None = None,
                 sessions: Sequence[WorldSession] | None = None) -> None:
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.accelerator = build_accelerator(config)
        self.out = Path(config.out)
        self.checkpoint = latest_checkpoint(self.out) if config.resume else None
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        device = self.accelerator.device
        self.text_policy = text_policy or build_text_policy(config, device=device)
        self.image_policy = image_policy or build_image_policy(config)
        self.reward = reward or build_reward(config)
        self.sessions = list(sessions) if sessions is not None else generate_sessions(
            config.train_sessions, turns=config.turns + config.gold_prefix_turns, seed=config.session_seed,
            prefix="rl-train")
        self.policy = JointPolicy(self.image_policy, self.text_policy, train_image=config.trains_image,
                                  train_text=config.trains_text)
        self.optimizer = torch.optim.AdamW(self._parameter_groups(), weight_decay=0.0)
        self.policy, self.optimizer = self.accelerator.prepare(self.policy, self.optimizer)
        self.step = 0
        self.saved_step = 0  # the step of the last checkpoint this run wrote or resumed from, the same on every process
        self.sessions_rolled = 0
        if self.checkpoint is not None:
            self.load_checkpoint(self.checkpoint)
            self.saved_step = self.step

    def _parameter_groups(self) -> list[dict[str, Any]]:
        groups = []
        if self.config.trains_image:
            groups.append({"params": _image_trainable(self.image_policy), "lr": self.config.image_lr})
        if self.config.trains_text:
            groups.append({"params": list(self.text_policy.trainable_parameters()), "lr": self.config.text_lr})
        if not any(group["params"] for group in groups):
            raise ValueError(f"mode {self.config.mode!r} with text_policy {self.config.text_policy!r} trains nothing")
        return groups

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    # ------------------------------------------------------------------ loop
    def train(self) -> Path:
        """Train up to ``config.steps`` (continuing a resumed run); returns the folder of the final policy."""
        # The main process holds the folder (the others of a distributed run write through it)
        with run_folder_lock(self.out) if self.accelerator.is_main_process else contextlib.nullcontext():
            return self._train()

    def _train(self) -> Path:
        config = self.config
        check_run_folder(config)
        # Every process has looked at the folder before the main one writes into it: one looking after would take
        # the fresh config.yaml for another run's and leave the others waiting for it.
        self.accelerator.wait_for_everyone()
        self._trim_log()
        self.out.mkdir(parents=True, exist_ok=True)
        if self.accelerator.is_main_process:  # renamed into place: a kill never leaves half a config
            partial = self.out / "config.yaml.tmp"
            partial.write_text(config.to_yaml(), encoding="utf-8")
            partial.replace(self.out / "config.yaml")
        bar = tqdm(total=config.steps, initial=self.step, desc="rl", unit="step",
                   disable=not config.progress or not self.accelerator.is_main_process)
        started = time.perf_counter()
        while self.step < config.steps:
            if self._budget_spent(started):
                self.accelerator.print(f"rl: time budget of {config.time_budget_s:.0f} s spent after step {self.step}")
                break
            record = self.train_step()
            bar.update(1)
            bar.set_postfix(reward=f"{record['reward']:.3f}", filtered=f"{record['filtered_fraction']:.2f}")
            if self.step % config.save_every == 0:
                self.save_checkpoint()
        bar.close()
        # Decided from what every process knows, not from the files: one process reading the folder before the
        # main one has written it would enter the checkpoint's barrier alone.
        if self.step != self.saved_step:
            self.save_checkpoint()  # the last step, whatever ended the run
        final = self.out / "final"
        if self.accelerator.is_main_process:
            self.save_policy(final)
            if (self.out / "log.jsonl").is_file():
                from rl.plots import plot_log

                plot_log(self.out / "log.jsonl", self.out / "log.png")
            if config.eval_sessions:
                summary = evaluate(self.text_policy, self.image_policy, n=config.eval_sessions,
                                   turns=config.eval_turns, size=config.image_size, out=self.out / "eval")
                print(f"rl: world-test ({config.eval_sessions} sessions) mean {summary['mean']}")
        return final

    def _budget_spent(self, started: float) -> bool:
        """Whether the time budget is spent on any process (all processes stop after the same step)."""
        if self.config.time_budget_s is None:
            return False
        spent = torch.tensor(float(time.perf_counter() - started > self.config.time_budget_s),
                             device=self.accelerator.device)
        return bool(self.accelerator.reduce(spent, reduction="sum") > 0)

    def train_step(self) -> dict[str, Any]:
        """One batch of rollouts and ``updates_per_batch`` optimiser steps; appends and returns the log record."""
        started = time.perf_counter()
        groups = self.rollouts()
        rollout_seconds = time.perf_counter() - started
        batch = make_batch(groups, self.config)
        # Under several processes every one must run the same number of backward passes, so they keep all.
        update_batch = gradient_carrying(batch) if self.accelerator.num_processes == 1 else batch
        metrics: dict[str, float] = {}
        shuffle = random.Random(f"minibatches:{self.config.seed}:{self.step}")
        for _ in range(self.config.updates_per_batch):
            metrics = self._one_pass(update_batch, shuffle)
        self.step += 1
        record = self._record(batch, metrics, groups, rollout_seconds, time.perf_counter() - started)
        if self.accelerator.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            with (self.out / "log.jsonl").open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")
        return record

    def rollouts(self) -> list[Group]:
        """This process's groups for the current step (sessions drawn by step, seed and process).

        With ``informative_groups`` the step rolls out further batches of unseen sessions until
        ``sessions_per_step`` groups carry signal (at most ``max_rollout_rounds`` batches); tied groups fill any
        shortfall, so every process trains on the same number of groups.
        """
        config = self.config
        rng = step_rng(config.seed, self.step, self.accelerator.process_index)
        wanted = config.sessions_per_step
        rounds = config.max_rollout_rounds if config.informative_groups else 1
        informative: list[Group] = []
        tied: list[Group] = []
        drawn: set[int] = set()
        self.sessions_rolled = 0
        for round_index in range(rounds):
            unseen = [index for index in range(len(self.sessions)) if index not in drawn]
            if not unseen:
                break
            picked = rng.sample(unseen, min(wanted, len(unseen)))
            drawn.update(picked)
            sessions = [self.sessions[index] for index in picked]
            groups = self._collect(sessions, rng, round_index)
            self.sessions_rolled += len(sessions)
            if not config.informative_groups:
                return groups
            for group in groups:
                (informative if carries_signal(group, config) else tied).append(group)
            if len(informative) >= wanted:
                break
        return (informative + tied)[:wanted]

    def _collect(self, sessions: Sequence[WorldSession], rng: random.Random, round_index: int) -> list[Group]:
        """One batch of groups from the current policy; round 0's noise is the same with or without later rounds."""
        config = self.config
        gold_turns = [rng.randint(0, min(config.gold_prefix_turns, len(session.turns) - 1)) for session in sessions]
        seed = config.seed * 1_000_003 + self.step * 101 + self.accelerator.process_index + round_index * 1_000_000_007
        policy = self.accelerator.unwrap_model(self.policy)
        policy.eval()
        with self._full_parameters():
            return collect_groups(
                sessions, text_policy=self.text_policy, image_policy=policy.image, reward=self.reward,
                group_size=config.group_size, turns=config.turns, temperature=config.temperature,
                seed=seed, size=config.image_size, gold_turns=gold_turns,
            )

    def _full_parameters(self) -> contextlib.AbstractContextManager[Any]:
        """Sampling calls the unwrapped modules directly, so under FSDP (v1) their shards are gathered first."""
        if self.accelerator.distributed_type == DistributedType.FSDP:
            from torch.distributed.fsdp import FullyShardedDataParallel

            return FullyShardedDataParallel.summon_full_params(self.policy, writeback=False)
        return contextlib.nullcontext()

    def _one_pass(self, batch: Batch, shuffle: random.Random) -> dict[str, float]:
        """``minibatches`` optimiser steps that together see every turn-sample once; the metrics of the pass.

        Every process splits into the same number of parts (its own batch has the same size), so their
        optimiser steps stay in lockstep.
        """
        parts = minibatch_indices(len(batch.images), self.config.minibatches, shuffle)
        totals: dict[str, float] = {}
        for indices in parts:
            share = len(indices) / len(batch.images)
            for name, value in self.update(batch.select(indices)).items():
                totals[name] = totals.get(name, 0.0) + share * value
        return totals

    def update(self, batch: Batch) -> dict[str, float]:
        """One optimiser step on the joint loss of ``batch``, accumulated over micro-batches.

        Each micro-batch's masked means are weighted by its share of the batch's unmasked SDE steps (image)
        and tokens (text), so the gradient is that of the whole batch's loss while only ``micro_batch``
        turn-samples hold activations at a time (an LLM's long prompts do not fit all at once).
        """
        config = self.config
        self.policy.train()
        self.optimizer.zero_grad(set_to_none=True)
        image_weights, text_weights = _micro_batch_weights(batch, config.micro_batch)
        metrics = dict.fromkeys(("kl", "image_clip_fraction", "text_clip_fraction", "image_loss", "text_loss", "loss"),
                                0.0)
        chunks = list(range(0, len(batch.images), config.micro_batch))
        for number, first in enumerate(chunks):
            part = batch.select(range(first, min(first + config.micro_batch, len(batch.images))))
            sync = number == len(chunks) - 1
            with contextlib.nullcontext() if sync else self.accelerator.no_sync(self.policy):
                image_out, text_out = self.policy(part.images, part.texts, text_gradient_rows(part))
                loss = torch.zeros((), device=self.accelerator.device)
                if image_out is not None:
                    value, extra = image_loss(image_out, part, config)
                    loss = loss + image_weights[number] * value
                    _accumulate(metrics, {**extra, "image_loss": float(value.detach())}, image_weights[number])
                if text_out is not None:
                    value, extra = text_loss(text_out, part, config)
                    loss = loss + text_weights[number] * value
                    _accumulate(metrics, {**extra, "text_loss": float(value.detach())}, text_weights[number])
                self.accelerator.backward(loss)
                metrics["loss"] += float(loss.detach())
        self.accelerator.clip_grad_norm_(self.trainable_parameters(), config.max_grad_norm)
        self.optimizer.step()
        return metrics

    def _record(self, batch: Batch, metrics: dict[str, float], groups: Sequence[Group], rollout_seconds: float,
                seconds: float) -> dict[str, Any]:
        """The step's log line; rollout statistics and losses are averaged over all processes."""
        turns = batch.rewards.shape[1]
        rollout_stats = torch.cat([
            batch.rewards.mean(dim=0), batch.scores["IF"].mean(dim=0),
            torch.stack([batch.rewards.mean(), *(value.mean() for value in batch.scores.values()),
                         torch.tensor(filtered_fraction(batch.filter_mask)),
                         (batch.advantages != 0).float().mean()]),
            torch.tensor([metrics[name] for name in sorted(metrics)]),
        ]).float()
        if self.accelerator.num_processes > 1:
            rollout_stats = self.accelerator.reduce(rollout_stats.to(self.accelerator.device), reduction="mean").cpu()
        values = [round(float(v), 6) for v in rollout_stats]
        reward_per_turn, if_per_turn, rest = values[:turns], values[turns:2 * turns], values[2 * turns:]
        reward, if_, cc, ga, filtered, signal, losses = rest[0], rest[1], rest[2], rest[3], rest[4], rest[5], rest[6:]
        return {
            "step": self.step, "reward": reward, "reward_per_turn": reward_per_turn, "IF": if_, "CC": cc, "GA": ga,
            "IF_per_turn": if_per_turn, "filtered_fraction": filtered, "signal_fraction": signal,
            **dict(zip(sorted(metrics), losses)),
            "rollouts": sum(len(g.rollouts) for g in groups) * self.accelerator.num_processes,
            "sessions_rolled": self.sessions_rolled * self.accelerator.num_processes,
            "seconds": round(seconds, 3),
            "rollout_seconds": round(rollout_seconds, 3),
            "update_seconds": round(seconds - rollout_seconds, 3),
        }

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """``checkpoints/step-NNNNNN/``: the trained tensors of both halves, the optimizer and the step."""
        folder = checkpoint_folder(self.out, self.step)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            folder.mkdir(parents=True, exist_ok=True)
            with _disk_errors(folder):
                save_file(self.image_policy.trained_state(), str(folder / "image.safetensors"))
                text = {str(i): p.detach().cpu().contiguous()
                        for i, p in enumerate(self.text_policy.trainable_parameters())}
                save_file(text, str(folder / "text.safetensors"))
                torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")
            share_weights_like_other_files(folder)
            # Written last and renamed into place: a state.json marks a checkpoint as complete.
            partial = folder / "state.json.tmp"
            partial.write_text(json.dumps({"step": self.step}) + "\n")
            partial.replace(folder / "state.json")
        self.saved_step = self.step
        return folder

    def load_checkpoint(self, folder: Path) -> None:
        """Both halves, the optimizer and the step as ``save_checkpoint`` wrote them into ``folder``."""
        try:
            image_state = load_file(str(folder / "image.safetensors"))
            self.image_policy.network.load_state_dict(image_state, strict=False)
            text_state = load_file(str(folder / "text.safetensors"))
            with torch.no_grad():
                for index, parameter in enumerate(self.text_policy.trainable_parameters()):
                    parameter.copy_(text_state[str(index)])
            self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
            self.step = int(json.loads((folder / "state.json").read_text())["step"])
        except torch.OutOfMemoryError:
            raise
        except Exception as error:  # torch, pickle and safetensors each raise their own kinds
            # A damaged checkpoint, or one from a config with other trained parameters.
            raise RunFolderError(
                f"Cannot resume from {folder}: {one_line(error)}. Resume with the run's own config "
                f"({self.out / 'config.yaml'}, with resume: true), delete that checkpoint, or write to another folder."
            ) from None

    def _trim_log(self) -> None:
        """Drop log lines past the resumed checkpoint: a run stopped after it would otherwise log those steps twice."""
        log = self.out / "log.jsonl"
        if not self.accelerator.is_main_process or not log.is_file():
            return
        lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        logged = [(line, _logged_step(line)) for line in lines]
        kept = [line for line, step in logged if step is not None and step <= self.step]
        if len(kept) < len(lines):  # a torn last line goes too
            partial = log.with_suffix(".jsonl.tmp")
            partial.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            partial.replace(log)

    def save_policy(self, folder: Path) -> None:
        """The trained policy in shippable form: ``image/`` (editor weights) and ``text/`` (adapters). Written aside
        and swapped in whole: a full disk left half a policy, or an earlier run's files mixed with this one's."""
        partial = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.partial")
        try:
            with _disk_errors(folder):
                self.image_policy.save(partial / "image")
                if self.config.trains_text:
                    self.text_policy.save(partial / "text")
                _swap_in(partial, folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def _swap_in(partial: Path, folder: Path) -> None:
    """Put the folder ``partial`` where ``folder`` is, replacing it (two renames: never a mix of both)."""
    old = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old")
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _disk_errors(where: Path) -> Iterator[None]:
    """safetensors and torch report a full disk as their own errors, which reached the user as a traceback: an
    OSError that names the folder is one line, like any other failure to write a file."""
    try:
        yield
    except OSError:
        raise
    except Exception as error:
        if type(error).__name__ != "SafetensorError" and "inline_container" not in str(error):
            raise
        raise OSError(f"Writing {where} failed ({one_line(error)}); is the disk full?") from error


def _logged_step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------------- what a config names
def build_text_policy(config: TrainConfig, *, device: torch.device | str | None = None) -> TextPolicy:
    """The text half: SmolLM2 (or ``text_model``) with the SFT adapter, the rule reasoner, or the raw instruction."""
    from rl.text_policy import LLMTextPolicy, RawInstructionPolicy, RulesTextPolicy

    if config.text_policy == "rules":
        return RulesTextPolicy()
    if config.text_policy == "raw":
        return RawInstructionPolicy()
    adapter = config.text_adapter
    if adapter is not None and not Path(adapter).is_dir():
        # A mistyped path, or a relative one read from another folder, must not quietly lose the SFT warm start.
        raise ModelUnavailableError(
            f"No LoRA adapter at {Path(adapter).resolve()} (text_adapter); run from the folder the path is relative "
            "to, give the right path, or set text_adapter: null to start from a fresh LoRA."
        )
    return LLMTextPolicy(config.text_model, lora=adapter, max_new_tokens=config.text_max_new_tokens,
                         generation_batch=config.text_generation_batch, finetune=config.text_finetune,
                         device=str(device) if device is not None else None)


def build_image_policy(config: TrainConfig) -> FlowImagePolicy:
    """The world editor named by ``image_model`` (the shipped weights by default), as an RL policy."""
    from edit_agent.editors.world import DEFAULT_WEIGHTS
    from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel

    if config.image_model == "tiny":
        # A std of 3 makes the rollouts' edits change how the world reads the canvas; at 0.3 or 1.0 they stay under
        # the reader's thresholds, a group's rewards tie, no sample carries an advantage and a smoke run trains nothing.
        model = FlowEditorModel(FlowEditorConfig.tiny()).randomize_output(
            3.0, generator=torch.Generator().manual_seed(config.seed))
    else:
        model = FlowEditorModel.load(config.image_model or DEFAULT_WEIGHTS)
    return FlowImagePolicy(model, steps=config.sde_steps, window=config.sde_window, a=config.sde_a,
                           finetune=config.image_finetune, lora_rank=config.lora_rank,
                           lora_alpha=2 * config.lora_rank, keep_unchanged=config.keep_unchanged)


def build_reward(config: TrainConfig) -> Reward:
    """Exact MICE-World scores, weighted later by ``config.reward_weights``."""
    from rl.rewards import WorldReward

    return WorldReward()


def checkpoint_folder(out: Path, step: int) -> Path:
    """Where a run writing to ``out`` keeps its checkpoint of ``step``."""
    return out / "checkpoints" / f"step-{step:06d}"


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint under ``out/checkpoints`` (one with its ``state.json``), if any."""
    folders = sorted(p.parent for p in (out / "checkpoints").glob("step-*/state.json"))
    return folders[-1] if folders else None


# ---------------------------------------------------------------------- evaluation
def evaluate(text_policy: TextPolicy, image_policy: FlowImagePolicy, *, sessions: Sequence[WorldSession] | None = None,
             n: int = 50, turns: int = 5, size: int = 96, seed: int = 0, batch: int = 16,
             out: Path | None = None) -> dict[str, Any]:
    """Mean and per-turn IF/CC/GA/SR of the deterministic policy: greedy text (temperature 0), ODE images.

    ``sessions`` default to the first ``n`` of world-test (never trained on), cut to ``turns`` turns. Sessions
    run ``batch`` at a time through the rollout code (one text batch and one image batch per turn) and every
    turn is scored by ``evals.scoring`` against the interpreter's targets, as ``edit-agent eval`` scores.
    ``out``: also write ``turns.jsonl``, ``summary.json`` and ``per_turn.png`` there.
    """
    from edit_agent.world.parse import parse
    from edit_agent.world.sessions import read_world_sessions
    from evals.reports import plot_per_turn, sr_at_length, summarize
    from evals.scoring import score_session
    from evals.splits import verify_split
    from rl.rewards import world_targets

    if sessions is None:
        sessions = read_world_sessions(verify_split("world-test"))[:n]
    rows: list[list[dict[str, Any]]] = []
    for first in range(0, len(sessions), batch):
        groups = collect_groups(sessions[first:first + batch], text_policy=text_policy, image_policy=image_policy,
                                reward=_NoReward(), group_size=1, turns=turns, temperature=0.0, seed=seed,
                                size=size, stochastic=False)
        for group in groups:
            [rollout] = group.rollouts
            targets, locked = world_targets(group.session, len(rollout.images))
            scores = score_session(targets, [parse(image.image) for image in rollout.images], locked)
            rows.append([
                {"session": group.session.id, "turn": index, "instruction": turn.instruction,
                 "intent": text.thought.intent.text, **score.model_dump(exclude={"PSNR"})}
                for index, (turn, text, score) in enumerate(zip(group.session.turns, rollout.texts, scores), 1)
            ])
    summary = {**summarize(rows), "sr_at_length": sr_at_length(rows)}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "turns.jsonl").open("w", encoding="utf-8") as stream:
            stream.writelines(json.dumps(row) + "\n" for session_rows in rows for row in session_rows)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        plot_per_turn({"rl policy": summary}, out / "per_turn.png")
    return summary


class _NoReward:
    """Evaluation scores every turn itself (with SR), so rollouts skip the training reward."""

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        return []
