"""The ablation report's paired comparison: each run against the first row, session by session."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.rl_ablation_report import paired_changes, paired_table


def turn(session: str, number: int, intent: str, instruction_following: float, success: float) -> dict:
    return {"session": session, "turn": number, "intent": intent, "IF": instruction_following, "SR": success}


def by_key(rows: list[dict]) -> dict:
    return {(row["session"], row["turn"]): row for row in rows}


SFT = [turn("a", 1, "Add a red circle.", 1.0, 1.0), turn("a", 2, "Make no change.", 1.0, 1.0),
       turn("b", 1, "Remove the blue square.", 0.0, 0.0), turn("b", 2, "Make no change.", 1.0, 0.0),
       turn("c", 1, "Move the circle.", 1.0, 1.0), turn("c", 2, "Make no change.", 1.0, 1.0)]
# RL fixes b's first answer (and so the session), breaks c's, and leaves a as it was.
RL = [turn("a", 1, "Add a red circle.", 1.0, 1.0), turn("a", 2, "Make no change.", 1.0, 1.0),
      turn("b", 1, "Remove the green square.", 1.0, 1.0), turn("b", 2, "Make no change.", 1.0, 1.0),
      turn("c", 1, "Move the square.", 0.0, 0.0), turn("c", 2, "Make no change.", 1.0, 0.0)]


def test_paired_changes_counts_changed_first_answers_and_last_turn_successes() -> None:
    assert paired_changes(by_key(SFT), by_key(RL)) == "2 of 3 | 1 / 1 | 1 / 1"
    assert paired_changes(by_key(SFT), by_key(SFT)) == "0 of 3 | 0 / 0 | 0 / 0"


def write_turns(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir()
    (folder / "turns.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_paired_table_lists_every_run_against_the_first_row(tmp_path: Path) -> None:
    sft = write_turns(tmp_path / "sft", SFT)
    seeds = [write_turns(tmp_path / f"s{seed}", RL) for seed in (0, 1)]
    lines = paired_table([("SFT", [sft]), ("RL joint", seeds)])
    assert lines[0] == "Against SFT, on the same sessions:"
    assert [line for line in lines if line.startswith("| RL joint")] == [
        "| RL joint (s0) | 2 of 3 | 1 / 1 | 1 / 1 |", "| RL joint (s1) | 2 of 3 | 1 / 1 | 1 / 1 |"]


def test_paired_table_is_left_out_when_a_run_kept_no_turns(tmp_path: Path) -> None:
    sft = write_turns(tmp_path / "sft", SFT)
    (tmp_path / "summary-only").mkdir()
    assert paired_table([("SFT", [sft]), ("RL", [tmp_path / "summary-only"])]) == []
