"""Contract-test mixins: every Editor and every Reasoner passes the same checks, plus its own.

Use them like diffusers' PipelineTesterMixin::

    class TestExactEditor(EditorContract):
        def make_editor(self):
            return ExactEditor()
        def sample_intent(self):
            return Intent(text="Rotate 90 degrees clockwise.")
"""

from __future__ import annotations

from PIL import Image

from edit_agent.errors import EditAgentError
from edit_agent.protocols import Editor, Reasoner
from edit_agent.records import EditorInfo, HistoryTurn, Intent, Thought, TurnRequest


def gradient_image(width: int, height: int) -> Image.Image:
    """A deterministic, non-uniform RGB test image (any size)."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256) for y in range(height) for x in range(width)]
    )
    return image


class EditorContract:
    """Checks every editor must pass. Override ``make_editor`` and, where needed, the samples."""

    odd_size: tuple[int, int] = (333, 517)

    def make_editor(self) -> Editor:
        raise NotImplementedError("subclasses return the editor under test")

    def sample_image(self, size: tuple[int, int]) -> Image.Image:
        return gradient_image(*size)

    def sample_intent(self) -> Intent:
        return Intent(text="Make it brighter.")

    def test_is_an_editor(self) -> None:
        editor = self.make_editor()
        assert isinstance(editor, Editor)
        info = editor.info()
        assert isinstance(info, EditorInfo)
        assert info.backend == editor.name

    def test_returns_rgb_of_input_size_for_odd_sizes(self) -> None:
        editor = self.make_editor()
        image = self.sample_image(self.odd_size)
        output = editor.edit(image, self.sample_intent(), seed=0)
        assert isinstance(output, Image.Image)
        assert output.mode == "RGB"
        assert output.size == image.size

    def test_deterministic_under_a_seed(self) -> None:
        editor = self.make_editor()
        image = self.sample_image((96, 96))
        first = editor.edit(image, self.sample_intent(), seed=1234)
        second = editor.edit(image, self.sample_intent(), seed=1234)
        assert first.tobytes() == second.tobytes()

    def test_does_not_modify_its_input(self) -> None:
        editor = self.make_editor()
        image = self.sample_image((96, 96))
        before = image.tobytes()
        editor.edit(image, self.sample_intent(), seed=0)
        assert image.tobytes() == before


class ReasonerContract:
    """Checks every reasoner must pass. Override ``make_reasoner`` and, where needed, the samples."""

    def make_reasoner(self) -> Reasoner:
        raise NotImplementedError("subclasses return the reasoner under test")

    def sample_image(self) -> Image.Image:
        return gradient_image(96, 96)

    def sample_instruction(self) -> str:
        return "make it brighter"

    def sample_history(self) -> tuple[HistoryTurn, ...]:
        return (
            HistoryTurn(turn_id="t1", instruction="rotate it 90 degrees", reasoning="", intent="Rotate 90 degrees clockwise."),
            HistoryTurn(turn_id="t2", instruction="make it grayscale", reasoning="", intent="Convert to grayscale."),
        )

    def request(self, instruction: str, history: tuple[HistoryTurn, ...] = ()) -> TurnRequest:
        image = self.sample_image()
        return TurnRequest(instruction=instruction, history=history, image=image, source_image=image)

    def test_is_a_reasoner(self) -> None:
        assert isinstance(self.make_reasoner(), Reasoner)

    def test_returns_a_self_contained_intent(self) -> None:
        thought = self.make_reasoner().reconstruct(self.request(self.sample_instruction()))
        assert isinstance(thought, Thought)
        assert thought.intent.text.strip()
        assert isinstance(thought.reasoning, str)

    def test_handles_history(self) -> None:
        thought = self.make_reasoner().reconstruct(
            self.request(self.sample_instruction(), self.sample_history())
        )
        assert thought.intent.text.strip()

    def test_deterministic(self) -> None:
        reasoner = self.make_reasoner()
        request = self.request(self.sample_instruction(), self.sample_history())
        assert reasoner.reconstruct(request) == reasoner.reconstruct(request)

    def test_unmappable_instruction_fails_clearly_or_falls_back(self) -> None:
        reasoner = self.make_reasoner()
        try:
            thought = reasoner.reconstruct(self.request("qzx vlorp the wibble"))
        except EditAgentError as error:
            assert str(error)
        else:
            assert thought.intent.text.strip()
