"""Any text, in any order, either reads as photo operations whose intent reads again, or is one clear refusal.

Word salads from the parser's own vocabulary reach the corners of its rules together (a fix with a level, a
follow-up word in a setting, a hedge with a resize) that hand-written cases miss; a rule handler reading the
wrong group once raised ValueError here instead of a refusal.
"""

from __future__ import annotations

import random
import re

from PIL import Image

from edit_agent.errors import EditAgentError
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
