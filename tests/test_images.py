"""Safe image input: every entry point goes through load_image, so every bad kind is tested here."""

from __future__ import annotations

import io
import os
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.images import ImageLimits, load_image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width x height`` (what a decompression bomb looks like)."""
    return png_with_header(struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0), b"\0" * 64)


def png_with_header(header: bytes, rows: bytes) -> bytes:
    """A PNG file of this IHDR and these raw (filtered) rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((128, 128))


@pytest.mark.parametrize("width,height", [(50_000, 50_000), (10_000, 10_000), (7_000, 7_000)])
def test_an_image_over_the_pixel_limit_is_refused_before_decoding_with_one_message(width, height):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's own bomb warning would be a second message
        with pytest.raises(InvalidImageError, match=r"the limit is 40,000,000 pixels \(40 MP\)\. Resize it"):
            load_image(png_header_only(width, height))


def test_truncated_jpeg_is_an_error(photo):
    data = encoded(photo, "JPEG", quality=90)
    with pytest.raises(InvalidImageError, match="truncated|corrupt"):
        load_image(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "empty"),
        (np.random.default_rng(0).bytes(4096), "not a PNG"),
        (b"<!DOCTYPE html><html><body>not an image</body></html>", "HTML"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG"),
    ],
    ids=["zero-bytes", "random-bytes", "html", "svg"],
)
def test_non_images_are_rejected(data, match):
    with pytest.raises(InvalidImageError, match=match):
        load_image(data)


def test_html_saved_as_png_is_rejected_by_its_content(tmp_path):
    path = tmp_path / "photo.png"
    path.write_text("<html><head><title>404</title></head></html>")
    with pytest.raises(InvalidImageError, match="HTML"):
        load_image(path)


def test_tiff_is_rejected(photo):
    with pytest.raises(InvalidImageError, match="TIFF"):
        load_image(encoded(photo, "TIFF"))


def test_cmyk_becomes_rgb():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red ink-wise
    image = load_image(encoded(cmyk, "JPEG", quality=100))
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((8, 8))
    assert red > 200 and green < 40 and blue < 40


def test_16_bit_is_scaled_not_clipped():
    values = np.array([[0, 1000, 32768, 65535]] * 8, dtype=np.uint16)
    wide = Image.fromarray(np.repeat(values, 2, axis=1))
    assert wide.mode.startswith("I;16")
    image = load_image(encoded(wide, "PNG"))
    row = [image.getpixel((x, 0))[0] for x in (0, 2, 4, 6)]
    assert row == [0, 4, 128, 255]


def test_palette_with_transparency_goes_over_white():
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 0, 8, 16))
    image = load_image(encoded(palette, "PNG", transparency=0))
    assert image.getpixel((2, 2)) == (255, 0, 0)
    assert image.getpixel((12, 2)) == (255, 255, 255)


def test_rgba_alpha_goes_over_white():
    rgba = Image.new("RGBA", (16, 16), (0, 0, 255, 0))
    assert load_image(encoded(rgba, "PNG")).getpixel((0, 0)) == (255, 255, 255)



def test_an_rgb_png_with_a_transparent_colour_goes_over_white():
    keyed = Image.new("RGB", (16, 16), (0, 255, 0))
    keyed.paste((200, 10, 10), (0, 0, 8, 16))
    image = load_image(encoded(keyed, "PNG", transparency=(0, 255, 0)))  # tRNS: green is see-through
    assert image.getpixel((2, 2)) == (200, 10, 10) and image.getpixel((12, 2)) == (255, 255, 255)


def test_a_closed_pil_image_is_an_image_error_that_says_why(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (16, 16), "teal").save(path)
    with Image.open(path) as unread:
        pass  # the block ends before the pixels were read
    read = Image.open(path)
    read.load()
    read.close()  # read, then released
    never_read = Image.open(path)
    never_read.close()  # closed by hand before anything read it
    for image in (unread, read, never_read):
        with pytest.raises(InvalidImageError, match="closed before its pixels were read"):
            load_image(image)

def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = load_image(data)
    red, green, blue = image.getpixel((8, 8))
    assert red > 200 and green < 50 and blue < 50


def test_exif_orientation_is_applied_then_stripped(photo):
    wide = photo.resize((64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    image = load_image(encoded(wide, "JPEG", exif=exif.tobytes(), quality=95))
    assert image.size == (32, 64)
    assert "exif" not in image.info
    assert not image.getexif()


def test_a_callers_turned_image_is_turned_in_a_copy_and_an_upright_one_keeps_no_metadata(photo):
    wide = photo.resize((64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    given = Image.open(io.BytesIO(encoded(wide, "JPEG", exif=exif.tobytes(), quality=95)))
    given.load()
    assert load_image(given).size == (32, 64)
    assert given.size == (64, 32) and given.getexif()[0x0112] == 6  # the caller's image is left as it was
    exif[0x0112] = 1  # upright: nothing to turn, and still nothing of it is kept
    upright = Image.open(io.BytesIO(encoded(wide, "JPEG", exif=exif.tobytes(), quality=95)))
    loaded = load_image(upright)
    assert loaded.size == (64, 32) and not loaded.getexif() and loaded is not upright


def jpeg_with_a_malformed_exif_tag(image: Image.Image) -> tuple[bytes, bytes]:
    """``image`` as a JPEG turned by its EXIF orientation (6), and the same file with another tag made malformed:
    its Make (text) renumbered as ColorMap, a tag of numbers, as a broken camera or editor may write it."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Cam"
    sound = encoded(image, "JPEG", exif=exif.tobytes(), quality=95)
    broken = bytearray(sound)
    at = broken.find(b"\x01\x0f\x00\x02")  # the Make entry: tag 0x010F, type ASCII (little-endian)
    broken[at + 1] = 0x40  # tag 0x0140: ColorMap
    return sound, bytes(broken)


def test_a_photo_with_a_malformed_exif_tag_still_comes_upright(photo):
    sound, broken = jpeg_with_a_malformed_exif_tag(photo.resize((64, 32)))
    upright = load_image(sound)
    assert upright.size == (32, 64)
    assert load_image(broken).tobytes() == upright.tobytes()  # not refused, nor left lying on its side
    given = Image.open(io.BytesIO(broken))
    assert load_image(given).tobytes() == upright.tobytes()
    assert given.size == (64, 32)  # the caller's image is left as it was


def test_a_gif_whose_first_frame_is_larger_than_its_screen_is_refused():
    gif = (b"GIF89a" + struct.pack("<HHBBB", 16, 16, 0, 0, 0)  # a 16x16 screen, no colour table
           + b"," + struct.pack("<HHHHB", 0, 0, 20000, 20000, 0)  # whose first frame is 20000x20000
           + b"\x02\x02\x44\x01\x00;")
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        load_image(gif)


@pytest.mark.parametrize("size", [(1, 1), (100_000, 1)], ids=["1x1", "100000x1"])
def test_degenerate_sizes_are_rejected(size):
    with pytest.raises(InvalidImageError, match="at least 8 px|longest side"):
        load_image(encoded(Image.new("L", size), "PNG"))


def test_limits_are_configurable(photo):
    with pytest.raises(InvalidImageError, match="longest side may be at most 64"):
        load_image(photo, limits=ImageLimits(max_side=64))
    assert load_image(photo, limits=ImageLimits(max_side=128)).size == (128, 128)


def test_every_input_kind_gives_the_same_pixels(photo, tmp_path):
    path = tmp_path / "photo.png"
    photo.save(path)
    expected = photo.tobytes()
    for source in (photo, path, str(path), path.read_bytes(), bytearray(path.read_bytes()), np.asarray(photo)):
        image = load_image(source)
        assert image.mode == "RGB" and image.tobytes() == expected


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 2), np.uint8), np.zeros((8, 8, 3), np.float32),
                                 np.zeros((2, 8, 8, 3), np.uint8), np.zeros(8, np.uint8), 42, None])
def test_wrong_python_inputs_are_errors(bad):
    with pytest.raises(InvalidImageError):
        load_image(bad)


def test_grey_and_rgba_arrays_load_as_their_images_do():
    from skimage import data

    grey = data.camera()  # HxW
    assert load_image(grey).tobytes() == Image.fromarray(grey).convert("RGB").tobytes()
    assert load_image(grey[:, :, None]).tobytes() == load_image(grey).tobytes()  # HxWx1
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[:, :5] = (200, 10, 10, 255)  # left half opaque red, right half transparent
    loaded = load_image(rgba)
    assert loaded.size == (10, 8) and loaded.getpixel((0, 0)) == (200, 10, 10) and loaded.getpixel((9, 0)) == (255, 255, 255)
    assert loaded.tobytes() == load_image(Image.fromarray(rgba, mode="RGBA")).tobytes()


def test_an_empty_path_is_an_error_not_the_current_folder():
    with pytest.raises(InvalidImageError, match="The image path is empty"):
        load_image("")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(InvalidImageError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_a_path_from_the_home_folder_loads_as_store_and_output_paths_do(tmp_path, photo, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    photo.save(tmp_path / "x.png")
    assert load_image("~/x.png").size == photo.size


def test_a_file_whose_name_starts_with_a_tilde_loads_and_a_missing_one_is_not_found(tmp_path, photo, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photo.save(tmp_path / "~draft.png")
    assert load_image("~draft.png").size == photo.size
    with pytest.raises(InvalidImageError, match="not found"):
        load_image("~nobody-has-this-name/x.png")


def test_a_windows_drive_written_with_two_slashes_is_a_path_not_a_web_address(tmp_path, photo, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c:").mkdir()
    photo.save(tmp_path / "c:" / "x.png")
    assert load_image("c://x.png").size == photo.size


@pytest.mark.parametrize("address", ["http://example.com/a.png", "https://example.com/a.png?x=1"])
def test_a_web_address_is_told_to_be_one_not_a_missing_file(address):
    with pytest.raises(InvalidImageError, match=re.escape(f"{address} is a web address; download the image")):
        load_image(address)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_allowed_formats_load(photo, fmt):
    image = load_image(encoded(photo, fmt))
    assert image.size == photo.size and image.mode == "RGB"


def test_a_pipe_is_read_and_an_endless_device_is_cut_at_the_byte_limit(photo):
    import threading

    read_end, write_end = os.pipe()
    data = encoded(photo, "PNG")
    writer = threading.Thread(target=lambda: (os.write(write_end, data), os.close(write_end)))
    writer.start()
    try:
        assert load_image(f"/dev/fd/{read_end}").size == photo.size  # as in: cat photo.png | edit-agent edit /dev/stdin
    finally:
        writer.join()
        os.close(read_end)
    with pytest.raises(InvalidImageError, match="larger than the limit of 1 MiB"):  # not "1.0 MiB; the limit is 1"
        load_image("/dev/zero", limits=ImageLimits(max_bytes=2**20))  # would never end


def test_a_path_with_a_nul_byte_is_an_image_error():
    with pytest.raises(InvalidImageError, match="Cannot read"):
        load_image("a\x00b.png")


def test_a_lazily_opened_truncated_pil_image_is_an_image_error(tmp_path, photo):
    path = tmp_path / "cut.png"
    path.write_bytes(encoded(photo, "PNG")[:400])
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        load_image(Image.open(path))


def test_undecodable_data_gets_a_message_without_python_internals():
    with pytest.raises(InvalidImageError) as error:
        load_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    assert "BytesIO" not in str(error.value)


def test_premultiplied_la_becomes_rgb():
    assert load_image(Image.new("La", (16, 16))).mode == "RGB"


def _fixed(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def adobe_rgb_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Adobe RGB (1998)'s primaries (adapted to D50) and gamma 2.2."""

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + _fixed(x) + _fixed(y) + _fixed(z)

    def curve(gamma: float) -> bytes:
        return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)

    name = b"Adobe RGB (1998) compatible\0"
    description = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(8) + bytes(3) + bytes(67)
    tags = [(b"desc", description), (b"cprt", b"text" + bytes(4) + b"none\0"), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.60974, 0.31111, 0.01947)), (b"gXYZ", xyz(0.20528, 0.62567, 0.06087)),
            (b"bXYZ", xyz(0.14919, 0.06322, 0.74457))] + [(tag, curve(563 / 256)) for tag in (b"rTRC", b"gTRC", b"bTRC")]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        data += bytes(-(offset + len(data)) % 4)  # each tag starts on a 4-byte boundary
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0) + _fixed(0.9642) + _fixed(1.0) + _fixed(0.8249)
              + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_to_srgb(rgb: tuple[int, int, int]) -> np.ndarray:
    """What an Adobe RGB colour is in sRGB, from the two spaces' published D65 matrices (no lcms)."""
    linear = (np.array(rgb) / 255.0) ** (563 / 256)
    adobe_to_xyz = np.array([[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741],
                             [0.0270343, 0.0706872, 0.9911085]])
    xyz_to_srgb = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560],
                            [0.0556434, -0.2040259, 1.0572252]])
    srgb = np.clip(xyz_to_srgb @ adobe_to_xyz @ linear, 0, 1)
    encoded = np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055)
    return np.round(encoded * 255)


@pytest.mark.parametrize("colour", [(60, 160, 90), (200, 40, 40), (128, 128, 128)])
def test_colours_tagged_with_a_wide_gamut_profile_are_converted_to_srgb(colour, tmp_path):
    path = tmp_path / "adobe.png"
    Image.new("RGB", (8, 8), colour).save(path, icc_profile=adobe_rgb_profile())
    loaded = np.asarray(load_image(path))[0, 0].astype(int)
    assert np.abs(loaded - adobe_to_srgb(colour)).max() <= 2, (loaded, adobe_to_srgb(colour))
    assert "icc_profile" not in load_image(path).info  # stored as sRGB, untagged


def test_an_srgb_or_unreadable_profile_leaves_the_colours_as_they_are(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, profile in (("srgb.png", srgb), ("broken.png", b"not a profile at all" * 8)):
        Image.new("RGB", (8, 8), (60, 160, 90)).save(tmp_path / name, icc_profile=profile)
        assert load_image(tmp_path / name).getpixel((0, 0)) == (60, 160, 90)


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def test_only_an_8_bit_rgb_png_with_no_other_chunk_is_plain():
    from edit_agent.images import is_plain_rgb_png

    rgb = Image.new("RGB", (8, 8), (60, 160, 90))
    assert is_plain_rgb_png(_png(rgb))
    exif = Image.Exif()
    exif[0x0112] = 6  # an orientation load_image would apply
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("GPS", "48.8584 N, 2.2945 E")  # metadata a user may not know a photo carries
    sixteen_bit = struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0)
    for not_plain in (_png(rgb.convert("RGBA")), _png(rgb.convert("P")), _png(rgb, icc_profile=adobe_rgb_profile()),
                      _png(rgb, transparency=(60, 160, 90)), _png(rgb, exif=exif), _png(rgb, format="JPEG"),
                      _png(rgb, save_all=True, append_images=[rgb.copy()]), _png(rgb, pnginfo=text),
                      _png(rgb) + b"hidden after the end", png_with_header(sixteen_bit, b"\0" + b"\0" * 6),
                      b"not an image"):
        assert not is_plain_rgb_png(not_plain)


@pytest.mark.parametrize("size", [(1, 1), (3, 700), (700, 3), (257, 513)])  # 513 rows: over two blocks of rows
def test_the_stored_png_reads_back_as_the_same_pixels_and_is_plain(size):
    from edit_agent.images import encode_png, is_plain_rgb_png

    noise = np.random.default_rng(sum(size)).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    for image in (Image.fromarray(noise), Image.new("RGB", size, (60, 160, 90))):
        png = encode_png(image)
        decoded = Image.open(io.BytesIO(png))
        assert decoded.mode == "RGB" and decoded.size == size and decoded.tobytes() == image.tobytes()
        assert is_plain_rgb_png(png)


def test_a_wide_gamut_profile_whose_name_contains_srgb_is_still_converted(tmp_path):
    """e-sRGB is a wide-gamut space: only a profile named as sRGB itself is taken as sRGB."""
    profile = adobe_rgb_profile().replace(b"Adobe RGB (1998) compatible", b"e-sRGB wide gamut profile..")
    Image.new("RGB", (8, 8), (60, 160, 90)).save(tmp_path / "e-srgb.png", icc_profile=profile)
    assert load_image(tmp_path / "e-srgb.png").getpixel((0, 0)) != (60, 160, 90)


def test_the_content_hash_is_the_sha256_of_the_size_and_all_pixels_as_stores_have_it():
    """Hashed a strip at a time, the digest must stay the one every existing store names its files by."""
    import hashlib

    from edit_agent.images import image_hash

    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (700, 33, 3), dtype=np.uint8))
    whole = hashlib.sha256(b"RGB:33x700:" + image.tobytes()).hexdigest()
    assert image_hash(image) == whole
