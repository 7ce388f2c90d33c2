"""Train the world editor (edit_agent.flow) by supervised flow matching on streamed MICE-World triples.

    python scripts/train_world_editor.py --out edit_agent/weights/world_editor.safetensors

Seeded and resumable: a checkpoint (model, optimizer, step) is written every ``checkpoint_every`` steps
next to ``out``; ``--resume`` continues from it (the data stream restarts from ``seed + step``).
The loss is the x0-prediction form of flow matching (equal to the velocity loss weighted by t^2),
with pixels that the edit changes weighted up.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from edit_agent.flow.canvas import snap_to_palette, to_pixels
from edit_agent.flow.data import make_batch, world_triples
from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
from edit_agent.world.parse import parse_array


@dataclass
class Args:
    out: str = "edit_agent/weights/world_editor.safetensors"
    """Where the final weights go (config beside them as .json, checkpoint as .ckpt.pt)."""
    steps: int = 3000
    """Optimizer steps."""
    batch: int = 64
    lr: float = 1e-3
    warmup: int = 100
    """Linear warm-up steps, then cosine decay to lr/20."""
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 2
    change_weight: float = 9.0
    """Extra loss weight on pixels where the target differs from the input."""
    gate_weight: float = 1.0
    """Weight of the change gate's binary cross-entropy (target: pixels where target differs from input)."""
    delta_weight: float = 1.0
    """Weight of the ungated correction's loss on changed pixels (times ``change_weight``)."""
    t_one: float = 0.3
    """Share of samples at t = 1 (pure noise: what the first sampling step sees); the rest uniform in (0, 1)."""
    noisy: float = 0.3
    """Share of inputs augmented with jitter/speckles/noise (the target stays clean)."""
    keep_noop: float = 0.15
    """Share of no-change turns kept in the stream."""
    checkpoint_every: int = 250
    eval_every: int = 250
    max_minutes: float = 0.0
    """Stop (saving weights) after this much wall time; 0: no limit."""
    stop_at: int = 0
    """Stop (saving weights) after this step, keeping the schedule of ``steps``; 0: run to ``steps``."""
    resume: bool = False
    tiny: bool = False
    """Use the tiny test configuration."""
    model: str = ""
    """JSON object of FlowEditorConfig fields that differ from the defaults, e.g. '{"layers": 6}'."""
    device: str = "cpu"
    """Where to train ("cpu", "cuda")."""
    workers: int = 0
    """Processes that generate and render batches (0: in the training process). The stream of batches
    depends on this number, so keep it to reproduce a run."""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(Args):
        if f.type == "bool":
            parser.add_argument(f"--{f.name.replace('_', '-')}", action="store_true")
        else:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return Args(**vars(parser.parse_args()))


def flow_loss(model: FlowEditorModel, image: torch.Tensor, target: torch.Tensor, intents: list[str],
              generator: torch.Generator, *, t_one: float, change_weight: float, gate_weight: float = 1.0,
              delta_weight: float = 1.0) -> torch.Tensor:
    """Weighted x0-prediction flow-matching loss of one batch, plus the change-gate's cross-entropy."""
    batch, device = image.shape[0], image.device
    t = torch.rand(batch, generator=generator, device=device)
    t = torch.where(torch.rand(batch, generator=generator, device=device) < t_one, torch.ones_like(t), t)
    noise = torch.randn(target.shape, generator=generator, device=device)
    x_t = (1 - t.view(-1, 1, 1, 1)) * target + t.view(-1, 1, 1, 1) * noise
    ids, mask = (tensor.to(device) for tensor in model.tokenizer(intents))
    x0, gate, delta = model.predict(x_t, t, image, ids, mask)
    changed = (target != image).any(dim=1, keepdim=True).float()
    weight = 1.0 + change_weight * changed
    # the gate learns where the edit acts; it is what keeps untouched pixels exact
    gate_loss = torch.nn.functional.binary_cross_entropy_with_logits(gate, changed)
    # the ungated correction learns what the edit paints there, without waiting for the gate to open
    delta_loss = (changed * (image + delta - target) ** 2).mean()
    return (weight * (x0 - target) ** 2).mean() + gate_weight * gate_loss + delta_weight * change_weight * delta_loss


@torch.no_grad()
def exact_rate(model: FlowEditorModel, image: torch.Tensor, target: torch.Tensor, intents: list[str]) -> float:
    """Share of a batch whose one-step edit parses to exactly the target scene."""
    model.eval()
    device = image.device
    ids, mask = (tensor.to(device) for tensor in model.tokenizer(intents))
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(0)).to(device)
    x0 = model.predict_x0(noise, torch.ones(target.shape[0], device=device), image, ids, mask)
    model.train()
    out, want = to_pixels(x0), to_pixels(target)
    return float(np.mean([parse_array(snap_to_palette(o)) == parse_array(w) for o, w in zip(out, want)]))


class BatchStream(torch.utils.data.IterableDataset):
    """Endless rendered batches; with several workers each streams its own seeded share of the world."""

    def __init__(self, seed: int, args: Args, canvas: int) -> None:
        self.seed, self.args, self.canvas = seed, args, canvas

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        seed = self.seed if info is None else self.seed * 1000 + info.id
        stream = world_triples(seed, keep_noop=self.args.keep_noop)
        rng = random.Random(seed)
        while True:
            batch = make_batch([next(stream) for _ in range(self.args.batch)], rng, canvas=self.canvas,
                               noisy=self.args.noisy)
            yield batch.image, batch.target, batch.intents


def batches(seed: int, args: Args, canvas: int):
    """Iterator of (image, target, intents) batches, generated in ``args.workers`` processes."""
    stream = BatchStream(seed, args, canvas)
    if args.workers == 0:
        return iter(stream)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=args.workers, prefetch_factor=4,
                                         persistent_workers=True, pin_memory=args.device != "cpu")
    return iter(loader)


def lr_at(step: int, args: Args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    checkpoint = out.with_suffix(".ckpt.pt")
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    overrides = json.loads(args.model) if args.model else {}
    config = FlowEditorConfig.tiny().model_copy(update=overrides) if args.tiny else FlowEditorConfig(**overrides)
    model = FlowEditorModel(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    step = 0
    if args.resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params / 1e6:.2f}M; starting at step {step}", flush=True)

    stream = batches(args.seed + step, args, model.config.canvas)
    generator = torch.Generator(device=device).manual_seed(args.seed + step)
    held_stream = world_triples(10_000 + args.seed, keep_noop=0.0)
    held_out = make_batch([next(held_stream) for _ in range(256)], random.Random(1), canvas=model.config.canvas,
                          noisy=0.0)
    held_image, held_target = held_out.image.to(device), held_out.target.to(device)

    model.train()
    start = time.time()
    progress = tqdm(total=args.steps, initial=step, desc="train", dynamic_ncols=True, mininterval=5)
    average = None
    while step < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args)
        image, target, intents = next(stream)
        image, target = image.to(device, non_blocking=True), target.to(device, non_blocking=True)
        loss = flow_loss(model, image, target, intents, generator, t_one=args.t_one,
                         change_weight=args.change_weight, gate_weight=args.gate_weight,
                         delta_weight=args.delta_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        average = loss.item() if average is None else 0.98 * average + 0.02 * loss.item()
        progress.update(1)
        progress.set_postfix(loss=f"{average:.4f}", lr=f"{lr_at(step, args):.1e}")
        if step % args.eval_every == 0 or step == args.steps:
            rate = exact_rate(model, held_image, held_target, held_out.intents)
            print(f"step {step} loss {average:.4f} held-out exact {rate:.3f} "
                  f"minutes {(time.time() - start) / 60:.1f}", flush=True)
        out_of_time = (args.max_minutes and time.time() - start > args.max_minutes * 60) or step == args.stop_at
        if step % args.checkpoint_every == 0 or step == args.steps or out_of_time:
            out.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                        "args": dataclasses.asdict(args)}, checkpoint)
            model.save(out)
        if out_of_time:
            print(f"stopped early (--max-minutes or --stop-at) at step {step}", flush=True)
            break
    progress.close()
    model.save(out)
    print(f"saved {out} after {step} steps in {(time.time() - start) / 60:.1f} minutes", flush=True)


if __name__ == "__main__":
    main(parse_args())
