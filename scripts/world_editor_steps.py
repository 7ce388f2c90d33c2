"""Steps-vs-quality of the world editor: SR at turn 1, mean IF/CC and ms per turn for each ODE step count.

    python scripts/world_editor_steps.py --limit 100 --out evals/reports/world_editor_steps.md

Runs the rule reasoner + world editor through the evals harness (evals.runner) on the first ``limit``
world-test sessions at the reference canvas size, once per step count, on ``threads`` CPU threads.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from edit_agent.editors.world import WorldEditor
from edit_agent.records import EditorInfo, Intent
from edit_agent.world.sessions import read_world_sessions
from evals.reports import summarize
from evals.runner import run_sessions


@dataclass
class Args:
    split: str = "evals/splits/world-test.jsonl"
    limit: int = 100
    """Sessions to run (the first ones of the split)."""
    steps: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    threads: int = 2
    size: int = 96
    seed: int = 0
    weights: str | None = None
    """Weights file (default: the shipped ones)."""
    out: str = "evals/reports/world_editor_steps.md"


class TimedEditor:
    """Wraps an editor and adds up the wall time of its edits."""

    def __init__(self, editor: WorldEditor) -> None:
        self.editor, self.name, self.seconds, self.calls = editor, editor.name, 0.0, 0

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        start = time.perf_counter()
        try:
            return self.editor.edit(image, intent, seed=seed)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def info(self) -> EditorInfo:
        return self.editor.info()


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    sessions = read_world_sessions(args.split)[: args.limit]
    lines = [
        "| ODE steps | SR@1 (turn 1) | mean IF | mean CC | mean GA | SR at turn 5 | ms per turn |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for steps in args.steps:
        editor = TimedEditor(WorldEditor(args.weights, steps=steps, device="cpu"))
        rows = run_sessions(sessions, reasoner="rules", editor=editor, size=args.size, seed=args.seed, workers=1,
                            progress=False)
        summary = summarize(rows)
        mean, per_turn = summary["mean"], summary["per_turn"]
        ms = 1000 * editor.seconds / max(1, editor.calls)
        line = (f"| {steps} | {per_turn['SR'][0]:.3f} | {mean['IF']:.3f} | {mean['CC']:.3f} | {mean['GA']:.3f} | "
                f"{per_turn['SR'][-1]:.3f} | {ms:.0f} |")
        print(line, flush=True)
        lines.append(line)
    table = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    print(f"wrote {out}")


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(Args):
        name = f"--{f.name.replace('_', '-')}"
        if f.name == "steps":
            parser.add_argument(name, type=int, nargs="+", default=[1, 2, 4, 8, 16])
        elif f.name == "weights":
            parser.add_argument(name, default=None)
        else:
            parser.add_argument(name, type=type(f.default), default=f.default)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
