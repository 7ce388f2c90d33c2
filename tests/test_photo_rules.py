"""Rules for the rest of a photo session: set, applied again after later edits, lifted, undone, refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.errors import InvalidInstructionError, UnsupportedInstructionError
from edit_agent.photo_rules import read_turn


@pytest.fixture
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((90, 60))


def is_gray(image: Image.Image) -> bool:
    pixels = np.asarray(image).astype(int)
    return bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all())


@pytest.mark.parametrize(("instruction", "operations", "sets", "lifts"), [
    ("from now on keep it black and white", ["grayscale"], ["black and white"], []),
    ("make sure it stays black and white", ["grayscale"], ["black and white"], []),
    ("from now on, everything in black and white and rotate it", ["grayscale", "rotate"], ["black and white"], []),
    ("always keep it square and black and white", ["crop", "grayscale"], ["square", "black and white"], []),
    ("make it brighter but keep it square", ["brightness", "crop"], ["square"], []),
    ("make it black and white", ["grayscale"], [], []),  # once, not a rule
    ("forget the black and white rule", [], [], ["black and white"]),
    ("stop keeping it square", [], [], ["square"]),
    ("no longer keep it black and white", [], [], ["black and white"]),
    # a one-time edit after a rule stays one-time; a bare name after a rule is a rule too
    ("keep it square and make it black and white", ["crop", "grayscale"], ["square"], []),
    ("keep it black and white and then crop to a square", ["grayscale", "crop"], ["black and white"], []),
    ("keep it square and b&w", ["crop", "grayscale"], ["square", "black and white"], []),
    # persistence after the edit it keeps
    ("make it black and white and keep it that way", ["grayscale"], ["black and white"], []),
    # all the message did that a rule can keep, as when "keep it that way" is said on its own next
    ("make it black and white and crop to a square, and keep it that way", ["grayscale", "crop"],
     ["black and white", "square"], []),
    ("crop to a square and make it black and white and keep it that way", ["crop", "grayscale"],
     ["black and white", "square"], []),
    ("make it brighter and crop to a square and keep it that way", ["brightness", "crop"], ["square"], []),
    ("make it black and white and keep it like this", ["grayscale"], ["black and white"], []),
    ("crop it to a square, always", ["crop"], ["square"], []),
    ("rotate it and from now on, keep it square", ["rotate", "crop"], ["square"], []),
    # a reminder keeps the rule; natural lifts lift it
    ("don't forget to keep it square", ["crop"], ["square"], []),
    ("do not lift the black and white rule", ["grayscale"], ["black and white"], []),
    ("stop making it black and white", [], [], ["black and white"]),
    ("no more black and white", [], [], ["black and white"]),
    ("the black and white rule no longer applies", [], [], ["black and white"]),
    # one rule lifted, the other said to stay: it is kept (set again), not lifted with it
    ("stop keeping it black and white but keep it square", ["crop"], ["square"], ["black and white"]),
    ("forget the black and white rule and keep it square", ["crop"], ["square"], ["black and white"]),
    # "first" beside a rule: read in the order written, as before ("first" is not moved into the rule)
    ("crop to a square, but first, from now on, keep it black and white", ["crop", "grayscale"], ["black and white"], []),
    ("make it brighter and, from now on, keep it square first", ["brightness", "crop"], ["square"], []),
    ("the image no longer has to be square", [], [], ["square"]),
    ("forget the black and white and square rules", [], [], ["black and white", "square"]),
    ("forget the square rule and make it black and white", ["grayscale"], [], ["square"]),
    ("drop the black and white rule and crop to a square", ["crop"], [], ["black and white"]),
    ("make no change", [], [], []),
    ("keep it black and white too", ["grayscale"], ["black and white"], []),  # "too": also
    ("keep only the right half", ["crop"], [], []),  # "keep" here says what to crop, no rule
])
def test_rules_are_read_from_plain_phrasing(instruction, operations, sets, lifts):
    turn = read_turn(instruction)
    assert [op.kind for op in turn.operations] == operations
    assert [rule.name for rule in turn.sets] == sets and [rule.name for rule in turn.lifts] == lifts


@pytest.mark.parametrize("instruction", ["drop all the rules", "forget both rules", "clear all constraints"])
def test_lifting_every_rule(instruction):
    assert read_turn(instruction).lifts_all


@pytest.mark.parametrize("instruction", ["make it brighter and keep the colours", "from now on",
                                         "rotate it and keep it that way"])
def test_persistence_that_names_no_rule_exact_operations_keep_is_refused(instruction):
    with pytest.raises(UnsupportedInstructionError, match="black and white or square"):
        read_turn(instruction)


def test_a_lift_that_names_no_rule_says_how_to_name_one():
    with pytest.raises(InvalidInstructionError, match="forget the black and white rule"):
        read_turn("forget it")


@pytest.mark.parametrize("instruction", ["from now on keep the sky untouched", "from now on, rotate it"])
def test_a_rule_exact_operations_cannot_keep_is_refused_with_the_ones_they_can(instruction):
    with pytest.raises(UnsupportedInstructionError, match="black and white or square.*generative editor"):
        read_turn(instruction)


def test_a_rule_holds_after_later_edits_and_is_carried_in_each_intent(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "from now on keep it black and white")
    rotated = session.edit(None, "rotate it 90 degrees and make it brighter")
    assert is_gray(rotated.image) and rotated.image.size == (60, 90)
    assert rotated.intent == ("Rotate the image 90 degrees clockwise, then increase the brightness by 20%, "
                              "then convert the image to grayscale.")
    assert [(c.text, c.kind, c.set_at_turn) for c in rotated.constraints] == [("the image stays black and white", "rule", 1)]
    assert "In force from turn 1: the image stays black and white, so 'convert" in rotated.reasoning


def test_the_square_rule_crops_again_after_a_crop_that_breaks_it(tmp_path, photo):
    session = EditSession(store=tmp_path)
    assert session.edit(photo, "keep it square").image.size == (60, 60)
    assert session.edit(None, "crop to the left half").image.size == (30, 30)
    assert session.edit(None, "make it twice as big").image.size == (60, 60)


def test_an_edit_a_rule_would_undo_is_refused_and_nothing_is_stored(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "from now on keep it black and white and keep it square")
    for instruction, message in (("make it warmer", "keeps the image black and white \\(turn 1\\)"),
                                 ("make it more saturated", "forget the black and white rule"),
                                 ("resize to 300x200", "keeps the image square")):
        with pytest.raises(InvalidInstructionError, match=message):
            session.edit(None, instruction)
    assert len(session.turns) == 1


def test_lifting_a_rule_changes_no_pixels_and_frees_the_next_edit(tmp_path, photo):
    session = EditSession(store=tmp_path)
    gray = session.edit(photo, "from now on keep it black and white").image
    lifted = session.edit(None, "forget the black and white rule")
    assert lifted.intent == "Make no change." and lifted.constraints == ()
    assert lifted.image.tobytes() == gray.tobytes()
    assert session.edit(None, "make it warmer").image.getpixel((0, 0)) != gray.getpixel((0, 0))
    with pytest.raises(InvalidInstructionError, match="none to lift"):
        session.edit(None, "forget the black and white rule")


def test_undoing_or_branching_before_the_rule_leaves_it_behind(tmp_path, photo):
    session = EditSession(store=tmp_path)
    first = session.edit(photo, "rotate it 90 degrees")
    session.edit(None, "from now on keep it black and white")
    branch = session.edit(None, "make it warmer", from_turn=first.turn_id)  # before the rule
    assert not is_gray(branch.image) and branch.constraints == ()
    session.checkout(first.turn_id)
    session.redo()  # back at the rule's turn
    session.undo()
    assert session.edit(None, "make it cooler").constraints == ()


def test_the_agent_tool_reports_the_rules_in_force(tmp_path, photo):
    import base64
    import json

    from edit_agent.images import encode_png
    from edit_agent.tools import make_tools

    tools = {tool.name: tool for tool in make_tools("agent", store=tmp_path)}
    started = json.loads(tools["edit_image"].invoke({"instruction": "from now on keep it square",
                                                     "image_base64": base64.b64encode(encode_png(photo)).decode()}))
    reply = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "session_id": started["session_id"]}))
    assert reply["constraints"] == ["the image stays square"] and reply["size"] == [60, 60]


def test_a_rule_set_before_a_crop_in_the_same_turn_holds_at_its_end(tmp_path, photo):
    result = EditSession(store=tmp_path).edit(photo, "from now on keep it square, then crop to the left half")
    assert result.image.size == (30, 30)


def test_the_rules_operations_do_not_count_against_the_instructions_limit(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "keep it square and b&w")
    assert session.edit(None, ", ".join(["flip it vertically"] * 20)).image.size == (60, 60)  # 20 asked, 22 applied
    with pytest.raises(InvalidInstructionError, match="at most 20"):
        session.edit(None, ", ".join(["flip it vertically"] * 21))


def test_a_world_canvas_keeps_its_own_rules_and_lifts_none_of_ours(tmp_path):
    from edit_agent.world import Scene, SceneObject, render
    from edit_agent.world.language import WorldLanguageError

    canvas = render(Scene(background="white", objects=(
        SceneObject(shape="square", color="red", size="small", cell="top-left"),)))
    session = EditSession(store=tmp_path, reasoner="rules", editor="program")
    session.edit(canvas, "from now on every new shape must be black")
    with pytest.raises(WorldLanguageError):  # the world's rule is not a photo rule to lift
        session.edit(None, "forget the rules")
    assert session.edit(None, "add a small circle").intent == "Add a small black circle at the top center."


def test_what_to_keep_is_no_bare_from_now_on_for_the_next_clause():
    # "keep the colours" named what to keep: "make it square" after it was read as the rule "keep it square"
    with pytest.raises(UnsupportedInstructionError, match="'keep the colours' is neither"):
        read_turn("keep the colours, and make it square")
    assert read_turn("from now on, make it square").sets[0].name == "square"


@pytest.mark.parametrize("instruction", ["make it colourful again", "you can change the colours now"])
def test_asking_for_colour_under_the_black_and_white_rule_names_the_rule(tmp_path, photo, instruction):
    session = EditSession(store=tmp_path / "store")
    session.edit(photo, "from now on keep it black and white")
    with pytest.raises(UnsupportedInstructionError, match=r"A rule keeps the image black and white \(turn 1\): "
                                                          r"'forget the black and white rule' lifts it"):
        session.edit(None, instruction)
    assert len(session.turns) == 1
