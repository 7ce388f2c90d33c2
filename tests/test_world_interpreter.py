"""The interpreter: every construct of docs/world.md and its no-op cases.

Every test also checks the self-contained intent: interpreting it alone on T_{t-1} gives T_t.
"""

from __future__ import annotations

import pytest

from edit_agent.world import (
    Scene,
    SceneObject,
    WorldLanguageError,
    apply_program,
    interpret,
)


def O(text: str) -> SceneObject:  # "small red circle top-left"
    size, color, shape, cell = text.split()
    return SceneObject(shape=shape, color=color, size=size, cell=cell)


def scene(*objects: str, background: str = "white") -> Scene:
    return Scene(background=background, objects=tuple(O(o) for o in objects))


def run(start: Scene, *instructions: str):
    outcomes = interpret(start, instructions)
    for outcome in outcomes:
        assert apply_program(outcome.before, outcome.intent) == outcome.target, outcome
        assert outcome.changed == (outcome.noop_reason is None)
    return outcomes


def final(start: Scene, *instructions: str) -> Scene:
    return run(start, *instructions)[-1].target


def test_add_with_defaults_and_first_empty_cell():
    start = scene("large blue square top-left")
    [out] = run(start, "add a small red circle at the top left")
    assert not out.changed and "occupied" in out.noop_reason
    [out] = run(start, "add a circle")
    assert out.target.object_at("top-center") == O("large red circle top-center")
    assert out.intent == "Add a large red circle at the top center."
    [out] = run(start, "draw a tiny green diamond in the middle")
    assert out.target.object_at("center") == O("small green diamond center")


def test_add_noops():
    full = Scene(background="white", objects=tuple(O(f"small red circle {c}") for c in
                 ("top-left", "top-center", "top-right", "middle-left", "center", "middle-right",
                  "bottom-left", "bottom-center", "bottom-right")))
    assert "every cell is occupied" in run(full, "add a square")[0].noop_reason
    assert "shape" in run(scene(), "add a red one at the center")[0].noop_reason
    assert "vocabulary" in run(scene(), "add a pink circle")[0].noop_reason
    assert "vocabulary" in run(scene(), "add a star")[0].noop_reason
    assert "background colour" in run(scene(), "add a beige circle")[0].noop_reason


def test_default_rules_fill_and_replace():
    outs = run(scene(), "From now on, every new shape must be blue.", "add a circle at the center",
               "For the rest of the session, every new shape must be small. Add a square at the top left.",
               "From now on every new shape must be green", "add a large diamond", "add a red triangle")
    assert outs[0].task_type == "rule" and not outs[0].changed
    assert outs[1].target.object_at("center") == O("large blue circle center")
    assert outs[2].task_type == "rule+add"
    assert outs[2].target.object_at("top-left") == O("small blue square top-left")
    assert outs[4].target.object_at("top-center") == O("large green diamond top-center")
    assert outs[5].target.object_at("top-right") == O("small red triangle top-right")
    assert [c.text for c in outs[5].constraints] == ["every new shape must be green", "every new shape must be small"]


def test_remove_recolor_resize_reshape_background():
    start = scene("large blue square top-left", "small red circle center", "large yellow triangle bottom-right")
    assert final(start, "remove the blue square").object_at("top-left") is None
    assert final(start, "get rid of the shape at the center").object_at("center") is None
    assert final(start, "make the circle green").object_at("center").color == "green"
    assert final(start, "paint the big square yellow").object_at("top-left").color == "yellow"
    assert final(start, "make the red circle large").object_at("center").size == "large"
    assert final(start, "shrink the triangle").object_at("bottom-right").size == "small"
    assert final(start, "enlarge the circle").object_at("center").size == "large"
    assert final(start, "turn the square into a circle").object_at("top-left") == O("large blue circle top-left")
    assert final(start, "replace the triangle with a diamond").object_at("bottom-right") == O("large yellow diamond bottom-right")
    assert final(start, "change the background to beige").background == "beige"
    assert final(start, "change the background to sky blue").background == "sky"


def test_values_outside_the_vocabulary_are_noops():
    start = scene("small red circle center")
    for instruction in ("make the circle beige", "change the background to red", "move the circle up and to the left",
                        "turn the circle into a star", "make the circle pink", "make the circle medium",
                        "From now on every new shape must be white. Add a square."):
        out = run(start, instruction)[0]
        assert not out.changed and out.noop_reason, instruction


def test_moves():
    start = scene("small red circle center", "large blue square top-left")
    assert final(start, "move the triangle to the bottom right") == start  # no triangle
    assert final(start, "move the circle to the bottom right").object_at("bottom-right").shape == "circle"
    assert final(start, "move it left", ) == start  # "it" picks nothing at turn 1
    outs = run(start, "move the circle left", "move it up")
    assert outs[0].target.object_at("middle-left").shape == "circle"
    assert "occupied" in outs[1].noop_reason
    assert "leave the grid" in run(start, "move the square up")[0].noop_reason
    assert "occupied" in run(start, "move the circle to the top left")[0].noop_reason
    assert "diagonal" in run(start, "move the circle diagonally up-right")[0].noop_reason


def test_references_by_attributes():
    start = scene("small red circle top-left", "large red square center", "large blue circle bottom-right")
    assert final(start, "make the big one small") == start  # two large objects: ambiguous
    assert "several" in run(start, "make the circle green")[0].noop_reason
    assert final(start, "make the blue one green").object_at("bottom-right").color == "green"
    assert final(start, "remove the red circle").object_at("top-left") is None
    assert final(start, "remove the shape at the top left").object_at("top-left") is None
    assert final(start, "make the small one large").object_at("top-left").size == "large"
    assert "no object" in run(start, "remove the green circle")[0].noop_reason


def test_it_follows_the_last_single_object_edit():
    start = scene("small red circle top-left", "large blue square center")
    outs = run(start, "move the circle right", "make it green", "undo", "enlarge it")
    assert outs[1].target.object_at("top-center").color == "green"
    assert outs[2].target.object_at("top-center").color == "red"  # undo of the recolor
    assert outs[3].target.object_at("top-center").size == "large"  # "it": the move (undos skipped)


@pytest.mark.parametrize("breaker", ["change the background to gray", "make all shapes green", "remove the square"])
def test_it_picks_nothing_after_background_group_or_remove(breaker):
    start = scene("small red circle top-left", "large blue square center")
    outs = run(start, "make the circle yellow", breaker, "make it black")
    assert not outs[2].changed and "picks no" in outs[2].noop_reason


def test_it_skips_noops_and_rules():
    start = scene("small red circle top-left", "large blue square center")
    outs = run(start, "make the circle yellow", "move the square up and left", "From now on, don't touch the square",
               "make it green")
    assert outs[3].target.object_at("top-left").color == "green"
    # a rule in the same turn touches nothing either: "it" is still the circle
    outs = run(start, "make the circle yellow", "From now on, leave the square unchanged. Make it black.")
    assert outs[1].target.object_at("top-left").color == "black"


def test_history_references():
    start = scene("small blue circle top-left", "large red square center")
    outs = run(start, "add a triangle at the bottom right", "move the square to the top right",
               "make the one you just added green", "make the shape you moved small")
    assert outs[2].target.object_at("bottom-right").color == "green"
    assert outs[3].target.object_at("top-right").size == "small"
    # the most recent add took effect but its object is gone: nothing (not an earlier add)
    outs = run(start, "add a triangle at the bottom right", "add a diamond at the bottom left", "remove the diamond",
               "make the one you just added black")
    assert not outs[3].changed
    # an undone add does not count
    outs = run(start, "add a triangle at the bottom right", "add a diamond at the bottom left", "undo",
               "make the one you just added black")
    assert outs[3].target.object_at("bottom-right").color == "black"
    # a restore is not a move
    outs = run(start, "move the circle to the bottom left", "move the square to the top right",
               "put the circle back where it was at the start", "make the shape you moved purple")
    assert outs[3].target.object_at("top-right").color == "purple"


def test_originally_references():
    start = scene("small blue circle top-left", "large red square center", "large red triangle bottom-right")
    outs = run(start, "make the circle green", "make the shape that was originally blue yellow")
    assert outs[1].target.object_at("top-left").color == "yellow"
    assert "several" in run(start, "remove the shape that was originally red")[0].noop_reason
    outs = run(start, "remove the triangle", "remove the shape that was originally red")
    assert outs[1].target.object_at("center") is None  # only one red one still exists
    outs = run(start, "add a blue circle at the bottom left", "remove the shape that was originally blue")
    assert outs[1].target.object_at("top-left") is None and outs[1].target.object_at("bottom-left") is not None
    assert final(start, "make the shape that was originally at the center blue").object_at("center").color == "blue"


def test_groups():
    start = scene("small blue circle top-left", "large red circle center", "large red square bottom-right")
    assert {o.color for o in final(start, "make all circles yellow").objects if o.shape == "circle"} == {"yellow"}
    assert [o.cell for o in final(start, "remove every red shape").objects] == ["top-left"]
    assert {o.size for o in final(start, "shrink all shapes").objects} == {"small"}
    assert "cannot take a group" in run(start, "move all circles to the top right")[0].noop_reason
    assert "cannot take a group" in run(start, "turn every circle into a square")[0].noop_reason
    assert "no object" in run(start, "remove all triangles")[0].noop_reason
    outs = run(start, "From now on, leave the red square unchanged", "make everything green")
    assert outs[1].target.object_at("bottom-right").color == "red"
    assert outs[1].target.object_at("center").color == "green"


def test_locks_block_every_direct_edit_and_can_be_lifted():
    start = scene("small blue circle top-left", "large green square center")
    lock = "For the rest of the session, leave the green square unchanged."
    for edit in ("remove the square", "move the square to the bottom left", "make the square red",
                 "shrink the square", "turn the square into a circle", "move the square down"):
        outs = run(start, lock, edit)
        assert not outs[1].changed and "locked" in outs[1].noop_reason, edit
    outs = run(start, "move the square to the bottom left", lock, "put the square back where it was at the start")
    assert "locked" in outs[2].noop_reason
    outs = run(start, lock, "make all shapes purple", "you may change the green square again", "make the square red")
    assert outs[1].target.object_at("center").color == "green"
    assert outs[3].target.object_at("center").color == "red"
    assert outs[0].locked_cells == ("center",) and outs[2].locked_cells == ()


def test_lock_follows_the_object_and_resolves_over_locked_objects():
    start = scene("small blue circle top-left", "large green square center")
    outs = run(start, "From now on, don't touch the square", "make the circle green",
               "make the green one yellow", "make the small green circle purple")
    assert "several" in outs[2].noop_reason  # references resolve over locked objects too
    assert outs[3].target.object_at("top-left").color == "purple"
    outs = run(start, "move the square to the bottom center", "From now on, don't touch it", "make everything black")
    assert outs[2].target.object_at("bottom-center").color == "green"
    assert outs[2].locked_cells == ("bottom-center",)


def test_lock_picking_none_or_several_sets_nothing():
    start = scene("small blue circle top-left", "large blue square center")
    outs = run(start, "make the circle red", "make the square red", "From now on, don't touch the red one", "undo")
    assert outs[2].constraints == () and not outs[2].rules_changed
    assert outs[3].target.object_at("center").color == "blue"  # the undo skips the lock that set nothing
    out = run(start, "From now on, leave the triangle unchanged")[0]
    assert out.constraints == () and out.noop_reason == "'the triangle' picks no object, so the lock sets nothing"
    assert outs[2].noop_reason == "'the red one' picks several objects, so the lock sets nothing"  # says why
    again = run(start, "From now on, leave the circle unchanged", "From now on, leave the circle unchanged",
                "From now on every new shape must be small", "From now on every new shape must be small")
    assert again[1].noop_reason == "the small blue circle at the top left is already locked"
    assert again[3].noop_reason == "that rule is already in force"


def test_undo_across_rules_and_locks():
    start = scene("small blue circle top-left", "large green square center")
    outs = run(start, "From now on every new shape must be yellow. Add a triangle at the bottom left.",
               "From now on, leave the circle unchanged", "make all shapes red", "undo", "undo",
               "make all shapes red", "undo", "undo", "add a diamond at the top right")
    assert outs[3].target == outs[1].target and outs[3].locked_cells == ("top-left",)
    assert outs[4].target == outs[1].target and outs[4].locked_cells == () and not outs[4].changed
    assert outs[4].noop_reason.startswith("the turn changes only the rules")
    assert outs[5].target.object_at("top-left").color == "red"  # the lock is gone
    assert outs[7].target == start and outs[7].constraints == ()  # rule and add reverted together
    assert outs[8].target.object_at("top-right") == O("large red diamond top-right")  # default rule gone


def test_undo_skips_noops_and_undos_and_brings_back_the_same_object():
    start = scene("small blue circle top-left")
    outs = run(start, "make the circle red", "remove the square", "undo", "undo", "undo")
    assert outs[2].target == start
    assert "nothing left to undo" in outs[3].noop_reason and "nothing left" in outs[4].noop_reason
    outs = run(start, "remove the circle", "undo", "make the shape that was originally blue green", "undo that",
               "revert the last change")
    assert outs[2].target.object_at("top-left").color == "green"  # the same object came back
    assert outs[3].target == start
    assert "nothing left" in outs[4].noop_reason  # the remove is undone and an undo is not undoable


def test_undo_carries_no_rule_and_one_rule_one_edit_per_turn():
    start = scene("small blue circle top-left")
    assert "no rule" in run(start, "make it red", "From now on every new shape must be blue. Undo.")[1].noop_reason
    out = run(start, "From now on every new shape must be blue. From now on every new shape must be small.")[0]
    assert "at most one rule" in out.noop_reason and out.constraints == ()
    out = run(start, "Make the circle red. Remove the circle.")[0]
    assert "at most one edit" in out.noop_reason
    out = run(start, "Add a square. From now on, every new shape must be blue.")[0]
    assert "before the edit" in out.noop_reason


def test_restore_after_several_edits():
    start = scene("small blue circle top-left", "large red square center")
    outs = run(start, "make the circle green", "move it to the bottom right", "make it large", "turn it into a diamond",
               "give the diamond back its original color", "give it back its original size",
               "give it back its original shape", "put it back where it was at the start")
    assert outs[-1].target == start
    assert "not in the start scene" in run(start, "add a triangle at the bottom left",
                                           "give the triangle back its original color")[1].noop_reason
    outs = run(start, "move the circle to the bottom left", "add a triangle at the top left",
               "put the circle back where it was at the start")
    assert "occupied" in outs[2].noop_reason
    outs = run(start, "give the circle back its original size")
    assert not outs[0].changed and "already" in " ".join(outs[0].trace)
    assert "cannot take a group" in run(start, "make all shapes yellow",
                                        "give all shapes back their original color")[1].noop_reason


def test_trace_names_references_rules_undos_and_noops():
    start = scene("small blue circle top-left", "large red square center")
    outs = run(start, "From now on, don't touch the square", "make it green", "make the circle red", "undo")
    assert any("picks the large red square at the center" in line for line in outs[0].trace)
    assert any("picks nothing" in line for line in outs[1].trace)
    assert any("Undo reverts turn 3" in line for line in outs[3].trace)
    assert outs[3].constraints[0].text == "leave the large red square at the center unchanged"


def test_text_outside_the_language_raises():
    for text in ("qzx vlorp the wibble", "rotate the image 90 degrees", "", "make the wibble blue"):
        with pytest.raises(WorldLanguageError):
            interpret(scene(), [text])


def test_program_sentences_apply_in_order():
    start = scene("small blue circle top-left", "large red square center")
    text = "Recolor the small blue circle at the top left to green. Remove the large red square at the center."
    assert apply_program(start, text) == scene("small green circle top-left")
    assert apply_program(start, "Make no change.") == start
    assert apply_program(start, "undo") == start  # nothing to undo in a fresh program


def test_lock_by_a_group_phrase_locks_only_a_single_match():
    start = scene("small blue circle top-left", "large blue square center", "large red square bottom-right")
    assert run(start, "From now on, don't touch every circle")[0].locked_cells == ("top-left",)
    assert run(start, "From now on, don't touch all squares")[0].constraints == ()


@pytest.mark.parametrize(("instructions", "said"), [
    (["make the circle blue", "undo that"], "restoring the scene exactly as it was before that turn."),
    (["remove the circle", "undo that"], "exactly as it was before that turn (a removed object comes back as itself)."),
    (["from now on every new shape must be green", "undo that"],
     "restoring the rules and locks exactly as they were before that turn."),
])
def test_the_undo_trace_says_what_it_restores(instructions, said):
    *_, undo = run(scene("large red circle center"), *instructions)
    assert undo.trace[-1].endswith(said)
