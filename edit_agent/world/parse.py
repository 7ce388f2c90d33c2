"""Read a scene back from pixels (docs/world.md "Parsing"), robust to a model's noisy output.

>>> from edit_agent.world.render import render
>>> from edit_agent.world.scene import Scene, SceneObject
>>> scene = Scene(background="beige", objects=(SceneObject(shape="triangle", color="blue", size="small", cell="top-right"),))
>>> parse(render(scene, size=48)) == scene
True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from edit_agent.world.render import TEMPLATES, template_mask
from edit_agent.world.scene import (
    BACKGROUND_RGB,
    BACKGROUNDS,
    CELLS,
    COLORS,
    OBJECT_RGB,
    Scene,
    SceneObject,
)

PALETTE_NAMES: tuple[str, ...] = COLORS + BACKGROUNDS
"""Objects first, then backgrounds: a palette index below len(COLORS) is an object colour."""
_PALETTE = np.array([OBJECT_RGB[c] for c in COLORS] + [BACKGROUND_RGB[b] for b in BACKGROUNDS], dtype=np.int32)
_N_OBJECT = len(COLORS)
MIN_OBJECT_COVER_PERCENT = 7
"""An object is present in a cell when its pixels cover at least this percentage of the cell."""


def canvas_side(width: int, height: int) -> int:
    """The nearest square side divisible by 3 (to the mean side; ties go up, never below 3)."""
    mean = (width + height) / 2
    lower = max(3, int(mean // 3) * 3)
    upper = lower + 3
    return lower if mean - lower < upper - mean else upper


def to_canvas(image: Image.Image) -> np.ndarray:
    """RGB array of a valid canvas: resized (nearest neighbour) when not square with side divisible by 3."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    if width != height or width % 3:
        side = canvas_side(width, height)
        rgb = rgb.resize((side, side), Image.Resampling.NEAREST)
    return np.asarray(rgb)


def palette_labels(pixels: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour (Euclidean in RGB; ties to the lower index) per pixel."""
    rgb = pixels.reshape(-1, 3).astype(np.intp)
    table = _nearest_palette_table()
    return table[(rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]].reshape(pixels.shape[:2])


def palette_labels_for_a_check(pixels: np.ndarray) -> np.ndarray:
    """:func:`palette_labels` of the few thousand pixels of a check, without building the table for them (half a
    second of a photo's first turn, for an image that was no canvas): from the table once the process has it, else
    from the distances themselves."""
    if _nearest_palette_table.cache_info().currsize:
        return palette_labels(pixels)
    rgb = pixels.reshape(-1, 3).astype(np.int32)
    distances = ((rgb[:, None, :] - _PALETTE[None, :, :].astype(np.int32)) ** 2).sum(axis=2)
    return distances.argmin(axis=1).astype(np.uint8).reshape(pixels.shape[:2])


@lru_cache(maxsize=1)
def _nearest_palette_table() -> np.ndarray:
    """Nearest palette index for every 24-bit colour (16 MiB, built once per process in about a second).

    A lookup is exact and far cheaper than computing 11 distances for every pixel of every parse.
    """
    table = np.empty(1 << 24, dtype=np.uint8)
    green_blue = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), axis=-1).reshape(-1, 2)
    partial = ((green_blue[:, None, :] - _PALETTE[None, :, 1:]) ** 2).sum(axis=2)  # (65536, 11)
    for red in range(256):
        distances = partial + (red - _PALETTE[None, :, 0]) ** 2
        table[red << 16:(red + 1) << 16] = distances.argmin(axis=1)
    table.setflags(write=False)
    return table


def parse_array(pixels: np.ndarray) -> Scene:
    """Parse a valid (S, S, 3) canvas array."""
    labels = palette_labels(pixels)
    side = labels.shape[0]
    cell_side = side // 3
    background_counts = np.bincount(labels.ravel(), minlength=len(_PALETTE))[_N_OBJECT:]
    background = BACKGROUNDS[int(background_counts.argmax())]
    objects = []
    for index, cell in enumerate(CELLS):
        row, col = divmod(index, 3)
        block = labels[row * cell_side:(row + 1) * cell_side, col * cell_side:(col + 1) * cell_side]
        obj = _parse_cell(block, cell)
        if obj is not None:
            objects.append(obj)
    return Scene(background=background, objects=tuple(objects))


def _parse_cell(block: np.ndarray, cell: str) -> SceneObject | None:
    object_mask = block < _N_OBJECT
    covered = int(object_mask.sum())
    if covered * 100 < MIN_OBJECT_COVER_PERCENT * block.size:  # in integers: 0.07 * 400 is 28.000000000000004
        return None
    color = COLORS[int(np.bincount(block[object_mask], minlength=_N_OBJECT).argmax())]
    templates, areas = _template_stack(block.shape[0])
    intersections = (templates & object_mask[None]).sum(axis=(1, 2))
    ious = intersections / (areas + covered - intersections)
    shape, size = TEMPLATES[int(ious.argmax())]  # argmax: ties go to the first template
    return SceneObject(shape=shape, color=color, size=size, cell=cell)


@lru_cache(maxsize=32)
def _template_stack(cell_side: int) -> tuple[np.ndarray, np.ndarray]:
    stack = np.stack([template_mask(shape, size, cell_side) for shape, size in TEMPLATES])
    return stack, stack.sum(axis=(1, 2))


def parse(image: Image.Image) -> Scene:
    """The scene an image shows (any size and mode; non-canvas sizes are resized first)."""
    return parse_array(to_canvas(image))
