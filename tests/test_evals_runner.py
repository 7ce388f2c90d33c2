"""The runner, the run outputs, comparisons and the CLI subcommands."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout

import pytest

from edit_agent.errors import EditAgentError
from edit_agent.world import generate_sessions, read_world_sessions
from evals.cli import add_commands
from evals.errors import EvalInputError
from evals.reports import compare_runs, summarize, write_run
from evals.runner import run_sessions


@pytest.fixture(scope="module")
def sessions():
    return generate_sessions(24, turns=(2, 6), seed=9)


def cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="edit-agent")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    with redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


def test_rules_and_program_is_exact(sessions):
    rows = run_sessions(sessions, reasoner="rules", editor="program", workers=1, progress=False)
    summary = summarize(rows)
    assert summary["mean"] == {"IF": 1.0, "CC": 1.0, "GA": 1.0, "SR": 1.0}
    assert all(v == 1.0 for values in summary["per_turn"].values() for v in values)
    assert len(summary["per_turn"]["SR"]) == 6 and summary["n_sessions"] == 24


def test_baselines_lose_what_they_should(sessions):
    identity = summarize(run_sessions(sessions, reasoner="rules", editor="identity", workers=1, progress=False))
    assert identity["mean"]["CC"] == 1.0 and identity["mean"]["IF"] < 0.6
    passthrough = summarize(run_sessions(sessions, reasoner="passthrough", editor="program", workers=1, progress=False))
    assert passthrough["mean"]["SR"] < 1.0


def test_workers_give_the_same_rows(sessions):
    one = run_sessions(sessions, reasoner="passthrough", editor="program", workers=1, progress=False)
    two = run_sessions(sessions, reasoner="passthrough", editor="program", workers=2, progress=False)
    assert one == two


def test_backend_errors_are_kept_per_turn(sessions):
    rows = run_sessions(sessions[:3], reasoner="passthrough", editor="exact", workers=1, progress=False)
    assert all(row["error"] for session in rows for row in session)  # world text is no photo operation
    assert all(row["CC"] == 1.0 for session in rows for row in session)  # the image was kept as it was


class _Refuses:
    name = "refuses"

    def reconstruct(self, request):
        from edit_agent.errors import UnsupportedInstructionError

        raise UnsupportedInstructionError("not in my words")


def test_a_refused_turn_keeps_the_image_and_is_not_scored_as_the_raw_instruction(sessions):
    # the world editor reads the world language itself: run on the raw instruction, a refusing reasoner
    # scored exactly as the passthrough baseline
    refused = run_sessions(sessions[:6], reasoner=_Refuses(), editor="program", workers=1, progress=False)
    rows = [row for session in refused for row in session]
    assert all(row["error"] == "not in my words" and row["CC"] == 1.0 for row in rows)
    assert all(row["parsed"] == session[0]["parsed"] for session in refused for row in session)  # never edited
    assert summarize(refused)["mean"]["IF"] < summarize(run_sessions(
        sessions[:6], reasoner="passthrough", editor="program", workers=1, progress=False))["mean"]["IF"]


class _Editor:
    def info(self):
        from edit_agent.records import EditorInfo

        return EditorInfo(backend=self.name)


class _CannotRemove(_Editor):
    """The program editor, except that it draws nothing for a removal: an editor whose undo would be wrong."""

    name = "cannot-remove"

    def __init__(self):
        from edit_agent.backends import make_editor

        self.program = make_editor("program")

    def edit(self, image, intent, *, seed=None):
        return image if intent.text.startswith("Remove") else self.program.edit(image, intent, seed=seed)


def test_an_undo_gives_back_the_image_from_before_the_turn_as_the_sdk_does():
    from edit_agent import EditSession
    from edit_agent.world import Scene, WorldSession, WorldTurn

    session = WorldSession(id="undo", start=Scene(background="white"), turns=(
        WorldTurn(instruction="add a large red circle at the center"), WorldTurn(instruction="undo that")))
    [[added, undone]] = run_sessions([session], reasoner="rules", editor=_CannotRemove(), workers=1, progress=False)
    assert len(added["parsed"]["objects"]) == 1 and undone["parsed"]["objects"] == [] and undone["SR"] == 1.0
    sdk = EditSession(store=__import__("tempfile").mkdtemp(), reasoner="rules", editor=_CannotRemove())
    from edit_agent.world.render import render

    sdk.edit(render(session.start, 96), "add a large red circle at the center")
    assert sdk.edit(None, "undo that").image.tobytes() == render(session.start, 96).tobytes()


class _DrawsInPlace(_Editor):
    name = "in-place"

    def __init__(self):
        from edit_agent.backends import make_editor

        self.program = make_editor("program")

    def edit(self, image, intent, *, seed=None):
        image.paste(self.program.edit(image, intent, seed=seed))
        return image


def test_an_editor_that_draws_on_its_input_scores_as_one_that_does_not(sessions):
    exact = run_sessions(sessions[:8], reasoner="rules", editor="program", workers=1, progress=False)
    in_place = run_sessions(sessions[:8], reasoner="rules", editor=_DrawsInPlace(), workers=1, progress=False)
    assert summarize(in_place)["mean"] == summarize(exact)["mean"] == {"IF": 1.0, "CC": 1.0, "GA": 1.0, "SR": 1.0}


class _Broken(_Editor):
    name = "broken"

    def __init__(self, failure):
        self.failure = failure

    def reconstruct(self, request):
        return self.failure()

    def edit(self, image, intent, *, seed=None):
        return self.failure()


@pytest.mark.parametrize("backend, failure, told", [
    ("reasoner", lambda: (_ for _ in ()).throw(RuntimeError("boom")), "broken failed: RuntimeError: boom"),
    ("reasoner", lambda: "make it red", "The reasoner 'broken' returned str, not a Thought."),
    ("editor", lambda: None, "The editor 'broken' returned NoneType, not an image."),
    ("editor", lambda: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")), "broken ran out of device memory"),
])
def test_a_backend_that_crashes_or_returns_the_wrong_thing_fails_its_turns_not_the_run(backend, failure, told):
    from edit_agent.world import Scene, WorldSession, WorldTurn

    session = WorldSession(id="two", start=Scene(background="white"), turns=(
        WorldTurn(instruction="add a large red circle at the center"), WorldTurn(instruction="make all shapes blue")))
    pair = {"reasoner": "rules", "editor": "program", backend: _Broken(failure)}
    [rows] = run_sessions([session, session], **pair, workers=1, progress=False)[1:]
    assert [row["error"][:len(told)] for row in rows] == [told, told] and [row["CC"] for row in rows] == [1.0, 1.0]


def test_run_outputs_and_comparison(tmp_path, sessions):
    rows = run_sessions(sessions[:6], reasoner="rules", editor="program", workers=1, progress=False)
    meta = {"reasoner": "rules", "editor": "program", "sessions": "six", "size": 96, "seed": 0, "workers": 1, "wall_seconds": 0.5}
    write_run(tmp_path / "a", rows, meta)
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert set(summary) == {"n_sessions", "per_turn", "mean", "last_turn_SR"}
    assert set(summary["per_turn"]) == set(summary["mean"]) == {"IF", "CC", "GA", "SR"}
    turn = json.loads((tmp_path / "a" / "turns.jsonl").read_text().splitlines()[0])
    for key in ("session", "turn", "instruction", "reasoning", "intent", "target", "parsed", "IF", "CC", "GA", "SR", "psnr"):
        assert key in turn
    report = (tmp_path / "a" / "report.md").read_text()
    assert "| turn |" in report and "SR@k" in report and (tmp_path / "a" / "per_turn.png").stat().st_size > 1000
    write_run(tmp_path / "b", run_sessions(sessions[:6], reasoner="rules", editor="identity", workers=1, progress=False),
              dict(meta, editor="identity"))
    path = compare_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    text = path.read_text()
    assert "rules+program on six" in text and "rules+identity on six" in text
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 1000
    with pytest.raises(EvalInputError):
        compare_runs([tmp_path], tmp_path / "cmp2")
    # two runs with one label (another seed, say) stay two rows and two lines, named by their folders
    write_run(tmp_path / "c", rows, meta)
    text = compare_runs([tmp_path / "a", tmp_path / "c", tmp_path / "a"], tmp_path / "cmp3").read_text()
    assert "| rules+program on six (a) |" in text and "| rules+program on six (c) |" in text
    assert "| rules+program on six (a) #2 |" in text


def test_success_at_the_last_turn_counts_every_session_at_its_own_length(tmp_path, sessions):
    short = [session.model_copy(update={"turns": session.turns[:1]}) for session in sessions[:3]]
    rows = run_sessions([*short, *sessions[3:4]], reasoner="rules", editor="identity", workers=1, progress=False)
    summary = summarize(rows)
    expected = sum(session_rows[-1]["SR"] for session_rows in rows) / len(rows)
    assert summary["last_turn_SR"] == pytest.approx(expected)
    assert summary["per_turn"]["SR"][-1] == rows[3][-1]["SR"]  # the last turn only the longest session has


@pytest.mark.parametrize("damage", [{"per_turn": {"IF": ["x"]}}, {"per_turn": {"IF": 1}}, {"mean": {"IF": "high"}}])
def test_a_run_whose_scores_are_not_numbers_is_refused_and_nothing_is_written(tmp_path, sessions, damage):
    rows = run_sessions(sessions[:2], reasoner="rules", editor="program", workers=1, progress=False)
    write_run(tmp_path / "a", rows, {"reasoner": "rules", "editor": "program", "sessions": "two"})
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    for key, values in damage.items():
        summary[key].update(values)
    (tmp_path / "a" / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(EvalInputError, match="must be numbers"):
        compare_runs([tmp_path / "a"], tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


def test_cli_eval_generate_interpret(tmp_path):
    code, out = cli("world", "generate", "--n", "5", "--turns", "3", "--seed", "4", "--undo-rate", "0.3")
    assert code == 0 and len(out.splitlines()) == 5
    path = tmp_path / "s.jsonl"
    stripped = [json.loads(line) for line in out.splitlines()]
    for row in stripped:
        for turn in row["turns"]:
            del turn["target"], turn["task_type"]
    path.write_text("".join(json.dumps(row) + "\n" for row in stripped))
    code, interpreted = cli("world", "interpret", str(path))
    assert code == 0 and interpreted == out  # the interpreter fills exactly the generator's targets
    code, out = cli("eval", str(path), "--reasoner", "rules", "--editor", "program", "--out", str(tmp_path / "run"),
                    "--size", "48", "--no-progress", "--workers", "1")
    assert code == 0 and "SR 1.000 (at the last turn 1.000)" in out
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["n_sessions"] == 5
    code, out = cli("eval", "--compare", str(tmp_path / "run"), str(tmp_path / "run"), "--out", str(tmp_path / "cmp"))
    assert code == 0 and (tmp_path / "cmp" / "comparison.md").is_file()


@pytest.mark.parametrize("extra, named", [(("--reasoner", "llm"), "--reasoner"), (("--split", "world-test"), "--split"),
                                          (("--seed", "3", "--limit", "2"), "--seed, --limit")])
def test_compare_refuses_options_for_running_that_it_would_ignore(tmp_path, extra, named):
    cli("eval", "--split", "world-long", "--limit", "2", "--out", str(tmp_path / "run"), "--no-progress", "--workers", "1")
    runs = [str(tmp_path / "run")] * 2
    with pytest.raises(EditAgentError, match=f"{named} would be ignored"):
        cli("eval", "--compare", *runs, "--out", str(tmp_path / "cmp"), *extra)
    assert not (tmp_path / "cmp").exists()
    code, _ = cli("eval", "--compare", *runs, "--out", str(tmp_path / "cmp"), "--no-progress")
    assert code == 0 and (tmp_path / "cmp" / "comparison.md").is_file()


@pytest.mark.parametrize("argv", [
    ("eval", "--out", "x"),  # neither a file nor a split
    ("eval", "missing.jsonl", "--out", "x"),
    ("eval", "--split", "world-nope", "--out", "x"),
    ("eval", "--split", "world-test", "--size", "50", "--out", "x"),
    ("eval", "--split", "world-test", "--editor", "nope", "--out", "x"),
    ("world", "generate", "--n", "2", "--turns", "11"),
    ("world", "generate", "--n", "2", "--undo-rate", "2"),
    ("world", "interpret"),
    ("world", "generate", "--n", "2", "--mix", "teleport=1"),
    ("world", "generate", "--n", "2", "--mix", "add=x"),
])
def test_cli_bad_input_raises_edit_agent_errors(argv, tmp_path):
    with pytest.raises(EditAgentError):
        cli(*argv)


def test_model_backends_run_in_one_process():
    from evals.cli import default_workers

    assert default_workers("rules", "program") >= 1
    assert default_workers("llm", "program") == 1 and default_workers("rules", "qwen-image-edit") == 1
    assert default_workers("auto", "auto") == 1  # on world sessions: the world LM and editor, per worker


def test_generate_mix_of_edits():
    code, out = cli("world", "generate", "--n", "30", "--turns", "4", "--mix",
                    "add=0,remove=0,recolor=1,move=0,resize=0,reshape=0,background=0",
                    "--undo-rate", "0", "--restore-rate", "0", "--rule-rate", "0")
    kinds = {turn["task_type"] for line in out.splitlines() for turn in json.loads(line)["turns"]}
    assert code == 0 and kinds <= {"recolor", "add"}  # add stands in when a scene is empty


def test_split_stands_for_a_file(tmp_path):
    code, out = cli("eval", "--split", "world-long", "--limit", "3", "--out", str(tmp_path / "r"), "--no-progress", "--workers", "1")
    assert code == 0 and "world-long: 3 sessions" in out
    code, out = cli("world", "interpret", "--split", "world-dev")
    assert code == 0 and len(out.splitlines()) == 300
    assert read_world_sessions(io.StringIO(out))[0].id == "world-dev-00000"


def test_file_targets_are_the_ground_truth():
    from edit_agent.world import Scene, WorldSession, WorldTurn

    start = Scene(background="white")
    disagreeing = WorldSession(id="x", start=start, turns=(
        WorldTurn(instruction="change the background to beige", target=Scene(background="gray")),))
    [[row]] = run_sessions([disagreeing], reasoner="rules", editor="program", workers=1, progress=False)
    assert row["target"]["background"] == "gray" and row["parsed"]["background"] == "beige"
    assert row["SR"] == 0.0 and row["IF"] == 0.0


def test_an_empty_out_folder_is_refused_not_taken_as_the_current_folder(tmp_path, monkeypatch, capsys):
    from edit_agent.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(["eval", "--split", "world-test", "--limit", "1", "--out", ""])
    assert stopped.value.code == 2 and "folder name is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_turn_in_other_words_is_scored_on_the_files_target_and_without_one_is_located():
    from edit_agent.world import Scene, WorldSession, WorldTurn
    from edit_agent.world.language import WorldLanguageError

    start = Scene(background="white")
    foreign = WorldSession(id="theirs", start=start, turns=(
        WorldTurn(instruction="give the canvas a beige coat", target=Scene(background="beige")),))
    [[row]] = run_sessions([foreign], reasoner="passthrough", editor="program", workers=1, progress=False)
    assert row["target"]["background"] == "beige" and row["task_type"] == "unread" and row["IF"] == 0.0
    untargeted = WorldSession(id="mine", start=start, turns=(
        WorldTurn(instruction="change the background to beige"), WorldTurn(instruction="make the car red")))
    with pytest.raises(WorldLanguageError, match="Session mine, turn 2: "):
        run_sessions([untargeted], reasoner="rules", editor="program", workers=1, progress=False)
    after_unread = WorldSession(id="mixed", start=start, turns=(
        *foreign.turns, WorldTurn(instruction="add a small red circle at the top left")))
    with pytest.raises(WorldLanguageError, match="Session mixed, turn 2: turn 1 could not be read"):
        run_sessions([after_unread], reasoner="rules", editor="program", workers=1, progress=False)


def test_a_dash_reads_sessions_from_standard_input_and_writes_generated_ones_to_standard_output(monkeypatch):
    code, generated = cli("world", "generate", "--n", "3", "--turns", "2", "--out", "-")
    assert code == 0 and len(generated.splitlines()) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO(generated))
    code, interpreted = cli("world", "interpret", "-")
    assert code == 0 and interpreted == generated


def test_a_byte_order_mark_is_read_and_a_repeated_session_id_is_refused(tmp_path):
    from edit_agent.world.sessions import SessionFileError

    _, generated = cli("world", "generate", "--n", "2", "--turns", "1")
    marked = tmp_path / "bom.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + generated.encode())
    assert len(read_world_sessions(marked)) == 2
    twice = tmp_path / "twice.jsonl"
    twice.write_text(generated + generated)
    with pytest.raises(SessionFileError, match="line 3: the id 'world-00000' is used already, on line 1"):
        read_world_sessions(twice)


def test_eval_scores_a_trained_model_it_is_given_and_names_it(tmp_path, capsys):
    from edit_agent.cli import main

    shipped = "edit_agent/weights/world_policy"  # a world LM folder, as a full fine-tune's final/text is
    out = tmp_path / "run"
    assert main(["eval", "--split", "world-test", "--limit", "1", "--reasoner", "world-lm", "--reasoner-model", shipped,
                 "--editor", "world", "--out", str(out), "--no-progress"]) == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["reasoner"] == f"world-lm ({shipped})" and meta["sessions"] == "world-test (first 1)"
    assert main(["eval", "--split", "world-test", "--limit", "1", "--editor", "world", "--model",
                 str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "World editor weights not found" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_a_seed_the_editors_cannot_take_is_refused_before_the_run(tmp_path):
    with pytest.raises(EvalInputError, match="must fit in 64 bits; use one from"):
        cli("eval", "--split", "world-test", "--limit", "1", "--seed", str(2**63 - 3), "--out", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_turn_that_cannot_be_scored_is_found_before_any_session_runs():
    from edit_agent.world import Scene, WorldSession, WorldTurn
    from edit_agent.world.language import WorldLanguageError

    ran = []

    class Counting(_Editor):
        name = "counting"

        def edit(self, image, intent, *, seed=None):
            ran.append(intent.text)
            return image

    start = Scene(background="white")
    fine = WorldSession(id="fine", start=start, turns=(WorldTurn(instruction="change the background to beige"),))
    unread = WorldSession(id="last", start=start, turns=(WorldTurn(instruction="make the car red"),))
    with pytest.raises(WorldLanguageError, match="Session last, turn 1: "):
        run_sessions([fine, fine, unread], reasoner="rules", editor=Counting(), workers=1, progress=False)
    assert ran == []


def test_a_run_that_cannot_write_its_files_leaves_the_earlier_run_whole(tmp_path, sessions, monkeypatch):
    rows = run_sessions(sessions[:2], reasoner="rules", editor="program", workers=1, progress=False)
    write_run(tmp_path, rows, {"reasoner": "rules", "editor": "program", "sessions": "first"})
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    import evals.reports

    def fails(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(evals.reports, "plot_per_turn", fails)  # the fourth of the five files
    with pytest.raises(OSError, match="disk full"):
        write_run(tmp_path, rows[:1], {"reasoner": "passthrough", "editor": "program", "sessions": "second"})
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # no file replaced, none left aside


def test_a_folder_where_a_run_file_goes_is_refused_before_the_run(tmp_path):
    (tmp_path / "run" / "per_turn.png").mkdir(parents=True)
    with pytest.raises(EvalInputError, match="per_turn.png is not a file"):
        cli("eval", "--split", "world-test", "--limit", "1", "--out", str(tmp_path / "run"))
    assert [path.name for path in (tmp_path / "run").iterdir()] == ["per_turn.png"]


def test_generate_refuses_a_folder_and_leaves_no_aside_file_behind(tmp_path, monkeypatch):
    (tmp_path / "adir").mkdir()
    with pytest.raises(EvalInputError, match="is a folder; name the session file"):
        cli("world", "generate", "--n", "2", "--out", str(tmp_path / "adir"))
    import evals.cli

    def interrupted(sessions, stream):
        stream.write("{}\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(evals.cli, "_write_lines", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli("world", "generate", "--n", "2", "--out", str(tmp_path / "s.jsonl"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["adir"]


def test_interpret_keeps_a_turn_in_other_words_that_has_its_target_and_locates_one_without(tmp_path):
    from edit_agent.world import Scene, WorldSession, WorldTurn
    from edit_agent.world.language import WorldLanguageError

    start = Scene(background="white")
    foreign = WorldSession(id="theirs", start=start, turns=(
        WorldTurn(instruction="give the canvas a beige coat", target=Scene(background="beige")),))
    (tmp_path / "theirs.jsonl").write_text(foreign.to_json() + "\n")
    code, out = cli("world", "interpret", str(tmp_path / "theirs.jsonl"))
    assert code == 0 and json.loads(out)["turns"][0]["target"]["background"] == "beige"
    mine = WorldSession(id="mine", start=start, turns=(
        WorldTurn(instruction="change the background to beige"), WorldTurn(instruction="make the car red")))
    (tmp_path / "mine.jsonl").write_text(mine.to_json() + "\n")
    with pytest.raises(WorldLanguageError, match="Session mine, turn 2: "):
        cli("world", "interpret", str(tmp_path / "mine.jsonl"))


def test_a_turn_whose_editor_fails_stays_out_of_the_history_the_next_turn_sees():
    from edit_agent.backends import make_reasoner
    from edit_agent.errors import EditAgentError
    from edit_agent.world import Scene, WorldSession, WorldTurn

    seen = []

    class Recording:
        name = "recording-rules"

        def __init__(self):
            self.rules = make_reasoner("rules")

        def reconstruct(self, request):
            seen.append([turn.turn_id for turn in request.history])
            return self.rules.reconstruct(request)

    class Fails(_Editor):
        name = "fails"

        def edit(self, image, intent, *, seed=None):
            raise EditAgentError("no")

    session = WorldSession(id="s", start=Scene(background="white"), turns=(
        WorldTurn(instruction="add a large red circle at the center"), WorldTurn(instruction="make all shapes blue"),
        WorldTurn(instruction="undo that")))
    [rows] = run_sessions([session], reasoner=Recording(), editor=Fails(), workers=1, progress=False)
    assert seen == [[], [], []] and [row["error"] for row in rows] == ["no", "no", "no"]


def test_eval_says_how_many_turns_failed_so_a_broken_backend_does_not_pass_for_a_weak_one(tmp_path, capsys):
    code, out = cli("eval", "--split", "world-test", "--limit", "2", "--reasoner", "passthrough", "--editor", "exact",
                    "--out", str(tmp_path / "run"), "--no-progress", "--workers", "1")
    told = capsys.readouterr().err
    assert code == 0 and "10 of 10 turns failed and kept the image; the first: " in told and "SR 0.000" in out


def test_an_eval_stopped_by_ctrl_c_twice_ends_at_once_and_leaves_no_worker(tmp_path):
    # A worker stopped by the signal while it held the pool's queue lock left the others, and the program's exit,
    # waiting for ever; a second Ctrl-C during the shut-down did the same.
    import contextlib
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "EDIT_AGENT_HOME": str(tmp_path / "home")}
    run = subprocess.Popen(
        [sys.executable, "-m", "edit_agent.cli", "eval", "--split", "world-long", "--reasoner", "rules",
         "--editor", "program", "--workers", "2", "--out", str(tmp_path / "run")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment, start_new_session=True)
    try:
        said = ""
        # Near the end, when the last chunks are handed out and a worker waits for more: where it held the lock
        while not re.search(r"\b(?:8\d|9[0-5])%", said):
            said += run.stderr.read(1)
            assert run.poll() is None, said
        for _ in range(2):  # Ctrl-C reaches the whole process group; an impatient user presses it twice
            os.killpg(run.pid, signal.SIGINT)
            time.sleep(0.05)
        assert run.wait(timeout=60) == 130
        assert "Traceback" not in said + run.stderr.read()
        time.sleep(0.5)
        left = subprocess.run(["pgrep", "-g", str(run.pid)], capture_output=True, text=True).stdout
        assert left == ""  # no worker left behind
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
