"""Training triples streamed from the MICE-World generator and interpreter, and their augmentation.

A triple is (scene before turn t, the self-contained intent of turn t, target scene of turn t); the
intent is the interpreter's, which is what the rule reasoner hands the editor.

>>> from edit_agent.world.scene import BACKGROUNDS
>>> stream = world_triples(seed=3)
>>> triple = next(stream)
>>> isinstance(triple.intent, str) and triple.before.background in BACKGROUNDS
True
>>> batch = make_batch([next(stream) for _ in range(4)], random.Random(0), canvas=48)
>>> batch.image.shape, batch.target.shape, len(batch.intents)
(torch.Size([4, 3, 48, 48]), torch.Size([4, 3, 48, 48]), 4)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from edit_agent.flow.canvas import PALETTE, to_model_canvas, to_tensor
from edit_agent.world.generator import GeneratorConfig, generate_sessions
from edit_agent.world.interpreter import interpret
from edit_agent.world.render import render
from edit_agent.world.scene import Scene

RENDER_SIZES: tuple[tuple[int, float], ...] = ((48, 0.5), (96, 0.5))
"""Sizes the input is rendered at before resampling to the model canvas, with their chances (96 is
docs/world.md's reference size; its nearest-neighbour resample to 48 differs from a 48 render at edges)."""


@dataclass(frozen=True)
class Triple:
    before: Scene
    intent: str
    target: Scene


@dataclass(frozen=True)
class Batch:
    image: torch.Tensor
    """(B, 3, S, S) input images in [-1, 1] (augmented)."""
    target: torch.Tensor
    """(B, 3, S, S) clean target renders in [-1, 1]."""
    intents: list[str]


def world_triples(seed: int, *, turns: tuple[int, int] = (1, 10), keep_noop: float = 0.15,
                  config: GeneratorConfig | None = None) -> Iterator[Triple]:
    """Endless seeded stream of triples; turns that change nothing are kept with chance ``keep_noop``."""
    rng = random.Random(seed)
    while True:
        session_seed = rng.getrandbits(48)
        try:
            [session] = generate_sessions(1, turns=turns, seed=session_seed, config=config)
            outcomes = interpret(session.start, [turn.instruction for turn in session.turns])
        except Exception:  # a generator bug on one seed must not stop a long run
            continue
        for outcome in outcomes:
            if outcome.changed or rng.random() < keep_noop:
                yield Triple(outcome.before, outcome.intent, outcome.target)


def jitter(pixels: np.ndarray, rng: np.random.Generator, *, edge_rate: float, speckles: int) -> np.ndarray:
    """Imitate an imperfect earlier output: pixels copied from a random neighbour, plus small palette blobs.

    >>> clean = np.zeros((48, 48, 3), dtype=np.uint8); clean[10:20, 10:20] = 255
    >>> noisy = jitter(clean, np.random.default_rng(0), edge_rate=0.2, speckles=0)
    >>> 0 < int((noisy != clean).any(-1).sum()) < 40
    True
    """
    out = pixels.copy()
    side = pixels.shape[0]
    pick = rng.random(pixels.shape[:2]) < edge_rate
    dy, dx = rng.integers(-1, 2, size=(2, *pixels.shape[:2]))
    ys, xs = np.nonzero(pick)
    out[ys, xs] = pixels[np.clip(ys + dy[ys, xs], 0, side - 1), np.clip(xs + dx[ys, xs], 0, side - 1)]
    for _ in range(speckles):
        y, x = rng.integers(0, side - 1, size=2)
        out[y:y + 2, x:x + 2] = PALETTE[rng.integers(len(PALETTE))]
    return out


def make_batch(triples: list[Triple], rng: random.Random, *, canvas: int, noisy: float = 0.3,
               pixel_noise: float = 12.0) -> Batch:
    """Render, resample and augment a batch.

    Input and target are rendered at the same random size and resampled to ``canvas`` the same way the
    editor does, so an untouched cell is an exact copy. With chance ``noisy`` the input (not the target)
    gets edge jitter, speckles and RGB noise (std up to ``pixel_noise``) before palette snapping: the model
    learns to clean up slightly wrong inputs, such as its own earlier outputs in a long session.
    """
    sizes, weights = zip(*RENDER_SIZES)
    nprng = np.random.default_rng(rng.getrandbits(32))
    images, targets = [], []
    for triple in triples:
        size = rng.choices(sizes, weights)[0]
        before = np.asarray(render(triple.before, size))
        if rng.random() < noisy:
            before = jitter(before, nprng, edge_rate=rng.uniform(0.0, 0.04), speckles=rng.randint(0, 2))
            noise = nprng.normal(0.0, rng.uniform(0.0, pixel_noise), before.shape)
            before = np.clip(before + noise, 0, 255).astype(np.uint8)
        from PIL import Image  # local: keeps the module import light for doctest collection

        images.append(to_model_canvas(Image.fromarray(before), canvas))
        targets.append(to_model_canvas(render(triple.target, size), canvas))
    return Batch(to_tensor(np.stack(images)), to_tensor(np.stack(targets)), [t.intent for t in triples])
