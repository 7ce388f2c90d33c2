"""Render a scene to pixels, exactly as docs/world.md says (filled shapes, no anti-aliasing).

>>> from edit_agent.world.scene import Scene
>>> image = render(Scene(background="sky"), size=48)
>>> image.size, image.getpixel((0, 0))
((48, 48), (195, 222, 245))
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.world.scene import (
    BACKGROUND_RGB,
    OBJECT_RGB,
    SHAPES,
    SIZES,
    Scene,
    cell_row_col,
)

REFERENCE_SIZE = 96
TEMPLATES: tuple[tuple[str, str], ...] = tuple((shape, size) for shape in SHAPES for size in SIZES)
"""Every (shape, size) an object can take, in a fixed order (ties in parsing go to the first)."""

# Half the object box side, in units of 1/20 pixel, per cell side c: 0.5c/2*20 and 0.8c/2*20.
# Working in twentieths keeps every boundary test in exact integer arithmetic.
_HALF_BOX_TWENTIETHS = {"small": 5, "large": 8}


def check_size(size: int) -> None:
    if size < 48 or size % 3:
        raise InvalidImageError(f"A world canvas side must be divisible by 3 and at least 48; got {size}.")


@lru_cache(maxsize=64)
def template_mask(shape: str, size: str, cell_side: int) -> np.ndarray:
    """Boolean (c, c) mask of a shape centred in a cell: a pixel is in when its centre is."""
    half = _HALF_BOX_TWENTIETHS[size] * cell_side
    centres = np.arange(cell_side) * 20 + 10 - 10 * cell_side  # pixel centres relative to the cell centre
    dy, dx = np.meshgrid(centres, centres, indexing="ij")
    if shape == "circle":
        mask = dx * dx + dy * dy <= half * half
    elif shape == "square":
        mask = (np.abs(dx) <= half) & (np.abs(dy) <= half)
    elif shape == "diamond":
        mask = np.abs(dx) + np.abs(dy) <= half
    elif shape == "triangle":
        # apex at (0, -half), base from (-half, half) to (half, half); image y grows downwards
        mask = (dy <= half) & (2 * np.abs(dx) <= dy + half)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    mask.setflags(write=False)
    return mask


def render_array(scene: Scene, size: int = REFERENCE_SIZE) -> np.ndarray:
    """The scene as a (size, size, 3) uint8 array."""
    check_size(size)
    cell_side = size // 3
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND_RGB[scene.background]
    for obj in scene.objects:
        row, col = cell_row_col(obj.cell)
        block = canvas[row * cell_side:(row + 1) * cell_side, col * cell_side:(col + 1) * cell_side]
        block[template_mask(obj.shape, obj.size, cell_side)] = OBJECT_RGB[obj.color]
    return canvas


def render(scene: Scene, size: int = REFERENCE_SIZE) -> Image.Image:
    """The scene as an RGB image of side ``size`` (divisible by 3, at least 48)."""
    return Image.fromarray(render_array(scene, size), mode="RGB")
