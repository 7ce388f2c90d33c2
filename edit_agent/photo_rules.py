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
from dataclasses import dataclass

from edit_agent.errors import EditAgentError, InvalidInstructionError, UnsupportedInstructionError
from edit_agent.photo_ops import FILLER_WORDS, Operation, describe_operations, parse_clause, split_clauses


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
        r"\b(?:grayscale|greyscale|gr[ae]y\s*scale|black\s*(?:and|&)\s*white|b\s*&\s*w|monochrome)\b", re.I)),
    PhotoRule("square", "the image stays square", Operation(kind="crop", target="square"),
              re.compile(r"\bsquare\b", re.I)),
)


@dataclass(frozen=True)
class RuleInForce:
    rule: PhotoRule
    set_at_turn: int
    """1-based position of the turn that set it, on the way from the source image."""


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
_LIFT = re.compile(
    r"\b(?:forget|drop|remove|cancel|clear|lift|stop|end|ignore|no\s+longer|don'?t|do\s+not|never\s+mind)\b", re.I)
_ALL_RULES = re.compile(r"\brules?\b|\bconstraints?\b", re.I)
_RULE_WORDS = FILLER_WORDS | {
    "sure", "must", "should", "everything", "every", "each", "edit", "edits", "result", "results", "on", "from",
    "is", "stays", "stay", "any", "anymore", "about", "s", "t", "longer", "there", "here", "rest", "session",
    "crop", "cropped", "converted", "shape", "format", "mode",
}
# "but" joins a rule to an edit ("make it brighter but keep it square"); the operations' parser splits on
# the other joiners itself.
_BUT = re.compile(r"\s*\bbut\b\s*", re.I)


def read_turn(instruction: str) -> ReadTurn:
    """Read an instruction's operations and rule changes, clause by clause, or raise as the parser does."""
    operations: list[Operation] = []
    sets: list[PhotoRule] = []
    lifts: list[PhotoRule] = []
    lifts_all = False
    # Persistence carries over a comma or an "and": "from now on, black and white", "keep it square and b&w".
    persisting = pending = False
    for part in _BUT.split(instruction):
        for clause in split_clauses(part):
            lifted = _lifted(clause)
            if lifted is not None:
                lifts.extend(lifted)
                lifts_all = lifts_all or not lifted
                persisting = False
                continue
            if not _leftover(_PERSIST.sub(" ", clause)):  # "from now on," alone: the next clause is the rule
                persisting = pending = True
                continue
            rule = _set_rule(clause, instruction, persisting=persisting, pending=pending)
            pending = False
            if rule is not None:
                sets.append(rule)
                operations.append(rule.operation)
                persisting = True
                continue
            operations.extend(parse_clause(clause, instruction))
            persisting = False
    if not (operations or lifts or lifts_all):
        operations = parse_clause(instruction, instruction)  # raises, naming the whole instruction
    return ReadTurn(operations=operations, sets=sets, lifts=lifts, lifts_all=lifts_all)


def _lifted(clause: str) -> list[PhotoRule] | None:
    """The rules a clause lifts ([] for every rule: "drop the rules"), or None when it lifts nothing."""
    if not _LIFT.search(clause):
        return None
    named = [rule for rule in RULES if rule.mention.search(clause)]
    if not named and not _ALL_RULES.search(clause):
        return None
    rest = clause
    for pattern in (_LIFT, _PERSIST, _ALL_RULES, *(rule.mention for rule in RULES)):
        rest = pattern.sub(" ", rest)
    return None if _leftover(rest) else named


def _set_rule(clause: str, instruction: str, *, persisting: bool, pending: bool) -> PhotoRule | None:
    """The rule a clause sets, or None when the clause says nothing persistent: "from now on keep it square";
    after another rule, "square" alone (``persisting``); after a bare "from now on", the whole clause (``pending``)."""
    named = [rule for rule in RULES if rule.mention.search(clause)]
    rest = _PERSIST.sub(" ", clause)
    for rule in named:
        rest = rule.mention.sub(" ", rest)
    if not (_PERSIST.search(clause) or pending):
        if persisting and len(named) == 1 and not _leftover(rest):
            return named[0]
        return None
    if len(named) != 1 or _leftover(rest):
        raise UnsupportedInstructionError(
            f"{instruction!r}: with exact operations, a rule for the rest of a photo session can keep the image "
            f"{' or '.join(rule.name for rule in RULES)} ({clause!r} is neither); other rules need a generative editor."
        )
    return named[0]


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


def rules_in_force(instructions: Sequence[str]) -> list[RuleInForce]:
    """The rules in force after ``instructions``, the earlier turns from the source image on.

    A turn that does not read as photo operations (a MICE-World turn, say) sets and lifts nothing.
    """
    in_force: list[RuleInForce] = []
    for number, instruction in enumerate(instructions, 1):
        try:
            in_force = next_rules(in_force, read_turn(instruction), number)
        except EditAgentError:
            continue
    return in_force


def check_conflicts(operations: Sequence[Operation], in_force: Sequence[RuleInForce]) -> None:
    """Refuse an edit that a rule in force would undo at once (colour under black and white, a
    non-square size under square): it would change nothing, or not what was asked."""
    for held in in_force:
        for operation in operations:
            colour_under_grayscale = held.rule.operation.kind == "grayscale" and operation.kind in ("saturation", "warmth")
            oblong_under_square = (held.rule.operation.kind == "crop" and operation.kind == "resize"
                                   and operation.size is not None and operation.size[0] != operation.size[1])
            undone = colour_under_grayscale or oblong_under_square
            if undone:
                asked = describe_operations([operation])[:-1].lower()
                raise InvalidInstructionError(
                    f"A rule keeps the image {held.rule.name} (turn {held.set_at_turn}), so '{asked}' would not hold; "
                    f"say 'forget the {held.rule.name} rule' first."
                )
