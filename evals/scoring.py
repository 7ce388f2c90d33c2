"""IF/CC/GA/SR exactly as docs/world.md defines them, over 10 slots (9 cells and the background).

>>> from edit_agent.world import Scene
>>> white, beige = Scene(background="white"), Scene(background="beige")
>>> score_turn(prev_target=white, target=beige, prev_parsed=white, parsed=beige, ga_slots={9}).SR
1.0
>>> score_turn(prev_target=white, target=beige, prev_parsed=white, parsed=white, ga_slots={9}).IF
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict

from edit_agent.world.parse import canvas_side, to_canvas
from edit_agent.world.render import render_array
from edit_agent.world.scene import CELLS, Scene, changed_slots

N_SLOTS = 10
METRICS = ("IF", "CC", "GA", "SR")


class TurnScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    IF: float
    CC: float
    GA: float
    SR: float
    PSNR: float | None = None
    """Pixel figure beside the scores: PSNR (dB) of the output against the render of the target."""


def score_turn(*, prev_target: Scene, target: Scene, prev_parsed: Scene, parsed: Scene, ga_slots: set[int]) -> TurnScore:
    """Score one turn. ``ga_slots``: slots changed by some turn so far, plus those holding a locked object."""
    t_prev, t_now, p_prev, p_now = prev_target.slots(), target.slots(), prev_parsed.slots(), parsed.slots()
    changed = changed_slots(prev_target, target)
    if changed:
        instruction_following = all(p_now[i] == t_now[i] for i in changed)
    else:
        instruction_following = p_now == t_prev
    untouched = [i for i in range(N_SLOTS) if i not in changed]
    consistency = _fraction(untouched, lambda i: p_now[i] == p_prev[i])
    awareness = _fraction(sorted(ga_slots), lambda i: p_now[i] == t_now[i])
    return TurnScore(IF=float(instruction_following), CC=consistency, GA=awareness, SR=float(p_now == t_now))


def _fraction(slots: Sequence[int], matches) -> float:
    return sum(1 for i in slots if matches(i)) / len(slots) if slots else 1.0


def score_session(
    targets: Sequence[Scene], parsed: Sequence[Scene], locked_cells: Sequence[Sequence[str]] = (),
) -> list[TurnScore]:
    """Scores for turns 1..k. ``targets`` is T_0..T_k, ``parsed`` is P_1..P_k (P_0 = T_0),
    ``locked_cells[t-1]`` the cells of objects locked after turn t (in T_t)."""
    scores = []
    touched: set[int] = set()
    previous = targets[0]
    for t in range(1, len(targets)):
        touched |= changed_slots(targets[t - 1], targets[t])
        locked = {CELLS.index(cell) for cell in (locked_cells[t - 1] if locked_cells else ())}
        scores.append(score_turn(prev_target=targets[t - 1], target=targets[t], prev_parsed=previous,
                                 parsed=parsed[t - 1], ga_slots=touched | locked))
        previous = parsed[t - 1]
    return scores


def psnr(output: Image.Image, target: Scene) -> float:
    """PSNR (dB, 8-bit peak) of an output image, taken to canvas size, against the target's render."""
    pixels = to_canvas(output).astype(np.float64)
    side = pixels.shape[0]
    if side < 48:
        side = max(48, canvas_side(side, side))
        pixels = to_canvas(output.resize((side, side), Image.Resampling.NEAREST)).astype(np.float64)
    reference = render_array(target, side).astype(np.float64)
    mse = float(((pixels - reference) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
