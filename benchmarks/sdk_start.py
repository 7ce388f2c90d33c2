"""What a script pays to start: a fresh process imports edit-agent, opens a store and makes one photo edit.

    python benchmarks/sdk_start.py --runs 5

Each run is a new Python process (so nothing is imported or cached yet); reported are its wall seconds, its CPU
seconds (user + system: steadier than wall time on a busy machine) and its peak resident memory (VmHWM, Linux).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from edit_agent.cli import at_least_one

SCRIPT = r"""
import os, re, sys
import numpy as np
from edit_agent import EditSession
EditSession(store=sys.argv[1]).edit(np.full((64, 64, 3), 90, np.uint8), "make it brighter")
cpu = os.times()
peak_kb = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(f'{{"cpu_s": {cpu.user + cpu.system}, "peak_mb": {peak_kb / 1024}, "pandas": {"pandas" in sys.modules}}}'.lower())
"""


def one_start(store: str) -> dict[str, float]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SCRIPT, store], capture_output=True, text=True, check=True)
    return {**json.loads(done.stdout), "wall_s": time.perf_counter() - began}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=at_least_one, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as store:
        runs = [one_start(store) for _ in range(args.runs)]
    for key, unit in (("wall_s", "s wall"), ("cpu_s", "s CPU"), ("peak_mb", "MB peak")):
        values = [run[key] for run in runs]
        print(f"{unit:>8}: median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})")
    print(f"pandas imported: {sum(run['pandas'] for run in runs)} of {args.runs} runs")


if __name__ == "__main__":
    main()
