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
from collections.abc import Iterable

from edit_agent.photo_parsing import COURTESY_WORDS, FILLER_WORDS

OPERATION_WORDS = frozenset("""
    rotate rotation flip mirror crop resize scale brighter brighten brightness lighter lighten darker darken dimmer
    exposure contrast saturation saturate saturated desaturate warmer warmth warm cooler colder cool grayscale
    greyscale monochrome black white blur blurry sharpen sharper sharpness horizontally vertically clockwise
    counterclockwise anticlockwise left right degrees square half increase decrease reduce lower bigger smaller
    enlarge shrink upscale vivid vibrant again opposite make please sepia invert negative aspect ratio
""".split())
_CLOSE_ENOUGH = 0.8
"""difflib's ratio: one letter missing, doubled or changed in a word of four or more letters."""
REAL_WORDS = frozenset("bluer bluest cooker cook lover lowers rower shaper shape rate rates insert inserts aspects".split())
"""English words one edit from an operation word: what they say is never a typo ("make it bluer")."""


def corrected_typos(instruction: str) -> tuple[str, list[tuple[str, str]]]:
    """``instruction`` with each unknown word close to an operation word replaced by it, and the replacements.

    Close means: the same first letter (a prefix such as "un" or "de" changes the meaning, "deblur"), one edit
    away (two for a word of eight letters or more), and a word the instruction does not already hold ("the
    cooker cooler" names an object, not two edits)."""
    known = OPERATION_WORDS | FILLER_WORDS | COURTESY_WORDS | REAL_WORDS
    present = {word.lower() for word in re.findall(r"[A-Za-z]+", instruction)}
    corrections: list[tuple[str, str]] = []

    def correct(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        meant = None if word in known else slip_of(word, OPERATION_WORDS - present)
        if meant is None:
            return match.group(0)
        corrections.append((match.group(0), meant))
        return meant

    return re.sub(r"[A-Za-z]+", correct, instruction), corrections


def slip_of(word: str, vocabulary: Iterable[str]) -> str | None:
    """The word of ``vocabulary`` that ``word`` (lowercase) is a slip of the fingers for, if any: a word of four
    or more letters with the same first letter, one letter missing, doubled, changed or swapped with its
    neighbour (two for a word of eight letters or more), and close by difflib's measure unless swapped."""
    if len(word) < 4:
        return None
    words = sorted(vocabulary)
    close = [candidate for candidate in difflib.get_close_matches(word, words, n=3, cutoff=_CLOSE_ENOUGH)
             if candidate[0] == word[0] and _edits(word, candidate) <= (2 if len(word) >= 8 else 1)]
    close = close or [candidate for candidate in words if _swapped(word, candidate)]
    return close[0] if close else None


def _swapped(word: str, candidate: str) -> bool:
    """Two neighbouring letters swapped after the first ("mkae" for "make"): difflib's ratio rates a swap as low
    as a changed letter ("blue" for "blur"), which is a different word, not a slip of the fingers."""
    return (word != candidate and len(word) == len(candidate) and word[0] == candidate[0]
            and sorted(word) == sorted(candidate) and _edits(word, candidate) == 1)


def _edits(a: str, b: str) -> int:
    """Letters inserted, deleted, replaced or swapped with a neighbour to turn ``a`` into ``b``."""
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if before is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
    return current[len(b)]
