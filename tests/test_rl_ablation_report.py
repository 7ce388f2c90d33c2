"""The ablation report's paired comparison: each run against the first row, session by session."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.rl_ablation_report import budget, budget_cell, paired_changes, paired_table


def turn(session: str, number: int, intent: str, instruction_following: float, success: float) -> dict:
    # GA follows success here, enough to check the paired difference by hand.
    return {"session": session, "turn": number, "intent": intent, "IF": instruction_following, "SR": success,
            "GA": success}


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
    # Session GA differences: a 0, b +1, c -1 -> mean 0, sd 1, half-width 1.96 / sqrt(3) = 1.132.
    assert paired_changes(by_key(SFT), by_key(RL)) == "2 of 3 | 1 / 1 | 1 / 1 | +0.000 (-1.132 to +1.132)"
    assert paired_changes(by_key(SFT), by_key(SFT)) == "0 of 3 | 0 / 0 | 0 / 0 | +0.000 (+0.000 to +0.000)"


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
        "| RL joint (s0) | 2 of 3 | 1 / 1 | 1 / 1 | +0.000 (-1.132 to +1.132) |",
        "| RL joint (s1) | 2 of 3 | 1 / 1 | 1 / 1 | +0.000 (-1.132 to +1.132) |"]


def test_seeds_whose_folders_share_a_name_are_told_apart_by_their_parents(tmp_path: Path) -> None:
    sft = write_turns(tmp_path / "sft", SFT)
    seeds = []
    for seed in (0, 1):
        (tmp_path / f"seed-{seed}").mkdir()
        seeds.append(write_turns(tmp_path / f"seed-{seed}" / "step-5", RL))
    lines = paired_table([("SFT", [sft]), ("RL", seeds)])
    assert [line.split(" | ")[0] for line in lines if line.startswith("| RL")] == ["| RL (seed-0/step-5)", "| RL (seed-1/step-5)"]


def test_paired_table_is_left_out_when_a_run_kept_no_turns(tmp_path: Path) -> None:
    sft = write_turns(tmp_path / "sft", SFT)
    (tmp_path / "summary-only").mkdir()
    assert paired_table([("SFT", [sft]), ("RL", [tmp_path / "summary-only"])]) == []


def test_paired_ga_difference_averages_per_session_then_over_sessions() -> None:
    from scripts.rl_ablation_report import paired_ga_difference

    base = by_key([{"session": s, "turn": t, "GA": 0.5} for s in "ab" for t in (1, 2)])
    run = by_key([{"session": "a", "turn": 1, "GA": 1.0}, {"session": "a", "turn": 2, "GA": 0.5},
                  {"session": "b", "turn": 1, "GA": 0.5}, {"session": "b", "turn": 2, "GA": 1.0}])
    assert paired_ga_difference(base, run) == (0.25, 0.0)  # both sessions gain 0.25: no spread


def write_log(folder: Path, records: list[dict]) -> Path:
    folder.mkdir()
    (folder / "log.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return folder


def test_the_budget_says_how_many_sessions_a_run_played_where_its_log_has_them(tmp_path: Path) -> None:
    informative = write_log(tmp_path / "informative", [
        {"step": 1, "rollouts": 512, "sessions_rolled": 256, "seconds": 200.0},
        {"step": 2, "rollouts": 512, "sessions_rolled": 192, "seconds": 180.0}])
    older = write_log(tmp_path / "older", [{"step": 1, "rollouts": 512, "seconds": 100.0}])
    assert budget_cell([budget(informative), budget(older)]) == "2 x 512 (448 sessions played) / 1 x 512"
