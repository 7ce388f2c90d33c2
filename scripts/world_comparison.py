"""The committed world comparison: rule+program, passthrough+program and rules+identity on
world-test and world-long, in one report and one plot.

    python scripts/world_comparison.py            # writes evals/reports/world-comparison.md and .png

Each run's summary, report and plot go to evals/reports/runs/<split>-<reasoner>-<editor>/ (the
per-turn rows, turns.jsonl, are left out of the repository: rerun to get them).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from edit_agent.world import read_world_sessions
from evals.reports import compare_runs, write_run
from evals.runner import run_sessions, timed
from evals.splits import verify_split


@dataclass(frozen=True)
class Args:
    splits: tuple[str, ...] = ("world-test", "world-long")
    pairs: tuple[tuple[str, str], ...] = (("rules", "program"), ("passthrough", "program"), ("rules", "identity"))
    size: int = 96
    seed: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    out: Path = Path("evals/reports")


def main(args: Args) -> None:
    run_dirs = []
    for split in args.splits:
        sessions = read_world_sessions(verify_split(split))
        for reasoner, editor in args.pairs:
            rows, seconds = timed(lambda s=sessions, r=reasoner, e=editor: run_sessions(
                s, reasoner=r, editor=e, size=args.size, seed=args.seed, workers=args.workers))
            run_dir = args.out / "runs" / f"{split}-{reasoner}-{editor}"
            meta = {"reasoner": reasoner, "editor": editor, "sessions": split, "size": args.size, "seed": args.seed,
                    "workers": args.workers, "wall_seconds": round(seconds, 2)}
            summary = write_run(run_dir, rows, meta)
            (run_dir / "turns.jsonl").unlink()
            print(f"{split} {reasoner}+{editor}: {seconds:.1f} s, mean {summary['mean']}, SR per turn {summary['per_turn']['SR']}",
                  flush=True)
            run_dirs.append(run_dir)
    report = compare_runs(run_dirs, args.out, title="MICE-World: rule reasoner vs baselines")
    report.rename(args.out / "world-comparison.md")
    (args.out / "comparison.png").rename(args.out / "world-comparison.png")
    text = (args.out / "world-comparison.md").read_text().replace("(comparison.png)", "(world-comparison.png)")
    (args.out / "world-comparison.md").write_text(text + (
        f"\nCommand: `python scripts/world_comparison.py` ({args.workers} worker processes, canvas {args.size} px). "
        "Per-run reports: `runs/`.\n"))
    print(f"-> {args.out / 'world-comparison.md'}")


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # the first paragraph
    parser.add_argument("--workers", type=int, default=Args().workers, help="worker processes (default: every core)")
    parser.add_argument("--out", type=Path, default=Args.out, help="report folder (default: evals/reports)")
    options = parser.parse_args()
    return Args(workers=options.workers, out=options.out)


if __name__ == "__main__":
    main(parse_args())
