"""The edit-agent command line: edit, sessions list/show/export, and clean failures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def photo_path(tmp_path) -> Path:
    from skimage import data

    path = tmp_path / "rocket.png"
    Image.fromarray(data.rocket()).resize((60, 90)).save(path)
    return path


def test_edit_writes_one_png_per_turn_and_the_export(tmp_path, photo_path, capsys):
    out, store = tmp_path / "out", tmp_path / "store"
    code = main(["edit", str(photo_path), "rotate it 90 degrees", "make it grayscale", "--out", str(out),
                 "--store", str(store)])
    assert code == 0
    first, second = Image.open(out / "turn-01.png"), Image.open(out / "turn-02.png")
    rotated = Image.open(photo_path).convert("RGB").transpose(Image.Transpose.ROTATE_270)
    assert first.convert("RGB").tobytes() == rotated.tobytes()
    assert second.convert("RGB").tobytes() == rotated.convert("L").convert("RGB").tobytes()
    lines = (out / "session" / "session.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["session", "turn", "turn"]
    printed = capsys.readouterr().out
    assert "Rotate the image 90 degrees clockwise." in printed and "turn-02.png" in printed
    # Each turn's PNG is the export's file of it, copied rather than encoded again (3 s a turn at 12 MP).
    outputs = [json.loads(line)["output"] for line in lines[1:]]
    assert [(out / name).read_bytes() for name in ("turn-01.png", "turn-02.png")] == [
        (out / "session" / output).read_bytes() for output in outputs]


def test_sessions_list_show_export(tmp_path, photo_path, capsys):
    store = tmp_path / "store"
    main(["edit", str(photo_path), "blur it", "--out", str(tmp_path / "o"), "--store", str(store)])
    capsys.readouterr()
    assert main(["sessions", "list", "--store", str(store)]) == 0
    listing = capsys.readouterr().out.strip().splitlines()
    assert len(listing) == 1 and listing[0].endswith("1 turn")
    session_id = listing[0].split()[0]
    assert main(["sessions", "show", session_id, "--store", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "'blur it' -> 'Blur the image with radius 2.'" in shown and "*" in shown
    assert main(["sessions", "export", session_id, str(tmp_path / "exp"), "--store", str(store)]) == 0
    assert (tmp_path / "exp" / "session.jsonl").exists()
    capsys.readouterr()
    assert main(["sessions", "delete", session_id, "--store", str(store)]) == 0
    assert capsys.readouterr().out.startswith(f"deleted session {session_id} (1 turn,")
    assert EditSession.list(store=store) == []
    assert main(["sessions", "delete", session_id, "--store", str(store)]) == 2  # one clear error the second time
    assert "No session" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,message",
    [
        (["edit", "{missing}", "blur it"], "not found"),
        (["edit", "{html}", "blur it"], "HTML"),
        (["edit", "{photo}", "make the sky purple"], "generative editor is needed for it. To make it, name one and a "
                                                     "reasoner that passes the instruction on: --editor qwen-image-edit"),
        (["edit", "{photo}", "   "], "empty"),
        (["edit", "{photo}", "blur it", "--editor", "nope"], "Unknown editor"),
        (["edit", "{photo}", "blur it", "--editor", "exact", "--model", "some/model"], "does not take model"),
        (["edit", "{photo}", "blur it", "--reasoner", "langchain"], "needs model"),
        (["edit", "{photo}", "blur it", "--no-such-flag"], "unrecognized arguments"),
        (["edit", "{photo}", "blur it", "--reasoner", "llm", "--reasoner-model", "{empty}"], "is not available"),
        (["sessions", "show", "nope"], "No session"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(tmp_path, photo_path, args, message):
    html = tmp_path / "page.png"
    html.write_text("<!DOCTYPE html><html></html>")
    (tmp_path / "empty").mkdir()  # a folder that holds no model
    values = {"missing": tmp_path / "missing.png", "html": html, "photo": photo_path, "empty": tmp_path / "empty"}
    argv = [a.format(**values) for a in args] + ["--store", str(tmp_path / "store")]
    if args[0] == "edit":
        argv += ["--out", str(tmp_path / "out")]
    completed = subprocess.run(
        [sys.executable, "-m", "edit_agent.cli", *argv], capture_output=True, text=True, cwd=REPO
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_python_dash_m_edit_agent_runs_the_command():
    from edit_agent import __version__

    completed = subprocess.run([sys.executable, "-m", "edit_agent", "--version"], capture_output=True, text=True,
                               cwd=REPO)
    assert completed.returncode == 0 and __version__ in completed.stdout, completed.stderr
    refused = subprocess.run([sys.executable, "-m", "edit_agent", "no-such-command"], capture_output=True, text=True,
                             cwd=REPO)
    assert refused.returncode == 2 and refused.stderr.startswith("edit-agent: error:")


def test_edit_takes_a_bundled_sample_by_name(tmp_path):
    from edit_agent.samples import sample_image

    out = tmp_path / "out"
    assert main(["edit", "sample:coffee", "flip it horizontally", "--out", str(out), "--store", str(tmp_path / "s")]) == 0
    expected = sample_image("coffee").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert Image.open(out / "turn-01.png").convert("RGB").tobytes() == expected.tobytes()


def test_world_and_eval_commands_are_wired(tmp_path, capsys):
    sessions = tmp_path / "sessions.jsonl"
    assert main(["world", "generate", "--n", "3", "--turns", "2", "--seed", "7"]) == 0
    sessions.write_text(capsys.readouterr().out)
    assert len(sessions.read_text().splitlines()) == 3
    out = tmp_path / "run"
    assert main(["eval", str(sessions), "--reasoner", "rules", "--editor", "program", "--out", str(out),
                 "--no-progress", "--workers", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_sessions"] == 3 and summary["mean"]["SR"] == 1.0


def test_world_generate_writes_into_a_new_folder_and_names_the_path_it_was_given(tmp_path, capsys):
    target = tmp_path / "new" / "deeper" / "sessions.jsonl"
    assert main(["world", "generate", "--n", "2", "--out", str(target)]) == 0
    assert len(target.read_text().splitlines()) == 2
    (tmp_path / "a-file").write_text("")
    assert main(["world", "generate", "--n", "2", "--out", str(tmp_path / "a-file" / "s.jsonl")]) == 2
    error = capsys.readouterr().err
    assert "a-file is a file, not a folder" in error and ".partial" not in error  # not the hidden file's name


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--editor", "instruct-pix2pix", "--model", "edit-agent-tests/not-cached"], "edit-agent-tests/not-cached"),
        (["--reasoner-model", "edit-agent-tests/no-llm"], "edit-agent-tests/no-llm"),
        (["--model", "some/model"], "--model needs --editor"),
    ],
)
def test_model_flags_reach_the_backends_and_fail_clearly_offline(tmp_path, flags, message, capsys):
    argv = ["edit", "sample:coffee", "add snow", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "s"), *flags]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # nothing was stored, and no store made


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--config", "{yaml_error}"], "mapping values are not allowed"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{out}", "--set", "steps=[1"], "is not YAML"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{out}", "--set", "threads=-1"], "threads"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{a_file}"], "is a file"),
        (["eval", "{binary}", "--out", "{out}"], "not a UTF-8 text file"),
        (["eval", "{no_turns}", "--out", "{out}"], "turns"),
        (["eval", "--split", "world-test", "--workers", "-1", "--out", "{out}"], "--workers"),
        (["eval", "--split", "world-test", "--limit", "-1", "--out", "{out}"], "--limit"),
        (["eval", "--split", "world-test", "--limit", "1", "--out", "{a_file}"], "is a file"),
        (["eval", "--split", "world-test", "--limit", "1", "--out", "{a_file}/run"], "a-file is a file, not a folder"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{a_file}/run"], "a-file is a file, not a folder"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{out}", "--set", "steps=true"], "not true"),
        (["eval", "--split", "world-test", "--size", "60000", "--out", "{out}"], "--size may be at most"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{old_run}", "--set", "resume=false"], "holds a run"),
        (["eval", "--split", "world-test", "--limit", "1", "--out", "{old_run}"], "holds a training run"),
        (["train", "--config", "rl/configs/smoke.yaml", "--out", "{damaged_run}"], "holds an evaluation run"),
        (["eval", "--compare", "{trained_run}", "{trained_run}", "--out", "{out}"], "trained-run/eval"),
        (["eval", "--compare", "{damaged_run}", "--out", "{out}"], "is incomplete"),
        (["world", "generate", "--n", "1", "--mix", "add=nan"], "finite"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--reasoner", "foo"], "Unknown reasoner"),
        # served anyway, every new session's first message failed
        (["serve", "--reasoner", "langchain", "--store", "{out}"], "cannot run on this machine (needs a model object"),
    ],
)
def test_bad_command_input_is_one_line_and_leaves_no_output(tmp_path, capsys, argv, message):
    damaged = tmp_path / "damaged-run"
    damaged.mkdir()
    old_run = tmp_path / "old-run"
    (old_run / "checkpoints" / "step-000001").mkdir(parents=True)
    _write(old_run / "checkpoints" / "step-000001" / "state.json", '{"step": 1}')
    _write(damaged / "summary.json", '{"mean": {}}')
    trained_run = tmp_path / "trained-run"
    (trained_run / "eval").mkdir(parents=True)
    _write(trained_run / "eval" / "summary.json", '{"mean": {}}')
    values = {
        "trained_run": trained_run,
        "yaml_error": _write(tmp_path / "bad.yaml", "mode: image\n  steps: [1\n"),
        "a_file": _write(tmp_path / "a-file", "x"),
        "binary": _write(tmp_path / "binary.jsonl", b"\x89PNG\r\n\x1a\n\x00\xff"),
        "no_turns": _write(tmp_path / "no-turns.jsonl", '{"id": "a", "start": {"background": "white", "objects": []}, "turns": []}\n'),
        "damaged_run": damaged,
        "old_run": old_run,
        "out": tmp_path / "out",
    }
    assert main([part.format(**values) for part in argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in old_run.rglob("*")) == ["checkpoints", "state.json", "step-000001"]



def test_cli_turns_file_system_problems_into_one_line(tmp_path, capsys):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    store = str(tmp_path / "store")
    assert main(["edit", "sample:astronaut", "make it brighter", "--out", str(a_file), "--store", store]) == 2
    assert main(["edit", "sample:astronaut", "make it brighter", "--out", str(a_file / "out"), "--store", store]) == 2
    assert main(["sessions", "list", "--store", str(a_file)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("edit-agent: error:") for line in errors)
    assert EditSession.list(store=store) == []  # the bad --out stopped the run before any turn


def test_an_out_folder_that_fills_up_says_how_to_get_the_stored_turns(tmp_path, capsys, monkeypatch):
    """The turns were committed and the folder could not hold them; the error named neither the session nor them."""
    import errno
    import shlex

    from edit_agent import transfer

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    store = str(tmp_path / "my store")
    monkeypatch.setattr(transfer.shutil, "copyfile", disk_full)
    assert main(["edit", "sample:astronaut", "flip it", "blur it", "--out", str(tmp_path / "out"), "--store", store]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error and "The session is kept in the store (1 turn)" in error
    monkeypatch.undo()
    command = shlex.split(error.split("`")[1].replace("FOLDER", str(tmp_path / "elsewhere")))
    assert command[:3] == ["edit-agent", "sessions", "export"] and main(command[1:]) == 0
    assert len(EditSession.import_folder(tmp_path / "elsewhere", store=tmp_path / "new").history) == 1


def test_cli_run_twice_into_one_folder_replaces_its_own_export(tmp_path):
    arguments = ["edit", "sample:astronaut", "make it brighter", "--out", str(tmp_path / "out"),
                 "--store", str(tmp_path / "store")]
    assert main(arguments) == 0 and main(arguments) == 0
    sessions = EditSession.list(store=tmp_path / "store")
    exported = json.loads((tmp_path / "out" / "session" / "session.jsonl").read_text().splitlines()[0])
    assert exported["id"] == sessions[-1] and len(list((tmp_path / "out" / "session" / "images").iterdir())) == 2


def test_cli_makes_no_output_folder_when_the_first_turn_fails(tmp_path):
    out = tmp_path / "runs" / "today" / "out"  # nor the folders it would have made above it
    assert main(["edit", str(tmp_path / "missing.png"), "make it brighter", "--out", str(out),
                     "--store", str(tmp_path / "store")]) == 2
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "store").exists()  # a mistyped image name creates no store either


def test_an_out_that_names_an_image_file_is_refused_before_any_turn(tmp_path, photo_path, capsys):
    out = tmp_path / "result.png"  # a file meant; a folder of that name was made
    assert main(["edit", str(photo_path), "make it brighter", "--out", str(out), "--store", str(tmp_path / "s")]) == 2
    assert "--out is a folder" in capsys.readouterr().err and not out.exists()
    assert not (tmp_path / "s").exists() or EditSession.list(store=tmp_path / "s") == []
    (tmp_path / "kept.png").mkdir()  # a folder of an earlier run with such a name still takes turns
    assert main(["edit", str(photo_path), "make it brighter", "--out", str(tmp_path / "kept.png"),
                 "--store", str(tmp_path / "s")]) == 0


def test_cli_refuses_up_front_to_replace_an_export_of_a_session_it_does_not_hold(tmp_path):
    elsewhere = EditSession(store=tmp_path / "other-store")
    elsewhere.edit(Image.new("RGB", (64, 32), "navy"), "make it brighter")
    elsewhere.export(tmp_path / "out" / "session")
    arguments = ["edit", "sample:astronaut", "make it brighter", "--out", str(tmp_path / "out"),
                 "--store", str(tmp_path / "store")]
    assert main(arguments) == 2
    assert EditSession.list(store=tmp_path / "store") == []  # refused before any turn
    exported = json.loads((tmp_path / "out" / "session" / "session.jsonl").read_text().splitlines()[0])
    assert exported["id"] == elsewhere.id


def test_cli_refuses_up_front_an_unreadable_earlier_export(tmp_path):
    (tmp_path / "out" / "session").mkdir(parents=True)
    (tmp_path / "out" / "session" / "session.jsonl").write_text("garbage, not json")
    arguments = ["edit", "sample:astronaut", "make it brighter", "--out", str(tmp_path / "out"),
                 "--store", str(tmp_path / "store")]
    assert main(arguments) == 2
    assert EditSession.list(store=tmp_path / "store") == []
    assert not (tmp_path / "out" / "turn-01.png").exists()


def test_a_reader_that_stops_early_is_not_an_error():
    process = subprocess.Popen([sys.executable, "-m", "edit_agent.cli", "world", "interpret", "--split", "world-dev"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert process.stdout.read(100)  # like `| head -c 100`
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and "Broken pipe" not in stderr


def test_undo_that_moves_back_and_a_later_failure_keeps_the_turns_before_it(tmp_path, capsys):
    out, store = tmp_path / "out", tmp_path / "store"
    assert main(["edit", "sample:astronaut", "rotate it 90 degrees", "crop to a centred square", "undo that",
                 "make the car red", "--out", str(out), "--store", str(store)]) == 2
    printed = capsys.readouterr()
    assert "turn 3: undo, back at edit #1" in printed.out and "generative editor" in printed.err
    assert Image.open(out / "turn-03.png").size == Image.open(out / "turn-01.png").size  # turn 1's image again
    session_id = EditSession.list(store=store)[0]
    assert f"session {session_id} exported" in printed.out  # the id is not lost with the failed turn
    imported = EditSession.import_folder(out / "session", store=tmp_path / "other")
    assert [turn.instruction for turn in imported.turns] == ["rotate it 90 degrees", "crop to a centred square"]


def test_a_move_names_the_turn_by_its_number_in_the_session_as_the_app_and_the_reasoning_do(tmp_path, capsys):
    """After a canvas's "undo that" turn was taken back, the head's place on the way from the source (2) was told,
    where the app and the reasoning call it turn 3."""
    assert main(["edit", "sample:world-1", "make the square blue", "undo that", "redo that", "make it small",
                 "make it brighter", "undo that", "--out", str(tmp_path / "out"), "--store", str(tmp_path / "store")]) == 0
    assert "turn 6: undo, back at edit #3" in capsys.readouterr().out


def test_redo_that_moves_forward_again_as_the_redo_button_does(tmp_path, photo_path, capsys):
    out = tmp_path / "out"
    assert main(["edit", str(photo_path), "rotate it 90 degrees", "undo that", "redo that", "redo", "--out", str(out),
                 "--store", str(tmp_path / "store")]) == 0
    printed = capsys.readouterr().out
    assert "turn 3: redo, at edit #1" in printed and "turn 4: nothing to redo, still at edit #1" in printed
    assert Image.open(out / "turn-03.png").tobytes() == Image.open(out / "turn-01.png").tobytes()


def test_redo_that_after_a_canvas_undo_turn_takes_that_turn_back(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["edit", "sample:world-2", "add a small blue circle at the bottom left", "make it green", "undo that",
                 "redo that", "--out", str(out), "--store", str(tmp_path / "store")]) == 0
    printed = capsys.readouterr().out
    assert "turn 4: redo: took back the 'undo that' turn, at edit #2" in printed
    assert Image.open(out / "turn-04.png").tobytes() == Image.open(out / "turn-02.png").tobytes()  # green again
    assert Image.open(out / "turn-03.png").tobytes() != Image.open(out / "turn-02.png").tobytes()


@pytest.mark.parametrize("instructions, message", [
    (["undo that", "make it warmer"], "'undo that' is the first instruction: there is no edit to move from yet"),
    (["make it warmer", "go back two steps"], "between instructions the command line takes 'undo that' and 'redo that'"),
])
def test_a_history_move_the_command_line_cannot_make_says_what_it_can(tmp_path, photo_path, capsys, instructions,
                                                                      message):
    assert main(["edit", str(photo_path), *instructions, "--out", str(tmp_path / "out"),
                 "--store", str(tmp_path / "store")]) == 2
    printed = capsys.readouterr()
    assert message in printed.err and "EditSession.undo()" not in printed.err  # no advice meant for other ways in
    assert "turn 1" not in printed.out and not (tmp_path / "store").exists()  # refused before any turn ran


def test_a_rerun_into_the_same_folder_leaves_no_turn_image_of_the_run_before(tmp_path):
    out, store = tmp_path / "out", ["--store", str(tmp_path / "store")]
    assert main(["edit", "sample:astronaut", "flip it", "blur it", "--out", str(out), *store]) == 0
    assert main(["edit", "sample:astronaut", "flip it", "--out", str(out), *store]) == 0
    assert sorted(path.name for path in out.glob("turn-*.png")) == ["turn-01.png"]


def test_a_second_run_into_a_folder_a_run_is_writing_is_refused_and_changes_nothing(tmp_path, capsys):
    """Two runs into one --out at once cleared each other's turn images and export, and both exited 0."""
    out, store = tmp_path / "out", ["--store", str(tmp_path / "store")]
    assert main(["edit", "sample:astronaut", "flip it", "blur it", "--out", str(out), *store]) == 0
    before = {path.name: path.read_bytes() for path in out.glob("turn-*.png")}
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        handle = os.open({str(out)!r}, os.O_RDONLY)
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a run writing into it holds it
        print("held", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert main(["edit", "sample:coffee", "make it cooler", "--out", str(out), *store]) == 2
    finally:
        holder.kill()
        holder.wait()
    assert "is in use by another edit-agent edit" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in out.glob("turn-*.png")} == before
    assert main(["sessions", "list", *store]) == 0 and capsys.readouterr().out.count("\n") == 1  # no second session
    assert main(["edit", "sample:coffee", "make it cooler", "--out", str(out), *store]) == 0  # once it is let go


def test_a_run_into_a_folder_on_a_file_system_without_locks_goes_on_unheld(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_locks(*args):
        raise OSError(errno.ENOLCK, "No locks available")  # as some network file systems answer

    monkeypatch.setattr(fcntl, "flock", no_locks)
    assert main(["edit", "sample:astronaut", "flip it", "--out", str(tmp_path / "out"),
                 "--store", str(tmp_path / "store")]) == 0
    assert (tmp_path / "out" / "turn-01.png").is_file()


def test_turn_images_no_earlier_run_wrote_are_never_replaced(tmp_path, capsys):
    out = tmp_path / "holiday"
    out.mkdir()
    (out / "turn-05.png").write_bytes(b"someone else's picture")
    assert main(["edit", "sample:astronaut", "flip it", "--out", str(out), "--store", str(tmp_path / "store")]) == 2
    assert "turn-05.png but no session export of an earlier run" in capsys.readouterr().err
    assert sorted(path.name for path in out.iterdir()) == ["turn-05.png"]
    assert (out / "turn-05.png").read_bytes() == b"someone else's picture"
    assert not (tmp_path / "store").exists()  # refused before any turn


def test_reading_a_store_that_is_not_there_creates_none(tmp_path, capsys, monkeypatch):
    assert main(["sessions", "list", "--store", str(tmp_path / "typo")]) == 2
    assert "No session store at" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    monkeypatch.setenv("EDIT_AGENT_HOME", str(tmp_path / "fresh"))
    assert main(["sessions", "list"]) == 0  # the default store before its first session: nothing to list
    assert not (tmp_path / "fresh").exists()


def test_a_failed_rerun_keeps_the_run_before_it_whole(tmp_path):
    out, store = tmp_path / "out", ["--store", str(tmp_path / "store")]
    assert main(["edit", "sample:astronaut", "flip it", "blur it", "--out", str(out), *store]) == 0
    before = {path.name: path.read_bytes() for path in out.glob("turn-*.png")}
    _write(tmp_path / "broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    assert main(["edit", str(tmp_path / "broken.png"), "flip it", "--out", str(out), *store]) == 2
    assert {path.name: path.read_bytes() for path in out.glob("turn-*.png")} == before  # beside its export


@pytest.mark.parametrize(("extra", "message"), [
    (["rotate it 90 degrees", "   "], "instruction is empty"),
    (["rotate it 90 degrees", "flip it", "--seed", str(2**63 - 1)], "gives turn 2 the seed 9223372036854775808"),
    (["rotate it 90 degrees", "--out", "bad\udcff"], "is not a usable folder path"),
])
def test_arguments_a_later_turn_would_fail_on_fail_before_the_first(tmp_path, capsys, extra, message):
    out = ["--out", str(tmp_path / "out")] if "--out" not in extra else []
    assert main(["edit", "sample:astronaut", *extra, *out, "--store", str(tmp_path / "store")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "store").exists() and not (tmp_path / "out").exists()


def test_an_empty_store_argument_is_an_error_not_the_default_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDIT_AGENT_HOME", str(tmp_path / "home"))
    session = EditSession(store=tmp_path / "home")
    session.edit(Image.new("RGB", (16, 16), "navy"), "make it brighter")
    for command in (["list"], ["show", session.id], ["delete", session.id]):
        assert main(["sessions", *command, "--store", ""]) == 2  # as a script with an unset "$STORE" runs it
        assert "--store '' is not a usable folder path" in capsys.readouterr().err
    assert EditSession.list(store=tmp_path / "home") == [session.id]


def test_text_the_console_cannot_show_prints_escaped_not_a_traceback(tmp_path):
    store = tmp_path / "store"
    session = EditSession(store=store)
    session.edit(Image.new("RGB", (16, 16), "navy"), "make it brighter ☀️")
    shown = subprocess.run([sys.executable, "-m", "edit_agent.cli", "sessions", "show", session.id, "--store", str(store)],
                           capture_output=True, text=True, env={"PYTHONIOENCODING": "ascii", "PATH": ""}, cwd=REPO)
    assert shown.returncode == 0 and "make it brighter \\u2600" in shown.stdout, shown.stderr


def test_sessions_are_named_by_the_start_of_their_id_and_an_export_imports_back(tmp_path, capsys):
    store = tmp_path / "store"
    for start, colour in (("abcd1111", "navy"), ("abcd2222", "teal")):
        EditSession(store=store, session_id=start + "0" * 24).edit(Image.new("RGB", (16, 16), colour), "make it brighter")
    assert main(["sessions", "show", "abcd1", "--store", str(store)]) == 0  # as the app shows it
    assert capsys.readouterr().out.startswith("session abcd1111")
    assert main(["sessions", "show", "abcd", "--store", str(store)]) == 2
    assert "'abcd' starts 2 session ids" in capsys.readouterr().err  # never a guess between two
    assert main(["sessions", "show", "abc", "--store", str(store)]) == 2  # too short to mean one
    assert main(["sessions", "export", "abcd2", str(tmp_path / "exported"), "--store", str(store)]) == 0
    assert f"exported session abcd2222{'0' * 24}" in capsys.readouterr().out
    assert main(["sessions", "import", str(tmp_path / "exported"), "--store", str(tmp_path / "other")]) == 0
    assert capsys.readouterr().out.startswith("imported as session ") and len(EditSession.list(tmp_path / "other")) == 1
    assert main(["sessions", "import", str(tmp_path), "--store", str(tmp_path / "none")]) == 2
    assert "not a session export" in capsys.readouterr().err and not (tmp_path / "none").exists()
    assert main(["sessions", "import", str(tmp_path / "typo.zip"), "--store", str(tmp_path / "none")]) == 2
    assert "typo.zip does not exist" in capsys.readouterr().err and not (tmp_path / "none").exists()
    assert main(["sessions", "delete", "abcd1", "--store", str(store)]) == 2  # a short prefix deletes nothing
    assert "at least 8 characters" in capsys.readouterr().err and len(EditSession.list(store)) == 2
    assert main(["sessions", "delete", "abcd1111", "--store", str(store)]) == 0
    EditSession(store=store, session_id="demo").edit(Image.new("RGB", (16, 16), "navy"), "make it brighter")
    assert main(["sessions", "delete", "demo", "--store", str(store)]) == 0  # a short id given whole is no prefix
    assert "deleted session demo" in capsys.readouterr().out and "demo" not in EditSession.list(store=store)


def test_a_session_zip_cut_short_is_named_as_incomplete(tmp_path, capsys):
    session = EditSession(store=tmp_path / "store")
    session.edit(Image.new("RGB", (64, 64), "teal"), "make it brighter")
    whole = session.export_zip(tmp_path / "whole.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[:len(whole) // 2])
    assert main(["sessions", "import", str(tmp_path / "cut.zip"), "--store", str(tmp_path / "other")]) == 2
    assert "cut.zip is an incomplete zip" in capsys.readouterr().err and not (tmp_path / "other").exists()
    (tmp_path / "cut").write_bytes(whole[:len(whole) // 2])  # saved without its extension
    assert main(["sessions", "import", str(tmp_path / "cut"), "--store", str(tmp_path / "other")]) == 2
    assert "is an incomplete zip" in capsys.readouterr().err


def test_ctrl_c_while_a_turn_image_is_written_leaves_no_half_png(tmp_path, photo_path, monkeypatch):
    out, store = tmp_path / "out", tmp_path / "store"
    real_copy = shutil.copyfile

    def copy_then_interrupt(source, target, *args, **kwargs):
        if Path(target).parent == out:  # a turn's PNG: Ctrl-C midway
            with open(target, "wb") as half:
                half.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
            raise KeyboardInterrupt
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copy_then_interrupt)
    assert main(["edit", str(photo_path), "rotate it 90 degrees", "--out", str(out), "--store", str(store)]) == 130
    assert sorted(path.name for path in out.iterdir()) == ["session"]  # no turn-01.png, no partial file
    assert len(EditSession.list(store=store)) == 1  # the turn itself committed, and the export holds it


def test_turn_images_get_the_usual_file_permissions(tmp_path, photo_path):
    import os
    import stat

    out = tmp_path / "out"
    old_mask = os.umask(0o022)
    try:
        assert main(["edit", str(photo_path), "rotate it 90 degrees", "--out", str(out), "--store", str(tmp_path / "s")]) == 0
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((out / "turn-01.png").stat().st_mode) == 0o644  # readable by others, as image.save() made it


def test_serve_on_a_port_in_use_says_so_in_its_own_words(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    error = capsys.readouterr().err
    assert f"Port {port} on 127.0.0.1 is in use" in error and "launch()" not in error


@pytest.mark.parametrize("host, said", [("no.such.host.invalid", "does not resolve"),
                                         ("192.0.2.1", "is no address this machine can listen at")])
def test_serve_at_a_host_it_cannot_listen_at_is_one_error(tmp_path, capsys, host, said):
    # it retried the host on every port of Gradio's range, a traceback each, and never stopped (or, with --port,
    # said the port was taken)
    assert main(["serve", "--host", host, "--store", str(tmp_path / "store")]) == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("file_at", ["session", "session/images"])
def test_an_out_where_the_export_cannot_go_is_refused_before_any_turn(tmp_path, photo_path, capsys, file_at):
    out = tmp_path / "out"
    (out / file_at).parent.mkdir(parents=True, exist_ok=True)
    (out / file_at).write_text("notes")
    assert main(["edit", str(photo_path), "make it brighter", "--out", str(out), "--store", str(tmp_path / "s")]) == 2
    assert "is a file, where the session export goes" in capsys.readouterr().err
    assert not (tmp_path / "s").exists() or EditSession.list(store=tmp_path / "s") == []  # no turn committed


KILLED_AT_THE_SECOND_PNG = """
import os, sys
import edit_agent.cli as cli
save = cli._save_whole
calls = []
def save_then_die(image, path, **options):
    calls.append(path)
    if len(calls) == 2:
        os._exit(9)  # as SIGKILL: no finally, no clean-up
    save(image, path, **options)
cli._save_whole = save_then_die
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_run_killed_mid_turn_leaves_a_folder_the_same_command_takes_again(tmp_path, photo_path):
    out = tmp_path / "out"
    arguments = ["edit", str(photo_path), "rotate it 90 degrees", "make it grayscale", "--out", str(out),
                 "--store", str(tmp_path / "store")]
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_THE_SECOND_PNG, *arguments], cwd=REPO, check=False,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9
    # Turn 2 committed and was exported before its PNG was written: the folder shows what the store holds.
    assert sorted(p.name for p in out.glob("turn-*.png")) == ["turn-01.png"]
    assert len((out / "session" / "session.jsonl").read_text().splitlines()) == 3
    (out / ".turn-02.png.0badf00d.partial").write_bytes(b"half a picture")  # what a kill while writing leaves
    assert main(arguments) == 0
    assert sorted(p.name for p in out.iterdir()) == ["session", "turn-01.png", "turn-02.png"]


SLOW_SECOND_TURN = """
import sys, time
import edit_agent.cli as cli
from edit_agent import EditSession
edit = EditSession.edit
def edit_slowly(self, *args, **kwargs):
    if self.turns:
        time.sleep(60)
    return edit(self, *args, **kwargs)
EditSession.edit = edit_slowly
sys.exit(cli.main())
"""


def test_sigterm_mid_run_exports_the_turns_done_and_says_so(tmp_path, photo_path):
    import signal

    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SECOND_TURN, "edit", str(photo_path), "rotate it 90 degrees", "make it grayscale",
         "--out", str(out), "--store", str(tmp_path / "store")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("turn 1:")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM and "stopped (SIGTERM)" in stderr
    assert "exported to" in stdout and (out / "turn-01.png").exists()
    assert len((out / "session" / "session.jsonl").read_text().splitlines()) == 2


def test_exporting_after_every_turn_copies_each_image_once(tmp_path, photo_path, monkeypatch):
    import edit_agent.transfer as transfer

    copied: list[str] = []
    checked: list[str] = []
    write_whole, image_hash = transfer._write_whole, transfer.image_hash
    monkeypatch.setattr(transfer, "_write_whole", lambda target, write: (target.parent.name == "images"
                                                                        and copied.append(target.name))
                        or write_whole(target, write))
    monkeypatch.setattr(transfer, "image_hash", lambda image: checked.append(image_hash(image)) or checked[-1])
    assert main(["edit", str(photo_path), "rotate it 90 degrees", "make it grayscale", "mirror it", "--out",
                 str(tmp_path / "out"), "--store", str(tmp_path / "store")]) == 0
    images = sorted(p.name for p in (tmp_path / "out" / "session" / "images").iterdir())
    assert sorted(copied) == images and len(images) == 4  # the source and three edits, each copied once
    assert sorted(f"{digest}.png" for digest in checked) == images  # and each decoded and checked once


def test_exporting_again_repairs_an_exported_image_damaged_in_place(tmp_path, photo_path):
    session = EditSession(store=tmp_path / "store")
    session.edit(photo_path, "rotate it 90 degrees")
    folder = session.export(tmp_path / "export").parent
    damaged = next((folder / "images").iterdir())
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the same size, one byte flipped
    damaged.write_bytes(bytes(data))
    session.export(folder)
    assert len(EditSession.import_folder(folder, store=tmp_path / "other").history) == 1


SIGTERM_HANDLER_SEEN_BY_SERVE = """
import signal, sys
import edit_agent.cli as cli
import ui.cli
ui.cli.run_serve = lambda args: print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL) or 0  # no server started
sys.exit(cli.main())
"""


def test_the_app_server_keeps_the_default_sigterm_and_other_commands_clean_up():
    """`docker stop` must stop the server at once; Gradio would take a KeyboardInterrupt for a slow shutdown."""
    served = subprocess.run([sys.executable, "-c", SIGTERM_HANDLER_SEEN_BY_SERVE, "serve"], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False)
    assert served.stdout.strip() == "True", served.stderr[-2000:]


def test_version(capsys):
    from edit_agent import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"edit-agent {__version__}"


@pytest.mark.parametrize("instruction, flags", [
    ("flip it", ["--reasoner", "nosuch"]),
    ("make the car red", []),  # refused by the exact editor
])
def test_an_edit_that_fails_before_its_first_turn_leaves_no_new_store(tmp_path, photo_path, instruction, flags):
    store = tmp_path / "new-store"
    assert main(["edit", str(photo_path), instruction, "--out", str(tmp_path / "out"), "--store", str(store),
                 *flags]) == 2
    assert not store.exists() and not (tmp_path / "out").exists()


def test_a_refused_first_turn_leaves_none_of_the_folders_a_new_store_needed(tmp_path, photo_path):
    store = tmp_path / "stores" / "mine" / "main"
    assert main(["edit", str(photo_path), "make the car red", "--out", str(tmp_path / "out"), "--store", str(store)]) == 2
    assert list(tmp_path.iterdir()) == [photo_path]  # no store, nor the folders made for it


def test_a_refused_import_into_a_new_store_leaves_no_store(tmp_path, photo_path, capsys):
    """The store was opened, and so made, before the export's images were read."""
    assert main(["edit", str(photo_path), "flip it", "--out", str(tmp_path / "out"), "--store",
                 str(tmp_path / "store")]) == 0
    export = tmp_path / "out" / "session"
    next(export.rglob("*.png")).unlink()  # an image the records name is gone
    new_store = tmp_path / "new" / "store"
    assert main(["sessions", "import", str(export), "--store", str(new_store)]) == 2
    assert "error" in capsys.readouterr().err and not (tmp_path / "new").exists()


def test_a_failed_first_turn_keeps_a_store_that_was_there(tmp_path, photo_path):
    store = tmp_path / "store"
    assert main(["edit", str(photo_path), "flip it", "--out", str(tmp_path / "a"), "--store", str(store)]) == 0
    assert main(["edit", str(photo_path), "make the car red", "--out", str(tmp_path / "b"), "--store", str(store)]) == 2
    from edit_agent.session import open_store

    assert len(open_store(store).list_sessions()) == 1  # the session of the first run is still there


KILLED_WHILE_REPLACING_THE_EXPORT = """
import os, sys
from edit_agent import EditSession
export = EditSession.export
def die_while_exporting(self, folder, *args, **kwargs):
    os._exit(9)  # as SIGKILL, as this run's export is being written: no finally, no clean-up
EditSession.export = die_while_exporting
import edit_agent.cli as cli
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_run_killed_while_replacing_an_earlier_runs_export_leaves_a_folder_the_next_run_takes(tmp_path, photo_path):
    """The earlier export was removed before the new one was written: a kill then left the earlier turn PNGs with
    no export beside them, and every later run into that folder was refused."""
    out, store = tmp_path / "out", str(tmp_path / "store")
    assert main(["edit", str(photo_path), "rotate it 90 degrees", "flip it", "--out", str(out), "--store", store]) == 0
    second = ["edit", str(photo_path), "make it warmer", "--out", str(out), "--store", store]
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_REPLACING_THE_EXPORT, *second], cwd=REPO, check=False,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9
    assert main(second) == 0  # the folder is taken again
    assert sorted(p.name for p in out.iterdir()) == ["session", "turn-01.png"]
    assert len((out / "session" / "session.jsonl").read_text().splitlines()) == 2  # the session and its one turn


def test_a_run_stopped_as_its_first_turn_commits_leaves_no_earlier_runs_turn_pngs(tmp_path, photo_path, monkeypatch):
    import edit_agent.cli as cli

    out, store = tmp_path / "out", str(tmp_path / "store")
    assert main(["edit", str(photo_path), "rotate it 90 degrees", "flip it", "--out", str(out), "--store", store]) == 0

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_keep_export_beside_turns", stopped)  # Ctrl-C just after turn 1 committed
    assert main(["edit", str(photo_path), "make it warmer", "--out", str(out), "--store", store]) == 130
    # the new run's export stands alone: no PNG of the earlier run beside it
    assert sorted(p.name for p in out.iterdir()) == ["session"]


def test_a_first_turn_stopped_keeps_a_new_store_that_another_process_has_used_meanwhile(tmp_path, photo_path,
                                                                                      monkeypatch):
    """The store this run made was removed whole when its first turn was stopped, with the sessions another
    process had made in it meanwhile."""
    import edit_agent.cli as cli

    store = tmp_path / "new-store"

    def another_session_then_stopped(session, args, image):
        EditSession(store=store).edit(Image.new("RGB", (8, 8)), "flip it")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_edit_and_export", another_session_then_stopped)
    assert main(["edit", str(photo_path), "flip it", "--out", str(tmp_path / "out"), "--store", str(store)]) == 130
    assert len(EditSession.list(store=store)) == 1


def test_the_command_line_starts_without_loading_the_session_machinery():
    """The package names its classes lazily: `edit-agent --help` answers at once, and a Ctrl-C as the program starts
    is caught by the command line rather than printed as a traceback from an import."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, edit_agent.cli; print(sorted(m for m in sys.modules "
                             "if m in ('edit_agent.session', 'edit_agent.store', 'PIL', 'torch')))"],
                            cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "[]"
    named = subprocess.run([sys.executable, "-c", "import edit_agent; print(edit_agent.EditSession.__name__, "
                            "edit_agent.errors.StoreError.__name__)"],  # classes and submodules, as before
                           cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert named.stdout.split() == ["EditSession", "StoreError"]


@pytest.mark.parametrize("argv", [
    ["sessions", "export", "abcd1234", ""], ["sessions", "import", ""], ["world", "interpret", ""],
    ["world", "generate", "--n", "1", "--out", ""], ["eval", "--compare", ""],
])
def test_an_empty_path_is_a_usage_error_not_the_current_folder(tmp_path, monkeypatch, capsys, argv):
    # Path("") is ".": `sessions export ID "$UNSET"` wrote the export into wherever the command ran
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main([*argv, *(["--store", str(tmp_path / "store")] if argv[0] == "sessions" else [])])
    assert done.value.code == 2 and "is empty: name a folder or a file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_world_generate_refuses_a_negative_seed(capsys):
    with pytest.raises(SystemExit) as done:
        main(["world", "generate", "--n", "1", "--seed", "-5"])
    assert done.value.code == 2 and "must be 0 or more" in capsys.readouterr().err


def test_world_interpret_writes_nothing_when_a_later_session_fails(tmp_path, monkeypatch, capsys):
    import edit_agent.world.sessions as sessions_module

    sessions = tmp_path / "s.jsonl"
    assert main(["world", "generate", "--n", "2", "--seed", "3", "--out", str(sessions)]) == 0
    capsys.readouterr()
    completed = sessions_module.complete
    calls = []

    def fails_on_the_second(session):
        calls.append(session.id)
        if len(calls) == 2:
            raise sessions_module.SessionFileError("the second session is bad")
        return completed(session)

    monkeypatch.setattr(sessions_module, "complete", fails_on_the_second)
    assert main(["world", "interpret", str(sessions)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "the second session is bad" in out.err  # the first one's line read as a whole file


def test_a_one_step_undo_said_as_in_a_chat_is_made_between_instructions(tmp_path, photo_path, capsys):
    assert main(["edit", str(photo_path), "make it brighter", "nope, undo that", "flip it", "--out", str(tmp_path / "o"),
                 "--store", str(tmp_path / "s")]) == 0
    assert [turn.instruction for turn in EditSession.open(EditSession.list(tmp_path / "s")[0],
                                                          store=tmp_path / "s").history] == ["flip it"]
    with pytest.raises(SystemExit) as done:
        main(["world", "generate", "--n", "1", "--seed", "x"])
    assert done.value.code == 2 and "invalid seed value" in capsys.readouterr().err
