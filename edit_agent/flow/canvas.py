"""Pixels in and out of the model: resample to the model canvas and back, keeping the world's exact colours.

Resampling is nearest neighbour both ways and every pixel is snapped to the nearest docs/world.md palette
colour (objects and backgrounds), so a clean world render of any size goes in and comes out with
exactly the world's colours and no blended edges.

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
