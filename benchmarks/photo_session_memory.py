"""Seconds and peak memory of a ten-turn photo session with the offline defaults, at a camera's size.

    python benchmarks/photo_session_memory.py --width 7300 --height 5470     # 40 MP
    python benchmarks/photo_session_memory.py --width 4000 --height 3000     # 12 MP

The photo (scikit-image's coffee, enlarged with a little noise: see ``photo_turn.py``) is written as a JPEG first;
the session then runs in a fresh process that opens it by path, so that the peak resident memory reported is the
session's own, not the making of the photo's (Linux: read from /proc). One decoded RGB image is width x height x 3 bytes; the peak is also
given in those.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from photo_turn import camera_like_photo

from edit_agent.cli import at_least_one

STEPS = ("make it warmer", "crop to a square", "rotate 90 degrees", "make it brighter", "a bit more", "undo",
         "blur it", "sharpen it", "resize to 50%", "make it black and white")
"""A session's ten steps; "undo" is the session's move back (session.undo()), not an instruction."""

SESSION = r"""
import json, re, sys, time
from pathlib import Path
from edit_agent import EditSession

photo, store, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
session = EditSession(store=store)
seconds = []
for number, step in enumerate(steps):
    began = time.perf_counter()
    session.undo() if step == "undo" else session.edit(photo if number == 0 else None, step)
    seconds.append(time.perf_counter() - began)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the process that started this one (the benchmark, which
# made the photo), where the high-water mark of this program's own memory starts anew.
peak_kb = int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=at_least_one, default=7300)
    parser.add_argument("--height", type=at_least_one, default=5470)
    parser.add_argument("--runs", type=at_least_one, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        photo_file = folder / "photo.jpg"
        camera_like_photo(args.width, args.height).save(photo_file, quality=92)
        image_mb = args.width * args.height * 3 / 2**20
        for run in range(args.runs):
            done = subprocess.run([sys.executable, "-c", SESSION, str(photo_file), str(folder / f"store{run}"),
                                   json.dumps(STEPS)], check=True, capture_output=True, text=True)
            measured = json.loads(done.stdout)
            seconds = measured["seconds"]
            print(f"{args.width}x{args.height}, {len(STEPS)} steps: {sum(seconds):.2f} s (first turn {seconds[0]:.2f} s, "
                  f"later turns {', '.join(f'{s:.2f}' for s in seconds[1:])}); peak {measured['peak_mb']:.0f} MB "
                  f"= {measured['peak_mb'] / image_mb:.1f} decoded images of {image_mb:.0f} MB")


if __name__ == "__main__":
    main()
