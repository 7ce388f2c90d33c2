"""Does an RL run improve the sessions it trained on more than sessions it never saw? The generalisation gap.

    python scripts/rl_fit_gap.py --run rl/runs/t1-mb8-s0 --steps 5 10 --out gap.jsonl
    python scripts/rl_fit_gap.py --run rl/runs/t1-1024x8-s0 --steps 3 --sessions 1280 --out gap.jsonl

For a run with ``turns: 1`` (one first turn per session, not ``informative_groups``), the sessions its first
``max(--steps)`` steps trained on are drawn again from the run's pool exactly as the trainer drew them, and as
many pool sessions it never drew are taken as the control. The start and each chosen checkpoint are scored on
both sets like ``rl_checkpoints.py`` scores a split (greedy text, ODE images): a policy that learns something
general gains on both; one that fits its training sessions gains on them only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rl.config import TrainConfig
from rl.trainer import Trainer, checkpoint_folder, evaluate, step_rng


def trained_session_indices(config: TrainConfig, pool_size: int, steps: int) -> list[int]:
    """The pool indices the trainer's first ``steps`` steps drew (one process, one rollout round a step)."""
    indices: list[int] = []
    for step in range(steps):
        indices += step_rng(config.seed, step, 0).sample(range(pool_size), min(config.sessions_per_step, pool_size))
    return indices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an edit-agent train run folder")
    parser.add_argument("--steps", type=int, nargs="+", required=True, help="saved steps to score")
    parser.add_argument("--out", type=Path, required=True, help="JSONL file, one line per policy")
    parser.add_argument("--sessions", type=int, default=None,
                        help="score only the first N of each set (both are in random order); default: all")
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as stream:
        for folder in [None, *(checkpoint_folder(args.run, step) for step in sorted(set(args.steps)))]:
            if folder is not None:
                trainer.load_checkpoint(folder)
            row = {"run": args.run.name, "step": trainer.step if folder is not None else 0, "sessions": len(trained)}
            for name, sessions in (("trained", trained), ("unseen", unseen)):
                summary = evaluate(trainer.text_policy, trainer.image_policy, sessions=sessions, turns=1,
                                   size=config.image_size)
                row[name] = {key: round(value, 4) for key, value in summary["mean"].items()}
            stream.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
