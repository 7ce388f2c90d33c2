"""Typos of the operations' own words are read as those words; other words are never "corrected" into them."""

from __future__ import annotations

import pytest

from edit_agent import EditSession
from tests.test_photo_follow_ups import intents


@pytest.fixture
def session(tmp_path) -> EditSession:
    return EditSession(store=tmp_path / "store")


@pytest.mark.parametrize("typed, intent", [
    ("brigher please", "Increase the brightness by 20%."),
    ("rotae left", "Rotate the image 90 degrees counterclockwise."),
    ("flip it horizontaly", "Flip the image horizontally."),
    ("make it black and whit", "Convert the image to grayscale."),
    ("mkae it cooler", "Make the image cooler by 20%."),  # two letters swapped, in the verb too
    ("make it wamrer", "Make the image warmer by 20%."),
])
def test_a_typo_of_an_operation_word_is_read_as_that_word_and_said(session, typed, intent):
    assert intents(session, typed) == [intent]
    assert session.head.reasoning.startswith("Read '")


@pytest.mark.parametrize("typed", [
    "make it blue", "make the car red", "rotae 45 degrees",
    # real words near operation words: a prefix that reverses it, another first letter, an object's name
    "deblur it", "unblur it", "undarken", "turn it bright", "rate it", "make it bluer", "make it bolder", "shape it",
    "make the cooker cooler", "make the farmer warmer",
])
def test_words_that_are_no_typo_of_an_operation_stay_refused(session, typed):
    from edit_agent.errors import EditAgentError

    with pytest.raises(EditAgentError):
        intents(session, typed)
    assert session.turns == []


def test_a_corrected_instruction_that_needs_more_says_what_it_needs_not_that_it_cannot_be_done(session):
    from edit_agent.errors import InvalidInstructionError, NeedsGenerativeEditorError

    with pytest.raises(InvalidInstructionError, match="needs a size") as refused:
        intents(session, "make it smaler")
    assert not isinstance(refused.value, NeedsGenerativeEditorError) and "(Read 'smaler' as 'smaller'.)" in str(refused.value)
    assert session.turns == []


def test_a_typo_repeated_is_told_once(session):
    from edit_agent.errors import InvalidInstructionError

    with pytest.raises(InvalidInstructionError, match="at most 20") as refused:
        intents(session, "brigher " * 30)
    assert str(refused.value).count("'brigher' as 'brighter'") == 1


@pytest.mark.parametrize("rule, later, held", [
    ("from now on keep it balck and white", "make it warmer", "black and white"),  # the rule refuses colour
    ("from now on keep it sqaure", "crop to 16:9", "square"),
])
def test_a_rule_set_with_a_typo_holds_on_later_turns(session, rule, later, held):
    from edit_agent.errors import InvalidInstructionError

    intents(session, rule)
    assert [c.text for c in session.head.constraints] == [f"the image stays {held}"]
    intents(session, "make it brighter")
    assert [c.text for c in session.head.constraints] == [f"the image stays {held}"]  # as the first turn said
    with pytest.raises(InvalidInstructionError, match=f"A rule keeps the image {held}"):
        session.edit(None, later)


@pytest.mark.parametrize("rule, lift, later", [
    ("from now on keep it black and white", "stop keeping it balck and white", "make it warmer"),
    ("keep it square", "drop the sqaure rule", "crop to 16:9"),
])
def test_a_rule_lifted_with_a_typo_stays_lifted(session, rule, lift, later):
    intents(session, rule, lift, later)
    assert session.head.constraints == ()
    assert len(session.turns) == 3
