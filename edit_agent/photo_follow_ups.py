"""Photo instructions that refer to the turn before: "again", "a bit more", "the opposite", "rotate again".

Each is rewritten into the canonical text of what it asks for, read from the previous turn's own
instruction, so that the intent stands alone like any other:

>>> resolve_follow_up("a bit more", ["make it warmer"])
'Make the image warmer by 10%.'
>>> resolve_follow_up("that's too much", ["make it warmer"])  # half of it taken back
'Make the image cooler by 10%.'
>>> resolve_follow_up("rotate again", ["rotate it left"])
'Rotate the image 90 degrees counterclockwise.'
>>> resolve_follow_up("make it brighter", ["rotate it left"]) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edit_agent.errors import EditAgentError, InvalidInstructionError
from edit_agent.photo_ops import PERCENT_KINDS, Operation, describe_operations
from edit_agent.photo_parsing import GENTLE_PERCENT, STRONG_PERCENT
from edit_agent.photo_rules import read_turn

_POLITE = r"(?:(?:please|ok|okay|now|and|just|no|oops|hmm|actually)[\s,]+)*"
_AGAIN = re.compile(
    rf"^{_POLITE}(?:(?:do|apply|repeat)\s+)?(?:that|it|this|the\s+same(?:\s+thing)?|the\s+last\s+(?:edit|one|step))?"
    r"\s*(?:again|once\s+more|one\s+more\s+time|twice)?\s*(?:please)?[.!]*$", re.IGNORECASE)
_REPEAT_VERB = re.compile(r"^\s*(?:repeat\s+(?:that|it|the\s+last\s+(?:edit|step))|same\s+again)\b", re.IGNORECASE)
_MORE = re.compile(
    rf"^{_POLITE}(?P<how>a\s+(?:bit|little|tad|touch)|slightly|even|much|way|a\s+lot|far)?\s*more"
    r"(?:\s+of\s+(?:that|the\s+same))?\s*(?:please)?[.!]*$", re.IGNORECASE)
_LESS = re.compile(
    rf"^{_POLITE}(?:(?:that'?s|that\s+is|it'?s)\s+)?(?:(?P<how>a\s+(?:bit|little|tad|touch)|slightly|much|way|a\s+lot|far)\s+)?"
    r"(?:less|too\s+much|too\s+strong|overdone)(?:\s+of\s+(?:that|it))?\s*(?:please)?[.!]*$", re.IGNORECASE)
_OPPOSITE = re.compile(
    rf"^{_POLITE}(?:(?:do|make\s+it|go)\s+)?(?:the\s+)?(?:opposite|other\s+way(?:\s+round)?|reverse(?:\s+(?:that|it))?)"
    r"\s*(?:please)?[.!]*$", re.IGNORECASE)
_SAME_OPERATION_AGAIN = re.compile(r"^\s*(?P<verb>rotate|turn|flip|blur|sharpen)(?:\s+it)?\s+again\s*[.!]*$", re.I)
_KINDS = {"rotate": "rotate", "turn": "rotate", "flip": "flip", "blur": "blur", "sharpen": "sharpen"}
_COURTESY_EDGES = re.compile(
    r"^(?:(?:ok|okay|thanks|thank\s+you|thx|please|pls|plz)\b[\s,!.]*)+|[\s,!.]*\b(?:thanks|thank\s+you|thx|please|pls|plz)"
    r"(?:[\s,!.]+(?:thanks|thank\s+you|thx|please|pls|plz))*[\s,!.]*$", re.IGNORECASE)


def resolve_follow_up(instruction: str, earlier: Sequence[str]) -> str | None:
    """The canonical text ``instruction`` asks for, read from the last of ``earlier`` (the instructions on the
    way to the image being edited); ``None`` when it is no follow-up. It refers to the last earlier turn that
    asked for an edit of its own (a rule alone, or no change, is passed over); with none, it is refused."""
    text = _COURTESY_EDGES.sub("", instruction).strip()  # "again, thanks", "more, please"
    kind = _follow_up_kind(text)
    if kind is None:
        return None
    if kind.startswith("same:"):  # "rotate again": the last rotation, however far back; else a plain rotation
        same = _last_operations(earlier, kind.removeprefix("same:"))
        return describe_operations(same) if same else None
    operations = _last_operations(earlier)
    if not operations:
        raise InvalidInstructionError(
            f"{instruction!r} refers to the edit before it, and there is none to repeat here; say what to change.")
    if kind == "again":
        return describe_operations(operations)
    if kind.startswith("less"):
        return describe_operations(_taken_back(operations, kind.removeprefix("less:"), instruction))
    if kind.startswith("more"):
        signed = [op for op in operations if op.kind in PERCENT_KINDS]
        if not signed and all(op.kind in ("blur", "sharpen") for op in operations):
            return describe_operations(operations)  # "more" after a blur: another one
        if not signed:
            raise InvalidInstructionError(
                f"{instruction!r}: the edit before it ({describe_operations(operations)[:-1].lower()}) has no amount to "
                "add to; say what to change.")
        amount = {"gentle": GENTLE_PERCENT, "strong": STRONG_PERCENT}.get(kind.removeprefix("more:"))
        return describe_operations([_scaled(op, amount) for op in signed])
    return describe_operations([_opposite(op, instruction) for op in reversed(operations)])


def is_follow_up(instruction: str) -> bool:
    """Whether ``instruction`` refers to the turn before ("again", "a bit more", "the opposite", "rotate again")."""
    return _follow_up_kind(_COURTESY_EDGES.sub("", instruction).strip()) is not None


def _follow_up_kind(text: str) -> str | None:
    if not text:
        return None
    if (same := _SAME_OPERATION_AGAIN.match(text)) is not None:
        return f"same:{_KINDS[same.group('verb').lower()]}"
    if _OPPOSITE.match(text):
        return "opposite"
    if (less := _LESS.match(text)) is not None:  # "a bit less", "that's too much": part of the change taken back
        how = (less.group("how") or "").lower()
        return "less:gentle" if how.startswith(("a bit", "a little", "a tad", "a touch", "slightly")) else (
            "less:strong" if how in ("much", "way", "a lot", "far") else "less:half")
    if (more := _MORE.match(text)) is not None:
        how = (more.group("how") or "").lower()
        return "more:gentle" if how.startswith(("a bit", "a little", "a tad", "a touch", "slightly")) else (
            "more:strong" if how in ("much", "way", "a lot", "far") else "more:")
    if _REPEAT_VERB.match(text) or (re.search(r"\b(?:again|once\s+more|one\s+more\s+time)\b", text, re.I)
                                    and _AGAIN.match(text)):
        return "again"
    return None


def _last_operations(earlier: Sequence[str], kind: str | None = None) -> list[Operation]:
    """The operations the last earlier turn with any asked for (of ``kind``, if given): a follow-up resolved,
    a typo read as it was, a rule's own operation left out ("keep it square" asks for no edit of its own)."""
    for position in range(len(earlier) - 1, -1, -1):
        operations = [op for op in _own_operations(earlier[position], earlier[:position])
                      if kind is None or op.kind == kind]
        if operations:
            return operations
    return []


def _own_operations(instruction: str, before: Sequence[str]) -> list[Operation]:
    from edit_agent.photo_typos import corrected_typos

    for text in (instruction, corrected_typos(instruction)[0]):
        try:
            turn = read_turn(resolve_follow_up(text, before) or text)
        except EditAgentError:
            continue
        rules = [rule.operation for rule in turn.sets]
        return [op for op in turn.operations if op not in rules]
    return []


def _taken_back(operations: list[Operation], how: str, instruction: str) -> list[Operation]:
    """The opposite of the amounts of ``operations``: half of each ("too much"), a gentle amount ("a bit less"),
    or all of it ("way too much")."""
    signed = [op for op in operations if op.kind in PERCENT_KINDS]
    if not signed:
        raise InvalidInstructionError(
            f"{instruction!r}: the edit before it ({describe_operations(operations)[:-1].lower()}) has no amount to "
            "take back; undo it instead.")
    taken = []
    for op in reversed(signed):
        amount = {"gentle": GENTLE_PERCENT, "half": abs(op.value or 0) / 2}.get(how, abs(op.value or 0))
        taken.append(_opposite(_scaled(op, amount), instruction))
    return taken


def _scaled(op: Operation, amount: float | None) -> Operation:
    magnitude = amount if amount is not None else abs(op.value or 0)
    return op.model_copy(update={"value": magnitude if (op.value or 0) > 0 else -magnitude})


def _opposite(op: Operation, instruction: str) -> Operation:
    if op.kind in PERCENT_KINDS:
        return op.model_copy(update={"value": -(op.value or 0)})
    if op.kind == "rotate":
        return op.model_copy(update={"value": (360 - (op.value or 0)) % 360 or 180.0})
    if op.kind in ("flip", "invert"):  # its own opposite
        return op
    raise InvalidInstructionError(
        f"{instruction!r}: the edit before it ({describe_operations([op])[:-1].lower()}) has no exact opposite; "
        "undo it instead.")
