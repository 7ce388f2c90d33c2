"""Summarise training logs: reward, IF/CC/GA first vs last quarter of the steps, KL, seconds per step.

    python scripts/rl_log_summary.py rl/runs/*/log.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rl.plots import read_log


def summary(path: Path) -> str:
    records = read_log(path)
    if not records:
        raise ValueError("no steps logged yet")
    quarter = max(1, len(records) // 4)
    first, last = records[:quarter], records[-quarter:]

    def mean(rows: list[dict], key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    changes = "; ".join(f"{key} {mean(first, key):.3f} -> {mean(last, key):.3f}"
                        for key in ("reward", "IF", "CC", "GA", "filtered_fraction"))
    return (f"{path}: {len(records)} steps, {sum(r['rollouts'] for r in records)} rollouts; first vs last quarter: "
            f"{changes}; KL (last quarter) {mean(last, 'kl'):.2e}; image clip fraction {mean(records, 'image_clip_fraction'):.3f}; "
            f"s/step {mean(records, 'seconds'):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    failed = False
    for path in parser.parse_args().logs:
        try:
            print(summary(path))
        except (OSError, ValueError, KeyError) as error:  # a missing or foreign file: said, and the others go on
            print(f"{path}: cannot be summarised ({type(error).__name__}: {error})", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
