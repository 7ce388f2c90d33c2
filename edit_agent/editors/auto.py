"""The offline default editor: world canvases go to the world editor, other images to exact operations.

On a world canvas an intent in MICE-World language goes to the project's trained flow-matching editor
(``world``, weights shipped in the package); anything else, such as "rotate it", is tried as an exact
photo operation.

>>> from edit_agent.world import Scene, parse, render
>>> image = render(Scene(background="white"))
>>> out = AutoEditor().edit(image, Intent(text="Change the background to beige."))
>>> parse(out).background
'beige'
"""

from __future__ import annotations

import threading

from PIL import Image

from edit_agent.editors.program import ProgramEditor
from edit_agent.errors import EditAgentError
from edit_agent.protocols import Editor, draws_exactly
from edit_agent.records import EditorInfo, Intent
from edit_agent.world.canvas import is_world_canvas
from edit_agent.world.language import WorldLanguageError, parse_program
from edit_agent.world.parse import parse

DEFAULT_WORLD_EDITOR = "world"
"""``WorldEditor.name``, the editor built for world canvases unless one is given."""
DEFAULT_PHOTO_EDITOR = "exact"
"""``ExactEditor.name``, the editor built for everything else unless one is given."""


def is_world_language(text: str) -> bool:
    """True when ``text`` parses as MICE-World instructions (what the world editor was trained on)."""
    try:
        parse_program(text)
    except WorldLanguageError:
        return False
    return True


class AutoEditor:
    """Routes by the image: ``world`` editor (default: the trained world editor) for MICE-World canvases,
    ``photo`` editor (default: exact) otherwise, and also for a photo operation on a world canvas
    ("rotate it"): an intent the world language cannot parse.

    A world canvas's intent says exactly which scene it makes, so the world editor's image is checked against that
    scene: where it shows another (a shape the intent never names recoloured, a locked one enlarged), the exact
    render of the scene is given instead, and the turn's reasoning says so. Scoring the world editor itself is
    ``--editor world``'s work, which is not checked."""

    name = "auto"

    def __init__(self, *, world: Editor | None = None, photo: Editor | None = None) -> None:
        self._world = world
        self._photo = photo
        self._building = threading.Lock()  # shared by sessions: two first world turns load the model once
        self._this_thread = threading.local()  # what the last edit of this thread's session says of itself

    @property
    def world(self) -> Editor:
        with self._building:
            if self._world is None:
                from edit_agent.editors.world import WorldEditor

                self._world = WorldEditor()
        return self._world

    @property
    def photo(self) -> Editor:
        if self._photo is None:
            from edit_agent.editors.exact import ExactEditor

            self._photo = ExactEditor()
        return self._photo

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        self._this_thread.note = None
        if is_world_canvas(image) and is_world_language(intent.text):
            return self._checked(image, intent, self.world.edit(image, intent, seed=seed))
        return self.photo.edit(image, intent, seed=seed)

    def _checked(self, image: Image.Image, intent: Intent, drawn: Image.Image) -> Image.Image:
        """``drawn`` where it shows the scene ``intent`` makes of ``image``'s, else the exact render of that scene."""
        try:
            exact = ProgramEditor().edit(image, intent)
        except EditAgentError:  # no exact scene to check against: the world editor's image stands
            return drawn
        expected, shown = parse(exact), parse(drawn)
        if shown == expected:
            return drawn
        wrong = sum(a != b for a, b in zip(shown.slots(), expected.slots(), strict=True))
        self._this_thread.note = (
            f"The world editor's image did not show the scene the intent makes ({wrong} of its 10 slots, the nine cells "
            "and the background, differed), so the exact render of that scene is given instead.")
        return exact

    def draws_exactly(self, intent: Intent) -> bool:
        """Whether ``intent`` is drawn the same from the same image every time: a photo edit by an exact editor."""
        return not is_world_language(intent.text) and draws_exactly(self.photo, intent)

    def info(self) -> EditorInfo:
        # Names only: building the world editor loads torch and its weights, which a photo edit never needs.
        world = self._world.name if self._world is not None else DEFAULT_WORLD_EDITOR
        photo = self._photo.name if self._photo is not None else DEFAULT_PHOTO_EDITOR
        note = getattr(self._this_thread, "note", None)
        return EditorInfo(backend=self.name, extra={"world": world, "photo": photo, "exact_render_given": note is not None},
                          note=note)
