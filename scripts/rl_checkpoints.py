"""Score every checkpoint of an RL run on a world split: the learning curve of the deterministic policy.

    python scripts/rl_checkpoints.py --run rl/runs/world-lm-s0 --split world-dev --sessions 200 \
        --out rl/runs/world-lm-s0/checkpoints-dev.json

Each ``checkpoints/step-N/`` (and the start, step 0, with ``--start``) is loaded into the run's own policy
and evaluated like the trainer's final evaluation: greedy text, ODE images, 5-turn sessions scored by
``evals.scoring``. A split the run never trained on (world-dev) lets a run pick its checkpoint without
looking at world-test; the JSON's ``best_step`` is that choice (the best mean GA, ties to the earlier step).
``--steps 10 14`` scores only those checkpoints, e.g. the chosen one on world-test. ``--only text`` scores
each checkpoint's text policy with the editor the run started from, ``--only image`` its editor with the start's
text policy: which half a joint run's change comes from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edit_agent.world.sessions import read_world_sessions
from evals.splits import verify_split
from rl.config import TrainConfig
from rl.halves import HALVES, restore_half, start_halves
from rl.trainer import Trainer, evaluate


def checkpoint_folders(run: Path) -> list[Path]:
    """The run's complete checkpoints, oldest first."""
    return sorted(p.parent for p in (run / "checkpoints").glob("step-*/state.json"))


def chosen_checkpoints(run: Path, steps: set[int] | None, start: bool) -> list[Path | None]:
    """The folders to score (``None`` is the untrained start); a missing step is an error, not a silent skip."""
    saved = checkpoint_folders(run)
    chosen = [folder for folder in saved if steps is None or checkpoint_step(folder) in steps]
    if (steps is not None and len(chosen) < len(steps)) or not (chosen or start):
        wanted = "any step" if steps is None else f"steps {sorted(steps)}"
        raise FileNotFoundError(f"{run}: no checkpoint for {wanted}; saved: {[checkpoint_step(f) for f in saved]}")
    return ([None] if start else []) + chosen


def score_checkpoints(run: Path, *, split: str, sessions: int, turns: int, start: bool,
                      steps: set[int] | None = None, keep: Path | None = None, only: str | None = None) -> list[dict]:
    """One row per checkpoint (only ``steps`` when given): ``step``, the mean IF/CC/GA/SR and SR at ``turns``.

    ``keep``: also write each evaluation (``turns.jsonl``, ``summary.json``, ``per_turn.png``) and the training
    log up to that step to ``keep/step-N``: a folder ``rl_ablation_report.py`` reads as a row, with its budget
    and its paired per-session comparison. ``only``: "text" or "image", the checkpoint's half that is scored; the
    other half stays as the run started.
    """
    if only is not None and only not in HALVES:
        raise ValueError(f"only must be one of {HALVES}, not {only!r}")
    folders = chosen_checkpoints(run, steps, start)
    config = TrainConfig.from_yaml(run / "config.yaml").model_copy(update={"resume": False, "progress": False})
    chosen = read_world_sessions(verify_split(split))[:sessions]
    trainer = Trainer(config, sessions=())
    trainer.accelerator.unwrap_model(trainer.policy).eval()
    start_state = start_halves(trainer)
    rows = []
    for folder in folders:
        if folder is not None:
            trainer.load_checkpoint(folder)
            if only is not None:
                restore_half(trainer, start_state, next(half for half in HALVES if half != only))
        step = trainer.step if folder is not None else 0
        summary = evaluate(trainer.text_policy, trainer.image_policy, sessions=chosen, turns=turns,
                           size=config.image_size, out=keep / f"step-{step}" if keep is not None else None)
        if keep is not None:
            write_training_log(run, step, keep / f"step-{step}")
        by_length = {str(length): value for length, value in summary["sr_at_length"].items()}
        sr = by_length[str(turns)][1] if str(turns) in by_length else None  # None: no session this long here
        rows.append({"step": step, **({"only": only} if only else {}), **summary["mean"], f"SR@{turns}": sr})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def write_training_log(run: Path, step: int, folder: Path) -> None:
    """The run's ``log.jsonl`` up to ``step`` into ``folder``, so the kept evaluation states its training budget."""
    lines = (run / "log.jsonl").read_text().splitlines() if (run / "log.jsonl").is_file() else []
    kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
    if kept:
        (folder / "log.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")


def checkpoint_step(folder: Path) -> int:
    return json.loads((folder / "state.json").read_text())["step"]


def best_step(rows: list[dict]) -> int:
    """The step with the highest mean GA (the earlier one on a tie)."""
    return max(rows, key=lambda row: (row["GA"], -row["step"]))["step"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an edit-agent train run folder")
    parser.add_argument("--split", default="world-dev", help="world-dev (to select) or world-test (to report)")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--start", action="store_true", help="also score the untrained start (step 0)")
    parser.add_argument("--steps", type=int, nargs="+", help="score only these saved steps (default: all)")
    parser.add_argument("--keep", type=Path, help="also write each evaluation's per-turn rows to KEEP/step-N/")
    parser.add_argument("--only", choices=HALVES, help="score only this half of each checkpoint; the other stays at the start")
    parser.add_argument("--out", type=Path, required=True, help="JSON file of the rows")
    args = parser.parse_args()
    rows = score_checkpoints(args.run, split=args.split, sessions=args.sessions, turns=args.turns, start=args.start,
                              steps=set(args.steps) if args.steps else None, keep=args.keep, only=args.only)
    result = {"run": args.run.name, "split": args.split, "sessions": args.sessions, "turns": args.turns,
              **({"only": args.only} if args.only else {}), "rows": rows, "best_step": best_step(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"best mean GA on {args.split}: step {result['best_step']}")


if __name__ == "__main__":
    main()
