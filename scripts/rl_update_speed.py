"""Seconds of one RL update with every text recomputed, against only the texts that carry a gradient.

    python scripts/rl_update_speed.py --config CONFIG --threads 2 --set mode=text --out F.json

One batch is rolled out, then the same update (from the same weights, the optimiser step left out)
runs both ways, twice each, alternating; the gradients of the two ways are compared. A text whose
group tied or whose turn is filtered has a zero loss and a zero gradient, so skipping its forward
and backward passes must leave the gradient as it was (``rl.trainer.text_gradient_rows``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from unittest import mock

import torch

from rl import trainer as trainer_module
from rl.cli import parse_overrides
from rl.config import TrainConfig
from rl.trainer import Trainer, make_batch


def every_row(batch: trainer_module.Batch) -> list[int]:
    return list(range(len(batch.texts)))


def timed_update(trainer: Trainer, batch: trainer_module.Batch, rows) -> tuple[float, list[torch.Tensor]]:
    """Seconds of one update's forward and backward passes, and the gradient it leaves."""
    with mock.patch.object(trainer_module, "text_gradient_rows", rows), mock.patch.object(trainer.optimizer, "step"):
        started = time.perf_counter()
        trainer.update(batch)
        seconds = time.perf_counter() - started
    return seconds, [p.grad.detach().clone() for p in trainer.trainable_parameters()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any other config field")
    args = parser.parse_args()
    config = TrainConfig.from_yaml(args.config, {**parse_overrides(args.set), "threads": args.threads,
                                                 "out": "rl/runs/update-speed", "progress": False})
    trainer = Trainer(config)
    batch = trainer_module.gradient_carrying(make_batch(trainer.rollouts(), config))
    seconds: dict[str, list[float]] = {"all texts": [], "gradient texts": []}
    gradients = {}
    for _ in range(args.repeats):
        for name, rows in (("all texts", every_row), ("gradient texts", trainer_module.text_gradient_rows)):
            elapsed, gradients[name] = timed_update(trainer, batch, rows)
            seconds[name].append(round(elapsed, 3))
    difference = max(float((a - b).abs().max()) for a, b in zip(gradients["all texts"], gradients["gradient texts"]))
    scale = max(float(a.abs().max()) for a in gradients["all texts"])
    rows = trainer_module.text_gradient_rows(batch)
    result = {
        "config": str(args.config), "mode": config.mode, "turn_samples": len(batch.texts),
        "texts_with_gradient": len(rows), "seconds": seconds,
        "speedup": round(min(seconds["all texts"]) / min(seconds["gradient texts"]), 2),
        "max_gradient_difference": difference, "max_gradient": scale, "threads": torch.get_num_threads(),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
