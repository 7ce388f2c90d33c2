"""Seconds a photo turn takes with the offline defaults, from the SDK, the chat app's view and the command line.

    python benchmarks/photo_turn.py --width 4000 --height 3000 --turns 4

The photo is scikit-image's coffee, enlarged with a little noise, as a camera's 12 MP photo has. Each SDK turn
is split as the stored timings split it (reason, edit, store: hashing and PNG encoding). "App view" is the
time to build what the chat shows after a turn (the download file, thumbnails, the timeline); "CLI" is one
``edit-agent edit`` run of the same instructions in a fresh process, import included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy
from PIL import Image

from edit_agent import EditSession
from edit_agent.cli import at_least_one

INSTRUCTIONS = ("make it brighter", "rotate it left", "make it warmer", "flip it horizontally",
                "more contrast", "make it grayscale")


def camera_like_photo(width: int, height: int) -> Image.Image:
    from skimage import data

    enlarged = numpy.asarray(Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.LANCZOS))
    noise = numpy.random.default_rng(0).normal(0, 3, enlarged.shape)
    return Image.fromarray(numpy.clip(enlarged + noise, 0, 255).astype(numpy.uint8))


def sdk_turns(photo: Image.Image, folder: Path, turns: int) -> list[dict[str, float]]:
    session = EditSession(store=folder)
    measured = []
    for number in range(turns):
        began = time.perf_counter()
        session.edit(photo if number == 0 else None, INSTRUCTIONS[number % len(INSTRUCTIONS)])
        wall = time.perf_counter() - began
        timings = session.turn_records()[-1].timings
        measured.append({"wall": wall, **{key: timings[key] for key in ("reason", "edit", "store")}})
    return measured


def app_view_seconds(folder: Path) -> float:
    from edit_agent.store import Store
    from ui import views

    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")  # the files it writes go with the benchmark's folder
    store = Store(folder)
    session_id = store.list_sessions()[0]
    began = time.perf_counter()
    views.session_view(session_id, store)
    return time.perf_counter() - began


def cli_seconds(photo_file: Path, folder: Path, turns: int) -> float:
    instructions = [INSTRUCTIONS[number % len(INSTRUCTIONS)] for number in range(turns)]
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "edit_agent.cli", "edit", str(photo_file), *instructions,
                    "--out", str(folder / "out"), "--store", str(folder / "store")], check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=at_least_one, default=4000)
    parser.add_argument("--height", type=at_least_one, default=3000)
    parser.add_argument("--turns", type=at_least_one, default=4)
    args = parser.parse_args()
    photo = camera_like_photo(args.width, args.height)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        photo_file = folder / "photo.jpg"
        photo.save(photo_file, quality=92)
        turns = sdk_turns(photo, folder / "sdk", args.turns)
        view = app_view_seconds(folder / "sdk")
        cli = cli_seconds(photo_file, folder / "cli", args.turns)
    first, later = turns[0], turns[1:]
    print(f"Photo turns, {args.width}x{args.height}, default backends ({args.turns} turns):")
    print(f"  SDK first turn {first['wall']:.2f} s (reason {first['reason']:.2f}, edit {first['edit']:.2f}, "
          f"store {first['store']:.2f})")
    if later:
        median = {key: statistics.median(turn[key] for turn in later) for key in first}
        print(f"  SDK later turns, median {median['wall']:.2f} s (reason {median['reason']:.2f}, "
              f"edit {median['edit']:.2f}, store {median['store']:.2f})")
    print(f"  App view after the last turn {view:.2f} s")
    print(f"  CLI, {args.turns} turns in a fresh process {cli:.2f} s")


if __name__ == "__main__":
    main()
