"""Tell a MICE-World canvas from any other image, so the SDK can route it to the world backends, and draw a
scene at a canvas's size.

>>> from edit_agent.world.render import render
>>> from edit_agent.world.scene import Scene
>>> is_world_canvas(render(Scene(background="gray"), size=96))
True
>>> from PIL import Image
>>> is_world_canvas(Image.linear_gradient("L").convert("RGB"))
False
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from edit_agent.world.parse import _PALETTE, canvas_side, palette_labels, palette_labels_for_a_check, parse_array
from edit_agent.world.render import render, render_array
from edit_agent.world.scene import COLORS, Scene

MAX_ASPECT = 1.05
"""A canvas is square; allow a little slack for a model that pads or crops by a few pixels."""
NEAR_PALETTE = 60.0
"""RGB distance within which a pixel counts as a palette colour (noise of sigma 0.08 stays well inside)."""
MIN_AGREEMENT = 0.9
"""Share of pixels that must be palette colours and agree with the re-rendered parsed scene."""
N_OBJECT_COLORS = len(COLORS)
CHECK_SIDE = 192


def is_world_canvas(image: Image.Image) -> bool:
    """True when ``image`` shows a MICE-World scene (clean or noisy), at any size near square."""
    width, height = image.size
    if min(width, height) < 24 or max(width, height) / min(width, height) > MAX_ASPECT:
        return False
    side = min(canvas_side(width, height), CHECK_SIDE)
    side = max(48, side - side % 3)
    pixels = np.asarray(image.resize((side, side), Image.Resampling.NEAREST).convert("RGB"))  # small, then RGB
    flat = pixels.reshape(-1, 3).astype(np.int32)
    labels = palette_labels_for_a_check(pixels)
    distance = np.sqrt(((flat - _PALETTE[labels.ravel()]) ** 2).sum(axis=1))
    if (distance <= NEAR_PALETTE).mean() < MIN_AGREEMENT:
        return False
    # compare object-versus-background per pixel: noise swaps near background colours (white and
    # sky, say) often, objects and background almost never
    rendered = palette_labels(render_array(parse_array(pixels), side)) < N_OBJECT_COLORS
    return bool((rendered == (labels < N_OBJECT_COLORS)).mean() >= MIN_AGREEMENT)


def render_at(scene: Scene, size: tuple[int, int]) -> Image.Image:
    """``scene`` drawn at ``size`` (width, height): rendered at the nearest canvas side (at least 48), then
    resized by nearest neighbour when the size is not a canvas side (a stretched canvas stays stretched)."""
    side = max(48, canvas_side(*size))
    image = render(scene, side)
    return image if image.size == size else image.resize(size, Image.Resampling.NEAREST)

