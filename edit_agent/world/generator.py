"""Seeded generator of MICE-World sessions with varied phrasing.

The mix of edits and the rates of pronouns, history references, group edits, rules, locks, undos,
restores and deliberate no-ops are parameters (:class:`GeneratorConfig`). Every instruction is
phrased from a pool of synonyms, so a reasoner cannot rely on one template per edit; targets come
from the interpreter, so a generated session is correct by construction.

>>> sessions = generate_sessions(2, turns=3, seed=7)
>>> [len(s.turns) for s in sessions]
[3, 3]
>>> generate_sessions(2, turns=3, seed=7) == sessions
True
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import combinations

from pydantic import BaseModel, ConfigDict, Field

from edit_agent.world.interpreter import WorldInterpreter
from edit_agent.world.language import CELL_PHRASES, Ref
from edit_agent.world.scene import (
    BACKGROUNDS,
    CELLS,
    COLORS,
    SHAPES,
    SIZES,
    Scene,
    SceneObject,
    cell_at,
    cell_row_col,
)
from edit_agent.world.sessions import WorldSession, WorldTurn


class GeneratorConfig(BaseModel):
    """Knobs of the generator. Rates are probabilities per turn (or per reference)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_objects: int = Field(1, ge=0, le=9)
    """Fewest objects in a start scene."""
    max_objects: int = Field(5, ge=0, le=9)
    """Most objects in a start scene."""
    edit_weights: dict[str, float] = Field(default_factory=lambda: {
        "add": 1.0, "remove": 0.6, "recolor": 1.2, "move": 1.0, "resize": 0.8, "reshape": 0.8, "background": 0.4,
    })
    """Relative frequency of each plain edit (undo and restore have their own rates)."""
    undo_rate: float = Field(0.1, ge=0, le=1)
    """Chance that a turn is an undo."""
    restore_rate: float = Field(0.08, ge=0, le=1)
    """Chance that a turn restores an attribute from the start scene."""
    rule_rate: float = Field(0.15, ge=0, le=1)
    """Chance that a (non-undo) turn sets or lifts a rule."""
    rule_alone_rate: float = Field(0.4, ge=0, le=1)
    """Of the rule turns, the share that hold the rule alone."""
    lock_share: float = Field(0.5, ge=0, le=1)
    """Of the rules, the share that are locks or unlocks (the rest are defaults for new shapes)."""
    pronoun_rate: float = Field(0.35, ge=0, le=1)
    """Chance of saying "it" when "it" picks the object meant."""
    history_rate: float = Field(0.2, ge=0, le=1)
    """Chance of a history reference ("the one you just added", "the shape that was originally blue") when one works."""
    group_rate: float = Field(0.15, ge=0, le=1)
    """Chance that a recolor, resize or remove takes a group ("all circles")."""
    noop_rate: float = Field(0.06, ge=0, le=1)
    """Chance of a deliberately impossible turn (ambiguous reference, occupied cell, value outside the vocabulary)."""


def generate_sessions(
    n: int, *, turns: int | tuple[int, int] = 5, seed: int = 0, config: GeneratorConfig | None = None,
    prefix: str = "world",
) -> list[WorldSession]:
    """``n`` sessions; ``turns`` is a fixed count or an inclusive (min, max) range within 1-10."""
    return list(iter_sessions(n, turns=turns, seed=seed, config=config, prefix=prefix))


def iter_sessions(
    n: int, *, turns: int | tuple[int, int] = 5, seed: int = 0, config: GeneratorConfig | None = None,
    prefix: str = "world",
) -> Iterator[WorldSession]:
    """The sessions of :func:`generate_sessions`, one at a time (a million need not fit in memory)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        # Python's random takes the absolute value of an int seed: -N would quietly give seed N's sessions
        raise ValueError(f"seed must be a whole number of 0 or more (-N would give the sessions of N); got {seed!r}")
    config = config or GeneratorConfig()
    rng = random.Random(seed)
    low, high = (turns, turns) if isinstance(turns, int) else turns
    if not 1 <= low <= high:
        raise ValueError(f"turns must be at least 1 (and min <= max); got {turns!r}")
    for i in range(n):
        yield _Phraser(rng, config).session(f"{prefix}-{i:05d}", rng.randint(low, high))


def random_scene(rng: random.Random, min_objects: int = 0, max_objects: int = 9) -> Scene:
    cells = rng.sample(CELLS, rng.randint(min_objects, max_objects))
    objects = tuple(
        SceneObject(shape=rng.choice(SHAPES), color=rng.choice(COLORS), size=rng.choice(SIZES), cell=cell)
        for cell in cells
    )
    return Scene(background=rng.choice(BACKGROUNDS), objects=objects)


# ------------------------------------------------------------------ phrasing pools
SIZE_SAY = {"small": ("small", "small", "little", "tiny"), "large": ("large", "large", "big")}
BACKGROUND_SAY = {"white": ("white",), "gray": ("gray", "grey"), "beige": ("beige",), "sky": ("sky", "sky blue", "sky-blue")}
ADD_VERBS = ("add", "add", "draw", "put", "place", "insert", "create")
REMOVE = ("remove {r}", "delete {r}", "erase {r}", "get rid of {r}", "take away {r}", "remove {r} from the canvas")
RECOLOR = ("make {r} {v}", "paint {r} {v}", "turn {r} {v}", "color {r} {v}", "recolor {r} to {v}",
           "change the color of {r} to {v}", "change the colour of {r} to {v}", "dye {r} {v}", "set {r} to {v}")
RESIZE = ("make {r} {v}", "resize {r} to {v}", "change the size of {r} to {v}")
ENLARGE = ("enlarge {r}", "make {r} bigger", "scale up {r}", "grow {r}")
SHRINK = ("shrink {r}", "make {r} smaller", "scale down {r}", "reduce {r}")
RESHAPE = ("turn {r} into a {v}", "replace {r} with a {v}", "change {r} into a {v}", "transform {r} into a {v}",
           "make {r} a {v}", "reshape {r} into a {v}", "change the shape of {r} to a {v}")
MOVE_TO = ("move {r} to the {v}", "shift {r} to the {v}", "slide {r} over to the {v}", "drag {r} to the {v}",
           "put {r} in the {v}", "relocate {r} to the {v}", "move {r} into the {v}")
MOVE_STEP = ("move {r} {v}", "shift {r} one step {v}", "nudge {r} {v}", "move {r} one cell {v}", "slide {r} {v} by one")
MOVE_DIAGONAL = ("move {r} up and to the left", "move {r} diagonally down and right", "shift {r} up and right",
                 "move {r} down-left")
BACKGROUND = ("change the background to {v}", "make the background {v}", "set the background to {v}",
              "paint the background {v}", "switch the background to {v}", "change the background colour to {v}")
UNDO = ("undo", "undo that", "revert the last change", "undo the last edit", "take that back", "go back one step",
        "Undo.", "undo it")
RESTORE = ("give {r} back its original {v}", "restore the original {v} of {r}", "reset {r} to its original {v}",
           "give {r} its original {v} back")
RESTORE_CELL = ("put {r} back where it was at the start", "move {r} back to its original position",
                "return {r} to its original position", "bring {r} back to where it started")
RULE_PREFIX = ("From now on, ", "From now on ", "For the rest of the session, ", "Going forward, ")
DEFAULT_RULE = ("every new shape must be {v}", "all new shapes should be {v}", "new shapes must be {v}",
                "make every new shape {v}", "each new shape has to be {v}")
LOCK_RULE = ("leave {r} unchanged", "don't touch {r}", "keep {r} as it is", "never change {r}", "do not modify {r}")
UNLOCK_RULE = ("you may change {r} again", "you can touch {r} again", "feel free to edit {r} again")
PRONOUNS = ("it", "it", "it", "that one", "the same shape")
ADDED_REFS = ("the one you just added", "the shape you added", "the shape you just added", "the object you added")
MOVED_REFS = ("the shape you moved", "the one you just moved", "the shape you just moved")
OUT_OF_VOCABULARY_COLORS = ("pink", "brown", "cyan", "gold")
OUT_OF_VOCABULARY_SHAPES = ("star", "hexagon", "heart", "oval")


class _Phraser:
    """Builds one session, turn by turn, phrasing each turn against the interpreter's current state."""

    def __init__(self, rng: random.Random, config: GeneratorConfig) -> None:
        self.rng = rng
        self.config = config

    def session(self, session_id: str, n_turns: int) -> WorldSession:
        start = random_scene(self.rng, self.config.min_objects, self.config.max_objects)
        self.world = WorldInterpreter(start)
        turns = []
        for _ in range(n_turns):
            instruction = self._turn()
            outcome = self.world.step(instruction)
            turns.append(WorldTurn(instruction=instruction, task_type=outcome.task_type, target=outcome.target))
        return WorldSession(id=session_id, start=start, turns=tuple(turns))

    # -------------------------------------------------------------- turns
    def _turn(self) -> str:
        rng, config = self.rng, self.config
        roll = rng.random()
        # an undo with nothing to undo is a no-op; keep a few, but mostly make it an edit instead
        if roll < config.undo_rate and (self.world.can_undo or rng.random() < 0.15):
            return rng.choice(UNDO)
        rule = self._rule() if rng.random() < config.rule_rate else None
        if rule and rng.random() < config.rule_alone_rate:
            return _sentence(rule)
        edit = self._restore() if roll < config.undo_rate + config.restore_rate else self._edit()
        return f"{_sentence(rule)} {_sentence(edit)}" if rule else edit

    def _edit(self) -> str:
        kinds = list(self.config.edit_weights)
        kind = self.rng.choices(kinds, weights=[self.config.edit_weights[k] for k in kinds])[0]
        if kind != "add" and kind != "background" and not self.world.objects:
            kind = "add"
        noop = self.rng.random() < self.config.noop_rate
        return getattr(self, f"_{kind}")(noop)

    def _rule(self) -> str:
        rng = self.rng
        prefix = rng.choice(RULE_PREFIX)
        if rng.random() < self.config.lock_share and self.world.objects:
            locked = [oid for oid in self.world.objects if oid in self.world.locked]
            if locked and rng.random() < 0.5:
                return prefix + rng.choice(UNLOCK_RULE).format(r=self._ref(rng.choice(locked)))
            return prefix + rng.choice(LOCK_RULE).format(r=self._ref(rng.choice(list(self.world.objects))))
        attribute = rng.choice(("color", "size"))
        value = rng.choice(COLORS) if attribute == "color" else rng.choice(SIZE_SAY[rng.choice(SIZES)])
        return prefix + rng.choice(DEFAULT_RULE).format(v=value)

    # -------------------------------------------------------------- edits
    def _add(self, noop: bool) -> str:
        rng = self.rng
        empty = [c for c in CELLS if c not in {o.cell for o in self.world.objects.values()}]
        shape = rng.choice(OUT_OF_VOCABULARY_SHAPES) if noop and rng.random() < 0.4 else rng.choice(SHAPES)
        words = []
        # an attribute a default rule fills is mostly left unstated
        if ("size" not in self.world.defaults or rng.random() < 0.3) and rng.random() < 0.7:
            words.append(rng.choice(SIZE_SAY[rng.choice(SIZES)]))
        if ("color" not in self.world.defaults or rng.random() < 0.3) and rng.random() < 0.8:
            words.append(rng.choice(COLORS))
        words.append(shape)
        article = "an" if words[0][0] in "aeiou" else "a"
        occupied = [c for c in CELLS if c not in empty]
        if noop and occupied:
            cell = rng.choice(occupied)
        elif empty and rng.random() < 0.85:
            cell = rng.choice(empty)
        else:
            cell = None
        where = f" {rng.choice(('at', 'in', 'at', 'to'))} the {self._cell(cell)}" if cell else ""
        return f"{rng.choice(ADD_VERBS)} {article} {' '.join(words)}{where}"

    def _remove(self, noop: bool) -> str:
        ref = self._group() if self.rng.random() < self.config.group_rate else self._target_ref(noop)
        return self.rng.choice(REMOVE).format(r=ref)

    def _single_or_group(self, attribute: str, values: tuple[str, ...], group: bool) -> tuple[str, str]:
        """A reference and a new value; for one object the value differs from what it has now."""
        if group:
            return self._group(), self.rng.choice(values)
        oid = self._pick_object()
        current = getattr(self.world.objects[oid], attribute)
        return self._ref(oid), self.rng.choice([v for v in values if v != current])

    def _recolor(self, noop: bool) -> str:
        ref, value = self._single_or_group("color", COLORS, self.rng.random() < self.config.group_rate)
        if noop:
            value = self.rng.choice(BACKGROUNDS + OUT_OF_VOCABULARY_COLORS)
        return self.rng.choice(RECOLOR).format(r=ref, v=value)

    def _resize(self, noop: bool) -> str:
        rng = self.rng
        ref, size = self._single_or_group("size", SIZES, rng.random() < self.config.group_rate)
        if noop and (ambiguous := self._ambiguous_ref()):
            ref = ambiguous
        if rng.random() < 0.35:
            return rng.choice(ENLARGE if size == "large" else SHRINK).format(r=ref)
        return rng.choice(RESIZE).format(r=ref, v=rng.choice(SIZE_SAY[size]))

    def _reshape(self, noop: bool) -> str:
        ref, shape = self._single_or_group("shape", SHAPES, False)
        if noop:
            shape = self.rng.choice(OUT_OF_VOCABULARY_SHAPES)
        return self.rng.choice(RESHAPE).format(r=ref, v=shape)

    def _move(self, noop: bool) -> str:
        rng = self.rng
        oid = self._pick_object()
        ref = self._ref(oid)
        if noop and rng.random() < 0.4:
            return rng.choice(MOVE_DIAGONAL).format(r=ref)
        if rng.random() < 0.4:
            row, col = cell_row_col(self.world.objects[oid].cell)
            free = [d for d, (dr, dc) in _STEPS.items() if cell_at(row + dr, col + dc) is not None]
            direction = rng.choice(list(_STEPS) if noop else free or list(_STEPS))
            phrase = rng.choice(MOVE_STEP)
            if " the " in ref:  # "one step" keeps the direction apart from a cell that ends the reference
                phrase = "move {r} one step {v}"
            if "cell" in phrase and direction in ("left", "right"):
                phrase = phrase.replace("one cell {v}", "one cell to the {v}")
            return phrase.format(r=ref, v=direction)
        taken = [o.cell for o in self.world.objects.values()]
        cells = [c for c in CELLS if (c in taken) == noop and c != self.world.objects[oid].cell]
        return rng.choice(MOVE_TO).format(r=ref, v=self._cell(rng.choice(cells or list(CELLS))))

    def _background(self, noop: bool) -> str:
        others = [b for b in BACKGROUNDS if b != self.world.scene.background]
        value = self.rng.choice(COLORS) if noop else self.rng.choice(BACKGROUND_SAY[self.rng.choice(others)])
        return self.rng.choice(BACKGROUND).format(v=value)

    def _restore(self) -> str:
        rng = self.rng
        candidates = [oid for oid in self.world.objects if oid in self.world.start_objects]
        if not candidates:
            return self._edit()
        changed = [(oid, a) for oid in candidates for a in ("color", "size", "shape", "cell")
                   if getattr(self.world.objects[oid], a) != getattr(self.world.start_objects[oid], a)]
        if changed and rng.random() < 0.85:  # mostly restore something that did change
            oid, attribute = rng.choice(changed)
        elif not changed and rng.random() < 0.85:  # nothing to restore yet: mostly an edit instead
            return self._edit()
        else:
            oid, attribute = rng.choice(candidates), rng.choice(("color", "size", "shape", "cell"))
        if attribute == "cell":
            return rng.choice(RESTORE_CELL).format(r=self._ref(oid))
        word = rng.choice(("color", "colour")) if attribute == "color" else attribute
        return rng.choice(RESTORE).format(r=self._ref(oid), v=word)

    # -------------------------------------------------------------- references
    def _pick_object(self) -> int:
        return self.rng.choice(list(self.world.objects))

    def _target_ref(self, ambiguous: bool) -> str:
        if ambiguous:
            phrase = self._ambiguous_ref()
            if phrase:
                return phrase
        return self._ref(self._pick_object())

    def _ref(self, oid: int) -> str:
        """A phrase that picks exactly ``oid`` now: a pronoun, a history reference or attributes."""
        rng, world = self.rng, self.world
        if rng.random() < self.config.pronoun_rate and world.resolve(Ref(kind="pronoun")) == [oid]:
            return rng.choice(PRONOUNS)
        if rng.random() < self.config.history_rate:
            options = [p for kind, pool in (("added", ADDED_REFS), ("moved", MOVED_REFS))
                       if world.resolve(Ref(kind=kind)) == [oid] for p in pool]
            options += self._originally_refs(oid)
            if options:
                return rng.choice(options)
        return rng.choice(self._attribute_refs(oid))

    def _originally_refs(self, oid: int) -> list[str]:
        start = self.world.start_objects.get(oid)
        if start is None:
            return []
        phrases = []
        for attribute in ("color", "shape", "size", "cell"):
            ref = Ref(kind="originally", **{attribute: getattr(start, attribute)})
            if self.world.resolve(ref) == [oid]:
                value = {"color": start.color, "shape": f"a {start.shape}", "size": start.size,
                         "cell": f"at the {self._cell(start.cell)}"}[attribute]
                phrases.append(f"the shape that was originally {value}")
        return phrases

    def _attribute_refs(self, oid: int) -> list[str]:
        obj = self.world.objects[oid]
        others = [o for i, o in self.world.objects.items() if i != oid]
        phrases = []
        for k in (1, 2, 3):
            for subset in combinations(("shape", "color", "size", "cell"), k):
                if not any(all(getattr(o, a) == getattr(obj, a) for a in subset) for o in others):
                    phrases.append(self._describe(obj, subset))
            if phrases and self.rng.random() < 0.7:
                break
        return phrases or [self._describe(obj, ("shape", "color", "size", "cell"))]

    def _describe(self, obj: SceneObject, attributes: tuple[str, ...]) -> str:
        rng = self.rng
        words = []
        if "size" in attributes:
            words.append(rng.choice(SIZE_SAY[obj.size]))
        if "color" in attributes:
            words.append(obj.color)
        words.append(obj.shape if "shape" in attributes else rng.choice(("shape", "one", "object")))
        phrase = "the " + " ".join(words)
        if "cell" in attributes:
            phrase += f" {rng.choice(('at', 'in'))} the {self._cell(obj.cell)}"
        return phrase

    def _ambiguous_ref(self) -> str | None:
        objects = list(self.world.objects.values())
        for attribute in ("shape", "color", "size"):
            values = [getattr(o, attribute) for o in objects]
            repeated = [v for v in values if values.count(v) > 1]
            if repeated:
                value = repeated[0]
                return f"the {value}" if attribute == "shape" else f"the {value} one" if attribute == "color" else f"the {value} shape"
        return None

    def _group(self) -> str:
        rng = self.rng
        obj = self.world.objects[self._pick_object()]
        kind = rng.choice(("shape", "color", "size", "all", "color+shape"))
        if kind == "shape":
            return rng.choice((f"all {obj.shape}s", f"every {obj.shape}", f"each {obj.shape}", f"all the {obj.shape}s"))
        if kind == "color":
            return rng.choice((f"every {obj.color} shape", f"all {obj.color} shapes", f"all the {obj.color} ones"))
        if kind == "size":
            return rng.choice((f"all {obj.size} shapes", f"every {obj.size} shape"))
        if kind == "color+shape":
            return f"all {obj.color} {obj.shape}s"
        return rng.choice(("all shapes", "every shape", "all the shapes", "everything"))

    def _cell(self, cell: str) -> str:
        return self.rng.choice(CELL_PHRASES[cell][:2] if cell != "center" else ("center", "center", "middle"))


_STEPS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def _sentence(text: str | None) -> str:
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."
