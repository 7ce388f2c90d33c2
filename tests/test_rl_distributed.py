"""Data-parallel RL with two real processes on the CPU (gloo): what `rl/accelerate/ddp.yaml` promises on GPUs.

Each test starts two Python processes, so together they take about half a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl.config import TrainConfig
from rl.trainer import LaunchError, build_accelerator

ROOT = Path(__file__).resolve().parents[1]


def launch(command: list[str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def log_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_two_processes_average_their_gradients_and_end_with_the_same_weights(tmp_path):
    done = launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   "-m", "tests.distributed_worker", str(tmp_path)])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["processes"] == 2
    # Each process rolled out its own sessions, so their gradients differ, and DDP handed both their mean.
    assert report["local_gradients_differ_by"] > 1e-3
    assert report["synced_minus_mean"] <= 1e-6 * report["largest_gradient"]
    assert report["text_gradient_norm"] > 0  # the text half is in the synchronised gradient too
    assert report["weights_moved_by"] > 0 and report["weights_differ_across_processes_by"] == 0
    # One log line a step, from the main process, counting both processes' rollouts (1 session x 2 each).
    assert [(r["step"], r["rollouts"], r["sessions_rolled"]) for r in log_lines(tmp_path / "train" / "run")] == [
        (1, 4, 2), (2, 4, 2)]


def test_the_ddp_config_trains_the_smoke_run_on_two_cpu_processes(tmp_path):
    """The README's command, on a machine without CUDA: the two processes must join one run, not train two."""
    done = launch(["accelerate", "launch", "--config_file", "rl/accelerate/ddp.yaml", "-m", "rl.cli",
                   "--config", "rl/configs/smoke.yaml", "--set", f"out={tmp_path / 'run'}", "--set", "progress=false",
                   "--set", "save_every=2", "--steps", "3"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("rl: 3 steps") == 1
    assert [(r["step"], r["rollouts"]) for r in log_lines(tmp_path / "run")] == [(1, 4), (2, 4), (3, 4)]
    # Step 3 is not a multiple of save_every: the last checkpoint is written after the loop, by both processes.
    steps = sorted(p.parent.name for p in (tmp_path / "run" / "checkpoints").glob("*/state.json"))
    assert steps == ["step-000002", "step-000003"]


def recording_accelerator(processes: int, asked: list[bool]):
    class Recorded:
        num_processes = processes

        def __init__(self, *, cpu: bool, **_: object) -> None:
            asked.append(cpu)

    return Recorded


CONFIG = TrainConfig(mode="image", text_policy="rules")


@pytest.fixture
def no_launch(monkeypatch):
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "ACCELERATE_USE_FSDP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("rl.trainer._has_distributed_accelerator", lambda: False)
    return monkeypatch


def test_a_launch_that_accelerate_does_not_join_is_refused(no_launch):
    asked: list[bool] = []
    no_launch.setenv("WORLD_SIZE", "2")
    no_launch.setattr("rl.trainer.Accelerator", recording_accelerator(1, asked))
    with pytest.raises(LaunchError, match="each would train alone"):
        build_accelerator(CONFIG)
    assert asked == [True]


@pytest.mark.parametrize("size", ["WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"])  # torchrun, Open MPI, Intel MPI
def test_several_processes_without_an_accelerator_run_on_the_cpu_however_launched(no_launch, size):
    asked: list[bool] = []
    no_launch.setenv(size, "2")
    no_launch.setattr("rl.trainer.Accelerator", recording_accelerator(2, asked))
    assert build_accelerator(CONFIG).num_processes == 2 and asked == [True]


def test_with_an_accelerator_or_one_process_the_choice_is_accelerates_own(no_launch):
    asked: list[bool] = []
    no_launch.setattr("rl.trainer.Accelerator", recording_accelerator(1, asked))
    build_accelerator(CONFIG)  # one process, no GPU
    no_launch.setenv("WORLD_SIZE", "2")
    no_launch.setattr("rl.trainer._has_distributed_accelerator", lambda: True)
    build_accelerator(CONFIG)  # GPUs: exactly as accelerate decides, even where it sets up one process
    assert asked == [False, False]


def test_fsdp_on_the_cpu_is_refused_with_the_config_that_runs_there(no_launch):
    no_launch.setenv("WORLD_SIZE", "2")
    no_launch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(LaunchError, match="ddp.yaml"):
        build_accelerator(CONFIG)


def test_whether_to_save_after_the_loop_does_not_depend_on_reading_the_folder(tmp_path, monkeypatch):
    """A process other than the main one saves nothing, so the folder may not yet show the main one's checkpoint
    when it looks: were that its rule, it would enter the checkpoint's barrier alone and the run would hang or die."""
    from tests.test_rl_trainer import small_config, trainer

    run = trainer(small_config(tmp_path, steps=2, save_every=1))
    saves: list[int] = []

    def save_as_another_process_sees_it():  # the barrier is passed, and nothing lands in the folder yet
        saves.append(run.step)
        run.saved_step = run.step

    monkeypatch.setattr(run, "save_checkpoint", save_as_another_process_sees_it)
    run.train()
    assert saves == [1, 2]
