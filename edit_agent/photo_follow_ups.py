"""Photo instructions that refer to the turn before: "again", "a bit more", "the opposite", "rotate again".

Each is rewritten into the canonical text of what it asks for, read from the previous turn's own
instruction, so that the intent stands alone like any other:

>>> resolve_follow_up("a bit more", ["make it warmer"])
'Make the image warmer by 10%.'
>>> resolve_follow_up("oops, that's too much", ["make it brighter by 50%"])  # half of it taken back: x1.25 overall
'Decrease the brightness by 16.7%.'
>>> resolve_follow_up("rotate again", ["rotate it left"])
'Rotate the image 90 degrees counterclockwise.'
>>> resolve_follow_up("make it brighter", ["rotate it left"]) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from edit_agent.errors import EditAgentError, InvalidInstructionError, quoted
from edit_agent.photo_ops import (
    DEFAULT_BLUR_RADIUS,
    GENTLE_SHARPEN,
    PERCENT_KINDS,
    STRONG_SHARPEN,
    Operation,
    describe_operations,
    is_margin_crop,
)
from edit_agent.photo_parsing import (
    ACKNOWLEDGEMENT_WORDS,
    GENTLE_PERCENT,
    STRONG_PERCENT,
    check_operation_count,
    direction_of,
    parse_clause_read,
    parse_operations,
    plain_request,
    reasons_left_out,
    split_clauses,
)
from edit_agent.photo_reasons import too_states_as_reasons
from edit_agent.photo_rules import KEEP_IT_THAT_WAY, known_reading, rules_keeping

_POLITE = r"(?:(?:please|ok|okay|now|and|just)\s+|(?:no|oops|hmm|actually|wait)\s*,\s*)*"
"""What people say before a follow-up: "ok, again", "no, more" (but "no more" means stop)."""
_REGRET = r"(?:(?:no|oops|sorry|hmm|actually|wait|ok|okay|now|but)[\s,]+)*"
"""What people say before taking a change back: "oops, that's too much"."""
_AGAIN = re.compile(
    rf"^{_POLITE}(?:(?:do|apply|repeat)\s+)?(?:that|it|this|the\s+same(?:\s+thing)?|the\s+last\s+(?:edit|one|step))?"
    r"\s*(?:again|once\s+more|one\s+more\s+time|twice)?\s*(?:please)?[.!]*$", re.IGNORECASE)
_REPEATED = (r"(?:repeat\s+(?:(?:that|it|this)(?:\s+(?:last\s+)?(?:one|step|edit|change))?"
             r"|the\s+(?:last|previous)\s+(?:edit|step|one|change))|same\s+again)")
_REPEAT_VERB = re.compile(
    rf"^\s*(?:(?:ok|okay|now|please|just)\s+)*{_REPEATED}"
    r"(?:\s+(?:again|once\s+more|one\s+more\s+time|once\s+again|another\s+time|for\s+me))*"
    r"(?:\s+(?P<count>once|twice|thrice|\d+\s+(?:more\s+)?times))?\s*(?:please)?[.!]*$", re.IGNORECASE)
"""'repeat that', 'same again twice', 'repeat the last edit 3 times': all of it, said in full (not 'repeat it and
rotate it', which is refused whole: see :func:`_refuse_what_is_not_said_in_full`)."""
_REPEAT_SAID_WITH_MORE = re.compile(rf"^\s*(?:(?:ok|okay|now|please|just)\s+)*{_REPEATED}\b", re.IGNORECASE)
_COUNTS = {"once": 1, "twice": 2, "thrice": 3}
_HOW = (r"(?:just\s+)?(?:a\s+)?(?:(?:tiny|little|wee)\s+)?(?:bit|tad|touch)|(?:just\s+)?(?:a\s+)?little(?:\s+bit)?|slightly"
        r"|much|way|a\s+lot|far")
"""How much of it: gentle ("a bit") or strong ("way"); see :func:`_degree`."""
_MORE = re.compile(
    rf"^{_POLITE}(?P<how>{_HOW}|even)?\s*more"
    r"(?:\s+of\s+(?:that|the\s+same))?\s*(?:please)?[.!]*$", re.IGNORECASE)
_MORE_BY = re.compile(
    rf"^{_POLITE}(?:(?:another|(?:an?\s+)?(?:extra|additional))\s+(?P<another>\d+(?:\.\d+)?)\s*(?:%|percent)"
    r"|(?:by\s+)?(?P<more>\d+(?:\.\d+)?)\s*(?:%|percent)\s+more)(?:\s+please)?[.!]*$", re.IGNORECASE)
"""'10% more', 'another 10%': more of the last change, by that amount."""
_TOO_MUCH = re.compile(
    rf"^{_REGRET}(?:(?:that['’]?s|that\s+is|it['’]?s|this\s+is)\s+)?(?:(?P<how>{_HOW})\s+)?(?:too\s+much|too\s+strong|too\s+far|overdone)"
    r"\s*(?:please)?[.!]*$", re.IGNORECASE)
_NOT_SO_MUCH = re.compile(
    rf"^{_REGRET}(?:not\s+(?:so|that|as)\s+much|tone\s+it\s+down|dial\s+it\s+back)"
    r"(?:\s+(?P<how>a\s+(?:bit|little|tad|touch)|slightly))?\s*(?:please)?[.!]*$", re.IGNORECASE)
"""'not so much', 'tone it down (a bit)': said as an answer, not after "that's" ("that's not so much" means
it barely changed)."""
_LESS = re.compile(
    rf"^{_REGRET}(?:make\s+it\s+)?(?:just\s+)?(?:(?P<how>{_HOW})\s+)?less"
    r"(?:\s+of\s+(?:that|it))?\s*(?:please)?[.!]*$", re.IGNORECASE)
_SAID_AS_LESS = re.compile(r"\b(?:less|reduce|decrease|lower|lessen|cut|drop)\b", re.IGNORECASE)
"""An edit said as a reduction ("make it less warm", "reduce the contrast"): 'less' after it could mean less of
the change or still less of the setting, which are opposite edits."""
_OTHER_WAY_INSTEAD = re.compile(
    r"^(?:(?:no|oops|actually|wait|sorry)\b[\s,]+(?:(?:do|go|make\s+it)\s+)?(?:the\s+)?(?:opposite|other\s+way|reverse)"
    r"|(?:(?:do|go|make\s+it)\s+)?(?:the\s+)?other\s+way)\b", re.I)
"""'no, the other way' means the change should have gone the other way from before it, not back to before it."""
_AGAIN_BUT = re.compile(rf"^{_POLITE}(?:(?:do|apply|repeat)\s+)?(?:that|it|this|the\s+same)?\s*(?:again|once\s+more)"
                        r"\s*,?\s+but\b", re.IGNORECASE)
"""'again but cooler': the last edit repeated with something changed, which is not said in full."""
_OPPOSITE = re.compile(
    rf"^{_POLITE}(?:(?:do|make\s+it|go)\s+)?(?:the\s+)?(?:opposite|reverse(?:\s+(?:that|it))?)"
    r"\s*(?:please)?[.!]*$", re.IGNORECASE)
_SAME_OPERATION_AGAIN = re.compile(
    rf"^{_POLITE}(?P<verb>rotate|turn|spin|flip|mirror|blur|sharpen)(?:\s+(?:it|the\s+(?:image|photo|picture|pic)))?"
    r"\s+(?:again|once\s+more|one\s+more\s+time|(?P<further>(?:by\s+)?(?:(?P<how>some|even|much|way|a\s+lot|"
    r"a\s+(?:bit|little|tad|touch)|slightly)\s+)?(?:90\s+(?:degrees?\s+)?)?(?:more|further)(?:\s+degrees?)?))"
    r"\s*(?:please)?[.!]*$", re.I)
"""'rotate it again', 'now spin the image further', 'blur it more': the last edit of that kind, the same way (a flip
'more' says nothing)."""
_KINDS = {"rotate": "rotate", "turn": "rotate", "spin": "rotate", "flip": "flip", "mirror": "flip", "blur": "blur",
          "sharpen": "sharpen"}
_ACKNOWLEDGED = "|".join(sorted(ACKNOWLEDGEMENT_WORDS - {"actually"}))
"""Said of the last result before a follow-up. Not "actually": "actually, the opposite" corrects the last edit (it
should have gone the other way), which is refused for what to say instead."""
_COURTESY_EDGES = re.compile(
    # "cool, again", "ok great! a bit more": set off by punctuation ("cool again" may be cooling again)
    rf"^(?:(?:{_ACKNOWLEDGED})\b(?:\s+(?:{_ACKNOWLEDGED})\b)*\s*[,!.]+\s*)+"
    r"|^(?:(?:ok|okay|thanks|thank\s+you|thx|please|pls|plz)\b[\s,!.]*)+|[\s,!.]*\b(?:thanks|thank\s+you|thx|please|pls|plz|sorry)"
    r"(?:[\s,!.]+(?:thanks|thank\s+you|thx|please|pls|plz|sorry))*[\s,!.]*$", re.IGNORECASE)


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up asks for, read from the earlier turn it refers to."""

    text: str
    """The canonical text of what it asks for."""
    refers_to: int
    """The position, among the earlier instructions, of the turn whose edit it reads."""
    takes_back: bool = False
    """Whether it takes all of that turn's edit back ("the opposite", "way too much")."""
    redrawn: str | None = None
    """For part of that turn's edit taken back ("too much", "a bit less"): that edit with less of it, the canonical
    text of what this turn makes when drawn again from the image before that turn. ``None`` for any other."""
    read_edit: str = ""
    """The canonical text of that turn's own edit, as read from its words."""
    took_back_part: bool = False
    """Whether it takes part of that edit back ("too much", "too bright"): "more" after it could go either way."""


def resolve_follow_up(instruction: str, earlier: Sequence[str]) -> str | None:
    """The canonical text ``instruction`` asks for, read from the last of ``earlier`` (the instructions on the
    way to the image being edited); ``None`` when it is no follow-up. It refers to the last earlier turn that
    asked for an edit of its own (a rule alone, or no change, is passed over); with none, it is refused."""
    found = read_follow_up(instruction, earlier)
    return found.text if found else None


_SCALED_IT = re.compile(r"\b(?:(?:double|halve)\s+it|(?:reduce|decrease|lower|cut)\s+it\s+by)\b", re.IGNORECASE)
"""'double it', 'halve it', 'reduce it by 10%': of the size, read alone; right after a change of a setting, 'it' may
be that setting."""


def check_it_is_not_the_setting(instruction: str, earlier: Sequence[str]) -> None:
    """Refuse 'double it' and the like right after a change of brightness, contrast, saturation or warmth: it was
    read as a resize, where the person may well have meant the setting just changed."""
    said = _SCALED_IT.search(_said_plainly(instruction))
    if said is None or not earlier:
        return
    position, operations = _EarlierEdits(earlier).last_edit(len(earlier))
    settings = [op for op in operations if op.kind in PERCENT_KINDS]
    if position == len(earlier) - 1 and settings:
        raise InvalidInstructionError(
            f"{quoted(instruction)} right after {describe_operations(settings)[:-1].lower()}: the size, or a setting? "
            f"Say e.g. 'resize to 50%' or 'double the size' for the size, or name the setting ('twice as bright', "
            f"'darker by 10%').")


_CORRECTION = re.compile(
    r"^\W*(?:(?:ok|okay|hmm+|oh|um+|uh+)\W+)*(?:(?P<lead>actually|i\s+meant)\b\W*"
    r"|(?P<rejecting>no|nope|oops|wait|sorry|i\s+mean)(?:\s*[,.!:;\u2013\u2014-]+\W*|\s+(?!more\b|longer\b|need\b|change)))"
    r"(?P<rest>\S.*)$", re.IGNORECASE)
"""An edit said as a correction: "actually, crop to the left half", "no, darker", "I meant rotate it left" ("no more
black and white", with no comma, is no correction: it lifts a rule)."""
_ADDED = re.compile(r"\b(?:also|too|as\s+well|additionally|in\s+addition|again|even|still|further|another)\b"
                    r"|\bmore\W*$|^\W*and\b", re.IGNORECASE)
"""Words that say an edit comes on top of the last one: "actually, make it even brighter", "wait, and flip it" (not
"more" in the edit's own words: "no, more contrast")."""
_NEXT = re.compile(r"\b(?:now|next|then)\b", re.IGNORECASE)
"""Words that order an edit after the last one: on top of it after "actually" ("actually, now crop it") or for another
kind of edit ("wait, then rotate it left" after a warming), but not for the same kind after "no" ("no, now flip it
vertically" turns the last flip down)."""
_APPROVED = re.compile(rf"^\W*(?:(?:{'|'.join(sorted(ACKNOWLEDGEMENT_WORDS - {'actually', 'right', 'now', 'so', 'well', 'very'}))})\b\W*)+\W",
                       re.IGNORECASE)
"""The last result approved before the edit ("actually, looks great! make it brighter"): no correction of it."""
_WHOLE_EFFECTS = frozenset({"grayscale", "sepia", "invert"})


def read_as_said(instruction: str, earlier: Sequence[str]) -> tuple[str, FollowUp | None]:
    """What to read of ``instruction`` after ``earlier``, and the follow-up it is (``None`` for an edit of its own).

    Where it opens as a correction ("actually, ...", "no, ...", "wait, ..."), it is refused where it corrects the last
    edit ("actually, crop to the left half" after "crop to the right half"), since done to the current image it would
    be done on top of the edit it corrects (a quarter of the image, a rotation and its undoing), where the person
    meant instead of it; it is read without the opening where it adds to it ("wait, and flip it", "no, make it warmer"
    after a warming) or refers to it ("no, too bright"). After "no", "oops", "wait", "sorry" or "I mean" any other edit
    corrects; after "actually", only one of the same kind (or two whole effects: sepia, then "actually, black and
    white"): "actually, make it brighter" after a crop adds to it. After "I meant", and for an edit the other way ("no,
    now make it darker" after a brightening), nothing adds to it."""
    return _as_said(instruction, _EarlierEdits(earlier), len(earlier))


def _as_said(instruction: str, edits: _EarlierEdits, end: int) -> tuple[str, FollowUp | None]:
    """:func:`read_as_said` after the first ``end`` of ``edits``' turns (read once, as they are)."""
    found = _follow_up(instruction, edits, end)
    if found is not None:
        return instruction, found
    with too_states_as_reasons():  # "More. It's still too dark.": why more, when the rest is a follow-up
        said = reasons_left_out(instruction, instruction, checked=False)
        if said != instruction and (found := _follow_up(said, edits, end)) is not None:
            reasons_left_out(instruction, instruction, parse_operations(found.text))  # each checked against it
            return said, found
    if said != instruction:  # read again, "too" states left in: none was left out, none is without them either
        said = reasons_left_out(instruction, instruction, checked=False)  # "more, because it's still dark"
    if said != instruction:
        if (found := _follow_up(said, edits, end)) is not None:
            reasons_left_out(instruction, instruction, parse_operations(found.text))  # each checked against it
            return said, found
        reasons_left_out(instruction, instruction)  # each checked against the edit it is given for
        instruction = said  # read on as said without them ("too much because ..., and crop it": two at once)
    said = _CORRECTION.match(instruction.strip())
    if said is None or not end:
        return instruction, None
    rest = said.group("rest")
    lead = re.sub(r"\s+", " ", said.group("lead") or said.group("rejecting")).lower()
    if (found := _follow_up(rest, edits, end)) is not None:  # "no, too bright", "oops, way too much": read as such
        return rest, found
    turn = known_reading(rest)
    if turn is None or not turn.operations or turn.sets or turn.lifts or turn.lifts_all:
        return instruction, None
    position, last_edit = edits.last_edit(end)
    if position != end - 1 or turn.operations == last_edit:  # the same again corrects nothing: more of it
        return rest, None
    kinds, last_kinds = {op.kind for op in turn.operations}, {op.kind for op in last_edit}
    reverses = any(op.kind == last.kind and direction_of(op) * direction_of(last) < 0
                   for op in turn.operations for last in last_edit)  # "no, now make it darker" after a brightening
    rejects = lead != "actually"  # "no, make it brighter" turns the last edit down; "actually" may add to it
    said_after = _ADDED.search(rest) or _APPROVED.match(rest) or (
        _NEXT.search(rest) and (lead == "actually" or not kinds & last_kinds))  # "wait, then rotate it" after a warming
    same_way = all(any(op.kind == last.kind and direction_of(op) * direction_of(last) > 0 for last in last_edit)
                   for op in turn.operations)  # "no, more contrast" after more contrast: more of it
    adds = (said_after or same_way) and not reverses and lead != "i meant"
    if not adds and (rejects or reverses or kinds & last_kinds or (kinds & _WHOLE_EFFECTS and last_kinds & _WHOLE_EFFECTS)):
        raise InvalidInstructionError(
            f"{quoted(instruction)} sounds like a correction of the last edit ({describe_operations(last_edit)[:-1].lower()}), "
            "and an edit here is made on top of it, to the image as it is now. To make it instead of that edit, undo "
            f"that edit first and then say it; to make it as well, say it without {lead!r}.")
    return rest, None


def read_follow_up(instruction: str, earlier: Sequence[str]) -> FollowUp | None:
    """:func:`resolve_follow_up`, saying which earlier turn it refers to and whether it takes that turn back."""
    return _follow_up(instruction, _EarlierEdits(earlier), len(earlier))


def _follow_up(instruction: str, edits: _EarlierEdits, end: int) -> FollowUp | None:
    """The follow-up ``instruction`` is, read from the first ``end`` earlier turns."""
    text = _said_plainly(instruction)  # "again, thanks", "more, please", "could you do that again?"
    _refuse_what_is_not_said_in_full(instruction, text)
    kind = _follow_up_kind(text)
    if kind is None:
        return _overdone(text, edits, end)
    if kind.startswith("same:"):  # "rotate again": the last rotation, however far back; else a plain rotation
        position, same = edits.last_edit(end, kind.removeprefix("same:"))
        return FollowUp(describe_operations(same), position) if position is not None else None
    position, operations = edits.last_edit(end)
    if position is None:
        raise InvalidInstructionError(
            f"{quoted(instruction)} refers to the edit before it, and there is none to repeat here; say what to change.")
    last = edits.instructions[position]
    if kind == "keep":
        return FollowUp(_kept_as_rules(operations, instruction, last), position)
    if kind == "small_rotation":
        raise InvalidInstructionError(f"{quoted(instruction)} asks for a small rotation; rotations here are quarter turns: "
                                      "'rotate it again' turns it once more the same way.")
    if kind.startswith("again"):
        times = int(kind.partition(":")[2] or 1)
        if times == 0:
            raise InvalidInstructionError(f"Doing it 0 times changes nothing ({quoted(instruction)}).")
        check_operation_count(len(operations) * times)
        return FollowUp(describe_operations(list(operations) * times), position)
    if kind.startswith("less"):
        if any(_LESS.match(part) for part in _said_parts(text)) and _SAID_AS_LESS.search(last):
            raise InvalidInstructionError(
                f"{quoted(instruction)} after {last!r}: less of that change, or still less? Say e.g. 'a bit less warm' or "
                "'that's too much'.")
        if edits.took_back_part(position):
            raise InvalidInstructionError(
                f"{quoted(instruction)} right after taking a change back: say which way now "
                f"({_either_way(operations)}), or undo.")
        amounts = [op for op in operations if op.kind in PERCENT_KINDS]
        return _part_taken_back(operations, amounts, kind.removeprefix("less:"), position, instruction)
    if kind.startswith("more"):
        if edits.took_back_part(position):  # more of the change, or more of taking it back? They go opposite ways
            raise InvalidInstructionError(
                f"{quoted(instruction)} right after taking a change back: say which way now "
                f"({_either_way(operations)}), or undo.")
        return FollowUp(describe_operations(_more(operations, kind.removeprefix("more:"), instruction)), position)
    reversed_operations = [_opposite(op, instruction) for op in reversed(operations)]
    return FollowUp(describe_operations(reversed_operations), position, takes_back=True)


_NOT_SO_SAID = re.compile(r"^not\s+(?:so|as|that|too)\b", re.IGNORECASE)
_TOO_HOW = re.compile(rf"\b(?P<how>{_HOW})\s+too\b", re.IGNORECASE)


def _overdone(text: str, edits: _EarlierEdits, end: int) -> FollowUp | None:
    """'too bright' (or 'not so bright') said right after a brightening: too much of that edit, taken back as
    "too much" takes it back (half of it; "a bit too bright" a gentle amount, "way too bright" all of it). A fix of
    its own, by the default amount, could go past the image before that edit ("slightly brighter", then "too
    bright", was darker than the start)."""
    try:
        clauses = split_clauses(text)
        operations, stated = parse_clause_read(clauses[0], text) if len(clauses) == 1 else ([], False)
    except EditAgentError:
        return None
    if len(operations) != 1 or operations[0].kind not in PERCENT_KINDS or not (stated or _NOT_SO_SAID.match(clauses[0])):
        return None
    position, last_edit = edits.last_edit(end)
    fix = operations[0]
    overdone = [op for op in last_edit if op.kind == fix.kind and (op.value or 0) * (fix.value or 0) < 0]
    if position != end - 1 or not overdone:
        return None
    said = _TOO_HOW.search(clauses[0])
    return _part_taken_back(last_edit, overdone, _degree(said.group("how")) if said else "half", position, text)


def _part_taken_back(edit: list[Operation], amounts: list[Operation], how: str, position: int,
                     instruction: str) -> FollowUp:
    """``amounts`` of ``edit`` (the turn at ``position``) taken back, ``how`` much of each: all of the edit where that
    is all it did ("way too much" after a brightening), else drawn again as the edit with less of it from the image
    before it, where every amount it changed is taken back (only some of them: done to the current image)."""
    if not amounts:
        raise InvalidInstructionError(
            f"{quoted(instruction)}: the edit before it ({describe_operations(edit)[:-1].lower()}) cannot be partly "
            "taken back; undo it instead ('undo that').")
    every_amount = len(amounts) == sum(op.kind in PERCENT_KINDS for op in edit)
    all_of_it = how == "strong" and len(amounts) == len(edit)
    redrawn = _with_less_of_it(edit, how) if every_amount and not all_of_it else None
    return FollowUp(describe_operations(_taken_back(amounts, how, instruction)), position, all_of_it, redrawn,
                    describe_operations(edit), took_back_part=True)


_BOTH_WAYS = {
    "brightness": ("a bit brighter", "a bit darker"),
    "contrast": ("a bit more contrast", "a bit less contrast"),
    "saturation": ("a bit more colourful", "a bit less colourful"),
    "warmth": ("a bit warmer", "a bit cooler"),
}


def _kept_as_rules(operations: Sequence[Operation], instruction: str, last: str) -> str:
    """The rules "keep it that way" makes of the last edit: black and white, a square shape (the rules there are)."""
    rules = rules_keeping(operations)
    if not rules:
        raise InvalidInstructionError(
            f"{quoted(instruction)} after {last!r}: only black and white and a square shape can be kept for the rest "
            "of the session ('keep it black and white', 'keep it square'); the other edits stay as they are anyway.")
    return ", and ".join(f"Keep it {rule.name} from now on" for rule in rules) + "."


def _either_way(operations: Sequence[Operation]) -> str:
    """How to say either way of the setting the last turn changed: "'a bit brighter', 'a bit darker'"."""
    kind = next((op.kind for op in operations if op.kind in _BOTH_WAYS), "warmth")
    return ", ".join(f"'{way}'" for way in _BOTH_WAYS[kind])


_ASKED_OF_YOU = re.compile(r"^\s*(?:(?:can|could|would|will)\s+you\s+(?:please\s+|just\s+)*)", re.IGNORECASE)


def _said_plainly(instruction: str) -> str:
    """The follow-up ``instruction`` says, without its courtesy or its question: "could you do that again?" is
    "do that again", "would you mind toning it down?" is "tone it down"."""
    text = _ASKED_OF_YOU.sub("", plain_request(instruction.strip()))
    return _COURTESY_EDGES.sub("", re.sub(r"\s*\?+\s*$", "", text)).strip()


def is_follow_up(instruction: str) -> bool:
    """Whether ``instruction`` refers to the turn before ("again", "a bit more", "the opposite", "rotate again")."""
    return _follow_up_kind(_said_plainly(instruction)) is not None


def _follow_up_kind(text: str) -> str | None:
    if not text:
        return None
    if KEEP_IT_THAT_WAY.match(text):
        return "keep"
    same = _SAME_OPERATION_AGAIN.match(text)
    if same is not None and not (same.group("further") and _KINDS[same.group("verb").lower()] == "flip"):
        kind = _KINDS[same.group("verb").lower()]
        if kind == "rotate" and _degree(same.group("how")) == "gentle":  # "a bit more" of a quarter turn: no such
            return "small_rotation"
        if kind == "rotate" or not same.group("how"):  # "blur it a bit more": a gentle blur, as it always read
            return f"same:{kind}"
    if _OPPOSITE.match(text):
        return "opposite"
    if (less := _TOO_MUCH.match(text) or _NOT_SO_MUCH.match(text) or _LESS.match(text)) is not None:  # "a bit less"
        return f"less:{_degree(less.group('how')) or 'half'}"
    if len(parts := _said_parts(text)) > 1 and all((_follow_up_kind(part) or "").startswith("less") for part in parts):
        # "too much, tone it down (a bit)": one take-back said twice, as much as the one that says how much
        said = [kind for kind in map(_follow_up_kind, parts) if kind != "less:half"]
        return said[-1] if said else "less:half"
    if (more := _MORE.match(text)) is not None:
        return f"more:{_degree(more.group('how'))}"
    if (more_by := _MORE_BY.match(text)) is not None:
        return f"more:by:{more_by.group('another') or more_by.group('more')}"
    if (repeat := _REPEAT_VERB.match(text)) is not None:
        count = (repeat.group("count") or "once").lower()
        return f"again:{_COUNTS.get(count) or int(count.split()[0])}"
    if re.search(r"\b(?:again|once\s+more|one\s+more\s+time)\b", text, re.I) and _AGAIN.match(text):
        return "again"
    return None


def _degree(how: str | None) -> str:
    """"gentle" for "a bit", "slightly"...; "strong" for "much", "way"...; "" when none is said."""
    how = re.sub(r"\s+", " ", (how or "").lower())
    if re.search(r"\b(?:bit|little|tad|touch|slightly)\b", how):
        return "gentle"
    return "strong" if how in ("much", "way", "a lot", "far") else ""


def _said_parts(text: str) -> list[str]:
    """The parts of ``text`` set off by punctuation: "too much, tone it down" says one thing twice."""
    parts = [part.strip() for part in re.split(r"[,;.!]+", text) if part.strip()]
    return [part for part in parts if not re.fullmatch(_REGRET, part + " ", re.IGNORECASE)]  # "oops, too much."


def _refuse_what_is_not_said_in_full(instruction: str, text: str) -> None:
    if _REPEAT_SAID_WITH_MORE.match(text) and not _REPEAT_VERB.match(text):  # "repeat that but cooler", "... and rotate"
        raise InvalidInstructionError(
            f"{quoted(instruction)} repeats the last edit with more said: say 'repeat that' alone (or 'repeat that 3 "
            "times'), or the edit you want in full ('make it cooler by 10%').")
    if _AGAIN_BUT.match(text):
        raise InvalidInstructionError(
            f"{quoted(instruction)} repeats the last edit with a change: say the edit you want in full ('make it cooler "
            "by 10%', 'rotate it 90 degrees again').")
    if _OTHER_WAY_INSTEAD.match(text):
        raise InvalidInstructionError(
            f"{quoted(instruction)} asks for the last edit's opposite instead of it: undo it, then say which way "
            "('make it cooler', 'rotate it right'). ('The opposite' alone reverses the last edit.)")


class _EarlierEdits:
    """The operations each earlier turn asked for of its own: a follow-up resolved, a typo read as it was, a rule's
    own operation left out ("keep it square" asks for no edit of its own). Read from the first turn on, each once,
    so that a follow-up of a follow-up (a long run of "again") is read from the one before it, not by recursion."""

    def __init__(self, instructions: Sequence[str]) -> None:
        self.instructions = instructions
        self._own: list[list[Operation]] = []
        self._took_back: list[bool] = []

    def took_back_part(self, position: int) -> bool:
        """Whether the turn at ``position`` took part of the edit before it back ("too much", "too bright")."""
        self._own_operations(position)
        return self._took_back[position]

    def last_edit(self, end: int, kind: str | None = None) -> tuple[int | None, list[Operation]]:
        """The position of the last of the first ``end`` turns that asked for operations of its own (of ``kind``,
        if given), and those operations; ``(None, [])`` when there is none."""
        for position in range(end - 1, -1, -1):
            operations = [op for op in self._own_operations(position) if kind is None or op.kind == kind]
            if operations:
                return position, operations
        return None, []

    def _own_operations(self, position: int) -> list[Operation]:
        while len(self._own) <= position:
            operations, took_back = self._read(len(self._own))
            self._own.append(operations)
            self._took_back.append(took_back)
        return self._own[position]

    def _read(self, position: int) -> tuple[list[Operation], bool]:
        instruction = self.instructions[position]
        for text in (instruction, _typos_corrected(instruction)):
            try:
                text, found = _as_said(text, self, position)  # "wait, and flip it", "no, too bright": as its turn read it
            except (EditAgentError, ArithmeticError):  # an earlier turn another version read otherwise: no edit
                continue
            turn = known_reading(found.text if found else text)
            if turn is not None:
                rules = [rule.operation for rule in turn.sets]
                return [op for op in turn.operations if op not in rules], found is not None and found.took_back_part
        return [], False


@lru_cache(maxsize=4096)
def _typos_corrected(instruction: str) -> str:
    from edit_agent.photo_typos import corrected_typos

    return corrected_typos(instruction)[0]


_MARGIN_SHARE = {"": 1.0, "gentle": 0.5, "strong": 2.0}
"""Of the last crop margin, what "more", "a bit more" and "much more" crop next."""


def _more(operations: list[Operation], how: str, instruction: str) -> list[Operation]:
    """More of ``operations``: their amounts again ("more"), a gentle or a strong one ("a bit more", "much
    more"); another blur or sharpen; a crop margin again, half of it or twice it. An edit that mixed kinds
    gets more of its amounts only ("warmer and crop 10%": warmer again, no second crop)."""
    signed = [op for op in operations if op.kind in PERCENT_KINDS]
    if signed and how.startswith("by:"):  # "10% more": that amount, the way the last change went
        if float(how.removeprefix("by:")) == 0:
            raise InvalidInstructionError(f"{quoted(instruction)}: 0% more changes nothing.")
        return [_scaled(op, float(how.removeprefix("by:"))) for op in signed]
    if signed:
        return [_scaled(op, _more_amount(abs(op.value or 0), op.value or 0, how)) for op in signed]
    if how.startswith("by:"):
        raise InvalidInstructionError(
            f"{quoted(instruction)} after {describe_operations(operations)[:-1].lower()}: a percentage of what? Say the "
            "next edit in full (e.g. 'crop 10% from each side', 'resize to 110%').")
    if all(op.kind in ("blur", "sharpen") for op in operations):
        return [_more_filter(op, how) for op in operations]  # "more" after a blur: another one
    margins = [op for op in operations if is_margin_crop(op) and op.value is not None]
    if margins:
        return [op.model_copy(update={"value": _margin_value(op, _MARGIN_SHARE[how])}) for op in margins]
    raise InvalidInstructionError(
        f"{quoted(instruction)} has no amount to add to after the last edit ({describe_operations(operations)[:-1]}); say "
        "the next edit in full (e.g. 'rotate it 90 degrees again', 'resize to 50%').")


def _more_filter(op: Operation, how: str) -> Operation:
    """Another blur or sharpen: as strong as the last ("more"), half as strong ("a bit more"), twice ("much more");
    a sharpen has three strengths, so "a bit more" is the gentle one and "much more" the strong one."""
    if op.kind == "blur":
        radius = (op.value or DEFAULT_BLUR_RADIUS) * _MARGIN_SHARE[how]
        return op.model_copy(update={"value": max(0.1, round(radius, 1))})
    strength = {"gentle": GENTLE_SHARPEN, "strong": STRONG_SHARPEN}.get(how, op.value)
    return op.model_copy(update={"value": strength})


def _more_amount(last: float, signed_last: float, how: str) -> float:
    """How much "more" adds after an edit of ``last`` percent: the same again; "a bit more" a gentle amount but
    under the plain "more" (half of it, after a small edit); "much more" a strong amount but over it (twice the
    last; for a reduction, the last one applied twice: 60% darker twice is 84%)."""
    if how == "gentle":
        return min(GENTLE_PERCENT, last / 2)
    if how == "strong":  # a reduction applied twice (x0.8 twice is x0.64): it goes towards 100% and never reaches it
        doubled = 2 * last if signed_last > 0 else min(100 * (1 - (1 - last / 100) ** 2), 99.9)
        return max(STRONG_PERCENT, round(doubled, 1))
    return last


def _margin_value(op: Operation, share: float) -> float:
    value = (op.value or 0) * share
    return round(value, 1) if op.unit == "%" else float(max(1, round(value)))


def _taken_back(amounts: list[Operation], how: str, instruction: str) -> list[Operation]:
    """The opposite of ``amounts`` (changes of a setting): half of each ("too much"), a gentle amount ("a bit less"),
    or all of it ("way too much")."""
    kept = {"half": 0.5, "strong": 0.0}  # of the change; "a bit" takes a gentle amount back (see below)
    return [_gentle_step_back(op, instruction) if how == "gentle" else _leaving(op, kept[how], instruction)
            for op in reversed(amounts)]


def _with_less_of_it(operations: list[Operation], how: str) -> str | None:
    """``operations`` with the amounts :func:`_taken_back` takes back folded in, before rounding: "brighter by 50%"
    and "too much" is "brighter by 25%"; an amount taken back whole is left out ("warmer and crop to a square", then
    "way too much": the crop). ``None`` where nothing is left to draw again."""
    folded = []
    for op in operations:
        if op.kind in PERCENT_KINDS:
            value = 0.0 if how == "strong" else _shown_percent(_folded_amount(op, how))
            if value == 0:
                continue
            op = op.model_copy(update={"value": value})
        folded.append(op)
    return describe_operations(folded) if folded else None


def _folded_amount(op: Operation, how: str) -> float:
    """The one amount that does ``op`` and then takes ``how`` much of it back (see :func:`_leaving`: they multiply)."""
    if how == "half":
        return (op.value or 0) / 2
    scale = 200 if op.kind == "warmth" else 100
    step_back = (_gentle_step_back(op, "").value or 0) / scale
    return ((1 + (op.value or 0) / scale) * (1 + step_back) - 1) * scale


def _gentle_step_back(op: Operation, instruction: str) -> Operation:
    """A gentle amount the other way from ``op`` ("a bit less" after "much warmer": cooler by 10%), but never
    more than a quarter of ``op``'s change: less than "too much" or "less" take back (half of it), and after
    "brighter by 5%" a 10% step would go past the start."""
    gentle = GENTLE_PERCENT if (op.value or 0) < 0 else -GENTLE_PERCENT
    at_most = _leaving(op, 0.75, instruction).value or 0
    return op.model_copy(update={"value": gentle if abs(gentle) <= abs(at_most) else at_most})


def _leaving(op: Operation, kept: float, instruction: str) -> Operation:
    """The change after ``op`` that leaves ``kept`` of it overall. The amounts multiply (brighter by 50% is x1.5;
    warmth scales red by 1 + v/200 and blue by its inverse), so taking all of +50% back is -33.3%, not -50%, which
    would go past the start."""
    scale = 200 if op.kind == "warmth" else 100
    level = 1 + (op.value or 0) / scale
    exact = ((1 + (op.value or 0) * kept / scale) / level - 1) * scale if level > 0 else None
    value = None if exact is None else _shown_percent(exact)
    if value is not None and value <= -100 < exact:  # -99.95% is not -100%, which would leave nothing
        value = round(exact, 4)
    # Nothing left to scale back up (darker by 100%), or more than the 100% a reduction may take.
    if value is None or value < -100 or 1 + value / scale <= 0:
        raise InvalidInstructionError(
            f"{quoted(instruction)}: the edit before it ({describe_operations([op])[:-1].lower()}) cannot be taken back "
            "by an amount; undo it instead ('undo that').")
    return op.model_copy(update={"value": value})


def _shown_percent(value: float) -> float:
    """``value`` to one decimal, or to two significant digits where that would leave nothing (0.04%)."""
    return round(value, 1) if abs(value) >= 1 else float(f"{value:.2g}")


def _scaled(op: Operation, amount: float | None) -> Operation:
    magnitude = amount if amount is not None else abs(op.value or 0)
    return op.model_copy(update={"value": magnitude if (op.value or 0) > 0 else -magnitude})


def _opposite(op: Operation, instruction: str) -> Operation:
    """The operation that reverses ``op``: brighter by 50% (x1.5) is reversed by darker by 33.3%, not by 50%."""
    if op.kind in PERCENT_KINDS:
        return _leaving(op, 0.0, instruction)
    if op.kind == "rotate":
        return op.model_copy(update={"value": (360 - (op.value or 0)) % 360 or 180.0})
    if op.kind in ("flip", "invert"):  # its own opposite
        return op
    if op.kind == "resize" and op.size is None and op.target is None and op.value:  # by a share: the inverse share
        return op.model_copy(update={"value": _shown_percent(100 * 100 / op.value)})
    raise InvalidInstructionError(
        f"{quoted(instruction)}: the edit before it ({describe_operations([op])[:-1].lower()}) has no exact opposite; "
        "undo it instead.")
