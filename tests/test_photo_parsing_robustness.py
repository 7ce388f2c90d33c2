"""Any text, in any order, either reads as photo operations whose intent reads again, or is one clear refusal.

Word salads from the parser's own vocabulary reach the corners of its rules together (a fix with a level, a
follow-up word in a setting, a hedge with a resize) that hand-written cases miss; a rule handler reading the
wrong group once raised ValueError here instead of a refusal.
"""

from __future__ import annotations

import random
import re

import pytest
from PIL import Image

from edit_agent.errors import EditAgentError, UnsupportedInstructionError
from edit_agent.photo_ops import MAX_INTENT_OPERATIONS
from edit_agent.photo_parsing import _PROBLEMS, _RULES, _SETTINGS, parse_operations
from edit_agent.reasoners.photo import PhotoRuleReasoner
from edit_agent.records import HistoryTurn, TurnRequest

EXTRA_WORDS = ("it the image please thanks too less more a bit much way again opposite up down to by and but then , . ? ! "
               "% 10% 20% 120% 50% -20% +20% 90 180 px 100 x 2x is it's looks keep from now on forget rule square "
               "black white red car sky twice 3 times 16:9 4:3 0:9 twenty ninety hundred percent degrees half point "
               "five one left right top bottom that's").split()


def vocabulary() -> list[str]:
    """The rules' own words, and the two-word phrases that reach their handlers ("too soft", "less blur")."""
    words = {word for pattern, _, _ in _RULES for word in re.findall(r"[a-z]{2,}", pattern)}
    adjectives = {word for pattern, _ in _PROBLEMS for word in re.findall(r"[a-z]{2,}", pattern)}
    nouns = {word for noun, _, _ in _SETTINGS.values() for word in re.findall(r"[a-z]{2,}", noun)}
    phrases = {f"{how} {word}" for how in ("too", "less", "not so") for word in adjectives}
    phrases |= {f"{how} {word}" for how in ("more", "less", "reduce", "add", "too much") for word in nouns}
    return sorted(words | phrases | set(EXTRA_WORDS))


def request(instruction: str) -> TurnRequest:
    image = Image.new("RGB", (8, 8))
    return TurnRequest(instruction=instruction, image=image, source_image=image)


def salad(rng: random.Random, words: list[str], most: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, most)))


def test_word_salads_read_completely_or_are_refused_with_an_edit_agent_error():
    words, rng, image = vocabulary(), random.Random(0), Image.new("RGB", (8, 8))
    accepted = 0
    for _ in range(1500):
        history = tuple(HistoryTurn(turn_id=f"t{i}", instruction=salad(rng, words, 5), reasoning="", intent="")
                        for i in range(rng.randint(0, 2)))
        request = TurnRequest(instruction=salad(rng, words, 7), image=image, source_image=image, history=history)
        for reasoner in (PhotoRuleReasoner(), PhotoRuleReasoner(keep_rules=False)):
            try:
                thought = reasoner.reconstruct(request)
            except EditAgentError:
                continue
            accepted += 1
            parse_operations(thought.intent.text, limit=MAX_INTENT_OPERATIONS)  # what the exact editor applies
    assert accepted > 50  # the salads do reach the rules, not only refusals


@pytest.mark.parametrize("instruction", [
    "brighten by " + "9" * 309 + "%",  # a float of it is inf
    "resize to " + "9" * 400 + "%",
    "blur with radius " + "9" * 20,
    "resize to 1,000,000,000,000,000,000 px wide",
])
def test_a_number_too_large_for_any_edit_is_said_to_be_so(instruction):
    with pytest.raises(UnsupportedInstructionError, match="too large for any edit") as refused:
        PhotoRuleReasoner().reconstruct(request(instruction))
    assert "inf" not in str(refused.value) and len(str(refused.value)) < 160


def test_long_decimals_and_large_but_finite_numbers_keep_their_own_answers():
    thought = PhotoRuleReasoner().reconstruct(request("blur with radius 1.123456789012345678"))
    assert thought.intent.text.startswith("Blur the image with radius 1.12")
    assert PhotoRuleReasoner().reconstruct(request("rotate it 000000000000000090 degrees")).intent.text == \
        "Rotate the image 90 degrees clockwise."  # leading zeros are no size
    # a list of numbers is no one number: refused, with crops that are read
    with pytest.raises(UnsupportedInstructionError, match="asks for a crop in words this editor does not read"):
        PhotoRuleReasoner().reconstruct(request("crop 1000,2000,3000,4000,5000,6000"))
    # 15 digits still read; the editor then refuses the size by its own limit, in pixels.
    assert "1000000000000000%" in PhotoRuleReasoner().reconstruct(request("enlarge by 999999999999900%")).intent.text


@pytest.mark.parametrize("instruction", [
    "rotate it 90 degrees 不要", "make it warmer но не слишком", "make it warmer 但不要太多", "make it warmer, ça va",
    "make it warmer ½",  # a fraction sign is a number: half of what? (it was dropped, and warmed by 20%)
])
def test_words_in_any_script_that_are_not_read_are_refused_not_dropped(instruction):
    with pytest.raises(EditAgentError, match="not an exact photo operation"):
        PhotoRuleReasoner().reconstruct(request(instruction))


@pytest.mark.parametrize("instruction", ["make it warmer 😀", "make it warmer!!! :)", "make it warmer…", "rotate it 90°",
                                         "rotate it 90º", "make it warmer ²"])
def test_emoji_and_punctuation_say_nothing_to_refuse(instruction):
    assert PhotoRuleReasoner().reconstruct(request(instruction)).intent.text.startswith(("Make the image warmer", "Rotate"))


@pytest.mark.parametrize("instruction", [
    "make the car " + "really " * 280 + "red",  # no exact operation: a generative editor is needed
    "thanks " * 280 + "a lot!",  # asks for nothing
    "don't rotate it " + "and don't flip it " * 100,  # says what not to do
])
def test_a_refusal_of_a_long_instruction_quotes_its_start_and_end_on_one_short_line(instruction):
    with pytest.raises(EditAgentError) as refused:
        PhotoRuleReasoner().reconstruct(request(instruction))
    told = str(refused.value)
    assert len(told) < 700 and instruction[:40] in told and instruction[-20:] in told and " … " in told


def test_on_a_world_canvas_a_long_number_gets_the_world_languages_own_answer():
    from edit_agent.reasoners.rules import RuleReasoner
    from edit_agent.samples import sample_image
    from edit_agent.world.language import WorldLanguageError

    canvas = sample_image("world-0")
    turn = TurnRequest(instruction="make the circle 1234567890123456 blue", image=canvas, source_image=canvas)
    with pytest.raises(WorldLanguageError) as refused:
        RuleReasoner().reconstruct(turn)
    assert "too large" not in str(refused.value)
