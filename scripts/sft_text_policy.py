"""Warm-start the LLM text policy (SmolLM2-135M-Instruct + LoRA) on the rule reasoner's traces, and measure it.

Stages (run in this order to reproduce ``rl/adapters/world-sft`` and ``evals/reports/rl_sft.md``)::

    python scripts/sft_text_policy.py train                      # TRL SFTTrainer on CPU, resumable
    python scripts/sft_text_policy.py export --checkpoint out/sft-text-policy/checkpoint-80
                                                                 # (only when a run is stopped early)
    python scripts/sft_text_policy.py evaluate --adapter none    # untrained SmolLM2
    python scripts/sft_text_policy.py evaluate                   # with rl/adapters/world-sft
    python scripts/sft_text_policy.py speed                      # sampling turns/s (T=0.7, batch 8)

Intent accuracy is ``evals/llm_intent_accuracy.py``'s (the intent alone, interpreted on the previous
target, gives the target), plus the exact-match rate against the rule reasoner's intent, over the
first ``--turns`` turns of world-dev.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from edit_agent.reasoners.llm import LLMReasoner
from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.world.sessions import read_world_sessions
from evals.llm_intent_accuracy import summarize, turn_results
from evals.splits import split_path
from rl.sft import SFTArgs, rule_traces, train_sft
from rl.text_policy import LLMTextPolicy


@dataclass
class EvalArgs:
    adapter: str = "rl/adapters/world-sft"
    """LoRA folder, or "none" for the base model alone."""
    model: str = ""
    """Base model folder (e.g. the world LM, ``scripts/train_world_lm.py``); empty: SmolLM2-135M-Instruct."""
    split: str = "world-dev"
    turns: int = 48
    """Held-out turns scored (whole sessions from the start of the split until this many turns)."""
    max_new_tokens: int = 160
    """The ``llm`` reasoner's default budget."""
    out: Path = Path("out/sft-text-policy/eval")


@dataclass
class ExportArgs:
    checkpoint: str = "out/sft-text-policy/checkpoint-80"
    """A trainer checkpoint folder (it holds the adapter as it was at that step)."""
    out: Path = Path("rl/adapters/world-sft")


@dataclass
class SpeedArgs:
    adapter: str = "rl/adapters/world-sft"
    batch_size: int = 8
    batches: int = 2
    temperature: float = 0.7
    max_new_tokens: int = 160


def held_out_sessions(split: str, turns: int):
    chosen, count = [], 0
    for session in read_world_sessions(split_path(split)):
        if count >= turns:
            break
        chosen.append(session)
        count += len(session.turns)
    return chosen


def evaluate(args: EvalArgs) -> dict:
    lora = None if args.adapter == "none" else args.adapter
    started = time.perf_counter()
    reasoner = LLMReasoner(args.model or None, max_new_tokens=args.max_new_tokens, lora=lora)
    loaded = time.perf_counter()
    rows, teacher_rows = [], []
    for session in held_out_sessions(args.split, args.turns):
        rows += turn_results(session, reasoner, 96)
        teacher_rows += turn_results(session, RuleReasoner(), 96)
        correct = sum(row["correct"] for row in rows)
        print(f"  {len(rows)} turns, {correct} correct", flush=True)
    summary = summarize(rows)
    summary["exact_match_rule_intent"] = sum(
        row["intent"] == teacher["intent"] for row, teacher in zip(rows, teacher_rows)) / max(1, len(rows))
    summary.update(adapter=args.adapter, load_seconds=round(loaded - started, 1),
                   seconds_per_turn=round((time.perf_counter() - loaded) / max(1, len(rows)), 2),
                   examples=[{**row, "rule_intent": teacher["intent"]} for row, teacher in zip(rows[:8], teacher_rows)])
    args.out.mkdir(parents=True, exist_ok=True)
    name = Path(args.adapter).name if lora is not None else Path(args.model).name if args.model else "untrained"
    (args.out / f"{name}.json").write_text(json.dumps({"args": {k: str(v) for k, v in asdict(args).items()}, **summary}, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "examples"}, indent=2))
    return summary


def export(args: ExportArgs) -> None:
    """Ship the adapter of a checkpoint (a run stopped before ``max_steps`` never reaches its final save)."""
    LLMTextPolicy.load(args.checkpoint).save(args.out)
    print(f"adapter of {args.checkpoint} written to {args.out}")


def speed(args: SpeedArgs) -> dict:
    lora = None if args.adapter == "none" else args.adapter
    policy = LLMTextPolicy.load(lora, max_new_tokens=args.max_new_tokens) if lora else LLMTextPolicy(max_new_tokens=args.max_new_tokens)
    sessions = held_out_sessions("world-dev", args.batch_size * args.batches)
    requests = [request for request, _ in rule_traces(sessions)][: args.batch_size * args.batches]
    started = time.perf_counter()
    tokens = 0
    for first in range(0, len(requests), args.batch_size):
        samples = policy.sample(requests[first:first + args.batch_size], temperature=args.temperature, seed=first)
        tokens += sum(sample.completion_ids.numel() for sample in samples)
    seconds = time.perf_counter() - started
    result = {"turns": len(requests), "seconds": round(seconds, 1), "turns_per_second": round(len(requests) / seconds, 3),
              "completion_tokens_per_second": round(tokens / seconds, 1), **asdict(args)}
    print(json.dumps(result, indent=2))
    return result


def parse(stage_args: list[str], kind):
    parser = argparse.ArgumentParser()
    for item in fields(kind):
        default = item.default
        if isinstance(default, bool):
            parser.add_argument(f"--{item.name.replace('_', '-')}", type=lambda v: v.lower() in ("1", "true", "yes"), default=default)
        elif isinstance(default, tuple):
            parser.add_argument(f"--{item.name.replace('_', '-')}", nargs="*", default=default)
        else:
            kind_of = type(default) if default is not None else str
            parser.add_argument(f"--{item.name.replace('_', '-')}", type=kind_of, default=default)
    return kind(**vars(parser.parse_args(stage_args)))


def main() -> None:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    stages = {"train": (SFTArgs, train_sft), "evaluate": (EvalArgs, evaluate), "speed": (SpeedArgs, speed),
              "export": (ExportArgs, export)}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=stages)
    known, rest = parser.parse_known_args()
    kind, run = stages[known.stage]
    run(parse(rest, kind))


if __name__ == "__main__":
    main()
