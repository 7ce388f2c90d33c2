"""Build the small world LM (``rl/world_lm.py``) and train it on the rule reasoner's traces of short sessions.

    python scripts/train_world_lm.py                       # rl/adapters/world-lm-sft (about 20 min, 2 threads)
    python scripts/rl_eval.py --text-policy llm --text-model rl/adapters/world-lm-sft --out DIR
    python scripts/train_world_lm.py --init rl/adapters/world-lm-sft --data-seed 11 --sessions 4000 \
        --steps 500 --learning-rate 2e-4 --out DIR --work-dir DIR2   # more supervision of a trained world LM
    python scripts/train_world_lm.py --init rl/adapters/world-lm-sft-22k-t5 --deepen ...  # the same, twice as deep
    python scripts/train_world_lm.py --init rl/adapters/world-lm-sft-28k-deep8 --numbered-objects ...  # objects numbered

The tokenizer is learned from the training prompts and answers themselves (a rerun that resumes
from a checkpoint in ``--work-dir`` reuses the checkpoint's tokenizer); then TRL's
``SFTTrainer`` trains every weight with a completion-only loss (``rl.sft.train_full``). The
sessions are generated with a seed of their own, and any session that also occurs in world-dev,
world-test or world-long is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from edit_agent.reasoners import iccot
from rl.sft import SFTArgs, completion_text, rule_traces, train_full, training_sessions
from rl.world_lm import BEGIN, END, WorldLMShape, deepen_world_lm, new_world_lm, train_tokenizer


def corpus(args: SFTArgs) -> list[str]:
    """The texts the tokenizer learns from: each training turn as the chat template lays it out."""
    numbered = args.numbered_objects
    return [f"{BEGIN}user\n{iccot.user_prompt(request, numbered_objects=numbered)}{END}\n{BEGIN}assistant\n{iccot.PREFILL}"
            f"{completion_text(thought, request if numbered else None)}{END}"
            for request, thought in rule_traces(training_sessions(args))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("rl/adapters/world-lm-sft"))
    parser.add_argument("--work-dir", type=Path, default=Path("out/world-lm-sft"))
    parser.add_argument("--sessions", type=int, default=8000)
    parser.add_argument("--min-turns", type=int, default=1)
    parser.add_argument("--max-turns", type=int, default=3, help="short sessions: longer ones are left to RL")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--shape", type=json.loads, default={}, help='WorldLMShape overrides, e.g. {"layers": 3}')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-seed", type=int, default=SFTArgs.data_seed,
                        help="generator seed of the training sessions (another seed: sessions not trained on before)")
    parser.add_argument("--init", type=Path, default=None,
                        help="continue training a world LM folder (its tokenizer and weights)")
    parser.add_argument("--deepen", action="store_true",
                        help="with --init: train a copy with twice the layers that starts from the same answers")
    parser.add_argument("--numbered-objects", action=argparse.BooleanOptionalAction, default=None,
                        help="number the current image's objects in prompts and traces (default: as --init was trained; "
                             "else off)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.deepen and args.init is None:
        parser.error("--deepen needs --init (the trained world LM to deepen)")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    sft = SFTArgs(out=args.out, work_dir=args.work_dir, sessions=args.sessions, min_turns=args.min_turns,
                  max_turns=args.max_turns, seed=args.seed, data_seed=args.data_seed, max_steps=args.steps,
                  batch_size=args.batch_size,
                  learning_rate=args.learning_rate, warmup_steps=max(1, args.steps // 20),
                  save_steps=max(50, args.steps // 10), logging_steps=25, model=None,
                  numbered_objects=bool(args.numbered_objects))
    started = time.perf_counter()
    # Imported here, after edit_agent: transformers.trainer_utils imports bitsandbytes, which would otherwise
    # ask the Hugging Face Hub for a CPU kernel before edit_agent.offline_imports can switch that off.
    from transformers.trainer_utils import get_last_checkpoint

    checkpoint = get_last_checkpoint(str(args.work_dir)) if args.work_dir.is_dir() else None
    if args.init is not None:  # resuming from work_dir still works: the Trainer loads the checkpoint's weights
        tokenizer = AutoTokenizer.from_pretrained(args.init, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(args.init, local_files_only=True)
        if args.numbered_objects is None:  # keep the prompt layout the weights were trained on
            sft = replace(sft, numbered_objects=iccot.reads_numbered_objects(model))
        if args.deepen:
            model = deepen_world_lm(model)
        config = model.config
        shape = WorldLMShape(hidden_size=config.hidden_size, layers=config.num_hidden_layers,
                             heads=config.num_attention_heads, intermediate_size=config.intermediate_size,
                             max_positions=config.max_position_embeddings)
    else:
        if checkpoint is not None:  # the token ids the checkpoint's weights were trained on
            tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
        else:
            tokenizer = train_tokenizer(corpus(sft), vocab_size=args.vocab_size)
        shape = replace(WorldLMShape(), **args.shape)
        model = new_world_lm(tokenizer, shape, seed=args.seed)
    print(f"world LM: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
          f"vocabulary {len(tokenizer)}, {shape}, numbered objects: {sft.numbered_objects}")
    train_full(model, tokenizer, sft)
    record = {"seconds": round(time.perf_counter() - started), "threads": args.threads, "shape": asdict(shape),
              **{key: str(value) for key, value in vars(args).items() if key != "shape"},
              "numbered_objects": sft.numbered_objects}
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
