"""Rollouts per second of a training config: time ``collect_groups`` alone, then one full training step.

    python scripts/rl_throughput.py --config rl/configs/world.yaml --text-policy rules --mode image --batches 3
    python scripts/rl_throughput.py --config rl/configs/world.yaml --batches 3 --out $OUT/throughput.json
    python scripts/rl_throughput.py --config rl/configs/world-lm.yaml --set text_generation_batch=512

A rollout is one session played for ``turns`` turns (text sample, image sample and reward per turn);
the first batch is a warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from rl.cli import parse_overrides
from rl.config import TrainConfig
from rl.trainer import Trainer


@dataclass
class Throughput:
    device: str
    mode: str
    text_policy: str
    text_generation_batch: int
    image_finetune: str
    rollouts_per_batch: int
    turns: int
    rollouts_per_second: float
    turn_samples_per_second: float
    seconds_by_part: dict[str, float]
    """Per batch: text sampling, image sampling, reward."""
    train_step_seconds: float
    """One full step (rollouts and ``updates_per_batch`` updates)."""


def measure(config: TrainConfig, batches: int) -> Throughput:
    trainer = Trainer(config)
    trainer.rollouts()  # warm-up: first calls allocate and compile kernels
    parts = {"text": 0.0, "image": 0.0, "reward": 0.0}
    started = time.perf_counter()
    rollouts = 0
    for _ in range(batches):
        groups = trainer.rollouts()
        trainer.step += 1  # new sessions and noise each batch
        rollouts += sum(len(g.rollouts) for g in groups)
        for name in parts:
            parts[name] += groups[0].seconds[name]
    seconds = time.perf_counter() - started
    step = trainer.train_step()
    device = torch.cuda.get_device_name() if trainer.accelerator.device.type == "cuda" else platform.processor() or "cpu"
    return Throughput(
        device=f"{device} ({trainer.accelerator.device}, {torch.get_num_threads()} threads)", mode=config.mode,
        text_policy=config.text_policy, text_generation_batch=config.text_generation_batch,
        image_finetune=config.image_finetune,
        rollouts_per_batch=config.sessions_per_step * config.group_size, turns=config.turns,
        rollouts_per_second=round(rollouts / seconds, 4), turn_samples_per_second=round(rollouts * config.turns / seconds, 3),
        seconds_by_part={k: round(v / batches, 3) for k, v in parts.items()}, train_step_seconds=step["seconds"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("rl/configs/world.yaml"))
    parser.add_argument("--mode", default=None)
    parser.add_argument("--text-policy", default=None)
    parser.add_argument("--image-finetune", default=None)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--run-dir", type=Path, default=Path("rl/runs/throughput"))
    parser.add_argument("--out", type=Path, default=None, help="append the result as one JSON line here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any other config field")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    config = TrainConfig.from_yaml(args.config, overrides, mode=args.mode, text_policy=args.text_policy,
                                   image_finetune=args.image_finetune, threads=args.threads, cpu=args.cpu or None,
                                   out=args.run_dir, resume=False, progress=False, eval_sessions=0)
    result = json.dumps(asdict(measure(config, args.batches)))
    print(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a", encoding="utf-8") as stream:
            stream.write(result + "\n")


if __name__ == "__main__":
    main()
