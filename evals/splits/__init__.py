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
    "world-dev": "137c4f85a00b144efcc88c83c4bc292014b30c37e0ef94e57423ba6fb00262b1",
    "world-test": "342172d3b47fe491dbb8aa558134f7387e72056371d8a5525f7908154ef40bfd",
    "world-long": "2542f6cc3103e0eb5878950b97db4480b999b643c5d766a8d1e9f5967503efce",
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
