"""Rule reasoner: the exact MICE-World interpreter for world canvases, exact photo operations otherwise.

For a world canvas it replays the raw history from the start canvas, so every reference, rule,
lock and undo is resolved exactly, and writes an intent that stands alone: interpreting it on
the previous target gives this turn's target.

>>> from edit_agent.records import HistoryTurn
>>> from edit_agent.world import Scene, SceneObject, render
>>> start = render(Scene(background="white", objects=(
...     SceneObject(shape="circle", color="red", size="small", cell="top-left"),)))
>>> request = TurnRequest(instruction="make it blue", image=start, source_image=start, history=(
...     HistoryTurn(turn_id="t1", instruction="move the circle right", reasoning="", intent=""),))
>>> RuleReasoner().reconstruct(request).intent.text
'Recolor the small red circle at the top center to blue.'
"""

from __future__ import annotations

import re
from collections.abc import Callable

from edit_agent.errors import UnsupportedInstructionError
from edit_agent.history_words import EARLIER_IMAGE_HINT, HISTORY_HINT, is_history_move, is_redo_request
from edit_agent.photo_typos import slip_of
from edit_agent.reasoners.photo import PhotoRuleReasoner
from edit_agent.records import Constraint, Intent, Thought, TurnRequest
from edit_agent.world.canvas import is_world_canvas
from edit_agent.world.interpreter import TurnOutcome, WorldInterpreter
from edit_agent.world.language import WorldLanguageError, normalize, parse_turn
from edit_agent.world.parse import parse
from edit_agent.world.scene import BACKGROUNDS, COLORS, SHAPES, SIZES, Scene, changed_slots


class RuleReasoner:
    """Exact intent reconstruction with no weights: MICE-World language and common photo edits."""

    name = "rules"

    def __init__(self) -> None:
        self._photo = PhotoRuleReasoner()
        self._photo_on_world = PhotoRuleReasoner(keep_rules=False, follow_ups=False)
        self._photo_after_a_photo_edit = PhotoRuleReasoner(keep_rules=False)

    def reconstruct(self, request: TurnRequest) -> Thought:
        if not is_world_canvas(request.source_image):
            return self._photo.reconstruct(request)
        try:
            return self._world(request)
        except WorldLanguageError as world_error:
            # a world canvas may still get a photo edit ("rotate it"); only then is it not world language
            first_photo_edit = not request.history or self._world_still_reads(request)
            photo = self._photo_on_world if first_photo_edit else self._photo_after_a_photo_edit
            try:
                thought = photo.reconstruct(request)
            except UnsupportedInstructionError:
                raise _with_canvas_hint(world_error, request.instruction) from None
            if first_photo_edit:  # say what it costs before it is made, not a turn later
                thought = thought.model_copy(update={"reasoning": f"{PHOTO_EDIT_ON_CANVAS} {thought.reasoning}"})
            return thought

    @staticmethod
    def _world_still_reads(request: TurnRequest) -> bool:
        world = WorldInterpreter(parse(request.source_image), turn_number=request.turn_number)
        try:
            for turn in request.history:
                world.step(turn.instruction)
        except WorldLanguageError:
            return False
        return True

    def _world(self, request: TurnRequest) -> Thought:
        start = parse(request.source_image)
        world = WorldInterpreter(start, turn_number=request.turn_number)
        for turn in request.history:
            try:
                world.step(turn.instruction)
            except WorldLanguageError:
                # Most often a photo edit (say "make it warmer") that changed the canvas's pixels, so it
                # no longer reads as a scene; name that turn rather than quote its text as if just typed.
                raise WorldLanguageError(
                    f"An earlier turn ({turn.instruction!r}) edited the whole picture as a photo, so its shapes can no "
                    f"longer be edited one by one. Undo back past that turn (or continue from an earlier image: "
                    f"{EARLIER_IMAGE_HINT}) to edit the shapes again; photo edits still work from here."
                ) from None
        outcome = world.step(request.instruction)
        # An undo gives the stored image back rather than applying its intent to this one: no note about the
        # current image, whose differences the session reads off the images themselves (world.restore).
        current = None if outcome.reverts else parse(request.image)
        reasoning = world_reasoning(start, len(request.history), outcome, current, turn_number=request.turn_number)
        # The trace and the constraints name turns by the session's numbers, which the app and the tools
        # show next to each turn; without them (SFT data, evals) those are the positions the world LM learns.
        constraints = tuple(
            Constraint(text=c.text, kind=c.kind, set_at_turn=request.turn_number(c.set_at_turn))
            for c in outcome.constraints
        )
        # An undo gives back the very scene before the turn it reverts: the image stored for it, not a redrawing.
        restores = request.history[outcome.reverts - 1].turn_id if outcome.reverts else None
        return Thought(reasoning=reasoning, intent=Intent(text=outcome.intent, constraints=constraints),
                       restores_turn=restores)


PHOTO_EDIT_ON_CANVAS = (
    "This is a photo edit of the whole canvas: after it, its shapes can no longer be edited one by one. To edit "
    f"them again, undo this turn or continue from an earlier image ({EARLIER_IMAGE_HINT})."
)
CANVAS_HINT = (
    "On a canvas of shapes, say what to do with a shape ('add a small red circle at the top left', 'make the "
    "square blue', 'move the triangle right'), or edit the whole picture ('rotate the image 90 degrees')."
)


REDO_ON_CANVAS_HINT = (
    "After a move back (EditSession.undo(), the undo_edit tool, the app's Undo button), EditSession.redo() or "
    "redo_edit goes forward again. After an 'undo that' turn there is nothing to redo, since on a canvas it is a "
    "turn of its own: to bring back what it undid, move back past that turn."
)


_NAMED_BACKGROUND = re.compile(
    rf"\b(?P<before>{'|'.join(BACKGROUNDS)})\s+background\b"
    rf"|\bbackground(?:\s+(?:to|into|as|a|an|the|colou?r|of|in|be|is|should|must))*\s+(?P<after>{'|'.join(BACKGROUNDS)})\b")
"""A background colour said next to the word ('a gray background', 'the background a sky colour'), not one said of
something else in the sentence ('the background behind the white square')."""


def _background_hint(instruction: str) -> str:
    """How a canvas's background changes, said with the background the instruction gives it where it names one."""
    named = _NAMED_BACKGROUND.search(normalize(instruction))
    said = (f"say 'make the background {named.group('before') or named.group('after')}'" if named else
            "say 'make the background' and the colour")
    return (f"The background is changed by an edit of its own: {said} (white, gray, beige or sky). It then stays as "
            "it is until another edit changes it; no rule is needed to keep it.")
_MENTIONS_BACKGROUND = re.compile(r"\bbackground\b", re.IGNORECASE)
_BACKGROUND_AS_AN_OBJECT = re.compile(r"\b(?:the\s+)?(?:background|sky)\b", re.IGNORECASE)
_SEVERAL_BY_THE = re.compile(
    rf"\bthe\s+(?P<words>(?:[a-z]+\s+){{0,2}}?(?:{'|'.join(SHAPES)}|shape)s)\b", re.IGNORECASE)
"""'the yellow triangles': several objects named as the language names one; it says 'all yellow triangles'."""
_COUNTED = re.compile(r"\b(?:\d+|both|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)
_CLAUSE_JOINER = re.compile(r"\s*(?:,\s*(?:and\s+)?(?:then\s+)?|\s(?:and\s+then|and|then)\s+)", re.IGNORECASE)
"""Where a second edit starts in 'make the circle blue and move it left' or '..., then ...'."""
BACKGROUND_IS_NO_OBJECT_HINT = (
    "The background is not an object: change it with an edit of its own, 'make the background white' (white, "
    "gray, beige or sky)."
)


WORLD_WORDS = frozenset(
    [*SHAPES, *(f"{shape}s" for shape in SHAPES), *SIZES, *COLORS, *BACKGROUNDS, "grey", "background", "shape",
     "shapes", "object", "objects", "every", "center", "centre", "middle", "bottom", "corner", "left", "right",
     "above", "below", "bigger", "smaller", "larger", "remove", "delete", "erase", "move", "recolor", "recolour",
     "resize", "reshape", "restore", "change", "paint", "shift", "touch", "leave", "unchanged", "original"])
"""Words of the world language that a slip of the fingers turns into no word of it ('squre', 'purpel')."""
ENGLISH_NEAR_WORLD_WORDS = frozenset("""
    back backgrounds blacks blank block blow blues bottoms centered centers centred centres chance changed changes
    charge circled cornered corners coroner delegate deleted depleted ease eras erased ever greed greek greens greet
    lease leaves moved moves movie objected originally originals originate pain pains paints point print read reds
    reed remote removed removes reside restored rights shade shades shaft shake shakes shale shall shame shaped share
    shares shave shifts shirt smallest smell squared squire stall swift torch tough while whites write
""".split())
"""English words one slip from a world word, which are no typo ('give it a chance' is not 'change'): those of a
common 20,000-word English vocabulary that :func:`slip_of` would take for one, less names."""
_NO_TYPO = WORLD_WORDS | ENGLISH_NEAR_WORLD_WORDS


def _with_canvas_hint(error: WorldLanguageError, instruction: str) -> WorldLanguageError:
    """:func:`_canvas_hint`'s refusal, and which word a typo in the instruction was likely meant to be: the world
    language reads exact words, so 'add a squre' was refused without saying why."""
    refusal = _canvas_hint(error, instruction)
    if is_history_move(instruction) and not is_redo_request(instruction):  # "go back": where moves are, not a typo
        return WorldLanguageError(f"{refusal} {HISTORY_HINT}")
    if is_redo_request(instruction):  # the refusal says where redo is; 'redo' is no slip for 'red'
        return refusal
    slips = [(typed, meant) for typed in dict.fromkeys(re.findall(r"[a-z]+", instruction.lower()))
             if typed not in _NO_TYPO and (meant := slip_of(typed, WORLD_WORDS))]
    if not slips:
        return refusal
    meant = ", ".join(f"{meant!r} for {typed!r}" for typed, meant in slips)
    return WorldLanguageError(f"{refusal} (Did you mean {meant}?)")


def _canvas_hint(error: WorldLanguageError, instruction: str) -> WorldLanguageError:
    """The world language's bare "not an instruction" with what a canvas does understand (and how its background
    changes, when the instruction is about it: "keep the background white"); an object it cannot find, when the
    instruction names the background as one ("make the sky white"), with how the background changes; several edits
    in one instruction ("make the circle blue and move it left"), with the first of them to send on its own."""
    if first_edit := _first_of_several_edits(instruction):
        return WorldLanguageError(
            f"{error} A canvas turn makes one edit: send {first_edit!r} first, then the next edit as a message of its own.")
    if str(error).startswith("Cannot tell which object"):
        if _BACKGROUND_AS_AN_OBJECT.search(instruction):
            return WorldLanguageError(f"{error} {BACKGROUND_IS_NO_OBJECT_HINT}")
        several = _SEVERAL_BY_THE.search(instruction)
        if several and not _COUNTED.search(several.group("words")):  # "the two triangles": no group says how many
            group = " ".join(several.group("words").split())
            return WorldLanguageError(f"{error} To pick several objects, say 'all {group}' or 'every {group[:-1]}'.")
        return error
    if not str(error).startswith("Not an instruction of the world language"):
        return error
    if is_redo_request(instruction):
        hint = REDO_ON_CANVAS_HINT
    else:
        hint = _background_hint(instruction) if _MENTIONS_BACKGROUND.search(instruction) else CANVAS_HINT
    return WorldLanguageError(f"{error} {hint}")


def _first_of_several_edits(instruction: str) -> str | None:
    """The first edit of an instruction that joins several ('remove the square and keep the background white'),
    when the world language reads it on its own; None when the instruction is not such a list."""
    first = _CLAUSE_JOINER.split(instruction.strip(), maxsplit=1)[0].strip()
    if first == instruction.strip():
        return None
    try:
        command = parse_turn(first)
    except WorldLanguageError:
        return None
    return first if command.edit is not None and not command.malformed else None


def world_reasoning(
    start: Scene, n_history: int, outcome: TurnOutcome, current: Scene | None = None,
    turn_number: Callable[[int], int] | None = None,
) -> str:
    """The trace a reader (or a trained reasoner) can follow: state, references, rules, result.
    ``turn_number`` maps a position to the number shown for it (default: the position)."""
    turn_number = turn_number or (lambda position: position)
    lines = [f"Start scene: {describe_scene(start)}."]
    if n_history:
        lines.append(f"Replaying the {n_history} earlier turn{'s' if n_history > 1 else ''} gives: {describe_scene(outcome.before)}.")
    lines.append(f"Turn {turn_number(outcome.turn)} ({outcome.task_type}): \"{outcome.instruction}\".")
    lines.extend(outcome.trace)
    if outcome.constraints:
        lines.append("In force after this turn: " + "; ".join(
            f"{c.text} (turn {turn_number(c.set_at_turn)})" for c in outcome.constraints) + ".")
    if outcome.changed:
        lines.append(f"So: {outcome.intent}")
    else:
        lines.append(f"So the image stays as it is: {outcome.noop_reason}.")
    if current is not None and current != outcome.before:
        drift = len(changed_slots(current, outcome.before))
        lines.append(f"Note: the current image differs from the expected state in {drift} slot(s); "
                     "the intent names every object it edits in full, so it still applies.")
    return "\n".join(lines)


def describe_scene(scene: Scene) -> str:
    objects = ", ".join(f"a {obj.describe()}" for obj in scene.objects) or "no objects"
    return f"{scene.background} background, {objects}"
