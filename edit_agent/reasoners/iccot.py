"""IC-CoT prompt building and output parsing, shared by the ``llm``, ``vlm`` and ``langchain`` reasoners.

The prompt (after Edit-R2): the editing history as ``Round k: <raw instruction>`` lines, with
rules, locks and undos marked, then the current instruction; the model reasons briefly inside
``<think>...</think>`` and then writes only the self-contained instruction. A text-only model cannot
see the image, so on MICE-World canvases the prompt also lists what the source and the current image
hold (read off them by the exact world parser): naming objects explicitly needs their colours, sizes
and cells, which the history alone does not give. A model whose config sets ``iccot_numbered_objects``
was trained with the current image's objects numbered (``#1 large red circle at the top left``) and
gets them numbered: it names the object it picks by number and copies the words after it.

>>> thought = parse_output("<think>Round 1 set blue as default.</think>Add a blue circle.", "add a circle")
>>> thought.intent.text, thought.fallback
('Add a blue circle.', False)
>>> parse_output("sure! here you go", "add a circle").fallback
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from PIL import Image

from edit_agent.records import Constraint, HistoryTurn, Intent, Thought, TurnRequest

SYSTEM_PROMPT = """You help a user edit one image over many turns.
You see the editing history as "Round k:" lines and the user's current instruction.
Work out what the current instruction means given the whole history: what "it" or "that one"
refers to, which rules ("from now on ...") and locks ("don't touch ...") are still in force,
and what an "undo" reverted.
First reason briefly inside <think>...</think>. Then write only the self-contained instruction
for this turn: one or two sentences an image editor can follow without the history, naming
objects explicitly and stating every rule or lock that applies to this edit.
When the images are shape canvases, "Source image:" and "Current image:" list what they hold.

Example.
History:
Round 1: From now on every new shape must be blue.
Round 2: add a circle at the top left
Current instruction: move it to the center
Answer:
<think>"it" is the circle added in round 2; it is blue because of the rule from round 1.</think>
Move the blue circle from the top left to the center."""

PREFILL = "<think>"
"""Text the assistant's answer is started with, so that small models keep the format."""

NUMBERED_OBJECTS_KEY = "iccot_numbered_objects"
"""Model config attribute of a model trained on prompts whose current-image objects carry numbers
(:func:`describe_world_image`); a model without it reads the unnumbered prompt."""


def reads_numbered_objects(model: Any) -> bool:
    """Whether ``model`` (a transformers model, peft-wrapped or not) was trained on numbered objects."""
    return bool(getattr(getattr(model, "config", None), NUMBERED_OBJECTS_KEY, False))


_RULE = re.compile(r"^\s*(from now on|for the rest of the session)\b", re.IGNORECASE)
_LOCK = re.compile(r"\b(leave .+ unchanged|don['’]?t touch|do not touch|keep .+ as it is)\b", re.IGNORECASE)
_UNLOCK = re.compile(r"\byou may change\b", re.IGNORECASE)
_UNDO = re.compile(r"^\s*(undo|revert the last change)\b", re.IGNORECASE)
_THINK = re.compile(r"<think>(.*?)</think>", re.IGNORECASE | re.DOTALL)
# "Instruction:", "**Final answer:**", "The answer is:" before the instruction
_LABEL = re.compile(
    r"^\s*[*_]{0,2}\s*(?:the\s+|here\s+is\s+the\s+)?(?:final\s+|rewritten\s+|self-contained\s+)?"
    r"(?:answer|instruction|intent)(?:\s+is)?\s*[*_]{0,2}\s*:\s*[*_]{0,2}\s*", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```\w*\s*$", re.MULTILINE)


def round_label(instruction: str) -> str:
    """The mark a history line gets: ``rule``, ``lock``, ``unlock``, ``undo`` or nothing."""
    if _UNDO.search(instruction):
        return "undo"
    if _UNLOCK.search(instruction):
        return "unlock"
    if _LOCK.search(instruction):
        return "lock"
    if _RULE.search(instruction):
        return "rule"
    return ""


def history_lines(history: Sequence[HistoryTurn]) -> list[str]:
    """``Round k: <raw instruction>`` lines, with rules, locks and undos marked."""
    lines = []
    for index, turn in enumerate(history, start=1):
        label = round_label(turn.instruction)
        mark = f" [{label}]" if label else ""
        lines.append(f"Round {index}:{mark} {turn.instruction.strip()}")
    return lines


def world_object_descriptions(image: Image.Image) -> tuple[str, list[str]] | None:
    """A MICE-World canvas's background and its objects in reading order, in the words intents use;
    None for any other image."""
    from edit_agent.world.canvas import is_world_canvas
    from edit_agent.world.parse import parse

    if not is_world_canvas(image):
        return None
    scene = parse(image)
    return scene.background, [obj.describe() for obj in scene.objects]


def describe_world_image(image: Image.Image, *, numbered: bool = False) -> str | None:
    """What a MICE-World canvas holds, in the words intents use; None for any other image.

    With ``numbered`` each object is preceded by its number (``#1``, ``#2``, ...), so that a model
    can name the object it picks by number and then copy the words after that number, instead of
    matching attributes across the whole list (see :func:`number_objects`).

    >>> from edit_agent.world import Scene, SceneObject, render
    >>> canvas = render(Scene(background="sky", objects=(
    ...     SceneObject(shape="circle", color="red", size="large", cell="top-left"),)))
    >>> describe_world_image(canvas)
    'sky background; large red circle at the top left.'
    >>> describe_world_image(canvas, numbered=True)
    'sky background; #1 large red circle at the top left.'
    """
    described = world_object_descriptions(image)
    if described is None:
        return None
    background, objects = described
    if numbered:
        objects = [f"#{number} {text}" for number, text in enumerate(objects, start=1)]
    return f"{background} background; {', '.join(objects) or 'no shapes'}."


def number_objects(text: str, objects: Sequence[str]) -> str:
    """``text`` with every mention of one of ``objects`` preceded by its number in the list.

    >>> number_objects("'the red one' picks the small red circle at the center.",
    ...                ["large blue square at the top left", "small red circle at the center"])
    "'the red one' picks the #2 small red circle at the center."
    """
    for number, description in enumerate(objects, start=1):
        text = re.sub(rf"(?<!#{number} ){re.escape(description)}\b", f"#{number} {description}", text)
    return text


def scene_lines(request: TurnRequest, *, numbered_objects: bool = False) -> list[str]:
    """``Source image:`` (when there is history) and ``Current image:`` lines for world canvases
    (with ``numbered_objects``, the current image's objects carry numbers)."""
    current = describe_world_image(request.image, numbered=numbered_objects)
    if current is None:
        return []
    lines = []
    if request.history:
        source = describe_world_image(request.source_image)
        if source is not None:
            lines.append(f"Source image: {source}")
    return [*lines, f"Current image: {current}"]


def user_prompt(request: TurnRequest, *, describe_images: bool = True, numbered_objects: bool = False) -> str:
    """The user message: the history, what the images hold (world canvases), then the current instruction."""
    lines = history_lines(request.history)
    history = "\n".join(lines) if lines else "(no earlier rounds)"
    scenes = "".join(f"{line}\n" for line in scene_lines(request, numbered_objects=numbered_objects)) if describe_images else ""
    return f"History:\n{history}\n{scenes}Current instruction: {request.instruction.strip()}\nAnswer:"


def build_messages(request: TurnRequest, *, with_image: bool = False, numbered_objects: bool = False) -> list[dict]:
    """Chat messages in the transformers format; with ``with_image`` the user turn starts with the image
    (the model sees it, so no description is added)."""
    text = user_prompt(request, describe_images=not with_image, numbered_objects=numbered_objects)
    content: object = [{"type": "image"}, {"type": "text", "text": text}] if with_image else text
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]


def constraints_from_history(history: Sequence[HistoryTurn]) -> tuple[Constraint, ...]:
    """Rules and locks set by earlier rounds, as stated (an ``undo`` drops the latest one it can)."""
    found: list[tuple[int, Constraint]] = []  # with the round's position, which an undo refers to
    for index, turn in enumerate(history, start=1):
        label = round_label(turn.instruction)
        if label in ("rule", "lock", "unlock"):
            number = turn.number if turn.number is not None else index
            found.append((index, Constraint(text=turn.instruction.strip(), kind=label, set_at_turn=number)))
        elif label == "undo" and found and found[-1][0] == index - 1:
            found.pop()
    return tuple(constraint for _, constraint in found)


def _answer(after_think: str) -> str:
    """The instruction in what follows ``</think>``: the first paragraph that is not a lead-in ("The answer
    is:"), without a label, quotes, emphasis or code fences; models often add a chatty paragraph after it."""
    for paragraph in re.split(r"\n\s*\n", _FENCE.sub("", after_think)):
        candidate = _LABEL.sub("", paragraph.strip()).strip().strip('"*`').strip()
        if candidate and not candidate.endswith(":"):
            return candidate
    return ""


def parse_output(text: str, instruction: str, constraints: tuple[Constraint, ...] = ()) -> Thought:
    """Split a model's answer into the trace and the instruction, or fall back to ``instruction``.

    Well formed: one ``<think>...</think>`` block, then a non-empty instruction of at most ~60
    words with no further tags. Anything else is malformed: the raw instruction is used, the
    thought is marked ``fallback=True`` and its reasoning says so and quotes the output.
    """
    match = _THINK.search(text)
    if match is not None:
        reasoning = match.group(1).strip()
        answer = _answer(text[match.end():])
        if answer and "<" not in answer and len(answer.split()) <= 60:
            return Thought(reasoning=reasoning, intent=Intent(text=answer, constraints=constraints))
        problem = "no instruction after </think>" if not answer else "the instruction after </think> is not clean"
    elif re.search(r"<think>", text, re.IGNORECASE):
        problem = "it ended inside <think>: the token budget ran out before the instruction"
    else:
        problem = "no <think>...</think> block"
    shown = text.strip().replace("\n", " ")
    shown = shown[:300] + ("..." if len(shown) > 300 else "")
    return Thought(
        reasoning=(
            f"The model's output was malformed ({problem}), so the raw instruction is used as the intent. "
            f"Model output: {shown!r}"
        ),
        intent=Intent(text=instruction.strip(), constraints=constraints),
        fallback=True,
    )
