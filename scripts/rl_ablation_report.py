"""The RL ablation table and per-turn curves, from run folders evaluated on world-test.

    python scripts/rl_ablation_report.py --out evals/reports/rl_ablation \
        --row "SFT=rl/runs/world-lm-sft" \
        --row "RL joint=rl/runs/world-lm-joint-s0,rl/runs/world-lm-joint-s1,rl/runs/world-lm-joint-s2"

A row is ``label=folder[,folder...]`` (several folders: seeds, shown as mean and min-max). A folder
is an ``edit-agent train`` run (``eval/summary.json``, ``log.jsonl``, ``config.yaml``) or an
``rl_eval.py`` output (``summary.json``: a policy evaluated without training). Writes
``table.md`` (pasted into the report) and ``per_turn.png`` (one line per row, seeds averaged).
Where every folder also holds the evaluation's ``turns.jsonl``, ``table.md`` ends with a paired
comparison of each run against the first row on the same sessions: how many turn-1 intents changed,
how many sessions gained or lost success at the last turn, and the mean per-session GA difference with
its 95% interval.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

from evals.reports import plot_per_turn

METRICS = ("IF", "CC", "GA", "SR")


def evaluation_file(folder: Path, name: str) -> Path | None:
    """``name`` from a train run's ``eval/`` or an ``rl_eval.py`` output folder, or None where neither has it."""
    return next((path for path in (folder / "eval" / name, folder / name) if path.is_file()), None)


def evaluation(folder: Path) -> dict[str, Any]:
    if (path := evaluation_file(folder, "summary.json")) is not None:
        return json.loads(path.read_text())
    raise SystemExit(f"{folder}: no eval/summary.json or summary.json (evaluate the run first)")


def budget(folder: Path) -> dict[str, Any]:
    """Steps, rollouts trained on, sessions played and training seconds from the run's log (zeros for an untrained
    policy; sessions played only where the log has them)."""
    log = folder / "log.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    by_step = {record["step"]: record for record in records}  # a resumed run may log a step twice
    return {"steps": len(by_step), "rollouts": sum(r.get("rollouts", 0) for r in by_step.values()),
            "sessions_played": sum(r.get("sessions_rolled", 0) for r in by_step.values()),
            "seconds": sum(r.get("seconds", 0.0) for r in by_step.values())}


def budget_cell(budgets: list[dict[str, Any]]) -> str:
    """``steps x rollouts a step`` per run and, where its log records them, the sessions it played (more than it
    trained on with ``informative_groups``)."""
    cells = []
    for run in budgets:
        cell = f"{run['steps']} x {run['rollouts'] // max(1, run['steps'])}"
        cells.append(cell + (f" ({run['sessions_played']:,} sessions played)" if run["sessions_played"] else ""))
    return " / ".join(cells)


def session_success(summary: dict[str, Any]) -> float:
    """SR at the last turn (SR@5 for 5-turn sessions)."""
    return float(summary["per_turn"]["SR"][-1])


def turns(folder: Path) -> dict[tuple[str, int], dict[str, Any]] | None:
    """The evaluation's per-turn rows by (session, turn), or None where the folder does not keep them."""
    if (path := evaluation_file(folder, "turns.jsonl")) is None:
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(row["session"], row["turn"]): row for row in rows}


def paired_changes(base: dict[tuple[str, int], dict[str, Any]], run: dict[tuple[str, int], dict[str, Any]]) -> str:
    """One table line's cells: turn-1 intents changed (IF up / down), last-turn successes gained / lost."""
    first = [key for key in base if key[1] == 1]
    changed = [key for key in first if run[key]["intent"] != base[key]["intent"]]
    up = sum(run[key]["IF"] > base[key]["IF"] for key in changed)
    down = sum(run[key]["IF"] < base[key]["IF"] for key in changed)
    last_turn = max(turn for _, turn in base)
    last = [key for key in base if key[1] == last_turn]
    gained = sum(run[key]["SR"] > base[key]["SR"] for key in last)
    lost = sum(run[key]["SR"] < base[key]["SR"] for key in last)
    difference, half_width = paired_ga_difference(base, run)
    return (f"{len(changed)} of {len(first)} | {up} / {down} | {gained} / {lost} | "
            f"{difference:+.3f} ({difference - half_width:+.3f} to {difference + half_width:+.3f})")


def paired_ga_difference(base: dict[tuple[str, int], dict[str, Any]],
                         run: dict[tuple[str, int], dict[str, Any]]) -> tuple[float, float]:
    """The mean over sessions of (run's session GA - base's session GA), and the half-width of its 95% interval.

    Pairing by session removes the spread between easy and hard sessions, so the interval says whether a
    change of a point or two on a few hundred sessions is more than the luck of which sessions were drawn.
    """
    sessions = sorted({session for session, _ in base})
    differences = [statistics.mean(run[key]["GA"] - base[key]["GA"] for key in base if key[0] == session)
                   for session in sessions]
    spread = statistics.stdev(differences) if len(differences) > 1 else 0.0
    return statistics.mean(differences), 1.96 * spread / len(differences) ** 0.5


def run_names(folders: list[Path]) -> list[str]:
    """What tells a row's runs apart: each folder's path below their common parent (``s1/step-5``), or its name."""
    if len(folders) < 2:
        return [folder.name for folder in folders]
    common = Path(os.path.commonpath([folder.resolve() for folder in folders]))
    return [folder.resolve().relative_to(common).as_posix() for folder in folders]


def paired_table(rows: list[tuple[str, list[Path]]]) -> list[str]:
    """Each run against the first row's (single) run, on the same sessions; empty where turns are missing."""
    runs = [(label, name, turns(folder)) for label, folders in rows for folder, name in zip(folders, run_names(folders))]
    if any(rows_by_key is None for _, _, rows_by_key in runs) or len(rows[0][1]) != 1:
        return []
    (base_label, _, base), *others = runs
    lines = [f"Against {base_label}, on the same sessions:", "",
             "| run | turn-1 intents changed | turn-1 IF up / down | sessions succeeding at the last turn: gained / lost "
             "| session GA difference (95% interval) |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {label} ({name}) | {paired_changes(base, rows_by_key)} |" for label, name, rows_by_key in others]
    return lines + [""]


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
    rows = []
    for row in args.row:
        label, _, folders = row.partition("=")
        runs = [Path(folder) for folder in folders.split(",")]
        rows.append((label, runs))
        summaries = [evaluation(folder) for folder in runs]
        budgets = [budget(folder) for folder in runs]
        curves[label] = mean_per_turn(summaries)
        trained = budgets[0]["steps"] > 0
        steps = budget_cell(budgets) if trained else "-"
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
    lines += paired_table(rows)
    (args.out / "table.md").write_text("\n".join(lines))
    plot_per_turn(curves, args.out / "per_turn.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
