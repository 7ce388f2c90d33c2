"""Does an RL run improve the sessions it trained on more than sessions it never saw? The generalisation gap.

    python scripts/rl_fit_gap.py --run rl/runs/t1-mb8-s0 --steps 5 10 --out gap.jsonl
    python scripts/rl_fit_gap.py --run rl/runs/t1-1024x8-s0 --steps 3 --sessions 1280 --out gap.jsonl

For a run with ``turns: 1`` (one first turn per session, not ``informative_groups``), the sessions its first
``max(--steps)`` steps trained on are drawn again from the run's pool exactly as the trainer drew them, and as
many pool sessions it never drew are taken as the control. The start and each chosen checkpoint are scored on
both sets like ``rl_checkpoints.py`` scores a split (greedy text, ODE images): a policy that learns something
general gains on both; one that fits its training sessions gains on them only.

``--matched-noise K`` also scores, for each checkpoint, the start with K random changes of its text weights as
large as the checkpoint's, tensor by tensor (Gaussian, the same root mean square): whether the loss on unseen
sessions comes from the size of the update or from its direction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from rl.config import TrainConfig
from rl.halves import HALVES, half_parameters, restore_half, start_halves
from rl.trainer import Trainer, checkpoint_folder, evaluate, step_rng


def trained_session_indices(config: TrainConfig, pool_size: int, steps: int) -> list[int]:
    """The pool indices the trainer's first ``steps`` steps drew (one process, one rollout round a step)."""
    indices: list[int] = []
    for step in range(steps):
        indices += step_rng(config.seed, step, 0).sample(range(pool_size), min(config.sessions_per_step, pool_size))
    return indices


def matched_noise(start: list[torch.Tensor], moved: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """Gaussian changes with, tensor by tensor, the root mean square of ``moved - start``: an update as large
    as the trained one in a random direction."""
    generator = torch.Generator().manual_seed(seed)
    noise = []
    for before, after in zip(start, moved, strict=True):
        rms = (after.float() - before.float()).pow(2).mean().sqrt()
        noise.append((torch.randn(before.shape, generator=generator) * rms).to(before.dtype))
    return noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an edit-agent train run folder")
    parser.add_argument("--steps", type=int, nargs="+", required=True, help="saved steps to score")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file, one line per policy")
    parser.add_argument("--sessions", type=int, default=None,
                        help="score only the first N of each set (both are in random order); default: all")
    parser.add_argument("--matched-noise", type=int, default=0, metavar="K",
                        help="also score the start plus K random changes as large as each checkpoint's text update")
    args = parser.parse_args()
    config = TrainConfig.from_yaml(args.run / "config.yaml").model_copy(update={"resume": False, "progress": False})
    if config.turns != 1 or config.informative_groups or config.gold_prefix_turns:
        parser.error("the run must roll out one first turn per session (turns: 1, no informative groups or gold prefix)")
    missing = [step for step in args.steps if not (checkpoint_folder(args.run, step) / "state.json").is_file()]
    if missing:
        parser.error(f"{args.run} has no checkpoint for steps {missing}")
    trainer = Trainer(config)
    pool = trainer.sessions
    drawn = trained_session_indices(config, len(pool), max(args.steps))
    trained = [pool[index] for index in drawn]
    seen = set(drawn)
    unseen = [session for index, session in enumerate(pool) if index not in seen][:len(trained)]
    trained, unseen = trained[:args.sessions], unseen[:args.sessions]  # draws and pool order are random already
    trainer.accelerator.unwrap_model(trainer.policy).eval()
    start = start_halves(trainer)
    text = half_parameters(trainer, "text")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as stream:

        def score(row: dict) -> None:
            """The current policy's turn-1 means on both sets, as one line of ``--out``."""
            for name, sessions in (("trained", trained), ("unseen", unseen)):
                summary = evaluate(trainer.text_policy, trainer.image_policy, sessions=sessions, turns=1,
                                   size=config.image_size)
                row[name] = {key: round(value, 4) for key, value in summary["mean"].items()}
            stream.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)

        for folder in [None, *(checkpoint_folder(args.run, step) for step in sorted(set(args.steps)))]:
            if folder is not None:
                trainer.load_checkpoint(folder)
            step = trainer.step if folder is not None else 0
            score({"run": args.run.name, "step": step, "sessions": len(trained)})
            if folder is None or not args.matched_noise:
                continue
            moved = [parameter.detach().clone() for parameter in text]
            for seed in range(args.matched_noise):
                for half in HALVES:
                    restore_half(trainer, start, half)
                with torch.no_grad():
                    for parameter, change in zip(text, matched_noise(start["text"], moved, seed), strict=True):
                        parameter.add_(change)
                score({"run": args.run.name, "step": 0, "noise_like_step": step, "noise_seed": seed,
                       "sessions": len(trained)})


if __name__ == "__main__":
    main()
