"""The ``auto`` reasoner's routing, and the ``world-lm`` reasoner loading a world LM folder."""

from __future__ import annotations

import pytest
from PIL import Image

from edit_agent.errors import ModelUnavailableError, UnsupportedInstructionError
from edit_agent.reasoners.auto import AutoReasoner
from edit_agent.reasoners.world_lm import WorldLMReasoner
from edit_agent.records import HistoryTurn, TurnRequest
from edit_agent.testing import ScriptedReasoner
from edit_agent.world import Scene, SceneObject, render

CANVAS = render(Scene(background="white", objects=(SceneObject(shape="circle", color="red", size="small", cell="center"),)))
PHOTO = Image.new("RGB", (64, 48), (120, 90, 60))


def request(instruction: str, image: Image.Image) -> TurnRequest:
    return TurnRequest(instruction=instruction, image=image, source_image=image)


def routed(instruction: str, image: Image.Image) -> tuple[int, str]:
    world = ScriptedReasoner(["from the world policy"])
    thought = AutoReasoner(world=world).reconstruct(request(instruction, image))
    return len(world.requests), thought.intent.text


def test_world_language_on_a_world_canvas_goes_to_the_world_policy() -> None:
    assert routed("move it to the top left", CANVAS) == (1, "from the world policy")


def test_a_canvas_undo_goes_to_the_rule_reasoner_which_names_the_turn_it_reverts() -> None:
    world = ScriptedReasoner(["from the world policy"])
    after_an_edit = TurnRequest(
        instruction="undo that", image=CANVAS, source_image=CANVAS,
        history=(HistoryTurn(turn_id="t1", instruction="make the circle blue", reasoning="", intent=""),),
    )
    thought = AutoReasoner(world=world).reconstruct(after_an_edit)
    assert world.requests == [] and thought.restores_turn == "t1"  # its stored image comes back exactly


def test_photos_and_photo_edits_on_a_canvas_go_to_the_rule_reasoner() -> None:
    assert routed("make it warmer", PHOTO) == (0, "Make the image warmer by 20%.")
    calls, intent = routed("rotate it 90 degrees", CANVAS)
    assert calls == 0 and intent.startswith("Rotate")
    world = ScriptedReasoner()
    with pytest.raises(UnsupportedInstructionError):  # world words on a photo are not a world turn
        AutoReasoner(world=world).reconstruct(request("move it to the top left", PHOTO))
    assert world.requests == []


def test_after_a_photo_edit_on_a_canvas_shape_turns_are_explained_not_sent_to_the_policy() -> None:
    world = ScriptedReasoner(["from the world policy"])
    after_photo_edit = TurnRequest(
        instruction="add a small circle", image=CANVAS, source_image=CANVAS,
        history=(HistoryTurn(turn_id="t1", instruction="make it warmer", reasoning="", intent=""),),
    )
    with pytest.raises(UnsupportedInstructionError, match="make it warmer"):
        AutoReasoner(world=world).reconstruct(after_photo_edit)
    assert world.requests == []


def test_world_lm_reasoner_needs_a_model_folder(tmp_path) -> None:
    with pytest.raises(ModelUnavailableError, match="No world policy"):
        WorldLMReasoner(tmp_path / "missing")


def test_without_world_policy_weights_world_turns_use_the_rule_reasoner(monkeypatch, tmp_path) -> None:
    import edit_agent.reasoners.world_lm as world_lm

    monkeypatch.setattr(world_lm, "WORLD_POLICY", tmp_path / "not-installed")
    thought = AutoReasoner().reconstruct(request("make the circle blue", CANVAS))
    assert thought.intent.text == "Recolor the small red circle at the center to blue."


def test_the_shipped_world_policy_loads_offline_and_writes_a_world_intent() -> None:
    from edit_agent.backends import make_reasoner
    from edit_agent.editors.auto import is_world_language

    reasoner = make_reasoner("world-lm")
    assert isinstance(reasoner, WorldLMReasoner) and WorldLMReasoner.availability() is None
    thought = AutoReasoner(world=reasoner).reconstruct(request("make the circle blue", CANVAS))
    assert not thought.fallback and is_world_language(thought.intent.text)
    assert "circle" in thought.intent.text and "blue" in thought.intent.text


@pytest.mark.parametrize("turn, refusal", [
    (request("move it to the top left", PHOTO), "MICE-World canvases only"),
    (request("make it warmer", CANVAS), "'make it warmer' is not one"),
    (TurnRequest(instruction="add a small circle", image=CANVAS, source_image=CANVAS,
                 history=(HistoryTurn(turn_id="t1", instruction="make it warmer", reasoning="", intent=""),)),
     "earlier turn \\('make it warmer'\\)"),
])
def test_world_lm_chosen_by_name_refuses_turns_it_was_not_trained_on(turn, refusal) -> None:
    from edit_agent.backends import make_reasoner

    reasoner = make_reasoner("world-lm")
    prompts: list = []
    reasoner.generate = lambda messages: prompts.append(messages) or "x"
    with pytest.raises(UnsupportedInstructionError, match=refusal):
        reasoner.reconstruct(turn)
    assert prompts == []  # refused before the model is asked to guess
    reasoner.reconstruct(request("make the circle blue", CANVAS))
    assert len(prompts) == 1


def test_an_undo_after_a_turn_drawn_unlike_the_rules_replay_says_what_giving_the_image_back_does(tmp_path) -> None:
    """The world policy read 'the square' as the circle; the rule reasoner's replay of the instruction recolours
    the square, and its undo intent named the square, while the stored image that came back changed the circle."""
    from edit_agent import EditSession
    from edit_agent.world import parse

    canvas = render(Scene(background="white", objects=(
        SceneObject(shape="circle", color="black", size="large", cell="top-left"),
        SceneObject(shape="square", color="red", size="large", cell="center"))))
    misreading = ScriptedReasoner(["Recolor the large black circle at the top left to blue."])
    session = EditSession(store=tmp_path, reasoner=AutoReasoner(world=misreading), editor="program")
    session.edit(canvas, "make the square blue")
    undone = session.edit(None, "undo that")
    assert parse(undone.image) == parse(canvas)  # the stored image, as before
    assert undone.intent == "Recolor the large blue circle at the top left to black."
    assert "what giving the stored image back does" in undone.reasoning
    assert "so it still applies" not in undone.reasoning


def test_an_undo_whose_replay_matches_the_images_keeps_the_rule_reasoners_intent(tmp_path) -> None:
    from edit_agent import EditSession

    session = EditSession(store=tmp_path, reasoner="rules", editor="program")
    session.edit(CANVAS, "move the circle to the top left")
    undone = session.edit(None, "undo that")
    assert undone.intent == "Move the small red circle at the top left to the center."
    assert "what giving the stored image back does" not in undone.reasoning


def test_the_world_policy_loads_without_a_progress_bar_and_leaves_the_bars_as_they_were(capfd) -> None:
    from transformers.utils import logging as transformers_logging

    WorldLMReasoner()
    assert "Loading weights" not in capfd.readouterr().err
    assert transformers_logging.is_progress_bar_enabled()
