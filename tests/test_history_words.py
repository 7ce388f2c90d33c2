"""Which typed texts ask for a move in the history rather than an edit."""

from __future__ import annotations

import pytest

from edit_agent.history_words import is_history_move, is_redo_request, steps_back


@pytest.mark.parametrize("typed", [
    "undo", "Please undo that.", "can you undo that", "could you undo the last change?", "oops, undo that",
    "Please, undo", "just undo it", "undo the last two edits", "undo the last 3 edits", "redo the last two", "undo the last blur", "go back",
    "can we go back one step?", "take me back to the original", "go back to the original image",
    "revert to the previous version", "let's start over", "start over", "never mind", "never mind that",
    "Never mind, undo it", "restore the original", "redo",
    "is it possible to undo that?", "would you mind undoing that?", "would you mind going back to the original?",
])
def test_moves_in_the_history_are_read_as_moves(typed):
    assert is_history_move(typed)


@pytest.mark.parametrize("typed", [
    "turn the sky back to blue", "bring the contrast back to normal", "never mind the sky, add a dog",
    "restore the original image's colours", "go back to black and white", "revert the sky to blue",
    "redo the background in blue", "start over with a blue background", "make it brighter",
    "would you mind undoing the red?",
])
def test_edits_that_use_the_same_words_stay_edits(typed):
    assert not is_history_move(typed)


def test_a_redo_request_is_only_a_step_forward():
    assert is_redo_request("redo that") and is_redo_request("go forward one step")
    assert not is_redo_request("redo the crop but tighter")


@pytest.mark.parametrize(("typed", "back"), [
    ("undo", 1), ("go back", 1), ("can we go back one step?", 1), ("Never mind, undo it", 1),
    ("revert to the previous version", 1), ("undo the last two edits", 2), ("undo twice", 2), ("go back 3 steps", 3),
    ("start over", "source"), ("take me back to the original", "source"), ("undo everything", "source"),
    ("reset", "source"), ("start over please", "source"), ("undo the last 2", 2), ("undo it twice", 2),
    # said as people type in a chat: with a word before or thanks after, a bare count, "both", "all", "x2"
    ("undo, thanks", 1), ("nope, undo that", 1), ("ugh undo", 1), ("oh undo that, thanks", 1), ("undo all", "source"),
    ("undo both", 2), ("undo x2", 2), ("undo 3x", 3), ("go back 2", 2), ("go back to the start, please", "source"),
    ("undo pls", 1), ("undo that plz", 1),  # courtesy as typed in a chat
    ("no, go back to black and white", None),
    # a step forward, an edit, or a move that names what it undoes (a count could get it wrong): not made
    ("redo", None), ("undo the last blur", None), ("go back to black and white", None), ("undo 0 steps", None),
])
def test_a_plain_move_back_says_how_far(typed, back):
    assert steps_back(typed) == back


@pytest.mark.parametrize("typed", [
    "undo the crop", "undo the crop but keep the rotation", "undo that and make it warmer", "put it back how it was",
    "go back to how it was two edits ago", "take back the rotation",
])
def test_an_exact_edit_that_names_what_to_take_back_points_to_the_history_not_a_generative_editor(tmp_path, typed):
    from PIL import Image

    from edit_agent import EditSession
    from edit_agent.errors import NeedsGenerativeEditorError

    session = EditSession(store=tmp_path)
    session.edit(Image.new("RGB", (40, 30), "red"), "rotate it 90 degrees")
    with pytest.raises(NeedsGenerativeEditorError, match="a move in the session's history") as refused:
        session.edit(None, typed)
    assert "Undo" in str(refused.value)  # and still what a generative editor could make of it
    assert len(session.turns) == 1


@pytest.mark.parametrize("typed", ["take away the background", "undo the red eye", "go back to black and white"])
def test_with_no_earlier_edit_a_refusal_names_no_history_move(tmp_path, typed):
    from PIL import Image

    from edit_agent import EditSession
    from edit_agent.errors import NeedsGenerativeEditorError

    with pytest.raises(NeedsGenerativeEditorError) as refused:
        EditSession(store=tmp_path).edit(Image.new("RGB", (40, 30), "red"), typed)
    assert "history" not in str(refused.value)


@pytest.mark.parametrize("typed", ["redo, thanks", "nope, redo that", "ok redo"])
def test_a_redo_is_said_as_an_undo_is(typed):
    assert is_redo_request(typed)
