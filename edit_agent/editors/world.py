"""World editor: the project's own flow-matching editing model for MICE-World canvases.

It runs offline with the weights shipped in ``edit_agent/weights/`` (see the README there for the
command that reproduces them). The input is read as a scene (docs/world.md parsing) and drawn at the model's
canvas side, as it was trained on, then edited by integrating the model's flow from seeded noise.

The result is read back as a scene at the model's side and drawn again at the input's size (``redraw``, on by
default): the model's cells decide the scene and the renderer draws it, so a moved shape keeps smooth edges
instead of the model grid's stair-steps, at any canvas size (a side that is no multiple of the model's, 99 px,
no longer drops or doubles rows of cells). An exact render (the samples, world files, every earlier output)
keeps every pixel the edit did not touch; a canvas that was not one (a JPEG of one, a resized screenshot) comes
back as the exact render of the scene it shows, without its blur and fringes. With ``redraw=False`` the output is
the model's cells resampled to the input's size where they changed, and the input's own pixels elsewhere.

>>> from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
>>> from edit_agent.world import Scene, render
>>> editor = WorldEditor(FlowEditorModel(FlowEditorConfig.tiny()), steps=2)
>>> out = editor.edit(render(Scene(background="white"), 99), Intent(text="Change the background to gray."), seed=0)
>>> out.size, out.mode
((99, 99), 'RGB')
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from PIL import Image

from edit_agent.errors import InvalidArgumentError, ModelUnavailableError, UnsupportedInstructionError
from edit_agent.flow.canvas import from_model_canvas_keeping_input, to_model_canvas, to_pixels, to_tensor
from edit_agent.flow.model import FlowEditorModel
from edit_agent.flow.sampling import gated_edit
from edit_agent.records import EditorInfo, Intent
from edit_agent.world.canvas import is_world_canvas, render_at
from edit_agent.world.interpreter import NO_CHANGE_INTENT
from edit_agent.world.parse import parse
from edit_agent.world.render import render

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "world_editor.safetensors"
DEFAULT_STEPS = 1
"""ODE steps per edit, chosen from the steps-vs-quality table in evals/reports/world_editor_steps.md:
more steps score the same on world-test (SR@1 1.000, CC 1.000 at 1 to 16 steps) and cost linearly more."""


class WorldEditor:
    """The offline generative editor for world canvases.

    ``model`` is a path to weights saved by :meth:`FlowEditorModel.save`, an already built model, or
    ``None`` for the shipped weights. ``device`` defaults to CUDA when available. The same seed gives
    the same image (noise is drawn on the CPU, so also across devices up to float rounding).
    """

    name = "world"

    def __init__(self, model: str | Path | FlowEditorModel | None = None, *, steps: int = DEFAULT_STEPS,
                 device: str | torch.device | None = None, keep_unchanged: bool = True,
                 redraw: bool = True) -> None:
        if steps < 1:
            raise InvalidArgumentError(f"steps must be at least 1; got {steps}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if isinstance(model, FlowEditorModel):
            self.model = model.to(self.device).eval()
            self._source = "in-memory"
        else:
            path = Path(model) if model is not None else DEFAULT_WEIGHTS
            if path.is_dir():  # a training run's image folder: the weights it saved there
                path = path / DEFAULT_WEIGHTS.name
            if not path.exists() or not path.with_suffix(".json").exists():
                raise ModelUnavailableError(
                    f"World editor weights not found at {path} (and its .json config); train them with "
                    f"scripts/train_world_editor.py, and give the .safetensors file or the folder that holds "
                    f"{DEFAULT_WEIGHTS.name} (the editor's model: model= in Python, --model on the command line)."
                )
            self.model = FlowEditorModel.load(path, device=self.device)
            self._source = str(path.name)
        self.steps = steps
        self.keep_unchanged = keep_unchanged
        """Copy the input exactly wherever the model's change gate (at the last step) is below one half."""
        self.redraw = redraw
        """Draw the scene the result shows again at the input's size (off: the model's cells, resampled)."""

    @torch.no_grad()
    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        if intent.text.strip() == NO_CHANGE_INTENT:  # the model redraws at 48 px: a no-op would still move edges
            return image.convert("RGB").copy()
        canvas = self.model.config.canvas
        # It draws MICE-World cells: a photo would come back as a mosaic. Checked at the model's square
        # canvas, so that a canvas stretched to any size still counts.
        if not is_world_canvas(image.convert("RGB").resize((canvas, canvas), Image.Resampling.NEAREST)):
            raise UnsupportedInstructionError(
                "The world editor edits MICE-World canvases only; this image is not one. Use the auto, exact "
                "or a generative editor for photos.")
        # The scene drawn at the model's side, as it was trained on; shrunk by nearest neighbour, a canvas whose side
        # is no multiple of the model's (99 px, 201 px) lost or split cells, and shapes came back moved or merged.
        model_input = to_model_canvas(render(parse(image), canvas), canvas)
        condition = to_tensor(model_input).to(self.device)
        ids, mask = self.model.tokenizer([intent.text])
        ids, mask = ids.to(self.device), mask.to(self.device)
        text = self.model.encode_text(ids, mask)
        seed = seed if seed is not None else random.getrandbits(63)
        noise = torch.randn(condition.shape, generator=torch.Generator().manual_seed(seed)).to(self.device)

        result = gated_edit(self.model, condition, mask, text, noise, steps=self.steps,
                            keep_unchanged=self.keep_unchanged).sample
        # Resampled back whole, a large canvas's untouched shapes would come back as the model grid's stair-steps.
        edited = to_pixels(result)[0]
        if self.redraw:  # the scene the model drew, read at its own side, drawn crisply at the input's
            return render_at(parse(Image.fromarray(edited)), image.size)
        return from_model_canvas_keeping_input(image, model_input, edited)

    def info(self) -> EditorInfo:
        return EditorInfo(backend=self.name, model=self._source, steps=self.steps,
                          extra={"canvas": self.model.config.canvas, "sampler": "euler-ode",
                                 "keep_unchanged": self.keep_unchanged, "redraw": self.redraw})
