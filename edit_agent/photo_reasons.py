"""Reasons given with a photo instruction: "make it brighter because it's too dark", "crop to a square since it's
for Instagram", "because it's dark, brighten it". A reason says why, not what. This module finds where a reason is
said and what in it could say what to do; :mod:`edit_agent.photo_parsing` decides where it ends (the request may go
on after it: "... because it's dark, and crop it") and whether it may be left out.

>>> reason = first_reason("make it brighter because it's too dark. Crop it.")
>>> reason.reason, reason.leading
("it's too dark", False)
>>> first_reason("Since it's for print, make it black and white").reason
"it's for print, make it black and white"
>>> says_what_to_do("it's for instagram"), says_what_to_do("it's a bit dark"), says_what_to_do("it's dark, a bit")
(False, False, True)
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from dataclasses import dataclass

_SUBJECT = (r"(?:it|it['’]?s|i|i['’]m|i['’]ve|we|we['’]re|they|they['’]re|the|this|that|these|those|my|our|there"
            r"|you|he|she|people|everyone)")
_SINCE_SUBJECT = (r"(?:it|it['’]?s|i|i['’]m|i['’]ve|we|we['’]re|they|they['’]re|you|he|she|there['’]s"
                  r"|(?:this|that|these|those|my|our|the)\s+(?:\w+\s+){0,2}?(?:is|are|was|were|looks?|seems?))")
"""Who or what a reason after "since" is about: "since it's for print", not "since the crop" (since when)."""
_PURPOSES = (r"instagram|insta|ig|facebook|fb|twitter|tiktok|linkedin|pinterest|youtube|whatsapp|email|e-mail|web"
             r"|website|blog|print|printing|wallpaper|desktop|lock\s*screen|profile\s+(?:picture|pic|photo)|pfp|avatar"
             r"|thumbnail|story|stories|post|banner|cover|presentation|slides?|card|frame|album|me|client|boss|mum|mom|dad"
             r"|friend|family")
_OPENING = (rf"(?:because(?:\s+of)?|becuase|becasue|b/c|bc|['’]?cause|cuz|coz|cos|since(?=\s+{_SINCE_SUBJECT}\b)"
            r"|as(?=\s+(?:it['’]s|i['’]m|we['’]re|they['’]re)\b)"
            r"|so\s+(?:that\s+)?(?:i|we|you|they|people|everyone)\s+can\b|it['’]?s\s+for(?=\s)"
            rf"|for\s+(?:my\s+|our\s+|the\s+|a\s+|an\s+)?(?:{_PURPOSES})(?:\s+(?:post|story|stories|feed|page))?"
            r"(?=\s*(?:[.!?;:,]|$|\s+(?:please|pls|thanks|thank\s+you|and|then|but|plus)\b)))")
"""What opens a reason or a purpose: "because ...", "since it's ...", "as it's ...", "so I can ...", "for Instagram"
(a purpose named alone: "for the web" says no size). "since" only before who or what it is about ("since it's for
print"), not "since the crop"; "as" only before "it's" and the like ("keep it as it is" is no reason)."""
_REASON = re.compile(rf"(?<![\w/'’])(?P<opening>{_OPENING})(?![\w/])(?P<reason>[^.!?;]*)", re.IGNORECASE)
_STATE_FIRST = re.compile(
    r"(?:^|(?<=[.!?;]))\s*(?P<reason>(?:it['’]?s|it\s+is|it\s+was|it\s+looks|its|this\s+(?:is|was)|(?:we|i)\s+(?:shot|took)"
    r"|the\s+(?:image|photo|picture|pic)\s+(?:is|was|looks))\b[^.!?;]*?\bso\s+[^.!?;]*)", re.IGNORECASE)
"""How the image is, then what to do about it: "it's blurry so sharpen it" (the state is the reason)."""
_STATE_SENTENCE = re.compile(
    r"(?:^|(?<=[.!?;]))\s*(?P<reason>(?:it['’]?s|it\s+is|its|it\s+looks|this\s+is|the\s+(?:image|photo|picture|pic)"
    r"\s+(?:is|looks))\s+(?P<state>[^.!?;]{1,80}?))\s*(?=[.!?;]|$)", re.IGNORECASE)
"""A sentence of its own that may only say how the image is (checked with ``_ONLY_A_STATE``)."""
_COLON = r"(?<!\d):(?!\d)"  # not of a ratio ("4:5")
_GOES_ON = re.compile(rf"\s*(?:(?:[,;]|{_COLON})\s*)?(?:\b(?:and\s+then|and|then|but|plus|also|so)\b|&|\+|[-–—](?=\s))\s*"
                      rf"|\s*(?:,|{_COLON})\s*", re.IGNORECASE)
"""Where what follows a reason may be the request again: "because it's dark, and crop it", "since it's dark, crop
it", "because it's dark: brighten it", "since it's too dark so brighten it"."""


@dataclass(frozen=True)
class GivenReason:
    """A reason in an instruction, said to the end of its sentence: ``reason`` is what follows the opening word,
    ``start`` where the opening (with a comma before it) stands, ``reason_start`` where ``reason`` does in the text.
    ``leading`` where nothing of the request comes before it in its sentence ("Because it's dark, brighten it");
    ``sentence_start`` where its sentence starts."""

    reason: str
    start: int
    reason_start: int
    end: int
    leading: bool
    sentence_start: int


def first_reason(text: str, start: int = 0) -> GivenReason | None:
    """The first reason ``text`` gives from ``start`` on, said to the end of its sentence."""
    match = min((found for found in (_REASON.search(text, start), _STATE_FIRST.search(text, start),
                                     _state_sentence(text, start)) if found),
                key=lambda found: found.start("reason"), default=None)
    if match is None:
        return None
    sentence_start = max(text.rfind(end, 0, match.start()) for end in ".!?;") + 1
    before = text[sentence_start:match.start()]
    comma = re.search(r"\s*,?\s*$", before)
    said = match.group("reason")
    return GivenReason(said.strip(" ,"), sentence_start + comma.start(), match.start("reason") + len(said) - len(said.lstrip(" ,")),
                       match.end("reason"), not re.search(r"\w", before), sentence_start)


def _state_sentence(text: str, start: int) -> re.Match[str] | None:
    """The first sentence from ``start`` on that only says how the image is, without "too" ("It's dark. Brighten
    it.", "Sharpen it. It's blurry."): a reason; "too dark" is a problem, which the parser reads as its fix."""
    for found in _STATE_SENTENCE.finditer(text, start):
        said = found.group("state")
        denied_or_too = r"\b(?:not)\b" if _TOO_IS_A_REASON.get() else r"\b(?:too|overly|not)\b"
        if _ONLY_A_STATE.match(said) and not re.search(denied_or_too, said, re.IGNORECASE):
            return found
    return None


_TOO_IS_A_REASON = contextvars.ContextVar("too_is_a_reason", default=False)


@contextlib.contextmanager
def too_states_as_reasons() -> Iterator[None]:
    """Read "It's still too dark." as a reason too, as said with a follow-up ("More. It's still too dark."): with an
    edit of its own it is a problem, which the parser reads as its fix."""
    token = _TOO_IS_A_REASON.set(True)
    try:
        yield
    finally:
        _TOO_IS_A_REASON.reset(token)


def ways_on(reason: str) -> list[tuple[int, int]]:
    """Where in ``reason`` the request may go on again, in order: each ``(start, end)`` of the words that join it."""
    return [(match.start(), match.end()) for match in _GOES_ON.finditer(reason)]


_STATE = (r"dark|darker|dim|underexposed|gloomy|bright|light|overexposed|blurry|blurred|fuzzy|soft|sharp|grainy|noisy"
          r"|warm|cold|cool|blue|bluish|yellow|yellowish|orange|dull|flat|muted|washed\s+out|drab|grey|gray|saturated"
          r"|vivid|garish|contrasty|harsh|muddy|sad|boring|ugly|off|wrong|weird|small|big|large|crooked|tilted")
_STATE_SAID = re.compile(
    rf"\b(?:(?:a\s+)?(?:(?:tiny|little|wee)\s+)?(?:bit|little|tad|touch)|slightly|somewhat|kind\s+of|kinda|sort\s+of"
    rf"|quite|very|really|pretty|way|much|far|too|so|a\s+lot|still|now|just)\s+(?:(?:too|so)\s+)?(?:{_STATE})\b",
    re.IGNORECASE)
"""How much of a state a reason says ("it's a bit dark", "way too warm"): of the image, not the edit's amount."""
_SAYS_WHAT_TO_DO = re.compile(
    r"\d|%|\b(?:brighter|lighter|warmer|cooler|colder|sharper|blurrier|softer|crisper|bigger|smaller|larger"
    r"|wider|narrower|taller|shorter|more|less|bit|little|slightly|slight|touch|tad|subtly|subtle|lot|twice|thrice"
    r"|times|again|same|double|half|quarter|square|crop(?:ped)?|black\s*(?:and|&|n)\s*white|b\s*[&/]\s*w|gr[ae]yscale"
    r"|monochrome|mono|sepia|invert|aspect|contrast|saturation|brightness|warmth"
    r"|make|turn|rotate|flip|mirror|cut|trim|resize[ds]?|scale|shrink|enlarge|brighten|darken"
    r"|lighten|blur|sharpen(?:ed)?|soften|fix|convert|adjust|increase|decrease|reduce|raise|lower|boost|add|remove"
    r"|warm|cool|straighten|saturate|desaturated?|keep|undo|redo|gently|gentle|easy|overdo|subtle)\b",
    re.IGNORECASE)
"""Words that in a reason could say what to do, how much or how often ("because it's dark, by 10%", "since it's
dark, twice", "because it's dark and square it"): a reason with them is asked, never dropped."""
_WAY = re.compile(r"\b(?:upside|sideways|left|right|clockwise|counter\s*clockwise|anti\s*clockwise|vertical(?:ly)?"
                  r"|horizontal(?:ly)?|mirrored|backwards?|tilted|crooked|rotated|flipped|around|over)\b", re.IGNORECASE)
"""Words in a reason that could say which way a rotation or flip goes ("because it's upside down")."""
_ONLY_A_STATE = re.compile(
    rf"^(?:(?:it['’]?s|it\s+is|it\s+looks|(?:and\s+)?(?:also|too|still|now|just|kind\s+of|kinda|a\s+bit|a\s+little"
    rf"|slightly|somewhat|quite|very|really|pretty|so|way|too)|and|or)\s+)*(?:{_STATE})(?:\s+(?:too|now|as\s+well))?$",
    re.IGNORECASE)
"""A part of a reason after "and" or a comma that only says more of how the image is ("dark and gloomy", "grey, a
bit sad"): anything else there ("and punchier", "and monochrome", "but don't overdo it") may be the request going
on, or saying how much, and is asked."""


def says_what_to_do(reason: str, request: str = "") -> bool:
    """Whether ``reason`` has words that could say what to do, how much or how often, beyond how the image is ("a
    bit dark") and the words of ``request`` said again ("crop to a square because I need it square")."""
    said_again = {word.lower() for word in re.findall(r"[\w%]+", request)}
    return any(match.group(0).lower() not in said_again
               for match in _SAYS_WHAT_TO_DO.finditer(_STATE_SAID.sub(" ", reason)))


def says_more_than_a_state(reason: str) -> bool:
    """Whether a part of ``reason`` after its first says more than how the image is (see ``_ONLY_A_STATE``)."""
    parts = re.split(r"\s*(?:,|;|\band\b|\bbut\b|&|\+|\bthen\b|\bplus\b)\s*", reason, flags=re.IGNORECASE)
    return any(part and not _ONLY_A_STATE.match(part) for part in parts[1:])


def says_a_way(reason: str) -> bool:
    """Whether ``reason`` has words that could say which way to rotate or flip."""
    return _WAY.search(reason) is not None
