"""Rules that hold for the rest of a photo session: "from now on keep it black and white", "keep it square".

A rule is an exact operation that changes nothing on an image that already obeys it (grayscale, a centred
square crop), so it can be applied again after every later edit: each turn's intent then carries every
rule still in force and stands alone. A clause with a word of persistence ("from now on", "always",
"keep") sets a rule; one that forgets it lifts it ("forget the black and white rule", "stop keeping it
square", "drop all rules"). The rules in force are read again from the turns on the way to the head, so
undoing the turn that set a rule lifts it too.

>>> history = ["from now on keep it black and white", "rotate it 90 degrees"]
>>> [(r.rule.name, r.set_at_turn) for r in rules_in_force(history)]
[('black and white', 1)]
>>> read_turn("make it brighter and keep it square").sets[0].name
'square'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from edit_agent.errors import EditAgentError, InvalidInstructionError, UnsupportedInstructionError, quoted
from edit_agent.photo_ops import Operation, describe_operations
from edit_agent.photo_parsing import (
    COLOUR_SAID,
    FILLER_WORDS,
    GRAYSCALE_WORDS,
    check_no_flip_undoes_another,
    check_operation_count,
    is_no_change,
    parse_clause,
    parse_clause_read,
    plain_request,
    refusal_of,
    split_clauses,
    without_restated_problems,
)
from edit_agent.photo_typos import corrected_typos


@dataclass(frozen=True)
class PhotoRule:
    name: str
    """How instructions and messages name it: "black and white"."""
    statement: str
    """The constraint in force: "the image stays black and white"."""
    operation: Operation
    """Applied when the rule is set and again after every later edit."""
    mention: re.Pattern[str]


RULES = (
    PhotoRule("black and white", "the image stays black and white", Operation(kind="grayscale"), re.compile(
        GRAYSCALE_WORDS, re.I)),
    PhotoRule("square", "the image stays square", Operation(kind="crop", target="square"),
              re.compile(r"\bsquare\b", re.I)),
)


@dataclass(frozen=True)
class RuleInForce:
    rule: PhotoRule
    set_at_turn: int
    """The number of the turn that set it (its position on the way from the source image, unless the
    session numbers its turns otherwise after a branch)."""


@dataclass(frozen=True)
class ReadTurn:
    """What one instruction asks for: operations now (those of a rule it sets included), rules set and lifted."""

    operations: list[Operation]
    sets: list[PhotoRule]
    lifts: list[PhotoRule]
    lifts_all: bool = False


_PERSIST = re.compile(
    r"\b(?:from\s+now\s+on|from\s+here\s+on(?:wards?)?|from\s+this\s+point\s+on|going\s+forward|"
    r"for\s+the\s+rest\s+of\s+the\s+session|always|keep(?:s|ing)?|stays?|remains?)\b", re.I)
# "keep it that way", "always" after an edit: the edit just written is the rule
_KEEP_THAT = re.compile(r"\b(?:(?:that|this)\s+way|like\s+(?:that|this)|as\s+it\s+is\s+now|always)\b", re.I)
KEEP_IT_THAT_WAY = re.compile(
    r"^(?:(?:from\s+now\s+on|going\s+forward)\s*,?\s*)?keep\s+it\s+(?:(?:that|this)\s+way|like\s+(?:that|this)|as\s+it\s+is(?:\s+now)?)"
    r"(?:\s*,?\s*(?:from\s+now\s+on|going\s+forward|for\s+the\s+rest\s+of\s+the\s+session))?[\s.!]*$", re.IGNORECASE)
"""'keep it that way' said on its own (a turn of its own, after the edit it means): that edit becomes a rule. (Not
"leave it like that", which as often means "stop here".)"""
_LIFT = re.compile(
    r"\b(?:forget|drop|remove|cancel|clear|lift|stop|ignore|no\s+longer|no\s+more|never\s+mind|"
    r"(?:don['’]?t|do\s+not)\s+keep)\b", re.I)
# "don't forget to keep it square", "do not lift the square rule": the rule stays
_NOT_LIFT = re.compile(r"\b(?:don['’]?t|do\s+not|never)\s+(?:forget|drop|remove|cancel|clear|lift|stop|ignore)\b", re.I)
_ALL_RULES = re.compile(r"\b(?:rules?|constraints?|both)\b", re.I)
_RULE_WORDS = FILLER_WORDS | {
    "sure", "must", "should", "everything", "every", "each", "edit", "edits", "result", "results", "on", "from",
    "is", "stays", "stay", "any", "anymore", "about", "s", "t", "longer", "there", "here", "rest", "session",
    "crop", "cropped", "converted", "shape", "format", "mode", "rule", "rules", "making", "being", "needs",
    "need", "has", "have", "had", "be", "keeping", "too", "well",
    "applies", "apply", "holds", "hold", "counts", "needed", "necessary", "required", "matters",
}
_BARE_NAME_WORDS = {"it", "the", "image", "photo", "picture", "also", "too", "a", "and"}
"""What may stand beside a rule's name in a clause that continues the one before ("keep it square and b&w")."""
_LIFT_WORDS = re.compile(r"\b(?:forget|lift|no\s+longer|no\s+more)\b", re.I)


@dataclass
class _Reading:
    """read_turn's state from one clause to the next."""

    read: list[tuple[list[Operation], bool]] = field(default_factory=list)
    """Each clause's operations, and whether the clause only states a problem (see parse_clause_read)."""
    said: list[str] = field(default_factory=list)
    """The clause each entry of ``read`` came from."""
    sets: list[PhotoRule] = field(default_factory=list)
    lifts: list[PhotoRule] = field(default_factory=list)
    lifts_all: bool = False
    last: str = ""
    """What the previous clause did: "set", "lift", "operations", "pending" (a bare "from now on")."""

    def add(self, clause: str, operations: list[Operation], *, stated: bool) -> None:
        self.read.append((operations, stated))
        self.said.append(clause)


def read_turn(instruction: str) -> ReadTurn:
    """Read an instruction's operations and rule changes, clause by clause, or raise as the parser does."""
    if is_no_change(instruction):
        return ReadTurn(operations=[], sets=[], lifts=[])
    reading = _Reading()
    for clause in split_clauses(instruction):  # "but" joins too: "make it brighter but keep it square"
        _read_clause(reading, clause, instruction)
    if reading.last == "pending":
        raise _not_a_rule(instruction, instruction)
    check_no_flip_undoes_another(reading.said, [operations for operations, _ in reading.read])
    operations = without_restated_problems(reading.read, instruction)
    if not (operations or reading.lifts or reading.lifts_all):
        if not reading.said:  # no clause asks for anything: "thanks!", "cool!"
            raise refusal_of(instruction)
        parse_clause(instruction, instruction)  # raises, naming the whole instruction
    check_operation_count(len(operations))
    return ReadTurn(operations=operations, sets=reading.sets, lifts=reading.lifts, lifts_all=reading.lifts_all)


@lru_cache(maxsize=4096)
def known_reading(instruction: str) -> ReadTurn | None:
    """:func:`read_turn` of an earlier turn's ``instruction`` as its turn read it, or ``None`` where it raises; kept,
    since every later turn reads the earlier ones again (the rules in force, what a follow-up refers to). Shared
    between callers: never change it.

    An instruction that reads only once its typos are corrected was read so by its turn ("keep it balck and white"
    set the rule, and said so), and is read so again here."""
    try:
        return read_turn(instruction)
    except UnsupportedInstructionError:
        corrected, corrections = corrected_typos(instruction)
        if not corrections:
            return None
        return known_reading(corrected)
    except EditAgentError:
        return None


def _read_clause(reading: _Reading, clause: str, instruction: str) -> None:
    named = [rule for rule in RULES if rule.mention.search(clause)]
    if _NOT_LIFT.search(clause):  # a reminder: the rule is set (again)
        clause = "keep " + _NOT_LIFT.sub(" ", clause)
    lifted = _lifted(clause, named, continuing=reading.last == "lift")
    if lifted is not None:
        reading.lifts.extend(lifted)
        reading.lifts_all = reading.lifts_all or not lifted
        reading.last = "lift"
        return
    if not named and reading.last != "pending" and _reads_as_operations(reading, clause, instruction):
        return  # "keep only the right half", "... keeping the aspect ratio": an edit, whatever "keep" says
    persists = _PERSIST.search(clause) or _KEEP_THAT.search(clause)
    # persistence alone ("from now on,"), not what to keep ("keep the colours"), though colours are filler elsewhere
    if persists and not _leftover(_KEEP_THAT.sub(" ", _PERSIST.sub(" ", clause))) and not COLOUR_SAID.search(clause):
        if _KEEP_THAT.search(clause) and reading.last == "operations":
            _keep_the_last_operations(reading, clause, instruction)
        else:
            reading.last = "pending"  # "from now on,": the next clause is the rule
        return
    rule = _set_rule(clause, named, instruction, pending=reading.last == "pending",
                     continuing=reading.last == "set")
    if rule is not None:
        reading.sets.append(rule)
        reading.add(clause, [rule.operation], stated=False)
        reading.last = "set"
        return
    try:
        operations, stated = parse_clause_read(clause, instruction)
    except UnsupportedInstructionError:
        if _LIFT_WORDS.search(clause):  # "forget it": a lift that names no rule
            raise InvalidInstructionError(
                f"{quoted(instruction)}: to lift a rule, name it: 'forget the black and white rule', 'stop keeping it "
                "square' or 'drop all rules'.") from None
        raise
    reading.add(clause, operations, stated=stated)
    reading.last = "operations"


def _reads_as_operations(reading: _Reading, clause: str, instruction: str) -> bool:
    try:
        operations, stated = parse_clause_read(clause, instruction)
    except EditAgentError:
        return False
    reading.add(clause, operations, stated=stated)
    reading.last = "operations"
    return True


def _keep_the_last_operations(reading: _Reading, clause: str, instruction: str) -> None:
    """ "make it black and white and crop it to a square, and keep it that way": what the message did so far that a
    rule can keep becomes a rule (the rest stays as it is anyway), as "keep it that way" said on its own next does."""
    rules = rules_keeping([op for operations, stated in reading.read if not stated for op in operations])
    if not rules:
        raise _not_a_rule(instruction, clause)
    reading.sets.extend(rule for rule in rules if rule not in reading.sets)
    reading.last = "set"


def _lifted(clause: str, named: list[PhotoRule], *, continuing: bool) -> list[PhotoRule] | None:
    """The rules a clause lifts ([] for every rule: "drop the rules"), or None when it lifts nothing.
    After a lift, a clause that only names rules lifts them too ("forget the square and b&w rules")."""
    lifting = bool(_LIFT.search(clause))
    if not (lifting or continuing) or (not named and not _ALL_RULES.search(clause)):
        return None
    if not lifting and _PERSIST.search(clause):  # "forget the b&w rule but keep it square": this one is kept
        return None
    rest = clause
    for pattern in (_LIFT, _PERSIST, _ALL_RULES, *(rule.mention for rule in RULES)):
        rest = pattern.sub(" ", rest)
    if lifting:
        return None if _leftover(rest) else named
    # a continuation names rules only: "... and make it black and white" is an edit, not a second lift
    words = [word for word in re.findall(r"[a-z0-9]+", rest.lower()) if word not in _BARE_NAME_WORDS | {"rule", "rules"}]
    return None if words else named


def _set_rule(clause: str, named: list[PhotoRule], instruction: str, *, pending: bool,
              continuing: bool) -> PhotoRule | None:
    """The rule a clause sets, or None when the clause says nothing persistent: "from now on keep it square";
    after a bare "from now on", the whole clause (``pending``); after another rule, its name alone
    (``continuing``: "keep it square and b&w", but "keep it square and make it b&w" is a one-time edit)."""
    rest = _PERSIST.sub(" ", clause)
    for rule in named:
        rest = rule.mention.sub(" ", rest)
    if not (_PERSIST.search(clause) or pending):
        bare = not [word for word in re.findall(r"[a-z0-9]+", rest.lower()) if word not in _BARE_NAME_WORDS]
        return named[0] if continuing and len(named) == 1 and bare else None
    if len(named) != 1 or _leftover(rest):
        raise _not_a_rule(instruction, clause)
    return named[0]


def _not_a_rule(instruction: str, clause: str) -> UnsupportedInstructionError:
    return UnsupportedInstructionError(
        f"{quoted(instruction)}: with exact operations, a rule for the rest of a photo session can keep the image "
        f"{' or '.join(rule.name for rule in RULES)} ({quoted(clause)} is neither); other rules need a generative editor."
    )


def _leftover(text: str) -> list[str]:
    return [word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _RULE_WORDS]


def next_rules(in_force: Sequence[RuleInForce], turn: ReadTurn, turn_number: int) -> list[RuleInForce]:
    """The rules in force after a turn; lifting a rule that is not in force is refused."""
    if turn.lifts_all and not in_force:
        raise InvalidInstructionError("No rule is in force, so there is none to lift.")
    for rule in turn.lifts:
        if all(held.rule != rule for held in in_force):
            raise InvalidInstructionError(
                f"No rule keeps the image {rule.name}, so there is none to lift ({_listed(in_force)}).")
    current = [] if turn.lifts_all else [held for held in in_force if held.rule not in turn.lifts]
    for rule in turn.sets:
        if all(held.rule != rule for held in current):
            current.append(RuleInForce(rule, turn_number))
    return current


def _listed(in_force: Sequence[RuleInForce]) -> str:
    if not in_force:
        return "no rule is in force"
    return "in force: " + "; ".join(f"{held.rule.statement} (turn {held.set_at_turn})" for held in in_force)


def rules_in_force(instructions: Sequence[str], numbers: Sequence[int] | None = None) -> list[RuleInForce]:
    """The rules in force after ``instructions``, the earlier turns from the source image on; ``numbers``
    are those turns' numbers in their session (default: their positions).

    A turn that does not read as photo operations (a MICE-World turn, say) sets and lifts nothing.
    """
    in_force: list[RuleInForce] = []
    numbers = range(1, len(instructions) + 1) if numbers is None else numbers
    last_edit: list[Operation] = []
    for number, instruction in zip(numbers, instructions, strict=True):
        if said_keep_it_that_way(instruction):  # the rules of the edit before it (photo_follow_ups reads it so)
            turn = ReadTurn(operations=[], sets=rules_keeping(last_edit), lifts=[])
        else:
            turn = known_reading(instruction)
            if turn is None:
                continue
            own = [op for op in turn.operations if op not in [rule.operation for rule in turn.sets]]
            last_edit = own or last_edit
        try:
            in_force = next_rules(in_force, turn, number)
        except EditAgentError:
            continue
    return in_force


def rules_keeping(operations: Sequence[Operation]) -> list[PhotoRule]:
    """The rules that keep what ``operations`` did ("keep it that way" after them): black and white, a square."""
    return [rule for rule in RULES if rule.operation in operations]


def said_keep_it_that_way(instruction: str) -> bool:
    """Whether ``instruction`` is "keep it that way" said on its own (courtesy and a full stop aside)."""
    return KEEP_IT_THAT_WAY.match(re.sub(r"[\s.!]+$", "", plain_request(instruction.strip()))) is not None


def breaks(rule: PhotoRule, operation: Operation) -> bool:
    """Whether ``operation`` can leave an image that obeyed ``rule`` no longer obeying it."""
    if rule.operation.kind == "grayscale":
        return operation.kind in ("saturation", "warmth", "sepia")
    return (operation.kind == "crop" and operation.target != "square") or (
        operation.kind == "resize" and operation.target != "fit" and operation.size is not None
        and operation.size[0] != operation.size[1])


def check_conflicts(operations: Sequence[Operation], in_force: Sequence[RuleInForce]) -> None:
    """Refuse an edit that a rule in force would undo at once: colour under black and white (it would
    change nothing), an exact size or aspect ratio that is not square under square (it would not be the shape asked
    for). A crop to one half under square is no conflict: the square crop after it keeps the rule."""
    for held in in_force:
        for operation in operations:
            oblong_crop = operation.kind == "crop" and ":" not in (operation.target or "")  # an aspect ratio is asked for
            if breaks(held.rule, operation) and not oblong_crop:
                asked = describe_operations([operation])[:-1].lower()
                # Less colour on a grey image is no change at all; more would be taken away again at once.
                outcome = ("changes nothing: it has no colour to take away" if _less_colour(operation) else
                           f"would not hold; say 'forget the {held.rule.name} rule' first")
                raise InvalidInstructionError(
                    f"A rule keeps the image {held.rule.name} (turn {held.set_at_turn}), so '{asked}' {outcome}.")


def _less_colour(operation: Operation) -> bool:
    return operation.kind == "saturation" and (operation.value or 0) < 0
