"""Image and export files the browser downloads, written inside Gradio's own file cache.

The store stays outside that cache and is never an allowed path; only copies made for display
or download land here, filed by content hash (so each is written once; a download keeps a readable name).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gradio.utils import get_upload_folder
from PIL import Image

THUMBNAIL_SIDE = 256
SMALLEST_THUMBNAIL_SIDE = 96
"""A tiny image (12x9) is enlarged, pixel by pixel, to at least this on its longer side: shown as it is, it
was a dot in the chat."""

Loader = Callable[[], Image.Image]


def cache_folder(*parts: str) -> Path:
    folder = Path(get_upload_folder()).joinpath("edit-agent", *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def full_image(digest: str, load: Loader, name: str, *, stored: Path | None = None) -> str:
    """A lossless PNG of the image with this hash, saved by the download button as ``name``.png: a copy of
    ``stored``, the store's PNG of it, where given (encoding a 12 MP photo again took most of a second a turn)."""
    path = cache_folder("images", digest[:32]) / f"{name}.png"
    if not path.exists():
        def write(target: Path) -> None:
            if stored is None or not _copied(stored, target):
                load().save(target, format="PNG", compress_level=1)

        _write_atomically(path, write)
    return str(path)


def _copied(source: Path, target: Path) -> bool:
    """Whether ``source`` was copied to ``target``: not where it is gone (its session deleted elsewhere since)."""
    try:
        shutil.copyfile(source, target)
    except FileNotFoundError:
        return False
    return True


def thumbnail(digest: str, load: Loader) -> str:
    """A small JPEG for the chat and the timeline."""
    path = cache_folder("thumbs") / f"{digest[:32]}.jpg"
    if not path.exists():
        def write(target: Path) -> None:
            image: Image.Image = load().copy()
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            if max(image.size) < SMALLEST_THUMBNAIL_SIDE:
                factor = math.ceil(SMALLEST_THUMBNAIL_SIDE / max(image.size))
                image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
            image.save(target, format="JPEG", quality=88)

        _write_atomically(path, write)
    return str(path)


def sample_file(name: str, load: Loader) -> str:
    path = cache_folder("samples") / f"{name}.png"
    if not path.exists():
        _write_atomically(path, lambda target: load().save(target, format="PNG"))
    return str(path)


def download_path(file_name: str) -> Path:
    """A fresh path in the cache for a download named ``file_name`` (one folder per request)."""
    return cache_folder("downloads", f"{time.time_ns()}") / file_name


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    # Concurrent requests may render the same image; a reader must never see half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

