"""How long importing one downloaded session takes: a 12 MP photo and six edits (seven 12 MP images).

    python scripts/bench_import.py            # this checkout
    python scripts/bench_import.py --repeat 5

To compare two versions, run it from a worktree of each (``git worktree add /tmp/old REV``) with
``PYTHONPATH=/tmp/old python /tmp/old/scripts/bench_import.py``, one after the other on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from PIL import Image
    from skimage import data

    import edit_agent
    from edit_agent import EditSession

    with tempfile.TemporaryDirectory() as work:
        session = EditSession(store=Path(work) / "made")
        session.edit(Image.fromarray(data.astronaut()).resize((4000, 3000)), "make it warmer")
        for instruction in ["make it brighter", "more contrast", "make it cooler", "rotate it 90 degrees",
                            "make it sepia"]:
            session.edit(None, instruction)
        archive = session.export_zip(Path(work) / "session.zip")
        seconds = []
        for attempt in range(args.repeat):
            began = time.perf_counter()
            EditSession.import_zip(archive, store=Path(work) / f"import-{attempt}")
            seconds.append(time.perf_counter() - began)
        megabytes = archive.stat().st_size / 1e6
    print(f"{edit_agent.__file__}: import_zip of {megabytes:.0f} MB, 7 images of 12 MP: "
          f"median {statistics.median(seconds):.2f} s over {args.repeat} ({', '.join(f'{s:.2f}' for s in seconds)})")


if __name__ == "__main__":
    main()
