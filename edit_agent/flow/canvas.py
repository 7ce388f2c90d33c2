"""Pixels in and out of the model: resample to the model canvas and back, keeping the world's exact colours.

Resampling is nearest neighbour both ways and every pixel is snapped to the nearest docs/world.md palette
colour (objects and backgrounds), so a clean world render of any size goes in and comes out with
exactly the world's colours and no blended edges.

A canvas larger than the model's loses detail on the round trip: at 288 px a 48 px cell is 6 x 6 pixels,
so every shape's edge comes back as 6 px stair-steps. :func:`from_model_canvas_keeping_input` therefore
takes the model's pixels only in the cells the model changed and keeps the caller's own pixels elsewhere.

>>> from edit_agent.world.render import render
>>> from edit_agent.world.scene import Scene, SceneObject
>>> scene = Scene(background="sky", objects=(SceneObject(shape="circle", color="red", size="large", cell="center"),))
>>> pixels = to_model_canvas(render(scene, 96), 48)
>>> pixels.shape, pixels.dtype
((48, 48, 3), dtype('uint8'))
>>> from edit_agent.world.parse import parse
>>> parse(from_model_canvas(pixels, (96, 96))) == scene
True
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from edit_agent.world.scene import BACKGROUND_RGB, BACKGROUNDS, COLORS, OBJECT_RGB

PALETTE = np.array([OBJECT_RGB[c] for c in COLORS] + [BACKGROUND_RGB[b] for b in BACKGROUNDS], dtype=np.uint8)
"""The 11 colours of docs/world.md, objects first."""


def _codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


_SORTED_CODES = np.sort(_codes(PALETTE))


def snap_to_palette(pixels: np.ndarray) -> np.ndarray:
    """Each pixel of an (H, W, 3) array replaced by its nearest palette colour (Euclidean in RGB).

    Pixels already in the palette (all of a clean render) are kept as they are; only the others pay
    for the distance computation.
    """
    flat = pixels.reshape(-1, 3)
    codes = _codes(flat)
    where = np.searchsorted(_SORTED_CODES, codes).clip(max=len(_SORTED_CODES) - 1)
    off = np.nonzero(_SORTED_CODES[where] != codes)[0]
    out = flat.astype(np.uint8, copy=True)
    if off.size:
        distances = ((flat[off, None, :].astype(np.int32) - PALETTE[None, :, :].astype(np.int32)) ** 2).sum(axis=2)
        out[off] = PALETTE[distances.argmin(axis=1)]
    return out.reshape(pixels.shape)


def to_model_canvas(image: Image.Image, side: int) -> np.ndarray:
    """(side, side, 3) uint8: nearest-neighbour resample of ``image`` (any size and mode), palette-snapped."""
    rgb = image.convert("RGB")
    if rgb.size != (side, side):
        rgb = rgb.resize((side, side), Image.Resampling.NEAREST)
    return snap_to_palette(np.asarray(rgb))


def from_model_canvas(pixels: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """An RGB image of ``size`` (width, height): palette snap, then nearest-neighbour resample."""
    image = Image.fromarray(snap_to_palette(pixels).astype(np.uint8), mode="RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.NEAREST)


def changed_cells_mask(before: np.ndarray, after: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boolean (height, width) mask at ``size`` (width, height) of the pixels that :func:`from_model_canvas`
    draws from a model-canvas cell whose palette-snapped colour differs between ``before`` and ``after``.

    The mask is resized by the same nearest-neighbour call as the pixels, so it covers exactly the pixels
    that each changed cell maps to, and it is grown by one cell first: a large canvas's smooth edge spills
    into neighbouring cells that the model canvas samples as background, and a removed or recoloured
    shape would otherwise leave that edge behind as a ring.
    """
    changed = _grown_by_one_cell((snap_to_palette(before) != snap_to_palette(after)).any(axis=-1))
    mask = Image.fromarray(changed.astype(np.uint8) * 255)
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    return np.asarray(mask) > 0


def _grown_by_one_cell(changed: np.ndarray) -> np.ndarray:
    """``changed`` (a boolean grid) with every cell next to a changed one, diagonals included, changed too."""
    padded = np.pad(changed, 1)
    rows, cols = changed.shape
    grown = np.zeros_like(changed)
    for dy in range(3):
        for dx in range(3):
            grown |= padded[dy:dy + rows, dx:dx + cols]
    return grown


def from_model_canvas_keeping_input(image: Image.Image, model_input: np.ndarray,
                                    model_output: np.ndarray) -> Image.Image:
    """The model's edit at ``image``'s size, with ``image``'s own pixels wherever the model changed nothing.

    ``model_input`` is ``image`` on the model canvas (:func:`to_model_canvas`) and ``model_output`` the
    model's result there. Cells that differ get :func:`from_model_canvas` pixels; every other pixel is the
    input's, palette-snapped (a clean render is kept exactly, and the output has only world colours).
    At the model's own size nothing was resampled, so this is exactly ``from_model_canvas(model_output)``.
    """
    model_result = np.asarray(from_model_canvas(model_output, image.size))
    input_pixels = snap_to_palette(np.asarray(image.convert("RGB")))
    changed = changed_cells_mask(model_input, model_output, image.size)
    return Image.fromarray(np.where(changed[..., None], model_result, input_pixels))


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) or (H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    array = torch.from_numpy(np.ascontiguousarray(pixels))
    if array.ndim == 3:
        array = array[None]
    return array.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def to_pixels(tensor: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8 (not yet snapped)."""
    values = ((tensor.detach().float().clamp(-1, 1) + 1.0) * 127.5).round()
    return values.permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()
