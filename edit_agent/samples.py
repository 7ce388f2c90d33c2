"""Bundled sample images, by name: MICE-World canvases and real photos shipped inside scikit-image.

The same names serve the app's Samples, ``edit-agent edit sample:NAME`` and ``EditSession().edit("sample:NAME", ...)``.

>>> sample_image("astronaut").size
(512, 512)
>>> sample_image("world-1").size
(288, 288)
>>> "coffee" in SAMPLE_PHOTOS
True
"""

from __future__ import annotations

import random

from PIL import Image

from edit_agent.errors import InvalidImageError

SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry")
WORLD_SAMPLES = ("world-0", "world-1", "world-2", "world-3")
"""MICE-World canvases: seeded scenes of 3 to 6 shapes."""
WORLD_SAMPLE_SIDE = 288
"""World samples are rendered larger than the reference 96 px so they read well on screen."""
SAMPLE_NAMES = WORLD_SAMPLES + SAMPLE_PHOTOS
SAMPLE_PREFIX = "sample:"


def sample_image(name: str) -> Image.Image:
    """The named sample as an RGB image."""
    if name in WORLD_SAMPLES:
        from edit_agent.world import random_scene, render

        seed = int(name.removeprefix("world-"))
        return render(random_scene(random.Random(seed), 3, 6), WORLD_SAMPLE_SIDE)
    if name not in SAMPLE_PHOTOS:
        raise InvalidImageError(f"Unknown sample {name!r}; choose one of: {', '.join(SAMPLE_NAMES)}.")
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def resolve_sample(source: object) -> Image.Image | None:
    """``"sample:NAME"`` -> the sample image; anything else -> ``None``."""
    if isinstance(source, str) and source.startswith(SAMPLE_PREFIX):
        return sample_image(source[len(SAMPLE_PREFIX):])
    return None
