"""Sample images offered in the app: MICE-World canvases first, then photos (``edit_agent.samples``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from edit_agent.samples import WORLD_SAMPLES, sample_image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
"""scikit-image's bundled photos (``skimage.data``), shipped with the package: no download."""


@dataclass(frozen=True)
class Sample:
    name: str
    load: Callable[[], Image.Image]


def samples() -> list[Sample]:
    return [Sample(name, _loader(name)) for name in WORLD_SAMPLES + PHOTOS]


def _loader(name: str) -> Callable[[], Image.Image]:
    return lambda: sample_image(name)
