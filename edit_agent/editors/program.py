"""Program editor for MICE-World: parse the image, apply the intent exactly, render.

With the rule reasoner it is the exact upper bound of the world benchmark.

>>> from edit_agent.world import Scene, parse, render
>>> image = render(Scene(background="white"), size=48)
>>> out = ProgramEditor().edit(image, Intent(text="Add a small blue square at the center."))
>>> [obj.describe() for obj in parse(out).objects]
['small blue square at the center']
"""

from __future__ import annotations

from PIL import Image

from edit_agent.errors import UnsupportedInstructionError
from edit_agent.records import EditorInfo, Intent
from edit_agent.world.canvas import is_world_canvas
from edit_agent.world.interpreter import apply_program
from edit_agent.world.parse import canvas_side, parse
from edit_agent.world.render import render


class ProgramEditor:
    """Deterministic; the seed is accepted for the Protocol and ignored.

    Raises :class:`~edit_agent.world.WorldLanguageError` (an UnsupportedInstructionError) when the
    intent is not MICE-World language.
    """

    name = "program"

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        side = max(48, canvas_side(*image.size))
        # A photo read as a scene would come back as a few shapes on a plain background.
        if not is_world_canvas(image.convert("RGB").resize((side, side), Image.Resampling.NEAREST)):
            raise UnsupportedInstructionError(
                "The program editor edits MICE-World canvases only; this image is not one. Use the auto, exact "
                "or a generative editor for photos.")
        scene = apply_program(parse(image), intent.text)
        output = render(scene, side)
        # a non-canvas input (odd size, not square) gets its own size back
        return output if output.size == image.size else output.resize(image.size, Image.Resampling.NEAREST)

    def info(self) -> EditorInfo:
        return EditorInfo(backend=self.name)
