"""Reasons given with a photo instruction: "make it brighter because it's too dark", "crop to a square since it's
for Instagram". A reason says why, not what: the edit is what is said before it. This module finds where a reason
is said; :mod:`edit_agent.photo_parsing` decides whether it may be left out (it may not where it says which way the
edit goes, or asks for a change the edit does not make).

>>> [(reason.edit, reason.reason) for reason in reasons_given("make it brighter because it's too dark. Crop it.")]
[('make it brighter', "it's too dark")]
>>> without_reasons("make it brighter because it's too dark, and crop to a square")
'make it brighter, and crop to a square'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUBJECT = r"(?:it|it['’]s|its|i|i['’]m|i['’]ve|we|we['’]re|they|they['’]re|the|this|that|my|our|there|you|he|she)"
_OPENING = rf"(?:because(?:\s+of)?|['’]?cause|cuz|coz|since(?=\s+{_SUBJECT}\b))"
"""What opens a reason. "since" only before who or what it is about ("since it's for print"), not "since the crop"."""
_REQUEST_AFTER = (r"(?:and\s+then|then|and|also|plus|but)\s+(?:make|turn|rotate|flip|mirror|crop|cut|trim|resize|scale"
                  r"|shrink|enlarge|brighten|darken|lighten|blur|sharpen|soften|convert|increase|decrease|reduce|raise"
                  r"|lower|boost|add|remove|invert|saturate|desaturate|warm|cool|straighten|undo|keep|please|now)\b")
"""Where a request goes on after a reason: "... because it's dark, and crop it" crops; "because it's dark and
gloomy" is all reason."""
_REASON = re.compile(
    rf"\s*,?\s*(?<![\w'’])(?P<opening>{_OPENING})\b(?P<reason>[^.!?;]*?)(?=\s*(?:[.!?;]|,?\s+{_REQUEST_AFTER}|$))",
    re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;]")


@dataclass(frozen=True)
class GivenReason:
    """A reason in an instruction: ``edit`` is what its sentence says before it, ``reason`` what follows the opening
    word; ``start`` and ``end`` are where the reason (with its opening and the comma before it) stands."""

    edit: str
    reason: str
    start: int
    end: int


def reasons_given(text: str) -> list[GivenReason]:
    """The reasons ``text`` gives after an edit, in order. One that opens its sentence ("Because it's dark.") has no
    edit before it and is none: what it says is left to be read as said."""
    found: list[GivenReason] = []
    for match in _REASON.finditer(text):
        sentence_start = max([end.end() for end in _SENTENCE_END.finditer(text, 0, match.start())]
                             + [found[-1].end if found else 0])
        edit = text[sentence_start:match.start()].strip(" ,")
        if re.search(r"\w", edit):
            found.append(GivenReason(edit, match.group("reason").strip(" ,"), match.start(), match.end()))
    return found


def without_reasons(text: str) -> str:
    """``text`` without the reasons it gives after an edit."""
    for reason in reversed(reasons_given(text)):
        text = text[:reason.start] + text[reason.end:]
    return text
