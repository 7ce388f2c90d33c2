"""One process of the two-process RL check in ``test_rl_distributed.py`` (run by ``torchrun``, not by pytest).

Each process builds the same trainer as ``rl.cli`` would: a tiny random chat LM whose every weight trains and a
tiny world editor, so both halves of ``JointPolicy`` go through DDP. It then measures what data parallelism must
guarantee and writes them, from the main process, to ``OUT/report.json``:

- the gradient DDP gives each process is the mean of the gradients of the processes' own batches;
- the processes' batches differ (each rolls out its own sessions), so that mean is not trivially one of them;
- after training, every process holds the same weights, and the log counts the rollouts of all processes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from rl.image_policy import FlowImagePolicy
from rl.text_policy import LLMTextPolicy
from rl.trainer import Trainer, make_batch
from tests import model_fixtures
from tests.test_rl_trainer import SESSIONS, PixelReward, small_config, tiny_editor


def build(folder: Path) -> Trainer:
    # A clip norm no gradient reaches, so the gradients compared are the loss's own.
    config = small_config(folder, steps=2, text_lr=1e-2, max_grad_norm=1e9, micro_batch=2)
    model, tokenizer = model_fixtures.tiny_chat_lm()
    text = LLMTextPolicy(model, tokenizer=tokenizer, max_new_tokens=6, finetune="full")
    image = FlowImagePolicy(tiny_editor(), steps=config.sde_steps, window=config.sde_window)
    return Trainer(config, text_policy=text, image_policy=image, reward=PixelReward(), sessions=SESSIONS)


def gradients(run: Trainer) -> list[torch.Tensor]:
    return [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in run.trainable_parameters()]


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def gradient_check(run: Trainer) -> dict[str, float]:
    """The synchronised gradient of one update against the mean of the per-process gradients of the same batch."""
    batch = make_batch(run.rollouts(), run.config)
    parameters = run.trainable_parameters()
    start = [p.detach().clone() for p in parameters]
    with run.accelerator.no_sync(run.policy):  # this process's batch alone
        run.update(batch)
    local = flat(gradients(run))
    with torch.no_grad():  # the same weights for the synchronised update
        for parameter, value in zip(parameters, start):
            parameter.copy_(value)
    run.update(batch)
    synced = flat(gradients(run))
    mean = local.clone()
    dist.all_reduce(mean)
    mean /= dist.get_world_size()
    spread = local.clone()
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    lowest = local.clone()
    dist.all_reduce(lowest, op=dist.ReduceOp.MIN)
    with torch.no_grad():
        for parameter, value in zip(parameters, start):
            parameter.copy_(value)
    return {
        "synced_minus_mean": float((synced - mean).abs().max()),
        "largest_gradient": float(mean.abs().max()),
        "local_gradients_differ_by": float((spread - lowest).abs().max()),
        "text_gradient_norm": float(flat(gradients(run)[-len(list(run.text_policy.trainable_parameters())):]).norm()),
    }


def weights_agree(run: Trainer) -> float:
    """The largest difference between any process's trained weights and the main process's."""
    mine = flat([p.detach() for p in run.trainable_parameters()])
    main = mine.clone()
    dist.broadcast(main, src=0)
    difference = (mine - main).abs().max().reshape(1)
    dist.all_reduce(difference, op=dist.ReduceOp.MAX)
    return float(difference)


def main(out: Path) -> None:
    # Its own trainer: the check's unsynchronised update leaves each process's optimizer moments different.
    check = build(out / "check")
    report = {"processes": check.accelerator.num_processes, **gradient_check(check)}
    run = build(out / "train")
    before = flat([p.detach() for p in run.trainable_parameters()]).clone()
    run.train()
    report["weights_moved_by"] = float((flat([p.detach() for p in run.trainable_parameters()]) - before).abs().max())
    report["weights_differ_across_processes_by"] = weights_agree(run)
    if run.accelerator.is_main_process:
        (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    dist.barrier()  # both processes are done with the process group


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    # Both done: leave without tearing down the process group and the DDP objects, whose teardown on gloo sometimes
    # never returned (about 1 run in 6 on a 2-core CPU, after the report was written). That is torch's exit, not what
    # this worker checks.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
