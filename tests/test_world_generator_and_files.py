"""The seeded session generator and session files (docs/world.md format, Edit-R2/EDiVal rows)."""

from __future__ import annotations

import io
import json
import re
from collections import Counter

import pytest
from pydantic import ValidationError

from edit_agent.world import (
    GeneratorConfig,
    SessionFileError,
    WorldSession,
    complete,
    generate_sessions,
    interpret,
    read_sessions,
    read_world_sessions,
    write_sessions,
)
from edit_agent.world.sessions import PhotoSession


@pytest.fixture(scope="module")
def sessions():
    return generate_sessions(400, turns=(1, 10), seed=5)


def test_deterministic_and_lengths(sessions):
    assert generate_sessions(400, turns=(1, 10), seed=5) == sessions
    assert generate_sessions(5, turns=(1, 10), seed=6) != sessions[:5]
    assert {len(s.turns) for s in sessions} == set(range(1, 11))
    assert all(len(s.turns) == 4 for s in generate_sessions(10, turns=4, seed=1))


def test_targets_are_the_interpreters(sessions):
    for session in sessions[:100]:
        outcomes = interpret(session.start, [t.instruction for t in session.turns])
        assert [o.target for o in outcomes] == [t.target for t in session.turns]
        assert [o.task_type for o in outcomes] == [t.task_type for t in session.turns]


def test_covers_every_construct_with_varied_phrasing(sessions):
    turns = [t for s in sessions for t in s.turns]
    kinds = Counter(t.task_type.removeprefix("rule+") for t in turns)
    for kind in ("add", "remove", "recolor", "move", "resize", "reshape", "background", "undo", "restore", "rule"):
        assert kinds[kind] >= 20, kind
    assert any(t.task_type.startswith("rule+") for t in turns)
    text = " | ".join(t.instruction.lower() for t in turns)
    for phrase in ("it ", "you just added", "you moved", "originally", "all ", "every ", "don't touch",
                   "again", "must be", "undo", "back where it was", "sky"):
        assert phrase in text, phrase
    # several phrasings per edit: the first word of recolour instructions varies
    first_words = Counter(t.instruction.split()[0].lower() for t in turns if t.task_type == "recolor")
    assert len(first_words) >= 5


def test_rates_are_parameters():
    none = GeneratorConfig(undo_rate=0, restore_rate=0, rule_rate=0, group_rate=0, pronoun_rate=0, history_rate=0, noop_rate=0)
    turns = [t for s in generate_sessions(100, turns=5, seed=2, config=none) for t in s.turns]
    kinds = {t.task_type for t in turns}
    assert not kinds & {"undo", "restore", "rule"} and not any(k.startswith("rule+") for k in kinds)
    assert not any(re.search(r"\b(it|all|every|originally)\b", t.instruction) for t in turns)
    many = GeneratorConfig(undo_rate=0.5)
    undos = sum(t.task_type == "undo" for s in generate_sessions(100, turns=5, seed=2, config=many) for t in s.turns)
    assert undos > 150


def test_write_read_round_trip(sessions):
    stream = io.StringIO()
    assert write_sessions(sessions[:20], stream) == 20
    assert read_world_sessions(io.StringIO(stream.getvalue())) == sessions[:20]
    row = json.loads(stream.getvalue().splitlines()[0])
    assert set(row) == {"id", "start", "turns"} and set(row["turns"][0]) == {"instruction", "task_type", "target"}


def test_targets_optional_on_input_and_ground_truth_when_given():
    line = {"id": "a", "start": {"background": "white", "objects": []},
            "turns": [{"instruction": "add a circle at the center"}, {"instruction": "make it blue"}]}
    [session] = read_sessions(io.StringIO(json.dumps(line)))
    filled = complete(session)
    assert filled.turns[1].target.objects[0].color == "blue" and filled.turns[1].task_type == "recolor"
    given = {"background": "beige", "objects": []}
    line["turns"][0]["target"] = given
    [session] = read_sessions(io.StringIO(json.dumps(line)))
    assert complete(session).turns[0].target.background == "beige"  # the file's target is kept


def test_a_turn_in_other_words_is_written_with_a_task_type():
    given = {"background": "beige", "objects": []}
    line = {"id": "theirs", "start": {"background": "white", "objects": []},
            "turns": [{"instruction": "give the canvas a beige coat", "target": given}]}
    stream = io.StringIO()
    write_sessions(read_world_sessions(io.StringIO(json.dumps(line))), stream)
    assert json.loads(stream.getvalue())["turns"][0] == {**line["turns"][0], "task_type": "unread"}  # as evals writes it
    line["turns"][0]["task_type"] = "background"
    assert complete(read_world_sessions(io.StringIO(json.dumps(line)))[0]).turns[0].task_type == "background"


def test_edival_rows(tmp_path):
    row = {"image_id": 7, "source_image": "photos/cat.png", "instruction": ["make the cat red", "remove the hat"],
           "task_type": ["color_alter", "subject_remove"], "formatted_instruction": ["Change the cat to red.", "Remove the hat."],
           "unchanged_objects": [["hat"], []], "all_objects": [["cat", "hat"], ["cat", "hat"]]}
    path = tmp_path / "edival.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [session] = read_sessions(path)
    assert isinstance(session, PhotoSession) and session.id == "7"
    assert session.source_image == str(tmp_path / "photos/cat.png")
    assert [t.task_type for t in session.turns] == ["color_alter", "subject_remove"]
    assert session.turns[0].unchanged_objects == ["hat"]
    with pytest.raises(SessionFileError, match="photo rows"):
        read_world_sessions(path)


@pytest.mark.parametrize("line,message", [
    ("{not json", "line 1"),
    ('{"id": "x", "start": {"background": "red", "objects": []}, "turns": []}', "background"),
    ('{"id": "x"}', "neither"),
    ('{"image": "a.png", "instruction": ["a", "b"], "task_type": ["x"]}', "as long as"),
    ('{"instruction": ["a"]}', "source image"),
    ('{"id": "s\\ud800", "start": {"background": "white", "objects": []}, "turns": [{"instruction": "add a red circle"}]}',
     "lone surrogate"),
    ('{"id": "x", "start": {"background": "white", "objects": []}, "turns": [{"instruction": "%s"}]}'
     % ("add a red circle " * 200), "at most 2000 characters"),
])
def test_bad_files_name_the_line(line, message):
    with pytest.raises(SessionFileError, match=message):
        read_sessions(io.StringIO("\n" + line if message == "line 2" else line))


def test_missing_file(tmp_path):
    with pytest.raises(SessionFileError, match="No session file"):
        read_sessions(tmp_path / "missing.jsonl")


def test_world_session_is_a_record():
    session = generate_sessions(1, turns=2, seed=0)[0]
    assert isinstance(session, WorldSession)
    with pytest.raises(ValidationError):
        session.id = "changed"


def test_a_negative_seed_is_refused_not_read_as_its_positive():
    from edit_agent.world.generator import generate_sessions

    # Python's random takes |seed|: seed -20260202 regenerated world-test under another name
    with pytest.raises(ValueError, match="0 or more"):
        generate_sessions(1, seed=-1)
    assert generate_sessions(1, seed=0)
