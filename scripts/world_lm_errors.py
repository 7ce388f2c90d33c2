"""Where a text policy's first answers go wrong on world-test: turn-1 IF by kind of instruction and by objects on the canvas.

    python scripts/world_lm_errors.py --run "sft-28k=evals/reports/rl_world_lm/from-sft-28k-t5/test500/sft-28k-t5"

Turn 1 is the one turn every policy answers from the same input (no history of its own), so it
isolates grounding from error build-up. A ``--run`` is ``label=folder`` with an ``rl_eval.py``
``turns.jsonl``; the kind of instruction is the session's own ``task_type`` for that turn.
Prints two markdown tables, one column per run.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from edit_agent.world.sessions import read_world_sessions
from evals.splits import split_path


def turn_one_kinds(split: str) -> dict[str, tuple[str, int]]:
    """Each session's instruction kind at turn 1 and the number of objects it starts with."""
    return {session.id: (session.turns[0].task_type, len(session.start.objects))
            for session in read_world_sessions(split_path(split))}


def turn_one_if(folder: Path) -> dict[str, float]:
    rows = (json.loads(line) for line in (folder / "turns.jsonl").open())
    return {row["session"]: row["IF"] for row in rows if row["turn"] == 1}


def table(title: str, groups: dict[str, list[str]], runs: dict[str, dict[str, float]]) -> str:
    lines = [f"| {title} | sessions | " + " | ".join(runs) + " |", "|---|---:|" + "---:|" * len(runs)]
    for group, sessions in groups.items():
        scores = " | ".join(f"{sum(scored[s] for s in sessions) / len(sessions):.2f}" for scored in runs.values())
        lines.append(f"| {group} | {len(sessions)} | {scores} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="label=folder holding turns.jsonl")
    parser.add_argument("--split", default="world-test")
    args = parser.parse_args()
    runs = {label: turn_one_if(Path(folder)) for label, folder in (item.split("=", 1) for item in args.run)}
    kinds = turn_one_kinds(args.split)
    by_kind, by_count = defaultdict(list), defaultdict(list)
    for session, (kind, count) in kinds.items():
        by_kind[kind].append(session)
        by_count[f"{count} object{'s' if count > 1 else ''}"].append(session)
    by_kind = dict(sorted(by_kind.items(), key=lambda item: -len(item[1])))
    print(table("turn-1 kind", {"all": list(kinds), **by_kind}, runs))
    print()
    print(table("objects at the start", dict(sorted(by_count.items())), runs))


if __name__ == "__main__":
    main()
