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
])
def test_rules_are_read_from_plain_phrasing(instruction, operations, sets, lifts):
    turn = read_turn(instruction)
    assert [op.kind for op in turn.operations] == operations
    assert [rule.name for rule in turn.sets] == sets and [rule.name for rule in turn.lifts] == lifts


def test_drop_all_rules_lifts_every_rule():
    assert read_turn("drop all the rules").lifts_all


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
    assert "Still in force from turn 1" in rotated.reasoning


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
