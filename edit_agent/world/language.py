"""The MICE-World instruction language: English text -> structured commands (no scene needed).

Parsing is pure syntax; what a command means for a scene is decided by the interpreter.
Values outside the vocabulary (a background colour for an object, a diagonal move, "pink",
"a star") parse fine and are marked ``invalid`` so that the turn becomes a no-op, as docs/world.md
requires; text that is not in the language at all raises :class:`WorldLanguageError`.

>>> parse_turn("From now on every new shape must be small. Add a circle at the center.").edit.kind
'add'
>>> parse_turn("move it up and to the left").edit.invalid
'a diagonal move is not in the vocabulary'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edit_agent.errors import UnsupportedInstructionError
from edit_agent.world.scene import BACKGROUNDS, CELLS, COLORS, SHAPES


class WorldLanguageError(UnsupportedInstructionError):
    """The text is not an instruction of the MICE-World language."""


# ---------------------------------------------------------------- vocabulary
SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "large": "large", "big": "large", "huge": "large"}
COMPARATIVE_SIZES = {"bigger": "large", "larger": "large", "smaller": "small"}
OTHER_SIZES = ("medium", "normal", "average", "mid-sized")
OTHER_COLORS = ("pink", "brown", "cyan", "magenta", "violet", "teal", "gold", "silver", "navy", "maroon", "lime", "turquoise")
OTHER_SHAPES = ("star", "hexagon", "pentagon", "oval", "rectangle", "heart", "ellipse", "cross", "octagon")
GENERIC_NOUNS = ("shape", "one", "object", "thing", "item", "figure")
ALL_COLORS = COLORS + BACKGROUNDS + OTHER_COLORS
ALL_SHAPES = SHAPES + OTHER_SHAPES

CELL_PHRASES: dict[str, tuple[str, ...]] = {
    "top-left": ("top left", "upper left", "left top"),
    "top-center": ("top center", "top middle", "upper middle", "upper center", "middle top", "center top"),
    "top-right": ("top right", "upper right", "right top"),
    "middle-left": ("middle left", "center left", "left middle", "left center"),
    "center": ("center", "middle", "very center", "very middle"),
    "middle-right": ("middle right", "center right", "right middle", "right center"),
    "bottom-left": ("bottom left", "lower left", "left bottom"),
    "bottom-center": ("bottom center", "bottom middle", "lower middle", "lower center", "middle bottom", "center bottom"),
    "bottom-right": ("bottom right", "lower right", "right bottom"),
}
_CELL_BY_PHRASE = {phrase: cell for cell, phrases in CELL_PHRASES.items() for phrase in phrases}
_CELL_ALTERNATION = "|".join(sorted(map(re.escape, _CELL_BY_PHRASE), key=len, reverse=True))
_CELL = rf"(?:the )?(?P<cell>{_CELL_ALTERNATION})(?: (?:corner|cell|spot|position|area))?"
DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}

RULE_PREFIX = re.compile(
    r"^(?:from now on|for the rest of the session|from here on(?: out)?|going forward|henceforth)\s*,?\s*"
)


# ---------------------------------------------------------------- commands
@dataclass(frozen=True)
class Ref:
    """A reference to objects.

    kind: "attributes" (the filters must pick exactly one object), "group" (all that match),
    "pronoun" (``it``), "added"/"moved" (history), "originally" (filters on the start scene).
    """

    kind: str
    shape: str | None = None
    color: str | None = None
    size: str | None = None
    cell: str | None = None
    impossible: str | None = None
    """Set when a filter value is outside the vocabulary: the reference can pick nothing."""
    text: str = ""

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in (("shape", self.shape), ("color", self.color), ("size", self.size), ("cell", self.cell)) if v}


@dataclass(frozen=True)
class Edit:
    """One edit. ``value`` is the new colour/size/shape/background, the cell of a move or add,
    the direction of a one-step move, or the attribute a restore brings back."""

    kind: str  # add remove recolor move resize reshape background undo restore none
    ref: Ref | None = None
    value: str | None = None
    shape: str | None = None  # add only
    color: str | None = None  # add only
    size: str | None = None  # add only
    cell: str | None = None  # add and move-to-cell
    direction: str | None = None  # one-step move
    invalid: str | None = None


@dataclass(frozen=True)
class Rule:
    kind: str  # default lock unlock
    attribute: str | None = None  # default: "color" or "size"
    value: str | None = None
    ref: Ref | None = None
    invalid: str | None = None


@dataclass(frozen=True)
class TurnCommand:
    """A parsed turn: at most one rule, then at most one edit; ``malformed`` makes the turn a no-op."""

    rule: Rule | None = None
    edit: Edit | None = None
    malformed: str | None = None

    @property
    def task_type(self) -> str:
        edit_kind = self.edit.kind if self.edit else None
        if self.rule and edit_kind:
            return f"rule+{edit_kind}"
        return "rule" if self.rule else (edit_kind or "none")


# ---------------------------------------------------------------- normalisation
_REPLACEMENTS = (
    (r"[’‘]", "'"),  # a phone's keyboard types a curly apostrophe
    (r"\bcolour", "color"), (r"\bcentre\b", "center"), (r"\bgrey\b", "gray"), (r"\bsky[ -]blue\b", "sky"),
    (r"\blight blue\b", "sky"), (r"\bdon'?t\b", "do not"), (r"\bcan'?t\b", "cannot"), (r"\s*'s\b", "'s"),
    (r"\bupwards?\b", "up"), (r"\bdownwards?\b", "down"), (r"\bleftwards?\b", "left"), (r"\brightwards?\b", "right"),
    (r"\bonce more\b", "again"), (r"\bplease\b", ""), (r"\bnow\b(?! on)", ""),
)


def normalize(text: str) -> str:
    text = text.lower().strip()
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # top-left -> top left, up-left -> up left
    for pattern, replacement in _REPLACEMENTS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"[,:]", " ", text)
    return re.sub(r"\s+", " ", text).strip(" .!?")


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;])\s+|;\s*|\.(?=[A-Za-z])", text.strip())
    return [p for p in (normalize(part) for part in parts) if p]


# ---------------------------------------------------------------- references
_PRONOUNS = {"it", "that", "that one", "this one", "this", "the same shape", "the same object", "the same one",
             "that shape", "that object", "this shape", "the shape", "them"} - {"the shape"}
_NOUN = r"(?:shape|one|object|thing|item|figure)"
_ADDED = re.compile(
    rf"^(?:the )?(?:{_NOUN} (?:that )?you (?:just )?(?:added|drew|created|placed|put down|inserted)(?: last| most recently| just now)?"
    rf"|(?:last|most recently|newly|latest) added {_NOUN}|newest {_NOUN}|new {_NOUN})$"
)
_MOVED = re.compile(
    rf"^(?:the )?(?:{_NOUN} (?:that )?you (?:just )?(?:moved|shifted|relocated|slid)(?: last| most recently| just now)?"
    rf"|(?:last|most recently) moved {_NOUN})$"
)
_ORIGINALLY = re.compile(
    rf"^(?:the )?{_NOUN} that (?:was originally|was at the start|started (?:out )?(?:as )?|was initially|used to be) (?P<value>.+?)"
    r"(?: at the (?:start|beginning))?$"
)
_GROUP = re.compile(r"^(?:all|every|each|all of|any)(?: the| of the)? (?P<rest>.+)$")


def parse_ref(phrase: str) -> Ref:
    phrase = phrase.strip()
    if phrase in _PRONOUNS:
        return Ref(kind="pronoun", text=phrase)
    if _ADDED.match(phrase):
        return Ref(kind="added", text=phrase)
    if _MOVED.match(phrase):
        return Ref(kind="moved", text=phrase)
    if match := _ORIGINALLY.match(phrase):
        return _attribute_ref("originally", _strip_article(match["value"]), phrase, plural=False, need_noun=False)
    if phrase in ("everything", "all", "all of them", "every one"):
        return Ref(kind="group", text=phrase)
    if match := _GROUP.match(phrase):
        return _attribute_ref("group", match["rest"], phrase, plural=True)
    if phrase.startswith("the "):
        return _attribute_ref("attributes", phrase[4:], phrase, plural=False)
    raise WorldLanguageError(f"Cannot tell which object {phrase!r} refers to.")


def _strip_article(text: str) -> str:
    return re.sub(r"^(?:a|an|the) ", "", text)


def _attribute_ref(kind: str, words_text: str, phrase: str, *, plural: bool, need_noun: bool = True) -> Ref:
    cell = None
    match = re.search(rf"(?:^| )(?:at|in|on|from|sitting at|located at|that is at|that is in) {_CELL}$", words_text)
    if match:
        cell = _CELL_BY_PHRASE[match["cell"]]
        words_text = words_text[: match.start()].strip()
    elif match := re.match(rf"^{_CELL} ", words_text + " "):  # "the top left one"
        cell = _CELL_BY_PHRASE[match["cell"]]
        words_text = words_text[match.end():].strip()
    values: dict[str, str] = {}
    impossible = None
    noun_seen = False
    for word in words_text.split():
        singular = word[:-1] if plural and word.endswith("s") and word[:-1] in ALL_SHAPES + GENERIC_NOUNS else word
        if singular in SHAPES:
            values["shape"], noun_seen = singular, True
        elif singular in GENERIC_NOUNS or singular in ("ones", "objects", "shapes", "things"):
            noun_seen = True
        elif word in COLORS:
            values["color"] = word
        elif word in SIZE_WORDS:
            values["size"] = SIZE_WORDS[word]
        elif singular in OTHER_SHAPES or word in BACKGROUNDS + OTHER_COLORS or word in OTHER_SIZES:
            impossible, noun_seen = f"{word!r} is not an object attribute in the vocabulary", noun_seen or singular in OTHER_SHAPES
        else:
            raise WorldLanguageError(f"Cannot tell which object {phrase!r} refers to (unknown word {word!r}).")
    if need_noun and not noun_seen and not (cell and not words_text):
        raise WorldLanguageError(f"Cannot tell which object {phrase!r} refers to.")
    return Ref(kind=kind, cell=cell, impossible=impossible, text=phrase, **values)


def parse_cell(text: str) -> str | None:
    match = re.fullmatch(_CELL, text.strip())
    return _CELL_BY_PHRASE[match["cell"]] if match else None


class _RefPattern:
    """A pattern with a ``(?P<ref>.+?)`` group, tried lazily first and then greedily.

    A reference may itself contain the words that end it ("the shape that was originally at the
    center to the top left"); the first split whose reference reads wins.
    """

    def __init__(self, pattern: str) -> None:
        greedy = pattern.replace("(?P<ref>.+?)", "(?P<ref>.+)")
        self.variants = (re.compile(pattern), re.compile(greedy))

    def match(self, sentence: str) -> re.Match[str] | None:
        first = None
        for variant in self.variants:
            match = variant.match(sentence)
            if match is None:
                continue
            first = first or match
            try:
                parse_ref(match["ref"])
            except WorldLanguageError:
                continue
            return match
        return first


# ---------------------------------------------------------------- values
def _object_color(word: str) -> tuple[str | None, str | None]:
    if word in COLORS:
        return word, None
    if word in BACKGROUNDS:
        return None, f"{word} is a background colour, not an object colour"
    if word in OTHER_COLORS:
        return None, f"{word} is not a colour in the vocabulary"
    return None, None


def _size(word: str) -> str | None:
    return SIZE_WORDS.get(word) or COMPARATIVE_SIZES.get(word)


def _shape(word: str) -> tuple[str | None, str | None]:
    word = _strip_article(word)
    if word in SHAPES:
        return word, None
    if word in OTHER_SHAPES:
        return None, f"{word} is not a shape in the vocabulary"
    return None, None


# ---------------------------------------------------------------- edits
_UNDO = re.compile(
    r"^(?:undo(?: that| it| this| the last (?:change|edit|step|action))?|revert(?: that| the last (?:change|edit|step))"
    r"|take (?:that|it) back|go back (?:one|a) step|cancel (?:that|the last (?:change|edit))|reverse the last (?:change|edit))$"
)
_NO_CHANGE = re.compile(r"^(?:make no change(?:s)?(?: to the image)?|do nothing|no change(?:s)?|change nothing)$")
_RESTORE_ATTRIBUTE = r"(?P<attr>color|size|shape|position|place|cell|spot|location)"
_RESTORE = (
    _RefPattern(rf"^(?:give|return) (?P<ref>.+?) back (?:its|their) original {_RESTORE_ATTRIBUTE}$"),
    _RefPattern(rf"^give (?P<ref>.+?) (?:its|their) original {_RESTORE_ATTRIBUTE} back$"),
    _RefPattern(rf"^(?:restore|reset|bring back) the original {_RESTORE_ATTRIBUTE} (?:of|for|to) (?P<ref>.+)$"),
    _RefPattern(rf"^(?:restore|reset|return|change) (?P<ref>.+?) (?:back )?to (?:its|their) original {_RESTORE_ATTRIBUTE}$"),
    _RefPattern(rf"^(?:restore|reset) (?P<ref>.+?)'s {_RESTORE_ATTRIBUTE}(?: to (?:the|its) original)?$"),
    _RefPattern(
        r"^(?:put|move|bring|send|return) (?P<ref>.+?) back (?:to )?(?:where it (?:was|started)|its (?:original|starting) "
        r"(?:position|place|cell|spot))(?: at the (?:start|beginning)| originally| at first)?$"
    ),
)
_BACKGROUND = re.compile(
    r"^(?:change|set|switch|make|turn|paint|recolor|color|swap) the background(?: color)? (?:to |into )?(?:be )?(?:a |an )?"
    r"(?P<value>[a-z]+)(?: color)?$"
)
_ADD = re.compile(
    rf"^(?:add|draw|put|place|insert|create|paint|drop) (?:a|an|one|another|a new) (?P<desc>[a-z ]+?)"
    rf"(?: (?:at|in|on|into|to|onto) {_CELL})?$"
)
_RESHAPE = (
    _RefPattern(r"^(?:turn|change|transform|convert|reshape|morph|make) (?P<ref>.+?) into (?P<value>(?:a|an) [a-z]+)$"),
    _RefPattern(r"^(?:replace|swap|exchange) (?P<ref>.+?) (?:with|for) (?P<value>(?:a|an) [a-z]+)$"),
    _RefPattern(r"^(?:make) (?P<ref>.+?) (?P<value>(?:a|an) [a-z]+)$"),
    _RefPattern(r"^change the shape of (?P<ref>.+?) to (?P<value>(?:an? )?[a-z]+)$"),
)
_ENLARGE = _RefPattern(r"^(?:enlarge|grow|expand|magnify|scale up|blow up|upsize) (?P<ref>.+)$")
_SHRINK = _RefPattern(r"^(?:shrink|reduce|scale down|downsize|minify) (?P<ref>.+)$")
_SET_VALUE = (
    _RefPattern(r"^(?:change|set) the (?:color|size) of (?P<ref>.+?) to (?P<value>[a-z]+)$"),
    _RefPattern(r"^(?:make|turn|paint|color|recolor|recolour|change|set|dye|resize|tint|shade) (?P<ref>.+?) (?:to |into )?(?:be )?(?P<value>[a-z]+)$"),
)
_MOVE_VERBS = r"(?:move|shift|slide|drag|push|relocate|nudge|put|place)"
_MOVE_TO_CELL = (
    _RefPattern(rf"^{_MOVE_VERBS} (?P<ref>.+?) (?:to|into|over to|onto|across to) {_CELL}$"),
    # "at"/"in" name where a thing goes only after put or place; after move they name the thing
    # ("move the shape at the center right" is the centre shape, one step right)
    _RefPattern(rf"^(?:put|place) (?P<ref>.+?) (?:at|in) {_CELL}$"),
)
_MOVE_AT_CELL = _RefPattern(rf"^{_MOVE_VERBS} (?P<ref>.+?) (?:at|in) {_CELL}$")
"""'move it at the top left': where no step move reads, 'at'/'in' after move say where it goes too."""
_MOVE_STEP = re.compile(rf"^{_MOVE_VERBS} (?P<body>.+)$")
_STEP_TAIL = re.compile(
    r"(?:(?:one|a|1) (?:step|cell|space|square|place) |diagonally |over )?"
    r"(?:to the |towards the )?(?:left|right|up|down)(?: (?:and )?(?:to the )?(?:left|right|up|down))?"
    r"(?: by one(?: cell| step| space)?| one (?:step|cell|space|place))?"
)
_REMOVE = _RefPattern(
    r"^(?:remove|delete|erase|get rid of|take away|take out|eliminate|clear|drop|wipe out) (?P<ref>.+?)"
    r"(?: from the (?:scene|canvas|image|picture|grid))?$"
)


def is_no_change_request(text: str) -> bool:
    """True for "make no change", "do nothing" and the other ways the language says leave the image as it is."""
    return bool(_NO_CHANGE.match(normalize(text)))


def is_undo_request(text: str) -> bool:
    """True for "undo", "undo that", "take it back" and the other ways the language says undo."""
    return bool(_UNDO.match(normalize(text)))


def parse_edit(sentence: str) -> Edit:
    """Parse one sentence that is an edit; raise WorldLanguageError when it is not one.

    Readers are tried in order; one whose pattern matches but whose reference does not read
    ("take away the circle at the top left" looks like a move at first) gives way to the next.
    """
    if _UNDO.match(sentence):
        return Edit(kind="undo")
    if _NO_CHANGE.match(sentence):
        return Edit(kind="none")
    first_error: WorldLanguageError | None = None
    for reader in (_restore_edit, _background_or_add_edit, _reshape_edit, _resize_or_recolor_edit, _move_edit, _remove_edit):
        try:
            edit = reader(sentence)
        except WorldLanguageError as error:
            first_error = first_error or error
            continue
        if edit is not None:
            return edit
    raise first_error or WorldLanguageError(f"Not an instruction of the world language: {sentence!r}.")


def _restore_edit(sentence: str) -> Edit | None:
    for pattern in _RESTORE:
        if match := pattern.match(sentence):
            attr = match.groupdict().get("attr") or "cell"
            attribute = attr if attr in ("color", "size", "shape") else "cell"
            return Edit(kind="restore", ref=parse_ref(match["ref"]), value=attribute)
    return None


def _background_or_add_edit(sentence: str) -> Edit | None:
    if match := _BACKGROUND.match(sentence):
        return _background_edit(match["value"])
    if match := _ADD.match(sentence):
        return _add_edit(match["desc"], match["cell"])
    return None


def _remove_edit(sentence: str) -> Edit | None:
    if match := _REMOVE.match(sentence):
        return Edit(kind="remove", ref=parse_ref(match["ref"]))
    return None


def _background_edit(word: str) -> Edit:
    if word in BACKGROUNDS:
        return Edit(kind="background", value=word)
    if word in COLORS:
        return Edit(kind="background", invalid=f"{word} is an object colour, not a background colour")
    if word in OTHER_COLORS:
        return Edit(kind="background", invalid=f"{word} is not a colour in the vocabulary")
    raise WorldLanguageError(f"Unknown background colour {word!r}.")


def _add_edit(description: str, cell_phrase: str | None) -> Edit:
    values: dict[str, str | None] = {"shape": None, "color": None, "size": None}
    invalid = None
    for word in description.split():
        color, color_problem = _object_color(word)
        shape, shape_problem = _shape(word)
        if color or shape or word in SIZE_WORDS:
            key = "color" if color else "shape" if shape else "size"
            values[key] = color or shape or SIZE_WORDS[word]
        elif color_problem or shape_problem or word in OTHER_SIZES:
            invalid = color_problem or shape_problem or f"{word} is not a size in the vocabulary"
        elif word not in GENERIC_NOUNS and word != "new":
            raise WorldLanguageError(f"Cannot read the object to add: {description!r}.")
    if values["shape"] is None and invalid is None:
        invalid = "the shape to add is not stated"
    cell = _CELL_BY_PHRASE[cell_phrase] if cell_phrase else None
    return Edit(kind="add", cell=cell, invalid=invalid, **values)


def _reshape_edit(sentence: str) -> Edit | None:
    for pattern in _RESHAPE:
        if match := pattern.match(sentence):
            shape, problem = _shape(match["value"])
            if shape or problem:
                return Edit(kind="reshape", ref=parse_ref(match["ref"]), value=shape, invalid=problem)
    return None


def _resize_or_recolor_edit(sentence: str) -> Edit | None:
    if match := _ENLARGE.match(sentence):
        return Edit(kind="resize", ref=parse_ref(match["ref"]), value="large")
    if match := _SHRINK.match(sentence):
        return Edit(kind="resize", ref=parse_ref(match["ref"]), value="small")
    for pattern in _SET_VALUE:
        match = pattern.match(sentence)
        if not match or match["ref"].startswith("the background"):
            continue
        word = match["value"]
        if size := _size(word):
            return Edit(kind="resize", ref=parse_ref(match["ref"]), value=size)
        if word in OTHER_SIZES:
            return Edit(kind="resize", ref=parse_ref(match["ref"]), invalid=f"{word} is not a size in the vocabulary")
        color, problem = _object_color(word)
        if color or problem:
            return Edit(kind="recolor", ref=parse_ref(match["ref"]), value=color, invalid=problem)
    return None


def _move_edit(sentence: str) -> Edit | None:
    for pattern in _MOVE_TO_CELL:
        # none where the reference does not read: "put the shape that was originally at the center right" is a
        # step move whose reference ends in a cell
        if (moved := _moved_to_cell(pattern, sentence)) is not None:
            return moved
    if match := _MOVE_STEP.match(sentence):
        split = _split_step(match["body"])
        if split is None:
            return _moved_to_cell(_MOVE_AT_CELL, sentence)
        ref, tail = split
        directions = [word for word in tail.split() if word in DIRECTIONS]
        if len(directions) > 1 or "diagonally" in tail:
            return Edit(kind="move", ref=ref, invalid="a diagonal move is not in the vocabulary")
        return Edit(kind="move", ref=ref, direction=directions[0])
    return None


def _moved_to_cell(pattern: _RefPattern, sentence: str) -> Edit | None:
    """The move to a cell ``pattern`` reads in ``sentence``, or None where it does not match or its reference
    does not read."""
    if match := pattern.match(sentence):
        try:
            return Edit(kind="move", ref=parse_ref(match["ref"]), cell=_CELL_BY_PHRASE[match["cell"]])
        except WorldLanguageError:
            return None
    return None


def _split_step(body: str) -> tuple[Ref, str] | None:
    """Split "<reference> <direction words>", preferring the longest tail whose reference reads.

    Cell names contain direction words ("the circle at the top left up"), so the split is tried
    at every word boundary rather than left to a regex. A tail that takes the last word of a cell
    name ("the triangle at the middle | left down", a diagonal) gives way to a shorter one that
    leaves the name whole ("the triangle at the middle left | down"), when there is one.
    """
    words = body.split()
    cutting_a_cell_name = None
    for i in range(1, len(words)):
        tail = " ".join(words[i:])
        if _STEP_TAIL.fullmatch(tail):
            try:
                ref = parse_ref(" ".join(words[:i]))
            except WorldLanguageError:
                continue
            if f"{words[i - 1]} {words[i]}" not in _CELL_BY_PHRASE:
                return ref, tail
            cutting_a_cell_name = cutting_a_cell_name or (ref, tail)
    return cutting_a_cell_name


# ---------------------------------------------------------------- rules
_DEFAULT = (
    re.compile(r"^(?:every|each|any|all|all the) new (?:shape|object|one)s? (?:must|should|has to|have to|will|shall|needs? to) be (?P<value>[a-z]+)$"),
    re.compile(r"^new (?:shape|object)s? (?:must|should|will|have to) be (?P<value>[a-z]+)$"),
    re.compile(r"^(?:make|draw|add) (?:every|each|all|all the|any) new (?:shape|object)s? (?P<value>[a-z]+)$"),
)
_LOCK = (
    _RefPattern(r"^(?:leave|keep) (?P<ref>.+?) (?:unchanged|as it is|as is|untouched|alone|the way it is|exactly as it is)$"),
    _RefPattern(r"^(?:do not|never|you must not|you may not|you cannot) (?:touch|change|modify|edit|alter) (?P<ref>.+?)(?: again)?$"),
    _RefPattern(r"^(?P<ref>.+?) (?:must|should|has to) (?:stay|remain|be left) (?:unchanged|as it is|the same|untouched|alone)$"),
    _RefPattern(r"^(?:lock|protect|freeze) (?P<ref>.+)$"),
)
_UNLOCK = (
    _RefPattern(r"^you (?:may|can|are allowed to) (?:change|touch|edit|modify|alter) (?P<ref>.+?) again$"),
    _RefPattern(r"^(?:feel free to|it is ok to) (?:change|touch|edit|modify) (?P<ref>.+?) again$"),
    _RefPattern(r"^(?P<ref>.+?) (?:may|can) be (?:changed|edited|touched|modified) again$"),
    _RefPattern(r"^(?:unlock|unfreeze|release|stop protecting|no longer protect) (?P<ref>.+)$"),
)


def parse_rule(sentence: str) -> Rule | None:
    """Parse a rule sentence (its "From now on" already removed), or None when it is not one."""
    for pattern in _UNLOCK:
        if match := pattern.match(sentence):
            return Rule(kind="unlock", ref=parse_ref(match["ref"]))
    for pattern in _DEFAULT:
        if match := pattern.match(sentence):
            return _default_rule(match["value"])
    for pattern in _LOCK:
        if match := pattern.match(sentence):
            return Rule(kind="lock", ref=parse_ref(match["ref"]))
    return None


def _default_rule(word: str) -> Rule:
    if size := SIZE_WORDS.get(word):
        return Rule(kind="default", attribute="size", value=size)
    color, problem = _object_color(word)
    if color:
        return Rule(kind="default", attribute="color", value=color)
    if problem or word in OTHER_SIZES:
        return Rule(kind="default", invalid=problem or f"{word} is not a size in the vocabulary")
    raise WorldLanguageError(f"A new shape cannot be {word!r}.")


# ---------------------------------------------------------------- turns
def parse_sentence(sentence: str) -> Rule | Edit:
    stripped = RULE_PREFIX.sub("", sentence)
    if stripped != sentence:
        if (rule := parse_rule(stripped)) is None:
            raise WorldLanguageError(
                f"Not a rule of the world language: {sentence!r}. A rule sets what new shapes are ('from now on, "
                "every new shape must be blue' or '... must be small') or keeps a shape as it is ('from now on, "
                "don't touch the green square'); a change to the background is an edit ('make the background "
                "white').")
        return rule
    if not _NO_CHANGE.match(sentence) and (rule := parse_rule(sentence)) is not None:
        return rule
    return parse_edit(sentence)


def parse_turn(text: str) -> TurnCommand:
    """Parse a whole turn: a rule alone, an edit alone, or a rule then an edit."""
    parts = [parse_sentence(sentence) for sentence in split_sentences(text)]
    if not parts:
        raise WorldLanguageError("The instruction is empty.")
    rules = [part for part in parts if isinstance(part, Rule)]
    edits = [part for part in parts if isinstance(part, Edit)]
    rule = rules[0] if rules else None
    edit = edits[0] if edits else None
    if len(rules) > 1:
        return TurnCommand(rule=rule, edit=edit, malformed="a turn may hold at most one rule")
    if len(edits) > 1:
        return TurnCommand(rule=rule, edit=edit, malformed="a turn may hold at most one edit")
    if rule and edit and parts[0] is edit:
        return TurnCommand(rule=rule, edit=edit, malformed="a rule must come before the edit")
    if rule and edit and edit.kind == "undo":
        return TurnCommand(rule=rule, edit=edit, malformed="an undo carries no rule")
    return TurnCommand(rule=rule, edit=edit)


def parse_program(text: str) -> list[TurnCommand]:
    """Parse a self-contained intent: each sentence is its own step, applied in order."""
    return [parse_turn(sentence) for sentence in split_sentences(text)]


__all__ = ["CELLS", "Edit", "Ref", "Rule", "TurnCommand", "WorldLanguageError", "parse_cell", "parse_edit",
           "parse_program", "parse_ref", "parse_rule", "parse_turn", "split_sentences"]
