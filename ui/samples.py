"""Sample images offered in the app: MICE-World canvases (when that module is present) and photos."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from edit_agent.images import load_image

log = logging.getLogger(__name__)

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
"""scikit-image's bundled photos (``skimage.data``), shipped with the package: no download."""

WORLD_SAMPLES = 4


@dataclass(frozen=True)
class Sample:
    name: str
    load: Callable[[], Image.Image]


def samples() -> list[Sample]:
    """World canvases first (if ``edit_agent.world`` imports), then the photos."""
    return _world_samples() + [Sample(name, _photo_loader(name)) for name in PHOTOS]


def _photo_loader(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        from skimage import data

        array = getattr(data, name)()
        if array.ndim == 2:  # greyscale photos
            array = np.stack([array] * 3, axis=-1)
        return load_image(np.ascontiguousarray(array[..., :3], dtype=np.uint8))

    return load


def _world_samples() -> list[Sample]:
    # MICE-World is optional here: the app must start with or without it.
    try:
        world = importlib.import_module("edit_agent.world")
    except ImportError:
        return []
    render = getattr(world, "render_random_scene", None) or getattr(world, "random_canvas", None)
    if render is None:
        log.info("edit_agent.world has no render_random_scene(seed=...); no world samples")
        return []
    return [Sample(f"world-{seed}", _world_loader(render, seed)) for seed in range(WORLD_SAMPLES)]


def _world_loader(render: Callable[..., object], seed: int) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        canvas = render(seed=seed)
        image = canvas if isinstance(canvas, Image.Image) else getattr(canvas, "image", canvas)
        return load_image(image)

    return load
