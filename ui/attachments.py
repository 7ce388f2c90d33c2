"""An image attached to the message box is checked when it is attached, not only when the message is sent.

One that cannot be used (not an image, corrupt, too small) is taken out of the box at once with the reason.
A photo over the app's size limits but within ``scalable`` (a 24 or 50 megapixel camera photo) stays in the
box with a notice that it will be scaled down to fit, and :func:`load_attachment` scales it when it is sent:
refusing it would only send the user off to resize it themselves. The box is never rewritten for a photo
that stays, so nothing typed while it is checked is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.image_fitting import decoded_with_fitted_size, load_image_to_fit
from edit_agent.images import ImageLimits


@dataclass(frozen=True)
class CheckedAttachment:
    """What the check found: nothing to say, a refusal (the image is taken out of the box), or a notice."""

    refusal: str | None = None
    notice: str | None = None


def check_attachment(path: str, limits: ImageLimits, scalable: ImageLimits) -> CheckedAttachment:
    """Check the image at ``path`` as :func:`load_attachment` will load it, without scaling it yet."""
    try:
        with _refused_as_sent(path):
            image, size = decoded_with_fitted_size(Path(path), limits, scalable)
    except InvalidImageError as error:
        return CheckedAttachment(refusal=str(error))
    if size is None:
        return CheckedAttachment()
    return CheckedAttachment(notice=f"{Path(path).name} is {_dimensions(image.size)}; it will be scaled down to "
                                    f"{_dimensions(size)} when sent, to fit {_limit_text(limits)}.")


def load_attachment(path: str, limits: ImageLimits, scalable: ImageLimits) -> tuple[Image.Image, str | None]:
    """The image at ``path``, scaled down to fit ``limits`` when it is within ``scalable``, and a notice saying so
    (``None`` when it fits as it is). Refused with one :class:`InvalidImageError` naming the file as sent."""
    with _refused_as_sent(path):
        image, original = load_image_to_fit(Path(path), limits, scalable)
    if original is None:
        return image, None
    notice = (f"{Path(path).name} was scaled down from {_dimensions(original)} to {_dimensions(image.size)} to fit "
              f"{_limit_text(limits)}.")
    return image, notice


@contextmanager
def _refused_as_sent(path: str) -> Iterator[None]:
    """A refusal of the image at ``path`` names the file as the user sent it, not by the server's upload path."""
    try:
        yield
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
