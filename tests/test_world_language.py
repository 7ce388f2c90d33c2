"""Phrasing: synonyms read the same, and values outside the vocabulary are marked, not guessed."""

from __future__ import annotations

import pytest

from edit_agent.world import WorldLanguageError, parse_turn
from edit_agent.world.language import CELL_PHRASES, DIRECTIONS, parse_ref


@pytest.mark.parametrize("text,kind", [
    ("add a small red circle at the top left", "add"), ("Draw a tiny green diamond in the upper right corner.", "add"),
    ("remove the blue square", "remove"), ("delete it", "remove"), ("get rid of the shape at the center", "remove"),
    ("take away the shape that was originally at the top left", "remove"), ("erase all the red ones", "remove"),
    ("make the circle green", "recolor"), ("paint the big square yellow", "recolor"), ("turn it purple", "recolor"),
    ("change the colour of the triangle to black", "recolor"), ("recolor the small one to orange", "recolor"),
    ("move the triangle to the bottom right", "move"), ("move it left", "move"), ("nudge it one cell to the right", "move"),
    ("slide the diamond over to the middle", "move"), ("shift the shape at the center right one step up", "move"),
    ("make the red circle small", "resize"), ("enlarge it", "resize"), ("shrink it", "resize"),
    ("make the square bigger", "resize"), ("resize all shapes to large", "resize"),
    ("turn the square into a circle", "reshape"), ("replace the triangle with a diamond", "reshape"),
    ("change the shape of the shape that was originally at the center to a circle", "reshape"),
    ("change the background to beige", "background"), ("make the background grey", "background"),
    ("undo", "undo"), ("undo that", "undo"), ("revert the last change", "undo"), ("take that back", "undo"),
    ("give the circle back its original color", "restore"), ("give it its original colour back", "restore"),
    ("put it back where it was at the start", "restore"), ("move the square back to its original position", "restore"),
    ("reset the small one to its original size", "restore"),
])
def test_edit_phrasings(text, kind):
    command = parse_turn(text)
    assert command.edit is not None and command.edit.kind == kind and command.rule is None


@pytest.mark.parametrize("text,kind", [
    ("From now on, every new shape must be blue.", "default"), ("For the rest of the session, all new shapes should be small", "default"),
    ("Going forward, make every new shape big", "default"),
    ("For the rest of the session, leave the green square unchanged", "lock"), ("From now on don't touch the triangle", "lock"),
    ("From now on, keep it as it is", "lock"), ("you may change the green square again", "unlock"),
    ("From now on, feel free to edit the circle again", "unlock"),
])
def test_rule_phrasings(text, kind):
    command = parse_turn(text)
    assert command.rule is not None and command.rule.kind == kind and command.edit is None
    assert command.task_type == "rule"


def test_rule_then_edit_in_one_turn():
    command = parse_turn("From now on every new shape must be small. Add a circle at the center.")
    assert command.task_type == "rule+add" and command.rule.value == "small" and command.edit.cell == "center"


def test_references():
    assert parse_ref("it").kind == parse_ref("that one").kind == parse_ref("the same shape").kind == "pronoun"
    assert parse_ref("the one you just added").kind == "added"
    assert parse_ref("the shape you moved").kind == "moved"
    ref = parse_ref("the shape that was originally blue")
    assert ref.kind == "originally" and ref.color == "blue"
    assert parse_ref("the shape that was originally a circle").shape == "circle"
    ref = parse_ref("every red shape")
    assert ref.kind == "group" and ref.color == "red" and ref.shape is None
    assert parse_ref("all circles").shape == "circle" and parse_ref("all shapes").filters() == {}
    ref = parse_ref("the big one")
    assert ref.kind == "attributes" and ref.size == "large"
    assert parse_ref("the shape at the top left").cell == "top-left"
    assert parse_ref("the top left one").cell == "top-left"
    assert parse_ref("the pink circle").impossible


def test_invalid_values_are_marked():
    assert parse_turn("make the circle beige").edit.invalid
    assert parse_turn("change the background to red").edit.invalid
    assert parse_turn("move it up and to the left").edit.invalid
    assert parse_turn("turn the square into a hexagon").edit.invalid
    assert parse_turn("From now on every new shape must be gray").rule.invalid


@pytest.mark.parametrize("text,cell,direction", [
    ("move the triangle at the middle left down", "middle-left", "down"),  # not the centre one, diagonally
    ("move the shape at the middle right left", "middle-right", "left"),
    ("nudge the shape at the center left to the left", "middle-left", "left"),
    ("move the shape at the center right", "center", "right"),  # "at" names the shape, not where it goes
    ("slide the circle at the center right by one", "center", "right"),
])
def test_a_step_move_of_a_shape_named_by_its_cell(text, cell, direction):
    edit = parse_turn(text).edit
    assert (edit.kind, edit.ref.cell, edit.cell, edit.direction, edit.invalid) == ("move", cell, None, direction, None)


def test_every_cell_name_before_every_step_reads_as_said():
    for cell, phrases in CELL_PHRASES.items():
        for phrase, direction in ((p, d) for p in phrases for d in DIRECTIONS):
            for template in ("move {r} {d}", "nudge {r} to the {d}", "slide {r} {d} by one", "shift {r} one step {d}"):
                text = template.format(r=f"the shape at the {phrase}", d=direction)
                edit = parse_turn(text).edit
                assert (edit.ref.cell, edit.direction, edit.invalid) == (cell, direction, None), text


def test_at_or_in_after_move_says_where_a_shape_goes_only_where_no_step_move_reads():
    assert parse_turn("put the square at the top left").edit.cell == "top-left"
    assert parse_turn("place it in the center right").edit.cell == "middle-right"
    # no step move reads in these: the only destination said is the cell
    assert parse_turn("move the circle at the top left").edit.cell == "top-left"
    assert parse_turn("move it in the top left").edit.cell == "top-left"
    # a step move reads: "at the center" names the shape and "right" is the step
    assert parse_turn("move the shape at the center right").edit.cell is None


@pytest.mark.parametrize("text", ["qzx vlorp the wibble", "rotate it 90 degrees", "make the wibble blue", "   ", "From now on, be nice"])
def test_not_the_language(text):
    with pytest.raises(WorldLanguageError):
        parse_turn(text)


def test_a_sentence_that_is_no_rule_is_refused_with_rules_that_are():
    import re

    with pytest.raises(WorldLanguageError) as refused:
        parse_turn("from now on keep everything on a white background")
    examples = re.findall(r"'([^']*(?:must be blue|don't touch[^']*|make the background white))'", str(refused.value))
    assert len(examples) == 3
    for example in examples:  # each example said works as said
        parse_turn(example)
