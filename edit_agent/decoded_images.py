"""Stored images recently used, kept decoded for the whole process.

A turn's input is the image the previous turn wrote, and every turn reads its session's source: without
this, each turn decoded both PNGs again (about 150 ms each at 9 MP). Entries are keyed by file path and
checked against the file on every hit (inode, size, modification time: one ``stat``), so a file removed,
replaced or damaged since is read again, and fails as before. Callers get copies: one drawing on an image
cannot change what the next one reads.

The budget is one for the process (``EDIT_AGENT_IMAGE_CACHE_MB``, default 256; 0 turns it off), however
many stores it opens.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edit_agent.errors import InvalidArgumentError

BUDGET_VARIABLE = "EDIT_AGENT_IMAGE_CACHE_MB"
DEFAULT_BUDGET_MB = 256


@dataclass(frozen=True)
class _Entry:
    image: Image.Image
    identity: tuple[int, int, int]


def _identity(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_size, status.st_mtime_ns


def pixel_bytes(image: Image.Image) -> int:
    """What Pillow holds for an RGB image's pixels: four bytes each (RGB is padded to 32 bits)."""
    return image.width * image.height * 4


class DecodedImages:
    """Least recently used decoded RGB images, up to ``max_bytes`` of pixels; one image may take half."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def get(self, path: Path) -> Image.Image | None:
        """A copy of the image decoded from ``path``, if it is kept and the file is still the one it came from."""
        try:
            identity = _identity(path.stat())
        except OSError:
            self.discard(path)
            return None
        with self._lock:
            entry = self._entries.get(str(path))
            if entry is None:
                return None
            if entry.identity != identity:  # rewritten or replaced since: not the pixels it holds now
                self._drop(str(path))
                return None
            self._entries.move_to_end(str(path))
        return entry.image.copy()

    def put(self, path: Path, image: Image.Image) -> None:
        """Keep a copy of ``image``, the pixels of the file at ``path`` (as RGB, as the store reads them)."""
        if pixel_bytes(image) > self.max_bytes // 2:
            return
        try:
            identity = _identity(path.stat())
        except OSError:
            return
        kept = image.convert("RGB") if image.mode != "RGB" else image.copy()
        with self._lock:
            self._drop(str(path))
            self._entries[str(path)] = _Entry(kept, identity)
            self._bytes += pixel_bytes(kept)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def discard(self, path: Path) -> None:
        """Forget ``path`` (its file is being deleted)."""
        with self._lock:
            self._drop(str(path))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= pixel_bytes(entry.image)


_shared: DecodedImages | None = None
_shared_lock = threading.Lock()


def shared_decoded_images() -> DecodedImages:
    """The process's one cache (its budget read from ``EDIT_AGENT_IMAGE_CACHE_MB`` on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = DecodedImages(max_bytes=_budget_mb() * 2**20)
        return _shared


def _budget_mb() -> int:
    text = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not text:
        return DEFAULT_BUDGET_MB
    if not text.isdigit():
        raise InvalidArgumentError(f"{BUDGET_VARIABLE} must be a whole number of megabytes (0: off), not {text!r}.")
    return int(text)
