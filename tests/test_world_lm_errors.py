"""The turn-1 error tables: every world-test session counted once, by kind and by objects on the canvas."""

from __future__ import annotations

import json
import sys

from edit_agent.world.sessions import read_world_sessions
from evals.splits import split_path
from scripts import world_lm_errors


def test_turn_one_if_is_grouped_by_kind_and_by_objects_at_the_start(tmp_path, monkeypatch, capsys) -> None:
    sessions = read_world_sessions(split_path("world-test"))
    # A policy that is right exactly when the canvas starts with one object.
    rows = [{"session": s.id, "turn": 1, "IF": float(len(s.start.objects) == 1)} for s in sessions]
    rows += [{"session": s.id, "turn": 2, "IF": 0.5} for s in sessions]  # later turns are not counted
    (tmp_path / "turns.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setattr(sys, "argv", ["world_lm_errors.py", "--run", f"one-object={tmp_path}"])
    world_lm_errors.main()
    by_kind, by_count = capsys.readouterr().out.strip().split("\n\n")

    singles = sum(len(s.start.objects) == 1 for s in sessions)
    assert f"| all | {len(sessions)} | {singles / len(sessions):.2f} |" in by_kind
    assert sum(int(line.split("|")[2]) for line in by_kind.splitlines()[3:]) == len(sessions)
    assert "| add |" in by_kind and "| remove |" in by_kind
    assert f"| 1 object | {singles} | 1.00 |" in by_count
    assert all(line.endswith("| 0.00 |") for line in by_count.splitlines()[3:])
