"""How far a photo drifts over a long session of edits that cancel out, with the offline defaults.

    python benchmarks/photo_drift.py --rounds 2

Each round makes ten pairs of turns that should leave the photo as it was ("rotate it right", "rotate it left";
"make it warmer", "the opposite"; "make it brighter", "way too much"; ...), some taken back by a follow-up and
some said in full. After the session the head is compared with the source: PSNR (infinite when identical) and
the mean shift of each channel, which shows a colour cast or a darkening as a session goes on.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy
from PIL import Image

from edit_agent import EditSession
from edit_agent.cli import at_least_one

CANCELLING_PAIRS = (
    ("rotate it right", "rotate it left"), ("flip it horizontally", "flip it horizontally"),
    ("make it warmer", "the opposite"), ("make it brighter", "way too much"), ("more contrast", "the opposite"),
    ("make it more saturated", "the opposite"), ("make it cooler", "way too much"),
    ("invert the colours", "invert the colours"), ("make it brighter by 10%", "make it darker by 9.1%"),
    ("increase the contrast by 1%", "decrease the contrast by 1%"),
)


def drift(photo: Image.Image, rounds: int) -> tuple[int, float, numpy.ndarray]:
    session = EditSession(store=tempfile.mkdtemp())
    session.edit(photo, "make no change")
    for _ in range(rounds):
        for edit, cancel in CANCELLING_PAIRS:
            session.edit(None, edit)
            session.edit(None, cancel)
    difference = numpy.asarray(session.head.image, dtype=float) - numpy.asarray(photo, dtype=float)
    mean_square = (difference ** 2).mean()
    psnr = float("inf") if mean_square == 0 else 10 * numpy.log10(255 ** 2 / mean_square)
    return len(session.turns), psnr, difference.reshape(-1, 3).mean(axis=0)


def main() -> None:
    from skimage import data

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=at_least_one, default=2)
    args = parser.parse_args()
    for name in ("astronaut", "coffee"):
        turns, psnr, shift = drift(Image.fromarray(getattr(data, name)()), args.rounds)
        print(f"{name}: {turns} turns, PSNR {psnr:.1f} dB, mean shift R/G/B "
              + ", ".join(f"{value:+.2f}" for value in shift))


if __name__ == "__main__":
    main()
