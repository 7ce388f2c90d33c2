"""Reasons given with a photo instruction: "make it brighter because it's too dark", "crop to a square since it's
for Instagram", "because it's dark, brighten it". A reason says why, not what. This module finds where reasons are
said and what in them could say what to do; :mod:`edit_agent.photo_parsing` decides where each one ends (the request
may go on after it: "... because it's dark, and crop it") and whether it may be left out.

>>> [(reason.reason, reason.leading) for reason in reasons_given("make it brighter because it's too dark. Crop it.")]
[("it's too dark", False)]
>>> [reason.reason for reason in reasons_given("Since it's for print, make it black and white")]
["it's for print, make it black and white"]
>>> says_what_to_do("it's for instagram"), says_what_to_do("it's dark, by 10%"), says_what_to_do("it's dark, twice")
(False, True, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUBJECT = (r"(?:it|it['’]?s|i|i['’]m|i['’]ve|we|we['’]re|they|they['’]re|the|this|that|these|those|my|our|there"
            r"|you|he|she|people|everyone)")
_OPENING = (rf"(?:because(?:\s+of)?|becuase|becasue|b/c|bc|['’]?cause|cuz|coz|cos|since(?=\s+{_SUBJECT}\b)"
            rf"|so\s+(?:that\s+)?(?:i|we|you|they|people|everyone)\s+can\b"
            r"|for\s+(?:my\s+|our\s+|the\s+|a\s+|an\s+)?(?:instagram|insta|ig|facebook|fb|twitter|tiktok|linkedin"
            r"|pinterest|web|website|blog|print|printing|wallpaper|desktop|lock\s*screen|profile\s+(?:picture|pic|photo)"
            r"|pfp|avatar|thumbnail|story|stories|post|banner|cover|presentation|slides?)(?=\s*(?:[.!?;]|$)))")
"""What opens a reason or a purpose: "because ...", "since it's ...", "so I can ...", "for Instagram" (a purpose named
alone at the end: "for the web" says no size). "since" only before who or what it is about ("since it's for print"),
not "since the crop"; no "as" ("keep it as it is")."""
_REASON = re.compile(rf"(?<![\w/'’])(?P<opening>{_OPENING})(?![\w/])(?P<reason>[^.!?;]*)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;]")
_GOES_ON = re.compile(r"\s*(?:[,;]\s*)?(?:\b(?:and\s+then|and|then|but|plus|also|so)\b|&|\+|[-–—](?=\s))\s*|\s*,\s*",
                      re.IGNORECASE)
"""Where what follows a reason may be the request again: "because it's dark, and crop it", "since it's dark, crop
it", "because it's dark & crop it", "since it's too dark so brighten it"."""


@dataclass(frozen=True)
class GivenReason:
    """A reason in an instruction, said to the end of its sentence: ``reason`` is what follows the opening word,
    ``start`` where the opening (with a comma before it) stands, ``reason_start`` where ``reason`` does in the text.
    ``leading`` where nothing of the request comes before it in its sentence ("Because it's dark, brighten it")."""

    reason: str
    start: int
    reason_start: int
    end: int
    leading: bool


def reasons_given(text: str, start: int = 0) -> list[GivenReason]:
    """The reasons ``text`` gives from ``start`` on, in order, each said to the end of its sentence."""
    found: list[GivenReason] = []
    for match in _REASON.finditer(text, start):
        sentence_start = max([0] + [end.end() for end in _SENTENCE_END.finditer(text, 0, match.start())])
        before = text[sentence_start:match.start()]
        comma = re.search(r"\s*,?\s*$", before)
        reason_start = match.start("reason") + len(match.group("reason")) - len(match.group("reason").lstrip(" ,"))
        found.append(GivenReason(match.group("reason").strip(" ,"), sentence_start + comma.start(), reason_start,
                                 match.end("reason"), leading=not re.search(r"\w", before)))
    return found


def ways_on(reason: str) -> list[tuple[int, int]]:
    """Where in ``reason`` the request may go on again, in order: each ``(start, end)`` of the words that join it."""
    return [(match.start(), match.end()) for match in _GOES_ON.finditer(reason) if match.start() > 0]


_SAYS_WHAT_TO_DO = re.compile(
    r"\d|%|\b(?:brighter|darker|lighter|warmer|cooler|colder|sharper|blurrier|softer|crisper|bigger|smaller|larger"
    r"|wider|narrower|taller|shorter|more|less|bit|little|slightly|slight|touch|tad|subtly|subtle|lot|twice|thrice"
    r"|times|double|half|quarter|square|crop(?:ped)?|black\s+and\s+white|b\s*&\s*w|gr[ae]yscale|sepia|invert(?:ed)?"
    r"|negative|portrait|landscape|aspect|make|turn|rotate|flip|mirror|cut|trim|resize|scale|shrink|enlarge|brighten"
    r"|darken|lighten|blur|sharpen|soften|fix|convert|adjust|increase|decrease|reduce|raise|lower|boost|add|remove"
    r"|warm|cool|straighten|saturate|desaturate)\b",
    re.IGNORECASE)
"""Words that in a reason could say what to do, how much or how often ("because it's dark, by 10%", "since it's
dark, twice", "because it's dark and square it"): a reason with them is asked, never dropped."""
_WAY = re.compile(r"\b(?:upside|sideways|left|right|clockwise|counter\s*clockwise|anti\s*clockwise|vertical(?:ly)?"
                  r"|horizontal(?:ly)?|mirrored|backwards?|tilted|crooked|rotated|flipped|around|over)\b", re.IGNORECASE)
"""Words in a reason that could say which way a rotation or flip goes ("because it's upside down")."""


def says_what_to_do(reason: str) -> bool:
    """Whether ``reason`` has words that could say what to do, how much or how often."""
    return _SAYS_WHAT_TO_DO.search(reason) is not None


def says_a_way(reason: str) -> bool:
    """Whether ``reason`` has words that could say which way to rotate or flip."""
    return _WAY.search(reason) is not None
