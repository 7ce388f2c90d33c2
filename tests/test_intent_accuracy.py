"""evals/llm_intent_accuracy.py: the teacher-forced intent check, per task type and per turn."""

from __future__ import annotations

import json
from pathlib import Path

from evals.llm_intent_accuracy import Args, main


def test_rule_intents_are_exact_at_every_turn_and_the_raw_instruction_is_not(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    out = tmp_path / "accuracy.json"
    results = main(Args(split="world-test", sessions=4, reasoners=["rules", "passthrough"], out=out))
    rules, raw = results["reasoners"]["rules"], results["reasoners"]["passthrough"]
    turns = max(int(turn) for turn in rules["by_turn"])
    assert rules["intent_accuracy"] == 1.0 and set(rules["by_turn"].values()) == {1.0}
    assert rules["turns"] == raw["turns"] >= 4 * 2 and turns >= 2
    assert raw["intent_accuracy"] < 1.0
    assert sorted(raw["by_turn"]) == list(range(1, turns + 1))
    assert min(raw["by_turn"].values()) <= raw["intent_accuracy"] <= max(raw["by_turn"].values())
    assert results["split"] == "evals/splits/world-test.jsonl"  # reports do not name the machine's folders
    saved = json.loads(out.read_text())["reasoners"]["passthrough"]
    assert saved["by_turn"] == {str(k): v for k, v in raw["by_turn"].items()}
