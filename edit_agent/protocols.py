"""The two small Protocols every backend implements. The session never asks which one it holds."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PIL import Image

from edit_agent.records import EditorInfo, Intent, Thought, TurnRequest


@runtime_checkable
class Reasoner(Protocol):
    """Reconstructs the session intent of a turn from its raw history."""

    name: str

    def reconstruct(self, request: TurnRequest) -> Thought:
        """Return the reasoning trace and the self-contained intent for ``request.instruction``.

        Raise :class:`~edit_agent.errors.UnsupportedInstructionError` when the instruction cannot
        be carried out by this reasoner.
        """
        ...


@runtime_checkable
class Editor(Protocol):
    """Edits one image according to a self-contained intent."""

    name: str

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        """Return the edited RGB image, the same size as ``image``."""
        ...

    def info(self) -> EditorInfo:
        """Describe the backend (model, steps) for the turn record."""
        ...


def draws_exactly(editor: Editor, intent: Intent) -> bool:
    """Whether ``editor`` draws ``intent`` the same from the same image every time (an exact photo edit), as it says
    with an optional ``draws_exactly(intent)`` method; an editor that does not say is taken not to."""
    says = getattr(editor, "draws_exactly", None)
    return bool(says(intent)) if callable(says) else False
