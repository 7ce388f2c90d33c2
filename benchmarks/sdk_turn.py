"""The SDK's own cost: time per turn spent outside the reasoner and editor, and the time to open
a long session.

    python benchmarks/sdk_turn.py --turns 200 --size 512 --long-session 1000

"SDK time" is a turn's wall time minus the reasoner's and the editor's: validation, loading the
head, history, hashing, PNG encoding, fsync, the SQLite transaction. The editor used is the
recording editor with a cheap transform, so every turn writes a new image; the reasoner is the
pass-through one (the scripted fake keeps every request it saw, which would make a long run
measure its own memory growth and the garbage collector).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from edit_agent import EditSession
from edit_agent.cli import at_least_one
from edit_agent.reasoners.passthrough import PassthroughReasoner
from edit_agent.store import Store
from edit_agent.testing import RecordingEditor


@dataclass
class Args:
    turns: int = 200
    size: int = 512
    long_session: int = 1000
    long_size: int = 64


_ONE_LEVEL_UP = [(level + 1) % 256 for level in range(256)] * 3


def one_level_up(image: Image.Image, intent) -> Image.Image:
    # A new image every turn, for 256 turns: an edit that gave an earlier image back (inverting twice) would find it
    # stored already and never measure the PNG encoding every real turn pays.
    return image.point(_ONE_LEVEL_UP)


def sdk_time_per_turn(folder: Path, args: Args) -> list[float]:
    session = EditSession(store=folder, reasoner=PassthroughReasoner(), editor=RecordingEditor(one_level_up))
    image: Image.Image | None = Image.effect_mandelbrot((args.size, args.size), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    wall: list[float] = []
    for number in range(args.turns):
        began = time.perf_counter()
        session.edit(image, f"turn {number}")
        wall.append(time.perf_counter() - began)
        image = None
    # The record's timings cover reasoning and editing; the wall clock also covers the commit.
    return [
        1000 * (seconds - t.timings["reason"] - t.timings["edit"])
        for seconds, t in zip(wall, session.turn_records(), strict=True)
    ]


def open_long_session(folder: Path, args: Args) -> tuple[float, float, float]:
    session = EditSession(store=folder, reasoner=PassthroughReasoner(), editor=RecordingEditor(one_level_up))
    image: Image.Image | None = Image.new("RGB", (args.long_size, args.long_size), "orange")
    for number in range(args.long_session):
        session.edit(image, f"turn {number}")
        image = None
    began = time.perf_counter()
    store = Store(folder)  # a fresh connection, as after a restart
    reopened = EditSession.open(session.id, store=store, reasoner=PassthroughReasoner(), editor=RecordingEditor())
    opened = time.perf_counter()
    history = reopened.history
    listed = time.perf_counter()
    assert len(history) == args.long_session
    reopened.edit(None, "one more")
    edited = time.perf_counter()
    return 1000 * (opened - began), 1000 * (listed - opened), 1000 * (edited - listed)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field, default in vars(Args()).items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=at_least_one, default=default)
    args = Args(**vars(parser.parse_args()))
    with tempfile.TemporaryDirectory() as folder:
        per_turn = sdk_time_per_turn(Path(folder) / "a", args)
        open_ms, history_ms, next_turn_ms = open_long_session(Path(folder) / "b", args)
    per_turn.sort()
    print(f"SDK time per turn ({args.turns} turns, {args.size}x{args.size} RGB, recording editor):")
    print(f"  median {statistics.median(per_turn):.1f} ms, p95 {per_turn[int(0.95 * len(per_turn)) - 1]:.1f} ms")
    print(f"Session of {args.long_session} turns ({args.long_size}x{args.long_size}):")
    print(f"  open {open_ms:.1f} ms, full history listing {history_ms:.1f} ms, next turn {next_turn_ms:.1f} ms")


if __name__ == "__main__":
    main()
