"""The exact meaning of a MICE-World session: start scene + instructions -> target scene per turn.

Objects carry a private identity (an integer) so that ``it``, history references, locks and undo
follow the object through moves, recolours and reshapes, as docs/world.md requires.

>>> from edit_agent.world.scene import Scene
>>> world = WorldInterpreter(Scene(background="white"))
>>> world.step("add a circle at the center").target.objects[0].describe()
'large red circle at the center'
>>> world.step("make it blue").target.objects[0].color
'blue'
>>> world.step("undo").target.objects[0].color
'red'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from edit_agent.world.language import (
    DIRECTIONS,
    Edit,
    Ref,
    Rule,
    TurnCommand,
    parse_program,
    parse_turn,
)
from edit_agent.world.scene import (
    CELLS,
    Scene,
    SceneObject,
    cell_at,
    cell_row_col,
    cell_words,
)

GROUP_EDITS = ("recolor", "resize", "remove")
DEFAULT_ADD = {"color": "red", "size": "large"}


class WorldConstraint(BaseModel):
    """A rule or lock in force after a turn."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "default" or "lock"
    text: str
    set_at_turn: int
    cell: str | None = None
    """For a lock: where the locked object is now."""


class TurnOutcome(BaseModel):
    """What one turn means: the target scene, why, and the state it leaves."""

    model_config = ConfigDict(frozen=True)

    turn: int
    instruction: str
    task_type: str
    before: Scene
    target: Scene
    trace: tuple[str, ...]
    """Reasoning steps: which object each reference picks, which rules/locks apply, what an undo reverts."""
    intent: str
    """The self-contained instruction: interpreting it alone on ``before`` (see ``apply_program``) gives ``target``."""
    noop_reason: str | None = None
    """Why the scene did not change (None when it changed)."""
    rules_changed: bool = False
    constraints: tuple[WorldConstraint, ...] = ()
    reverts: int | None = None
    """An undo: the position of the turn it reverts; ``target`` is then exactly that turn's ``before``."""

    @property
    def changed(self) -> bool:
        return self.target != self.before

    @property
    def locked_cells(self) -> tuple[str, ...]:
        return tuple(c.cell for c in self.constraints if c.kind == "lock" and c.cell)


@dataclass(frozen=True)
class _Snapshot:
    background: str
    objects: dict[int, SceneObject]
    defaults: dict[str, tuple[str, int]]  # attribute -> (value, turn that set it)
    locks: dict[int, int]  # object id -> turn that set it


@dataclass
class _LogEntry:
    turn: int
    instruction: str
    before: _Snapshot
    is_undo: bool = False
    scene_changed: bool = False
    rules_changed: bool = False
    subject: int | None = None  # the one object a single-object edit changed
    added: int | None = None
    moved: int | None = None
    undone: bool = False


@dataclass
class _Turn:
    """Working state of the turn being interpreted."""

    entry: _LogEntry
    trace: list[str] = field(default_factory=list)
    noop: str | None = None
    rules_only: bool = False
    """Set when what the turn changes (or reverts) is only rules and locks."""
    reverts: int | None = None


class WorldInterpreter:
    """Interprets a session turn by turn. ``step`` returns the turn's :class:`TurnOutcome`."""

    def __init__(self, start: Scene, *, turn_number: Callable[[int], int] | None = None) -> None:
        """``turn_number`` maps a turn's position in this session to the number its text should name
        (a session shown after a branch numbers its turns its own way); by default the position itself.
        It changes the trace text only: outcomes and constraints keep positions."""
        self.start = start
        self._turn_number = turn_number or (lambda position: position)
        self._start_objects = dict(enumerate(start.objects))
        self._background = start.background
        self._objects: dict[int, SceneObject] = dict(self._start_objects)
        self._defaults: dict[str, tuple[str, int]] = {}
        self._locks: dict[int, int] = {}
        self._next_id = len(self._objects)
        self._log: list[_LogEntry] = []

    # ------------------------------------------------------------ public
    @property
    def scene(self) -> Scene:
        return Scene(background=self._background, objects=tuple(self._objects.values()))

    def step(self, instruction: str, command: TurnCommand | None = None) -> TurnOutcome:
        command = command if command is not None else parse_turn(instruction)
        before_scene = self.scene
        entry = _LogEntry(turn=len(self._log) + 1, instruction=instruction, before=self._snapshot())
        turn = _Turn(entry=entry)
        invalid = _invalid_value(command)
        if command.malformed or invalid:
            turn.noop = command.malformed or invalid
            turn.trace.append(f"The whole turn is a no-op: {turn.noop}.")
        else:
            if command.rule is not None:
                self._apply_rule(command.rule, turn)
            turn.rules_only = command.edit is None
            if command.edit is not None:
                self._apply_edit(command.edit, turn)
        entry.scene_changed = self.scene != before_scene
        entry.rules_changed = entry.rules_changed and not entry.is_undo
        self._log.append(entry)
        if not entry.scene_changed and turn.noop is None:
            if not turn.rules_only:
                turn.noop = "the scene is already that way"
            elif entry.rules_changed or entry.is_undo:
                turn.noop = "the turn changes only the rules, not the image"
            else:
                turn.noop = "the rule sets nothing new"
        return TurnOutcome(
            turn=entry.turn,
            instruction=instruction,
            task_type=command.task_type,
            before=before_scene,
            target=self.scene,
            trace=tuple(turn.trace),
            intent=describe_change(entry.before, self._snapshot()),
            noop_reason=None if entry.scene_changed else turn.noop,
            rules_changed=entry.rules_changed,
            constraints=self.constraints(),
            reverts=turn.reverts,
        )

    @property
    def objects(self) -> dict[int, SceneObject]:
        """The current objects by identity (a copy)."""
        return dict(self._objects)

    @property
    def start_objects(self) -> dict[int, SceneObject]:
        return dict(self._start_objects)

    @property
    def locked(self) -> tuple[int, ...]:
        return tuple(self._locks)

    @property
    def defaults(self) -> dict[str, str]:
        return {attribute: value for attribute, (value, _) in self._defaults.items()}

    @property
    def can_undo(self) -> bool:
        """Whether an undo now would revert something."""
        return any(not e.is_undo and not e.undone and (e.scene_changed or e.rules_changed) for e in self._log)

    def resolve(self, ref: Ref) -> list[int]:
        """The identities a reference picks now (no trace); used to phrase references that work."""
        return self._resolve(ref, _Turn(entry=_LogEntry(turn=0, instruction="", before=self._snapshot())))

    def constraints(self) -> tuple[WorldConstraint, ...]:
        rules = [
            WorldConstraint(kind="default", text=f"every new shape must be {value}", set_at_turn=turn)
            for _, (value, turn) in sorted(self._defaults.items())
        ]
        locks = [
            WorldConstraint(kind="lock", text=f"leave the {self._objects[oid].describe()} unchanged",
                            set_at_turn=turn, cell=self._objects[oid].cell)
            for oid, turn in sorted(self._locks.items(), key=lambda item: item[1])
            if oid in self._objects
        ]
        return tuple(rules + locks)

    # ------------------------------------------------------------ state
    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._background, dict(self._objects), dict(self._defaults), dict(self._locks))

    def _restore(self, snapshot: _Snapshot) -> None:
        self._background = snapshot.background
        self._objects = dict(snapshot.objects)
        self._defaults = dict(snapshot.defaults)
        self._locks = dict(snapshot.locks)

    def _describe(self, oid: int) -> str:
        return f"the {self._objects[oid].describe()}"

    def _occupant(self, cell: str) -> int | None:
        for oid, obj in self._objects.items():
            if obj.cell == cell:
                return oid
        return None

    # ------------------------------------------------------------ references
    def _resolve(self, ref: Ref, turn: _Turn) -> list[int]:
        """The objects a reference picks (any number; callers decide what is allowed)."""
        if ref.impossible:
            turn.trace.append(f"'{ref.text}' picks no object: {ref.impossible}.")
            return []
        if ref.kind == "pronoun":
            return self._resolve_pronoun(ref, turn)
        if ref.kind in ("added", "moved"):
            return self._resolve_history(ref, turn)
        if ref.kind == "originally":
            matches = [oid for oid, obj in self._start_objects.items()
                       if oid in self._objects and _matches(obj, ref.filters())]
            self._trace_pick(ref, matches, turn, " (judged by the start scene, among objects that still exist)")
            return matches
        matches = [oid for oid, obj in self._objects.items() if _matches(obj, ref.filters())]
        self._trace_pick(ref, matches, turn)
        return matches

    def _trace_pick(self, ref: Ref, matches: list[int], turn: _Turn, how: str = "") -> None:
        if not matches:
            turn.trace.append(f"'{ref.text}' picks no object{how}.")
        else:
            turn.trace.append(f"'{ref.text}' picks {_join(self._describe(oid) for oid in matches)}{how}.")

    def _resolve_pronoun(self, ref: Ref, turn: _Turn) -> list[int]:
        for entry in reversed(self._log):
            if entry.is_undo or entry.undone or not entry.scene_changed:
                continue
            if entry.subject is None or entry.subject not in self._objects:
                turn.trace.append(
                    f"'{ref.text}' would be the one object edited by turn {self._turn_number(entry.turn)} ('{entry.instruction}'), "
                    "but that turn edited no single object that still exists, so it picks nothing."
                )
                return []
            turn.trace.append(f"'{ref.text}' is the object edited by turn {self._turn_number(entry.turn)} ('{entry.instruction}'): "
                              f"{self._describe(entry.subject)}.")
            return [entry.subject]
        turn.trace.append(f"'{ref.text}' picks nothing: no earlier turn has edited an object.")
        return []

    def _resolve_history(self, ref: Ref, turn: _Turn) -> list[int]:
        verb = "added" if ref.kind == "added" else "moved"
        for entry in reversed(self._log):
            oid = entry.added if ref.kind == "added" else entry.moved
            if entry.undone or oid is None:
                continue
            if oid not in self._objects:
                turn.trace.append(f"'{ref.text}': the shape {verb} at turn {self._turn_number(entry.turn)} no longer exists, so it picks nothing.")
                return []
            turn.trace.append(f"'{ref.text}' is the shape {verb} at turn {self._turn_number(entry.turn)}: {self._describe(oid)}.")
            return [oid]
        turn.trace.append(f"'{ref.text}' picks nothing: no shape has been {verb} (and kept).")
        return []

    def _resolve_one(self, ref: Ref, turn: _Turn, action: str) -> int | None:
        matches = self._resolve(ref, turn)
        if len(matches) == 1:
            return matches[0]
        turn.noop = f"'{ref.text}' picks {'no object' if not matches else 'several objects'}, so nothing can be {action}"
        turn.trace.append(f"No-op: {turn.noop}.")
        return None

    # ------------------------------------------------------------ rules
    def _apply_rule(self, rule: Rule, turn: _Turn) -> None:
        if rule.invalid:
            turn.noop = f"the rule is not valid ({rule.invalid})"
            turn.trace.append(f"The rule sets nothing: {rule.invalid}.")
            return
        if rule.kind == "default":
            assert rule.attribute and rule.value
            if self._defaults.get(rule.attribute, (None,))[0] == rule.value:
                turn.trace.append(f"Rule: every new shape must be {rule.value}; it is already in force.")
                turn.noop = "that rule is already in force"
                return
            self._defaults[rule.attribute] = (rule.value, turn.entry.turn)
            turn.entry.rules_changed = True
            turn.trace.append(f"New rule: every new shape must be {rule.value} (replaces any earlier {rule.attribute} default).")
            return
        assert rule.ref is not None
        matches = self._resolve(rule.ref, turn)
        if len(matches) != 1:
            turn.trace.append(f"The {rule.kind} sets nothing: '{rule.ref.text}' does not pick exactly one object.")
            turn.noop = (f"'{rule.ref.text}' picks {'no object' if not matches else 'several objects'}, "
                         f"so the {rule.kind} sets nothing")
            return
        oid = matches[0]
        if rule.kind == "lock":
            if oid in self._locks:
                turn.trace.append(f"{self._describe(oid).capitalize()} is already locked.")
                turn.noop = f"{self._describe(oid)} is already locked"
                return
            self._locks[oid] = turn.entry.turn
            turn.trace.append(f"New lock: {self._describe(oid)} must stay unchanged from now on.")
        else:
            if oid not in self._locks:
                turn.trace.append(f"{self._describe(oid).capitalize()} was not locked; nothing to lift.")
                turn.noop = f"{self._describe(oid)} was not locked"
                return
            del self._locks[oid]
            turn.trace.append(f"Lock lifted: {self._describe(oid)} may be changed again.")
        turn.entry.rules_changed = True

    # ------------------------------------------------------------ edits
    def _apply_edit(self, edit: Edit, turn: _Turn) -> None:
        if edit.kind == "undo":
            self._undo(turn)
            return
        if edit.kind == "none":
            turn.trace.append("The instruction asks for no change.")
            turn.noop = "the instruction asks for no change"
            return
        if edit.invalid:
            turn.noop = f"{edit.invalid}"
            turn.trace.append(f"No-op: {edit.invalid}.")
            return
        if edit.kind == "add":
            self._add(edit, turn)
        elif edit.kind == "background":
            assert edit.value
            turn.trace.append(f"Change the background from {self._background} to {edit.value}.")
            self._background = edit.value
        elif edit.ref is not None and edit.ref.kind == "group":
            self._group_edit(edit, turn)
        else:
            self._single_edit(edit, turn)

    def _add(self, edit: Edit, turn: _Turn) -> None:
        values = {}
        for attribute in ("color", "size"):
            stated = getattr(edit, attribute)
            if stated:
                values[attribute] = stated
            elif attribute in self._defaults:
                values[attribute], rule_turn = self._defaults[attribute]
                turn.trace.append(f"The {attribute} is not stated; the rule of turn {self._turn_number(rule_turn)} "
                                  f"makes it {values[attribute]}.")
            else:
                values[attribute] = DEFAULT_ADD[attribute]
                turn.trace.append(f"The {attribute} is not stated and no rule sets it, so it is {values[attribute]}.")
        cell = edit.cell
        if cell is None:
            empty = [c for c in CELLS if self._occupant(c) is None]
            if not empty:
                turn.noop = "no cell is stated and every cell is occupied"
                turn.trace.append(f"No-op: {turn.noop}.")
                return
            cell = empty[0]
            turn.trace.append(f"No cell is stated; the first empty cell in reading order is the {cell_words(cell)}.")
        elif self._occupant(cell) is not None:
            turn.noop = f"the {cell_words(cell)} is already occupied by {self._describe(self._occupant(cell))}"
            turn.trace.append(f"No-op: {turn.noop}.")
            return
        oid = self._next_id
        self._next_id += 1
        self._objects[oid] = SceneObject(shape=edit.shape, cell=cell, **values)
        turn.entry.subject = turn.entry.added = oid
        turn.trace.append(f"Add {self._describe(oid)}.")

    def _group_edit(self, edit: Edit, turn: _Turn) -> None:
        assert edit.ref is not None
        if edit.kind not in GROUP_EDITS:
            turn.noop = f"a {edit.kind} cannot take a group ('{edit.ref.text}')"
            turn.trace.append(f"No-op: {turn.noop}.")
            return
        members = self._resolve(edit.ref, turn)
        if not members:
            turn.noop = f"'{edit.ref.text}' picks no object"
            turn.trace.append(f"No-op: {turn.noop}.")
            return
        for oid in members:
            if oid in self._locks:
                turn.trace.append(f"{self._describe(oid).capitalize()} is locked (turn {self._turn_number(self._locks[oid])}), so the group edit skips it.")
            else:
                self._change(oid, edit, turn)
        turn.entry.subject = None  # a group edit leaves nothing for "it"

    def _single_edit(self, edit: Edit, turn: _Turn) -> None:
        assert edit.ref is not None
        oid = self._resolve_one(edit.ref, turn, _PAST[edit.kind])
        if oid is None:
            return
        if oid in self._locks:
            turn.noop = f"{self._describe(oid)} is locked (turn {self._turn_number(self._locks[oid])}) and cannot be {_PAST[edit.kind]}"
            turn.trace.append(f"No-op: {turn.noop}.")
            return
        if edit.kind == "restore":
            self._restore_attribute(oid, edit, turn)
            return
        if edit.kind == "move":
            self._move(oid, edit, turn)
            return
        before = self._objects.get(oid)
        self._change(oid, edit, turn)
        if edit.kind != "remove" and self._objects.get(oid) != before:
            turn.entry.subject = oid

    def _change(self, oid: int, edit: Edit, turn: _Turn) -> None:
        """Apply a recolor, resize, reshape or remove to one unlocked object."""
        obj = self._objects[oid]
        if edit.kind == "remove":
            turn.trace.append(f"Remove {self._describe(oid)}.")
            del self._objects[oid]
            return
        attribute = {"recolor": "color", "resize": "size", "reshape": "shape"}[edit.kind]
        if getattr(obj, attribute) == edit.value:
            turn.trace.append(f"{self._describe(oid).capitalize()} is already {edit.value}.")
            return
        turn.trace.append(f"{_VERB[edit.kind]} {self._describe(oid)} to {edit.value}.")
        self._objects[oid] = obj.model_copy(update={attribute: edit.value})

    def _move(self, oid: int, edit: Edit, turn: _Turn) -> None:
        obj = self._objects[oid]
        target = edit.cell
        if edit.direction:
            row, col = cell_row_col(obj.cell)
            d_row, d_col = DIRECTIONS[edit.direction]
            target = cell_at(row + d_row, col + d_col)
            if target is None:
                turn.noop = f"moving {self._describe(oid)} {edit.direction} would leave the grid"
                turn.trace.append(f"No-op: {turn.noop}.")
                return
        assert target is not None
        if target == obj.cell:
            turn.trace.append(f"{self._describe(oid).capitalize()} is already at the {cell_words(target)}.")
            return
        occupant = self._occupant(target)
        if occupant is not None:
            turn.noop = f"the {cell_words(target)} is occupied by {self._describe(occupant)}"
            turn.trace.append(f"No-op: {turn.noop}.")
            return
        turn.trace.append(f"Move {self._describe(oid)} to the {cell_words(target)}.")
        self._objects[oid] = obj.model_copy(update={"cell": target})
        turn.entry.subject = turn.entry.moved = oid

    def _restore_attribute(self, oid: int, edit: Edit, turn: _Turn) -> None:
        attribute = edit.value
        assert attribute is not None
        if oid not in self._start_objects:
            turn.noop = f"{self._describe(oid)} was not in the start scene, so it has no original {attribute}"
            turn.trace.append(f"No-op: {turn.noop}.")
            return
        original = getattr(self._start_objects[oid], attribute)
        obj = self._objects[oid]
        if getattr(obj, attribute) == original:
            turn.trace.append(f"{self._describe(oid).capitalize()} already has its original {_ATTRIBUTE_WORD[attribute]} ({original}).")
            return
        if attribute == "cell":
            occupant = self._occupant(original)
            if occupant is not None:
                turn.noop = f"its original cell, the {cell_words(original)}, is occupied by {self._describe(occupant)}"
                turn.trace.append(f"No-op: {turn.noop}.")
                return
        turn.trace.append(f"At the start {self._describe(oid)} had {_ATTRIBUTE_WORD[attribute]} "
                          f"{cell_words(original)}; restore it (a restore is not a move).")
        self._objects[oid] = obj.model_copy(update={attribute: original})
        turn.entry.subject = oid

    def _undo(self, turn: _Turn) -> None:
        turn.entry.is_undo = True
        for entry in reversed(self._log):
            if entry.is_undo or entry.undone or not (entry.scene_changed or entry.rules_changed):
                continue
            entry.undone = True
            turn.reverts = entry.turn
            brought_back = entry.before.objects.keys() - self._objects.keys()
            self._restore(entry.before)
            what = " and ".join(name for name, changed in (("the scene", entry.scene_changed),
                                                          ("the rules and locks", entry.rules_changed)) if changed)
            turn.rules_only = not entry.scene_changed
            were = "were" if entry.rules_changed else "was"
            itself = " (a removed object comes back as itself)" if brought_back else ""
            turn.trace.append(f"Undo reverts turn {self._turn_number(entry.turn)} ('{entry.instruction}'), restoring {what} exactly "
                              f"as {'they' if were == 'were' else 'it'} {were} before that turn{itself}.")
            return
        turn.noop = "there is nothing left to undo"
        turn.trace.append(f"No-op: {turn.noop}.")


_PAST = {"remove": "removed", "recolor": "recoloured", "move": "moved", "resize": "resized",
         "reshape": "reshaped", "restore": "restored"}
_VERB = {"recolor": "Recolor", "resize": "Resize", "reshape": "Reshape"}
_ATTRIBUTE_WORD = {"color": "colour", "size": "size", "shape": "shape", "cell": "position"}


def _invalid_value(command: TurnCommand) -> str | None:
    """A value outside the vocabulary anywhere in the turn makes the whole turn a no-op."""
    for part in (command.rule, command.edit):
        if part is not None and part.invalid:
            return part.invalid
    return None


def describe_change(before: _Snapshot, after: _Snapshot) -> str:
    """The self-contained intent that turns ``before`` into ``after``: one sentence per change.

    Objects are named by all their attributes and their cell, which is unique in any scene, so each
    sentence means the same thing without the history. Order: background, removals, changes, additions.
    """
    sentences = []
    if before.background != after.background:
        sentences.append(f"Change the background to {after.background}.")
    for oid, obj in before.objects.items():
        if oid not in after.objects:
            sentences.append(f"Remove the {obj.describe()}.")
    for oid, obj in before.objects.items():
        new = after.objects.get(oid)
        for attribute in ("shape", "color", "size", "cell") if new is not None else ():
            value = getattr(new, attribute)
            if getattr(obj, attribute) != value:
                sentences.append(_CHANGE_SENTENCE[attribute].format(obj=obj.describe(), value=cell_words(value)))
                obj = obj.model_copy(update={attribute: value})
    for oid, obj in after.objects.items():
        if oid not in before.objects:
            sentences.append(f"Add a {obj.describe()}.")
    return " ".join(sentences) or NO_CHANGE_INTENT


def describe_scene_change(before: Scene, after: Scene) -> str:
    """:func:`describe_change` between two scenes read off images, which carry no object identities: an object in
    the same cell is the same object (a moved one reads as removed and added)."""
    def snapshot(scene: Scene) -> _Snapshot:
        return _Snapshot(scene.background, {CELLS.index(obj.cell): obj for obj in scene.objects}, {}, {})

    return describe_change(snapshot(before), snapshot(after))


NO_CHANGE_INTENT = "Make no change."
_CHANGE_SENTENCE = {
    "shape": "Turn the {obj} into a {value}.",
    "color": "Recolor the {obj} to {value}.",
    "size": "Make the {obj} {value}.",
    "cell": "Move the {obj} to the {value}.",
}


def _matches(obj: SceneObject, filters: dict[str, str]) -> bool:
    return all(getattr(obj, key) == value for key, value in filters.items())


def _join(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def interpret(start: Scene, instructions: Iterable[str]) -> list[TurnOutcome]:
    """The outcome of every turn of a session."""
    world = WorldInterpreter(start)
    return [world.step(instruction) for instruction in instructions]


def apply_program(scene: Scene, text: str) -> Scene:
    """Apply a self-contained intent: its sentences, in order, as the turns of a fresh session on ``scene``."""
    world = WorldInterpreter(scene)
    for command in parse_program(text):
        world.step("", command)
    return world.scene
