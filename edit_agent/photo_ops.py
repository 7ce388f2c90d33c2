"""Exact photo operations: what each one is, its canonical text, and applying it losslessly.

Plain-English instructions are read into these operations by :mod:`edit_agent.photo_parsing`;
:func:`describe_operations` writes them back as the canonical, self-contained text it reads again.

>>> ops = [Operation(kind="rotate", value=90.0), Operation(kind="grayscale")]
>>> describe_operations(ops)
'Rotate the image 90 degrees clockwise, then convert the image to grayscale.'
>>> describe_operations([])
'Make no change.'
"""

from __future__ import annotations

from typing import Literal

import numpy
from PIL import Image, ImageFilter, ImageOps, ImageStat
from pydantic import BaseModel, ConfigDict

from edit_agent.errors import InvalidInstructionError
from edit_agent.images import STORED_LIMITS
from edit_agent.world.interpreter import NO_CHANGE_INTENT

OperationKind = Literal[
    "rotate", "flip", "crop", "resize", "brightness", "contrast", "saturation", "warmth",
    "grayscale", "sepia", "invert", "blur", "sharpen",
]

PERCENT_KINDS: tuple[OperationKind, ...] = ("brightness", "contrast", "saturation", "warmth")
"""The operations whose value is a signed percentage of the current level (they take an amount)."""
DEFAULT_PERCENT = 20.0
"""Strength of brighten/darken, contrast, saturation and warmth when neither a percentage nor a word
such as "slightly" or "much" gives it."""
DEFAULT_BLUR_RADIUS = 2.0
GENTLE_SHARPEN, STRONG_SHARPEN = 0.5, 2.0
"""Strengths of "sharpen it slightly" and "sharpen it a lot" (the plain filter is 1)."""
MAX_OUTPUT_SIDE = STORED_LIMITS.max_side
"""A resize may leave the input limits, up to what the store can keep (and load again)."""
SEPIA_MATRIX = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)
"""The classic sepia transform (new R, G, B from old R, G, B); values over 255 are clipped."""
MAX_OPERATIONS = 20
"""Operations one instruction may ask for: bounds the work of one turn (a tool call may be untrusted)."""
OPERATION_KINDS = ("rotate, flip, crop (to a half, a square, an aspect ratio or by a margin), resize, brightness, contrast, "
                   "saturation, warmth, grayscale, sepia, invert, blur, sharpen")
"""The exact operations, as the refusals and the agent tools' description name them."""
MAX_INTENT_OPERATIONS = MAX_OPERATIONS + 2
"""Operations an intent may hold: the instruction's, then those of the two rules a photo session can keep."""


class Operation(BaseModel):
    """One exact operation. Which fields matter depends on ``kind`` (see :func:`apply_operation`)."""

    model_config = ConfigDict(frozen=True)

    kind: OperationKind
    value: float | None = None
    """rotate: clockwise degrees (90/180/270); brightness/contrast/saturation/warmth: signed
    percent; resize: percent, or pixels with a ``target`` side; crop: margin pixels; blur: radius in pixels;
    sharpen: its strength (``SHARPEN_STRENGTHS``; none is the plain filter)."""
    target: str | None = None
    """flip: horizontal/vertical; crop: left/right/top/bottom (a half), square, an aspect ratio "W:H" (the largest
    centred box of that shape), or "edges"/"<side> edge" (a margin of ``value`` px); resize: "width"/"height"
    (that side becomes ``value`` px, the other in proportion), or "fit" (the largest size of the same shape within
    ``size``)."""
    size: tuple[int, int] | None = None
    """resize: exact (width, height), or the box to fit within."""
    unit: Literal["px", "%"] = "px"
    """crop margin: ``value`` in pixels, or in percent of the side it is taken from."""


# --- describing --------------------------------------------------------------------------------

def describe_operations(operations: list[Operation]) -> str:
    """The canonical, self-contained instruction for ``operations`` (it parses back to them)."""
    if not operations:
        return NO_CHANGE_INTENT
    text = ", then ".join(_describe(operation) for operation in operations)
    return text[:1].upper() + text[1:] + "."


def plain_number(value: float) -> str:
    """``value`` in plain digits, exactly as it parses back (``:g`` would write 1e+06, which the parser cannot read)."""
    return numpy.format_float_positional(value, trim="-")


def _margin(op: Operation) -> str:
    return f"{plain_number(op.value or 0)}{'%' if op.unit == '%' else ' px'}"


def _describe(op: Operation) -> str:
    amount = f"{plain_number(abs(op.value or 0))}%"
    match op.kind:
        case "rotate":
            if op.value == 180:
                return "rotate the image 180 degrees"
            return "rotate the image 90 degrees " + ("clockwise" if op.value == 90 else "counterclockwise")
        case "flip":
            return f"flip the image {op.target}ly"
        case "crop":
            if op.target == "square":
                return "crop to a centred square"
            if op.target == "edges":
                return f"crop {_margin(op)} from each side"
            if op.target and op.target.endswith(" edge"):
                return f"crop {_margin(op)} from the {op.target.removesuffix(' edge')}"
            if op.target and ":" in op.target:
                return f"crop to a centred {op.target}"
            return f"crop to the {op.target} half"
        case "resize":
            if op.target in ("width", "height"):
                return f"resize to {plain_number(op.value)} px {'wide' if op.target == 'width' else 'tall'}"
            if op.target == "fit" and op.size:
                return f"resize to fit within {op.size[0]}x{op.size[1]}"
            return f"resize to {op.size[0]}x{op.size[1]}" if op.size else f"resize to {plain_number(op.value)}%"
        case "brightness" | "contrast" | "saturation":
            verb = "increase" if (op.value or 0) > 0 else "decrease"
            return f"{verb} the {op.kind} by {amount}"
        case "warmth":
            return f"make the image {'warmer' if (op.value or 0) > 0 else 'cooler'} by {amount}"
        case "grayscale":
            return "convert the image to grayscale"
        case "sepia":
            return "give the image a sepia tone"
        case "invert":
            return "invert the colours"
        case "blur":
            return f"blur the image with radius {plain_number(op.value)}"
        case "sharpen":
            return "sharpen the image" + SHARPEN_STRENGTHS.get(op.value or 1.0, "")
    raise AssertionError(op.kind)


# --- applying ----------------------------------------------------------------------------------

def apply_operations(image: Image.Image, operations: list[Operation]) -> Image.Image:
    """Apply ``operations`` in order; the input image is not modified.

    Margins in percent cropped one after another are shares of the image as the first of them found it:
    "crop 10% from the left and right" takes 10% of the width from each side (200 px -> 160), not 10% of
    what the left crop left (200 -> 162). A margin cropped again from a side already cropped in the row starts a
    new row: "crop 10% from each side twice" crops the second 10% from what the first left, as two turns would.
    """
    found: tuple[int, int] | None = None  # the size before this row of margins
    sides_cropped: set[str] = set()
    for operation in operations:
        if is_margin_crop(operation):
            side = operation.target or ""
            # each side's margin is taken once a row: "each side" takes all four
            if found is None or side in sides_cropped or "edges" in sides_cropped or (side == "edges" and sides_cropped):
                found, sides_cropped = image.size, set()
            sides_cropped.add(side)
            image = image.crop(_crop_box(image.size, side, operation.value, operation.unit, share_of=found))
        else:
            found = None
            image = apply_operation(image, operation)
    return image.convert("RGB")


def is_margin_crop(op: Operation) -> bool:
    """Whether ``op`` crops a margin off one side or every side ("crop 10% from the left", "... from each side")."""
    target = op.target or ""
    return op.kind == "crop" and (target == "edges" or target.endswith(" edge"))


def apply_operation(image: Image.Image, op: Operation) -> Image.Image:
    """Apply one operation exactly (rotations, flips and crops are lossless).

    Brightness, contrast and saturation scale each value's distance from black, from the image's mean grey, or
    from the pixel's own grey (as Pillow's ImageEnhance defines them) by ``1 + value/100``, rounded to the nearest
    level; warmth multiplies red by ``1 + value/200`` and divides blue by it; grayscale is Pillow's ITU-R 601-2
    luma, returned as RGB; sepia is the classic sepia matrix on the RGB values; invert is 255 minus each value;
    blur is a Gaussian blur of the given radius; sharpen is Pillow's SHARPEN filter.
    """
    match op.kind:
        case "rotate":
            turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                    270: Image.Transpose.ROTATE_90}[int(op.value or 0)]
            return image.transpose(turn)
        case "flip":
            axis = Image.Transpose.FLIP_LEFT_RIGHT if op.target == "horizontal" else Image.Transpose.FLIP_TOP_BOTTOM
            return image.transpose(axis)
        case "crop":
            return image.crop(_crop_box(image.size, op.target or "square", op.value, op.unit))
        case "resize":
            return image.resize(_resized(image.size, op), Image.Resampling.LANCZOS)
        case "brightness":
            return _levels_scaled(image, 1 + (op.value or 0) / 100, around=0)
        case "contrast":
            return _levels_scaled(image, 1 + (op.value or 0) / 100, around=_mean_grey(image))
        case "saturation":
            return _saturated(image, 1 + (op.value or 0) / 100)
        case "warmth":
            return _warm(image, op.value or 0)
        case "grayscale":
            return image.convert("L").convert("RGB")
        case "sepia":
            return image.convert("RGB").convert("RGB", SEPIA_MATRIX)
        case "invert":
            return ImageOps.invert(image.convert("RGB"))
        case "blur":
            return image.filter(ImageFilter.GaussianBlur(op.value or DEFAULT_BLUR_RADIUS))
        case "sharpen":
            return _sharpened(image, op.value or 1.0)
    raise AssertionError(op.kind)


SHARPEN_STRENGTHS = {GENTLE_SHARPEN: " slightly", 1.0: "", STRONG_SHARPEN: " strongly"}
"""How a sharpen's strength is said: half the filter's effect, the filter, the filter twice."""


def _sharpened(image: Image.Image, strength: float) -> Image.Image:
    sharpened = image.filter(ImageFilter.SHARPEN)
    if strength < 1:
        return Image.blend(image, sharpened, strength)
    for _ in range(round(strength) - 1):
        sharpened = sharpened.filter(ImageFilter.SHARPEN)
    return sharpened


def _crop_box(size: tuple[int, int], target: str, margin: float | None = None, unit: str = "px", *,
              share_of: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """The box a crop keeps; a margin in percent is a share of ``share_of`` (default: ``size``)."""
    width, height = size
    if target == "edges" or target.endswith(" edge"):
        side = target.removesuffix(" edge")
        if unit == "%":  # of the side it is taken from: a left margin is a share of the width
            of_width, of_height = share_of or size
            said = f"{plain_number(margin or 0)}%" + (f" of {of_width}x{of_height}" if share_of not in (None, size) else "")
            return _margin_box(size, side, round(of_width * (margin or 0) / 100),
                               round(of_height * (margin or 0) / 100), said=said)
        return _margin_box(size, side, int(margin or 0), int(margin or 0), said=f"{int(margin or 0)} px")
    boxes = {
        "left": (0, 0, width // 2, height),
        "right": (width // 2, 0, width, height),
        "top": (0, 0, width, height // 2),
        "bottom": (0, height // 2, width, height),
    }
    if target in boxes:
        return boxes[target]
    if ":" in target:
        return _aspect_box(size, *aspect_sides(target))
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def aspect_sides(target: str) -> tuple[float, float]:
    """The two sides of an aspect ratio written "W:H"."""
    width, height = target.split(":")
    return float(width), float(height)


def _aspect_box(size: tuple[int, int], ratio_width: float, ratio_height: float) -> tuple[int, int, int, int]:
    """The largest centred box of shape ``ratio_width:ratio_height`` (at least one pixel each way)."""
    width, height = size
    if width * ratio_height > height * ratio_width:  # wider than asked: keep the height
        new_width, new_height = max(1, round(height * ratio_width / ratio_height)), height
    else:
        new_width, new_height = width, max(1, round(width * ratio_height / ratio_width))
    left, top = (width - new_width) // 2, (height - new_height) // 2
    return (left, top, left + new_width, top + new_height)


def _margin_box(size: tuple[int, int], side: str, across: int, down: int, *, said: str) -> tuple[int, int, int, int]:
    """The box left after taking ``across`` pixels off the left or right, ``down`` off the top or bottom, of one
    side or of every side (``side`` "edges"); ``said`` is the margin as asked, for the refusal."""
    width, height = size
    left = across if side in ("edges", "left") else 0
    top = down if side in ("edges", "top") else 0
    right = width - (across if side in ("edges", "right") else 0)
    bottom = height - (down if side in ("edges", "bottom") else 0)
    if right <= left or bottom <= top:
        where = "each side" if side == "edges" else f"the {side}"
        raise InvalidInstructionError(f"Cropping {said} from {where} of a {width}x{height} image leaves nothing"
                                      f"{' (what the crops before it left)' if ' of ' in said else ''}.")
    return (left, top, right, bottom)


def _resized(size: tuple[int, int], op: Operation) -> tuple[int, int]:
    if op.target == "fit" and op.size:  # the box's tighter side decides; the shape stays
        scale = min(op.size[0] / size[0], op.size[1] / size[1])
    elif op.size:
        return op.size
    elif op.target in ("width", "height"):  # one side given: the other in proportion
        scale = (op.value or 1) / (size[0] if op.target == "width" else size[1])
    else:
        scale = (op.value or 100) / 100
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    if max(width, height) > MAX_OUTPUT_SIDE:
        raise InvalidInstructionError(
            f"Resizing to {width}x{height} exceeds the {MAX_OUTPUT_SIDE} px limit on a side."
        )
    check_output_pixels(width, height)
    return (width, height)


def check_output_pixels(width: int, height: int) -> None:
    """Refuse before resizing, not after: the result would be allocated only to be refused by the store."""
    if width * height > STORED_LIMITS.max_pixels:
        raise InvalidInstructionError(
            f"Resizing to {width}x{height} gives {width * height / 1e6:.0f} MP, over the "
            f"{STORED_LIMITS.max_pixels / 1e6:.0f} MP an image may have."
        )


def _warm(image: Image.Image, percent: float) -> Image.Image:
    factor = 1 + percent / 200
    red = [min(255, round(level * factor)) for level in range(256)]
    # Blue is divided by red's factor, so warmer by N% and the change that takes it back are one operation apart:
    # red x1.1 and blue /1.1 are undone exactly by red /1.1 and blue x1.1 ("cooler by 9.1%").
    blue = [min(255, round(level / factor)) for level in range(256)]
    # one table for the three bands: no split, merge or copy of the image on the way
    return as_rgb(image).point(red + list(range(256)) + blue)


def as_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB, itself when it is (every operation here makes a new image and leaves its input as it was)."""
    return image if image.mode == "RGB" else image.convert("RGB")


# Pillow's ImageEnhance truncates its blend (101 x 0.99 gives 99), so each brightness, contrast or saturation edit
# took about half a level off every value, whichever way it went, and a long session of them drifted darker.

def _levels_scaled(image: Image.Image, factor: float, *, around: int) -> Image.Image:
    """Every value moved ``factor`` times as far from ``around`` (0: brightness; the mean grey: contrast), rounded."""
    table = [min(255, max(0, round(around + factor * (level - around)))) for level in range(256)]
    return as_rgb(image).point(table * 3)


def _mean_grey(image: Image.Image) -> int:
    """The grey level contrast is taken around: the mean luma, as ImageEnhance.Contrast takes it."""
    return int(ImageStat.Stat(image.convert("L")).mean[0] + 0.5)


_ROWS_AT_ONCE = 512
"""Saturation works on this many rows at a time, so that a 12 MP photo needs a few MB more, not a copy of it."""


def _saturated(image: Image.Image, factor: float) -> Image.Image:
    """Each pixel's values moved ``factor`` times as far from its own grey (ITU-R 601-2 luma), rounded: read from a
    table of every (value, grey) pair, which is exact and about as fast as Pillow's own blend."""
    levels = numpy.arange(256, dtype=float)
    table = numpy.clip(numpy.rint(levels[None, :] + factor * (levels[:, None] - levels[None, :])), 0, 255)
    table = table.astype(numpy.uint8).ravel()  # at value * 256 + grey
    rgb_image = as_rgb(image)
    grey_image = rgb_image.convert("L")
    result = Image.new("RGB", rgb_image.size)
    width, height = rgb_image.size
    for top in range(0, height, _ROWS_AT_ONCE):
        box = (0, top, width, min(height, top + _ROWS_AT_ONCE))
        rgb, grey = numpy.asarray(rgb_image.crop(box)), numpy.asarray(grey_image.crop(box))
        pairs = rgb.astype(numpy.uint16) << 8
        pairs |= grey[..., None]
        result.paste(Image.fromarray(table[pairs], "RGB"), box[:2])
    return result
