"""World reasoners and editors: contracts, the self-contained intent, routing, the SDK default."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from edit_agent.backends import (
    DEFAULT_EDITOR,
    EDITORS,
    REASONERS,
    make_editor,
    make_reasoner,
)
from edit_agent.editors.auto import AutoEditor
from edit_agent.editors.identity import IdentityEditor
from edit_agent.editors.program import ProgramEditor
from edit_agent.errors import InvalidInstructionError, UnsupportedInstructionError
from edit_agent.reasoners.passthrough import PassthroughReasoner
from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.records import HistoryTurn, Intent, TurnRequest
from edit_agent.world import (
    Scene,
    SceneObject,
    apply_program,
    generate_sessions,
    interpret,
    parse,
    render,
)
from tests.contracts import EditorContract, ReasonerContract

START = Scene(background="white", objects=(
    SceneObject(shape="circle", color="red", size="small", cell="top-left"),
    SceneObject(shape="square", color="blue", size="large", cell="center"),
))


def history(*instructions: str) -> tuple[HistoryTurn, ...]:
    return tuple(HistoryTurn(turn_id=f"t{i}", instruction=text, reasoning="", intent="") for i, text in enumerate(instructions))


class WorldReasonerSamples:
    def sample_image(self) -> Image.Image:
        return render(START)

    def sample_instruction(self) -> str:
        return "make it green"

    def sample_history(self) -> tuple[HistoryTurn, ...]:
        return history("move the circle right", "From now on, don't touch the square")


class TestRuleReasonerOnWorld(WorldReasonerSamples, ReasonerContract):
    def make_reasoner(self):
        return RuleReasoner()


class TestRuleReasonerOnPhotos(ReasonerContract):
    def make_reasoner(self):
        return RuleReasoner()


class TestPassthroughReasoner(WorldReasonerSamples, ReasonerContract):
    def make_reasoner(self):
        return PassthroughReasoner()


class WorldEditorSamples:
    def sample_image(self, size):
        return render(START, 96).resize(size, Image.Resampling.NEAREST)

    def sample_intent(self):
        return Intent(text="Recolor the small red circle at the top left to green.")


class TestProgramEditor(WorldEditorSamples, EditorContract):
    def make_editor(self):
        return ProgramEditor()


class TestIdentityEditor(WorldEditorSamples, EditorContract):
    def make_editor(self):
        return IdentityEditor()


class TestAutoEditorOnWorld(WorldEditorSamples, EditorContract):
    odd_size = (101, 98)  # a canvas is (nearly) square; a 333x517 image is routed as a photo

    def make_editor(self):
        return AutoEditor()


class TestAutoEditorOnPhotos(EditorContract):
    def make_editor(self):
        return AutoEditor()


def request(instruction: str, *earlier: str, image: Image.Image | None = None) -> TurnRequest:
    source = render(START)
    return TurnRequest(instruction=instruction, history=history(*earlier), image=image or source, source_image=source)


def test_rule_reasoner_resolves_and_explains():
    thought = RuleReasoner().reconstruct(request("make it green", "move the circle right", "From now on, don't touch the square"))
    assert thought.intent.text == "Recolor the small red circle at the top center to green."
    assert "'it' is the object edited by turn 1" in thought.reasoning
    assert [(c.kind, c.set_at_turn) for c in thought.intent.constraints] == [("lock", 2)]
    thought = RuleReasoner().reconstruct(request("make the square red", "From now on, don't touch the square"))
    assert thought.intent.text == "Make no change." and "locked" in thought.reasoning
    thought = RuleReasoner().reconstruct(request("undo", "make the square red", "make the circle green"))
    assert thought.intent.text == "Recolor the small green circle at the top left to red."
    assert "Undo reverts turn 2" in thought.reasoning


def test_rule_reasoner_notes_drift_and_still_applies():
    drifted = render(Scene(background="white", objects=START.objects[:1]))  # the square went missing
    thought = RuleReasoner().reconstruct(request("make the circle blue", image=drifted))
    assert "differs from the expected state" in thought.reasoning


def test_rule_reasoner_routes_photos_and_photo_edits_on_canvases():
    photo = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    thought = RuleReasoner().reconstruct(TurnRequest(instruction="rotate it 90 degrees", image=photo, source_image=photo))
    assert thought.intent.text.startswith("Rotate")
    thought = RuleReasoner().reconstruct(request("flip it horizontally"))
    assert "Flip" in thought.intent.text
    with pytest.raises(UnsupportedInstructionError):
        RuleReasoner().reconstruct(request("qzx vlorp the wibble"))


def test_after_a_photo_edit_on_a_canvas_shape_instructions_name_that_turn():
    with pytest.raises(UnsupportedInstructionError, match=r"earlier turn \('make it warmer'\) edited the whole picture as a photo"
                       ) as refused:
        RuleReasoner().reconstruct(request("add a small circle", "make it warmer"))
    assert "edit_image's image_id for agents" in str(refused.value)  # not only the app's timeline: agents read it too
    assert RuleReasoner().reconstruct(request("rotate it 90 degrees", "make it warmer")).intent.text.startswith("Rotate")


@pytest.mark.parametrize(("instruction", "intent"), [
    ("too bright", "Decrease the brightness by 20%."),
    ("make it square", "Crop to a centred square."),
])
def test_once_a_canvas_is_a_photo_everyday_photo_phrasings_read(instruction, intent):
    """They were refused with a message that said photo edits still work from there."""
    assert RuleReasoner().reconstruct(request(instruction, "rotate it 90 degrees")).intent.text == intent
    with pytest.raises(UnsupportedInstructionError):  # before, they may be about a shape ("the square")
        RuleReasoner().reconstruct(request(instruction))


def test_once_a_canvas_is_a_photo_a_correction_of_its_last_photo_edit_is_asked_as_on_a_photo():
    """'actually, make it darker' after a brightening was made on top of it, where on a photo it is asked."""
    with pytest.raises(InvalidInstructionError, match="sounds like a correction of the last edit"):
        RuleReasoner().reconstruct(request("actually, make it darker", "make it brighter"))
    assert RuleReasoner().reconstruct(request("wait, and rotate it 90 degrees", "make it brighter")).intent.text == (
        "Rotate the image 90 degrees clockwise.")


def test_the_first_photo_edit_of_a_canvas_says_its_shapes_are_then_no_longer_editable():
    first = RuleReasoner().reconstruct(request("make it warmer", "move the circle right"))
    assert first.reasoning.startswith("This is a photo edit of the whole canvas: after it, its shapes can no longer")
    later = RuleReasoner().reconstruct(request("rotate it 90 degrees", "make it warmer"))
    assert "This is a photo edit of the whole canvas" not in later.reasoning  # said once, at the turn that costs it


def test_text_a_canvas_does_not_understand_is_refused_with_what_it_does():
    with pytest.raises(UnsupportedInstructionError, match="say what to do with a shape .'add a small red circle"):
        RuleReasoner().reconstruct(request("too blue"))


@pytest.mark.parametrize(("instruction", "said"), [
    ("keep the background white", "say 'make the background white'"),  # no rule holds it: an edit changes it
    ("always use a white background", "say 'make the background white'"),
    ("give the background a sky colour", "say 'make the background sky'"),
    ("i want a gray background like the white one before", "say 'make the background gray'"),
    ("the background behind the white square should be gray", "say 'make the background' and the colour"),
])
def test_a_background_said_another_way_is_told_the_edit_with_the_colour_it_gave_it(instruction, said):
    with pytest.raises(UnsupportedInstructionError,
                       match=re.escape(f"changed by an edit of its own: {said} (white, gray, beige or sky)")):
        RuleReasoner().reconstruct(request(instruction))


@pytest.mark.parametrize("instruction", ["make the sky blue", "make the sky white", "turn the sky background gray"])
def test_the_background_named_as_an_object_is_refused_with_how_the_background_changes(instruction):
    with pytest.raises(UnsupportedInstructionError, match=r"The background is not an object: .* 'make the background"):
        RuleReasoner().reconstruct(request(instruction))


@pytest.mark.parametrize(("instruction", "first"), [
    ("make the red circle blue and move it left", "make the red circle blue"),
    ("move the circle left, then make it blue", "move the circle left"),
    ("remove the square and keep the background white", "remove the square"),
    ("add a red circle and a blue square", "add a red circle"),
])
def test_several_edits_in_one_instruction_are_refused_with_the_first_to_send_alone(instruction, first):
    with pytest.raises(UnsupportedInstructionError, match=f"one edit: send '{first}' first, then the next edit"):
        RuleReasoner().reconstruct(request(instruction))


def test_an_and_inside_one_edit_gets_no_hint_about_several_edits():
    with pytest.raises(UnsupportedInstructionError) as refused:  # the part before 'and' is no edit on its own
        RuleReasoner().reconstruct(request("make the circle and the square blue"))
    assert "one edit" not in str(refused.value)


@pytest.mark.parametrize(("instruction", "group"), [
    ("remove the yellow triangles", "'all yellow triangles' or 'every yellow triangle'"),
    ("make the red squares blue", "'all red squares' or 'every red square'"),
])
def test_several_objects_named_with_the_are_refused_with_how_to_name_a_group(instruction, group):
    with pytest.raises(UnsupportedInstructionError, match=f"To pick several objects, say {group}"):
        RuleReasoner().reconstruct(request(instruction))
    with pytest.raises(UnsupportedInstructionError) as counted:  # no group says how many: no 'all two triangles'
        RuleReasoner().reconstruct(request("remove the two yellow triangles"))
    assert "To pick several" not in str(counted.value)


def test_intent_alone_on_the_previous_target_gives_the_target():
    """Every construct the generator makes (references, groups, rules, locks, undo, restore, no-ops)."""
    reasoner = RuleReasoner()
    for session in generate_sessions(60, turns=(3, 10), seed=17):
        source = render(session.start)
        outcomes = interpret(session.start, [t.instruction for t in session.turns])
        previous = session.start
        for i, (turn, outcome) in enumerate(zip(session.turns, outcomes)):
            thought = reasoner.reconstruct(TurnRequest(
                instruction=turn.instruction, history=history(*[t.instruction for t in session.turns[:i]]),
                image=render(previous), source_image=source))
            assert thought.intent.text == outcome.intent
            assert apply_program(previous, thought.intent.text) == turn.target, (turn.instruction, thought.intent.text)
            previous = turn.target


def test_program_editor_applies_and_raises_on_other_language():
    out = ProgramEditor().edit(render(START, 48), Intent(text="Move the large blue square at the center to the bottom left."))
    assert out.size == (48, 48) and parse(out).object_at("bottom-left").shape == "square"
    with pytest.raises(UnsupportedInstructionError):
        ProgramEditor().edit(render(START), Intent(text="Rotate the image 90 degrees clockwise."))


def test_program_editor_cleans_noise():
    pixels = np.asarray(render(START), dtype=np.int16) + np.random.default_rng(0).integers(-15, 16, (96, 96, 3))
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    assert ProgramEditor().edit(noisy, Intent(text="Make no change.")).tobytes() == render(START).tobytes()


def test_auto_editor_routes_by_image():
    world = AutoEditor().edit(render(START), Intent(text="Change the background to beige."))
    assert parse(world).background == "beige"
    rotated = AutoEditor().edit(render(START), Intent(text="Rotate the image 90 degrees clockwise."))
    assert parse(rotated).object_at("top-right") is not None  # the exact editor rotated the canvas
    photo = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    assert AutoEditor().edit(photo, Intent(text="Rotate the image 90 degrees clockwise.")).size == (48, 64)



def test_a_photo_edit_through_the_auto_editor_never_builds_the_world_editor(tmp_path):
    from edit_agent.editors.exact import ExactEditor
    from edit_agent.editors.world import WorldEditor
    from edit_agent.session import EditSession

    session = EditSession(store=tmp_path, editor=AutoEditor())  # its own: the shared one may have built it
    result = session.edit(Image.linear_gradient("L").convert("RGB").resize((64, 48)), "rotate it 90 degrees")
    assert result.image.size == (48, 64)
    assert session.editor._world is None  # loading it costs torch and its weights: seconds, for nothing
    assert session.turn_records()[-1].editor.extra == {"world": WorldEditor.name, "photo": ExactEditor.name,
                                                       "exact_render_given": False}


def test_a_world_edit_that_shows_another_scene_than_its_intent_is_given_as_the_exact_render(tmp_path):
    """The trained world editor recoloured a red triangle the intent never named ("make all yellow triangles
    green"), and enlarged a locked one: the intent says the scene exactly, and the default editor now gives it."""
    from edit_agent.session import EditSession

    session = EditSession(store=tmp_path, editor=AutoEditor(world=IdentityEditor()))  # a world editor that fails
    result = session.edit(render(START), "make the red circle blue")
    assert parse(result.image) == apply_program(START, result.intent)
    assert "the exact render of that scene is given instead" in result.reasoning
    assert session.turn_records()[-1].editor.extra["exact_render_given"] is True


def test_a_world_edit_that_shows_its_intents_scene_is_the_world_editors_own(tmp_path):
    from edit_agent.session import EditSession

    session = EditSession(store=tmp_path, editor=AutoEditor(world=ProgramEditor()))  # right every time
    result = session.edit(render(START), "make the red circle blue")
    assert "exact render" not in result.reasoning
    assert session.turn_records()[-1].editor.extra["exact_render_given"] is False


def test_the_default_editor_leaves_shapes_the_intent_does_not_name(tmp_path):
    from edit_agent.samples import sample_image
    from edit_agent.session import EditSession

    source = parse(sample_image("world-0"))
    result = EditSession(store=tmp_path).edit("sample:world-0", "make all yellow triangles green")
    assert parse(result.image) == apply_program(source, result.intent)  # the red triangle stayed red

def test_registry_names_and_default():
    assert {"rules", "passthrough"} <= set(REASONERS) and {"program", "identity", "auto"} <= set(EDITORS)
    assert DEFAULT_EDITOR == "auto"
    assert isinstance(make_reasoner("rules"), RuleReasoner) and isinstance(make_reasoner("passthrough"), PassthroughReasoner)
    assert isinstance(make_editor("program"), ProgramEditor) and isinstance(make_editor("identity"), IdentityEditor)
    assert isinstance(make_editor(), AutoEditor)


def test_sdk_offline_default_edits_world_canvases(tmp_path):
    from edit_agent.session import EditSession

    session = EditSession(store=tmp_path)
    result = session.edit(render(START), "make the circle blue")
    assert result.intent == "Recolor the small red circle at the top left to blue."
    assert parse(result.image).object_at("top-left").color == "blue"
    result = session.edit(None, "From now on, every new shape must be small. Add a triangle at the bottom right.")
    assert parse(result.image).object_at("bottom-right").size == "small"
    assert [c.text for c in result.constraints] == ["every new shape must be small"]
    result = session.edit(None, "undo")
    assert parse(result.image) == parse(session.history[0].image)


def test_a_turn_with_the_identity_editor_says_the_image_was_left_unchanged(tmp_path):
    from edit_agent.session import EditSession

    image = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    result = EditSession(store=tmp_path, editor="identity").edit(image, "make it black and white")
    assert result.intent == "Convert the image to grayscale." and result.image.tobytes() == image.tobytes()
    assert result.reasoning.endswith("a baseline that returns the image unchanged.")


def test_the_program_editor_refuses_a_photo_as_the_world_editor_does():
    from skimage import data

    from edit_agent.records import Intent

    with pytest.raises(UnsupportedInstructionError, match="The program editor edits MICE-World canvases only"):
        ProgramEditor().edit(Image.fromarray(data.coffee()), Intent(text="Make the image warmer by 20%."))


def test_an_undo_on_a_canvas_gives_back_the_stored_image_exactly_not_a_redrawing(tmp_path):
    """A learned editor redraws what it is asked to restore, never quite as it was; the scene before the undone
    turn is known exactly, and so is the image the session stored for it."""
    from edit_agent import EditSession
    from edit_agent.testing import RecordingEditor
    from edit_agent.world import Scene, render

    def drifting(image, intent):  # every redrawing moves a few pixels, as a learned editor's does
        pixels = np.asarray(image).copy()
        pixels[::7, ::5] = 255 - pixels[::7, ::5]
        return Image.fromarray(pixels)

    session = EditSession(store=tmp_path, reasoner="rules", editor=RecordingEditor(drifting))
    canvas = render(Scene(background="white"), size=96)
    square = session.edit(canvas, "add a small blue square at the center").image
    session.edit(None, "from now on every new shape must be red")
    undone = session.edit(None, "undo that")  # reverts the rule: the picture is the one from before it
    assert undone.image.tobytes() == square.tobytes()
    again = session.edit(None, "undo that")  # reverts the square: back to the canvas as it came in
    assert again.image.tobytes() == session.source_image.tobytes()
    assert "given back as it was stored" in again.reasoning


@pytest.mark.parametrize(("typed", "said"), [
    ("add a squre at the center", "(Did you mean 'square' for 'squre'?)"),
    ("make the trinagle purpel", "(Did you mean 'triangle' for 'trinagle', 'purple' for 'purpel'?)"),
    ("remvoe the circle", "(Did you mean 'remove' for 'remvoe'?)"),
])
def test_a_canvas_refusal_says_which_word_a_typo_was_likely_meant_to_be(typed, said):
    with pytest.raises(UnsupportedInstructionError) as refused:
        RuleReasoner().reconstruct(request(typed))
    assert str(refused.value).endswith(said)


@pytest.mark.parametrize("typed", ["qzx vlorp the wibble", "make it pop while keeping the rest",
                                   "give the circle a chance", "print it",  # real words near world words
                                   "redo that"])  # told where redo is, not that 'redo' may be 'red'
def test_a_canvas_refusal_without_a_typo_suggests_no_word(typed):
    with pytest.raises(UnsupportedInstructionError) as refused:
        RuleReasoner().reconstruct(request(typed))
    assert "Did you mean" not in str(refused.value)


def test_a_move_typed_on_a_canvas_is_told_where_moves_are_not_a_word_it_might_mean():
    with pytest.raises(UnsupportedInstructionError) as refused:
        RuleReasoner().reconstruct(request("go back two steps"))
    assert "Did you mean" not in str(refused.value) and "the undo_edit and redo_edit tools" in str(refused.value)
