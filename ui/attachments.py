"""An image attached to the message box is checked when it is attached, not only when the message is sent.

One that cannot be used (not an image, corrupt, too small) is taken out of the box at once with the reason,
and a photo over the app's size limits but within ``scalable`` (a 24 or 50 megapixel camera photo) is
replaced by a copy scaled down to fit, with a notice that says so: refusing it would only send the user
off to resize it themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.images import ImageLimits, encode_png, load_image, read_image_file
from ui import files


@dataclass(frozen=True)
class CheckedAttachment:
    """What the box should hold after the check."""

    path: str | None
    """The file to keep attached: the one attached, a scaled copy, or ``None`` (taken out)."""
    notice: str | None = None
    """Why it was taken out (``refused``) or what was done to it; ``None`` when it is kept as it is."""
    refused: bool = False


def check_attachment(path: str, limits: ImageLimits, scalable: ImageLimits) -> CheckedAttachment:
    """Check the image at ``path`` against ``limits``; scale it down to fit when it is within ``scalable``."""
    name = Path(path).name
    try:
        load_image(Path(path), limits=limits)
        return CheckedAttachment(path)
    except InvalidImageError as error:
        refusal = str(error).replace(path, name)  # named as the user sent it, not by the server's upload path
        if name not in refusal:
            refusal = f"{name}: {refusal}"
    try:
        image = load_image(Path(path), limits=scalable)
    except InvalidImageError:
        return CheckedAttachment(None, refusal, refused=True)
    scaled = scaled_to_fit(image, limits)
    if scaled is None:  # over the limits in bytes only: already within them in pixels
        return CheckedAttachment(None, refusal, refused=True)
    copy = _write_scaled(scaled, Path(path).stem)
    if len(read_image_file(copy, scalable)) > limits.max_bytes:
        return CheckedAttachment(None, refusal, refused=True)
    notice = (f"{name} is {image.width}×{image.height}; it was scaled down to {scaled.width}×{scaled.height} "
              f"to fit this app's limit of {_limit_text(limits)}.")
    return CheckedAttachment(str(copy), notice)


def scaled_to_fit(image: Image.Image, limits: ImageLimits) -> Image.Image | None:
    """``image`` scaled down (keeping its aspect) to the largest size within ``limits``' side and pixel
    limits, or ``None`` when it is already within them."""
    width, height = image.size
    factor = min(1.0, limits.max_side / max(width, height), math.sqrt(limits.max_pixels / (width * height)))
    if factor >= 1.0:
        return None
    size = (max(1, math.floor(width * factor)), max(1, math.floor(height * factor)))
    while size[0] * size[1] > limits.max_pixels:  # floor rounding may still leave one row too many
        size = (size[0], size[1] - 1)
    return image.resize(size, Image.Resampling.LANCZOS)


def _write_scaled(image: Image.Image, stem: str) -> Path:
    """A PNG of the scaled copy in the app's file cache, named after the photo it came from."""
    path = files.attachment_path(f"{stem}-scaled.png")
    path.write_bytes(encode_png(image))
    return path


def _limit_text(limits: ImageLimits) -> str:
    return f"{limits.max_pixels / 1e6:g} megapixels and {limits.max_side} px a side"
