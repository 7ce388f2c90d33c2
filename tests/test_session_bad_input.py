"""Bad arguments, bad editor output and damaged stores or exports: one clear error, nothing changed."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.errors import (
    EditAgentError,
    InvalidArgumentError,
    InvalidExportError,
    InvalidImageError,
    InvalidInstructionError,
    StoreError,
    UnknownSessionError,
    UnknownTurnError,
)
from edit_agent.images import ImageLimits, encode_png
from edit_agent.records import EditorInfo
from edit_agent.store import Store
from edit_agent.testing import RecordingEditor


@pytest.fixture
def image() -> Image.Image:
    return Image.new("RGB", (64, 32), "navy")


def stored_state(session: EditSession):
    head = session.head
    images = sorted(p.name for p in session._store.images_folder.glob("*/*"))
    return [t.model_dump() for t in session.turn_records()], head.turn_id if head else None, images


@pytest.mark.parametrize("seed", [2**63, -(2**63) - 1, "7", 1.5, True])
def test_a_bad_seed_is_refused_before_any_model_runs(tmp_path, image, seed):
    editor = RecordingEditor()
    session = EditSession(store=tmp_path, editor=editor)
    session.edit(image, "make it brighter")
    before = stored_state(session)
    with pytest.raises(InvalidArgumentError, match="seed"):
        session.edit(None, "make it darker", seed=seed)
    assert len(editor.calls) == 1
    assert stored_state(session) == before


def test_numpy_64_bit_and_whole_float_seeds_are_accepted_and_stored(tmp_path, image):
    session = EditSession(store=tmp_path)
    session.edit(image, "make it brighter", seed=np.int64(2**63 - 1))
    session.edit(None, "make it darker", seed=np.float64(7))
    assert [turn.seed for turn in session.turn_records()] == [2**63 - 1, 7]
    assert [result.seed for result in session.history] == [2**63 - 1, 7]  # what a caller needs to redo an edit


def test_an_empty_session_id_means_a_new_session(tmp_path):
    assert len(EditSession(store=tmp_path, session_id="").id) == 32


@pytest.mark.parametrize(("session_id", "match"), [
    ("\x1b[31mred", "control character"), ("ab\ncd", "line break"), ("abc\x00def", "control character"),
    ("a" * 129, "limit is 128"), ("\u200b", "visible character"), ("  ", "visible character"), (7, "must be text"),
])
def test_a_chosen_session_id_that_would_not_print_as_it_is_is_refused(tmp_path, session_id, match):
    with pytest.raises(InvalidArgumentError, match=match):
        EditSession(store=tmp_path, session_id=session_id)
    assert EditSession(store=tmp_path, session_id="my-sunset é 1").id == "my-sunset é 1"


def test_a_session_an_earlier_version_stored_under_an_id_now_refused_still_opens(tmp_path, image, monkeypatch):
    import edit_agent.session as session_module

    monkeypatch.setattr(session_module, "_check_new_session_id", lambda session_id: None)  # as before the rule
    EditSession(store=tmp_path, session_id="run\t1").edit(image, "make it brighter")
    monkeypatch.undo()
    assert EditSession.open("run\t1", store=tmp_path).head.instruction == "make it brighter"
    with pytest.raises(InvalidArgumentError, match="tab or a line break"):
        EditSession(store=tmp_path, session_id="run\t2")  # a new one is held to it


@pytest.mark.parametrize("session_id", ["\x1b[31mred", "ab\ncd", "a" * 129])
def test_an_export_whose_session_id_would_not_print_as_it_is_imports_under_fresh_ids(tmp_path, exported, session_id):
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    lines[0]["id"] = session_id
    lines[1:] = [{**line, "session_id": session_id} for line in lines[1:]]
    exported.write_text("".join(json.dumps(line) + "\n" for line in lines))
    imported = EditSession.import_folder(exported.parent, store=tmp_path / "other")
    assert EditSession.list(store=tmp_path / "other") == [imported.id] and len(imported.id) == 32
    assert [turn.instruction for turn in imported.history] == ["make it brighter", "make it darker"]


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff \u2060", "\u200b\n\u200d"])
def test_an_instruction_that_shows_nothing_is_empty(tmp_path, image, invisible):
    session = EditSession(store=tmp_path)
    with pytest.raises(InvalidInstructionError, match="empty"):
        session.edit(image, invisible)
    assert session.edit(image, "make it\u200b brighter").image is not None  # inside real text it is harmless


def test_an_instruction_with_a_lone_surrogate_is_refused(tmp_path, image):
    session = EditSession(store=tmp_path)
    with pytest.raises(InvalidInstructionError, match="Unicode"):
        session.edit(image, "make it brighter \ud800")
    assert EditSession.list(store=tmp_path) == []


def test_an_instruction_with_a_control_character_is_refused_and_tabs_and_line_breaks_are_not(tmp_path, image):
    session = EditSession(store=tmp_path)
    for typed, code in (("make it warmer\x00", "U+0000"), ("make it \x1b[31mwarmer", "U+001B"),
                        ("make it \x9b31mwarmer", "U+009B"), ("make it \u202ewarmer", "U+202E")):
        with pytest.raises(InvalidInstructionError, match=re.escape(code)):
            session.edit(image, typed)
    assert EditSession.list(store=tmp_path) == []
    assert session.edit(image, "make it\twarmer\r\n").instruction == "make it\twarmer"


@pytest.mark.parametrize("kwargs", [{"session_id": 123}, {"session_id": "  "}, {"session_id": "a\ud800"},
                                    {"limits": "x"}, {"store": 123}, {"store": ""}, {"store": "a\0b"}])
def test_bad_session_arguments_are_refused_when_the_session_is_made(tmp_path, kwargs):
    with pytest.raises(InvalidArgumentError):
        EditSession(**{"store": tmp_path, **kwargs})


def test_ids_of_the_wrong_type_get_unknown_id_errors(tmp_path, image):
    session = EditSession(store=tmp_path)
    result = session.edit(image, "make it brighter")
    with pytest.raises(UnknownTurnError, match="turn_id"):
        session.checkout(result)
    with pytest.raises(UnknownSessionError, match="text"):
        EditSession.open(session, store=tmp_path)
    with pytest.raises(UnknownTurnError):
        session.checkout("a\udcff")  # a lone surrogate: no stored id is like it
    with pytest.raises(UnknownSessionError):
        EditSession.open("\udcff", store=tmp_path)
    assert session.head.turn_id == result.turn_id


@pytest.mark.parametrize("folder", [None, 123, "", "a\0b"])
def test_an_export_or_import_folder_that_is_no_path_is_one_clear_error(tmp_path, image, folder):
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "make it brighter")
    with pytest.raises(InvalidArgumentError, match="folder"):
        session.export(folder)
    with pytest.raises(InvalidArgumentError, match="folder"):
        EditSession.import_folder(folder, store=tmp_path / "other")


def test_a_base64_image_given_as_a_path_is_told_to_decode_it(tmp_path, image):
    """Agent tools take base64, and a script passing it to edit() got the file system's OSError "File name too long"."""
    import base64

    text = base64.b64encode(encode_png(image)).decode()
    session = EditSession(store=tmp_path / "store")
    for given in (text, f"data:image/png;base64,{text}"):
        with pytest.raises(InvalidImageError, match=r"characters of base64 text, not a file name; pass the decoded bytes"):
            session.edit(given, "make it warmer")
    assert session.turns == [] and session.edit(base64.b64decode(text), "make it warmer").intent


def test_a_path_with_a_name_too_long_for_any_file_system_is_one_clear_error(tmp_path, image):
    long_name = tmp_path / ("n" * 300)
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "make it brighter")
    calls = [lambda: EditSession(store=long_name), lambda: EditSession.list(store=long_name),
             lambda: session.export(long_name), lambda: session.export_zip(f"{long_name}.zip"),
             lambda: EditSession.import_folder(long_name, store=tmp_path / "other"),
             lambda: EditSession.import_zip(f"{long_name}.zip", store=tmp_path / "other")]
    for call in calls:
        with pytest.raises(InvalidArgumentError, match="has a name of 30[04] bytes .*; a file or folder name is at most 255"):
            call()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["store"]


def test_a_zip_given_to_import_folder_is_told_to_import_zip(tmp_path, image):
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "make it brighter")
    archive = session.export_zip(tmp_path / "session.zip")
    with pytest.raises(InvalidArgumentError, match=r"is a file, not an export folder; .*EditSession.import_zip"):
        EditSession.import_folder(archive, store=tmp_path / "other")
    assert not (tmp_path / "other").exists()
    with pytest.raises(InvalidArgumentError, match=r"is a folder; give the zip file's own name"):
        session.export_zip(session.export(tmp_path / "exported").parent)


@pytest.mark.parametrize("limits", [
    {"max_side": -1}, {"max_side": "big"}, {"min_side": 100, "max_side": 50},
    {"max_side": 16000, "max_pixels": 200_000_000}, {"max_side": 20000},  # could never be stored and loaded again
])
def test_impossible_image_limits_are_refused_when_made(limits):
    with pytest.raises(InvalidArgumentError, match="image limits"):
        ImageLimits(**limits)


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (Image.new("RGB", (2000, 1000)), "MP"),  # past the (here shrunk) bomb threshold: would never load again
        (Image.new("RGB", (0, 0)), "at least 1 px"),
    ],
)
def test_an_editor_output_that_could_not_be_stored_is_not_saved(tmp_path, image, output, match, monkeypatch):
    monkeypatch.setattr("edit_agent.session.STORED_LIMITS", ImageLimits(min_side=1, max_pixels=1_000_000))
    session = EditSession(store=tmp_path, editor=RecordingEditor(lambda img, intent: output))
    with pytest.raises(InvalidInstructionError, match=match):
        session.edit(image, "make it brighter")
    assert EditSession.list(store=tmp_path) == []


def test_edits_may_leave_the_input_limits_and_the_session_goes_on(tmp_path):
    session = EditSession(store=tmp_path, limits=ImageLimits(max_side=64))
    session.edit(Image.new("RGB", (64, 32)), "resize to 200%")  # 128 px: past this session's input limit
    session.edit(None, "resize to 4x4")  # under the 8 px input minimum
    assert EditSession.open(session.id, store=tmp_path).edit(None, "make it darker").image.size == (4, 4)


def test_cropping_an_image_to_nothing_is_a_clear_error(tmp_path):
    session = EditSession(store=tmp_path)
    session.edit(Image.new("RGB", (16, 8)), "resize to 1x1")
    before = stored_state(session)
    with pytest.raises(InvalidInstructionError, match="at least 1 px"):
        session.edit(None, "crop to the left half")
    assert stored_state(session) == before


def test_editing_works_where_pillow_is_set_to_load_truncated_images(tmp_path, image, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # set by much ML code
    session = EditSession(store=tmp_path)
    session.edit(image, "make it brighter")
    assert session.edit(None, "make it darker").image.size == image.size


def test_an_editor_output_in_an_odd_mode_is_converted(tmp_path, image):
    class PremultipliedEditor:  # returns Pillow's "La", which converts to nothing but "LA"
        name = "premultiplied"

        def edit(self, image, intent, *, seed=None):
            return Image.new("La", image.size)

        def info(self):
            return EditorInfo(backend=self.name)

    session = EditSession(store=tmp_path, editor=PremultipliedEditor())
    assert session.edit(image, "make it brighter").image.mode == "RGB"


def test_a_reasoner_returning_the_wrong_type_is_named(tmp_path, image):
    class TextReasoner:
        name = "text-only"

        def reconstruct(self, request):
            return "brighter"

    session = EditSession(store=tmp_path, reasoner=TextReasoner())
    with pytest.raises(EditAgentError, match="reasoner 'text-only' returned str"):
        session.edit(image, "make it brighter")


def test_a_store_folder_that_is_a_file_or_not_a_database_is_a_store_error(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    with pytest.raises(StoreError, match="Cannot use"):
        Store(a_file)
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "edit_agent.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Store(folder)


def test_a_deleted_stored_image_is_a_store_error(tmp_path, image):
    session = EditSession(store=tmp_path)
    result = session.edit(image, "make it brighter")
    session._store.image_path(session._store.get_turn(session.id, result.turn_id).output_hash).unlink()
    with pytest.raises(StoreError, match="damaged"):
        session.edit(None, "make it darker")


@pytest.fixture
def exported(tmp_path, image):
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "make it brighter")
    session.edit(None, "make it darker")
    return session.export(tmp_path / "export")


def rewrite_turns(path, change):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[1:] = change(lines[1:])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def nested(levels: int) -> list:
    return json.loads("[" * levels + "]" * levels)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda turns: [{**turns[0], "parent_id": turns[1]["id"]}, turns[1]], "not a tree"),
        (lambda turns: [{**turns[0], "parent_id": turns[0]["id"]}, turns[1]], "not a tree"),
        (lambda turns: [turns[0], turns[0], turns[1]], "repeats"),
        (lambda turns: [turns[0], {**turns[1], "seq": turns[0]["seq"]}], "repeats"),
        (lambda turns: [{**turns[0], "seed": 2**70}, turns[1]], "seed"),
        (lambda turns: [{**turns[0], "seq": 2**70}, turns[1]], "seq"),
        (lambda turns: [{**turns[0], "instruction": "\ud800"}, turns[1]], "Unicode"),
        (lambda turns: [{**turns[0], "created": float("nan")}, turns[1]], "created"),
        (lambda turns: [{**turns[0], "status": "pending"}, turns[1]], "status"),
        (lambda turns: [turns[0], {**turns[1], "visited": "x"}], "visited"),
        (lambda turns: [turns[0], {**turns[1], "instruction": " "}], "empty instruction"),
        (lambda turns: [turns[0], {**turns[1], "kind": "session"}], "every line after the first"),
        (lambda turns: [turns[0]], "cut short"),
        (lambda turns: [{**turns[0], "editor": {**turns[0]["editor"], "extra": {"x": ["\ud800"]}}}, turns[1]],
         "Unicode"),
        (lambda turns: [{**turns[0], "editor": {**turns[0]["editor"], "extra": {"x": nested(150)}}}, turns[1]],
         "nest at most 100 levels"),  # the store could write it, then never read the session again
        (lambda turns: [turns[0], {**turns[1], "instruction": "rotate\x1b[2J it"}], "control character"),
        (lambda turns: [turns[0], {**turns[1], "instruction": "\u200b"}], "empty"),
    ],
)
def test_a_malformed_export_is_refused_and_writes_nothing(tmp_path, exported, change, match):
    rewrite_turns(exported, change)
    store = tmp_path / "other"
    with pytest.raises(InvalidExportError, match=match):
        EditSession.import_folder(exported.parent, store=store)
    assert EditSession.list(store=store) == []
    assert list((store / "images").glob("*/*")) == []


def test_an_export_that_is_not_utf8_is_refused(tmp_path, exported):
    exported.write_bytes(b"\xff\xfe" + exported.read_bytes())
    with pytest.raises(InvalidExportError):
        EditSession.import_folder(exported.parent, store=tmp_path / "other")


def test_a_session_made_with_wider_limits_round_trips_and_goes_on(tmp_path):
    session = EditSession(store=tmp_path / "a", limits=ImageLimits(max_side=6000))
    session.edit(Image.new("RGB", (5000, 100)), "make it brighter")
    session.edit(None, "resize to 4x4")
    folder = session.export(tmp_path / "export").parent
    imported = EditSession.import_folder(folder, store=tmp_path / "b")
    assert imported.edit(None, "make it darker").image.size == (4, 4)
    assert imported.history[0].image.size == (5000, 100)


def test_an_export_whose_turn_ids_are_taken_gets_fresh_ones(tmp_path, exported):
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    lines[0]["id"] = "f" * 32  # another session id, the same turn ids
    lines[1:] = [{**line, "session_id": "f" * 32} for line in lines[1:]]
    exported.write_text("".join(json.dumps(line) + "\n" for line in lines))
    imported = EditSession.import_folder(exported.parent, store=tmp_path / "store")
    assert {t.turn_id for t in imported.turns}.isdisjoint({line["id"] for line in lines[1:]})
    assert len(imported.turns) == 2


def test_export_refuses_a_folder_holding_another_session(tmp_path, image, exported):
    other = EditSession(store=tmp_path / "store")
    other.edit(image, "rotate it 90 degrees")
    with pytest.raises(InvalidArgumentError, match="another session"):
        other.export(exported.parent)
    assert json.loads(exported.read_text().splitlines()[0])["id"] != other.id
    with pytest.raises(InvalidArgumentError, match="is a file"):
        other.export(exported)


def test_export_never_writes_through_a_link_planted_at_a_name_it_writes(tmp_path, image):
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "rotate it 90 degrees")
    first = session.export(tmp_path / "first").parent
    images = [path.relative_to(first) for path in (first / "images").iterdir()]
    out = tmp_path / "shared"
    (out / "images").mkdir(parents=True)
    victims = []
    for name in [*images, Path("session.jsonl.partial")]:  # the name the session file was once written under
        victims.append(tmp_path / f"victim-{len(victims)}")
        victims[-1].write_text("precious\n")
        (out / name).symlink_to(victims[-1])
    session.export(out)
    assert [victim.read_text() for victim in victims] == ["precious\n"] * len(victims)
    for name in [*images, Path("session.jsonl")]:
        assert not (out / name).is_symlink() and (out / name).read_bytes() == (first / name).read_bytes()


def test_export_refuses_an_images_folder_that_is_a_link(tmp_path, image):
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "rotate it 90 degrees")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "images").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidArgumentError, match="images folder is a symbolic link"):
        session.export(tmp_path / "out")
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert list((tmp_path / "out").iterdir()) == [tmp_path / "out" / "images"]


def test_exports_of_one_session_to_one_folder_at_once_all_succeed(tmp_path, image):
    from concurrent.futures import ThreadPoolExecutor

    session = EditSession(store=tmp_path / "store")
    session.edit(image, "rotate it 90 degrees")
    with ThreadPoolExecutor(8) as pool:  # each wrote the same temporary file, and all but one found it gone
        exported = list(pool.map(lambda _: session.export(tmp_path / "out"), range(64)))
    assert set(exported) == {tmp_path / "out" / "session.jsonl"}
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["images", "session.jsonl"]


def test_a_cycle_in_the_stored_turns_is_a_store_error(tmp_path, image):
    session = EditSession(store=tmp_path)
    first = session.edit(image, "make it brighter")
    session.edit(None, "make it darker")
    database = sqlite3.connect(tmp_path / "edit_agent.db")
    with database:
        database.execute("UPDATE turns SET parent_id = (SELECT head FROM sessions) WHERE id = ?", [first.turn_id])
    database.close()
    with pytest.raises(StoreError, match="do not form a tree"):
        _ = session.history


def test_one_line_condenses_any_error_for_a_message():
    from pydantic import BaseModel, ValidationError

    from edit_agent.errors import one_line

    class Fields(BaseModel):
        steps: int

    with pytest.raises(ValidationError) as invalid:
        Fields(steps="many")
    assert one_line(invalid.value).startswith("steps: Input should be a valid integer")
    assert one_line(ValueError("first line.\nsecond")) == "first line"
    assert one_line(EOFError()) == "EOFError"  # torch.load of an empty file raises one with no text


def test_a_store_folder_deleted_while_the_process_runs_starts_again_empty(tmp_path, image):
    import shutil

    store = tmp_path / "store"
    EditSession(store=store).edit(image, "make it brighter")
    shutil.rmtree(store)
    assert EditSession.list(store) == []  # not the sessions of the deleted database
    session = EditSession(store=store)
    session.edit(image, "make it darker")
    assert EditSession.list(store) == [session.id] and (store / "images").is_dir()


@pytest.mark.parametrize(("change", "match"), [
    ({"id": " "}, "id"), ({"id": ""}, "id"), ({"created": float("inf")}, "created"),
    ({"settings": {"reasoner": ["x"]}}, "settings"),
    ({"source": "images/" + "a" * 3000 + ".png"}, "is not an image name of an export"),  # past NAME_MAX
    ({"source": "../../elsewhere/" + "a" * 64 + ".png"}, "is not an image name of an export"),
    ({"source": 7}, "is not an image name of an export"),
])
def test_a_malformed_session_line_is_refused_and_writes_nothing(tmp_path, exported, change, match):
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    lines[0].update(change)
    exported.write_text("".join(json.dumps(line) + "\n" for line in lines))
    store = tmp_path / "other"
    with pytest.raises(InvalidExportError, match=match):
        EditSession.import_folder(exported.parent, store=store)
    assert EditSession.list(store=store) == []


def test_a_bad_json_line_is_named_by_its_number(exported):
    lines = exported.read_text().splitlines()
    lines[2] = lines[2][:-5]
    exported.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidExportError, match="line 3: not JSON"):
        EditSession.import_folder(exported.parent, store=exported.parent.parent / "other")


DEEPER_THAN_PYTHON_PARSES = "[" * 100_000 + "]" * 100_000


def test_json_nested_deeper_than_python_parses_is_a_refused_export_line(tmp_path, exported):
    lines = exported.read_text().splitlines()
    lines[2] = lines[2].replace('"extra": {', f'"extra": {{"x": {DEEPER_THAN_PYTHON_PARSES}, ', 1)
    exported.write_text("\n".join(lines) + "\n")
    store = tmp_path / "other"
    with pytest.raises(InvalidExportError, match="line 3: its JSON nests too deeply to read"):
        EditSession.import_folder(exported.parent, store=store)
    assert EditSession.list(store=store) == []


def test_an_export_file_nested_too_deeply_to_read_is_not_overwritten(tmp_path, image, exported):
    exported.write_text(f'{{"id": {DEEPER_THAN_PYTHON_PARSES}}}\n')
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "rotate it 90 degrees")
    with pytest.raises(InvalidArgumentError, match="cannot be read; choose an empty folder"):
        session.export(exported.parent)
    assert exported.read_text().startswith('{"id": [[[')


def test_an_export_image_that_is_a_named_pipe_is_refused_without_blocking(tmp_path, exported):
    image = next((exported.parent / "images").glob("*.png"))
    image.unlink()
    os.mkfifo(image)

    def blocked(*_):
        raise TimeoutError("the import blocked on the pipe")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(20)  # a regression would otherwise hang the whole suite
    try:
        with pytest.raises(InvalidExportError, match="not a regular file"):
            EditSession.import_folder(exported.parent, store=tmp_path / "other")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_an_import_whose_images_hold_too_many_pixels_is_refused_before_any_is_decoded(tmp_path, exported, monkeypatch):
    import edit_agent.transfer as transfer

    pixels = 0
    for path in (exported.parent / "images").iterdir():
        with Image.open(path) as stored:
            pixels += stored.width * stored.height
    store = Store(tmp_path / "other")
    decode = transfer.load_image
    monkeypatch.setattr(transfer, "load_image", lambda *_, **__: pytest.fail("decoded before the pixels were counted"))
    with pytest.raises(InvalidExportError, match=rf"the 3 images it would store hold {pixels:,} pixels; an import takes "
                                                 rf"at most {pixels - 1:,} pixels"):
        transfer.import_session(store, exported.parent, max_pixels=pixels - 1)
    assert store.list_sessions() == [] and not any(store.images_folder.rglob("*.png"))
    monkeypatch.setattr(transfer, "load_image", decode)
    assert store.has_session(transfer.import_session(store, exported.parent, max_pixels=pixels))
    # what an import takes by default: 200 turns that each edit a new 4096x4096 photo
    assert transfer.DEFAULT_MAX_IMPORT_PIXELS >= 401 * 4096 * 4096


def test_an_imported_turn_numbered_near_the_integer_limit_can_still_be_edited(tmp_path, exported):
    rewrite_turns(exported, lambda turns: [turns[0], {**turns[1], "seq": 2**63 - 1}])
    imported = EditSession.import_folder(exported.parent, store=tmp_path / "other")
    assert [turn.seq for turn in imported.turn_records()] == [1, 2]
    assert imported.edit(None, "make it brighter").instruction == "make it brighter"


def test_export_and_import_keep_where_redo_goes(tmp_path, image):
    session = EditSession(store=tmp_path / "store")
    first = session.edit(image, "make it brighter")
    second = session.edit(None, "make it darker")
    session.checkout(first.turn_id)
    session.edit(None, "make it warmer")  # a branch made after turn two
    session.checkout(second.turn_id)
    session.undo()  # at turn one; redo goes to two, the child last visited
    imported = EditSession.import_folder(session.export(tmp_path / "export").parent, store=tmp_path / "other")
    assert imported.redo().instruction == "make it darker"


def test_an_export_from_a_damaged_store_is_refused(tmp_path):
    session = EditSession(store=tmp_path / "store")
    result = session.edit(Image.effect_noise((64, 32), 80).convert("RGB"), "make it brighter")
    stored = session._store.image_path(session._store.get_turn(session.id, result.turn_id).output_hash)
    stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])  # a file cut short
    with pytest.raises(StoreError, match="damaged"):
        session.export(tmp_path / "export")


def test_an_export_whose_turn_edits_a_new_image_imports(tmp_path, image):
    session = EditSession(store=tmp_path / "store")
    session.edit(image, "make it brighter")
    session.edit(Image.new("RGB", (48, 48), "teal"), "make it darker")  # a new image, after the first turn
    imported = EditSession.import_folder(session.export(tmp_path / "export").parent, store=tmp_path / "other")
    assert imported.head.image.tobytes() == session.head.image.tobytes()


def test_an_editor_that_draws_on_its_input_does_not_change_the_stored_source(tmp_path):
    class DrawsInPlace:  # a third-party editor that returns its own input, drawn on
        name = "in-place"

        def edit(self, image, intent, *, seed=None):
            image.paste((250, 220, 0), (0, 0, *image.size))
            return image

        def info(self):
            return EditorInfo(backend=self.name)

    original = Image.new("RGB", (16, 12), (10, 20, 200))
    session = EditSession(store=tmp_path, editor=DrawsInPlace())
    edited = session.edit(original, "make it brighter")
    assert edited.image.getpixel((0, 0)) == (250, 220, 0)
    assert session.source_image.getpixel((0, 0)) == (10, 20, 200) == original.getpixel((0, 0))
    session.edit(None, "make it brighter", from_source=True)  # a stored input, drawn on in place again
    assert session.source_image.getpixel((0, 0)) == (10, 20, 200)
    session.edit(None, "make it darker", from_source=True)
    assert session._store.load_image(session.turn_records()[-1].input_hash).getpixel((0, 0)) == (10, 20, 200)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_from_source_must_be_a_bool(tmp_path, image, value):
    session = EditSession(store=tmp_path)
    session.edit(image, "make it brighter")
    with pytest.raises(InvalidArgumentError, match="from_source must be True or False"):
        session.edit(None, "make it darker", from_source=value)
    assert len(session.turns) == 1


def test_an_import_whose_ids_are_taken_between_check_and_commit_gets_fresh_ones(tmp_path, exported, monkeypatch):
    store = Store(tmp_path / "other")
    first = EditSession.import_folder(exported.parent, store=store)
    # As if a second import of the same export checked before the first committed: the check sees no clash.
    monkeypatch.setattr(store, "has_session", lambda session_id: False)
    monkeypatch.setattr(store, "existing_turn_ids", lambda turn_ids: set())
    from edit_agent.transfer import import_session

    second = import_session(store, exported.parent)
    assert second != first.id and len(EditSession.open(second, store=store).turns) == 2


def test_an_import_stores_a_plain_png_as_it_is_and_any_other_as_its_pixels(tmp_path, exported, monkeypatch):
    import edit_agent.store as store_module

    images = sorted((exported.parent / "images").glob("*.png"))
    plain, other = images[0], images[1]
    pixels = Image.open(other).convert("RGB")
    pixels.convert("RGBA").save(other)  # the same pixels, as an RGBA PNG another tool might write
    encoded = []
    monkeypatch.setattr(store_module, "encode_png", lambda image: encoded.append(image) or encode_png(image))
    imported = EditSession.import_folder(exported.parent, store=tmp_path / "other")
    assert len(encoded) == 1  # only the RGBA one was decoded and encoded again
    store = Store(tmp_path / "other")
    assert store.image_path(plain.stem).read_bytes() == plain.read_bytes()  # no decode and encode again
    stored = Image.open(store.image_path(other.stem))
    assert stored.mode == "RGB" and stored.tobytes() == pixels.tobytes()  # written as the store writes its own
    assert [turn.image.size for turn in imported.history] == [(64, 32), (64, 32)]


def test_an_image_changed_after_it_was_checked_is_not_stored(tmp_path, exported, monkeypatch):
    import edit_agent.transfer as transfer

    checked = transfer._load_checked

    def check_then_swap(folder, digest, limits):
        result = checked(folder, digest, limits)
        Image.new("RGB", (64, 48), (1, 2, 3)).save(folder / f"images/{digest}.png")  # swapped after the check
        return result

    monkeypatch.setattr(transfer, "_load_checked", check_then_swap)
    with pytest.raises(InvalidImageError, match="does not match its recorded content hash"):
        EditSession.import_folder(exported.parent, store=tmp_path / "other")
    assert EditSession.list(store=tmp_path / "other") == []


def test_a_refused_export_names_a_turn_id_with_an_escape_code_without_sending_it(tmp_path, exported):
    rewrite_turns(exported, lambda turns: [{**turns[0], "id": "\x1b[2Jt", "instruction": " "},
                                           {**turns[1], "parent_id": "\x1b[2Jt"}])
    with pytest.raises(InvalidExportError, match="empty instruction") as refused:
        EditSession.import_folder(exported.parent, store=tmp_path / "other")
    assert "\x1b" not in str(refused.value) and "'\\x1b[2Jt'" in str(refused.value)


@pytest.mark.parametrize(("backends", "match"), [
    ({"editor": "world", "editor_options": {"steps": 0}}, "steps must be at least 1"),
    ({"reasoner": "llm", "reasoner_options": {"quantization": "int3"}}, "Unknown quantization 'int3'"),
    ({"reasoner": "llm", "reasoner_options": {"dtype": "float7"}}, "Unknown dtype 'float7'"),
])
def test_a_backend_option_of_a_wrong_value_is_an_edit_agent_error(tmp_path, backends, match):
    """A wrong option name was an InvalidArgumentError, a wrong value a plain ValueError, which the app and the
    tools do not catch as a refusal."""
    with pytest.raises(InvalidArgumentError, match=match):
        EditSession(store=tmp_path, **backends).edit("sample:world-1", "make it brighter")
