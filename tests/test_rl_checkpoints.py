"""scripts/rl_checkpoints.py: scoring every saved checkpoint of a run reproduces the run's own evaluation."""

from __future__ import annotations

import json

import pytest
import torch

from edit_agent.cli import main as cli
from rl.halves import restore_half, start_halves
from scripts import rl_checkpoints

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Two steps of the smoke config with a checkpoint after each and a final evaluation on one test session."""
    out = tmp_path_factory.mktemp("rl") / "smoke"
    assert cli(["train", "--config", "rl/configs/smoke.yaml", "--out", str(out), "--no-progress",
                "--set", "eval_sessions=1", "--set", "eval_turns=2"]) == 0
    return out


def run_script(monkeypatch, *args: str) -> dict:
    out = args[args.index("--out") + 1]
    monkeypatch.setattr("sys.argv", ["rl_checkpoints.py", *args])
    rl_checkpoints.main()
    with open(out, encoding="utf-8") as handle:
        return json.load(handle)


def test_every_checkpoint_and_the_start_get_a_row_and_the_best_ga_is_chosen(smoke_run, tmp_path, monkeypatch):
    result = run_script(monkeypatch, "--run", str(smoke_run), "--split", "world-dev", "--sessions", "2",
                        "--turns", "2", "--start", "--out", str(tmp_path / "dev.json"))
    rows = result["rows"]
    assert [row["step"] for row in rows] == [0, 1, 2]
    assert all({"IF", "CC", "GA", "SR", "SR@2"} <= set(row) for row in rows)
    best = max(rows, key=lambda row: (row["GA"], -row["step"]))
    assert result["best_step"] == best["step"] and result["split"] == "world-dev"


def test_too_few_sessions_for_the_success_rate_leave_it_empty_not_a_crash(smoke_run, tmp_path, monkeypatch):
    result = run_script(monkeypatch, "--run", str(smoke_run), "--split", "world-dev", "--sessions", "1",
                        "--turns", "2", "--steps", "2", "--out", str(tmp_path / "one.json"))  # its only session: 1 turn
    [row] = result["rows"]
    assert row["SR@2"] is None and 0 <= row["GA"] <= 1


def test_the_last_checkpoint_scores_exactly_what_the_run_reported(smoke_run, tmp_path, monkeypatch):
    result = run_script(monkeypatch, "--run", str(smoke_run), "--split", "world-test", "--sessions", "1",
                        "--turns", "2", "--steps", "2", "--keep", str(tmp_path / "kept"),
                        "--out", str(tmp_path / "test.json"))
    reported = json.loads((smoke_run / "eval" / "summary.json").read_text())["mean"]
    [row] = result["rows"]
    assert row["step"] == 2
    assert {key: row[key] for key in reported} == pytest.approx(reported, abs=1e-9)
    kept = [json.loads(line) for line in (tmp_path / "kept" / "step-2" / "turns.jsonl").read_text().splitlines()]
    assert [turn["turn"] for turn in kept] == [1, 2]
    assert sum(turn["GA"] for turn in kept) / 2 == pytest.approx(row["GA"])
    log = [json.loads(line)["step"] for line in (tmp_path / "kept" / "step-2" / "log.jsonl").read_text().splitlines()]
    assert log == [1, 2]


@pytest.fixture
def perturbed_run(smoke_run, tmp_path):
    """The smoke run with its step-2 editor weights pushed far from the start, so the two halves differ visibly."""
    import shutil

    from safetensors.torch import load_file, save_file

    run = tmp_path / "perturbed"
    shutil.copytree(smoke_run, run)
    path = run / "checkpoints" / "step-000002" / "image.safetensors"
    generator = torch.Generator().manual_seed(0)
    state = {name: value + torch.randn(value.shape, generator=generator) for name, value in load_file(str(path)).items()}
    save_file(state, str(path))
    return run


def test_only_one_half_of_a_checkpoint_is_scored_with_the_other_half_at_the_start(perturbed_run, tmp_path, monkeypatch):
    # The smoke run's text policy is the rule reasoner (no weights): its text half alone is the start, its image
    # half alone is the whole checkpoint.
    common = ["--run", str(perturbed_run), "--split", "world-dev", "--sessions", "2", "--turns", "2"]
    whole = run_script(monkeypatch, *common, "--start", "--out", str(tmp_path / "whole.json"))["rows"]
    text = run_script(monkeypatch, *common, "--steps", "2", "--only", "text", "--out", str(tmp_path / "text.json"))
    image = run_script(monkeypatch, *common, "--steps", "2", "--only", "image", "--out", str(tmp_path / "image.json"))

    def scores(row: dict) -> dict:
        return {key: row[key] for key in ("IF", "CC", "GA", "SR")}

    assert scores(whole[0]) != scores(whole[2])  # the perturbed editor scores differently from the start
    assert text["only"] == "text" and text["rows"][0]["only"] == "text"
    assert scores(text["rows"][0]) == pytest.approx(scores(whole[0]), abs=1e-9)
    assert scores(image["rows"][0]) == pytest.approx(scores(whole[2]), abs=1e-9)


def test_restoring_a_half_puts_back_the_start_weights_and_keeps_the_other_half(perturbed_run):
    from rl.config import TrainConfig
    from rl.trainer import Trainer

    config = TrainConfig.from_yaml(perturbed_run / "config.yaml").model_copy(update={"resume": False})
    trainer = Trainer(config, sessions=())
    start = start_halves(trainer)
    trainer.load_checkpoint(perturbed_run / "checkpoints" / "step-000002")
    loaded = [p.detach().clone() for p in trainer.image_policy.network.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(loaded, start["image"]))
    restore_half(trainer, start, "text")  # the rule reasoner has no weights: nothing moves
    assert all(torch.equal(a, b) for a, b in zip(trainer.image_policy.network.parameters(), loaded))
    restore_half(trainer, start, "image")
    assert all(torch.equal(a, b) for a, b in zip(trainer.image_policy.network.parameters(), start["image"]))


def test_an_unknown_half_is_one_clear_error(smoke_run):
    with pytest.raises(ValueError, match="only must be one of"):
        rl_checkpoints.score_checkpoints(smoke_run, split="world-dev", sessions=1, turns=1, start=False, only="both")


def test_a_step_that_was_not_saved_is_one_clear_error(smoke_run, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"steps \[7\]; saved: \[1, 2\]"):
        run_script(monkeypatch, "--run", str(smoke_run), "--steps", "7", "--out", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_a_folder_without_checkpoints_is_one_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no checkpoint for any step"):
        run_script(monkeypatch, "--run", str(tmp_path), "--out", str(tmp_path / "x.json"))


def test_the_curves_plot_names_each_line_and_draws_one_panel_per_split(tmp_path, monkeypatch):
    from scripts import plot_rl_checkpoints

    rows = [{"step": 0, "GA": 0.7}, {"step": 5, "GA": 0.72}]
    for name, split in (("dev", "world-dev"), ("test", "world-test")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"run": "run-s0", "split": split, "sessions": 2, "rows": rows}))
    assert plot_rl_checkpoints.read_result(f"seed 0={tmp_path / 'dev.json'}")["run"] == "seed 0"
    assert plot_rl_checkpoints.read_result(str(tmp_path / "dev.json"))["run"] == "run-s0"

    captured = keep_figure(monkeypatch)
    monkeypatch.setattr("sys.argv", ["plot", "--out", str(tmp_path / "curves.png"), f"seed 0={tmp_path / 'dev.json'}",
                                     str(tmp_path / "test.json")])
    plot_rl_checkpoints.main()
    assert (tmp_path / "curves.png").stat().st_size > 0
    figure = captured["figure"]
    assert [axis.get_title() for axis in figure.axes] == ["world-dev, 2 sessions", "world-test, 2 sessions"]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["seed 0", "the start (step 0)", "run-s0"]


def keep_figure(monkeypatch) -> dict:
    """Wrap Figure.savefig to keep the figure the plot saves, so the test can read its panels and legend."""
    from matplotlib.figure import Figure

    captured: dict = {}
    real = Figure.savefig

    def keeping(figure, *args, **kwargs):
        captured["figure"] = figure
        return real(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keeping)
    return captured


def test_a_probe_run_saves_checkpoints_that_the_script_scores(tmp_path, monkeypatch):
    from scripts import rl_probe

    probe = tmp_path / "probe"
    monkeypatch.setattr("sys.argv", [
        "rl_probe.py", "fixed", "--config", "rl/configs/smoke.yaml", "--out", str(probe), "--steps", "2",
        "--sessions", "1", "--set", "mode=image", "--set", "text_policy=rules", "--set", "group_size=2",
        "--set", "save_every=1"])
    rl_probe.main()
    assert [json.loads(line)["step"] for line in (probe / "probe.jsonl").read_text().splitlines()] == [1, 2]
    result = run_script(monkeypatch, "--run", str(probe), "--split", "world-dev", "--sessions", "1", "--turns", "1",
                        "--out", str(tmp_path / "dev.json"))
    assert [row["step"] for row in result["rows"]] == [1, 2]
