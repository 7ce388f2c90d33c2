"""The standard splits are generated deterministically and pinned by checksum."""

from __future__ import annotations

import pytest

from edit_agent.world import read_world_sessions
from evals.splits import (
    CHECKSUMS,
    SPLITS,
    file_checksum,
    split_path,
    split_text,
    verify_split,
)


@pytest.mark.parametrize("name", list(SPLITS))
def test_split_file_matches_its_pinned_checksum_and_regenerates(name):
    path = split_path(name)
    assert file_checksum(path) == CHECKSUMS[name]
    assert split_text(name) == path.read_text(encoding="utf-8")
    assert verify_split(name) == path


def test_split_shapes():
    test = read_world_sessions(split_path("world-test"))
    long = read_world_sessions(split_path("world-long"))
    assert len(test) == 500 and {len(s.turns) for s in test} == {5}
    assert len(long) == 200 and {len(s.turns) for s in long} == {10}
    assert all(t.target is not None and t.task_type for s in test + long for t in s.turns)
