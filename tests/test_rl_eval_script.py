"""scripts/rl_eval.py refuses what would fail it in one line, before any session runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "rl_eval.py"


@pytest.mark.parametrize("arguments, told", [
    (["--editor", "/nowhere/editor.safetensors"], "No world editor weights at /nowhere/editor.safetensors"),
    (["--sessions", "0"], "argument --sessions: must be at least 1; got 0"),
    (["--size", "50"], "must be divisible by 3 and at least 48; got 50"),
])
def test_a_bad_argument_is_one_line_and_writes_nothing(tmp_path, arguments, told):
    ran = subprocess.run([sys.executable, str(SCRIPT), *arguments, "--out", str(tmp_path / "eval")],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 2 and told in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "eval").exists()


def test_an_out_that_is_a_file_is_refused_before_the_evaluation(tmp_path):
    (tmp_path / "eval").write_text("notes")
    ran = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "eval")],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 2 and "is a file, not a folder" in ran.stderr
