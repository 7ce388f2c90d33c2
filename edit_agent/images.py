"""Safe image input: the one function every entry point uses to turn user input into an RGB image.

Rules, in order:

1. Bytes must start with the magic number of an allowed format (PNG, JPEG, WEBP, BMP, GIF);
   anything else (TIFF, SVG, HTML, random bytes, empty input) is rejected before decoding.
2. The header's size is checked against :class:`ImageLimits` *before* pixels are decoded, so a
   decompression bomb costs nothing; truncated files are errors, never half-grey images.
3. Animated images (GIF, APNG, WEBP) give their first frame.
4. EXIF orientation is applied; colours tagged with an ICC profile other than sRGB (Display P3, Adobe RGB,
   a CMYK press profile) are converted to sRGB; then all metadata is dropped, so every stored image is sRGB.
5. Modes become 8-bit RGB: 16-bit and 32-bit integer greyscale are scaled from 0..65535
   (``v * 255 / 65535``, rounded), not clipped; float images are taken as 0..1 when their maximum
   is <= 1, else clipped to 0..255; CMYK, palette and greyscale use Pillow's conversion; any
   alpha channel is composited over white.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edit_agent.errors import InvalidArgumentError, InvalidImageError, one_line
from edit_agent.folders import NAME_MAX

ImageInput = Image.Image | str | Path | bytes | bytearray | memoryview | np.ndarray

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_KNOWN_REJECTED = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
    (b"<!doctype html", "HTML"),
    (b"<html", "HTML"),
)


PILLOW_BOMB_PIXELS = 89_478_485
"""Pillow's default decompression-bomb threshold (a fixed number: code may set Image.MAX_IMAGE_PIXELS to None)."""

MAX_STORED_SIDE = 16384
"""The longest side a stored image may have."""


class ImageLimits(BaseModel):
    """Size limits applied to every input image (at most Pillow's bomb threshold and a 16384 px side:
    every image a session keeps must load again)."""

    model_config = ConfigDict(frozen=True)

    max_side: int = Field(8192, ge=1)
    """Longest allowed side in pixels (a 24 MP camera's 6000x4000 fits; the pixel limit binds first)."""
    max_pixels: int = Field(40_000_000, ge=1)
    """Largest allowed width x height."""
    min_side: int = Field(8, ge=1)
    """Shortest allowed side in pixels."""
    max_bytes: int = Field(64 * 1024 * 1024, ge=1)
    """Largest allowed encoded file."""

    def __init__(self, **limits: Any) -> None:
        try:
            super().__init__(**limits)
        except ValidationError as error:  # one EditAgentError, like every other bad argument
            raise InvalidArgumentError(f"Invalid image limits: {one_line(error)}.") from None
        if self.min_side > self.max_side:
            raise InvalidArgumentError(f"Invalid image limits: min_side {self.min_side} is over max_side {self.max_side}.")
        if self.max_pixels > PILLOW_BOMB_PIXELS or self.max_side > MAX_STORED_SIDE:
            raise InvalidArgumentError(
                f"Invalid image limits: at most {PILLOW_BOMB_PIXELS:,} pixels and {MAX_STORED_SIDE} px a side "
                "(larger images could not be stored and loaded again); resize such images first."
            )


DEFAULT_LIMITS = ImageLimits()

STORED_LIMITS = ImageLimits(min_side=1, max_side=MAX_STORED_SIDE, max_pixels=PILLOW_BOMB_PIXELS, max_bytes=1024 * 2**20)
"""What every stored image must fit: an editor's output, and each image of an imported export.
Wider than the input limits, since an edit may enlarge or shrink, but within Pillow's
decompression-bomb threshold, so that every stored image loads again."""


def load_image(source: ImageInput, *, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """Return ``source`` as a checked, metadata-free RGB image, or raise :class:`InvalidImageError`.

    >>> load_image(Image.new("RGBA", (16, 16), (0, 0, 0, 0))).getpixel((0, 0))
    (255, 255, 255)
    """
    if isinstance(source, Image.Image):
        check_image_size(source.size, limits)
        if isinstance(source, ImageFile.ImageFile) and source.tile:  # opened lazily: pixels still to decode
            _load_pixels(source, "given")
        return _to_rgb(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, limits)
    if isinstance(source, (str, Path)):
        if isinstance(source, str) and not source.strip():  # "" would read as the current folder
            raise InvalidImageError("The image path is empty.")
        if isinstance(source, str) and _URL.match(source):  # a path would fold its "//" and say "not found"
            raise InvalidImageError(f"{source} is a web address; download the image and give its file, or pass "
                                    "the image itself (PIL, numpy or bytes).")
        if isinstance(source, str) and _is_base64_text(source):
            raise InvalidImageError(f"The image path is {len(source):,} characters of base64 text, not a file name; "
                                    "pass the decoded bytes (base64.b64decode(text)), a PIL image or a file path.")
        return _from_bytes(read_image_file(_home_expanded(Path(source)), limits), limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source), limits)
    raise InvalidImageError(
        f"Unsupported image input of type {type(source).__name__}: pass a PIL image, a file path, "
        "bytes, or a uint8 array (HxW, HxWx3 or HxWx4)."
    )


def image_hash(image: Image.Image) -> str:
    """Content hash of an RGB image's pixels and size (the store's file name)."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    # A strip of rows at a time: the same bytes in the same order, without a second copy of the whole image
    # (tobytes() of a 40 MP photo held 229 MiB more while it joined its chunks).
    for top in range(0, image.height, _ROWS_PER_BLOCK):
        digest.update(image.crop((0, top, image.width, min(image.height, top + _ROWS_PER_BLOCK))).tobytes())
    return digest.hexdigest()


def encode_png(image: Image.Image) -> bytes:
    """A plain PNG of ``image`` (see :func:`is_plain_rgb_png` for an RGB one), encoded for speed over size."""
    if image.mode != "RGB":
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)  # level 1: several times faster than the default
        return buffer.getvalue()
    return _fast_rgb_png(image)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ROWS_PER_BLOCK = 256
"""Rows filtered and compressed at a time, each block's data a chunk of its own: a copy of the whole image would
take 36 MB more at 12 MP, and libpng warns of a single image-data chunk of a large photo."""


def _fast_rgb_png(image: Image.Image) -> bytes:
    """Every row stored as its difference from the row above (PNG's "Up" filter), compressed by zlib at level 1.
    Pillow tries every filter on every row: on a 12 MP photo that took 0.7-1.2 s, this 0.4-0.5 s, for files as
    large (zlib's run-length strategy would be faster still, but doubles the size of fine grey noise)."""
    width, height = image.size
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, filtered, no interlace
    png = io.BytesIO()  # its value is handed over without a copy: a list of parts joined would double the peak
    png.write(_PNG_SIGNATURE + _png_chunk(b"IHDR", header))
    compressor = zlib.compressobj(1)
    above = np.zeros((1, width * 3), dtype=np.uint8)  # the row above the first one, as the filter defines it
    for top in range(0, height, _ROWS_PER_BLOCK):
        rows = np.asarray(image.crop((0, top, width, min(height, top + _ROWS_PER_BLOCK)))).reshape(-1, width * 3)
        filtered = np.empty((len(rows), width * 3 + 1), dtype=np.uint8)
        filtered[:, 0] = 2  # each row's filter byte: Up
        np.subtract(rows[:1], above, out=filtered[:1, 1:])  # modulo 256, as the filter is defined
        np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
        above = rows[-1:]
        if compressed := compressor.compress(filtered.data):
            png.write(_png_chunk(b"IDAT", compressed))
    png.write(_png_chunk(b"IDAT", compressor.flush()) + _png_chunk(b"IEND", b""))
    return png.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(payload, zlib.crc32(kind)))


_PLAIN_PNG_CHUNKS = {b"IHDR", b"IDAT", b"IEND"}


def is_plain_rgb_png(data: bytes) -> bool:
    """Whether ``data`` is a PNG of 8-bit RGB pixels and nothing else: only the header, image data and end
    chunks (no profile, transparency, EXIF, text or animation) and nothing after the end. Its pixels are then
    exactly what it decodes to, under any version of these rules, and it carries no metadata, like every PNG
    the store writes. Read from the chunk headers, without decoding."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    position, types = 8, []
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind not in _PLAIN_PNG_CHUNKS:
            return False
        if kind == b"IHDR" and (length != 13 or data[position + 16:position + 18] != bytes([8, 2])):
            return False  # bit depth 8, colour type 2 (RGB)
        types.append(kind)
        position += 12 + length  # length, type, data, CRC
        if kind == b"IEND":
            break
    return position == len(data) and types[:1] == [b"IHDR"] and types[-1:] == [b"IEND"] and b"IDAT" in types


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+://")
"""A web address; a one-letter scheme is a Windows drive ("C://photos/x.png")."""


_BASE64_TEXT = re.compile(r"(?:data:image/[\w.+-]+;base64,)?[A-Za-z0-9+/\s]+={0,2}\s*\Z")
_BASE64_IMAGE_STARTS = ("data:image/", "iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR")
"""How a data URL, and PNG, JPEG, GIF and WebP data in base64, begin."""


def _is_base64_text(text: str) -> bool:
    """Image data sent as text where a path goes (base64, or a data URL): it begins as image data does, or a name in
    it is longer than any file's."""
    if _BASE64_TEXT.match(text) is None:
        return False
    return text.startswith(_BASE64_IMAGE_STARTS) or max(map(len, text.split("/"))) > NAME_MAX


def _home_expanded(path: Path) -> Path:
    """``~/x.png`` in the home folder, as store and output paths are; a file really named ``~draft.png`` stays."""
    if not str(path).startswith("~") or _exists(path):
        return path
    try:
        return path.expanduser()
    except RuntimeError:  # "~draft.png" names no user's home: the literal name, which is not found
        return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: no such file, which reading it then says
        return False


def read_image_file(path: Path, limits: ImageLimits) -> bytes:
    """The bytes of an image file, refused with one clear error when it is missing, a folder or over the size
    limit (checked before reading)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise InvalidImageError(f"Image file not found: {path}") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        shown = str(path).replace("\0", "\\0")
        raise InvalidImageError(f"Cannot read image file {shown}: {getattr(error, 'strerror', None) or error}") from None
    if stat.S_ISDIR(status.st_mode):
        raise InvalidImageError(f"{path} is a folder, not an image file.")
    if status.st_size > limits.max_bytes:
        raise InvalidImageError(
            f"Image file {path} is {status.st_size / 2**20:.1f} MiB; the limit is {limits.max_bytes / 2**20:.0f} MiB."
        )
    try:
        with path.open("rb") as file:
            # Capped: a pipe or device (/dev/stdin, /dev/zero) has no size to check first.
            return file.read(limits.max_bytes + 1)
    except OSError as error:
        raise InvalidImageError(f"Cannot read image file {path}: {error.strerror or error}") from None


def _sniff_format(data: bytes) -> str:
    if not data:
        raise InvalidImageError("The image is empty (0 bytes).")
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    head = data[:256].lstrip().lower()
    for magic, name in _KNOWN_REJECTED:
        if head.startswith(magic.lower()):
            raise InvalidImageError(
                f"{name} files are not accepted; use PNG, JPEG, WEBP, BMP or GIF."
            )
    raise InvalidImageError(
        "The data is not a PNG, JPEG, WEBP, BMP or GIF image (unrecognised file signature)."
    )


def _from_bytes(data: bytes, limits: ImageLimits) -> Image.Image:
    if len(data) > limits.max_bytes:
        raise InvalidImageError(
            f"The image data is larger than the limit of {limits.max_bytes / 2**20:g} MiB."
        )
    expected = _sniff_format(data)
    image = _open_without_pillows_size_check(data, expected)
    # The header is read; the pixels are not. Check the size before decoding anything.
    check_image_size(image.size, limits)
    try:
        image.seek(0)  # first frame of an animation
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidImageError(f"The {expected} image is truncated or corrupt: {error}") from None
    _load_pixels(image, expected)
    return _to_rgb(image, decoded_here=True)


def declared_size(data: bytes) -> tuple[int, int]:
    """The (width, height) that an image file's header declares, read without decoding its pixels;
    :class:`InvalidImageError` for data that is no image of an allowed format."""
    return _open_without_pillows_size_check(data, _sniff_format(data)).size


def _open_without_pillows_size_check(data: bytes, expected: str) -> Image.Image:
    """The file opened lazily (header read, pixels not) by Pillow's plugin for its format. Image.open would
    also warn (89 MP) or refuse (179 MP) by Pillow's own threshold before our size check names the limit,
    which every limit is below: so an image too large gets one message, ours."""
    Image.init()
    try:
        return Image.OPEN[expected][0](io.BytesIO(data))
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
        # Pillow's message names an internal BytesIO object; say what the caller can act on.
        raise InvalidImageError(f"Cannot decode the {expected} image: the data is not a readable {expected} file.") from None
    except Image.DecompressionBombError as error:  # a GIF's first frame larger than its header's size is read here
        raise InvalidImageError(f"Refusing a decompression bomb: {error}") from None


CLOSED_IMAGE = (
    "The image was closed before its pixels were read: use it inside its `with Image.open(...)` block "
    "(or call image.load() there), or pass the path instead."
)


def _load_pixels(image: Image.Image, kind: str) -> None:
    """Decode the pixels now, so that a truncated file is an error here, never half-grey pixels later."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise InvalidImageError("Pillow is set to load truncated images; refusing to guess pixels.")
    try:
        image.load()
    except AssertionError:  # Pillow asserts its file is open: a ``with Image.open(...)`` block has ended
        raise InvalidImageError(CLOSED_IMAGE) from None
    except Image.DecompressionBombError as error:
        raise InvalidImageError(f"Refusing a decompression bomb: {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        if "closed image" in str(error):  # Pillow's words for a file closed before its pixels were read
            raise InvalidImageError(CLOSED_IMAGE) from None
        raise InvalidImageError(f"The {kind} image is truncated or corrupt: {error}") from None


_ARRAY_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
"""Channels of a uint8 array -> its Pillow mode (grey, colour, colour with alpha; skimage.data has all three)."""


def _from_array(array: np.ndarray, limits: ImageLimits) -> Image.Image:
    channels = 1 if array.ndim == 2 else array.shape[2] if array.ndim == 3 else 0
    if channels not in _ARRAY_MODES or array.dtype != np.uint8:
        raise InvalidImageError(
            f"An array image must be uint8 HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA); got shape {array.shape} "
            f"and dtype {array.dtype}."
        )
    check_image_size((array.shape[1], array.shape[0]), limits)
    pixels = array.reshape(array.shape[:2]) if channels == 1 else array  # HxWx1 is grey too
    return _to_rgb(Image.fromarray(np.ascontiguousarray(pixels), mode=_ARRAY_MODES[channels]))


def check_image_size(size: tuple[int, int], limits: ImageLimits, *, advice: str = " Resize it before editing.") -> None:
    """Raise :class:`InvalidImageError` unless a ``size`` (width, height) fits ``limits``."""
    width, height = size
    if width * height > limits.max_pixels:
        raise InvalidImageError(
            f"The image is {width}x{height} ({width * height:,} pixels); the limit is "
            f"{limits.max_pixels:,} pixels ({limits.max_pixels / 1e6:g} MP).{advice}"
        )
    if max(width, height) > limits.max_side:
        raise InvalidImageError(
            f"The image is {width}x{height}; its longest side may be at most {limits.max_side} px."
        )
    if min(width, height) < limits.min_side:
        raise InvalidImageError(
            f"The image is {width}x{height}; each side must be at least {limits.min_side} px."
        )


def _to_rgb(image: Image.Image, *, decoded_here: bool = False) -> Image.Image:
    """``image`` as a fresh RGB image with no metadata, turned as its EXIF says. One ``decoded_here`` (from a file's
    bytes) is nobody else's: its pixels are let go once turned, where a caller's image is left as it was (a copy of
    a 40 MP photo is 150 MB more at the first turn)."""
    try:
        image = _upright(image, decoded_here=decoded_here)
    except ValueError as error:
        if "closed image" in str(error):  # Pillow's own words once close() has dropped the pixels
            raise InvalidImageError(CLOSED_IMAGE) from None
        raise InvalidImageError(f"Cannot apply the image's EXIF orientation: {error}") from None
    except (OSError, SyntaxError) as error:
        raise InvalidImageError(f"Cannot apply the image's EXIF orientation: {error}") from None
    image = _in_srgb(image)
    try:
        converted = _convert_mode(image)
    except ValueError as error:
        raise InvalidImageError(f"Cannot convert an image in mode {image.mode} to RGB: {error}") from None
    # A fresh image carries no EXIF, ICC or text chunks from the input.
    clean = Image.new("RGB", converted.size)
    clean.paste(converted)
    return clean


_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
"""The turn that makes an image of each EXIF orientation upright (1, and any other value, is upright already)."""


def _upright(image: Image.Image, *, decoded_here: bool) -> Image.Image:
    """``image`` turned as its EXIF orientation says; itself when there is nothing to turn (the fresh copy
    :func:`_to_rgb` makes is then the only one).

    Only the pixels are turned. Pillow's ``exif_transpose`` also writes the EXIF again without the orientation, and
    that fails (struct.error, TypeError) where another tag is malformed, as some cameras and editors write them: such
    a photo would be refused for metadata that is dropped anyway. Its orientation, which was read, still turns it,
    so it comes out upright, as viewers show it."""
    image.getpixel((0, 0))  # a closed image fails here, in Pillow's words, before anything else reads it
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    turn = _TURNS.get(orientation) if isinstance(orientation, int) else None
    if turn is None:
        return image
    upright = image.transpose(turn)
    if decoded_here:
        image.close()  # nobody else's: its pixels go now, not after the copy _to_rgb makes (150 MB more at 40 MP)
    return upright


_SRGB = ImageCms.createProfile("sRGB")
_PROFILED_MODES = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "L": "RGB"}
"""The modes whose embedded profile is applied, and the mode each becomes."""


def _in_srgb(image: Image.Image) -> Image.Image:
    """``image`` with its colours converted from its embedded ICC profile to sRGB.

    The profile is the only record of what the numbers mean: dropped without converting, a Display P3 or
    Adobe RGB photo would lose saturation. An image with no profile, an sRGB one, or one that lcms cannot
    read is taken as sRGB already, as browsers do."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in _PROFILED_MODES:
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if (ImageCms.getProfileDescription(profile) or "").strip().lower().startswith("srgb"):  # not "e-sRGB"
            return image
        converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=_PROFILED_MODES[image.mode])
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _convert_mode(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:  # an RGB PNG may still key one colour out (tRNS)
        return image
    if mode.startswith("I"):
        values = np.asarray(image, dtype=np.float64)
        return Image.fromarray(_scaled_uint8(values / 65535.0)).convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 1.0 if np.nanmax(values, initial=0.0) <= 1.0 else 255.0
        return Image.fromarray(_scaled_uint8(values / scale)).convert("RGB")
    if mode == "La":  # premultiplied; Pillow converts it to nothing but LA
        image, mode = image.convert("LA"), "LA"
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _scaled_uint8(unit: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(np.nan_to_num(unit), 0.0, 1.0) * 255.0).astype(np.uint8)
