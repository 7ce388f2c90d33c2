"""Rule reasoner for exact photo edits: maps the instruction to operations, keeps rules in force; no weights."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from edit_agent.errors import (
    EditAgentError,
    InvalidInstructionError,
    NeedsGenerativeEditorError,
    UnsupportedInstructionError,
    quoted,
)
from edit_agent.history_words import HISTORY_HINT, UNDO_HINT, is_history_move, may_take_back
from edit_agent.photo_follow_ups import (
    FollowUp,
    check_it_is_not_the_setting,
    is_follow_up,
    read_as_said,
    read_follow_up,
)
from edit_agent.photo_numbers import numbers_as_digits
from edit_agent.photo_ops import PERCENT_KINDS, Operation, describe_operations
from edit_agent.photo_parsing import asks_to_undo, parse_operations, split_clauses
from edit_agent.photo_rules import (
    ReadTurn,
    RuleInForce,
    breaks,
    check_conflicts,
    next_rules,
    read_turn,
    rules_in_force,
    said_keep_it_that_way,
)
from edit_agent.photo_typos import corrected_typos
from edit_agent.records import Constraint, Intent, Redraw, Thought, TurnRequest

_Read = TypeVar("_Read")

class PhotoRuleReasoner:
    """Rewrites a photo instruction into the canonical text of its exact operations, followed by those of
    every rule still in force ("from now on keep it black and white"), so that the intent stands alone.

    >>> from PIL import Image
    >>> from edit_agent.records import HistoryTurn
    >>> image = Image.new("RGB", (8, 8))
    >>> thought = PhotoRuleReasoner().reconstruct(
    ...     TurnRequest(instruction="mirror it and darken", image=image, source_image=image))
    >>> thought.intent.text
    'Flip the image horizontally, then decrease the brightness by 20%.'
    >>> earlier = HistoryTurn(turn_id="t1", instruction="from now on keep it square", reasoning="", intent="")
    >>> thought = PhotoRuleReasoner().reconstruct(
    ...     TurnRequest(instruction="crop to the left half", image=image, source_image=image, history=(earlier,)))
    >>> thought.intent.text, [c.text for c in thought.intent.constraints]
    ('Crop to the left half, then crop to a centred square.', ['the image stays square'])
    """

    name = "rules"

    def __init__(self, *, keep_rules: bool = True, follow_ups: bool = True) -> None:
        self.keep_rules = keep_rules
        """Off for a photo edit on a MICE-World canvas: its rules are the world's, not ours."""
        self.follow_ups = follow_ups
        """Without rules: whether "the opposite", "a bit more" and the like refer to the turn before, and everyday
        phrasings ("too bright", "make it square") read (on a canvas, only once its shapes are a photo: before, the
        turn before is a shape's edit, no photo edit's, and "make it square" may be about a shape)."""

    def reconstruct(self, request: TurnRequest) -> Thought:
        _check_numbers_fit(request.instruction)
        if asks_to_undo(request.instruction):
            # Going back a turn is a move in the session, not an operation on the pixels.
            raise UnsupportedInstructionError(f"{quoted(request.instruction)} asks to go back one turn. {UNDO_HINT}")
        if not self.keep_rules:
            return self._without_rules(request)
        numbers = [request.turn_number(position) for position in range(1, len(request.history) + 2)]
        earlier_instructions = [earlier.instruction for earlier in request.history]
        (typed, follow_up, turn), corrections = _read_as_meant(request.instruction, earlier_instructions)
        before = rules_in_force(earlier_instructions, numbers[:-1])
        number = numbers[-1]
        after = next_rules(before, turn, number)
        check_conflicts(turn.operations, after)
        again = _applied_again(turn.operations, after)
        operations = turn.operations + [held.rule.operation for held in again]
        constraints = tuple(Constraint(text=held.rule.statement, kind="rule", set_at_turn=held.set_at_turn)
                            for held in after)
        reasoning = _referred_to(follow_up, typed, request) + _reasoning(turn, before, again, number)
        if _LEVEL.search(numbers_as_digits(typed)) and any(op.kind in PERCENT_KINDS for op in turn.operations):
            reasoning += (" A level ('to N%') is taken from the image as it is now, so asking for the same level "
                          "again changes it again.")
        if corrections:
            read_as = ", ".join(f"{typo!r} as {word!r}" for typo, word in corrections)
            reasoning = f"Read {read_as} (a typo, or the instruction would not read). " + reasoning
        return _thought(reasoning, Intent(text=describe_operations(operations), constraints=constraints), follow_up,
                        request, ruled=bool(before))

    def _without_rules(self, request: TurnRequest) -> Thought:
        """A photo edit on a canvas: only the plain phrasings (there "make it square" or "too blue" is about one of
        its shapes) until it is a photo; from then on, where :attr:`follow_ups` is on, everyday ones and follow-ups
        of the photo edit before it too."""
        earlier = [turn.instruction for turn in request.history]
        text, follow_up = request.instruction, None
        if self.follow_ups and earlier:  # as on a photo: what refers to the edit before it, or corrects it
            text, follow_up = read_as_said(text, earlier)
        operations = _read(lambda said: parse_operations(said, everyday=self.follow_ups),
                           follow_up.text if follow_up else text)
        reasoning = _referred_to(follow_up, request.instruction, request) + _reasoning(ReadTurn(operations, [], []), [], [])
        return _thought(reasoning, Intent(text=describe_operations(operations)), follow_up, request, ruled=False)


def _referred_to(follow_up: FollowUp | None, typed: str, request: TurnRequest) -> str:
    """What a follow-up ("a bit more") refers to, said before the rest of the reasoning."""
    if follow_up is None:
        return ""
    return f"{typed!r} refers to turn {request.turn_number(follow_up.refers_to + 1)}, so it asks for: {follow_up.text} "


def _thought(reasoning: str, intent: Intent, follow_up: FollowUp | None, request: TurnRequest, *, ruled: bool) -> Thought:
    """The turn's thought, giving back or drawing again from an earlier image where the follow-up takes its edit back."""
    earlier = [turn.instruction for turn in request.history]
    redraw = _redraw(follow_up, request, earlier, ruled)
    if redraw is not None:  # its sentence says which image is drawn from instead
        reasoning = reasoning.replace(f" {_CURRENT_IMAGE_ONLY}", "")
    return Thought(reasoning=reasoning, intent=intent, restores_turn=_turn_taken_back(follow_up, request, earlier, ruled),
                   redraw=redraw)


def _turn_taken_back(follow_up: FollowUp | None, request: TurnRequest, earlier: list[str], ruled: bool) -> str | None:
    """The last turn, where this one takes all of its edit back and no rule is in force: the session then gives back
    the image stored before it, exactly. Its operations done in reverse would only come close: values a brightening
    clipped at white do not come back, and each level is rounded again. Under a rule, the image before the last
    turn need not obey it (a new image given with that turn, or a turn another reasoner made), so the operations
    are done in reverse and the rules applied again, as for any edit."""
    if follow_up is None or not follow_up.takes_back or follow_up.refers_to != len(earlier) - 1:
        return None
    if ruled or rules_in_force(earlier[:-1]):  # ruled: a rule is in force after the last turn
        return None
    return request.history[-1].turn_id


def _took_back(earlier: list[str]) -> bool:
    """Whether the last turn took an edit back: its output may be an image stored before ("the opposite"), or one
    drawn from before it ("too much"), not its edit done to its input."""
    try:
        last = read_follow_up(earlier[-1], earlier[:-1])
    except EditAgentError:
        return True  # read otherwise than when it was made: not known to be a plain edit
    return last is not None and (last.takes_back or last.redrawn is not None)


_CURRENT_IMAGE_ONLY = "They act on the current image only, so no earlier turn needs to be repeated."


def _redraw(follow_up: FollowUp | None, request: TurnRequest, earlier: list[str], ruled: bool) -> Redraw | None:
    """Part of the last turn's edit taken back ("too much"), where no rule is in force (see :func:`_turn_taken_back`):
    that edit with less of it, from the image before it. Only where the last turn made the very edit its words read
    as (one made by another reasoner, or under another version, may have made another)."""
    if follow_up is None or follow_up.redrawn is None or follow_up.refers_to != len(earlier) - 1:
        return None
    last = request.history[-1]
    if ruled or rules_in_force(earlier[:-1]) or last.intent != follow_up.read_edit or _took_back(earlier):
        return None
    number = request.turn_number(len(earlier))
    redrawn = follow_up.redrawn[:1].lower() + follow_up.redrawn[1:-1]
    return Redraw(turn_id=last.turn_id, intent=Intent(text=follow_up.redrawn), why=(
        f"Drawn as turn {number}'s edit with less of it, from the image before turn {number} ({redrawn}), which "
        f"comes to the same: what turn {number} clipped or rounded comes back, where taking some of it off its "
        "result would keep the loss."))


_LEVEL = re.compile(r"\bto\s+\d+(?:\.\d+)?\s*(?:%|percent\b)", re.IGNORECASE)


_Reading = tuple[str, FollowUp | None, ReadTurn]
"""What was read (as typed, or with its typos corrected), the follow-up it resolved to, and the turn."""


_WHOLE_NUMBER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)")
"""The whole part of a number, with thousands separators ("1,000,000") but not a list ("1000,2000"); digits after a
point are precision, not size."""
_MOST_DIGITS = 15
"""More digits than any size, angle or percentage has, and than a float holds exactly (past 308 it is ``inf``)."""


_COLOUR_ASKED = re.compile(r"\bcolou?r(?:s|ful|ed)?\b", re.IGNORECASE)


def _grey_rule_in_force(earlier: list[str]) -> RuleInForce | None:
    return next((held for held in rules_in_force(earlier) if held.rule.operation.kind == "grayscale"), None)


def _check_numbers_fit(instruction: str) -> None:
    # Unsupported, not invalid: on a MICE-World canvas the world language reads the turn next, and says its own.
    for match in _WHOLE_NUMBER.finditer(instruction):
        digits = len(match.group().replace(",", "").lstrip("0"))  # "0090 degrees" is 90
        if digits > _MOST_DIGITS:
            shown = match.group() if len(match.group()) <= 24 else f"{match.group()[:12]}… ({digits} digits)"
            raise UnsupportedInstructionError(f"The number {shown} is too large for any edit; give an amount such "
                                              "as 'by 20%', '90 degrees' or '800x600'.")


def _read_as_meant(instruction: str, earlier: list[str]) -> tuple[_Reading, list[tuple[str, str]]]:
    """The instruction read once, and its typo corrections: made only when it does not read as typed and does
    once corrected ("brigher" is "brighter"; "make the car red" stays as typed, and is refused as typed).
    Any other refusal ("rotate 45 degrees", "again" with nothing before it) is the typed text's."""
    try:
        return _read_turn(instruction, earlier), []
    except UnsupportedInstructionError as refusal:
        corrected, corrections = corrected_typos(instruction)
        corrections = list(dict.fromkeys(corrections))  # "brigher" typed ten times is told once
        if corrections:
            try:
                return _read_turn(corrected, earlier), corrections
            except EditAgentError as corrected_refusal:
                # "make it smaler" reads as "make it smaller", which needs a size: say that, and what was read.
                # Any other refusal of the corrected text is no better read: the typed text's own refusal stands.
                if type(corrected_refusal) is InvalidInstructionError:
                    read_as = ", ".join(f"{typed!r} as {meant!r}" for typed, meant in corrections)
                    raise InvalidInstructionError(f"{corrected_refusal} (Read {read_as}.)") from None
        if is_history_move(instruction):
            raise _history_move(instruction) from None
        grey_rule = _grey_rule_in_force(earlier)
        if grey_rule is not None and _COLOUR_ASKED.search(instruction) and isinstance(refusal, NeedsGenerativeEditorError):
            raise NeedsGenerativeEditorError(refusal.what, also=(
                f"A rule keeps the image black and white (turn {grey_rule.set_at_turn}): 'forget the black and white "
                "rule' lifts it, and colour it took away comes back by undoing to an image from before it.")) from None
        if earlier and may_take_back(instruction) and isinstance(refusal, NeedsGenerativeEditorError):
            raise NeedsGenerativeEditorError(refusal.what, also=(
                f"If it takes back an earlier edit, that is a move in the session's history, not an edit: {HISTORY_HINT} "
                "Then say any edit to make from there; an edit in the middle cannot be taken out on its own, so the "
                "edits after it are said again.")) from None
        if _says_what_not_to_do(instruction):
            raise UnsupportedInstructionError(
                f"{quoted(instruction)} says what not to do, and an edit does only what it is asked: nothing was edited. "
                "Say what to change ('make it warmer').") from None
        raise refusal from None


_NEGATED = re.compile(r"^\W*(?:please\s+)?(?:don['’]?t|do\s+not|never|no\s+need\s+to)\s+(?P<rest>.+)$", re.IGNORECASE)


def _says_what_not_to_do(instruction: str) -> bool:
    """'don't rotate it': exact operations, each negated, and nothing else (an editor would need to guess what to
    do). 'don't rotate it, flip it' does say what to do: its refusal is the one of its part that is no operation."""
    clauses = split_clauses(instruction)  # none for courtesy alone ("thanks")
    return bool(clauses) and all(_negated_operation(clause) for clause in clauses)


def _negated_operation(clause: str) -> bool:
    negated = _NEGATED.match(clause.strip())
    if negated is None:
        return False
    try:
        parse_operations(negated.group("rest"))
    except EditAgentError:
        return False
    return True


def _read_turn(text: str, earlier: list[str]) -> _Reading:
    text, follow_up = read_as_said(text, earlier)  # "a bit more", "no, too bright", "wait, and flip it"
    if follow_up is None:
        _refuse_a_follow_up_among_edits(text, earlier)
        check_it_is_not_the_setting(text, earlier)
    return text, follow_up, read_turn(follow_up.text if follow_up else text)


_PARTS = re.compile(r"[,;.!?]+|\b(?:and|then|but|plus|also)\b", re.IGNORECASE)
_SAYS_NOTHING_MORE = re.compile(r"^(?:(?:thanks|thank\s+you|thx)\s+again|(?:sorry|oops|hmm|wait|no|thanks|thank\s+you|thx"
                                r"|please|pls|ok|okay|cool|great|nice|perfect)(?:\s+|$))+$", re.IGNORECASE)
"""Parts that add no request of their own ("thanks again", "sorry"), said around a follow-up."""
_AN_AMOUNT = re.compile(r"^not\s+(?:so|that|as|too)\s+much$", re.IGNORECASE)
"""'make it brighter, not so much': an amount for the edit before it, not a take-back of the last turn."""


def _refuse_a_follow_up_among_edits(text: str, earlier: list[str]) -> None:
    """'too much, and make it warmer': a part that only refers to the last edit, said with another edit. Read with
    it, that part was dropped ("too much" is no operation) or sent to a generative editor; each is said on its own
    instead. A part that reads as an operation of its own ("rotate again") or as an amount ("not so much") is none."""
    if not earlier:
        return
    parts = [part.strip() for part in _PARTS.split(text) if part and part.strip()]
    parts = [part for part in parts if not _SAYS_NOTHING_MORE.match(part)]
    if len(parts) < 2:
        return
    said = next((part for part in parts if _only_refers_back(part)), None)
    if said is not None:
        raise UnsupportedInstructionError(
            f"{quoted(text)} refers to the last edit ({quoted(said)}) and asks for more in the same message: send "
            f"them one at a time ({quoted(said)} first); nothing was edited.")


def _only_refers_back(part: str) -> bool:
    if not is_follow_up(part) or _AN_AMOUNT.match(part) or said_keep_it_that_way(part):  # a rule, kept as a rule
        return False
    try:
        parse_operations(part)
    except EditAgentError:
        return True
    return False  # "rotate again", "blur it again": an operation of its own


def _read(reader: Callable[[str], _Read], instruction: str) -> _Read:
    """``reader(instruction)``; text that is no operation but reads as undo/redo gets where to find those moves,
    not the advice to use a generative editor."""
    try:
        return reader(instruction)
    except UnsupportedInstructionError:
        if is_history_move(instruction):
            raise _history_move(instruction) from None
        raise


def _history_move(instruction: str) -> UnsupportedInstructionError:
    return UnsupportedInstructionError(f"{quoted(instruction)} reads as a move in the session's history, not an edit. {HISTORY_HINT}")


def _applied_again(operations: list[Operation], in_force: Sequence[RuleInForce]) -> list[RuleInForce]:
    """The rules whose operation follows the turn's own: each rule in force, unless the turn edits nothing
    (it only lifts a rule) or already ends with that operation, nothing after it able to break the rule."""
    if not operations:
        return []
    again = []
    for held in in_force:
        rule_operation = held.rule.operation
        last = max((i for i, operation in enumerate(operations) if operation == rule_operation), default=None)
        if last is None or any(breaks(held.rule, operation) for operation in operations[last + 1:]):
            again.append(held)
    return again


def _reasoning(turn: ReadTurn, before: Sequence[RuleInForce], again: Sequence[RuleInForce], number: int = 0) -> str:
    sentences = [_operations_sentence(turn.operations)] if turn.operations else []
    for rule in turn.sets:
        held = next((held for held in before if held.rule == rule), None)
        sentences.append(f"The rule of turn {held.set_at_turn} already says that {rule.statement}." if held else
                         f"From now on {rule.statement} (a rule of this turn, turn {number}): it applies now and "
                         "after every later edit.")
    lifted = before if turn.lifts_all else [held for held in before if held.rule in turn.lifts]
    sentences += [f"The rule of turn {held.set_at_turn} ({held.rule.statement}) is lifted." for held in lifted]
    sentences += [f"In force from turn {held.set_at_turn}: {held.rule.statement}, so "
                  f"'{describe_operations([held.rule.operation])[:-1].lower()}' follows this edit." for held in again]
    if turn.operations:
        kept = [held for held in before if held not in again and held not in lifted and held.rule not in turn.sets]
        sentences += [f"In force from turn {held.set_at_turn}: {held.rule.statement}, which this edit keeps."
                      for held in kept]
    if not (turn.sets or lifted or before):
        sentences.append(_CURRENT_IMAGE_ONLY)
    if not turn.operations:  # the reason, as the world's rules say theirs: the chat and the tools show it
        reason = ("lifting a rule changes no pixel, only what later edits are held to" if lifted and not turn.sets
                  else "the rule is in force already" if turn.sets else "nothing in the instruction changes it")
        sentences.append(f"So the image stays as it is: {reason}.")
    return " ".join(sentences)


def _operations_sentence(operations: list[Operation]) -> str:
    steps = "; ".join(f"{i}. {describe_operations([op])[:-1]}" for i, op in enumerate(operations, 1))
    return (f"The instruction maps completely to {len(operations)} exact operation"
            f"{'s' if len(operations) > 1 else ''}, applied in this order: {steps}.")
