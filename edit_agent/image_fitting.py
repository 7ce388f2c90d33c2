"""Photos over the size limits, scaled down to fit rather than refused.

A 24 or 50 megapixel camera photo is over the app's and the agent tools' limits; refusing it would only send
its owner off to resize it. One within :data:`SCALABLE_LIMITS` is loaded and scaled to the largest size of the
same aspect that fits; anything else is refused as :func:`edit_agent.images.load_image` refuses it.

>>> size_to_fit((8000, 6000), ImageLimits(max_side=4096, max_pixels=16_000_000))
(4096, 3072)
"""

from __future__ import annotations

import math

from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.images import ImageInput, ImageLimits, load_image

SCALABLE_LIMITS = ImageLimits(max_side=12_000, max_pixels=50_000_000, max_bytes=64 * 2**20)
"""The largest photos scaled down to fit rather than refused (a 50 MP camera's 8640x5760)."""


def size_to_fit(size: tuple[int, int], limits: ImageLimits) -> tuple[int, int] | None:
    """The largest size of the same aspect within ``limits``' side and pixel limits, or ``None`` when ``size``
    is within them already."""
    width, height = size
    factor = min(1.0, limits.max_side / max(width, height), math.sqrt(limits.max_pixels / (width * height)))
    if factor >= 1.0:
        return None
    fitted = (max(1, math.floor(width * factor)), max(1, math.floor(height * factor)))
    while fitted[0] * fitted[1] > limits.max_pixels:  # floor rounding may still leave one row too many
        fitted = (fitted[0], fitted[1] - 1)
    return fitted


def decoded_with_fitted_size(source: ImageInput, limits: ImageLimits,
                             scalable: ImageLimits = SCALABLE_LIMITS) -> tuple[Image.Image, tuple[int, int] | None]:
    """The checked image and the size it must be scaled to (``None``: it fits ``limits`` as it is). An image
    past ``scalable`` is refused with the error ``scalable`` gives it (a 56 MP photo is told the 50 MP that
    would have been taken, not the 16 MP it would have been scaled to); one that is within it and still
    cannot be scaled into ``limits`` with the error ``limits`` give it."""
    try:
        return load_image(source, limits=limits), None
    except InvalidImageError as error:
        refusal = error
    try:
        image = load_image(source, limits=scalable)
    except InvalidImageError as past_scalable:
        # past what is scaled: its limit is the one that refuses it, when scaling was on offer at all
        raise (past_scalable if scalable.max_pixels > limits.max_pixels else refusal) from None
    size = size_to_fit(image.size, limits)
    if size is None or min(size) < limits.min_side:  # over in bytes only, or a strip too thin to scale
        raise refusal
    return image, size


def load_image_to_fit(source: ImageInput, limits: ImageLimits,
                      scalable: ImageLimits = SCALABLE_LIMITS) -> tuple[Image.Image, tuple[int, int] | None]:
    """``source`` loaded within ``limits``, scaled down to fit them when it is within ``scalable``, and the size it
    had before (``None`` when it fits as it is)."""
    image, size = decoded_with_fitted_size(source, limits, scalable)
    if size is None:
        return image, None
    return image.resize(size, Image.Resampling.LANCZOS), image.size

