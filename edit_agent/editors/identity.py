"""Identity editor: returns the input unchanged (a baseline that scores perfect consistency only).

>>> from PIL import Image
>>> IdentityEditor().edit(Image.new("L", (5, 7)), Intent(text="anything")).mode
'RGB'
"""

from __future__ import annotations

from PIL import Image

from edit_agent.records import EditorInfo, Intent


class IdentityEditor:
    name = "identity"

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        return image.convert("RGB").copy()

    def info(self) -> EditorInfo:
        # Said beside the reasoning: the intent names an edit this editor does not make.
        return EditorInfo(backend=self.name, note="Editor: identity, a baseline that returns the image unchanged.")
