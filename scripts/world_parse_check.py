"""The long parser check: parse(render(s)) == s for 10,000 random scenes at S = 48, 96 and 192,
clean, with Gaussian pixel noise (sigma 0.08 on a 0-1 scale) and, separately, after JPEG quality 60.

    python scripts/world_parse_check.py            # writes evals/reports/parse_check.md

Spec (docs/world.md): clean 100%; noisy and JPEG >= 99% at 96 and 192, >= 97% at 48.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edit_agent.world import parse, random_scene, render

REQUIRED = {48: 0.97, 96: 0.99, 192: 0.99}


@dataclass(frozen=True)
class Args:
    scenes: int = 10_000
    sizes: tuple[int, ...] = (48, 96, 192)
    sigma: float = 0.08
    jpeg_quality: int = 60
    seed: int = 0
    out: Path = Path("evals/reports/parse_check.md")


def with_noise(image: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64) / 255 + rng.normal(0.0, sigma, (image.height, image.width, 3))
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8))


def with_jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)  # Pillow's default 4:2:0 chroma subsampling
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def check_chunk(job: tuple[int, int, int, float, int]) -> tuple[int, int, int, int]:
    """(clean, noisy, jpeg, n) correct parses for scenes [start, start + n) at one size."""
    size, start, n, sigma, quality = job
    clean = noisy = compressed = 0
    for index in range(start, start + n):
        scene = random_scene(random.Random(index))  # scene i is the same at every size
        image = render(scene, size)
        clean += parse(image) == scene
        noisy += parse(with_noise(image, np.random.default_rng([size, index]), sigma)) == scene
        compressed += parse(with_jpeg(image, quality)) == scene
    return clean, noisy, compressed, n


def main(args: Args) -> None:
    lines = [
        "# MICE-World parser check", "",
        (f"{args.scenes} random scenes (0-9 objects, every attribute uniform) per canvas size; scene i is drawn "
         f"from `random.Random(i)`. Noise: Gaussian, sigma {args.sigma} on a 0-1 scale, per channel, clipped. "
         f"JPEG: Pillow, quality {args.jpeg_quality}, default 4:2:0 chroma subsampling."), "",
        "Command: `python scripts/world_parse_check.py`", "",
        "| S | clean | noise sigma 0.08 | JPEG q60 | required (noise, JPEG) | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    chunk = 250
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        for size in args.sizes:
            start = time.perf_counter()
            jobs = [(size, i, min(chunk, args.scenes - i), args.sigma, args.jpeg_quality) for i in range(0, args.scenes, chunk)]
            totals = np.sum(list(pool.map(check_chunk, jobs)), axis=0)
            clean, noisy, compressed, n = (int(v) for v in totals)
            seconds = time.perf_counter() - start
            row = (f"| {size} | {clean / n:.2%} ({clean}/{n}) | {noisy / n:.2%} ({noisy}/{n}) | "
                   f"{compressed / n:.2%} ({compressed}/{n}) | >= {REQUIRED.get(size, 0.99):.0%} | {seconds:.0f} |")
            print(row, flush=True)
            lines.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"-> {args.out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # the first paragraph
    parser.add_argument("--scenes", type=int, default=Args.scenes)
    parser.add_argument("--out", type=Path, default=Args.out)
    options = parser.parse_args()
    main(Args(scenes=options.scenes, out=options.out))
