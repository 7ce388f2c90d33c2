"""Standard MICE-World splits, generated deterministically and pinned by checksum.

The files beside this module are the splits; ``scripts/make_splits.py`` regenerates them and prints
the checksums to pin here. A checksum mismatch means the generator or the interpreter changed
meaning: regenerate on purpose, never by accident.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from edit_agent.errors import EditAgentError
from edit_agent.world.generator import generate_sessions

SPLIT_DIR = Path(__file__).resolve().parent


class UnknownSplitError(EditAgentError, ValueError):
    """No standard split has this name."""


class SplitSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int
    turns: int | tuple[int, int]
    seed: int
    purpose: str


SPLITS: dict[str, SplitSpec] = {
    "world-dev": SplitSpec(n=300, turns=(1, 10), seed=20260101, purpose="tuning; never report on it"),
    "world-test": SplitSpec(n=500, turns=5, seed=20260202, purpose="the headline benchmark (500 sessions x 5 turns)"),
    "world-long": SplitSpec(n=200, turns=10, seed=20260303, purpose="long sessions (200 sessions x 10 turns)"),
}

CHECKSUMS: dict[str, str] = {
    "world-dev": "bd9f5842ebd1aa54c56a1bde27476177b1f155a0b4316905038339efb29d8560",
    "world-test": "242d4b3fcf9c45939398baf6aaadc389670bd3f00b217b661f78b2570559d4e9",
    "world-long": "3651c6670c99145d983533c0966c92d83050e40d906f7f42355fe7839b002311",
}
"""SHA-256 of each split file, as committed."""


def split_path(name: str) -> Path:
    if name not in SPLITS:
        raise UnknownSplitError(f"Unknown split {name!r}; choose one of: {', '.join(SPLITS)}.")
    return SPLIT_DIR / f"{name}.jsonl"


def split_text(name: str) -> str:
    """The split's file content, generated from its spec (what ``split_path(name)`` must hold)."""
    spec = SPLITS[name]
    sessions = generate_sessions(spec.n, turns=spec.turns, seed=spec.seed, prefix=name)
    return "".join(session.to_json() + "\n" for session in sessions)


def file_checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_split(name: str) -> Path:
    """The split's path, after checking its checksum against the pinned one."""
    path = split_path(name)
    if not path.is_file():
        raise UnknownSplitError(f"Split file {path} is missing; run scripts/make_splits.py.")
    if CHECKSUMS.get(name) != file_checksum(path):
        raise UnknownSplitError(f"Split {name!r} does not match its pinned checksum; it was modified.")
    return path
