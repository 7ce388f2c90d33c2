"""Bundled sample images: real photos shipped inside scikit-image, by name.

>>> sample_image("astronaut").size
(512, 512)
>>> "coffee" in SAMPLE_PHOTOS
True
"""

from __future__ import annotations

from PIL import Image

from edit_agent.errors import InvalidImageError

SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry")
SAMPLE_PREFIX = "sample:"


def sample_image(name: str) -> Image.Image:
    """The named sample photo as an RGB image."""
    if name not in SAMPLE_PHOTOS:
        raise InvalidImageError(f"Unknown sample {name!r}; choose one of: {', '.join(SAMPLE_PHOTOS)}.")
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def resolve_sample(source: str) -> Image.Image | None:
    """``"sample:NAME"`` -> the sample image; anything else -> ``None``."""
    if source.startswith(SAMPLE_PREFIX):
        return sample_image(source[len(SAMPLE_PREFIX):])
    return None
