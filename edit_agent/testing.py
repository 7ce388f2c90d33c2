"""Fakes for tests and demos: a scripted reasoner and a recording editor.

>>> from edit_agent import EditSession
>>> from PIL import Image
>>> editor = RecordingEditor()
>>> session = EditSession(store=getfixture("tmp_path"), reasoner=ScriptedReasoner(), editor=editor)
>>> session.edit(Image.new("RGB", (32, 32)), "make it pop").intent
'make it pop'
>>> [call.intent for call in editor.calls]
['make it pop']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PIL import Image

from edit_agent.records import EditorInfo, Intent, Thought, TurnRequest


class ScriptedReasoner:
    """Returns scripted thoughts in order; with no script (or once it runs out) it echoes the instruction."""

    name = "scripted"

    def __init__(self, script: Iterable[Thought | str] = ()) -> None:
        self._script = list(script)
        self.requests: list[TurnRequest] = []

    def reconstruct(self, request: TurnRequest) -> Thought:
        self.requests.append(request)
        if self._script:
            step = self._script.pop(0)
            if isinstance(step, Thought):
                return step
            return Thought(reasoning=f"Scripted intent: {step}", intent=Intent(text=step))
        return Thought(reasoning="Echoing the instruction.", intent=Intent(text=request.instruction))


@dataclass(frozen=True)
class EditorCall:
    size: tuple[int, int]
    intent: str
    seed: int | None


class RecordingEditor:
    """Records every call and returns ``transform(image)`` (a copy of the input by default).

    ``delay`` (seconds) makes each edit slow, for concurrency and crash tests.
    """

    name = "recording"

    def __init__(
        self,
        transform: Callable[[Image.Image, Intent], Image.Image] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        self.transform = transform
        self.delay = delay
        self.calls: list[EditorCall] = []
        self._lock = threading.Lock()

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        with self._lock:
            self.calls.append(EditorCall(size=image.size, intent=intent.text, seed=seed))
        if self.delay:
            time.sleep(self.delay)
        output = self.transform(image, intent) if self.transform else image.copy()
        return output.convert("RGB")

    def info(self) -> EditorInfo:
        return EditorInfo(backend=self.name)
