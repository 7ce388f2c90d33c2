"""An image attached to the message box is checked when it is attached, not only when the message is sent.

One that cannot be used (not an image, corrupt, too small) is taken out of the box at once with the reason.
A photo over the app's size limits but within ``scalable`` (a 24 or 50 megapixel camera photo) stays in the
box with a notice that it will be scaled down to fit, and :func:`load_attachment` scales it when it is sent:
refusing it would only send the user off to resize it themselves. The box is never rewritten for a photo
that stays, so nothing typed while it is checked is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.image_fitting import decoded_with_fitted_size
from edit_agent.images import ImageLimits


@dataclass(frozen=True)
class CheckedAttachment:
    """What the check found: nothing to say, a refusal (the image is taken out of the box), or a notice."""

    refusal: str | None = None
    notice: str | None = None


def check_attachment(path: str, limits: ImageLimits, scalable: ImageLimits) -> CheckedAttachment:
    """Check the image at ``path`` as :func:`load_attachment` will load it, without scaling it yet."""
    try:
        image, size = _decoded_and_fitted_size(path, limits, scalable)
    except InvalidImageError as error:
        return CheckedAttachment(refusal=str(error))
    if size is None:
        return CheckedAttachment()
    return CheckedAttachment(notice=f"{Path(path).name} is {_dimensions(image.size)}; it will be scaled down to "
                                    f"{_dimensions(size)} when sent, to fit {_limit_text(limits)}.")


def load_attachment(path: str, limits: ImageLimits, scalable: ImageLimits) -> tuple[Image.Image, str | None]:
    """The image at ``path``, scaled down to fit ``limits`` when it is within ``scalable``, and a notice saying so
    (``None`` when it fits as it is). Refused with one :class:`InvalidImageError` naming the file as sent."""
    image, size = _decoded_and_fitted_size(path, limits, scalable)
    if size is None:
        return image, None
    notice = (f"{Path(path).name} was scaled down from {_dimensions(image.size)} to {_dimensions(size)} to fit "
              f"{_limit_text(limits)}.")
    return image.resize(size, Image.Resampling.LANCZOS), notice


def _decoded_and_fitted_size(path: str, limits: ImageLimits,
                             scalable: ImageLimits) -> tuple[Image.Image, tuple[int, int] | None]:
    """The checked image and the size it must be scaled to (``None``: it fits as it is), refused naming the file
    as it was sent."""
    try:
        return decoded_with_fitted_size(Path(path), limits, scalable)
    except InvalidImageError as error:
        raise InvalidImageError(_named_as_sent(str(error), path)) from None


def _named_as_sent(message: str, path: str) -> str:
    """An error about the file at ``path`` naming it as the user sent it, not by the server's upload path."""
    name = Path(path).name
    message = message.replace(path, name)
    return message if name in message else f"{name}: {message}"


def _dimensions(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def _limit_text(limits: ImageLimits) -> str:
    return f"this app's limit of {limits.max_pixels / 1e6:g} megapixels and {limits.max_side} px a side"
