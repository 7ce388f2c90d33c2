"""``hybrid``: exact operations when the intent maps completely to them, a generative editor otherwise.

An intent that :func:`edit_agent.photo_parsing.parse_operations` maps completely (rotate, crop,
brightness, ...) goes to the exact editor, which never drifts, zooms or shifts colour; any other
goes to the generative editor. The generative editor is built on first use, so exact edits work
even where its weights are not available. After each edit, ``last_route`` and ``info().extra``
say which path was taken and why (the session shows it beside the reasoning); both are kept per
thread, so sessions that share one hybrid editor each read the route of their own edit.

>>> from edit_agent.records import Intent
>>> from edit_agent.testing import RecordingEditor
>>> hybrid = HybridEditor(RecordingEditor())
>>> hybrid.route(Intent(text="Rotate the image 90 degrees clockwise.")).path
'exact'
>>> hybrid.route(Intent(text="Add a red hat to the dog.")).path
'generative'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image

from edit_agent.editors.exact import ExactEditor
from edit_agent.errors import EditAgentError, InvalidArgumentError, UnsupportedInstructionError
from edit_agent.photo_ops import MAX_INTENT_OPERATIONS, describe_operations
from edit_agent.photo_parsing import asks_for_nothing, parse_operations
from edit_agent.protocols import Editor
from edit_agent.records import EditorInfo, Intent


@dataclass(frozen=True)
class Route:
    path: str
    """``"exact"`` or ``"generative"``."""
    why: str


class HybridEditor:
    """Routes each intent to the exact editor or to a generative one.

    Args:
        generative: an editor object or a registered editor name (default ``qwen-image-edit``).
        **generative_options: keyword options for that editor's factory (``model=...`` etc.).
    """

    name = "hybrid"

    def __init__(self, generative: str | Editor = "qwen-image-edit", **generative_options: Any) -> None:
        from edit_agent.backends import check_backend_name

        # The name is checked now (the editor itself is built at the first generative turn): a typo
        # must not wait until turns have committed.
        check_backend_name(generative, "editor")
        if generative == "hybrid":
            raise InvalidArgumentError("The hybrid editor's generative editor cannot be another hybrid editor.")
        self.exact = ExactEditor()
        self._generative_spec = generative
        self._generative_options = generative_options
        self._generative: Editor | None = None if isinstance(generative, str) else generative
        self._this_thread = threading.local()
        self._building = threading.Lock()  # two first generative turns at once load its weights once

    @property
    def last_route(self) -> Route | None:
        """The route of the last edit this thread made (``None`` before its first)."""
        return getattr(self._this_thread, "route", None)

    @property
    def generative(self) -> Editor:
        """The generative editor, built on first use."""
        with self._building:
            if self._generative is None:  # the process's one instance: the same model may serve on its own too
                from edit_agent.backends import shared_editor

                self._generative = shared_editor(self._generative_spec, **self._generative_options)
        return self._generative

    def route(self, intent: Intent) -> Route:
        """Which editor ``intent`` goes to, and why."""
        try:
            operations = parse_operations(intent.text, limit=MAX_INTENT_OPERATIONS)
        except UnsupportedInstructionError as error:
            if asks_for_nothing(intent.text) is not None:
                raise  # "Thanks!", a question: no editor has work here, and a generative one would invent some
            return Route(
                "generative",
                f"Routed to the generative editor: the intent is not fully made of exact photo operations ({error}).",
            )
        return Route(
            "exact",
            "Routed to the exact editor: the intent maps completely to exact operations "
            f"({describe_operations(operations)}), which are lossless and never drift.",
        )

    def draws_exactly(self, intent: Intent) -> bool:
        """Whether ``intent`` is drawn the same from the same image every time: routed to exact operations."""
        try:
            return self.route(intent).path == "exact"
        except EditAgentError:
            return False

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        route = self.route(intent)
        editor = self.exact if route.path == "exact" else self.generative
        output = editor.edit(image, intent, seed=seed)
        self._this_thread.route = route
        return output

    def info(self) -> EditorInfo:
        last_route = self.last_route
        extra: dict[str, Any] = {}
        if last_route is not None:
            extra = {"route": last_route.path, "route_reason": last_route.why}
        generative = self._generative
        if last_route is not None and last_route.path == "generative" and generative is not None:
            inner = generative.info()
            extra["generative"] = inner.backend
            return EditorInfo(backend=self.name, model=inner.model, steps=inner.steps,
                              extra={**inner.extra, **extra}, note=_note(last_route))
        generative_name = self._generative_spec if isinstance(self._generative_spec, str) else generative.name
        return EditorInfo(backend=self.name, extra={**extra, "generative": generative_name}, note=_note(last_route))


def _note(route: Route | None) -> str | None:
    return None if route is None else f"Editor path: {route.path} ({route.why})."
