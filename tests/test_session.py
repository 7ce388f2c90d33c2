"""EditSession: the public API every face uses."""

from __future__ import annotations

import numpy
import pytest
from PIL import Image, ImageOps

from edit_agent import EditAgentError, EditResult, EditSession
from edit_agent.errors import (
    InvalidArgumentError,
    InvalidImageError,
    InvalidInstructionError,
    OutOfMemoryError,
    UnknownSessionError,
    UnknownTurnError,
    UnsupportedInstructionError,
)
from edit_agent.records import Intent, Thought
from edit_agent.testing import RecordingEditor, ScriptedReasoner


@pytest.fixture
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea()).resize((90, 60))


def inverting_editor() -> RecordingEditor:
    return RecordingEditor(lambda image, intent: ImageOps.invert(image))


def snapshot(session: EditSession):
    """Everything a failed edit must leave untouched."""
    head = session.head
    return (
        EditSession.list(store=session._store),
        [t.model_dump() for t in session.turn_records()],
        head.turn_id if head else None,
    )


def test_first_edit_returns_a_full_result(tmp_path, photo):
    session = EditSession(store=tmp_path)
    result = session.edit(photo, "  rotate it 90 degrees  ")
    assert isinstance(result, EditResult)
    assert result.image.mode == "RGB"
    assert result.image.tobytes() == photo.transpose(Image.Transpose.ROTATE_270).tobytes()
    assert result.instruction == "rotate it 90 degrees"
    assert result.intent == "Rotate the image 90 degrees clockwise."
    assert "exact operation" in result.reasoning
    assert result.session_id == session.id
    assert result.editor == "auto"  # the offline default: exact operations for photos
    assert result.seconds > 0
    assert [turn.turn_id for turn in session.history] == [result.turn_id]


@pytest.mark.parametrize("source", ["pil", "path", "bytes", "array"])
def test_image_may_be_given_in_every_supported_form(tmp_path, photo, source):
    import numpy as np

    path = tmp_path / "in.png"
    photo.save(path)
    given = {"pil": photo, "path": path, "bytes": path.read_bytes(), "array": np.asarray(photo)}[source]
    result = EditSession(store=tmp_path / "store").edit(given, "flip it vertically")
    assert result.image.tobytes() == photo.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes()


def test_later_turns_continue_from_the_head(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "crop to the left half")
    second = session.edit(None, "rotate 180 degrees")
    expected = photo.crop((0, 0, 45, 60)).transpose(Image.Transpose.ROTATE_180)
    assert second.image.tobytes() == expected.tobytes()


def test_first_turn_without_an_image_is_an_error(tmp_path):
    session = EditSession(store=tmp_path)
    with pytest.raises(InvalidImageError, match="first turn"):
        session.edit(None, "make it brighter")
    assert EditSession.list(store=tmp_path) == []


@pytest.mark.parametrize("instruction", ["", "   \n\t", "x" * 2001, None, 42])
def test_bad_instructions_are_rejected(tmp_path, photo, instruction):
    session = EditSession(store=tmp_path)
    session.edit(photo, "make it brighter")
    before = snapshot(session)
    with pytest.raises(InvalidInstructionError):
        session.edit(None, instruction)
    assert snapshot(session) == before


def test_an_instruction_of_2000_characters_is_accepted(tmp_path, photo):
    instruction = "make it brighter" + " " * 1970 + "please"
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    assert len(session.edit(photo, "x" * 2000).instruction) == 2000
    assert session.edit(None, instruction).instruction == instruction.strip()


def test_unmappable_instruction_leaves_the_session_unchanged(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "make it brighter")
    before = snapshot(session)
    with pytest.raises(UnsupportedInstructionError, match="generative editor"):
        session.edit(None, "make the cat wear a hat")
    assert snapshot(session) == before


def test_a_failing_editor_leaves_the_session_unchanged(tmp_path, photo):
    def explode(image, intent):
        if intent.text == "explode":
            raise RuntimeError("backend crashed")
        return image

    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor(explode))
    session.edit(photo, "fine")
    before = snapshot(session)
    with pytest.raises(EditAgentError, match="backend crashed"):
        session.edit(None, "explode")
    assert snapshot(session) == before


class CudaOutOfMemory(RuntimeError):
    """torch.cuda's out-of-memory error as the session sees it: by its name, without importing torch."""


CudaOutOfMemory.__name__ = "OutOfMemoryError"  # the name torch.cuda uses


@pytest.mark.parametrize(("failure", "told"), [
    (CudaOutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of device memory"),
    (MemoryError(), "out of memory on this machine"),  # host RAM: numpy and PIL raise it with no message
])
def test_out_of_memory_becomes_a_clear_error_and_the_next_turn_works(tmp_path, photo, failure, told):
    calls = []

    def flaky(image, intent):
        calls.append(intent.text)
        if len(calls) == 2:
            raise failure
        return image

    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor(flaky))
    session.edit(photo, "one")
    before = snapshot(session)
    with pytest.raises(OutOfMemoryError, match=f"{told}; memory was freed"):
        session.edit(None, "two")
    assert snapshot(session) == before
    assert session.edit(None, "three").instruction == "three"


def test_reasoner_sees_the_raw_history_and_editor_gets_the_intent(tmp_path, photo):
    reasoner = ScriptedReasoner([
        Thought(reasoning="first", intent=Intent(text="A")),
        Thought(reasoning="second", intent=Intent(text="B")),
    ])
    editor = RecordingEditor()
    session = EditSession(store=tmp_path, reasoner=reasoner, editor=editor)
    session.edit(photo, "make the car red")
    result = session.edit(None, "and keep it so")
    assert [c.intent for c in editor.calls] == ["A", "B"]
    assert [h.instruction for h in reasoner.requests[1].history] == ["make the car red"]
    assert reasoner.requests[1].history[0].intent == "A"
    assert reasoner.requests[1].source_image.tobytes() == photo.tobytes()
    assert (result.reasoning, result.intent, result.instruction) == ("second", "B", "and keep it so")


def test_undo_redo_and_history(tmp_path, photo):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=inverting_editor())
    assert session.history == [] and session.undo() is None and session.redo() is None
    first = session.edit(photo, "one")
    second = session.edit(None, "two")
    assert [t.turn_id for t in session.history] == [first.turn_id, second.turn_id]
    assert session.undo().turn_id == first.turn_id
    assert session.undo() is None  # back at the source image
    assert session.history == []
    assert session.undo() is None  # nothing left to undo: unchanged
    assert session.redo().turn_id == first.turn_id
    assert session.redo().turn_id == second.turn_id
    assert session.redo().turn_id == second.turn_id  # nothing to redo: the head stays
    assert len(session.turns) == 2


def test_can_undo_and_can_redo_say_whether_the_head_would_move(tmp_path, photo):
    session = EditSession(store=tmp_path)
    assert not session.can_undo and not session.can_redo  # no turn yet
    session.edit(photo, "make it brighter")
    assert session.can_undo and not session.can_redo
    session.undo()
    assert not session.can_undo and session.can_redo  # at the source, the turn is ahead


def test_edit_after_undo_continues_from_the_undone_head(tmp_path, photo):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=inverting_editor())
    session.edit(photo, "one")
    session.edit(None, "two")
    session.undo()
    session.undo()
    third = session.edit(None, "three")  # from the source image again
    assert third.image.tobytes() == ImageOps.invert(photo).tobytes()
    assert [t.instruction for t in session.history] == ["three"]
    assert len(session.turns) == 3


def test_again_right_after_an_undo_is_asked_and_after_an_edit_repeats(tmp_path, photo):
    """Right after an undo the history ends before the undone edit, so 'again' would repeat the one before it."""
    session = EditSession(store=tmp_path)
    session.edit(photo, "make it brighter")
    session.edit(None, "crop to a square")
    session.undo()
    head = session.head.turn_id
    with pytest.raises(InvalidInstructionError, match="redo brings back the undone edit"):
        session.edit(None, "again")
    assert session.head.turn_id == head and len(session.turns) == 2
    session.redo()
    assert session.edit(None, "do it again").intent == "Crop to a centred square."


def test_checkout_branches_and_redo_follows_the_last_visited_child(tmp_path, photo):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=inverting_editor())
    first = session.edit(photo, "one")
    session.edit(None, "two")
    session.checkout(first.turn_id)
    branch = session.edit(None, "branch")
    assert [t.instruction for t in session.history] == ["one", "branch"]
    records = {r.id: r for r in session.turn_records()}
    assert records[branch.turn_id].parent_id == first.turn_id
    assert [t.instruction for t in session.turns] == ["one", "two", "branch"]
    session.undo()
    assert session.redo().turn_id == branch.turn_id
    with pytest.raises(UnknownTurnError, match="nope"):
        session.checkout("nope")
    assert session.checkout(None) is None and session.history == []  # back to the source image
    assert session.edit(None, "from the source").image.tobytes() == ImageOps.invert(photo).tobytes()


@pytest.mark.parametrize("back_to_source", [False, True], ids=["checkout-the-turn", "checkout-the-source"])
def test_redo_after_a_checkout_to_an_ancestor_goes_toward_where_the_head_last_was(tmp_path, photo, back_to_source):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=inverting_editor())
    first = session.edit(photo, "one")
    session.edit(None, "two")
    deep = session.edit(None, "three")
    session.checkout(first.turn_id)
    session.edit(None, "branch")  # a sibling of "two", made after it
    session.checkout(deep.turn_id)  # the head was last here, past "two"
    if back_to_source:
        session.checkout(None)
        assert session.redo().turn_id == first.turn_id
    else:
        session.checkout(first.turn_id)
    assert [session.redo().instruction, session.redo().instruction] == ["two", "three"]  # not "branch"
    session.checkout(None)  # and through a session's export, the same
    imported = EditSession.import_folder(session.export(tmp_path / "export").parent, store=tmp_path / "other")
    assert [imported.redo().instruction for _ in range(3)] == ["one", "two", "three"]


def test_edit_from_an_earlier_turn_branches_there_with_that_turns_history(tmp_path, photo):
    reasoner = ScriptedReasoner()
    session = EditSession(store=tmp_path, reasoner=reasoner, editor=inverting_editor())
    first = session.edit(photo, "one")
    second = session.edit(None, "two")
    branch = session.edit(None, "branch", from_turn=first.turn_id)
    assert [t.instruction for t in reasoner.requests[-1].history] == ["one"]  # not "two": it is not on the branch
    assert branch.image.tobytes() == photo.tobytes()  # the inverse of turn one's image, not of turn two's
    assert {r.id: r.parent_id for r in session.turn_records()}[branch.turn_id] == first.turn_id
    assert session.head.turn_id == branch.turn_id
    session.undo()
    assert session.redo().turn_id == branch.turn_id
    assert second.turn_id in {t.turn_id for t in session.turns}


def test_a_refused_edit_from_an_earlier_turn_changes_nothing(tmp_path, photo):
    def refuse(image, intent):
        raise InvalidInstructionError("refused")

    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=inverting_editor())
    first = session.edit(photo, "one")
    second = session.edit(None, "two")
    session.undo()  # the head is at one, and redo would go to two
    before = session.turn_records()
    refusing = EditSession.open(session.id, store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor(refuse))
    with pytest.raises(InvalidInstructionError):
        refusing.edit(None, "refused", from_turn=second.turn_id)
    assert session.turn_records() == before and session.head.turn_id == first.turn_id
    assert session.redo().turn_id == second.turn_id


@pytest.mark.parametrize(("from_turn", "error"), [("nope", UnknownTurnError), (7, EditAgentError)])
def test_edit_from_a_turn_that_is_not_in_the_session_is_an_error(tmp_path, photo, from_turn, error):
    other = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    foreign = other.edit(photo, "elsewhere").turn_id
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    with pytest.raises(UnknownTurnError):
        session.edit(None, "a", from_turn=foreign)  # no turns yet, and not this session's
    session.edit(photo, "a")
    for bad in (foreign, from_turn):
        with pytest.raises(error if bad == from_turn else UnknownTurnError):
            session.edit(None, "b", from_turn=bad)
    with pytest.raises(EditAgentError, match="one of an image, from_turn or from_source"):
        session.edit(photo, "b", from_turn=session.head.turn_id)
    assert [t.instruction for t in session.turns] == ["a"]


def test_edit_from_the_source_branches_there_in_one_step(tmp_path, photo):
    session = EditSession(store=tmp_path)
    first = session.edit(photo, "rotate it 90 degrees")
    with pytest.raises(UnsupportedInstructionError):
        session.edit(None, "make the car red", from_source=True)
    assert session.head.turn_id == first.turn_id  # refused: the head did not move to the source
    branched = session.edit(None, "make it brighter", from_source=True)
    assert branched.image.size == photo.size and session.turn_records()[-1].parent_id is None
    with pytest.raises(InvalidArgumentError, match="one of"):
        session.edit(None, "blur it", from_source=True, from_turn=first.turn_id)
    with pytest.raises(InvalidImageError, match="needs an image"):
        EditSession(store=tmp_path).edit(None, "blur it", from_source=True)


def test_undo_step_says_whether_the_head_moved(tmp_path, photo):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    first = session.edit(photo, "one")
    session.edit(None, "two")
    moved, head = session.undo_step()
    assert moved and head.turn_id == first.turn_id == session.head.turn_id
    assert session.undo_step() == (True, None)
    assert session.undo_step() == (False, None)


def test_checkout_of_another_sessions_turn_is_an_error(tmp_path, photo):
    one = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    two = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    turn = one.edit(photo, "a").turn_id
    two.edit(photo, "b")
    with pytest.raises(UnknownTurnError):
        two.checkout(turn)


def test_after_a_branch_rules_name_the_turn_by_the_number_the_session_shows(tmp_path, photo):
    session = EditSession(store=tmp_path, editor="exact")
    first = session.edit(photo, "make it black and white")
    session.edit(None, "rotate it 90 degrees")
    session.edit(None, "make it brighter")
    ruled = session.edit(None, "from now on keep it square", from_turn=first.turn_id)  # #4, second on its branch
    assert [turn.seq for turn in session.turn_records()][-1] == 4
    assert [(c.text, c.set_at_turn) for c in ruled.constraints] == [("the image stays square", 4)]
    assert "turn 4" in ruled.reasoning and "turn 2" not in ruled.reasoning
    later = session.edit(None, "rotate it 90 degrees")
    assert [c.set_at_turn for c in later.constraints] == [4] and "In force from turn 4" in later.reasoning


def test_after_a_branch_world_rules_name_the_turn_by_the_number_the_session_shows(tmp_path):
    from edit_agent.world import Scene, SceneObject, render

    circle = SceneObject(shape="circle", color="red", size="large", cell="center")
    canvas = render(Scene(background="white", objects=(circle,)), 96)
    session = EditSession(store=tmp_path, editor="program")
    first = session.edit(canvas, "make the circle blue")
    session.edit(None, "move the circle to the top left")
    ruled = session.edit(None, "from now on, every new shape must be green", from_turn=first.turn_id)
    assert [(c.kind, c.set_at_turn) for c in ruled.constraints] == [("default", 3)]
    assert 'Turn 3 (rule): "from now on' in ruled.reasoning  # the trace's numbers are the session's too
    added = session.edit(None, "add a small square")  # #4, third on its branch
    assert 'Turn 4 (add): "add a small square"' in added.reasoning
    assert "the rule of turn 3 makes it green" in added.reasoning and "turn 2" not in added.reasoning
    assert "(turn 3)" in added.reasoning.split("In force after this turn:")[1]


def test_sessions_reopen_by_id_and_list(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "make it brighter")
    session.edit(None, "rotate left")
    other = EditSession(store=tmp_path)
    other.edit(photo, "blur it")
    assert EditSession.list(store=tmp_path) == [session.id, other.id]
    reopened = EditSession.open(session.id, store=tmp_path)
    assert [t.intent for t in reopened.history] == [t.intent for t in session.history]
    assert reopened.history[-1].image.tobytes() == session.history[-1].image.tobytes()
    assert reopened.edit(None, "flip it vertically").intent == "Flip the image vertically."


def test_a_deleted_session_is_gone_and_the_object_can_start_again(tmp_path, photo):
    session = EditSession(store=tmp_path)
    session.edit(photo, "rotate it 90 degrees")
    kept = EditSession(store=tmp_path)
    kept.edit(photo, "make it brighter")
    session.delete()
    assert EditSession.list(store=tmp_path) == [kept.id] and session.history == []
    with pytest.raises(UnknownSessionError):
        session.delete()
    assert session.edit(photo, "blur it").instruction == "blur it"  # a new session under the same id


def test_open_unknown_session_is_an_error(tmp_path):
    with pytest.raises(UnknownSessionError, match="no-such-id"):
        EditSession.open("no-such-id", store=tmp_path)


def test_a_session_starts_from_a_bundled_sample_by_name(tmp_path):
    """As the command line and the app's Samples do: a world canvas goes to the world backends."""
    from edit_agent.samples import sample_image
    from edit_agent.world import parse

    session = EditSession(store=tmp_path)
    result = session.edit("sample:world-1", "make the background white")
    assert session.source_image.tobytes() == sample_image("world-1").tobytes()
    assert parse(result.image).background == "white"
    assert session.edit("sample:coffee", "flip it horizontally").image.size == sample_image("coffee").size
    with pytest.raises(InvalidImageError, match="world-0"):  # the names to choose from
        session.edit("sample:world-9", "make it warmer")


def test_open_takes_the_id_as_the_app_shows_it(tmp_path, photo):
    """The status line and My sessions show an id's first eight characters."""
    session = EditSession(store=tmp_path)
    session.edit(photo, "make it warmer")
    assert EditSession.open(session.id[:8], store=tmp_path).id == session.id
    assert EditSession.open(session.id[:8].upper(), store=tmp_path).head.instruction == "make it warmer"
    assert EditSession.open(f" {session.id[:8]} ", store=tmp_path).id == session.id  # copied with spaces
    assert EditSession.open(f"{session.id}\n", store=tmp_path).id == session.id
    with pytest.raises(UnknownSessionError, match=f"give at least 4 characters of an id, such as '{session.id[:8]}'"):
        EditSession.open(session.id[:3], store=tmp_path)  # too short to name one safely
    with pytest.raises(UnknownSessionError, match="give a session id") as refused:
        EditSession.open("", store=tmp_path)
    assert session.id[:8] not in str(refused.value)  # not a session picked at random


def test_a_prefix_two_sessions_share_asks_for_more_of_the_id(tmp_path, photo):
    for session_id in ("abcd" + "0" * 28, "abcd" + "1" * 28):
        EditSession(store=tmp_path, session_id=session_id).edit(photo, "blur it")
    with pytest.raises(InvalidArgumentError, match="give more of the id"):
        EditSession.open("abcd", store=tmp_path)
    assert EditSession.open("abcd1", store=tmp_path).id == "abcd" + "1" * 28


def test_an_id_of_your_own_opens_only_whole(tmp_path, photo):
    """'Open, or start if there is none' must not write into "run-10" when asked for "run-1"."""
    EditSession(store=tmp_path, session_id="run-10").edit(photo, "blur it")
    with pytest.raises(UnknownSessionError, match="a chosen id such as 'run-10' opens only when given whole"):
        EditSession.open("run-1", store=tmp_path)
    assert EditSession.open("run-10", store=tmp_path).head.instruction == "blur it"


def test_reading_a_folder_that_holds_no_store_makes_none(tmp_path):
    typo = tmp_path / "stroe"
    assert EditSession.list(store=typo) == []
    with pytest.raises(UnknownSessionError, match="holds no session store"):
        EditSession.open("abc123", store=typo)
    assert not typo.exists()  # a mistyped folder is not left behind as an empty store


def test_store_defaults_to_edit_agent_home(tmp_path, photo, monkeypatch):
    monkeypatch.setenv("EDIT_AGENT_HOME", str(tmp_path / "home"))
    session = EditSession()
    session.edit(photo, "sharpen it")
    assert (tmp_path / "home" / "edit_agent.db").exists()
    assert EditSession.list() == [session.id]


def test_export_and_import_round_trip(tmp_path, photo):
    session = EditSession(store=tmp_path / "a", reasoner=ScriptedReasoner(), editor=inverting_editor())
    first = session.edit(photo, "one")
    session.edit(None, "two")
    session.checkout(first.turn_id)
    session.edit(None, "three")
    exported = session.export(tmp_path / "export" / "deep")
    assert exported.name == "session.jsonl" and exported.exists()
    assert len(list((tmp_path / "export" / "deep" / "images").glob("*.png"))) == 2  # photo, inverted

    imported = EditSession.import_folder(tmp_path / "export" / "deep", store=tmp_path / "b")
    assert imported.id == session.id
    assert [t.model_dump(exclude={"seq"}) for t in imported.turn_records()] == [
        t.model_dump(exclude={"seq"}) for t in session.turn_records()
    ]
    assert [t.instruction for t in imported.history] == ["one", "three"]
    assert imported.history[-1].image.tobytes() == photo.tobytes()

    again = EditSession.import_folder(tmp_path / "export" / "deep", store=tmp_path / "b")
    assert again.id != session.id
    assert [t.instruction for t in again.history] == ["one", "three"]
    assert sorted(EditSession.list(store=tmp_path / "b")) == sorted([session.id, again.id])


def test_import_rejects_a_tampered_export(tmp_path, photo):
    from edit_agent.errors import InvalidExportError

    session = EditSession(store=tmp_path / "a")
    session.edit(photo, "blur it")
    folder = tmp_path / "export"
    session.export(folder)
    png = next((folder / "images").glob("*.png"))
    Image.new("RGB", (9, 9)).save(png)
    with pytest.raises(InvalidImageError, match="content hash"):
        EditSession.import_folder(folder, store=tmp_path / "b")
    (folder / "session.jsonl").write_text("not json\n")
    with pytest.raises(InvalidExportError):
        EditSession.import_folder(folder, store=tmp_path / "b")
    with pytest.raises(InvalidExportError):
        EditSession.import_folder(tmp_path / "empty", store=tmp_path / "b")
    assert EditSession.list(store=tmp_path / "b") == []


def test_backends_by_name_and_unknown_names(tmp_path):
    from edit_agent.errors import UnknownBackendError

    session = EditSession(store=tmp_path, reasoner="rules", editor="recording")
    assert session.editor.name == "recording"
    with pytest.raises(UnknownBackendError, match="choose one of"):
        EditSession(store=tmp_path, editor="no-such-editor")
    with pytest.raises(UnknownBackendError, match="not a reasoner"):
        EditSession(store=tmp_path, reasoner=object())


def test_a_session_made_with_custom_objects_reopens_with_the_defaults(tmp_path, photo):
    class Custom(RecordingEditor):
        name = "my-own-editor"

    session = EditSession(store=tmp_path, editor=Custom())
    session.edit(photo, "blur it")
    reopened = EditSession.open(session.id, store=tmp_path)
    assert reopened.edit(None, "rotate left").editor == "auto"


def test_a_session_reopens_with_the_model_it_was_made_with(tmp_path, photo, tiny_lm_folder, monkeypatch):
    from edit_agent.backends import make_reasoner

    monkeypatch.chdir(tmp_path)  # a relative path: the session must find the model from anywhere
    session = EditSession(store=tmp_path / "store", reasoner=make_reasoner("llm", model="my-lm", max_new_tokens=4),
                          editor="identity")
    session.edit(photo, "make it warmer")
    monkeypatch.chdir(tiny_lm_folder)
    reopened = EditSession.open(session.id, store=tmp_path / "store")
    assert reopened.reasoner.model_name == str(tiny_lm_folder)  # not the default SmolLM2
    assert reopened.reasoner.max_new_tokens == 4
    assert reopened.edit(None, "and cooler").turn_id in [turn.id for turn in reopened.turn_records()]


def test_backends_named_with_options_are_shared_and_recorded(tmp_path, photo, tiny_lm_folder):
    from edit_agent.records import Intent

    options = {"model": str(tiny_lm_folder), "max_new_tokens": 4}
    first = EditSession(store=tmp_path, reasoner="llm", reasoner_options=options, editor="identity")
    second = EditSession(store=tmp_path, reasoner="llm", reasoner_options=dict(options), editor="identity")
    assert first.reasoner is second.reasoner  # one model in memory for every session that names it
    first.edit(photo, "make it warmer")
    assert EditSession.open(first.id, store=tmp_path).reasoner is first.reasoner
    hybrid = EditSession(store=tmp_path, reasoner="passthrough", editor="hybrid",
                         editor_options={"generative": "identity"})
    hybrid.edit(photo, "add a red hat")
    generative_turn = EditSession.open(hybrid.id, store=tmp_path)
    assert generative_turn.editor.generative.name == "identity"
    assert generative_turn.editor.route(Intent(text="add a red hat")).path == "generative"


def test_options_go_with_a_backend_name(tmp_path):
    with pytest.raises(InvalidArgumentError, match="go with a reasoner name"):
        EditSession(store=tmp_path, reasoner=ScriptedReasoner(), reasoner_options={"model": "x"})
    with pytest.raises(InvalidArgumentError, match="dict of keyword options"):
        EditSession(store=tmp_path, editor="hybrid", editor_options=["identity"])
    with pytest.raises(InvalidArgumentError, match="none was given"):  # not at the first edit
        EditSession(store=tmp_path, reasoner_options={"model": "x"})


def test_an_imported_session_does_not_bring_the_exporters_model_paths(tmp_path, photo, tiny_lm_folder):
    session = EditSession(store=tmp_path / "a", reasoner="llm", editor="identity",
                          reasoner_options={"model": str(tiny_lm_folder), "max_new_tokens": 4})
    session.edit(photo, "make it warmer")
    session.export(tmp_path / "export")
    imported = EditSession.import_folder(tmp_path / "export", store=tmp_path / "b")
    assert "reasoner_options" not in imported._store.get_session(imported.id).settings
    assert imported._reasoner_options == {}


def test_sessions_sharing_a_hybrid_editor_each_record_their_own_route(tmp_path, photo):
    import threading

    from edit_agent.editors.hybrid import HybridEditor

    generative_edited, exact_done = threading.Event(), threading.Event()

    class Interleaved(HybridEditor):
        def info(self):
            # The generative session reads its route only after the other session's exact edit.
            if threading.current_thread().name == "generative":
                generative_edited.set()
                exact_done.wait(10)
            return super().info()

    hybrid = Interleaved(RecordingEditor())
    results = {}

    def generative_turn():
        session = EditSession(store=tmp_path, reasoner="passthrough", editor=hybrid)
        results["generative"] = session.edit(photo, "add a red hat")

    worker = threading.Thread(target=generative_turn, name="generative")
    worker.start()
    assert generative_edited.wait(10)
    exact = EditSession(store=tmp_path, reasoner="passthrough", editor=hybrid)
    results["exact"] = exact.edit(photo, "rotate the image 90 degrees clockwise")
    exact_done.set()
    worker.join(10)
    assert "Editor path: exact" in results["exact"].reasoning
    assert "Editor path: generative" in results["generative"].reasoning


def test_an_editor_that_cannot_be_built_fails_before_the_reasoner_works(tmp_path, photo, monkeypatch):
    import sys
    import types

    from edit_agent import backends
    from edit_agent.errors import ModelUnavailableError

    class Missing:
        name = "missing"

        def __init__(self) -> None:
            raise ModelUnavailableError("Model 'big/editor' is not available offline.")

    module = types.ModuleType("missing_editor")
    module.Missing = Missing
    monkeypatch.setitem(sys.modules, "missing_editor", module)
    monkeypatch.setitem(backends.EDITORS, "missing", "missing_editor:Missing")
    reasoner = ScriptedReasoner()
    with pytest.raises(ModelUnavailableError, match="not available"):
        EditSession(store=tmp_path, reasoner=reasoner, editor="missing").edit(photo, "make it warmer")
    assert reasoner.requests == []  # a slow reasoner would have run for nothing


def test_undo_then_redo_comes_back_through_a_canvas_undo_turn(tmp_path):
    session = EditSession(store=tmp_path)
    session.edit("sample:world-1", "add a small green circle at the bottom right")
    session.edit(None, "undo that")
    square = session.edit(None, "add a small blue square at the bottom left")
    assert session.undo_step()[0] and session.undo_step()[0]
    assert session.redo().instruction == "undo that" and session.redo().turn_id == square.turn_id
    # Only an undo turn that redo itself stepped back past is not gone into again (a loop would flip forever)
    session.undo()
    assert session.step_back_over_undo_turn()[0] and not session.can_redo
    session.checkout(session.turn_records()[1].id)  # the undo turn picked again: redo may go there once more
    session.undo()
    assert session.redo().instruction == "undo that"


def test_an_undo_turn_that_redo_took_back_stays_taken_back_in_an_export(tmp_path):
    session = EditSession(store=tmp_path / "a")
    session.edit("sample:world-1", "add a small green circle at the bottom right")
    session.edit(None, "undo that")
    assert session.step_back_over_undo_turn()[0] and not session.can_redo
    for imported in (EditSession.import_folder(session.export(tmp_path / "folder").parent, store=tmp_path / "b"),
                     EditSession.import_zip(session.export_zip(tmp_path / "session.zip"), store=tmp_path / "c")):
        assert imported.head.instruction == "add a small green circle at the bottom right"
        assert not imported.can_redo and not imported.redo_step()[0]  # not into the undo turn: on to an undo


def test_a_turns_stored_time_includes_writing_its_images(tmp_path):
    noise = Image.fromarray(numpy.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=numpy.uint8))
    session = EditSession(store=tmp_path / "store")
    result = session.edit(noise, "make it brighter")
    timings = session.turn_records()[-1].timings
    assert timings["total"] >= timings["reason"] + timings["edit"] + timings["store"]
    assert timings["total"] <= result.seconds  # what the caller waited: the same turn, with the commit


def test_a_canvas_undo_given_an_image_still_gives_the_stored_scene_back(tmp_path):
    from edit_agent.samples import sample_image

    session = EditSession(store=tmp_path)
    before = session.edit("sample:world-1", "make the red square blue")
    session.edit("sample:world-2", "undo that")  # an image given with it, in the SDK: the scene before comes back
    assert session.head.image.tobytes() == sample_image("world-1").convert("RGB").tobytes()
    assert before.image.tobytes() != session.head.image.tobytes()


def test_a_turn_whose_shared_image_goes_with_another_sessions_deletion_stores_it_again(tmp_path, monkeypatch):
    """A turn found its photo already stored (another session's source), and marked it in use; paused past the
    grace period (Ctrl-Z), that session's deletion removed the file, and the turn committed naming it: the session
    could be neither continued nor exported."""
    import edit_agent.store as store_module
    from edit_agent.store import Store

    photo = Image.new("RGB", (32, 24), (200, 120, 40))
    first = EditSession(store=tmp_path / "store")
    first.edit(photo, "flip it")
    commit = Store.commit_turn
    deleted = []

    def deleted_meanwhile(self, turn, **kwargs):
        if not deleted:  # as if paused here past the grace period while the other session is deleted
            monkeypatch.setattr(store_module, "RECENT_IMAGE_SECONDS", -60.0)
            deleted.append(self.delete_session(first.id))
        return commit(self, turn, **kwargs)

    monkeypatch.setattr(Store, "commit_turn", deleted_meanwhile)
    second = EditSession(store=tmp_path / "store")
    second.edit(photo, "make it warmer")
    assert deleted == [1]  # the shared photo (flipped, a plain image is the same image)
    assert second.source_image.tobytes() == photo.tobytes()
    second.edit(None, "rotate it left")  # continued, and exported whole
    assert EditSession.import_zip(second.export_zip(tmp_path / "s.zip"), store=tmp_path / "other").turns


class _SourceSizeReader(ScriptedReasoner):
    """Looks at the source image's size only, as the rule reasoner does for a photo, and keeps the request."""

    def reconstruct(self, request):
        self.source = request.source_image
        self.size = request.source_image.size
        return super().reconstruct(request)


def test_a_later_turn_opens_the_source_image_without_decoding_it_and_closes_it(tmp_path, monkeypatch):
    """A large source image is not kept decoded; decoding it at every turn only to read its size took half a second
    and a decoded image's memory at 40 MP."""
    from edit_agent import decoded_images

    monkeypatch.setattr(decoded_images, "_shared", decoded_images.DecodedImages(max_bytes=0))  # as for a 40 MP photo
    reasoner = _SourceSizeReader(["Make the image warmer by 20%."] * 2)
    session = EditSession(store=tmp_path, reasoner=reasoner, editor="exact")
    session.edit(Image.new("RGB", (64, 48), "teal"), "first")
    session.edit(None, "second")
    assert reasoner.size == (64, 48) and reasoner.source.fp is None  # its file closed, never read
    assert session.source_image.getpixel((0, 0)) == (0, 128, 128)  # the stored source is as it was


def test_a_canvas_source_opened_lazily_is_read_as_a_canvas(tmp_path, monkeypatch):
    from edit_agent import decoded_images
    from edit_agent.samples import sample_image

    monkeypatch.setattr(decoded_images, "_shared", decoded_images.DecodedImages(max_bytes=0))
    session = EditSession(store=tmp_path)
    session.edit(sample_image("world-1"), "make the red square blue")
    assert session.edit(None, "undo that").changed  # the world reasoner read the source's scene from its pixels


def _two_turns(store) -> EditSession:
    session = EditSession(store=store)
    session.edit(Image.new("RGB", (32, 24), (200, 120, 40)), "flip it")
    session.edit(None, "make it brighter")
    return session


def test_a_deletion_between_reading_the_head_and_the_turns_is_no_damaged_store(tmp_path, monkeypatch):
    from edit_agent.store import Store

    session, later = _two_turns(tmp_path), _two_turns(tmp_path)
    other = Store(tmp_path)  # another process's store
    read_turns = Store.turns

    def deleted_meanwhile(self, session_id):
        if self is not other and other.has_session(session_id):
            other.delete_session(session_id)
        return read_turns(self, session_id)

    monkeypatch.setattr(Store, "turns", deleted_meanwhile)
    assert [turn.instruction for turn in session.history] == ["flip it", "make it brighter"]  # as of one moment
    assert session.history == []  # and once deleted, no turns (it said "the store is damaged")
    with pytest.raises(UnknownSessionError, match="it was deleted"):
        later.edit(None, "flip it")


def test_moving_the_head_of_a_session_deleted_meanwhile_says_so(tmp_path, monkeypatch):
    import edit_agent.store as store_module

    session = _two_turns(tmp_path)
    first_turn, history = session.history[0].turn_id, session.history
    monkeypatch.setattr(store_module, "RECENT_IMAGE_SECONDS", -60.0)  # its files go at once
    store_module.Store(tmp_path).delete_session(session.id)  # by another process
    # each used to return None as if it had worked (or say the session "has no turns yet")
    for move in (session.undo, session.redo, lambda: session.checkout(None), lambda: session.checkout(first_turn)):
        with pytest.raises(UnknownSessionError, match="it was deleted"):
            move()
    with pytest.raises(UnknownSessionError, match="it was deleted"):  # not "the store is damaged"
        history[1].image  # noqa: B018


@pytest.mark.parametrize("to_first_turn", [True, False], ids=["to-a-turn", "to-the-source"])
def test_a_checkout_of_a_session_deleted_between_its_check_and_its_move_says_so(tmp_path, monkeypatch, to_first_turn):
    from edit_agent.store import Store

    session = _two_turns(tmp_path)
    first_turn = session.history[0].turn_id
    move_head = Store.move_head

    def deleted_meanwhile(self, session_id, turn_id, **kwargs):
        Store(tmp_path).delete_session(session_id)  # by another process, after checkout found the turn
        return move_head(self, session_id, turn_id, **kwargs)

    monkeypatch.setattr(Store, "move_head", deleted_meanwhile)
    with pytest.raises(UnknownSessionError, match=f"No session '{session.id}'"):  # not sqlite-utils' NotFoundError
        session.checkout(first_turn if to_first_turn else None)


def test_a_new_session_cannot_take_the_short_id_of_a_stored_one(tmp_path):
    stored = _two_turns(tmp_path)
    with pytest.raises(InvalidArgumentError, match="is the start of the stored session"):
        EditSession(store=tmp_path, session_id=stored.id[:8])
    assert EditSession.open(stored.id[:8], store=tmp_path).id == stored.id
    assert EditSession(store=tmp_path, session_id="my-run").id == "my-run"


def test_after_a_photo_edit_on_a_canvas_its_follow_ups_read_as_on_a_photo(tmp_path):
    # "the opposite" was refused saying the shapes could no longer be edited, while photo edits "still work"
    session = EditSession(store=tmp_path)
    session.edit("sample:world-1", "make it brighter")
    back = session.edit(None, "the opposite")
    assert back.intent == "Decrease the brightness by 16.7%."  # not a scene change read off the brightened pixels
    assert back.image.tobytes() == session.source_image.tobytes()  # the canvas before it, exactly
    assert session.edit(None, "a bit more").intent == "Decrease the brightness by 8.35%."
    fresh = EditSession(store=tmp_path)
    fresh.edit("sample:world-1", "add a small red circle at the top left")
    with pytest.raises(EditAgentError, match="world language"):  # before any photo edit: a shape's edit came before
        fresh.edit(None, "the opposite")


def test_a_session_deleted_through_its_own_object_starts_anew(tmp_path):
    session = _two_turns(tmp_path)
    session.delete()
    assert session.undo() is None and session.history == []  # deleted here: no "deleted meanwhile" error
    session.edit(Image.new("RGB", (8, 8), (1, 2, 3)), "flip it")
    assert len(session.history) == 1


def test_an_import_cannot_take_the_short_id_of_a_stored_session(tmp_path):
    stored = _two_turns(tmp_path / "a")
    chosen = EditSession(store=tmp_path / "b", session_id=stored.id[:8])  # allowed in a store without it
    chosen.edit(Image.new("RGB", (8, 8), (1, 2, 3)), "flip it")
    imported = EditSession.import_folder(chosen.export(tmp_path / "export").parent, store=tmp_path / "a")
    assert imported.id != stored.id[:8]  # a fresh id: the 8 characters still open the stored session
    assert EditSession.open(stored.id[:8], store=tmp_path / "a").id == stored.id
