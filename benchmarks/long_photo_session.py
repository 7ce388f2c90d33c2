"""Per-turn time of a long photo session (the default reasoner and editor, 512 px), with what a turn reads of its
history kept between turns, and with it read anew every turn (as before it was kept), alternating in one run.

    python benchmarks/long_photo_session.py --turns 1000

"Read anew" clears the store's kept turn records and the photo reasoner's readings of earlier instructions
before the turn, so both ways are timed on the same session, at the same length, under the same load.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from skimage import data

from edit_agent import EditSession, photo_rules
from edit_agent.cli import at_least_one

INSTRUCTIONS = ("make it warmer", "rotate 90 degrees", "more contrast", "make it cooler", "brighten slightly",
                "darken a bit", "more saturated", "less contrast")
TIMED_TURNS = 20


def time_turns(session: EditSession) -> dict[str, list[float]]:
    """Seconds of the next ``TIMED_TURNS`` turns, every other one with the history read anew."""
    seconds: dict[str, list[float]] = {"kept": [], "read anew": []}
    for number in range(TIMED_TURNS):
        anew = number % 2 == 1
        if anew:
            photo_rules.read_earlier_turn.cache_clear()
            session._store._read_turns.clear()
        began = time.perf_counter()
        session.edit(None, INSTRUCTIONS[number % len(INSTRUCTIONS)])
        seconds["read anew" if anew else "kept"].append(time.perf_counter() - began)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=at_least_one, default=300, help="session length when timed (default 300)")
    args = parser.parse_args()
    photo = Image.fromarray(data.astronaut()).resize((512, 512))
    with tempfile.TemporaryDirectory() as folder:
        session = EditSession(store=Path(folder))
        session.edit(photo, INSTRUCTIONS[0])
        for number in range(max(0, args.turns - 1 - TIMED_TURNS // 2)):
            session.edit(None, INSTRUCTIONS[number % len(INSTRUCTIONS)])
        seconds = time_turns(session)
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    for name, median in medians.items():
        print(f"{args.turns}-turn session, history {name}: median {1000 * median:.0f} ms a turn")
    print(f"kept is {medians['read anew'] / medians['kept']:.2f}x as fast")


if __name__ == "__main__":
    main()
