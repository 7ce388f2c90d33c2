"""Plot the learning curves that ``scripts/rl_checkpoints.py`` wrote: mean GA by training step, per split.

    python scripts/plot_rl_checkpoints.py --out curves.png "seed 0=dev-s0.json" "seed 1=dev-s1.json" test-s0.json

A file may be given as ``LABEL=FILE`` to name its line (default: the run folder's name), so that two runs of
one seed (a run and its resumed continuation) share a line colour across the panels.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.reports import plot_checkpoint_curves


def read_result(argument: str) -> dict:
    label, _, path = argument.rpartition("=")
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    return {**result, "run": label or result["run"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="rl_checkpoints.py JSON files, each FILE or LABEL=FILE")
    parser.add_argument("--metric", default="GA", choices=["IF", "CC", "GA", "SR"])
    parser.add_argument("--out", type=Path, required=True, help="PNG file")
    args = parser.parse_args()
    results = [read_result(argument) for argument in args.results]
    plot_checkpoint_curves(results, args.out, metric=args.metric)
    print(args.out)


if __name__ == "__main__":
    main()
