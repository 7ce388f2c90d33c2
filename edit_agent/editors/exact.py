"""Exact photo editor: applies the operations named by a self-contained intent, losslessly."""

from __future__ import annotations

from PIL import Image

from edit_agent.photo_ops import MAX_INTENT_OPERATIONS, apply_operations, as_rgb
from edit_agent.photo_parsing import parse_operations
from edit_agent.records import EditorInfo, Intent


class ExactEditor:
    """Applies rotate/flip/crop/resize/brightness/... exactly. Never drifts, zooms or shifts colour.

    The seed is accepted for the Protocol and ignored: the result is fully determined by the intent.
    Crop and resize change the size on purpose; every other operation keeps it.
    """

    name = "exact"

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        # no copy of an RGB image: apply_operations leaves its input as it was
        return apply_operations(as_rgb(image), parse_operations(intent.text, limit=MAX_INTENT_OPERATIONS))

    def draws_exactly(self, intent: Intent) -> bool:
        """Whether ``intent`` is drawn the same from the same image every time: always, here."""
        return True

    def info(self) -> EditorInfo:
        return EditorInfo(backend=self.name)
