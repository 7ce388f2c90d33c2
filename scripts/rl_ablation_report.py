"""The RL ablation table and per-turn curves, from run folders evaluated on world-test.

    python scripts/rl_ablation_report.py --out evals/reports/rl_ablation \
        --row "SFT=rl/runs/world-lm-sft" \
        --row "RL joint=rl/runs/world-lm-joint-s0,rl/runs/world-lm-joint-s1,rl/runs/world-lm-joint-s2"

A row is ``label=folder[,folder...]`` (several folders: seeds, shown as mean and min-max). A folder
is an ``edit-agent train`` run (``eval/summary.json``, ``log.jsonl``, ``config.yaml``) or an
``rl_eval.py`` output (``summary.json``: a policy evaluated without training). Writes
``table.md`` (pasted into the report) and ``per_turn.png`` (one line per row, seeds averaged).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from evals.reports import plot_per_turn

METRICS = ("IF", "CC", "GA", "SR")


def evaluation(folder: Path) -> dict[str, Any]:
    for path in (folder / "eval" / "summary.json", folder / "summary.json"):
        if path.is_file():
            return json.loads(path.read_text())
    raise SystemExit(f"{folder}: no eval/summary.json or summary.json (evaluate the run first)")


def budget(folder: Path) -> dict[str, Any]:
    """Steps, rollouts and training seconds from the run's log (zeros for an untrained policy)."""
    log = folder / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    by_step = {record["step"]: record for record in records}  # a resumed run may log a step twice
    return {"steps": len(by_step), "rollouts": sum(r.get("rollouts", 0) for r in by_step.values()),
            "seconds": sum(r.get("seconds", 0.0) for r in by_step.values())}


def session_success(summary: dict[str, Any]) -> float:
    """SR at the last turn (SR@5 for 5-turn sessions)."""
    return float(summary["per_turn"]["SR"][-1])


def cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def mean_per_turn(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"per_turn": {metric: [statistics.mean(values) for values in zip(*(s["per_turn"][metric] for s in summaries))]
                         for metric in METRICS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", required=True, help="label=folder[,folder...]")
    parser.add_argument("--device", default="CPU (2 cores, 1 torch thread per run, two runs at a time)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    lines = ["| row | runs | IF | CC | GA | SR at the last turn | steps x rollouts | train wall time | device |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    curves = {}
    for row in args.row:
        label, _, folders = row.partition("=")
        runs = [Path(folder) for folder in folders.split(",")]
        summaries = [evaluation(folder) for folder in runs]
        budgets = [budget(folder) for folder in runs]
        curves[label] = mean_per_turn(summaries)
        trained = budgets[0]["steps"] > 0
        steps = " / ".join(f"{b['steps']} x {b['rollouts'] // max(1, b['steps'])}" for b in budgets) if trained else "-"
        wall = f"{statistics.mean(b['seconds'] for b in budgets) / 60:.1f} min" if trained else "-"
        scores = " | ".join(cell([s["mean"][m] for s in summaries]) for m in ("IF", "CC", "GA"))
        lines.append(f"| {label} | {len(runs)} | {scores} | {cell([session_success(s) for s in summaries])} | {steps} | {wall} | "
                     f"{args.device if trained else '-'} |")
    lines += ["", "Per turn (mean over a row's runs):", ""]
    turns = max(len(curve["per_turn"]["IF"]) for curve in curves.values())
    for metric in ("IF", "GA", "SR"):
        lines += [f"| {metric} | " + " | ".join(f"turn {t}" for t in range(1, turns + 1)) + " |", "|---|" + "---:|" * turns]
        lines += [f"| {label} | " + " | ".join(f"{v:.3f}" for v in curve["per_turn"][metric]) + " |"
                  for label, curve in curves.items()]
        lines.append("")
    (args.out / "table.md").write_text("\n".join(lines))
    plot_per_turn(curves, args.out / "per_turn.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
