"""Typos in a photo instruction: "brigher", "rotae left", "horizontaly", read as the operation words they miss.

Only for an instruction that does not read as it is, and only words close to one of the operations' own
words; the corrected instruction must then read completely, or nothing is corrected:

>>> corrected_typos("make it brigher")
('make it brighter', [('brigher', 'brighter')])
>>> corrected_typos("make it blue")  # a colour is no typo of "blur"
('make it blue', [])
"""

from __future__ import annotations

import difflib
import re

from edit_agent.photo_ops import COURTESY_WORDS, FILLER_WORDS

OPERATION_WORDS = frozenset("""
    rotate rotation flip mirror crop resize scale brighter brighten brightness lighter lighten darker darken dimmer
    exposure contrast saturation saturate saturated desaturate warmer warmth warm cooler colder cool grayscale
    greyscale monochrome black white blur blurry sharpen sharper sharpness horizontally vertically clockwise
    counterclockwise anticlockwise left right degrees square half increase decrease reduce lower bigger smaller
    enlarge shrink upscale vivid vibrant again opposite make please
""".split())
_CLOSE_ENOUGH = 0.8
"""difflib's ratio: one letter missing, doubled or swapped in a word of four or more letters."""


def corrected_typos(instruction: str) -> tuple[str, list[tuple[str, str]]]:
    """``instruction`` with each unknown word close to an operation word replaced by it, and the replacements."""
    known = OPERATION_WORDS | FILLER_WORDS | COURTESY_WORDS
    corrections: list[tuple[str, str]] = []

    def correct(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) < 3 or word.lower() in known or not word.isalpha():
            return word
        close = difflib.get_close_matches(word.lower(), OPERATION_WORDS, n=1, cutoff=_CLOSE_ENOUGH)
        if not close:
            return word
        corrections.append((word, close[0]))
        return close[0]

    return re.sub(r"[A-Za-z]+", correct, instruction), corrections
