"""Sample images offered in the app: MICE-World canvases (when that module is present) and photos."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from edit_agent.images import load_image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
"""scikit-image's bundled photos (``skimage.data``), shipped with the package: no download."""

WORLD_SAMPLES = 4
WORLD_SIDE = 288
"""World canvases are rendered larger than the reference 96 px so they read well on screen."""


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
        from edit_agent.world import random_scene, render
    except ImportError:
        return []

    def loader(seed: int) -> Callable[[], Image.Image]:
        return lambda: render(random_scene(random.Random(seed), 3, 6), WORLD_SIDE)

    return [Sample(f"world-{seed}", loader(seed)) for seed in range(WORLD_SAMPLES)]
