"""Every notebook runs top to bottom (so they never rot), offline, in a scratch folder."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_here():
    assert {path.stem for path in NOTEBOOKS} >= {"quickstart", "evaluation", "tool_use"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EDIT_AGENT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend, which no import may switch off
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert figures or path.stem == "tool_use", "the notebook's plots were not drawn"
