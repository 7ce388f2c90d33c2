"""The langchain-core tools: schemas, an agent loop with a scripted chat model, bad input."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from PIL import Image

from edit_agent import EditSession
from edit_agent.errors import UnsupportedInstructionError
from edit_agent.images import ImageLimits, encode_png
from edit_agent.testing import RecordingEditor
from edit_agent.tools import MAX_BASE64_CHARS, OPENAI_TOOL_SCHEMAS, TOOL_LIMITS, make_tools


def b64(image: Image.Image) -> str:
    return base64.b64encode(encode_png(image)).decode()


@pytest.fixture
def tools(tmp_path):
    return {tool.name: tool for tool in make_tools("user-a", store=tmp_path)}


def test_openai_schemas_describe_the_arguments():
    by_name = {schema["function"]["name"]: schema["function"] for schema in OPENAI_TOOL_SCHEMAS}
    assert list(by_name) == ["edit_image", "undo_edit", "redo_edit", "get_image", "session_history", "list_sessions"]
    edit = by_name["edit_image"]["parameters"]
    assert edit["required"] == ["instruction"]
    assert set(edit["properties"]) == {"instruction", "session_id", "image_base64", "attached_image", "image_id", "seed",
                                       "return_image"}
    assert edit["properties"]["image_base64"]["anyOf"][0]["maxLength"] == MAX_BASE64_CHARS
    assert "path" not in json.dumps(edit).lower() and "url" not in edit["properties"]
    assert by_name["undo_edit"]["parameters"]["required"] == ["session_id"]
    assert by_name["get_image"]["parameters"]["required"] == ["session_id"]
    assert set(by_name["get_image"]["parameters"]["properties"]) == {"session_id", "image_id"}
    assert all(schema["description"] for schema in by_name.values())


def test_a_scripted_agent_edits_then_undoes(tmp_path):
    editor = RecordingEditor()
    tools = {tool.name: tool for tool in make_tools("agent-run-1", store=tmp_path, editor=editor)}
    png = b64(Image.new("RGB", (40, 30), "orange"))
    model = GenericFakeChatModel(messages=iter([
        AIMessage(content="", tool_calls=[{
            "name": "edit_image", "id": "call-1", "args": {"instruction": "make it warmer", "image_base64": png},
        }]),
        AIMessage(content="", tool_calls=[{"name": "undo_edit", "id": "call-2", "args": {"session_id": "SESSION"}}]),
        AIMessage(content="Done: warmed, then undone."),
    ]))
    messages: list = [HumanMessage("Warm this up, then change your mind.")]
    session_id = None
    while True:
        reply = model.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            args = {k: (session_id if v == "SESSION" else v) for k, v in call["args"].items()}
            result = tools[call["name"]].invoke({**call, "args": args, "type": "tool_call"})
            assert isinstance(result, ToolMessage) and result.status == "success"
            session_id = session_id or json.loads(result.content)["session_id"]
            messages.append(result)
    edit_reply, undo_reply = json.loads(messages[2].content), json.loads(messages[4].content)
    assert edit_reply["intent"] == "Make the image warmer by 20%." and edit_reply["size"] == [40, 30]
    assert messages[2].artifact.turn_id == edit_reply["turn_id"]  # the EditResult rides along
    assert undo_reply == {"session_id": session_id, "undone": True, "head": None, "note": "Back at the source image."}
    assert isinstance(edit_reply["seed"], int)  # so a generative edit can be redone exactly
    again = json.loads(tools["undo_edit"].invoke({"session_id": session_id}))
    assert again["undone"] is False and "Nothing to undo" in again["note"]
    assert [call.intent for call in editor.calls] == ["Make the image warmer by 20%."]
    assert EditSession.open(session_id, store=tmp_path).head is None


def test_continue_branch_and_history(tools):
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    sid = first["session_id"]
    second, image = shown(tools["edit_image"].invoke({"instruction": "make it brighter", "session_id": sid,
                                                      "return_image": True}))
    assert image.size == (10, 20) and "image_base64" not in second
    branch = json.loads(tools["edit_image"].invoke({"instruction": "flip it vertically", "session_id": sid,
                                                    "image_id": first["image_id"]}))
    history = json.loads(tools["session_history"].invoke({"session_id": sid}))
    assert [t["parent_id"] for t in history["turns"]] == [None, first["turn_id"], first["turn_id"]]
    assert history["head"] == branch["turn_id"] and history["turns"][2]["is_head"]


def test_again_right_after_an_undo_is_asked_not_the_edit_before_the_undone_one(tools):
    first = json.loads(tools["edit_image"].invoke({"instruction": "make it brighter",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    sid = first["session_id"]
    tools["edit_image"].invoke({"instruction": "rotate it left", "session_id": sid})
    tools["undo_edit"].invoke({"session_id": sid})
    refused = tools["edit_image"].invoke({"instruction": "again", "session_id": sid})
    assert "redo brings back the undone edit" in refused
    history = json.loads(tools["session_history"].invoke({"session_id": sid}))
    assert history["head"] == first["turn_id"] and len(history["turns"]) == 2


def test_a_refused_edit_on_an_earlier_image_leaves_the_head_where_it_was(tools):
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    sid = first["session_id"]
    second = json.loads(tools["edit_image"].invoke({"instruction": "make it brighter", "session_id": sid}))
    refused = tools["edit_image"].invoke({"instruction": "make the car red", "session_id": sid,
                                          "image_id": first["image_id"]})
    assert "generative editor" in refused
    history = json.loads(tools["session_history"].invoke({"session_id": sid}))
    assert history["head"] == second["turn_id"] and len(history["turns"]) == 2
    tools["edit_image"].invoke({"instruction": "flip it", "session_id": sid})
    history = json.loads(tools["session_history"].invoke({"session_id": sid}))
    assert history["turns"][-1]["parent_id"] == second["turn_id"]  # the next edit continues from the head

def test_a_branch_edit_and_a_plain_edit_at_once_each_continue_from_their_own_image(tmp_path):
    # Agent frameworks run tool calls in parallel: the branch must not let the other call's turn in
    # between its checkout and its edit, nor leave the other call editing the branch's image.
    from concurrent.futures import ThreadPoolExecutor

    tools = {t.name: t for t in make_tools("user-a", store=tmp_path, editor=RecordingEditor(delay=0.01))}
    for _ in range(8):
        first = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                       "image_base64": b64(Image.new("RGB", (16, 16)))}))
        sid = first["session_id"]
        second = json.loads(tools["edit_image"].invoke({"instruction": "make it brighter", "session_id": sid}))
        with ThreadPoolExecutor(2) as pool:
            branch = pool.submit(tools["edit_image"].invoke, {"instruction": "make it cooler", "session_id": sid,
                                                              "image_id": first["turn_id"]})
            plain = pool.submit(tools["edit_image"].invoke, {"instruction": "make it darker", "session_id": sid})
            branch, plain = json.loads(branch.result()), json.loads(plain.result())
        parents = {t["turn_id"]: t["parent_id"] for t in json.loads(
            tools["session_history"].invoke({"session_id": sid}))["turns"]}
        assert parents[branch["turn_id"]] == first["turn_id"]
        assert parents[plain["turn_id"]] in {second["turn_id"], branch["turn_id"]}  # the head when it ran


def test_a_refused_edit_on_an_earlier_image_leaves_where_redo_goes(tmp_path, tools):
    first = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                   "image_base64": b64(Image.new("RGB", (16, 16)))}))
    sid = first["session_id"]
    second = json.loads(tools["edit_image"].invoke({"instruction": "make it brighter", "session_id": sid}))
    third = json.loads(tools["edit_image"].invoke({"instruction": "make it cooler", "session_id": sid,
                                                   "image_id": first["turn_id"]}))
    session = EditSession.open(sid, store=tmp_path)
    session.checkout(second["turn_id"])
    session.undo()  # at turn one; redo goes to two
    refused = tools["edit_image"].invoke({"instruction": "make the car red", "session_id": sid,
                                          "image_id": third["turn_id"]})
    assert "generative editor" in refused
    assert session.head.turn_id == first["turn_id"] and session.redo().turn_id == second["turn_id"]


def test_two_undos_at_once_undo_once_and_say_so(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    tools = {t.name: t for t in make_tools("user-a", store=tmp_path)}
    for _ in range(8):
        sid = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                     "image_base64": b64(Image.new("RGB", (16, 16)))}))["session_id"]
        with ThreadPoolExecutor(2) as pool:
            replies = [json.loads(reply) for reply in pool.map(tools["undo_edit"].invoke, [{"session_id": sid}] * 2)]
        assert sorted(reply["undone"] for reply in replies) == [False, True]


@pytest.mark.parametrize("encode", [
    lambda png: base64.b64encode(png).decode().rstrip("="),  # unpadded
    lambda png: base64.urlsafe_b64encode(png).decode(),  # the URL-safe alphabet
    lambda png: "  DATA:image/png;base64," + base64.b64encode(png).decode() + "\n",  # spaces, capitals
])
def test_common_base64_variants_are_read(tools, encode):
    png = encode_png(Image.effect_noise((40, 30), 80).convert("RGB"))  # noise: its base64 has + and / (- and _)
    reply = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer", "image_base64": encode(png)}))
    assert reply["size"] == [40, 30]


def test_instruction_length_is_counted_without_surrounding_spaces_as_the_sdk_counts(tools):
    reply = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer" + " " * 1990,
                                                   "image_base64": b64(Image.new("RGB", (16, 16)))}))
    assert reply["instruction"] == "make it warmer"


def test_a_returned_image_larger_than_the_tools_take_in_is_left_out_with_a_note(tmp_path):
    tools = {t.name: t for t in make_tools("user-a", store=tmp_path, limits=ImageLimits(max_bytes=8000))}
    noise = b64(Image.effect_noise((40, 40), 80).convert("RGB"))  # about 5 KB of PNG after the resize below
    reply, image = shown(tools["edit_image"].invoke({"instruction": "resize to 200%", "image_base64": noise,
                                                     "return_image": True}))
    assert image is None and "left out" in reply["image_note"] and reply["size"] == [80, 80]


@pytest.mark.parametrize("owner", ["", " " * 16, "\x00" * 16, "\u200b\n", "\ud800" * 16])
def test_an_owner_anyone_could_guess_or_no_text_is_an_argument_error(owner):
    from edit_agent.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="owner"):
        make_tools(owner)


def test_an_image_id_without_its_session_is_told_so(tools):
    reply = tools["edit_image"].invoke({"instruction": "make it warmer", "image_id": "source"})
    assert "image_id needs the session_id it belongs to" in reply
    # with a new image, adding the session_id would be refused next: the message says to leave image_id out
    reply = tools["edit_image"].invoke({"instruction": "make it warmer", "image_id": "source",
                                        "image_base64": b64(Image.new("RGB", (8, 8)))})
    assert "image_base64 starts a new session, which has no earlier image to pick: leave out image_id" in reply


def test_base64_wrapped_in_lines_counts_its_characters_not_its_line_breaks(tools):
    # just under the byte limit, wrapped as MIME does (76 characters and CRLF), it was over the text limit
    data = b"\x89PNG" + bytes(TOOL_LIMITS.max_bytes - 100)
    text = base64.b64encode(data).decode()
    wrapped = "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    assert len(wrapped) > MAX_BASE64_CHARS
    reply = tools["edit_image"].invoke({"instruction": "make it warmer", "image_base64": wrapped})
    assert reply.startswith("The data is not a PNG, JPEG"), reply[:300]  # refused for what it is, not its length


@pytest.mark.parametrize("settings, message", [
    ({"reasoner": "nope"}, "Unknown reasoner 'nope'; choose one of"),
    ({"editor": "nah"}, "Unknown editor 'nah'; choose one of"),
    ({"store": 5}, "The store must be a folder path"),
    ({"store": " "}, "is not a usable folder path"),
])
def test_settings_that_cannot_work_fail_when_the_tools_are_made_not_when_the_model_calls_them(settings, message):
    """The model calling a tool cannot fix the application's settings: the developer hears of them at once."""
    from edit_agent.errors import EditAgentError

    with pytest.raises(EditAgentError, match=message):
        make_tools("agent-1", **settings)


def test_unknown_and_foreign_session_ids_get_the_same_error(tmp_path, tools):
    sid = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                 "image_base64": b64(Image.new("RGB", (16, 16)))}))["session_id"]
    other = {tool.name: tool for tool in make_tools("user-b", store=tmp_path)}
    unknown = "0123456789abcdef" * 2
    for name in ("undo_edit", "session_history"):
        foreign_error = other[name].invoke({"session_id": sid})
        unknown_error = other[name].invoke({"session_id": unknown})
        assert foreign_error == f"Unknown session id {sid}."
        assert unknown_error.replace(unknown, sid) == foreign_error
    foreign_edit = other["edit_image"].invoke({"instruction": "make it warmer", "session_id": sid})
    assert foreign_edit == f"Unknown session id {sid}."
    assert len(EditSession.open(sid, store=tmp_path).turns) == 1  # nothing happened to the owner's session
    malformed = other["undo_edit"].invoke({"session_id": "../../etc/passwd"})
    assert malformed.startswith("Invalid arguments: session_id: must be the 32-character session id (lowercase hex)")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"instruction": "make it warmer"}, "pass image_base64 or attached_image to start a session"),
        ({"instruction": "make it warmer", "image_base64": "not base64!!"}, "not valid base64"),
        ({"instruction": "make it warmer", "image_base64": base64.b64encode(b"<html></html>").decode()},
         "HTML files are not accepted"),
        ({"instruction": "make it warmer", "image_base64": "/etc/passwd"}, "not a PNG, JPEG"),  # paths are not read
        ({"instruction": "make it warmer", "image_base64": "https://example.com/cat.png"}, "not valid base64"),
        ({"instruction": "make it warmer", "image_base64": "/etc/passwd="}, "not a PNG, JPEG"),
        ({"instruction": "", "image_base64": "AAAA"}, "instruction: String should have at least 1 character"),
        ({"instruction": "x" * 2001, "image_base64": "AAAA"}, "instruction: String should have at most 2000"),
        ({"instruction": "make it warmer", "image_base64": "AAAA", "path": "/etc/passwd"}, "Extra inputs"),
    ],
)
def test_bad_arguments_come_back_as_readable_text(tools, arguments, message):
    reply = tools["edit_image"].invoke(arguments)
    assert message in reply


def test_oversized_images_are_refused(tmp_path):
    tools = {t.name: t for t in make_tools("user-a", store=tmp_path, limits=ImageLimits(max_side=64))}
    reply = tools["edit_image"].invoke({"instruction": "make it warmer", "image_base64": b64(Image.new("RGB", (65, 8)))})
    assert reply == "The image is 65x8; its longest side may be at most 64 px."
    too_long = tools["edit_image"].invoke({"instruction": "make it warmer", "image_base64": "A" * (MAX_BASE64_CHARS + 1)})
    assert "image_base64: String should have at most" in too_long
    assert TOOL_LIMITS.max_bytes * 4 // 3 < MAX_BASE64_CHARS
    assert EditSession.list(store=tmp_path) == []


def test_undo_that_on_a_photo_points_the_agent_to_undo_edit(tools):
    started = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                     "image_base64": b64(Image.new("RGB", (20, 10)))}))
    reply = tools["edit_image"].invoke({"instruction": "undo that", "session_id": started["session_id"]})
    assert "undo_edit" in reply


def shown(content: list[dict]) -> tuple[dict, Image.Image | None]:
    """A reply that shows an image: its JSON, and the image a model reading images sees (None if left out)."""
    import io

    (text,), images = ([block[key] for block in content if block["type"] == kind]
                       for kind, key in (("text", "text"), ("image", "base64")))
    return json.loads(text), Image.open(io.BytesIO(base64.b64decode(images[0]))) if images else None


def test_redo_edit_after_a_canvas_undo_turn_moves_back_past_it(tools, tmp_path):
    from edit_agent.samples import sample_image

    first = json.loads(tools["edit_image"].invoke({"instruction": "add a small blue circle at the bottom left",
                                                   "image_base64": b64(sample_image("world-2"))}))
    sid = first["session_id"]
    green = json.loads(tools["edit_image"].invoke({"instruction": "make it green", "session_id": sid}))
    json.loads(tools["edit_image"].invoke({"instruction": "undo that", "session_id": sid}))
    with pytest.raises(UnsupportedInstructionError, match="move back past that turn"):  # typed: what to do instead
        EditSession.open(sid, store=tmp_path).edit(None, "redo that")
    redone = json.loads(tools["redo_edit"].invoke({"session_id": sid}))
    assert redone["redone"] is True and redone["head"]["turn_id"] == green["turn_id"] and "undo that" in redone["note"]


def test_redo_edit_after_taking_back_a_canvas_undo_turn_has_nothing_more_to_redo(tools, tmp_path):
    from edit_agent.samples import sample_image

    first = json.loads(tools["edit_image"].invoke({"instruction": "make all shapes green",
                                                   "image_base64": b64(sample_image("world-2"))}))
    sid = first["session_id"]
    tools["edit_image"].invoke({"instruction": "undo that", "session_id": sid})
    replies = [json.loads(tools["redo_edit"].invoke({"session_id": sid})) for _ in range(3)]
    # an agent that redoes until redone is false stops, at the edit, not flipping between it and its undo
    assert [reply["redone"] for reply in replies] == [True, False, False]
    assert {reply["head"]["turn_id"] for reply in replies} == {first["turn_id"]}
    assert not EditSession.open(sid, store=tmp_path).can_redo


def test_redo_edit_moves_back_only_past_an_undo_turn_that_gave_its_image_back(tmp_path):
    from edit_agent.samples import sample_image

    drawn = {tool.name: tool for tool in make_tools("a", store=tmp_path, reasoner="passthrough", editor="identity")}
    first = json.loads(drawn["edit_image"].invoke({"instruction": "make it warmer",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    undo = json.loads(drawn["edit_image"].invoke({"instruction": "undo that", "session_id": first["session_id"]}))
    kept = json.loads(drawn["redo_edit"].invoke({"session_id": first["session_id"]}))  # an edit an editor drew
    assert kept["redone"] is False and kept["head"]["turn_id"] == undo["turn_id"]
    canvas = {tool.name: tool for tool in make_tools("b", store=tmp_path)}
    nothing = json.loads(canvas["edit_image"].invoke({"instruction": "undo that",  # a first turn: nothing undone
                                                      "image_base64": b64(sample_image("world-2"))}))
    reply = json.loads(canvas["redo_edit"].invoke({"session_id": nothing["session_id"]}))
    assert reply["redone"] is False and reply["head"]["turn_id"] == nothing["turn_id"]


def test_redo_edit_brings_back_what_undo_edit_took_back(tools):
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    sid = first["session_id"]
    nothing = json.loads(tools["redo_edit"].invoke({"session_id": sid}))
    assert nothing["redone"] is False and nothing["head"]["turn_id"] == first["turn_id"] and "Nothing to redo" in nothing["note"]
    assert json.loads(tools["undo_edit"].invoke({"session_id": sid}))["head"] is None
    redone = json.loads(tools["redo_edit"].invoke({"session_id": sid}))
    assert redone["redone"] is True and redone["head"]["turn_id"] == first["turn_id"]
    assert json.loads(tools["session_history"].invoke({"session_id": sid}))["head"] == first["turn_id"]


def test_get_image_shows_the_current_a_turns_and_the_source_image(tools, tmp_path):
    source = Image.new("RGB", (20, 10), (200, 30, 30))
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees", "image_base64": b64(source)}))
    sid = first["session_id"]
    second = json.loads(tools["edit_image"].invoke({"instruction": "make it grayscale", "session_id": sid}))

    current, image = shown(tools["get_image"].invoke({"session_id": sid}))
    assert current["turn_id"] == second["turn_id"] and current["is_current"] is True
    stored = EditSession.open(sid, store=tmp_path).head.image
    assert image.tobytes() == stored.tobytes() and len(set(stored.getpixel((0, 0)))) == 1  # grey
    earlier, image = shown(tools["get_image"].invoke({"session_id": sid, "image_id": first["turn_id"]}))
    assert earlier["turn_id"] == first["turn_id"] and earlier["is_current"] is False
    assert image.getpixel((0, 0)) == (200, 30, 30)
    original, image = shown(tools["get_image"].invoke({"session_id": sid, "image_id": "source"}))
    assert original["image_id"] == "source" and original["is_current"] is False
    assert image.tobytes() == source.tobytes() and "image_base64" not in original  # no image as text
    message = tools["get_image"].invoke({"type": "tool_call", "id": "c", "name": "get_image",
                                         "args": {"session_id": sid}})
    assert message.artifact.size == (10, 20)  # the PIL image rides along for langchain agents

    assert "No turn" in tools["get_image"].invoke({"session_id": sid, "image_id": "0" * 16})
    stranger = {tool.name: tool for tool in make_tools("user-b", store=tmp_path)}
    assert stranger["get_image"].invoke({"session_id": sid}) == f"Unknown session id {sid}."


def test_an_edit_from_the_source_image_branches_there(tools):
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    sid = first["session_id"]
    branch = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "session_id": sid, "image_id": "source"}))
    assert branch["size"] == [20, 10]
    turns = json.loads(tools["session_history"].invoke({"session_id": sid}))["turns"]
    assert [(t["number"], t["parent_id"]) for t in turns] == [(1, None), (2, None)]
    assert shown(tools["get_image"].invoke({"session_id": sid, "image_id": "source"}))[0]["is_current"] is False


def test_optional_fields_sent_empty_or_null_count_as_left_out(tools):
    started = json.loads(tools["edit_image"].invoke({
        "instruction": "rotate it 90 degrees", "image_base64": b64(Image.new("RGB", (20, 10))),
        "session_id": "", "image_id": None, "seed": None, "return_image": None,
    }))
    assert started["size"] == [10, 20] and "image_base64" not in started
    sid = started["session_id"]
    again = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "session_id": sid, "image_base64": "",
                                                   "image_id": ""}))
    assert shown(tools["get_image"].invoke({"session_id": sid, "image_id": ""}))[0]["turn_id"] == again["turn_id"]
    assert "session_id: must be the 32-character session id" in tools["undo_edit"].invoke({"session_id": ""})  # required


@pytest.mark.parametrize("typed", ["redo", "go back", "undo the last two edits", "start over", "never mind"])
def test_a_history_move_typed_as_an_edit_points_the_agent_to_the_history_tools(tools, typed):
    started = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                     "image_base64": b64(Image.new("RGB", (20, 10)))}))
    reply = tools["edit_image"].invoke({"instruction": typed, "session_id": started["session_id"]})
    assert "redo_edit" in reply and "undo_edit" in reply and "generative editor" not in reply


def test_an_unreadable_stored_image_is_a_tool_error_not_an_exception(tools, tmp_path):
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    sid = first["session_id"]
    tools["edit_image"].invoke({"instruction": "make it brighter", "session_id": sid})
    output = next(turn.output_hash for turn in EditSession.open(sid, store=tmp_path).turn_records()
                  if turn.id == first["turn_id"])
    for path in (tmp_path / "images").rglob(f"{output}*"):
        path.write_bytes(b"not a png")
    for name, args in (("undo_edit", {"session_id": sid}), ("get_image", {"session_id": sid, "image_id": first["turn_id"]})):
        message = tools[name].invoke({"type": "tool_call", "id": "c", "name": name, "args": args})
        assert message.status == "error" and "cannot be read" in message.content


def test_results_from_history_pickle_with_their_pixels(tmp_path):
    import pickle

    session = EditSession(store=tmp_path)
    session.edit(Image.new("RGB", (20, 10), "red"), "rotate it 90 degrees")
    stored = session.history[0]  # its image loads from the store on first use
    copy = pickle.loads(pickle.dumps(stored))
    assert copy.turn_id == stored.turn_id and copy.image.tobytes() == stored.image.tobytes()


def test_a_damaged_owners_file_is_one_error_and_stores_no_session(tmp_path):
    png = b64(Image.new("RGB", (20, 10)))
    (tmp_path / "owners.db").write_bytes(b"\x13garbage" * 2048)
    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path)}
    reply = tools["edit_image"].invoke({"type": "tool_call", "id": "c", "name": "edit_image",
                                        "args": {"instruction": "rotate it 90 degrees", "image_base64": png}})
    assert reply.status == "error" and "owners file" in reply.content and "cannot be used" in reply.content
    assert EditSession.list(store=tmp_path) == []  # no session that no owner could ever reach


def test_a_first_turn_that_fails_leaves_its_owner_no_session(tmp_path):
    from edit_agent.tools import session_owners

    class Failing(RecordingEditor):
        def edit(self, image, intent, *, seed=None):
            raise RuntimeError("editor crashed")

    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path, editor=Failing())}
    reply = tools["edit_image"].invoke({"instruction": "make it warmer", "image_base64": b64(Image.new("RGB", (8, 8)))})
    assert "editor crashed" in reply
    owners = session_owners(tmp_path)
    assert owners._db.execute("SELECT COUNT(*) FROM owners").fetchone() == (0,)
    assert owners.sessions("agent-1") == [] and EditSession.list(store=tmp_path) == []


def test_the_model_starts_a_session_on_an_image_the_host_attached(tmp_path):
    from edit_agent.errors import InvalidImageError

    photo = Image.new("RGB", (30, 20), (12, 140, 90))
    tools = make_tools("agent-1", store=tmp_path, images={"beach.jpg": photo})
    by_name = {tool.name: tool for tool in tools}
    reply = json.loads(by_name["edit_image"].invoke({"instruction": "rotate it 90 degrees", "attached_image": "beach.jpg"}))
    assert reply["size"] == [20, 30]
    assert EditSession.open(reply["session_id"], store=tmp_path).source_image.tobytes() == photo.tobytes()

    tools.attach("later.png", np.zeros((8, 10, 3), np.uint8))  # given during the conversation
    later = json.loads(by_name["edit_image"].invoke({"instruction": "flip it", "attached_image": "later.png"}))
    assert later["size"] == [10, 8] and later["session_id"] != reply["session_id"]

    assert by_name["edit_image"].invoke({"instruction": "flip it", "attached_image": "nope"}) == (
        "No attached image is named 'nope'; attached: 'beach.jpg', 'later.png'.")
    both = by_name["edit_image"].invoke({"instruction": "flip it", "attached_image": "beach.jpg",
                                         "image_base64": b64(photo)})
    assert "pass one of image_base64 and attached_image" in both
    with pytest.raises(InvalidImageError):
        tools.attach("broken.png", b"not an image")
    assert len(EditSession.list(store=tmp_path)) == 2
    edit_image, *_ = make_tools("agent-2", store=tmp_path)  # still a list of tools
    assert edit_image.name == "edit_image"


def test_a_turn_that_changes_nothing_says_so(tmp_path):
    from edit_agent.world import Scene, SceneObject, render

    circle = SceneObject(shape="circle", color="red", size="large", cell="center")
    canvas = render(Scene(background="white", objects=(circle,)), 96)
    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path, editor="program")}
    occupied = json.loads(tools["edit_image"].invoke({"instruction": "add a small blue square at the center",
                                                      "image_base64": b64(canvas)}))
    assert occupied["changed"] is False and occupied["intent"] == "Make no change."
    recoloured = json.loads(tools["edit_image"].invoke({"instruction": "make the circle blue",
                                                        "session_id": occupied["session_id"]}))
    assert recoloured["changed"] is True
    session = EditSession.open(occupied["session_id"], store=tmp_path)
    assert [turn.changed for turn in session.history] == [False, True]


def test_edit_image_says_what_the_configured_backends_understand():
    by_name = {schema["function"]["name"]: schema["function"] for schema in OPENAI_TOOL_SCHEMAS}
    default = by_name["edit_image"]["description"]
    assert "rotate, flip, crop" in default and "from now on" in default and "refused" in default
    assert "reasoner rules" in default and "editor auto" in default
    generative = make_tools("x", reasoner="passthrough", editor="qwen-image-edit")[0].description
    assert "rotate, flip, crop" not in generative and "editor qwen-image-edit (generative" in generative


def test_the_last_attached_images_stay_and_a_detached_one_is_gone(tmp_path):
    from edit_agent.tools import MAX_ATTACHED_IMAGES

    tools = make_tools("agent-1", store=tmp_path)
    edit_image = tools[0]
    for number in range(MAX_ATTACHED_IMAGES + 1):
        tools.attach(f"photo-{number}.png", Image.new("RGB", (16, 16), (number, 0, 0)))
    assert "No attached image is named 'photo-0.png'" in edit_image.invoke(
        {"instruction": "flip it", "attached_image": "photo-0.png"})  # the oldest went
    reply = json.loads(edit_image.invoke({"instruction": "flip it", "attached_image": "photo-1.png"}))
    tools.detach("photo-1.png")
    assert "No attached image is named 'photo-1.png'" in edit_image.invoke(
        {"instruction": "flip it", "attached_image": "photo-1.png"})
    source = EditSession.open(reply["session_id"], store=tmp_path).source_image
    assert source.getpixel((0, 0)) == (1, 0, 0)  # the session keeps its own copy


def test_get_image_on_a_session_deleted_meanwhile_is_an_unknown_session(tmp_path, monkeypatch):
    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path)}
    sid = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                 "image_base64": b64(Image.new("RGB", (20, 10)))}))["session_id"]
    box = tools["get_image"].func.__wrapped__.__self__
    opened = box._open

    def open_then_deleted(session_id):  # another tab deletes it right after the ownership check
        session = opened(session_id)
        EditSession.open(session_id, store=tmp_path).delete()
        return session

    monkeypatch.setattr(box, "_open", open_then_deleted)
    message = tools["get_image"].invoke({"type": "tool_call", "id": "c", "name": "get_image",
                                         "args": {"session_id": sid}})
    assert message.status == "error" and message.content == f"Unknown session id {sid}."


def test_a_failure_after_the_first_turn_committed_keeps_its_owner(tmp_path, monkeypatch):
    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path)}

    def fails_after_the_commit(self, turn, **kwargs):
        raise KeyboardInterrupt  # say, Ctrl-C while the committed turn's result is built

    monkeypatch.setattr(EditSession, "_result", fails_after_the_commit)
    with pytest.raises(KeyboardInterrupt):
        tools["edit_image"].invoke({"instruction": "flip it", "image_base64": b64(Image.new("RGB", (16, 16)))})
    [sid] = EditSession.list(store=tmp_path)
    monkeypatch.undo()
    assert json.loads(tools["session_history"].invoke({"session_id": sid}))["session_id"] == sid


@pytest.mark.parametrize("typed", ["turn the sky back to blue", "never mind the sky, add a dog",
                                   "restore the original image's colours"])
def test_an_edit_that_mentions_going_back_is_still_an_edit(tools, typed):
    started = json.loads(tools["edit_image"].invoke({"instruction": "make it warmer",
                                                     "image_base64": b64(Image.new("RGB", (20, 10)))}))
    reply = tools["edit_image"].invoke({"instruction": typed, "session_id": started["session_id"]})
    assert "generative editor" in reply and "redo_edit" not in reply


def test_list_sessions_gives_an_agent_its_own_sessions_to_pick_up_again(tmp_path):
    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path)}
    assert json.loads(tools["list_sessions"].invoke({})) == {"sessions": [], "total": 0}
    first = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees",
                                                   "image_base64": b64(Image.new("RGB", (20, 10)))}))
    second = json.loads(tools["edit_image"].invoke({"instruction": "flip it",
                                                    "image_base64": b64(Image.new("RGB", (20, 10)))}))
    tools["edit_image"].invoke({"instruction": "make it warmer", "session_id": first["session_id"]})
    listed = json.loads(tools["list_sessions"].invoke({}))["sessions"]
    assert [entry["session_id"] for entry in listed] == [second["session_id"], first["session_id"]]  # newest first
    assert listed[1]["turns"] == 2 and listed[1]["first_instruction"] == "rotate it 90 degrees"
    assert listed[1]["head"]["number"] == 2 and listed[1]["head"]["intent"] == "Make the image warmer by 20%."
    from datetime import datetime, timedelta, timezone

    created = datetime.fromisoformat(listed[1]["created"])  # a date an agent can read out, not a raw epoch
    assert abs(created - datetime.now(timezone.utc)) < timedelta(minutes=5)
    other = {tool.name: tool for tool in make_tools("agent-2", store=tmp_path)}
    assert json.loads(other["list_sessions"].invoke({})) == {"sessions": [], "total": 0}  # never another owner's
    EditSession.open(second["session_id"], store=tmp_path).delete()
    assert len(json.loads(tools["list_sessions"].invoke({}))["sessions"]) == 1


def test_a_larger_photo_the_host_attaches_is_scaled_down_to_the_tools_limits(tmp_path):
    from edit_agent.errors import InvalidImageError

    tools = make_tools("agent-1", store=tmp_path, limits=ImageLimits(max_side=400, max_pixels=1_000_000))
    tools.attach("camera.jpg", Image.new("RGB", (1000, 600), (200, 30, 30)))  # a phone photo, over the limits
    reply = json.loads(tools[0].invoke({"instruction": "flip it", "attached_image": "camera.jpg"}))
    assert reply["size"] == [400, 240]  # the aspect kept
    assert reply["note"] == "The attached image (1000x600) was scaled down to 400x240 to fit the tools' limits."
    again = json.loads(tools[0].invoke({"instruction": "flip it", "session_id": reply["session_id"]}))
    assert "note" not in again  # said once, when the session starts from it
    # past what is scaled (50 MP, 12000 px a side): refused, with the limit that refuses it
    with pytest.raises(InvalidImageError, match="at most 12000 px"):
        tools.attach("panorama.png", Image.new("RGB", (12_001, 10), "white"))
    with pytest.raises(InvalidImageError, match=r"the limit is 50,000,000 pixels \(50 MP\)"):
        tools.attach("huge.png", Image.new("RGB", (8000, 7000)))  # not the 1 MP it would have been scaled to
    base64_sent = tools[0].invoke({"instruction": "flip it", "image_base64": b64(Image.new("RGB", (1000, 600)))})
    assert "400" in base64_sent and "session_id" not in base64_sent  # what the model sends itself is not scaled


def test_an_unreadable_id_is_told_briefly_with_what_id_is_wanted(tools):
    not_hex = tools["session_history"].invoke({"session_id": "G" * 32})
    assert "(lowercase hex)" in not_hex and "'" + "g" * 32 + "'" in not_hex  # as it was read
    huge = tools["session_history"].invoke({"session_id": "x" * 100_000})
    assert len(huge) < 400 and "(100000 characters)" in huge


def test_a_photo_the_host_attaches_may_be_larger_in_bytes_than_what_the_model_sends(tmp_path):
    import io

    tools = make_tools("agent-1", store=tmp_path, limits=ImageLimits(max_side=400, max_pixels=1_000_000, max_bytes=20_000))
    noisy = io.BytesIO()
    Image.effect_noise((300, 300), 80).convert("RGB").save(noisy, format="PNG")
    assert len(noisy.getvalue()) > 20_000
    tools.attach("camera.png", noisy.getvalue())  # within the pixel limits: its bytes are the host's business
    assert "larger than the limit" in tools[0].invoke({"instruction": "flip it", "image_base64": b64(Image.open(noisy))})


def test_a_bundled_sample_starts_a_session_by_name_as_the_readme_says(tmp_path):
    from edit_agent.samples import sample_image

    tools = make_tools("agent-1", store=tmp_path, images={"canvas": "sample:world-1"})
    by_name = {tool.name: tool for tool in tools}
    attached = json.loads(by_name["edit_image"].invoke({"instruction": "flip it", "attached_image": "canvas"}))
    named = json.loads(by_name["edit_image"].invoke({"instruction": "flip it", "attached_image": "sample:world-1"}))
    started = [EditSession.open(reply["session_id"], store=tmp_path).source_image for reply in (attached, named)]
    assert all(image.tobytes() == sample_image("world-1").tobytes() for image in started)
    assert "note" not in named
    unknown = by_name["edit_image"].invoke({"instruction": "flip it", "attached_image": "sample:world-9"})
    assert "Unknown sample 'world-9'; choose one of: world-0" in unknown
    assert "sample:NAME" in by_name["edit_image"].args["attached_image"]["description"]


def test_a_large_image_is_shown_to_the_model_scaled_and_whole_to_the_host_and_the_api(tmp_path):
    from edit_agent.tools import SHOWN_SIDE, as_json_text

    tools = {t.name: t for t in make_tools("user-a", store=tmp_path)}
    photo = Image.effect_noise((3000, 1500), 60).convert("RGB")
    sid = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "image_base64": b64(photo)}))["session_id"]
    message = tools["get_image"].invoke({"type": "tool_call", "id": "c", "name": "get_image",
                                         "args": {"session_id": sid}})
    reply, image = shown(message.content)
    assert image.size == (SHOWN_SIDE, SHOWN_SIDE // 2) and reply["shown_size"] == [SHOWN_SIDE, SHOWN_SIDE // 2]
    assert reply["size"] == [3000, 1500] and message.artifact.size == (3000, 1500)
    as_text = json.loads(as_json_text(message))  # what the app's API and MCP tools send: one text, the whole image
    whole = Image.open(__import__("io").BytesIO(base64.b64decode(as_text["image_base64"])))
    assert whole.tobytes() == message.artifact.tobytes() and "shown_size" not in as_text


def test_a_turn_that_changes_nothing_says_why_in_a_field(tools):
    from edit_agent.samples import sample_image

    first = json.loads(tools["edit_image"].invoke({"instruction": "From now on, every new shape must be small",
                                                   "image_base64": b64(sample_image("world-3"))}))
    lock = json.loads(tools["edit_image"].invoke({"instruction": "don't touch the red one",
                                                  "session_id": first["session_id"]}))
    assert first["changed"] is False and lock["changed"] is False and lock["intent"] == first["intent"]
    assert first["unchanged_because"] == "the turn changes only the rules, not the image"
    assert lock["unchanged_because"] == "'the red one' picks no object, so the lock sets nothing"
    edit = json.loads(tools["edit_image"].invoke({"instruction": "add a square at the center",
                                                  "session_id": first["session_id"]}))
    assert edit["unchanged_because"].startswith("the center is already occupied by")
    moved = json.loads(tools["edit_image"].invoke({"instruction": "make all shapes green",
                                                   "session_id": first["session_id"]}))
    assert moved["changed"] is True and "unchanged_because" not in moved


def test_a_photo_turn_that_changes_nothing_says_why_too(tools):
    start = json.loads(tools["edit_image"].invoke({"instruction": "from now on keep it black and white",
                                                   "image_base64": b64(Image.new("RGB", (64, 48), (100, 120, 140)))}))
    session = {"session_id": start["session_id"]}
    lifted = json.loads(tools["edit_image"].invoke({"instruction": "forget the rule", **session}))
    assert lifted["changed"] is False
    assert lifted["unchanged_because"] == "lifting a rule changes no pixel, only what later edits are held to"
    # the reasoning cannot know that the image already has the size asked: the reply still gives a reason
    resized = json.loads(tools["edit_image"].invoke({"instruction": "resize it to 64x48", **session}))
    assert resized["changed"] is False and resized["unchanged_because"].startswith("the edit gave back the same pixels")


def test_list_sessions_refuses_arguments_it_does_not_take(tools):
    # a model that passes a filter must not believe it filtered
    assert tools["list_sessions"].invoke({"owner": "someone-else", "limit": 5}) == (
        "Invalid arguments: owner: Extra inputs are not permitted.")
    assert json.loads(tools["list_sessions"].invoke({})) == {"sessions": [], "total": 0}
    assert json.loads(tools["list_sessions"].invoke({"limit": None, "owner": ""})) == {"sessions": [], "total": 0}


def test_list_sessions_gives_the_newest_a_page_at_a_time_and_says_how_to_get_the_rest(tools):
    started = [json.loads(tools["edit_image"].invoke({"instruction": "flip it", "attached_image": "sample:coffee"}))
               ["session_id"] for _ in range(5)]
    first = json.loads(tools["list_sessions"].invoke({"limit": 2}))
    assert [entry["session_id"] for entry in first["sessions"]] == started[::-1][:2] and first["total"] == 5
    assert first["more"] == "3 older sessions are not listed: call list_sessions with offset 2."
    rest = json.loads(tools["list_sessions"].invoke({"limit": 2, "offset": 4}))
    assert [entry["session_id"] for entry in rest["sessions"]] == started[:1] and "more" not in rest
    assert "greater than or equal to 1" in tools["list_sessions"].invoke({"limit": 0})


def test_as_json_text_takes_what_a_plain_invoke_returns_and_a_refusal_as_it_is(tools):
    from edit_agent.tools import as_json_text

    sid = json.loads(tools["edit_image"].invoke({"instruction": "flip it",
                                                 "image_base64": b64(Image.new("RGB", (20, 10), "red"))}))["session_id"]
    plain = tools["get_image"].invoke({"session_id": sid})  # content blocks, with no artifact to hand
    reply = json.loads(as_json_text(plain))
    assert reply["is_current"] and shown(plain)[1].tobytes() == Image.open(
        __import__("io").BytesIO(base64.b64decode(reply["image_base64"]))).tobytes()
    assert as_json_text(tools["session_history"].invoke({"session_id": sid})).startswith('{"session_id"')
    refused = tools["get_image"].invoke({"type": "tool_call", "id": "c", "name": "get_image",
                                         "args": {"session_id": "0" * 32}})
    assert as_json_text(refused) == f"Unknown session id {'0' * 32}."


def test_tools_on_a_folder_edit_after_tools_on_a_read_only_store_of_it(tmp_path):
    from edit_agent.store import Store

    EditSession(store=tmp_path).edit(Image.new("RGB", (32, 24)), "rotate it 90 degrees")
    reader = {tool.name: tool for tool in make_tools("agent-1", store=Store(tmp_path, read_only=True))}
    assert json.loads(reader["list_sessions"].invoke({})) == {"sessions": [], "total": 0}
    writer = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path)}
    reply = json.loads(writer["edit_image"].invoke({"instruction": "rotate it 90 degrees", "attached_image": "sample:coffee"}))
    listed = json.loads(writer["list_sessions"].invoke({}))["sessions"]
    assert [entry["session_id"] for entry in listed] == [reply["session_id"]]


def test_a_store_folder_deleted_and_started_again_keeps_the_owners_of_its_new_sessions(tmp_path):
    import shutil

    folder = tmp_path / "store"
    first = {tool.name: tool for tool in make_tools("agent-1", store=folder)}
    first["edit_image"].invoke({"instruction": "rotate it 90 degrees", "attached_image": "sample:coffee"})
    shutil.rmtree(folder)
    again = {tool.name: tool for tool in make_tools("agent-1", store=folder)}
    reply = json.loads(again["edit_image"].invoke({"instruction": "rotate it 90 degrees", "attached_image": "sample:coffee"}))
    listed = json.loads(again["list_sessions"].invoke({}))["sessions"]
    assert [entry["session_id"] for entry in listed] == [reply["session_id"]]
    assert (folder / "owners.db").is_file()  # the claim went into the new folder, where a restart finds it


@pytest.mark.parametrize("name, arguments, told", [
    ("undo_edit", "null", "session_id: Field required"),
    ("undo_edit", '"abc"', "the arguments must be one JSON object of named fields, not str"),
    ("edit_image", '{"instruction": "make it warmer",}', "the arguments are not valid JSON"),
    ("paint", "{}", "There is no tool named 'paint'; the tools are edit_image, undo_edit"),
    pytest.param("list_sessions", "[" * 100_000 + "]" * 100_000, "the arguments nest too deeply to read",
                 id="nested-past-pythons-parser"),
    # true read as 1: seed 1, one session listed
    ("edit_image", '{"instruction": "make it warmer", "attached_image": "sample:coffee", "seed": true}',
     "seed: must be a whole number, not true or false"),
    ("list_sessions", '{"limit": true}', "limit: must be a whole number, not true or false"),
    # not "at least 1 character": three were sent
    ("edit_image", '{"instruction": "   ", "attached_image": "sample:coffee"}', "instruction: has only spaces"),
])
def test_a_tool_call_the_tools_cannot_run_comes_back_as_an_error_for_the_model(tmp_path, name, arguments, told):
    message = make_tools("agent-1", store=tmp_path).run_tool_call(name, arguments, "call_7")
    assert message.status == "error" and told in message.content and message.tool_call_id == "call_7"


def test_a_tool_call_runs_from_the_json_text_a_model_wrote(tmp_path):
    tools = make_tools("agent-1", store=tmp_path)
    started = tools.run_tool_call("edit_image", '{"instruction": "make it warmer", "attached_image": "sample:coffee"}')
    assert started.status == "success"
    session_id = json.loads(started.content)["session_id"]
    for no_arguments in ("", "{}", None):  # how models send a call without arguments
        listed = json.loads(tools.run_tool_call("list_sessions", no_arguments).content)["sessions"]
        assert [entry["session_id"] for entry in listed] == [session_id]


def test_a_store_that_is_a_file_is_refused_when_the_tools_are_made(tmp_path):
    from edit_agent.errors import InvalidArgumentError

    (tmp_path / "notes.txt").write_text("not a store")
    with pytest.raises(InvalidArgumentError, match="is a file; give a folder"):
        make_tools("agent-1", store=tmp_path / "notes.txt")


def test_reading_tools_make_no_store_where_there_is_none(tmp_path):
    typo = tmp_path / "typo"
    tools = make_tools("agent-1", store=typo)
    assert json.loads(tools.run_tool_call("list_sessions", {}, "c1").content) == {"sessions": [], "total": 0}
    for name in ("undo_edit", "redo_edit", "get_image", "session_history"):
        refused = tools.run_tool_call(name, {"session_id": "0" * 32}, "c2")
        assert refused.status == "error" and refused.content == f"Unknown session id {'0' * 32}."
    continued = tools.run_tool_call("edit_image", {"instruction": "flip it", "session_id": "0" * 32}, "c3")
    assert continued.content == f"Unknown session id {'0' * 32}."
    assert not typo.exists()  # as the SDK's and the CLI's reads leave none
    started = tools.run_tool_call("edit_image", {"instruction": "flip it", "attached_image": "sample:coffee"}, "c4")
    session_id = json.loads(started.content)["session_id"]  # a new session's first turn makes it
    assert json.loads(tools.run_tool_call("list_sessions", {}, "c5").content)["total"] == 1
    assert tools.run_tool_call("undo_edit", {"session_id": session_id}, "c6").status == "success"


def test_list_sessions_lists_a_session_whose_head_turn_is_gone(tmp_path):
    tools = {tool.name: tool for tool in make_tools("agent-1", store=tmp_path)}
    started = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "image_base64": b64(Image.new("RGB", (20, 10)))}))
    from edit_agent.store import Store

    store = Store(tmp_path)
    store.db.execute("UPDATE sessions SET head = 'gone' WHERE id = ?", [started["session_id"]])
    store.db.commit()
    listed = json.loads(tools["list_sessions"].invoke({}))
    assert listed["total"] == 1 and [entry["session_id"] for entry in listed["sessions"]] == [started["session_id"]]
    assert listed["sessions"][0]["head"] is None


def test_ids_are_taken_as_models_copy_them(tools):
    started = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "attached_image": "sample:coffee"}))
    sid, tid = started["session_id"], started["turn_id"]
    dashed = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}"
    for written in (f" {sid}\n", f'"{sid}"', sid.upper(), dashed.upper(), f"`{sid}`"):
        history = json.loads(tools["session_history"].invoke({"session_id": written}))
        assert history["session_id"] == sid and history["head"] == tid
    branched = json.loads(tools["edit_image"].invoke({"instruction": "rotate it 90 degrees", "session_id": sid,
                                                      "image_id": " SOURCE "}))
    again = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "session_id": sid,
                                                   "image_id": f"'{tid.upper()}'"}))
    parents = {turn["turn_id"]: turn["parent_id"] for turn in
               json.loads(tools["session_history"].invoke({"session_id": sid}))["turns"]}
    assert parents[branched["turn_id"]] is None and parents[again["turn_id"]] == tid
    assert "must be the 32-character session id" in tools["session_history"].invoke({"session_id": sid[:-1] + "g"})


def test_an_attached_name_that_is_not_there_says_how_else_to_start():
    from edit_agent.tools import make_tools

    bare = {tool.name: tool for tool in make_tools("user-b", store=None)}
    refused = bare["edit_image"].invoke({"instruction": "flip it", "attached_image": "photo.jpg"})
    assert refused == "No attached image is named 'photo.jpg'; no image is attached here: pass the image as image_base64."
    refused = bare["edit_image"].invoke({"instruction": "flip it", "attached_image": "Coffee"})
    assert refused.endswith("The bundled sample of that name is 'sample:coffee'.")


def test_an_openai_conversation_gets_the_image_as_an_image_part_not_as_text(tmp_path):
    from edit_agent.tools import SHOWN_SIDE, as_openai_messages

    tools = make_tools("user-a", store=tmp_path)
    photo = Image.effect_noise((3000, 1500), 60).convert("RGB")
    started = tools.run_tool_call("edit_image", json.dumps({"instruction": "flip it", "image_base64": b64(photo)}), "c1")
    (plain,) = as_openai_messages(started)  # no image asked for: the tool message alone
    assert plain["role"] == "tool" and plain["tool_call_id"] == "c1" and json.loads(plain["content"])["changed"]
    sid = json.loads(plain["content"])["session_id"]
    tool_message, user_message = as_openai_messages(tools.run_tool_call("get_image", {"session_id": sid}, "c2"))
    described = json.loads(tool_message["content"])
    assert described["shown_size"] == [SHOWN_SIDE, SHOWN_SIDE // 2] and len(tool_message["content"]) < 2000
    assert user_message["role"] == "user" and "c2" in user_message["content"][0]["text"]
    url = user_message["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert Image.open(__import__("io").BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (SHOWN_SIDE, SHOWN_SIDE // 2)
    (refused,) = as_openai_messages(tools.run_tool_call("get_image", {"session_id": "0" * 32}, "c3"))
    assert refused["content"] == f"Unknown session id {'0' * 32}."
    # parallel calls of one assistant message: every tool message first, as Chat Completions requires
    replies = [tools.run_tool_call("get_image", {"session_id": sid, "image_id": image_id}, call_id)
               for image_id, call_id in ((None, "p1"), ("source", "p2"))]
    assert [(message["role"], message.get("tool_call_id")) for message in as_openai_messages(*replies)] == [
        ("tool", "p1"), ("tool", "p2"), ("user", None), ("user", None)]


def test_optional_ids_of_only_quotes_or_spaces_are_left_out(tools):
    started = json.loads(tools["edit_image"].invoke({"instruction": "flip it", "attached_image": "sample:coffee",
                                                     "session_id": "''", "image_id": "  "}))
    shown = tools["get_image"].invoke({"session_id": started["session_id"], "image_id": '""'})
    assert shown[0]["text"] and json.loads(shown[0]["text"])["is_current"]


def test_a_plain_string_input_is_read_as_a_dict_input_is(tools):
    # ReAct-style agents call tool.run("...") with one string: langchain checks it against the first field and
    # passed it on as typed, so "5" reached list_sessions as text and an upper-case id went uncleaned
    started = json.loads(tools["edit_image"].invoke({"instruction": "rotate it left",
                                                     "image_base64": b64(Image.new("RGB", (16, 16), "red"))}))
    session_id = started["session_id"]
    assert json.loads(tools["list_sessions"].invoke("5"))["total"] == 1
    assert json.loads(tools["list_sessions"].run("1"))["sessions"][0]["session_id"] == session_id
    assert json.loads(tools["session_history"].invoke(session_id.upper()))["session_id"] == session_id
    assert json.loads(tools["undo_edit"].run(f" '{session_id.upper()}' "))["undone"] is True
    assert tools["list_sessions"].invoke("five").startswith("Invalid arguments: limit")


def test_a_host_owner_cannot_name_an_app_callers_owner(tmp_path):
    from edit_agent.errors import InvalidArgumentError
    from edit_agent.tools import make_token_tools

    token = "a-caller-secret-0123456789"
    caller = make_token_tools(token, store=tmp_path)
    caller.run_tool_call("edit_image", {"instruction": "flip it", "image_base64": b64(Image.new("RGB", (8, 8)))}, "c")
    with pytest.raises(InvalidArgumentError, match="app's API and MCP callers"):
        make_tools("app-token:" + token, store=tmp_path)  # it reached and changed the caller's sessions
    assert json.loads(make_tools(token, store=tmp_path).run_tool_call("list_sessions", {}, "l").content)["total"] == 0
    assert json.loads(caller.run_tool_call("list_sessions", {}, "l").content)["total"] == 1
