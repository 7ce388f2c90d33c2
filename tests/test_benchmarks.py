"""The benchmark scripts the README names run as written (on a small load): a change elsewhere broke one
quietly once, the app's load test, when an endpoint it calls gained an input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_app_load_test_edits_through_the_app_and_checks_every_turn_was_stored():
    done = run_script("benchmarks/app_load.py", "--users", "2", "--edits", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors seen by users: 0" in done.stdout
    assert "store check: every turn stored once, in order" in done.stdout


def test_the_sdk_benchmark_reports_its_times():
    done = run_script("benchmarks/sdk_turn.py", "--turns", "3", "--size", "64", "--long-session", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SDK time per turn (3 turns" in done.stdout and "Session of 5 turns" in done.stdout, done.stdout



def test_the_photo_turn_benchmark_reports_each_surface(tmp_path):
    done = run_script("benchmarks/photo_turn.py", "--width", "96", "--height", "64", "--turns", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("SDK first turn", "SDK later turns", "App view after the last turn", "CLI, 2 turns"):
        assert line in done.stdout, done.stdout


def test_the_photo_drift_benchmark_reports_each_photo():
    done = run_script("benchmarks/photo_drift.py", "--rounds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "astronaut: 21 turns, PSNR" in done.stdout and "coffee: 21 turns, PSNR" in done.stdout, done.stdout


def test_the_photo_session_memory_benchmark_reports_time_and_peak_memory():
    done = run_script("benchmarks/photo_session_memory.py", "--width", "96", "--height", "64")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"96x64, 10 steps: [\d.]+ s \(first turn [\d.]+ s, later turns ([\d.]+, ){8}[\d.]+\); "
                        r"peak \d+ MB = [\d.]+ decoded images of 0 MB\n", done.stdout)


def test_the_start_up_benchmark_reports_memory_and_keeps_pandas_out():
    done = run_script("benchmarks/sdk_start.py", "--runs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MB peak: median" in done.stdout and "pandas imported: 0 of 1 runs" in done.stdout, done.stdout
