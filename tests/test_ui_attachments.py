"""The message box's attachment is checked when attached: refused at once, or scaled down to fit when sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from edit_agent.errors import InvalidImageError
from edit_agent.image_fitting import size_to_fit
from edit_agent.images import ImageLimits, load_image
from ui.attachments import check_attachment, load_attachment

LIMITS = ImageLimits(max_side=400, max_pixels=100_000, max_bytes=2**20)
SCALABLE = ImageLimits(max_side=2000, max_pixels=1_000_000, max_bytes=2**20)


def photo(tmp_path: Path, size: tuple[int, int], name: str = "camera.jpg") -> str:
    path = tmp_path / "upload" / name
    path.parent.mkdir(exist_ok=True)
    Image.radial_gradient("L").resize(size).convert("RGB").save(path)
    return str(path)


def test_an_image_within_the_limits_is_kept_as_it_is(tmp_path: Path):
    path = photo(tmp_path, (300, 200))
    checked = check_attachment(path, LIMITS, SCALABLE)
    assert checked.refusal is None and checked.notice is None
    image, notice = load_attachment(path, LIMITS, SCALABLE)
    assert image.size == (300, 200) and notice is None


def test_a_photo_over_the_limits_is_kept_with_a_notice_and_scaled_to_fit_when_sent(tmp_path: Path):
    path = photo(tmp_path, (1200, 800))
    checked = check_attachment(path, LIMITS, SCALABLE)
    assert checked.refusal is None
    assert checked.notice == ("camera.jpg is 1200×800; it will be scaled down to 387×258 when sent, to fit this app's "
                              "limit of 0.1 megapixels and 400 px a side.")
    image, notice = load_attachment(path, LIMITS, SCALABLE)
    assert image.size == (387, 258)  # the pixel limit binds: 387 x 258 = 99,846
    assert load_image(image, limits=LIMITS).size == (387, 258)  # what the session checks it against
    assert notice is not None and "scaled down from 1200×800 to 387×258" in notice


def test_a_long_panorama_is_held_by_the_side_limit():
    assert size_to_fit((1600, 100), LIMITS) == (400, 25)
    assert size_to_fit((400, 250), LIMITS) is None


def test_a_strip_too_thin_to_scale_down_is_refused_as_it_is(tmp_path: Path):
    """Scaled to 400 px wide, a 2000x20 strip would be 4 px tall: under the 8 px an image needs."""
    checked = check_attachment(photo(tmp_path, (2000, 20)), LIMITS, SCALABLE)
    assert checked.refusal is not None and "2000" in checked.refusal


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b"%PDF-1.7 not an image", b""])
def test_a_file_that_is_no_usable_image_is_taken_out_with_the_reason(tmp_path: Path, content: bytes):
    path = tmp_path / "upload" / "holiday.png"
    path.parent.mkdir()
    path.write_bytes(content)
    checked = check_attachment(str(path), LIMITS, SCALABLE)
    assert checked.refusal is not None and "holiday.png" in checked.refusal and str(path.parent) not in checked.refusal
    with pytest.raises(InvalidImageError, match="holiday.png"):
        load_attachment(str(path), LIMITS, SCALABLE)


def test_a_photo_over_even_the_scalable_limits_is_refused(tmp_path: Path):
    checked = check_attachment(photo(tmp_path, (2100, 900)), LIMITS, SCALABLE)
    assert checked.refusal is not None and "2100" in checked.refusal


def test_a_usable_image_is_left_in_the_box_and_a_broken_one_is_named_for_the_page_to_take_out(tmp_path: Path):
    from ui.handlers import AppConfig, ChatApp

    app = ChatApp(AppConfig(store=tmp_path / "store", image_limits=LIMITS, scalable_limits=SCALABLE))
    fine = photo(tmp_path, (100, 80))
    refused, status = app.check_attachment({"text": "warmer", "files": [fine]})
    assert refused == "[]" and status.startswith("camera\\.jpg is attached: say what")  # Markdown
    from ui.views import EMPTY_STATUS

    assert app.check_attachment({"text": "warmer", "files": []})[1] == EMPTY_STATUS  # taken out: back to the start
    large = photo(tmp_path, (1200, 800), "large.jpg")  # stays, to be scaled when sent
    assert app.check_attachment({"text": "warmer", "files": [large]})[0] == "[]"
    broken = tmp_path / "upload" / "broken.png"
    broken.write_bytes(b"no image")
    with pytest.warns(UserWarning, match="broken.png"):  # outside a running app, gr.Warning warns
        refused, status = app.check_attachment({"text": "warmer", "files": [fine, {"path": str(broken)}]})
    # Only the refused image is named: the box itself is not sent back, so that what was typed meanwhile stays.
    assert json.loads(refused) == [str(broken)] and status.startswith("camera\\.jpg is attached")


def test_attaching_an_image_mid_session_says_that_sending_it_starts_a_new_one(tmp_path: Path, capsys):
    import gradio as gr

    from ui.handlers import AppConfig, ChatApp

    app = ChatApp(AppConfig(store=tmp_path / "store", image_limits=LIMITS, scalable_limits=SCALABLE))
    _, status = app.check_attachment({"text": "", "files": [photo(tmp_path, (100, 80))]},
                                     {"token": "t" * 32, "session_id": "a" * 32})
    # outside a running app, a notice is printed
    assert "Sending camera.jpg starts a new session; the one shown now is kept." in capsys.readouterr().out
    assert isinstance(status, type(gr.skip()))  # the status line keeps describing the session on the page


def test_the_app_takes_a_png_photo_larger_than_the_agent_tools_byte_limit(tmp_path: Path):
    """A 4.7 MP photo saved as PNG is about 14 MiB: within the app's pixel limits, so not refused for its bytes."""
    import numpy as np

    from edit_agent.session import EditSession
    from edit_agent.tools import TOOL_LIMITS
    from ui.handlers import AppConfig, ChatApp

    path = tmp_path / "screenshot.png"
    noise = np.random.default_rng(0).integers(0, 256, (1800, 2600, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, compress_level=1)
    assert path.stat().st_size > TOOL_LIMITS.max_bytes
    app = ChatApp(AppConfig(store=tmp_path / "store", editor="recording"))
    state = app.edit({"text": "make it warmer", "files": [str(path)]}, {"token": "t" * 40}, "rules", "recording")[0]
    assert EditSession.open(state["session_id"], store=tmp_path / "store").head.image.size == (2600, 1800)


def test_a_large_photo_sent_starts_a_session_from_its_scaled_copy(tmp_path: Path):
    from edit_agent.session import EditSession
    from ui.handlers import AppConfig, ChatApp

    app = ChatApp(AppConfig(store=tmp_path / "store", editor="recording", image_limits=LIMITS, scalable_limits=SCALABLE))
    sent = {"text": "make it warmer", "files": [photo(tmp_path, (1200, 800))]}
    state = app.edit(sent, {"token": "t" * 40}, "rules", "recording")[0]
    session = EditSession.open(state["session_id"], store=tmp_path / "store")
    assert session.source_image.size == (387, 258) and session.head.image.size == (387, 258)
