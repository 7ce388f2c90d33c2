"""A plot of a training log (``log.jsonl``): reward per turn, IF/CC/GA, filtered fraction and KL over steps.

>>> import json, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> lines = [{"step": s, "reward": 0.5, "reward_per_turn": [0.6, 0.4], "IF": 0.5, "CC": 0.9, "GA": 0.7,
...           "filtered_fraction": 0.2, "kl": 0.01} for s in (1, 2)]
>>> _ = (folder / "log.jsonl").write_text("".join(json.dumps(line) + "\\n" for line in lines))
>>> plot_log(folder / "log.jsonl", folder / "log.png").exists()
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # not pyplot: files only, and the caller's backend (a notebook's) stays
from matplotlib.ticker import MaxNLocator


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a ``log.jsonl``; a resumed run's repeated steps keep their last record."""
    records: dict[int, dict[str, Any]] = {}
    lines = [(number, line) for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)
             if line.strip()]
    for number, line in lines:
        try:
            record = json.loads(line)
            records[int(record["step"])] = record
        except (ValueError, KeyError, TypeError):
            if number == lines[-1][0]:  # cut short by a kill mid-write: the steps before it stand
                break
            raise ValueError(f"{path}, line {number}: not a training log record") from None
    return [records[step] for step in sorted(records)]


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average (RL rewards are noisy step to step).

    >>> smooth([0.0, 1.0, 2.0, 3.0], 2)
    [0.0, 0.5, 1.5, 2.5]
    """
    out = []
    for index in range(len(values)):
        part = values[max(0, index - window + 1): index + 1]
        out.append(sum(part) / len(part))
    return out


def plot_log(path: Path, out: Path, *, title: str | None = None) -> Path:
    """Three panels: reward (mean and per turn), IF/CC/GA, filtered fraction and KL; lines smoothed. Every step
    is a marked point, so a run of one step shows one."""
    figure = log_figure(read_log(path), title=title or Path(path).parent.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    return out


def log_figure(records: list[dict[str, Any]], *, title: str) -> Figure:
    """The figure :func:`plot_log` saves, for the records of one log."""
    steps = [r["step"] for r in records]
    window = max(1, len(records) // 20)
    marked = {"marker": "o", "markersize": 3}
    figure = Figure(figsize=(15, 4.8))
    axes = figure.subplots(1, 3)
    axes[0].plot(steps, smooth([r["reward"] for r in records], window), label="mean", linewidth=2, **marked)
    for turn in range(len(records[0]["reward_per_turn"]) if records else 0):
        axes[0].plot(steps, smooth([r["reward_per_turn"][turn] for r in records], window), label=f"turn {turn + 1}",
                     alpha=0.7, **marked)
    axes[0].set_title("reward")
    axes[0].set_ylabel("reward (weighted IF, CC, GA)")
    for name, style in (("IF", "-"), ("CC", "--"), ("GA", ":")):  # dashed: a line under an equal one still shows
        axes[1].plot(steps, smooth([r[name] for r in records], window), style, label=name, **marked)
    axes[1].set_title("scores (rollouts)")
    axes[1].set_ylabel("score")
    axes[2].plot(steps, smooth([r["filtered_fraction"] for r in records], window), label="filtered fraction", **marked)
    axes[2].set_ylabel("filtered fraction of turns")
    kl_axis = axes[2].twinx()
    kl_axis.plot(steps, smooth([r["kl"] for r in records], window), color="tab:red", label="KL (right)", **marked)
    kl_axis.set_ylabel("KL to the reference")
    axes[2].set_title("filtered fraction and KL")
    for axis in axes:
        axis.set_xlabel("step")
        if len(steps) <= 12:
            axis.set_xticks(steps)  # a tick at each step of a short run (one step alone got ticks at 0.945 ...)
        else:
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole: no tick at 1.2
    # Legends go under the panels: inside, a long run's lines fill every corner, and the right panel's two axes
    # each placed theirs without seeing the other's lines (the filtered fraction's hid under the KL's).
    below = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16), "fontsize": 8, "frameon": False}
    axes[0].legend(ncol=4, **below)
    axes[1].legend(ncol=3, **below)
    left_handles, left_labels = axes[2].get_legend_handles_labels()
    right_handles, right_labels = kl_axis.get_legend_handles_labels()
    axes[2].legend(left_handles + right_handles, left_labels + right_labels, ncol=2, **below)
    averaged = f"moving average over {window} steps" if window > 1 else "one point a step"
    figure.suptitle(f"{title}: {averaged}")
    figure.tight_layout()
    return figure
