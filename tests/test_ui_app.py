"""The chat app's handlers through gradio_client against a launched app (recording editor)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from edit_agent import EditSession

INSTRUCTIONS = ("rotate it 90 degrees", "make it warmer", "flip it vertically")


def free_port() -> int:
    # An explicit free port: parallel test workers must not race for Gradio's default range.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch_module.setenv("EDIT_AGENT_HOME", str(home))
    monkeypatch_module.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio")))
    from ui import backends
    from ui.app import build_demo, launch_options
    from ui.handlers import AppConfig

    config = AppConfig(store=home / "store", editor="recording", max_upload="1mb")
    demo = build_demo(config)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(config, port=free_port()))
    try:
        yield {"url": demo.local_url, "config": config, "editor": backends.editor("recording"), "demo": demo}
    finally:
        demo.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def client(app) -> Client:
    return Client(app["url"], verbose=False)


@pytest.fixture
def photo(tmp_path: Path) -> str:
    path = tmp_path / "photo.png"
    Image.new("RGB", (48, 32), (200, 60, 30)).save(path)
    return str(path)


def fresh_state(client: Client) -> dict:
    state, *_ = client.predict({"token": None, "session_id": None}, api_name="/restore")
    return state


def edit(client: Client, state: dict, text: str, image: str | None = None) -> tuple:
    message = {"text": text, "files": [handle_file(image)] if image else []}
    return tuple(client.predict(message, state, "rules", "recording", api_name="/edit"))


def captions(view: tuple) -> list[str]:
    return [item["caption"] for item in view[3]["value"]]


def test_restore_gives_each_visitor_a_token_and_an_empty_view(client: Client):
    state, chat, image, timeline, status, sessions, export_file = client.predict(None, api_name="/restore")
    assert len(state["token"]) >= 32 and state["session_id"] is None
    assert chat == [] and image is None and timeline["value"] == []
    assert export_file["value"] is None and export_file["visible"] is False  # no stale link, no empty box
    assert "No session yet" in status and sessions["choices"] == []
    assert fresh_state(client)["token"] != state["token"]


def test_edit_undo_redo_and_branch_from_an_earlier_turn(app, client: Client, photo: str):
    calls_before = len(app["editor"].calls)
    state = fresh_state(client)
    view = edit(client, state, INSTRUCTIONS[0], photo)
    state = view[0]
    assert state["session_id"]
    view = edit(client, state, INSTRUCTIONS[1])
    assert captions(view) == ["Source", "#1: rotate it 90 degrees", "● #2: make it warmer"]
    assert [call.intent for call in app["editor"].calls[calls_before:]] == [
        "Rotate the image 90 degrees clockwise.", "Make the image warmer by 20%.",
    ]
    chat = view[1]
    assert chat[2]["metadata"]["title"] == "Reasoning"
    assert any("Make the image warmer" in part.get("text", "") for m in chat for part in m["content"])
    assert Image.open(view[2]).size == (48, 32)  # full size, not the thumbnail (the recording editor copies)
    assert Path(view[2]).name == f"edit-session-{state['session_id'][:8]}-edit-2.png"  # what a download saves

    view = client.predict(state, api_name="/undo")
    assert captions(view)[-1] == "#2: make it warmer" and "at edit #1" in view[4]
    view = client.predict(state, api_name="/redo")
    assert "at edit #2" in view[4]

    session = EditSession.open(state["session_id"], store=app["config"].store)
    first = session.turn_records()[0].id
    view = client.predict(state, first, api_name="/checkout")
    assert view[3]["selected_index"] == 1
    view = edit(client, state, INSTRUCTIONS[2])
    assert captions(view)[-1] == "● #3 ↳ from #1: flip it vertically"
    records = session.turn_records()
    assert [r.parent_id for r in records] == [None, records[0].id, records[0].id]
    assert [turn.instruction for turn in session.history] == [INSTRUCTIONS[0], INSTRUCTIONS[2]]

    view = client.predict(state, "", api_name="/checkout")  # back to the source image
    assert view[3]["selected_index"] == 0 and "at the source image" in view[4]
    assert "The next message starts a new branch from it" in json.dumps(view[1])  # a short chat, not a lost one
    assert Path(view[2]).name == f"edit-session-{state['session_id'][:8]}-source.png"


def test_a_message_edits_the_image_its_page_shows_when_another_tab_moved_the_session(app, client: Client,
                                                                                     photo: str):
    first_tab = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    first_tab = edit(client, first_tab, INSTRUCTIONS[1])[0]
    second_tab = dict(first_tab)  # the same session open in a second tab, showing edit #2
    client.predict(first_tab, api_name="/undo")  # the first tab goes back to edit #1
    view = edit(client, second_tab, INSTRUCTIONS[2])
    assert captions(view)[-1] == "● #3: flip it vertically"  # on top of #2, the image that tab showed

    at_source = client.predict(first_tab, "", api_name="/checkout")[0]  # a tab showing the source image
    client.predict(first_tab, api_name="/redo")  # meanwhile the session moves on elsewhere
    with pytest.raises(AppError, match="generative editor"):
        edit(client, at_source, "make the car red")
    session = EditSession.open(at_source["session_id"], store=app["config"].store)
    assert session.head.turn_id == session.turn_records()[0].id  # a refused edit moved nothing
    view = edit(client, at_source, "make it cooler")
    assert captions(view)[-1] == "● #4 ↳ from source: make it cooler"

    showing_third = dict(view[0])  # shows #4; another tab goes to #3, then this one says "undo that"
    third = session.turn_records()[2].id
    client.predict(view[0], third, api_name="/checkout")
    view = edit(client, showing_third, "undo that")
    assert "at the source image" in view[4]  # back from #4, the image this tab showed


def test_deleting_a_session_needs_the_confirmation_and_the_owner(client: Client, photo: str):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    kept = client.predict(state, False, api_name="/delete_session")  # the question was cancelled
    assert kept[0]["session_id"] == state["session_id"] and "at edit #1" in kept[4]
    stranger = fresh_state(client)
    refused = client.predict({**stranger, "session_id": state["session_id"]}, True, api_name="/delete_session")
    assert refused[0]["session_id"] is None and "No session yet" in refused[4]  # not theirs: shown as none, kept
    gone = client.predict(state, True, api_name="/delete_session")  # the owner's deletes it
    assert gone[0]["session_id"] is None and "No session yet" in gone[4] and gone[5]["choices"] == []
    # another tab of the owner's, still showing it: told it is gone (server-side, below), and shown no session
    after = client.predict({**state, "session_id": state["session_id"]}, api_name="/undo")
    assert after[0]["session_id"] is None and "No session yet" in after[4]


def test_a_reload_restores_the_session_and_lists_it(client: Client, photo: str):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    again, _chat, _image, timeline, _status, sessions, _export = client.predict(state, api_name="/restore")
    assert again == state and len(timeline["value"]) == 2
    assert [value for _, value in sessions["choices"]] == [state["session_id"]]
    assert f"· {state['session_id'][:8]} · 1 edit ·" in sessions["choices"][0][0]  # told apart by the status's id
    view = client.predict(state, api_name="/new_session")
    assert view[0]["session_id"] is None and view[0]["token"] == state["token"]
    view = client.predict(view[0], state["session_id"], api_name="/open_session")
    assert view[0] == state


def test_users_are_isolated_and_foreign_ids_look_unknown(app, client: Client, photo: str):
    owner = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    stranger = fresh_state(client)
    with pytest.raises(AppError) as foreign:
        client.predict(stranger, owner["session_id"], api_name="/open_session")
    with pytest.raises(AppError) as unknown:
        client.predict(stranger, "f" * 32, api_name="/open_session")
    assert str(foreign.value).replace(owner["session_id"], "ID") == str(unknown.value).replace("f" * 32, "ID")
    # A stolen session id in the browser state is dropped, not shown.
    hijack = {**stranger, "session_id": owner["session_id"]}
    restored = client.predict(hijack, api_name="/restore")
    assert restored[0]["session_id"] is None and restored[5]["choices"] == []
    undone = client.predict(hijack, api_name="/undo")
    assert undone[0]["session_id"] is None  # and the owner's head did not move:
    assert EditSession.open(owner["session_id"], store=app["config"].store).head is not None


def test_bad_input_gives_a_message_and_changes_nothing(app, client: Client, photo: str, tmp_path: Path):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    session = EditSession.open(state["session_id"], store=app["config"].store)
    before = [turn.turn_id for turn in session.turns]
    with pytest.raises(AppError, match="Type what to change"):
        edit(client, state, "   ")
    with pytest.raises(AppError, match="cannot|not|unsupported|Unsupported"):
        edit(client, state, "paint a dragon on it")
    with pytest.raises(AppError, match="'&lt;b&gt;paint&lt;/b&gt; a dragon' is not"):  # the toast renders HTML
        edit(client, state, "<b>paint</b> a dragon")
    fake = tmp_path / "fake.png"
    fake.write_text("<html>not an image</html>")
    with pytest.raises(AppError, match="HTML files are not accepted"):
        edit(client, state, "make it warmer", str(fake))
    with pytest.raises(AppError, match="Upload an image"):
        edit(client, fresh_state(client), "make it warmer")
    assert [turn.turn_id for turn in session.turns] == before


def test_a_refusal_that_needs_a_generative_editor_says_none_runs_here(client: Client, photo: str, monkeypatch):
    from ui import backends

    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    with pytest.raises(AppError, match=r"a generative editor is needed for it\. None can run on this machine"):
        edit(client, state, "make the car red")  # the offline default: no generative model here
    checked = backends.unavailable_reason
    monkeypatch.setattr(backends, "unavailable_reason",
                        lambda kind, name: None if name == "flux-kontext" else checked(kind, name))
    with pytest.raises(AppError, match=r"Pick flux-kontext as the editor in Settings, then start a new session\."):
        edit(client, state, "make the car red")


@pytest.mark.parametrize("said", ["undo that", "undo that because I hate it", "undo ↩"])
def test_undo_that_on_a_photo_moves_back_a_turn(client: Client, photo: str, said: str):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    state = edit(client, state, INSTRUCTIONS[1])[0]  # the page now shows edit #2
    view = edit(client, state, said)
    assert "at edit #1" in view[4] and len(captions(view)) == 3  # moved back; no new turn



def test_redo_typed_in_the_chat_moves_forward_a_turn(client: Client, photo: str):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    state = edit(client, state, INSTRUCTIONS[1])[0]
    client.predict(state, api_name="/undo")
    view = edit(client, state, "redo that")
    assert "at edit #2" in view[4] and len(captions(view)) == 3  # moved forward; no new turn


@pytest.mark.parametrize(("text", "where"), [
    ("go back", "at edit #2"), ("undo the last two edits", "at edit #1"), ("go back 5 steps", "at the source image"),
    ("start over", "at the source image"), ("revert to the previous version", "at edit #2"),
])
def test_a_move_back_typed_in_the_chat_is_made(app, client: Client, photo: str, text: str, where: str):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    for instruction in INSTRUCTIONS[1:3]:
        state = edit(client, state, instruction)[0]
    view = edit(client, state, text)
    assert where in view[4] and len(captions(view)) == 4  # moved; no new turn


def test_a_move_back_typed_at_the_source_of_a_canvas_commits_no_turn(app, client: Client, tmp_path: Path):
    from edit_agent.samples import sample_image

    canvas = tmp_path / "world-2.png"
    sample_image("world-2").save(canvas)
    state = edit(client, fresh_state(client), "make all shapes green", str(canvas))[0]
    view = edit(client, state, "start over")
    assert "at the source image" in view[4]
    for typed in ("undo that", "go back a step"):  # world-language undos, which would commit a turn changing nothing
        view = edit(client, view[0], typed)
        assert "at the source image" in view[4] and len(captions(view)) == 2


@pytest.mark.parametrize("text", ["redo the last two", "undo the last blur"])
def test_a_history_move_typed_in_the_chat_points_to_the_buttons(app, client: Client, photo: str, text: str):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    with pytest.raises(AppError, match="move in the history: use ↶ Undo or ↷ Redo"):
        edit(client, state, text)
    assert len(EditSession.open(state["session_id"], store=app["config"].store).turns) == 1

def test_uploads_over_the_size_limit_are_refused_by_the_server(app, tmp_path: Path):
    import httpx

    big = io.BytesIO()
    Image.effect_noise((700, 700), 60).convert("RGB").save(big, format="BMP")  # ~1.5 MB, over 1 MB
    small = io.BytesIO()
    Image.new("RGB", (64, 64)).save(small, format="PNG")
    upload = app["url"] + "gradio_api/upload"
    refused = httpx.post(upload, files={"files": ("big.bmp", big.getvalue(), "image/bmp")})
    accepted = httpx.post(upload, files={"files": ("small.png", small.getvalue(), "image/png")})
    assert refused.status_code == 413 and accepted.status_code == 200


def test_download_session_zip_imports_back(app, client: Client, photo: str, tmp_path: Path):
    state = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    edit(client, state, INSTRUCTIONS[1])
    archive = client.predict(state, api_name="/export")
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        opened.extractall(tmp_path / "unzipped")
    assert "session.jsonl" in names and any(name.endswith(".png") for name in names)
    imported = EditSession.import_folder(tmp_path / "unzipped", store=tmp_path / "other-store")
    assert [turn.instruction for turn in imported.history] == list(INSTRUCTIONS[:2])


def test_a_downloaded_session_opens_again_as_a_new_session_of_whoever_uploads_it(app, client: Client, photo: str):
    owner = edit(client, fresh_state(client), INSTRUCTIONS[0], photo)[0]
    edit(client, owner, INSTRUCTIONS[1])
    archive = client.predict(owner, api_name="/export")
    visitor = fresh_state(client)
    view = client.predict(visitor, handle_file(archive), api_name="/import_zip")
    state, sessions = view[0], view[5]
    assert state["session_id"] not in (None, owner["session_id"])  # fresh ids: the owner's session is not touched
    assert [choice[1] for choice in sessions["choices"]] == [state["session_id"]]
    assert captions(view) == ["Source", f"#1: {INSTRUCTIONS[0]}", f"● #2: {INSTRUCTIONS[1]}"]  # the head is marked
    # It is the visitor's own: it continues, and the owner's session still has its two turns.
    edit(client, state, INSTRUCTIONS[2])
    assert len(EditSession.open(state["session_id"], store=app["config"].store).turns) == 3
    assert len(EditSession.open(owner["session_id"], store=app["config"].store).turns) == 2
    refused = client.predict(owner, state["session_id"], api_name="/open_session")  # the visitor's is not theirs
    assert refused[0]["session_id"] == owner["session_id"]


def test_a_zip_that_is_no_session_download_is_refused_and_owns_nothing(app, client: Client, tmp_path: Path):
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("just text")
    no_export = tmp_path / "photos.zip"
    with zipfile.ZipFile(no_export, "w") as archive:
        archive.writestr("holiday/beach.png", b"\x89PNG")
    visitor = fresh_state(client)
    before = EditSession.list(store=app["config"].store)
    with pytest.raises(AppError, match="notes.zip is not a zip file"):
        client.predict(visitor, handle_file(str(not_zip)), api_name="/import_zip")
    with pytest.raises(AppError, match="not a session download"):
        client.predict(visitor, handle_file(str(no_export)), api_name="/import_zip")
    assert EditSession.list(store=app["config"].store) == before
    assert client.predict(visitor, api_name="/restore")[5]["choices"] == []


def test_agent_tools_are_the_public_api_and_mcp_tools(app, client: Client, photo: str):
    import base64

    import httpx

    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(api) == {"/edit_image", "/undo_edit", "/redo_edit", "/get_image", "/session_history", "/list_sessions"}
    schema = httpx.get(app["url"] + "gradio_api/mcp/schema").json()
    assert [tool["name"] for tool in schema] == ["edit_image", "undo_edit", "redo_edit", "get_image", "session_history",
                                                 "list_sessions"]
    assert "Here the reasoner rules" in schema[0]["description"] and "{understands}" not in schema[0]["description"]

    token = "agent-secret-0123456789"
    png = base64.b64encode(Path(photo).read_bytes()).decode()
    reply = json.loads(client.predict("make it warmer", token, png, api_name="/edit_image"))
    assert reply["intent"] == "Make the image warmer by 20%." and "image_base64" not in reply
    history = json.loads(client.predict(reply["session_id"], token, api_name="/session_history"))
    assert [turn["turn_id"] for turn in history["turns"]] == [reply["turn_id"]]
    # Refusals are errors, so that API and MCP clients can tell them from results.
    with pytest.raises(AppError, match=f"Unknown session id {reply['session_id']}"):
        client.predict(reply["session_id"], "another-token-0123456789", api_name="/undo_edit")
    with pytest.raises(AppError, match="16 characters"):
        client.predict(reply["session_id"], "short", api_name="/undo_edit")
    with pytest.raises(AppError, match="session_id: must be the 32-character session id"):  # sent empty: not "Field required"
        client.predict("", token, api_name="/undo_edit")
    with pytest.raises(AppError, match="instruction"):  # sent empty, so not "Field required"
        client.predict("", token, "", reply["session_id"], api_name="/edit_image")
    with pytest.raises(AppError, match=r"^Pass image_base64 \(or attached_image, sample:NAME\) to start a session"):
        client.predict("make it warmer", token, api_name="/edit_image")
    with pytest.raises(AppError, match="owner_token must be a hard-to-guess secret"):  # 16 spaces: anyone guesses it
        client.predict(reply["session_id"], " " * 16, api_name="/undo_edit")
    with pytest.raises(AppError, match="owner_token must be a hard-to-guess secret"):  # ... as do spaces and controls
        client.predict(reply["session_id"], " \t\n\r\x0b\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f", api_name="/undo_edit")
    seeded = json.loads(client.predict("make it cooler", token, "", reply["session_id"], "", False, 7, api_name="/edit_image"))
    assert EditSession.open(reply["session_id"], store=app["config"].store).turn_records()[-1].seed == 7
    assert seeded["intent"] == "Make the image cooler by 20%."
    shown = json.loads(client.predict(reply["session_id"], token, "", api_name="/get_image"))  # empty: the current one
    assert shown["turn_id"] == seeded["turn_id"] and shown["is_current"]
    stored = EditSession.open(reply["session_id"], store=app["config"].store).head.image
    assert Image.open(io.BytesIO(base64.b64decode(shown["image_base64"]))).tobytes() == stored.tobytes()  # whole
    assert json.loads(client.predict(reply["session_id"], token, api_name="/undo_edit"))["undone"]
    assert json.loads(client.predict(reply["session_id"], token, api_name="/redo_edit"))["head"]["turn_id"] == seeded["turn_id"]
    listed = json.loads(client.predict(token, api_name="/list_sessions"))["sessions"]
    assert [entry["session_id"] for entry in listed] == [reply["session_id"]]
    with pytest.raises(AppError, match="hard-to-guess secret"):  # 16 characters two agents may both choose
        client.predict("a" * 16, api_name="/list_sessions")


def test_an_app_token_never_reaches_the_sessions_of_a_python_hosts_owner(app, client: Client):
    """A Python host may name its owners by user id, which is no secret: sent as an owner_token, it reached them."""
    from edit_agent.tools import make_tools

    owner = "alice@example.com"
    hosted = make_tools(owner, store=app["config"].store).run_tool_call(
        "edit_image", {"instruction": "make it warmer", "attached_image": "sample:coffee"}, "call_1")
    session_id = json.loads(hosted.content)["session_id"]
    assert json.loads(client.predict(owner, api_name="/list_sessions"))["total"] == 0
    with pytest.raises(AppError, match=f"Unknown session id {session_id}"):
        client.predict(session_id, owner, api_name="/undo_edit")
    assert len(EditSession.open(session_id, store=app["config"].store).turns) == 1  # untouched


async def over_mcp(app, calls, transport="streamable-http"):
    """The app's MCP tools as an MCP client lists them, and what ``calls(session)`` returns."""
    from mcp import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamablehttp_client

    connected = (sse_client(app["url"] + "gradio_api/mcp/sse") if transport == "sse"
                 else streamablehttp_client(app["url"] + "gradio_api/mcp/"))
    async with connected as (read, write, *_), ClientSession(read, write) as session:
        await session.initialize()
        return await session.list_tools(), await calls(session)


def test_an_mcp_client_starts_from_a_sample_and_leaves_optional_fields_null(app):
    import asyncio


    token = "agent-secret-0123456789"

    async def calls(session):
        started = await session.call_tool("edit_image", {
            "instruction": "make it warmer", "owner_token": token, "attached_image": "sample:coffee",
            "image_base64": None, "session_id": None, "image_id": None, "seed": None})
        session_id = json.loads(started.content[0].text)["session_id"]
        shown = await session.call_tool("get_image", {"session_id": session_id, "owner_token": token, "image_id": None})
        return started, shown

    tools, (started, shown) = asyncio.run(over_mcp(app, calls))
    assert not started.isError and json.loads(started.content[0].text)["intent"] == "Make the image warmer by 20%."
    assert not shown.isError and json.loads(shown.content[0].text)["is_current"]
    described = {tool.name: tool.inputSchema["properties"] for tool in tools.tools}["edit_image"]
    assert "sample:NAME" in described["attached_image"]["description"]
    assert "coffee" in described["attached_image"]["description"]


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_an_mcp_client_sends_an_image_over_4_mib_and_reads_the_limits_in_the_schema(app, tmp_path, transport):
    # The mcp library's transports refuse requests over 4 MiB with HTTP 413, which MCP clients raise
    # as a crash (over SSE the call never returns); edit_image takes images up to 12 MiB.
    import asyncio
    import base64


    path = tmp_path / "noise.png"
    Image.effect_noise((1300, 1300), 90).convert("RGB").save(path, compress_level=0)
    png = base64.b64encode(path.read_bytes()).decode()
    assert len(png) > 4 * 2**20

    async def calls(session):
        return await session.call_tool("edit_image", {
            "instruction": "make it warmer", "owner_token": "agent-secret-0123456789", "image_base64": png})

    tools, reply = asyncio.run(asyncio.wait_for(over_mcp(app, calls, transport), timeout=120))
    assert not reply.isError and json.loads(reply.content[0].text)["size"] == [1300, 1300]
    described = {tool.name: tool.inputSchema["properties"] for tool in tools.tools}["edit_image"]
    assert "12 MiB" in described["image_base64"]["description"] and "BMP" in described["image_base64"]["description"]


def test_production_settings(app):
    from ui.app import launch_options

    options = launch_options(app["config"])
    assert options["allowed_paths"] == [] and options["run_history"] is False
    assert options["server_name"] == "127.0.0.1" and options["max_file_size"] == "1mb"
    demo = app["demo"]
    assert demo._queue.max_size == app["config"].queue_size
    edit_fn = next(fn for fn in demo.fns.values() if fn.api_name == "edit")
    tool_fn = next(fn for fn in demo.fns.values() if fn.api_name == "edit_image")
    assert edit_fn.concurrency_id == tool_fn.concurrency_id == "gpu" and edit_fn.concurrency_limit == 1
    assert all(fn.api_name for fn in demo.fns.values() if fn.fn is not None)
    from gradio.utils import get_upload_folder

    store = Path(app["config"].store).resolve()
    assert not store.is_relative_to(Path(get_upload_folder()).resolve())


def test_settings_list_every_backend_once(client: Client):
    from edit_agent.backends import EDITORS, REASONERS

    reasoners, reasoners_off, editors, editors_off = client.predict("rules", "recording", {}, api_name="/settings")
    for registry, on, off in ((REASONERS, reasoners, reasoners_off), (EDITORS, editors, editors_off)):
        shown = [value for _, value in on["choices"]] + [value for _, value in off["choices"]]
        assert len(shown) == len(set(shown)) and set(shown) <= set(registry)
        assert off["visible"] == bool(off["choices"])
        for _, name in off["choices"]:
            assert f"{name}: " in off["info"]  # each unavailable backend says why
    assert editors["value"] == "recording" and "rules" in [value for _, value in reasoners["choices"]]
    labels = {value: label for label, value in editors["choices"]}
    assert labels["identity"] == "identity — baseline: returns the image unchanged"  # not taken for an editor


def test_python_app_py_starts_offline_on_a_fresh_store(tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = {**os.environ, "EDIT_AGENT_HOME": str(tmp_path / "fresh"), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        assert page.status_code == 200 and "edit-agent" in page.text
        state, *_ = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(None, api_name="/restore")
        assert state["token"]
        assert (tmp_path / "fresh" / "edit_agent.db").exists()  # the store is where EDIT_AGENT_HOME says

        server.send_signal(signal.SIGINT)  # Ctrl-C: the server stops, says so in a line, and exits as stopped
        shown, _ = server.communicate(timeout=60)
        assert server.returncode == 130, shown
        assert shown.rstrip().endswith("python app.py: interrupted") and "Traceback" not in shown
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def test_python_app_py_help_prints_the_options_and_starts_nothing(tmp_path: Path):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "EDIT_AGENT_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    shown = subprocess.run([sys.executable, "app.py", "--help"], cwd=root, env=env, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0 and "--port" in shown.stdout and "--store" in shown.stdout
    refused = subprocess.run([sys.executable, "app.py", "--port", "0"], cwd=root, env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].endswith("got 0.")
    assert not (tmp_path / "home").exists()  # no store, no server


def test_a_reload_during_a_first_turn_finds_the_session_afterwards(app, client: Client, photo: str):
    from edit_agent.tools import session_owners

    store, owners = app["config"].store, session_owners(app["config"].store)
    state = fresh_state(client)
    running = "1" * 32  # the id the page kept when it sent the image; its turn has not committed yet
    owners.claim(running, state["token"])
    again = client.predict({**state, "starting": running}, api_name="/restore")[0]
    assert again["session_id"] is None and again["starting"] == running  # still running: nothing to show yet
    EditSession(store=store, session_id=running).edit(Image.new("RGB", (32, 24), "teal"), "make it warmer")
    again = client.predict(again, api_name="/restore")[0]
    assert again["session_id"] == running and again["starting"] is None  # committed: the reload finds it
    refused = client.predict({**state, "starting": "2" * 32}, api_name="/restore")[0]
    assert refused["session_id"] is None and refused["starting"] == "2" * 32  # refused or queued: kept, nothing shown
    shown = edit(client, fresh_state(client), "make it warmer", photo)[0]  # a session on the page, then a new image
    owners.claim("3" * 32, shown["token"])
    EditSession(store=store, session_id="3" * 32).edit(Image.new("RGB", (32, 24), "navy"), "make it warmer")
    again = client.predict({**shown, "starting": "3" * 32}, api_name="/restore")[0]
    assert again["session_id"] == "3" * 32 and again["starting"] is None
    stranger = client.predict({**fresh_state(client), "starting": running}, api_name="/restore")[0]
    assert stranger["session_id"] is None  # another browser cannot take it by its id


def test_a_session_opened_from_a_download_edits_with_the_model_this_app_serves(tmp_path: Path, photo: str):
    from ui.handlers import AppConfig, ChatApp

    made_elsewhere = EditSession(store=tmp_path / "laptop", editor="recording")
    made_elsewhere.edit(Image.open(photo), INSTRUCTIONS[0])
    archive = made_elsewhere.export_zip(tmp_path / "download.zip")  # its options stay on the laptop
    app = ChatApp(AppConfig(store=tmp_path / "server", editor="recording", editor_options={"delay": 0.01}))
    state = app.import_zip({"token": "t" * 40}, str(archive))[0]
    session = app._open(state, for_edit=True)
    assert session.editor.delay == 0.01  # this server's options for the backend the session names
    app.edit(INSTRUCTIONS[1], state, "rules", "recording")
    assert len(EditSession.open(state["session_id"], store=tmp_path / "server").turns) == 2


def test_a_download_with_images_over_the_upload_limits_opens_on_another_server(tmp_path: Path):
    """An edit may enlarge an image past what an upload may be ("make it twice as big"): its download still opens."""
    from edit_agent.images import ImageLimits
    from ui.handlers import AppConfig, ChatApp

    made_elsewhere = EditSession(store=tmp_path / "laptop")
    made_elsewhere.edit(Image.new("RGB", (200, 150), "navy"), "make it twice as big")
    archive = made_elsewhere.export_zip(tmp_path / "big.zip")
    app = ChatApp(AppConfig(store=tmp_path / "server", image_limits=ImageLimits(max_side=256, max_pixels=50_000)))
    state = app.import_zip({"token": "t" * 40}, str(archive))[0]
    assert EditSession.open(state["session_id"], store=tmp_path / "server").head.image.size == (400, 300)


def test_a_follow_up_turn_says_in_the_timeline_what_it_did(client: Client, photo: str):
    state = edit(client, fresh_state(client), "make it warmer", photo)[0]
    state = edit(client, state, "a bit more")[0]
    view = edit(client, state, "the opposite")
    assert captions(view)[1:] == ["#1: make it warmer", "#2: a bit more → warmer 10%", "● #3: the opposite → cooler 9.5%"]


def test_an_image_refused_by_its_size_is_named_as_sent_not_by_the_servers_upload_path(tmp_path: Path):
    import gradio as gr

    from edit_agent.images import ImageLimits
    from ui.handlers import AppConfig, ChatApp

    upload = tmp_path / "gradio-cache" / "0f3a9c" / "holiday.png"
    upload.parent.mkdir(parents=True)
    Image.effect_noise((64, 64), 60).convert("RGB").save(upload)
    app = ChatApp(AppConfig(store=tmp_path / "server", editor="recording", image_limits=ImageLimits(max_bytes=1024)))
    state = {"token": "t" * 40, "session_id": None, "starting": None}
    with pytest.raises(gr.Error) as refused:
        app.edit({"text": "make it warmer", "files": [str(upload)]}, state, "rules", "recording")
    assert "Image file holiday.png is" in refused.value.message and str(upload.parent) not in refused.value.message


def in_a_session_that_tells(tmp_path: Path, photo: str, monkeypatch) -> tuple[Any, dict, list[str]]:
    """A server-side app with one session on its page, and the notices it shows (collected, not shown)."""
    import ui.handlers as handlers
    from ui.handlers import AppConfig, ChatApp

    told: list[str] = []
    monkeypatch.setattr(handlers, "_tell", told.append)
    app = ChatApp(AppConfig(store=tmp_path / "server", editor="recording"))
    state = app.edit({"text": INSTRUCTIONS[0], "files": [photo]}, {"token": "t" * 40, "session_id": None}, "rules",
                     "recording")[0]
    return app, state, told


def test_a_turn_says_it_is_showing_the_result_while_the_reply_is_drawn_not_done(tmp_path: Path, photo: str):
    """For a large photo the reply takes a second or more to draw; "Done" shown meanwhile read as a hang."""
    from ui.handlers import AppConfig, ChatApp

    said: list[tuple[float, str]] = []
    app = ChatApp(AppConfig(store=tmp_path / "server", editor="recording"))
    app.edit({"text": INSTRUCTIONS[0], "files": [photo]}, {"token": "t" * 40, "session_id": None}, "rules",
             "recording")  # the backends' first use: they load
    app.edit({"text": INSTRUCTIONS[0], "files": [photo]}, {"token": "t" * 40, "session_id": None}, "rules",
             "recording", progress=lambda share, desc: said.append((share, desc)))
    assert said == [(0.1, "Reconstructing the intent and editing…"), (0.9, "Showing the result…")]


def test_a_backends_first_use_says_it_is_loading(tmp_path: Path, photo: str):
    """A language model takes a minute to load on its first turn: the bar said "Reconstructing the intent" all along,
    as if stuck."""
    from edit_agent.backends import forget_shared
    from ui.handlers import AppConfig, ChatApp

    app = ChatApp(AppConfig(store=tmp_path / "server", editor="recording"))
    page = app.edit({"text": INSTRUCTIONS[0], "files": [photo]}, {"token": "t" * 40, "session_id": None}, "rules",
                    "recording")[0]
    forget_shared("reasoner", "rules")  # as in a process that has not used it yet
    said: list[tuple[float, str]] = []
    app.edit({"text": INSTRUCTIONS[1], "files": []}, page, "rules", "recording",
             progress=lambda share, desc: said.append((share, desc)))
    assert said == [(0.1, "Reconstructing the intent and editing…"),
                    (0.05, "Loading the reasoner rules (its first use here: this can take a minute)…"),
                    (0.1, "Reconstructing the intent and editing…"), (0.9, "Showing the result…")]


def test_a_backend_picked_mid_session_says_it_is_for_new_sessions(tmp_path: Path, photo: str, monkeypatch):
    """The status line names the open session's backends, so a pick in the settings looked ignored."""
    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    app.settings_picked(state, "rules", "identity")
    assert told == ["New sessions will use the rules reasoner and the identity editor; the session shown keeps its own."]
    app.settings_picked({**state, "session_id": None}, "rules", "identity")  # no session: the pick is plainly for
    assert len(told) == 1                                                      # the next one, nothing to say


def test_an_image_attached_in_an_open_session_says_it_starts_a_new_one_once(tmp_path: Path, photo: str, monkeypatch):
    import gradio as gr

    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    assert told == []  # the first image of a visit just starts one
    attached = {"text": INSTRUCTIONS[0], "files": [photo]}
    app.check_attachment(attached, state)
    assert told == ["Sending photo.png starts a new session; the one shown now is kept."]
    second = app.edit(attached, state, "rules", "recording")[0]
    assert second["session_id"] != state["session_id"]
    assert len(told) == 1  # sending it says it no second time
    fake = tmp_path / "fake.png"
    fake.write_text("<html>not an image</html>")
    with pytest.raises(gr.Error):
        app.edit({"text": INSTRUCTIONS[0], "files": [str(fake)]}, second, "rules", "recording")
    assert len(told) == 1  # a refused image starts nothing, and says nothing of it


def test_a_world_turn_that_changes_nothing_says_why_in_the_chat(client: Client, tmp_path: Path):
    """It said only that the image was unchanged; why was folded away under Reasoning."""
    from edit_agent.samples import sample_image

    canvas = tmp_path / "world-0.png"
    sample_image("world-0").save(canvas)
    view = edit(client, fresh_state(client), "make the triangle blue", str(canvas))
    texts = " ".join(part.get("text", "") for message in view[1] for part in message["content"])
    assert "The image is unchanged: 'the triangle' picks several objects, so nothing can be recoloured" in texts


def test_redo_typed_after_a_canvas_undo_turn_takes_that_turn_back(client: Client, tmp_path: Path):
    """On a canvas "undo that" is a turn, so there is nothing to redo after it: "redo that" moves back past it."""
    from edit_agent.samples import sample_image

    canvas = tmp_path / "world-2.png"
    sample_image("world-2").save(canvas)
    state = edit(client, fresh_state(client), "add a small blue circle at the bottom left", str(canvas))[0]
    state = edit(client, state, "make it green")[0]
    state = edit(client, state, "undo that")[0]
    view = edit(client, state, "redo that")
    assert "at edit #2" in view[4] and len(captions(view)) == 4  # the undo turn is kept in the timeline
    # nothing more to redo: going into the undo turn again would make the next Redo an undo
    for _ in range(2):
        view = client.predict(view[0], api_name="/redo")
        assert "at edit #2" in view[4]


def test_a_refusal_in_the_app_names_the_apps_own_way_back_not_the_sdks_or_an_agents(tmp_path):
    import gradio as gr

    from edit_agent import EditSession
    from ui.handlers import friendly_errors

    session = EditSession(store=tmp_path)
    session.edit("sample:world-1", "make all shapes green")
    session.edit(None, "make it warmer")  # a photo edit of the canvas: its shapes can no longer be edited

    @friendly_errors
    def next_turn() -> None:
        session.edit(None, "add a small red circle at the top left")

    with pytest.raises(gr.Error) as refused:
        next_turn()
    assert "or continue from an earlier image: pick it in the timeline)" in refused.value.message
    assert "image_id" not in refused.value.message and "EditSession" not in refused.value.message


def test_the_chats_trash_icon_says_it_started_a_new_session_and_where_the_old_one_is(tmp_path: Path, photo: str, monkeypatch):
    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    left = app.clear_chat(state)[0]  # the chat's trash icon: no label said what it does
    assert left["session_id"] is None
    assert told == ["A new session: attach a photo or pick a sample. The one you left is under My sessions."]
    app.clear_chat(left)
    app.new_session(state)  # the New session button says what it does
    assert len(told) == 1  # with no session on the page there was nothing to leave
    # The page forgets its session before it asks (a message sent meanwhile went to it) and says which it left.
    app.clear_chat(left, state["session_id"])
    assert len(told) == 2
    app.clear_chat(left, "f" * 32)  # not this browser's: nothing under My sessions to point to
    assert len(told) == 2


def test_an_mcp_client_gets_images_as_images_and_the_json_without_them(app):
    import asyncio
    import base64

    from edit_agent.tools import SHOWN_SIDE

    token = "agent-secret-images-0123"
    wide = io.BytesIO()
    Image.linear_gradient("L").resize((2000, 1000)).convert("RGB").save(wide, format="PNG")

    async def calls(session):
        started = await session.call_tool("edit_image", {
            "instruction": "make it warmer", "owner_token": token, "return_image": True,
            "image_base64": base64.b64encode(wide.getvalue()).decode()})
        session_id = json.loads(started.content[0].text)["session_id"]
        shown = await session.call_tool("get_image", {"session_id": session_id, "owner_token": token})
        source = await session.call_tool("get_image", {"session_id": session_id, "owner_token": token,
                                                       "image_id": "source"})
        return started, shown, source

    _, replies = asyncio.run(over_mcp(app, calls))
    for reply in replies:
        assert not reply.isError
        text, image = reply.content[0], reply.content[1]
        described = json.loads(text.text)
        assert "image_base64" not in text.text and len(text.text) < 5000  # no image as text in the model's context
        assert image.type == "image" and image.mimeType == "image/png"
        pixels = Image.open(io.BytesIO(base64.b64decode(image.data)))
        assert max(pixels.size) <= SHOWN_SIDE and list(pixels.size) == described.get("shown_size", described["size"])
    assert json.loads(replies[0].content[0].text)["size"] == [2000, 1000]  # the edit itself is whole
    assert json.loads(replies[1].content[0].text)["shown_size"] == [SHOWN_SIDE, SHOWN_SIDE // 2]
    assert json.loads(replies[2].content[0].text)["image_id"] == "source"


def test_an_mcp_client_may_send_optional_fields_empty_null_or_as_text(app):
    import asyncio

    token = "agent-secret-fields-0123"

    async def calls(session):
        started = await session.call_tool("edit_image", {
            "instruction": "make it warmer", "owner_token": token, "attached_image": "sample:coffee",
            "seed": "", "return_image": None, "image_id": "", "session_id": None})
        session_id = json.loads(started.content[0].text)["session_id"]
        seeded = await session.call_tool("edit_image", {
            "instruction": "make it cooler", "owner_token": token, "session_id": session_id, "seed": "42",
            "return_image": ""})
        listed = await session.call_tool("list_sessions", {"owner_token": token, "limit": "5", "offset": ""})
        other_token = await session.call_tool("undo_edit", {"session_id": session_id, "owner_token": token + "x"})
        return started, seeded, listed, other_token

    _, (started, seeded, listed, other_token) = asyncio.run(over_mcp(app, calls))
    assert not started.isError and not seeded.isError and not listed.isError
    assert json.loads(seeded.content[0].text)["seed"] == 42 and len(seeded.content) == 1  # no image asked for
    assert json.loads(listed.content[0].text)["total"] == 1
    assert other_token.isError and "check that it is that one" in other_token.content[0].text


def test_an_mcp_call_with_a_wrong_or_unknown_argument_is_told_which_in_a_short_line(app):
    """The mcp library's check quoted the whole wrong value (megabytes of an image sent as an object) and named no
    argument; an unknown one reached Gradio, which told the model to click 'view API'."""
    import asyncio

    token = "agent-secret-wrong-arguments"
    big = {"type": "base64", "data": "A" * 2_000_000}  # how models often send an image

    async def calls(session):
        as_object = await session.call_tool("edit_image", {"instruction": "make it warmer", "owner_token": token,
                                                           "image_base64": big})
        unknown = await session.call_tool("edit_image", {"instruction": "make it warmer", "owner_token": token,
                                                         "attached_image": "sample:coffee", "mime_type": "image/png"})
        missing = await session.call_tool("undo_edit", {"owner_token": token})
        listed = await session.call_tool("list_sessions", {"owner_token": token})
        return as_object, unknown, missing, listed

    _, (as_object, unknown, missing, listed) = asyncio.run(over_mcp(app, calls))
    told = [reply.content[0].text for reply in (as_object, unknown, missing)]
    assert all(reply.isError for reply in (as_object, unknown, missing)) and max(map(len, told)) < 300, told
    assert re.search(r"image_base64: must be (null or )?a string( or null)?, not an object$", told[0])
    assert "unknown argument 'mime_type'; this tool takes instruction, owner_token" in told[1]
    assert "session_id: required" in told[2]
    assert json.loads(listed.content[0].text)["total"] == 0  # no refused call made a session


def test_the_argument_check_refuses_only_what_the_schema_refuses():
    """It replaces the mcp library's check for every MCP server of the process: a schema that takes more arguments
    takes them still."""
    from ui.mcp_transport import argument_problem

    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    assert argument_problem({"q": "x", "extra": 1}, {**schema, "additionalProperties": True}) is None
    assert argument_problem({"q": "x", "extra": 1}, schema) is None
    assert argument_problem({"q": "x", "extra": 1}, {**schema, "additionalProperties": False}) == \
        "unknown argument 'extra'; this tool takes q"
    assert argument_problem({}, schema) == "q: required"
    assert argument_problem({"q": 1.5}, schema) == "q: must be a string, not a number"


def test_an_mcp_call_with_an_image_over_the_limit_is_refused_not_cut_off(app):
    # A request the transport refuses (HTTP 413) ends the client's MCP session: the tool refuses it instead.
    import asyncio

    from edit_agent.tools import MAX_BASE64_CHARS

    async def calls(session):
        too_large = await session.call_tool("edit_image", {
            "instruction": "make it warmer", "owner_token": "agent-secret-large-0123",
            "image_base64": "A" * (MAX_BASE64_CHARS + 2**20 + 1000)})
        after = await session.call_tool("list_sessions", {"owner_token": "agent-secret-large-0123"})
        return too_large, after

    _, (too_large, after) = asyncio.run(over_mcp(app, calls))
    assert too_large.isError and f"at most {MAX_BASE64_CHARS} characters" in too_large.content[0].text
    assert not after.isError and json.loads(after.content[0].text)["total"] == 0  # the session goes on


def test_a_session_deleted_in_another_tab_is_said_gone_and_the_page_shows_none(tmp_path: Path, photo: str, monkeypatch):
    """Every click on the page left behind gave 'Unknown session id' and an id of 32 digits the page never showed,
    while it kept showing the session and an Undo that could not work."""
    import gradio as gr

    import ui.handlers as handlers

    warned: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message, **_: warned.append(message))
    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    app.delete_session(dict(state), True)  # the other tab
    for click in (lambda: app.undo(dict(state)), lambda: app.redo(dict(state)), lambda: app.checkout(dict(state), "")):
        view = click()
        assert view[0]["session_id"] is None and "No session yet" in view[4]
    assert warned == [handlers.SESSION_GONE] * 3 and told == ["The session was deleted."]  # that one by the other tab
    # a message is refused, so that the page keeps its text; the page then redraws with no session
    for refused in (lambda: app.edit({"text": "make it cooler", "files": []}, dict(state), "rules", "recording"),
                    lambda: app.export(dict(state))):
        with pytest.raises(gr.Error, match="gone"):
            refused()
    assert app.restore(dict(state))[0]["session_id"] is None
    assert app.open_session(dict(state), None)[0]["session_id"] is None  # no error naming the server's folder
    fresh = app.edit({"text": "make it cooler", "files": [photo]}, dict(state), "rules", "recording")[0]
    assert fresh["session_id"] not in (None, state["session_id"])  # an image sent starts a new one, untold


def test_a_reload_while_a_later_turn_runs_says_it_is_still_running(tmp_path: Path, photo: str, monkeypatch):
    from edit_agent.session import _session_lock

    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    with _session_lock(app.store, state["session_id"]):  # as an EditSession holds it for the whole turn
        shown = app.restore(dict(state))[0]
    assert shown["session_id"] == state["session_id"]
    assert told == ["A turn of this session is still running; it shows here when it is done."]
    app.restore(dict(state))
    assert len(told) == 1  # once it has finished, nothing to say


def test_a_page_reloaded_while_a_turn_runs_shows_the_turn_once_it_lands(tmp_path: Path, photo: str, monkeypatch):
    import gradio as gr

    from edit_agent.session import _session_lock

    app, state, _ = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    view_outputs = len(app.restore(dict(state)))
    assert view_outputs == app.VIEW_OUTPUTS
    with _session_lock(app.store, state["session_id"]):  # the turn runs
        assert app.turn_pending(dict(state)).active is True  # the reloaded page starts looking
        *skipped, timer = app.catch_up(dict(state))
        assert timer.active is True and len(skipped) == view_outputs
        assert all(isinstance(output, type(gr.skip())) for output in skipped)  # nothing new: the page stays
    EditSession.open(state["session_id"], store=app.store).edit(None, "make it warmer")  # the turn that ran lands
    *shown, timer = app.catch_up(dict(state))
    assert timer.active is False and "at edit #2" in shown[4]  # its result, and no more looking
    assert app.turn_pending(dict(state)).active is False


def test_enter_on_an_empty_box_edits_nothing_and_shows_no_toast(tmp_path: Path, photo: str, monkeypatch):
    """A second Enter meant for the Undo button, which had just been disabled, landed on the empty box and raised a
    red toast that stayed until closed. An API caller is still refused, in words."""
    import gradio as gr

    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    with pytest.raises(gr.Error, match="Type what to change") as refused:
        app.edit({"text": "  ", "files": []}, dict(state), "rules", "recording")
    assert refused.value.visible is False and told == []
    assert len(EditSession.open(state["session_id"], store=app.store).turns) == 1


def test_a_turns_reasoning_in_the_app_says_the_apps_way_not_the_sdks(tmp_path: Path):
    from ui import views

    session = EditSession(store=tmp_path)
    session.edit("sample:world-1", "make it brighter")  # a photo edit of a canvas: the reasoning says how to go back
    assert "EditSession.checkout()" in session.head.reasoning
    chat = views.session_view(session.id, session._store).values()[0]
    reasoning = [message["content"] for message in chat if (message.get("metadata") or {}).get("title") == "Reasoning"]
    assert "pick it in the timeline" in reasoning[-1]
    assert "EditSession" not in reasoning[-1] and "image_id" not in reasoning[-1]


def test_a_first_turn_is_waited_for_while_its_photo_is_still_being_read(tmp_path: Path, photo: str, monkeypatch):
    """Reading and scaling a large photo comes before the session's lock: a page reloaded then took the turn for
    not running, said "No session yet" and never caught up."""
    import uuid

    import ui.handlers as handlers

    app, state, _ = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    page = {**state, "session_id": None, "starting": uuid.uuid4().hex}
    seen: list[bool] = []

    def reading(*args, **kwargs):
        seen.append(app.turn_pending(dict(page)).active)  # a reload now
        return real_load(*args, **kwargs)

    real_load = handlers.load_attachment
    monkeypatch.setattr(handlers, "load_attachment", reading)
    shown = app.edit({"text": INSTRUCTIONS[0], "files": [photo]}, dict(page), "rules", "recording")[0]
    assert seen == [True]
    assert shown["session_id"] == page["starting"]
    assert app.turn_pending(dict(page)).active is False  # landed: the reloaded page shows it and stops looking


def test_a_first_turn_waiting_in_the_queue_is_waited_for_but_not_for_ever(tmp_path: Path, photo: str, monkeypatch):
    """A reload while the first turn still waited in the queue (another turn ran) left the page on "No session yet".
    Not for ever: Gradio drops the queued turn of a page that left, and a page reloaded right after its Enter may
    never have sent it; waited for ten minutes, the reloaded page stayed locked for them (as on a loaded CI machine)."""
    import time
    import uuid

    import ui.handlers as handlers

    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    page = {**state, "session_id": None, "starting": uuid.uuid4().hex}
    app.first_turn_sent(page["starting"])  # as the page's Enter tells it, before the turn waits in the queue
    sent_at = time.monotonic()
    assert app.turn_pending(dict(page)).active is True
    assert app.catch_up(dict(page))[-1].active is True  # the reloaded page keeps looking, locked
    monkeypatch.setattr(handlers.time, "monotonic", lambda: sent_at + 30)  # Gradio has dropped it by then
    assert app.turn_pending(dict(page)).active is False
    *view, timer = app.catch_up(dict(page))
    assert timer.active is False and view[0]["session_id"] is None  # unlocked, with no session
    assert told == ["The message sent before the page was reloaded started no session (refused, or it never ran): "
                    "send it again."]


def test_a_first_turn_that_lands_while_the_reloaded_page_looks_is_shown_without_a_notice(
        tmp_path: Path, photo: str, monkeypatch):
    import uuid

    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    page = {**state, "session_id": None, "starting": uuid.uuid4().hex}
    app.first_turn_sent(page["starting"])
    app.edit({"text": INSTRUCTIONS[0], "files": [photo]}, dict(page), "rules", "recording")  # the page that was
    *view, timer = app.catch_up(dict(page))
    assert timer.active is False and view[0]["session_id"] == page["starting"]
    assert told == []


def test_a_first_turn_left_claimed_by_a_server_stopped_mid_turn_is_not_waited_for(tmp_path: Path, photo: str,
                                                                                   monkeypatch):
    import uuid

    app, state, told = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    lost = uuid.uuid4().hex
    app.owners.claim(lost, state["token"])  # as a server killed during the first turn leaves it
    page = {**state, "session_id": None, "starting": lost}
    assert app.turn_pending(dict(page)).active is False  # it polled each second, for ever
    app.restore(dict(page))
    assert told == []  # and no "still running" that never ends


def test_again_right_after_an_undo_asks_which_edit(tmp_path: Path, photo: str, monkeypatch):
    import gradio as gr

    app, state, _ = in_a_session_that_tells(tmp_path, photo, monkeypatch)
    state = app.edit({"text": "rotate it left", "files": []}, dict(state), "rules", "recording")[0]
    state = app.undo(dict(state))[0]
    session = EditSession.open(state["session_id"], store=app.store)
    before = len(session.turns)
    # it repeated the edit before the undone one: the reasoner sees the history, not the undo
    with pytest.raises(gr.Error, match="redo brings back the undone edit"):
        app.edit({"text": "again", "files": []}, dict(state), "rules", "recording")
    assert len(session.turns) == before
    state = app.redo(dict(state))[0]
    app.edit({"text": "again", "files": []}, dict(state), "rules", "recording")  # with nothing to redo: repeats
    assert session.head.intent == "Rotate the image 90 degrees counterclockwise."
