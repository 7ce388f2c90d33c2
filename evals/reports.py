"""Run outputs: turns.jsonl, summary.json, report.md and per-turn plots; comparisons of several runs."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # not pyplot: files only, and the caller's backend (a notebook's) stays

from edit_agent.folders import partial_file_beside
from evals.errors import EvalInputError
from evals.runner import TurnRow
from evals.scoring import METRICS


def summarize(sessions: Sequence[Sequence[TurnRow]]) -> dict[str, Any]:
    """``{"n_sessions", "per_turn": {metric: [turn 1, turn 2, ...]}, "mean": {metric: x}}``.

    A per-turn value averages the sessions that have that turn; a mean averages every turn row.
    """
    by_turn: dict[int, list[TurnRow]] = defaultdict(list)
    for rows in sessions:
        for row in rows:
            by_turn[row["turn"]].append(row)
    all_rows = [row for rows in sessions for row in rows]
    turns = sorted(by_turn)
    return {
        "n_sessions": len(sessions),
        "per_turn": {m: [_mean(r[m] for r in by_turn[t]) for t in turns] for m in METRICS},
        "mean": {m: _mean(r[m] for r in all_rows) for m in METRICS},
        # success at each session's own last turn: per_turn's last SR holds only the longest sessions
        "last_turn_SR": _mean(rows[-1]["SR"] for rows in sessions if rows),
    }


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 6) if values else 0.0


def sr_at_length(sessions: Sequence[Sequence[TurnRow]]) -> dict[int, tuple[int, float]]:
    """SR@k: for each session length k, (number of sessions, share with SR at their last turn)."""
    by_length: dict[int, list[float]] = defaultdict(list)
    for rows in sessions:
        if rows:
            by_length[len(rows)].append(rows[-1]["SR"])
    return {k: (len(v), _mean(v)) for k, v in sorted(by_length.items())}


RUN_FILES = ("turns.jsonl", "summary.json", "run.json", "per_turn.png", "report.md")
"""What one run writes into its folder."""


def run_files_problem(out: Path) -> str | None:
    """Why a run's files could not be written into ``out`` (a run file's name taken by a folder), or None: asked
    before the run, so that hours of sessions are not lost to it at the end."""
    for name in RUN_FILES:
        if (out / name).exists() and not (out / name).is_file():
            return f"{out / name} is not a file; remove it or write to another folder"
    return None


def write_run(out: Path, sessions: Sequence[Sequence[TurnRow]], meta: dict[str, Any]) -> dict[str, Any]:
    """Write every output of one run into ``out``; returns the summary. The files are written aside and renamed
    together at the end: a failure leaves the folder as it was (an earlier run's files whole, not half replaced)."""
    summary = summarize(sessions)
    out.mkdir(parents=True, exist_ok=True)
    problem = run_files_problem(out)
    if problem:
        raise EvalInputError(f"{problem}.")
    writers = {
        "turns.jsonl": lambda path: _write_rows(path, sessions),
        "summary.json": lambda path: path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8"),
        "run.json": lambda path: path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"),
        "per_turn.png": lambda path: plot_per_turn({label(meta): summary}, path),
        "report.md": lambda path: path.write_text(run_report(sessions, summary, meta), encoding="utf-8"),
    }
    written: dict[str, Path] = {}
    try:
        for name, write in writers.items():
            written[name] = partial_file_beside(out / name)
            write(written[name])
        for name, partial in written.items():
            partial.replace(out / name)
    finally:
        for partial in written.values():
            partial.unlink(missing_ok=True)
    return summary


def _write_rows(path: Path, sessions: Sequence[Sequence[TurnRow]]) -> None:
    """One JSON line per turn, streamed: a long run's rows are never one string in memory."""
    with path.open("w", encoding="utf-8") as stream:
        for rows in sessions:
            for row in rows:
                stream.write(json.dumps(row) + "\n")


def label(meta: dict[str, Any]) -> str:
    return f"{meta.get('reasoner')}+{meta.get('editor')} on {meta.get('sessions')}"


def run_report(sessions: Sequence[Sequence[TurnRow]], summary: dict[str, Any], meta: dict[str, Any]) -> str:
    rows = [row for session in sessions for row in session]
    lines = [
        f"# {label(meta)}", "",
        (f"Reasoner `{meta.get('reasoner')}`, editor `{meta.get('editor')}`, canvas {meta.get('size')} px, "
         f"seed {meta.get('seed')}, {summary['n_sessions']} sessions, {len(rows)} turns, "
         f"{meta.get('workers')} worker(s), wall time {meta.get('wall_seconds', 0):.1f} s."), "",
        "Scores are exact (MICE-World, docs/world.md): the output is parsed back to a scene and compared slot by slot.",
        "", "## Per turn", "",
        "| turn | sessions | IF | CC | GA | SR | PSNR dB (inexact outputs) | exact pixels |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_turn: dict[int, list[TurnRow]] = defaultdict(list)
    for row in rows:
        by_turn[row["turn"]].append(row)
    for i, turn in enumerate(sorted(by_turn)):
        group = by_turn[turn]
        scores = " | ".join(f"{summary['per_turn'][m][i]:.3f}" for m in METRICS)
        lines.append(f"| {turn} | {len(group)} | {scores} | {_psnr_cell(group)} |")
    means = " | ".join(f"{summary['mean'][m]:.3f}" for m in METRICS)
    lines.append(f"| all | {summary['n_sessions']} | {means} | {_psnr_cell(rows)} |")
    lines += ["", "## SR@k (success at the last turn, by session length k)", "", "| k | sessions | SR@k |", "|---:|---:|---:|"]
    lines += [f"| {k} | {n} | {sr:.3f} |" for k, (n, sr) in sr_at_length(sessions).items()]
    lines += ["", "## By task type", "", "| task type | turns | IF | CC | GA | SR |", "|---|---:|---:|---:|---:|---:|"]
    by_type: dict[str, list[TurnRow]] = defaultdict(list)
    for row in rows:
        by_type[row["task_type"]].append(row)
    for task_type in sorted(by_type):
        group = by_type[task_type]
        lines.append(f"| {task_type} | {len(group)} | " + " | ".join(f"{_mean(r[m] for r in group):.3f}" for m in METRICS) + " |")
    errors = sum(1 for row in rows if row.get("error"))
    lines += ["", f"Turns where a backend raised (image kept as it was): {errors}.", "", "![per-turn scores](per_turn.png)", ""]
    return "\n".join(lines)


def _psnr_cell(rows: Sequence[TurnRow]) -> str:
    finite = [r["psnr"] for r in rows if r.get("psnr") is not None]
    exact = 1 - len(finite) / len(rows) if rows else 0.0
    return f"{_mean(finite):.1f} | {exact:.1%}" if finite else f"n/a | {exact:.1%}"


def plot_per_turn(summaries: dict[str, dict[str, Any]], path: Path) -> None:
    """One panel per metric, one line per run, turn on the x axis."""
    figure = Figure(figsize=(4 * len(METRICS), 3.6))
    axes = figure.subplots(1, len(METRICS), sharey=True)
    for axis, metric in zip(axes, METRICS):
        for index, (name, summary) in enumerate(summaries.items()):
            values = summary["per_turn"][metric]
            # earlier runs draw wider, so a run hidden under an equal one still shows at its edges
            axis.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name,
                      linestyle=("-", "--", "-.", ":")[index % 4], linewidth=max(1.0, 3.2 - 0.4 * index))
        axis.set_title(metric)
        axis.set_xlabel("turn")
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("score")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06 * ((len(labels) + 2) // 3), 1, 1))
    figure.savefig(path, dpi=110, format="png")  # by name: a file written aside has no .png suffix


def _distinct_names(runs: list[tuple[str, dict[str, Any], dict[str, Any]]],
                    run_dirs: Sequence[Path]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Runs that share a label are told apart by their folder (and a number for a folder given twice):
    one name per run, or the plot would draw only the last of them."""
    counts = Counter(name for name, _, _ in runs)
    named = [(f"{name} ({Path(folder).name})" if counts[name] > 1 else name, meta, summary)
             for (name, meta, summary), folder in zip(runs, run_dirs, strict=True)]
    seen: Counter[str] = Counter()
    distinct = []
    for name, meta, summary in named:
        seen[name] += 1
        distinct.append((name if seen[name] == 1 else f"{name} #{seen[name]}", meta, summary))
    return distinct


def _read_run(run_dir: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(label, run.json, summary.json) of a run folder written by :func:`write_run`, or a clear error."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        if (run_dir / "eval" / "summary.json").is_file():  # a training run: its evaluation is one folder down
            raise EvalInputError(f"{run_dir} is a training run; compare its evaluation, {run_dir / 'eval'}.")
        raise EvalInputError(f"{run_dir} is not a run folder (no summary.json).")
    meta_path = run_dir / "run.json"
    summary = _json_object(summary_path)
    missing = [f"per_turn.{m}" for m in METRICS if not summary.get("per_turn", {}).get(m)]
    missing += [f"mean.{m}" for m in METRICS if m not in summary.get("mean", {})]
    missing += [] if "n_sessions" in summary else ["n_sessions"]
    if missing:
        raise EvalInputError(f"{summary_path} is incomplete: it lacks {', '.join(missing)}.")
    numbers = [*(v for m in METRICS for v in _as_list(summary["per_turn"][m])), *(summary["mean"][m] for m in METRICS),
               summary.get("last_turn_SR", 0.0)]
    if not all(_is_number(value) for value in numbers) or not isinstance(summary["n_sessions"], int):
        raise EvalInputError(f"{summary_path} is damaged: its scores must be numbers (per_turn lists of numbers).")
    meta = _json_object(meta_path) if meta_path.is_file() else {"reasoner": "?", "editor": "?", "sessions": str(run_dir)}
    if not _is_number(meta.get("wall_seconds", 0)):
        raise EvalInputError(f"{meta_path} is damaged: wall_seconds must be a number.")
    return label(meta), meta, summary


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [None]  # not a list: reported as damaged


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise EvalInputError(f"{path} is damaged: {error}.") from None
    if not isinstance(value, dict):
        raise EvalInputError(f"{path} is damaged: not a JSON object.")
    return value


def compare_runs(run_dirs: Sequence[Path], out: Path, *, title: str = "Comparison of runs") -> Path:
    """Side-by-side report (comparison.md) and one plot (comparison.png) of several run folders.

    Every folder is read and checked before ``out`` is made, so a bad one leaves nothing behind.
    """
    runs = _distinct_names([_read_run(Path(run_dir)) for run_dir in run_dirs], run_dirs)
    out.mkdir(parents=True, exist_ok=True)
    plot_per_turn({name: summary for name, _, summary in runs}, out / "comparison.png")
    lines = [f"# {title}", "", "| run | sessions | IF | CC | GA | SR | SR at each session's last turn | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, meta, summary in runs:
        means = " | ".join(f"{summary['mean'][m]:.3f}" for m in METRICS)
        # summaries written before last_turn_SR: their splits have one session length, where the two agree
        last = summary.get("last_turn_SR", summary["per_turn"]["SR"][-1])
        lines.append(f"| {name} | {summary['n_sessions']} | {means} | {last:.3f} | {meta.get('wall_seconds', 0):.1f} |")
    for metric in METRICS:
        width = max(len(s["per_turn"][metric]) for _, _, s in runs)
        lines += ["", f"## {metric} per turn", "", "| run | " + " | ".join(str(t) for t in range(1, width + 1)) + " |",
                  "|---|" + "---:|" * width]
        for name, _, summary in runs:
            values = summary["per_turn"][metric]
            lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |" + " |" * (width - len(values)))
    lines += ["", "![per-turn comparison](comparison.png)", ""]
    report = out / "comparison.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def plot_checkpoint_curves(results: Sequence[dict[str, Any]], path: Path, metric: str = "GA") -> None:
    """Mean ``metric`` by training step: one panel per evaluation set, one line per run.

    ``results`` are ``scripts/rl_checkpoints.py`` outputs (``run``, ``split``, ``sessions``, ``rows``). A run
    scored at step 0 (its untrained start) also draws that level across its panel, the line RL has to clear.
    """
    panels: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        panels[f"{result['split']}, {result['sessions']} sessions"].append(result)
    colours = {run: f"C{index}" for index, run in enumerate(dict.fromkeys(r["run"] for r in results))}
    figure = Figure(figsize=(5 * len(panels), 3.8))
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)
    for axis, (title, members) in zip(axes[0], panels.items()):
        for result in members:
            steps = [row["step"] for row in result["rows"]]
            values = [row[metric] for row in result["rows"]]
            axis.plot(steps, values, marker="o", markersize=4, color=colours[result["run"]], label=result["run"])
            if steps[0] == 0:
                axis.axhline(values[0], color="black", linestyle=":", linewidth=1, label="the start (step 0)")
        axis.set_title(title)
        axis.set_xlabel("training step")
        axis.grid(alpha=0.3)
    handles = {label: handle for axis in axes[0] for handle, label in zip(*axis.get_legend_handles_labels())}
    figure.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(5, len(handles)), fontsize=8,
                  frameon=False)
    axes[0][0].set_ylabel(f"mean {metric}")
    figure.tight_layout(rect=(0, 0.09, 1, 1))
    figure.savefig(path, dpi=110, format="png")  # by name: a file written aside has no .png suffix
