"""What drawing the world editor's result again from its scene costs: one edit at a canvas size, redraw on
and off, in one run.

    python scripts/bench_world_redraw.py                # 288 px, the app's samples
    python scripts/bench_world_redraw.py --side 96 --repeat 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # the first paragraph
    parser.add_argument("--side", type=int, default=288)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from edit_agent.editors.world import WorldEditor
    from edit_agent.records import Intent
    from edit_agent.world import random_scene, render

    editor = WorldEditor(device="cpu")
    canvas = render(random_scene(random.Random(1), 3, 6), args.side)
    intent = Intent(text="Change the background to white.")
    medians = {}
    for redraw in (False, True, False, True):  # interleaved: a machine that warms up or slows down hits both
        editor.redraw = redraw
        editor.edit(canvas, intent, seed=0)
        seconds = []
        for seed in range(args.repeat):
            started = time.perf_counter()
            editor.edit(canvas, intent, seed=seed)
            seconds.append(time.perf_counter() - started)
        medians.setdefault(redraw, []).append(statistics.median(seconds))
    off, on = min(medians[False]), min(medians[True])
    print(f"{args.side} px, median of {args.repeat} edits (best of 2 rounds): redraw off {off * 1000:.1f} ms, "
          f"on {on * 1000:.1f} ms ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
