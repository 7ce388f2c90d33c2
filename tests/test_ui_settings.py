"""The settings panel's backend checks and the ``serve`` command."""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from edit_agent.backends import forget_shared
from ui import backends

ROOT = Path(__file__).resolve().parent.parent


class Light:
    name = "light"


class NeedsGpu:
    name = "needs-gpu"

    @staticmethod
    def availability() -> str | None:
        return "needs a CUDA GPU"


class NeedsObject:
    name = "needs-object"

    def __init__(self, model: object) -> None:
        self.model = model


class Wraps:
    name = "wraps"

    def __init__(self, generative: str = "fake-gpu") -> None:
        self.generative = generative


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch):
    module = types.ModuleType("fake_backends")
    for cls in (Light, NeedsGpu, NeedsObject, Wraps):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "fake_backends", module)
    entries = {
        "fake-light": "fake_backends:Light", "fake-gpu": "fake_backends:NeedsGpu",
        "fake-object": "fake_backends:NeedsObject", "fake-wraps": "fake_backends:Wraps",
        "fake-missing": "no_such_package.editor:Editor",
    }
    for name, target in entries.items():
        monkeypatch.setitem(backends.EDITORS, name, target)
    backends.unavailable_reason.cache_clear()
    yield
    backends.unavailable_reason.cache_clear()


def test_unavailable_backends_come_with_a_reason(fake_registry):
    available, unavailable = backends.choices("editor", "exact")
    assert "fake-light" in available and "exact" in available
    assert unavailable["fake-gpu"] == "needs a CUDA GPU"
    assert unavailable["fake-object"] == "needs a model object (build it in Python)"
    assert unavailable["fake-wraps"] == "uses fake-gpu (needs a CUDA GPU)"
    assert unavailable["fake-missing"] == "missing package no_such_package"
    assert "recording" not in available and "recording" not in unavailable  # test fakes stay hidden
    assert "recording" in backends.choices("editor", "recording")[0]


def test_a_cached_editor_small_enough_for_a_cpu_is_offered_without_a_gpu(monkeypatch, tmp_path):
    import huggingface_hub
    import torch

    for repo in ("timbrooks/instruct-pix2pix", "Qwen/Qwen-Image-Edit"):  # a cache that holds both models
        cached = tmp_path / f"models--{repo.replace('/', '--')}"
        (cached / "refs").mkdir(parents=True)
        (cached / "refs" / "main").write_text("0" * 40)
        (cached / "snapshots" / ("0" * 40)).mkdir(parents=True)
        (cached / "snapshots" / ("0" * 40) / "model_index.json").write_text("{}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    backends.unavailable_reason.cache_clear()
    try:
        assert backends.unavailable_reason("editor", "instruct-pix2pix") is None
        assert backends.unavailable_reason("editor", "qwen-image-edit") == "needs a CUDA GPU"
    finally:
        backends.unavailable_reason.cache_clear()


def test_the_llm_reasoner_is_unavailable_without_its_offline_model_wheel(monkeypatch: pytest.MonkeyPatch):
    from edit_agent.errors import ModelUnavailableError
    from edit_agent.reasoners.llm import LLMReasoner

    assert backends.unavailable_reason("reasoner", "llm") is None  # the test setup installs the wheel
    backends.unavailable_reason.cache_clear()

    def not_installed():
        raise ModelUnavailableError("The offline default reasoner model SmolLM2 is not installed.")

    monkeypatch.setattr(LLMReasoner, "offline_default", staticmethod(not_installed))
    try:
        assert "not installed" in backends.unavailable_reason("reasoner", "llm")
        assert backends.unavailable_reason("reasoner", "world-lm") is None  # its weights ship in the package
    finally:
        backends.unavailable_reason.cache_clear()


def test_backends_are_built_once_per_process():
    assert backends.editor("recording") is backends.editor("recording")
    assert backends.reasoner("rules") is backends.reasoner("rules")


def test_a_backend_that_is_loading_does_not_hold_up_the_others(monkeypatch: pytest.MonkeyPatch):
    import threading

    started, release = threading.Event(), threading.Event()

    class Loading:
        name = "loading"

        def __init__(self) -> None:  # a model load that takes a while
            started.set()
            release.wait(30)

    module = types.ModuleType("loading_backend")
    module.Loading = Loading
    monkeypatch.setitem(sys.modules, "loading_backend", module)
    monkeypatch.setitem(backends.EDITORS, "loading", "loading_backend:Loading")
    loader = threading.Thread(target=backends.editor, args=("loading",))
    loader.start()
    try:
        assert started.wait(10)
        other = threading.Thread(target=backends.editor, args=("recording",))
        other.start()
        other.join(10)
        assert not other.is_alive()  # it waited for the other backend's load before
    finally:
        release.set()
        loader.join()
        forget_shared("editor", "loading")  # the fake backend's instance must not outlive its registration


def test_serve_command_is_registered(monkeypatch: pytest.MonkeyPatch, tmp_path):
    from ui import cli

    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "7999", "--store", str(tmp_path), "--editor", "exact"])
    assert args.func is cli.run_serve and args.host == "127.0.0.1" and args.port == 7999

    launched = {}

    class FakeDemo:
        def launch(self, **options):
            launched.update(options)

        @property
        def is_running(self):
            launched["blocked"] = True  # serve waits on the server
            return False

    import ui.app

    monkeypatch.setattr(ui.app, "build_demo", lambda config: launched.setdefault("config", config) and FakeDemo())
    assert cli.run_serve(args) == 0
    assert launched["config"].editor == "exact" and launched["config"].store == tmp_path
    assert launched["server_port"] == 7999 and launched["server_name"] == "127.0.0.1"
    assert launched["allowed_paths"] == [] and launched["run_history"] is False
    assert launched["prevent_thread_lock"] and launched["blocked"]


def test_ctrl_c_while_serving_closes_the_server_and_exits_as_interrupted(monkeypatch, tmp_path, capsys):
    """Gradio's own wait takes Ctrl-C for an ordinary end: a server its user stopped exited 0."""
    import edit_agent.cli
    import ui.app

    class ServingUntilCtrlC:
        closed = False

        def launch(self, **options):
            pass

        @property
        def is_running(self):
            raise KeyboardInterrupt

        def close(self, verbose=True):
            self.closed = True

    demo = ServingUntilCtrlC()
    monkeypatch.setattr(ui.app, "build_demo", lambda config: demo)
    monkeypatch.setattr(ui.app.backends, "check_in_background", lambda: None)
    assert edit_agent.cli.main(["serve", "--store", str(tmp_path), "--editor", "exact"]) == 130
    assert demo.closed and capsys.readouterr().err.strip() == "edit-agent: interrupted"


def _serve_without_a_server(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict:
    """Run ``serve`` up to the page: the config it builds the app with (no server starts)."""
    import ui.app
    from ui import cli

    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command"))
    built: dict = {}
    monkeypatch.setattr(ui.app, "build_demo", lambda config: built.setdefault("config", config))
    monkeypatch.setattr(ui.app, "serve", lambda demo, config, **where: built.setdefault("served", True))
    cli.run_serve(parser.parse_args(["serve", *argv]))
    return built


def test_serve_with_a_model_folder_loads_it_first_and_new_sessions_use_it(monkeypatch, tmp_path, tiny_lm_folder):
    from PIL import Image

    from edit_agent.session import EditSession
    from ui.handlers import ChatApp

    built = _serve_without_a_server(
        monkeypatch, ["--store", str(tmp_path / "store"), "--reasoner-model", str(tiny_lm_folder), "--editor", "exact"])
    config = built["config"]
    assert built["served"] and config.reasoner == "llm" and config.reasoner_options == {"model": str(tiny_lm_folder)}
    try:
        loaded = backends.reasoner("llm", model=str(tiny_lm_folder))
        assert loaded.model_name.endswith("my-lm")  # the folder, not the offline default SmolLM2

        photo = tmp_path / "photo.png"
        Image.new("RGB", (40, 30), (90, 120, 200)).save(photo)
        app = ChatApp(config)
        state, *_ = app.edit({"text": "make it warmer", "files": [str(photo)]}, {}, "llm", "exact",
                             progress=lambda *a, **k: None)
        session = EditSession.open(state["session_id"], store=app.store)
        assert session.reasoner is loaded  # the instance loaded at start-up, not a second copy
        assert json.loads(app.store.get_session(session.id).settings["reasoner_options"])["model"] == str(tiny_lm_folder)

        available, unavailable = backends.choices("reasoner", "llm", loaded=True)
        assert "llm" in available and "llm" not in unavailable
        labels = {name: label for label, name in backends.labelled("reasoner", available, {"llm": "my-lm"})}
        assert labels["llm"].endswith("[model: my-lm]") and "[model" not in labels["rules"]
    finally:
        forget_shared("reasoner", "llm")


@pytest.mark.parametrize(("argv", "message"), [
    (["--reasoner-model", "{missing}"], "no folder at"),
    (["--editor", "instruct-pix2pix", "--model", "edit-agent-tests/not-cached"], "edit-agent-tests/not-cached"),
    (["--model", "some/model"], "--model needs --editor"),
])
def test_serve_with_a_model_that_cannot_load_stops_before_serving(monkeypatch, tmp_path, argv, message):
    from edit_agent.errors import EditAgentError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = [arg.replace("{missing}", str(tmp_path / "no-such-model")) for arg in argv]
    with pytest.raises(EditAgentError, match=re.escape(message)):
        _serve_without_a_server(monkeypatch, ["--store", str(tmp_path / "store"), *argv])
    assert not (tmp_path / "store").exists()  # nothing was started or written


def test_serve_plugs_into_the_edit_agent_command(monkeypatch: pytest.MonkeyPatch):
    import edit_agent.cli
    from ui import cli

    monkeypatch.setattr(edit_agent.cli, "COMMAND_PROVIDERS", (*edit_agent.cli.COMMAND_PROVIDERS, "ui.cli:add_commands"))
    providers = edit_agent.cli.COMMAND_PROVIDERS
    if providers.count("ui.cli:add_commands") > 1:  # the lead already registered it
        monkeypatch.setattr(edit_agent.cli, "COMMAND_PROVIDERS", providers[:-1])
    args = edit_agent.cli.build_parser().parse_args(["serve", "--host", "127.0.0.1"])
    assert args.func is cli.run_serve


@pytest.mark.parametrize("typed", [
    '<h1>BIG</h1> <img src=x onerror="alert(1)">', "**bold** _it_ [link](javascript:alert(2))",
    "# Heading\n\n| a | b |\n|---|---|\n| 1 | 2 |", "1. first\n- second\n> quote `code` \\ back",
    "Title\n=====", "Sub\n---", "$$x^2$$ costs $5",
])
def test_chat_text_shows_as_typed_not_as_markup(typed):
    from markdown_it import MarkdownIt

    from ui.views import as_typed

    rendered = MarkdownIt("commonmark").enable("table").render(as_typed(typed))
    assert not re.search(r"<(h1|h2|hr|img|strong|em|a|table|ol|ul|li|blockquote|code)\b", rendered)
    shown = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    assert shown.split() == typed.split()  # every character the user typed, as text


@pytest.mark.parametrize("typed, address", [
    ("make it look like https://images.example.com/a_b*c/autumn-forest.jpg please",
     "https://images.example.com/a_b*c/autumn-forest.jpg"),
    ("mail me at jo.smith-1@example.co.uk when done", "jo.smith-1@example.co.uk"),
    ("see www.example.com/`x`", "www.example.com/`x`"),
    ('as on http://x.co/<img src=x onerror="alert(1)">', 'http://x.co/<img'),
])
def test_an_address_in_the_chat_is_shown_verbatim_as_code_not_as_an_escaped_link(typed, address):
    from markdown_it import MarkdownIt

    from ui.views import as_typed

    rendered = MarkdownIt("commonmark").render(as_typed(typed))
    codes = [html.unescape(code) for code in re.findall(r"<code>(.*?)</code>", rendered)]
    assert codes == [address]  # as typed: no backslash before its dots, and no link made of it
    assert not re.search(r"<(img|a)\b", rendered)
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)).split() == typed.split()


def test_the_chat_says_when_a_turn_left_the_image_unchanged(tmp_path):
    from edit_agent.session import EditSession
    from edit_agent.world import Scene, SceneObject, render
    from ui import views

    circle = SceneObject(shape="circle", color="red", size="large", cell="center")
    session = EditSession(store=tmp_path, editor="program")
    session.edit(render(Scene(background="white", objects=(circle,)), 96), "add a small blue square at the center")
    session.edit(None, "make the circle blue")
    session.edit(None, "from now on, every new shape must be green")
    intents = [message["content"] for message in views.session_view(session.id, session._store).chat
               if isinstance(message["content"], str) and message["content"].startswith("**Edit #")]
    assert ["The image is unchanged" in text for text in intents] == [True, False, False]
    assert "This turn sets a rule; the image is unchanged" in intents[2]
    captions = [caption for _, caption in views.session_view(session.id, session._store).timeline]
    # the thumbnail of a turn that changed nothing is the one before it again: its caption says why they match
    assert captions[1:] == ["#1: add a small blue square at the … (no change)", "#2: make the circle blue",
                            "● #3: from now on, every new shape must be green"]


def test_a_photo_edit_on_a_canvas_says_in_the_chat_that_shapes_are_no_longer_edited_one_by_one(tmp_path):
    from edit_agent.session import EditSession
    from ui import views

    session = EditSession(store=tmp_path)
    session.edit("sample:world-1", "make all shapes green")
    session.edit(None, "make it warmer")
    intents = [message["content"] for message in views.session_view(session.id, session._store).chat
               if isinstance(message["content"], str) and message["content"].startswith("**Edit #")]
    assert ["its shapes cannot be edited one by one" in text for text in intents] == [False, True]


def test_undo_redo_download_and_delete_are_enabled_only_where_a_click_would_act(tmp_path):
    from edit_agent.session import EditSession
    from ui import views

    def enabled(view: views.View) -> list[bool]:  # Undo, Redo, Download session, Delete this session
        return [button.interactive for button in view.buttons()]

    assert enabled(views.empty_view()) == [False, False, False, False]
    session = EditSession(store=tmp_path)
    session.edit("sample:world-1", "make all shapes green")
    session.edit(None, "make the background white")

    def shown() -> views.View:
        return views.session_view(session.id, session._store)

    assert enabled(shown()) == [True, False, True, True]  # a new turn: nothing to redo
    session.undo()
    assert enabled(shown()) == [True, True, True, True]
    session.undo()
    assert enabled(shown()) == [False, True, True, True]  # at the source image
    session.redo()
    session.redo()
    session.edit(None, "undo that")  # a canvas's undo is a turn: Redo takes it back
    assert enabled(shown()) == [True, True, True, True]
    assert session.step_back_over_undo_turn()[0]
    assert enabled(shown()) == [True, False, True, True]  # and does not go into it again


def test_serve_with_an_empty_store_is_an_error_not_the_default_store(monkeypatch, tmp_path):
    from edit_agent.errors import InvalidArgumentError

    monkeypatch.setenv("EDIT_AGENT_HOME", str(tmp_path / "home"))
    with pytest.raises(InvalidArgumentError, match="--store '' is not a usable folder path"):
        _serve_without_a_server(monkeypatch, ["--store", ""])
    assert not (tmp_path / "home").exists()


def test_a_tiny_image_gets_a_thumbnail_large_enough_to_see(tmp_path, monkeypatch):
    from PIL import Image

    from ui import files

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    tiny = Image.new("RGB", (12, 9), (200, 40, 40))
    shown = Image.open(files.thumbnail("ab" * 32, lambda: tiny))
    assert shown.size == (96, 72)  # enlarged 8x, pixel by pixel: a dot in the chat before
    assert Image.open(files.thumbnail("cd" * 32, lambda: Image.new("RGB", (1000, 500)))).size == (256, 128)


def test_the_download_is_the_stored_png_itself_not_encoded_again(tmp_path, monkeypatch):
    from PIL import Image

    from edit_agent.session import EditSession
    from ui import views

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    session = EditSession(store=tmp_path / "store")
    result = session.edit(Image.effect_mandelbrot((300, 200), (-2, -1.5, 1, 1.5), 60).convert("RGB"), "make it brighter")
    digest = session.turn_records()[-1].output_hash
    store = session._store
    monkeypatch.setattr(store, "load_image", lambda *_, **__: pytest.fail("decoded to be encoded again"))
    monkeypatch.setattr(views.files, "thumbnail", lambda digest, load: "thumbnail.jpg")  # thumbnails do decode
    download = Path(views.session_view(session.id, store).image)
    assert download.read_bytes() == session._store.image_path(digest).read_bytes()
    assert Image.open(download).tobytes() == result.image.tobytes()


@pytest.mark.parametrize(("session_id", "shown", "stem"), [
    (None, None, None),  # a generated id: its first eight characters, which open it
    ("Holiday trip/2024", "Holiday trip/2024", "edit-session-Holiday-trip-2024"),  # a chosen id: all of it
])
def test_the_app_shows_a_session_id_that_opens_the_session(tmp_path, session_id, shown, stem):
    from edit_agent.session import EditSession
    from ui import views

    session = EditSession(store=tmp_path, editor="program", session_id=session_id)
    session.edit("sample:world-1", "make the background white")
    shown = shown or session.id[:8]
    view = views.session_view(session.id, session._store)
    assert f"Session `{shown}`" in view.status
    assert shown in views.session_choices(session._store, [session.id])[0][0]
    assert EditSession.open(shown, store=tmp_path).id == session.id
    assert view.image.rsplit("/", 1)[-1] == f"{stem or 'edit-session-' + shown}-edit-1.png"


def test_my_sessions_lists_the_last_edited_first(tmp_path):
    from edit_agent.session import EditSession
    from ui import views

    older = EditSession(store=tmp_path, editor="program")
    older.edit("sample:world-1", "make the background white")
    newer = EditSession(store=tmp_path, editor="program")
    newer.edit("sample:world-2", "make the background white")
    older.edit(None, "make the background beige")  # edited last: first, though made first
    listed = views.session_choices(older._store, [newer.id, older.id])  # the order sessions were made or opened
    assert [session_id for _, session_id in listed] == [older.id, newer.id]


CHECKED_BY_A_CHILD = """
import json, sys, tempfile, types
from pathlib import Path
from ui import backends
folder = Path(tempfile.mkdtemp())
(folder / "noisy_backend.py").write_text("print('Loading the noisy backend')\\nclass Editor:\\n    pass\\n")
sys.path.append(str(folder))
made_here = types.ModuleType("made_here")
made_here.Editor = type("Editor", (), {})
sys.modules["made_here"] = made_here
backends.EDITORS["mine"] = "edit_agent.editors.exact:ExactEditor"  # registered in Python before serving
backends.EDITORS["noisy"] = "noisy_backend:Editor"  # prints as it is imported
backends.EDITORS["made-here"] = "made_here:Editor"  # a module only this process has
backends.check_in_background()
backends.choices("editor", "exact")  # a page opened at once: it waits for the child's answers
heavy = sorted(name for name in ("torch", "diffusers", "transformers") if name in sys.modules)
found = {f"{kind}:{name}": backends.unavailable_reason(kind, name)
         for kind in ("reasoner", "editor") for name in backends.registry(kind)}
backends._FOUND_BY_A_CHILD.clear()
backends.unavailable_reason.cache_clear()
here = {f"{kind}:{name}": backends.unavailable_reason(kind, name)
        for kind in ("reasoner", "editor") for name in backends.registry(kind)}
print(json.dumps({"heavy": heavy, "found": found, "here": here}))
"""


def test_the_backend_check_imports_model_libraries_in_a_child_not_in_the_server():
    # In the server they took 8 CPU-seconds from the first turns and kept about 400 MB for nothing.
    done = subprocess.run([sys.executable, "-c", CHECKED_BY_A_CHILD], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["heavy"] == []
    assert result["found"] == result["here"]  # what the child found is what the server would have
    for name in ("mine", "noisy", "made-here"):
        assert result["found"][f"editor:{name}"] is None, name
    assert result["found"]["reasoner:rules"] is None and result["found"]["editor:qwen-image-edit"] is not None


def test_the_backend_check_runs_in_the_server_where_the_child_cannot(monkeypatch):
    def no_child(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr(backends.subprocess, "run", no_child)
    backends.unavailable_reason.cache_clear()
    try:
        backends.check_in_background().result()
        assert backends.unavailable_reason.cache_info().currsize == sum(map(len, (backends.REASONERS, backends.EDITORS)))
        assert backends.unavailable_reason("editor", "exact") is None
    finally:
        backends.unavailable_reason.cache_clear()
