"""Photo turns that refer to the turn before: "again", "a bit more", "the opposite", "rotate again"."""

from __future__ import annotations

import numpy
import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.errors import EditAgentError, InvalidInstructionError
from edit_agent.photo_follow_ups import resolve_follow_up


@pytest.fixture
def session(tmp_path) -> EditSession:
    return EditSession(store=tmp_path / "store")


def intents(session: EditSession, *instructions: str) -> list[str]:
    image = Image.new("RGB", (40, 30), (120, 90, 60))
    for instruction in instructions:
        session.edit(image if not session.turns else None, instruction)
    return [turn.intent for turn in session.history]


def test_a_follow_up_repeats_the_turn_before_in_its_own_words(session):
    assert intents(session, "rotate it left", "rotate again", "make it warmer", "a bit more", "do that again",
                   "the opposite", "much more") == [
        "Rotate the image 90 degrees counterclockwise.",
        "Rotate the image 90 degrees counterclockwise.",  # the direction of the turn before, not clockwise
        "Make the image warmer by 20%.",
        "Make the image warmer by 10%.",
        "Make the image warmer by 10%.",
        "Make the image cooler by 9.5%.",  # red x1.05 is reversed by x0.952: 'the opposite' goes back where it was
        "Make the image cooler by 40%.",
    ]
    assert session.head.reasoning.startswith("'much more' refers to turn 6, so it asks for: Make the image cooler")


def test_a_follow_up_keeps_the_rules_in_force(session):
    texts = intents(session, "from now on keep it square", "make it brighter", "again")
    assert texts[-1] == "Increase the brightness by 20%, then crop to a centred square."


def test_a_follow_up_with_nothing_to_refer_to_is_refused_and_changes_nothing(session):
    with pytest.raises(InvalidInstructionError, match="there is none to repeat here"):
        intents(session, "again")
    intents(session, "blur it")
    with pytest.raises(InvalidInstructionError, match="has no exact opposite; undo it instead"):
        session.edit(None, "the opposite")
    with pytest.raises(InvalidInstructionError, match="say the next edit in full"):
        session.edit(None, "flip it")
        session.edit(None, "a bit more")  # a flip has no "more": flipping back would undo it
    assert len(session.turns) == 2


def test_rotate_again_finds_the_last_rotation_and_is_a_plain_rotation_without_one(session):
    assert intents(session, "rotate it left", "make it brighter", "rotate again")[-1] == (
        "Rotate the image 90 degrees counterclockwise.")
    assert intents(EditSession(store=session._store), "blur it", "rotate again")[-1] == (
        "Rotate the image 90 degrees clockwise.")


@pytest.mark.parametrize("said", ["rotate it further", "rotate it more", "now rotate it again", "rotate the image again",
                                  "spin it again", "turn it again please"])
def test_another_turn_said_in_other_words_goes_the_way_the_last_one_went(session, said):
    assert intents(session, "rotate it left", said)[-1] == "Rotate the image 90 degrees counterclockwise."


@pytest.mark.parametrize("said", ["flip the image again", "now flip it again", "mirror it again"])
def test_another_flip_said_in_other_words_flips_the_way_the_last_one_did(session, said):
    assert intents(session, "flip it vertically", said)[-1] == "Flip the image vertically."


@pytest.mark.parametrize("said", ["blur the image again", "blur it more"])
def test_another_blur_said_in_other_words_is_as_strong_as_the_last(session, said):
    assert intents(session, "blur it a lot", said)[-1] == "Blur the image with radius 5."


def test_repeat_that_with_a_count_repeats_it_that_often_and_with_more_said_is_refused(session):
    assert intents(session, "make it warmer", "repeat that 3 times")[-1] == (
        "Make the image warmer by 20%, then make the image warmer by 20%, then make the image warmer by 20%.")
    for said in ("repeat it and rotate it left", "repeat that but cooler"):
        with pytest.raises(InvalidInstructionError, match="repeats the last edit with more said"):
            session.edit(None, said)
    with pytest.raises(InvalidInstructionError, match="0 times changes nothing"):
        session.edit(None, "repeat that 0 times")
    assert len(session.turns) == 2


@pytest.mark.parametrize("said", ["repeat that again", "repeat it once more", "repeat that one more time", "repeat that step",
                                  "repeat the last step again", "same again once more", "ok repeat that again"])
def test_repeat_said_the_many_usual_ways_repeats_once(session, said):
    assert intents(session, "make it warmer", said)[-1] == "Make the image warmer by 20%."


@pytest.mark.parametrize(("earlier", "said", "intent"), [
    ("blur it a lot", "blur it a bit more", "Blur the image with radius 1."),  # the amount said, as it always read
    ("blur it a bit", "blur it a lot more", "Blur the image with radius 5."),
    ("sharpen it a lot", "sharpen it a bit more", "Sharpen the image slightly."),
])
def test_a_blur_or_sharpen_said_with_an_amount_takes_that_amount(session, earlier, said, intent):
    assert intents(session, earlier, said)[-1] == intent


@pytest.mark.parametrize("said", ["rotate it even more", "rotate it much more", "rotate it 90 more degrees"])
def test_more_of_a_rotation_goes_the_way_the_last_one_went(session, said):
    assert intents(session, "rotate it left", said)[-1] == "Rotate the image 90 degrees counterclockwise."


@pytest.mark.parametrize("said", ["rotate it a bit more", "rotate it a bit further"])
def test_a_little_more_of_a_quarter_turn_is_refused_not_turned_back(session, said):
    intents(session, "rotate it left")
    with pytest.raises(InvalidInstructionError, match="asks for a small rotation"):
        session.edit(None, said)


def test_again_said_with_courtesy_that_says_much_is_a_repeat(session):
    assert intents(session, "make it brighter", "again, thanks a lot")[-1] == "Increase the brightness by 20%."


def test_follow_ups_read_past_typos_courtesy_and_rule_only_turns(session):
    assert intents(session, "make it brigher", "again, thanks")[-1] == "Increase the brightness by 20%."
    assert intents(EditSession(store=session._store), "make it warmer", "keep it square", "the opposite")[-1] == (
        "Make the image cooler by 18.2%, then crop to a centred square.")  # the rule holds; the opposite is the edit's


def test_again_inside_a_longer_instruction_is_refused_not_dropped(session):
    intents(session, "make it brighter")
    with pytest.raises(InvalidInstructionError):
        session.edit(None, "again but warmer")  # half of it done would look like all of it
    assert len(session.turns) == 1



def test_the_opposite_of_inverting_is_inverting_again_and_sepia_has_none(session):
    assert intents(session, "invert the colours", "the opposite") == ["Invert the colours."] * 2
    assert session.head.image.tobytes() == Image.new("RGB", (40, 30), (120, 90, 60)).tobytes()
    intents(session, "make it sepia")
    with pytest.raises(InvalidInstructionError, match="has no exact opposite"):
        intents(session, "the opposite")


def test_too_much_takes_part_of_the_change_before_back(session):
    assert intents(session, "make it warmer by 30%", "that's too much", "make it brighter", "a bit too much",
                   "more contrast", "way too much", "saturate it", "oops, too much") == [
        "Make the image warmer by 30%.",
        "Make the image cooler by 13%.",  # half of it: red x1.15 x0.935 = x1.075 overall
        "Increase the brightness by 20%.",
        "Decrease the brightness by 4.2%.",  # a gentle amount: a quarter of it, less than "too much"
        "Increase the contrast by 20%.",
        "Decrease the contrast by 16.7%.",  # all of it: x1.2 x0.833 = x1
        "Increase the saturation by 20%.",
        "Decrease the saturation by 8.3%.",
    ]
    assert session.head.reasoning.startswith("'oops, too much' refers to turn 7")


def test_a_phone_keyboards_curly_apostrophe_reads_as_the_straight_one(session):
    assert intents(session, "make it warmer by 30%", "that’s too much") == [
        "Make the image warmer by 30%.", "Make the image cooler by 13%."]


@pytest.mark.parametrize("said", ["not so much", "not that much please", "tone it down", "dial it back", "too far"])
def test_other_ways_of_saying_too_much_take_half_of_the_change_back(session, said):
    assert intents(session, "make it warmer by 30%", said)[-1] == "Make the image cooler by 13%."


@pytest.mark.parametrize(("said", "intent"), [
    ("too much, tone it down", "Make the image cooler by 13%."),  # half of it, said twice
    ("oops, too much. Tone it down a bit", "Make the image cooler by 6.5%."),  # as much as the one that says how much
])
def test_too_much_said_twice_over_takes_the_change_back_once(session, said, intent):
    assert intents(session, "make it warmer by 30%", said)[-1] == intent


@pytest.mark.parametrize("said", ["too much, and make it brighter", "way too much, rotate it left",
                                  "again, make it warmer", "make it brighter, a bit more", "the opposite and flip it"])
def test_a_follow_up_said_with_another_edit_is_refused_whole_not_dropped(session, said):
    """"too much" with another edit was dropped without a word (only the other edit was made); "again" with one was
    refused as needing a generative editor. Each is asked for on its own instead."""
    intents(session, "make it warmer by 30%")
    with pytest.raises(EditAgentError, match="refers to the last edit .* send them one at a time"):
        intents(session, said)
    assert len(session.turns) == 1


@pytest.mark.parametrize(("earlier", "said", "intent"), [
    # an operation of its own that says "again", or an amount for the edit before it, is no follow-up said with more
    ([], "rotate it 90 degrees, then rotate again",
     "Rotate the image 90 degrees clockwise, then rotate the image 90 degrees clockwise."),
    (["rotate 90 degrees"], "make it warmer and rotate again",
     "Make the image warmer by 20%, then rotate the image 90 degrees clockwise."),
    ([], "make it brighter, not so much", "Increase the brightness by 10%."),
    (["make it warmer"], "crop it to a square, thanks again", "Crop to a centred square."),
    # ... and courtesy or regret around a follow-up is none either
    (["make it warmer by 30%"], "sorry, too much", "Make the image cooler by 13%."),
    (["make it warmer by 30%"], "thanks, but too much", "Make the image cooler by 13%."),
    # a follow-up asked as a question
    (["make it warmer by 30%"], "would you mind toning it down?", "Make the image cooler by 13%."),
    (["make it warmer"], "could you make it a bit less?", "Make the image cooler by 4.5%."),
    (["make it warmer"], "would you mind doing that again?", "Make the image warmer by 20%."),
])
def test_what_only_looks_like_a_follow_up_said_with_more_reads_as_before(session, earlier, said, intent):
    assert intents(session, *earlier, said)[-1] == intent


def test_not_so_much_said_of_the_result_is_no_take_back(session):
    intents(session, "make it warmer by 30%")
    assert intents(session, "tone it down a bit")[-1] == "Make the image cooler by 6.5%."  # a gentle amount
    with pytest.raises(EditAgentError):  # "that's not so much": it barely changed, not "too much"
        intents(session, "that's not so much")


def test_again_with_a_change_asks_for_the_edit_in_full(session):
    intents(session, "make it warmer")
    for said in ("again but cooler", "do it again, but stronger"):
        with pytest.raises(InvalidInstructionError, match="repeats the last edit with a change: say the edit you"):
            intents(session, said)


@pytest.mark.parametrize("earlier, instruction, message", [
    # the change should have gone the other way from before it: "the opposite" would only go back
    (["rotate it left"], "no, the other way", "asks for the last edit's opposite instead of it: undo it, then say"),
    (["make it warmer"], "the other way", "asks for the last edit's opposite instead of it"),
    (["make it warmer"], "actually, the opposite", "asks for the last edit's opposite instead of it"),
    # less of the change, or still less of the setting? After "make it less warm" the two are opposite edits
    (["make it less warm"], "a bit less", "less of that change, or still less"),
    (["reduce the contrast"], "less", "less of that change, or still less"),
    # taking back a take-back: still too warm, or too cool now? The ways to say are the setting's own
    (["make it warmer", "that's too much"], "too much", r"say which way now \('a bit warmer', 'a bit cooler'\)"),
    (["make it brighter", "that's too much"], "tone it down", r"say which way now \('a bit brighter', 'a bit darker'\)"),
    # more of the change, or more of taking it back? It kept taking the change back, past the start
    (["make it brighter", "a bit less"], "more", r"say which way now \('a bit brighter', 'a bit darker'\)"),
    (["make it brighter by 40%", "not so much"], "more", "right after taking a change back"),
    # a correction of the last edit, which would be done on top of it: instead of it, or as well?
    (["crop to the right half"], "actually, crop to the left half", "sounds like a correction of the last edit "
     r"\(crop to the right half\).*undo that edit first.*without 'actually'"),
    (["rotate it left"], "actually rotate it right", "sounds like a correction"),
    (["make it sepia"], "actually, make it black and white", "sounds like a correction"),
    (["resize to 50%"], "no, resize to 25%", "without 'no'"),
    (["make it warmer"], "oops, make it cooler", "sounds like a correction"),
    (["crop to a square"], "no, make it brighter", "sounds like a correction"),  # "no" turns down any edit
    (["crop 10% from each side"], "sorry, make it sepia", "sounds like a correction"),
    (["make it brighter"], "no, now make it darker", "sounds like a correction"),  # the other way: never an addition
    (["rotate it right"], "I meant rotate it left again", "sounds like a correction"),
    (["rotate it right"], "I  meant rotate it left again", "sounds like a correction"),  # however spaced
    (["crop to a square"], "no, more contrast", "sounds like a correction"),  # "more" here says the change
    (["make it warmer"], "no make it cooler", "sounds like a correction"),  # no comma: still "no"
    (["make it brighter"], "i mean, make it warmer", "sounds like a correction"),
    (["rotate it right"], "no, now rotate it left", "sounds like a correction"),  # a quarter turn back: nothing
    (["flip it"], "no, now flip it vertically", "sounds like a correction"),  # "now" after "no" adds nothing
    # a percentage after an edit with none
    (["crop 10% from each side"], "10% more", "a percentage of what"),
    (["make it brighter", "too bright"], "more", "right after taking a change back"),  # as after "too much"
    (["make it brighter", "too bright"], "too much", "right after taking a change back"),
])
def test_a_follow_up_that_could_go_either_way_is_refused_with_what_to_say(session, earlier, instruction, message):
    intents(session, *earlier)
    with pytest.raises(InvalidInstructionError, match=message):
        intents(session, instruction)


def test_less_after_a_change_said_as_an_increase_takes_some_of_it_back(session):
    assert intents(session, "make it warmer", "a bit less", "make it darker", "hmm, much less") == [
        "Make the image warmer by 20%.", "Make the image cooler by 4.5%.",
        "Decrease the brightness by 20%.", "Increase the brightness by 25%."]  # x0.8 x1.25: back where it was


def test_no_more_is_not_more(session):
    intents(session, "make it warmer")
    with pytest.raises(InvalidInstructionError):
        intents(session, "no more, thanks")
    assert len(session.history) == 1


@pytest.mark.parametrize(("first", "follow_up", "next_intent"), [
    ("crop 10% from each side", "more", "Crop 10% from each side."),
    ("crop 10% from each side", "a bit more", "Crop 5% from each side."),
    ("crop 5px from the left and right", "much more", "Crop 10 px from the left, then crop 10 px from the right."),
])
def test_more_after_a_crop_margin_crops_that_margin_again_half_or_twice(session, first, follow_up, next_intent):
    """It said the crop had no amount to add to, although its margin was right there."""
    assert intents(session, first, follow_up)[-1] == next_intent


@pytest.mark.parametrize("first", ["crop 10% from each side", "resize to 50%"])
def test_a_crop_or_resize_taken_back_says_to_undo_it_not_that_it_had_no_amount(session, first):
    intents(session, first)
    with pytest.raises(InvalidInstructionError, match="cannot be partly taken back; undo it instead"):
        intents(session, "that's too much")


def test_taking_back_an_edit_without_an_amount_says_to_undo_it(session):
    intents(session, "rotate it left")
    with pytest.raises(InvalidInstructionError, match="cannot be partly taken back; undo it instead"):
        intents(session, "too much")


def test_taking_all_of_a_change_back_leaves_the_pixels_where_they_were(session):
    intents(session, "make it brighter by 50%", "way too much")
    assert session.head.image.getpixel((0, 0)) == (120, 90, 60)  # not x1.5 x0.5, darker than the start


def bright_photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((64, 64))  # white areas: brightening it clips them


@pytest.mark.parametrize(("first", "take_back"), [
    ("make it brighter by 50%", "the opposite"),
    ("make it much cooler", "way too much"),
    ("more contrast", "the opposite"),
    ("make it more saturated by 60%", "oops, that's way too much"),
    ("rotate it left and make it warmer", "the opposite"),
])
def test_taking_the_last_edit_back_gives_its_input_back_exactly(session, first, take_back):
    # Its operations done in reverse would only come close: a brightening clips the white areas.
    session.edit(bright_photo(), first)
    result = session.edit(None, take_back)
    assert result.image.tobytes() == session.source_image.tobytes()
    assert "given back as it was stored" in result.reasoning


@pytest.mark.parametrize(("first", "take_back", "same_as"), [
    ("make it a lot brighter", "too much", "make it brighter by 20%"),
    ("make it brighter by 50%", "oops, that's too much", "make it brighter by 25%"),
    ("much more contrast", "a bit too much", "increase the contrast by 30.1%"),  # x1.4 x0.929
    ("crop to a square and brighten it by 60%", "too much", "crop to a square and brighten it by 30%"),
])
def test_taking_part_of_an_edit_back_gives_what_that_edit_with_less_would_have(session, first, take_back, same_as):
    """'too much' after a brightening that clipped the white areas: done to its result, the clipped values stayed
    clipped (about 40% of the astronaut's pixels 8 levels or more off); it is drawn from the image before instead."""
    session.edit(bright_photo(), first)
    result = session.edit(None, take_back)
    direct = EditSession(store=session._store).edit(bright_photo(), same_as)
    assert result.image.tobytes() == direct.image.tobytes()
    # The turn says what it does to the image it follows, and how it was drawn
    assert result.intent == intents(EditSession(store=session._store), first, take_back)[-1]
    assert "from the image before turn 1" in result.reasoning and "current image only" not in result.reasoning


def test_part_of_an_edit_taken_back_from_a_new_image_or_under_a_rule_is_done_to_that_image(session):
    session.edit(bright_photo(), "make it brighter by 50%")
    new_photo = Image.new("RGB", (32, 32), (120, 120, 120))
    result = session.edit(new_photo, "too much")  # the image given with the turn is the one edited
    assert result.image.size == (32, 32) and "from the image before" not in result.reasoning
    ruled = EditSession(store=session._store)
    intents(ruled, "from now on keep it black and white", "make it brighter by 50%")
    result = ruled.edit(None, "too much")
    assert "from the image before" not in result.reasoning  # the image before need not obey the rule


def test_part_of_the_opposite_taken_back_is_not_drawn_from_before_the_opposite(session):
    """'The opposite' gives the stored image back: the image before it holds what the edit it reverted clipped, so
    drawing 'too much' from there brought the loss back."""
    session.edit(bright_photo(), "make it a lot brighter")
    session.edit(None, "the opposite")
    result = session.edit(None, "too much")
    assert "from the image before" not in result.reasoning
    direct = EditSession(store=session._store).edit(bright_photo(), "make it brighter by 20%")
    assert result.image.tobytes() == direct.image.tobytes()


def test_with_an_editor_that_does_not_draw_exactly_part_of_an_edit_is_taken_off_its_result(tmp_path):
    """A generative editor asked to draw the last edit again would draw another picture: the one the last turn made
    is what the user keeps, with less of the change."""
    from edit_agent.testing import RecordingEditor

    editor = RecordingEditor()
    session = EditSession(store=tmp_path / "store", reasoner="rules", editor=editor)
    session.edit(bright_photo(), "make it a lot brighter")
    result = session.edit(None, "too much")
    assert editor.calls[-1].intent == result.intent == "Decrease the brightness by 14.3%."
    assert "from the image before" not in result.reasoning


def dark_square_photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.coffee()[:120, :120] // 2)  # dark enough that no edit below clips


@pytest.mark.parametrize("first", ["make it brighter by 50%", "make it warmer by 50%", "make it much cooler",
                                   "reduce the contrast by 30%", "make it less saturated by 50%"])
def test_the_opposite_of_an_earlier_edit_reverses_it_to_within_rounding(session, first):
    # A rule-only turn in between: the edit is reversed by its operations (x1.5 by x0.667, not x0.5), blue too.
    photo = dark_square_photo()
    session.edit(photo, first)
    session.edit(None, "keep it square")
    result = session.edit(None, "the opposite")
    difference = numpy.abs(numpy.asarray(result.image, dtype=int) - numpy.asarray(photo, dtype=int))
    assert difference.mean() < 1 and difference.max() <= 2, result.intent  # halving then doubling doubles rounding


def test_taking_back_an_edit_that_set_a_rule_keeps_the_rule(session):
    session.edit(Image.new("RGB", (40, 30), (120, 90, 60)), "make it brighter and keep it square")
    result = session.edit(None, "the opposite")
    assert result.image.size == (30, 30)  # not the 40x30 image from before the rule
    assert "given back" not in result.reasoning


def test_a_long_run_of_again_reads_each_from_the_one_before():
    # Each "again" refers to the one before it; reading them by recursion failed after about 330 of them.
    assert resolve_follow_up("again", ["rotate it 90 degrees"] + ["again"] * 1500) == (
        "Rotate the image 90 degrees clockwise.")
    # "more" asks whether the turn before took part of an edit back, and "wait, ..." how the one before it read:
    # each read the earlier turns again, so a long run took exponential time or ended in a RecursionError
    assert resolve_follow_up("more", ["make it warmer"] + ["more"] * 1500) == "Make the image warmer by 20%."
    assert resolve_follow_up("more", ["make it warmer"] + ["wait, and make it warmer"] * 40) == (
        "Make the image warmer by 20%.")


@pytest.mark.parametrize(("instructions", "turn"), [
    (["rotate it left", "make it brighter", "rotate again"], 1),
    (["make it brighter by 40%", "keep it square", "forget the square rule", "the opposite"], 1),
    (["make it warmer", "keep it square", "a bit more"], 1),
])
def test_the_reasoning_names_the_turn_a_follow_up_refers_to(session, instructions, turn):
    image = Image.new("RGB", (30, 30), (120, 90, 60))
    for instruction in instructions:
        result = session.edit(image if not session.turns else None, instruction)
    assert result.reasoning.startswith(f"{instructions[-1]!r} refers to turn {turn},")


@pytest.mark.parametrize("first", ["make it darker by 100%", "reduce the contrast by 100%", "make it warmer by 300%"])
def test_an_edit_no_amount_can_reverse_is_refused_with_what_to_do(session, first):
    session.edit(Image.new("RGB", (8, 8), (120, 90, 60)), first)
    for take_back in ("the opposite", "way too much"):
        with pytest.raises(InvalidInstructionError, match="cannot be taken back by an amount; undo it instead"):
            session.edit(None, take_back)
    assert len(session.turns) == 1


def test_an_earlier_turn_that_no_longer_reads_does_not_stop_later_follow_ups():
    # "the opposite" of darker by 100% was once accepted: it stays in old sessions' histories.
    earlier = ["make it darker by 100%", "the opposite", "make it warmer"]
    assert resolve_follow_up("a bit more", earlier) == "Make the image warmer by 10%."


@pytest.mark.parametrize(("amount", "opposite"), [("0.04%", "0.04%"), ("0.12%", "0.12%"), ("50%", "33.3%")])
def test_the_opposite_of_a_small_amount_is_not_rounded_away(amount, opposite):
    assert resolve_follow_up("the opposite", [f"make it brighter by {amount}"]) == (
        f"Decrease the brightness by {opposite}.")


def test_the_opposite_edits_an_image_given_with_it_not_the_one_before(session):
    session.edit(Image.new("RGB", (8, 8), (120, 90, 60)), "make it brighter by 50%")
    result = session.edit(Image.new("RGB", (8, 8), (30, 210, 60)), "the opposite")
    assert result.image.getpixel((0, 0)) == (20, 140, 40)  # the given image, darker: not the first turn's input


def test_the_opposite_under_a_rule_keeps_the_rule(session):
    session.edit(Image.new("RGB", (40, 30), (120, 90, 60)), "from now on keep it square")
    session.edit(Image.new("RGB", (80, 20), (120, 90, 60)), "make it brighter")  # a new image, squared by the rule
    assert session.edit(None, "the opposite").image.size == (20, 20)  # not the 80x20 image given before


def test_a_long_session_of_edits_that_cancel_out_ends_where_it_began(session):
    # Before: 40 such turns left a photo 14 levels darker in red with a colour cast (PSNR 22.5 dB).
    photo = bright_photo()
    session.edit(photo, "make no change")
    for _ in range(2):
        for edit, cancel in (("make it warmer", "the opposite"), ("make it brighter", "way too much"),
                             ("more contrast", "the opposite"), ("make it more saturated", "the opposite"),
                             ("make it cooler", "way too much"), ("increase the contrast by 1%", "decrease the contrast by 1%")):
            session.edit(None, edit)
            session.edit(None, cancel)
    difference = numpy.asarray(session.head.image, dtype=float) - numpy.asarray(photo, dtype=float)
    assert numpy.abs(difference.reshape(-1, 3).mean(axis=0)).max() < 0.5
    assert 10 * numpy.log10(255 ** 2 / max((difference ** 2).mean(), 1e-9)) > 40


def test_the_opposite_of_a_resize_by_a_share_gives_the_photo_back(session):
    # Halving 427 rows gives 214 (213.5 rounded), and doubling that 428: the stored photo is given back instead.
    from skimage import data

    photo = Image.fromarray(data.rocket())  # 640x427
    session.edit(photo, "make it half the size")
    result = session.edit(None, "the opposite")
    assert result.intent == "Resize to 200%." and result.image.tobytes() == photo.tobytes()
    assert resolve_follow_up("the opposite", ["scale it to 30%"]) == "Resize to 333.3%."
    with pytest.raises(InvalidInstructionError, match="has no exact opposite"):
        resolve_follow_up("the opposite", ["resize to 64x32"])  # the size before it is not in the text


def test_the_opposite_of_warmer_by_200_percent_is_cooler_by_100_percent():
    # Warmth scales red by 1 + v/200: cooler by 100% (x0.5) undoes warmer by 200% (x2) exactly.
    assert resolve_follow_up("the opposite", ["make it warmer by 200%"]) == "Make the image cooler by 100%."
    assert resolve_follow_up("the opposite", ["make it brighter by 200000%"]) == "Decrease the brightness by 99.95%."


@pytest.mark.parametrize("said", ["cool, again", "ok cool, more", "great! again", "perfect. once more"])
def test_a_follow_up_after_a_word_about_the_result_repeats_the_edit(session, said):
    assert intents(session, "make it warmer", said)[-1] == "Make the image warmer by 20%."


def test_cool_again_without_a_comma_is_still_cooling_again(session):
    assert intents(session, "make it cooler", "cool again")[-1] == "Make the image cooler by 20%."


@pytest.mark.parametrize(("first", "take_back", "intent"), [
    # a fixed 10% step back went past the start ("a bit too much" took back more than all of the edit), and took
    # back more than "too much" (half of it) does
    ("make it slightly brighter", "a bit too much", "Decrease the brightness by 2.3%."),  # x1.1 x0.977: +7.5% left
    ("make it brighter by 5%", "a bit less", "Decrease the brightness by 1.2%."),
    ("make it warmer by 5%", "a bit less", "Make the image cooler by 1.2%."),
    ("make it darker by 5%", "a bit too much", "Increase the brightness by 1.3%."),
    ("make it brighter", "a bit too much", "Decrease the brightness by 4.2%."),  # "too much": 8.3%
    # a large edit takes a gentle 10% back
    ("make it brighter by 100%", "a bit too much", "Decrease the brightness by 10%."),
])
def test_a_bit_less_takes_back_at_most_a_quarter_of_the_change(session, first, take_back, intent):
    assert intents(session, first, take_back)[-1] == intent


@pytest.mark.parametrize(("first", "more", "intent"), [
    ("make it brighter by 60%", "much more", "Increase the brightness by 120%."),  # was 40%, less than "more"
    ("make it darker by 60%", "much more", "Decrease the brightness by 84%."),  # x0.4 twice, short of black
    ("make it darker by 45%", "much more", "Decrease the brightness by 69.8%."),  # was 90%: more than after 50%
    ("make it darker by 50%", "much more", "Decrease the brightness by 75%."),
    ("make it brighter by 5%", "a bit more", "Increase the brightness by 2.5%."),  # was 10%, twice "more"
    ("make it brighter", "much more", "Increase the brightness by 40%."),
    ("make it brighter", "a bit more", "Increase the brightness by 10%."),
])
def test_a_bit_more_and_much_more_stay_under_and_over_more(session, first, more, intent):
    assert intents(session, first, more)[-1] == intent


@pytest.mark.parametrize(("earlier", "said"), [
    (["make it brighter"], "double it"), (["reduce the saturation"], "halve it"),
    (["make it brighter by 40%"], "reduce it by 50%"), (["increase the contrast"], "could you double it?"),
])
def test_double_it_right_after_a_setting_is_asked_not_read_as_a_resize(session, earlier, said):
    intents(session, *earlier)
    with pytest.raises(InvalidInstructionError, match="the size, or a setting"):
        intents(session, said)
    assert len(session.history) == len(earlier)


@pytest.mark.parametrize(("earlier", "said", "intent"), [
    ([], "double it", "Resize to 200%."),
    (["rotate it left"], "double it", "Resize to 200%."),
    (["make it brighter"], "double the size", "Resize to 200%."),
    (["make it brighter"], "shrink it by 50%", "Resize to 50%."),
])
def test_double_it_with_no_setting_just_changed_is_still_a_resize(session, earlier, said, intent):
    assert intents(session, *earlier, said)[-1] == intent


def test_keep_it_that_way_on_its_own_makes_the_edit_before_a_rule(session):
    # it was refused as "neither" an edit nor a rule: only "make it black and white and keep it that way" worked
    intents(session, "make it black and white", "keep it that way.")  # a full stop too
    assert [constraint.text for constraint in session.head.constraints] == ["the image stays black and white"]
    with pytest.raises(InvalidInstructionError, match="A rule keeps the image black and white"):
        intents(session, "make it warmer")
    other = EditSession(store=session._store)
    other.edit(Image.new("RGB", (40, 30), (120, 90, 60)), "crop to a square")
    other.edit(None, "keep it like that from now on")
    assert other.edit(None, "rotate it left").constraints[0].text == "the image stays square"
    third = EditSession(store=session._store)
    third.edit(Image.new("RGB", (40, 30), (120, 90, 60)), "make it black and white")
    third.edit(None, "keep it like this")  # "this" as "that": it was refused as no rule
    assert third.edit(None, "rotate it left").constraints[0].text == "the image stays black and white"
    with pytest.raises(InvalidInstructionError, match="only black and white and a square shape can be kept"):
        intents(session, "make it brighter", "keep it that way")


@pytest.mark.parametrize("said", ["leave it like that", "ok leave it as it is, thanks"])
def test_leave_it_like_that_asks_for_no_change_and_sets_no_rule(session, said):
    # "leave it like that" as often means "stop here": it keeps no edit for the rest of the session
    from edit_agent.errors import UnsupportedInstructionError

    intents(session, "make it black and white")
    with pytest.raises(UnsupportedInstructionError, match="asks for no change"):
        intents(session, said)
    assert intents(session, "make it warmer")[-1] == "Make the image warmer by 20%."  # no rule refuses it


def test_an_edit_said_with_actually_is_made_where_it_corrects_nothing(session):
    assert intents(session, "actually, make it brighter", "crop to a square", "actually, make it warmer",
                   "actually, make it warmer too", "actually, make it even warmer", "actually, make it warmer",
                   "actually, looks great! make it warmer") == [
        "Increase the brightness by 20%.", "Crop to a centred square.", *["Make the image warmer by 20%."] * 5]


def test_keep_it_that_way_said_with_an_edit_after_others_keeps_it(session):
    """It was refused as a follow-up said among edits ("send them one at a time")."""
    intents(session, "rotate it left", "make it black and white and keep it that way")
    assert [constraint.text for constraint in session.head.constraints] == ["the image stays black and white"]


@pytest.mark.parametrize(("earlier", "said", "intent"), [
    ("blur it", "a bit more", "Blur the image with radius 1."),
    ("blur it", "much more", "Blur the image with radius 4."),
    ("blur it a lot", "a bit more", "Blur the image with radius 2.5."),
    ("sharpen it", "a bit more", "Sharpen the image slightly."),
    ("sharpen it", "much more", "Sharpen the image strongly."),
    ("sharpen it slightly", "more", "Sharpen the image slightly."),
])
def test_a_bit_more_or_much_more_of_a_blur_or_sharpen_is_gentler_or_stronger_than_more(session, earlier, said, intent):
    """Each was another blur or sharpen as strong as the last, as plain "more" is."""
    assert intents(session, earlier, said)[-1] == intent


@pytest.mark.parametrize(("earlier", "said", "intent"), [
    # half of the change taken back, as "too much" takes it: a fix by the default 20% went past the start
    ("make it a bit brighter", "too bright", "Decrease the brightness by 4.5%."),
    ("make it a bit darker", "it's too dark now", "Increase the brightness by 5.6%."),
    ("make it brighter", "not so bright", "Decrease the brightness by 8.3%."),
    ("make it brighter", "not that bright", "Decrease the brightness by 8.3%."),
    ("make it brighter by 40%", "way too bright", "Decrease the brightness by 28.6%."),  # all of it
    ("make it brighter and warmer", "too warm", "Make the image cooler by 9.1%."),  # of the warming only
])
def test_a_problem_said_right_after_the_edit_that_made_it_takes_part_of_that_edit_back(session, earlier, said, intent):
    assert intents(session, earlier, said)[-1] == intent


def test_a_problem_not_made_by_the_last_edit_is_fixed_by_the_usual_amount(session):
    assert intents(session, "make it brighter", "too dark")[-1] == "Increase the brightness by 20%."
    assert intents(session, "rotate it left", "too bright")[-1] == "Decrease the brightness by 20%."


def test_a_problem_said_right_after_the_edit_stays_above_the_image_before_it(session):
    image = Image.new("RGB", (40, 30), (120, 90, 60))
    session.edit(image, "make it a bit brighter")
    result = session.edit(None, "too bright")
    before, after = numpy.asarray(image, dtype=float).mean(), numpy.asarray(result.image, dtype=float).mean()
    assert before < after < numpy.asarray(session.history[0].image, dtype=float).mean()


@pytest.mark.parametrize(("said", "intent"), [
    ("a little bit more", "Make the image warmer by 10%."),
    ("bit more", "Make the image warmer by 10%."),
    ("a tiny bit more", "Make the image warmer by 10%."),
    ("10% more", "Make the image warmer by 10%."),
    ("another 5%", "Make the image warmer by 5%."),
    ("an extra 30 percent", "Make the image warmer by 30%."),
])
def test_more_said_the_many_usual_ways_adds_to_the_last_change(session, said, intent):
    """Each was refused ("asks for no change", "not an exact photo operation")."""
    assert intents(session, "make it warmer", said)[-1] == intent


def test_a_percentage_more_goes_the_way_the_last_change_went(session):
    assert intents(session, "make it darker", "10% more")[-1] == "Decrease the brightness by 10%."


@pytest.mark.parametrize(("earlier", "said", "intent"), [
    # an opening that sounds like a correction, with an edit that adds to the last one: read without it
    ("make it warmer", "no, make it warmer", "Make the image warmer by 20%."),  # more of it
    ("rotate it left", "oh wait, and flip it", "Flip the image horizontally."),
    ("make it warmer", "wait, then rotate it left", "Rotate the image 90 degrees counterclockwise."),
    ("make it brighter", "wait, and rotate it left", "Rotate the image 90 degrees counterclockwise."),
    # ... or that refers to it
    ("make it brighter", "no, too bright", "Decrease the brightness by 8.3%."),  # as "too bright"; it was -20%
    ("make it brighter", "oops, a bit too bright", "Decrease the brightness by 4.2%."),
    # ... or that goes the same way
    ("increase the contrast by 10%", "no, more contrast", "Increase the contrast by 20%."),
    ("make it a bit brighter", "no make it warmer as well", "Make the image warmer by 20%."),
])
def test_an_edit_after_a_correction_word_that_adds_to_the_last_one_is_made(session, earlier, said, intent):
    """Each was refused as needing a generative editor (the opening word read as no operation)."""
    assert intents(session, earlier, said)[-1] == intent
    assert intents(session, "again")[-1] == intent  # and the turn after it reads what it did


def test_no_more_without_a_comma_lifts_the_rule_it_names(session):
    """Read as "no, more black and white", it turned the image black and white again and kept the rule."""
    intents(session, "make it black and white and keep it that way")
    assert intents(session, "no more black and white")[-1] == "Make no change."
    assert session.head.constraints == ()
    assert intents(session, "make it warmer")[-1] == "Make the image warmer by 20%."


def test_way_too_much_after_an_edit_with_a_crop_takes_the_whole_change_back_and_keeps_the_crop(session):
    """The text said all of the warming was taken back, but the image was drawn again with only a gentle amount off."""
    session.edit(bright_photo(), "make it warmer and crop to a square")
    result = session.edit(None, "way too much")
    direct = EditSession(store=session._store).edit(bright_photo(), "crop to a square")
    assert result.image.tobytes() == direct.image.tobytes()


def test_too_warm_after_an_edit_with_a_crop_is_drawn_as_that_edit_with_less_warming(session):
    """As "too much" after it is: the warming taken back on its own, done to the result, kept what it clipped."""
    session.edit(bright_photo(), "make it warmer and crop to a square")
    result = session.edit(None, "too warm")
    direct = EditSession(store=session._store).edit(bright_photo(), "make it warmer by 10% and crop to a square")
    assert result.image.tobytes() == direct.image.tobytes()


@pytest.mark.parametrize(("said", "intent"), [
    ("more, because it's still dark", "Increase the brightness by 20%."),
    ("more because it's still too dark", "Increase the brightness by 20%."),  # the reason goes the same way
    ("too much because it's washed out now", "Decrease the brightness by 8.3%."),
    ("less because it's too bright", "Decrease the brightness by 8.3%."),
    # said in a sentence of its own: refused as "more" and another edit in one message
    ("More. It's still too dark.", "Increase the brightness by 20%."),
    ("More. It's still dark.", "Increase the brightness by 20%."),
    ("Too much. It's too bright now.", "Decrease the brightness by 8.3%."),
])
def test_a_follow_up_given_with_a_reason_reads_as_the_follow_up(session, said, intent):
    assert intents(session, "make it brighter", said)[-1] == intent


@pytest.mark.parametrize(("said", "message"), [
    ("more because it's too bright", "reads as another change"),
    ("More. It's too bright now.", "reads as another change"),
    ("Less. It's dark now.", "asks for the change the other way"),
    ("more, because it's still dark, like 10%", "could say what to do, how much or how often"),
])
def test_a_follow_up_whose_reason_goes_the_other_way_or_says_more_is_asked(session, said, message):
    with pytest.raises(InvalidInstructionError, match=message):
        intents(session, "make it brighter", said)


def test_a_follow_up_with_a_reason_and_another_edit_is_sent_one_at_a_time_not_dropped(session):
    """The reason left out, 'too much, and crop it square' was read as the crop alone."""
    with pytest.raises(EditAgentError, match="one at a time|reads as another change"):
        intents(session, "make it brighter", "too much because it's too bright now, and crop it square")
    assert len(session.turns) == 1


@pytest.mark.parametrize(("earlier", "said"), [
    ("make it brighter", "more because it's still cold"),  # the warmth, not another brightening
    ("make it brighter and warmer", "more because it's still dark"),  # the brightness only, not both
])
def test_a_follow_up_whose_reason_names_other_settings_than_it_repeats_is_asked(session, earlier, said):
    with pytest.raises(InvalidInstructionError, match="is about other settings than the change"):
        intents(session, earlier, said)


def test_now_its_not_that_bright_said_of_how_it_is_is_asked_not_another_darkening(session):
    with pytest.raises(InvalidInstructionError, match="enough, or should it be less"):
        intents(session, "make it darker", "now it's not that bright")


def test_a_reason_says_how_much_of_a_state_not_of_the_follow_up(session):
    assert intents(session, "make it brighter", "a bit more since it's still a bit dark")[-1] == (
        "Increase the brightness by 10%.")


@pytest.mark.parametrize("said", ["undo that because I hate it", "undo ↩", "undo 🙏"])
def test_undo_given_with_a_reason_or_a_symbol_is_told_where_undo_is(session, said):
    with pytest.raises(EditAgentError, match="Going back is a move in the session"):
        intents(session, "make it brighter", said)
