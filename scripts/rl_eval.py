"""Evaluate a policy (text policy + world editor weights) on world-test like the trainer's final evaluation.

    python scripts/rl_eval.py --editor rl/runs/world-image/final/image/world_editor.safetensors --text-policy rules \
        --out rl/runs/world-image/eval-check

Greedy text (temperature 0), ODE images with ``--steps`` steps, 5-turn world-test sessions scored by
``evals.scoring``; prints the mean and per-turn IF/CC/GA/SR and writes them under ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from edit_agent.cli import at_least_one
from edit_agent.editors.world import DEFAULT_WEIGHTS
from edit_agent.errors import EditAgentError
from edit_agent.flow.model import FlowEditorModel
from edit_agent.folders import out_folder_problem
from edit_agent.reasoners.world_lm import WORLD_LM_MAX_NEW_TOKENS
from edit_agent.world.render import check_size
from rl.config import TrainConfig
from rl.image_policy import FlowImagePolicy
from rl.trainer import build_text_policy, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editor", type=Path, default=DEFAULT_WEIGHTS, help="world editor .safetensors")
    parser.add_argument("--text-policy", default="rules", choices=["llm", "rules", "raw"])
    parser.add_argument("--text-model", default=None, help="base model of the llm text policy (default SmolLM2)")
    parser.add_argument("--text-adapter", default=None, help="LoRA adapter folder of the llm text policy")
    parser.add_argument("--max-new-tokens", type=int, default=WORLD_LM_MAX_NEW_TOKENS,
                        help="text budget of the llm text policy (default: the world-lm reasoner's, as in world-lm.yaml)")
    parser.add_argument("--steps", type=at_least_one, default=4, help="ODE steps of the editor")
    parser.add_argument("--sessions", type=at_least_one, default=500, help="the first N of world-test (500: all of it)")
    parser.add_argument("--turns", type=at_least_one, default=5)
    parser.add_argument("--size", type=int, default=96,
                        help="canvas side in px (the run's image_size, to evaluate as its trainer did)")
    parser.add_argument("--threads", type=at_least_one, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    # Everything that would fail after the evaluation fails before it: a folder that cannot take its files.
    problem = out_folder_problem(args.out)
    if problem:
        parser.error(f"--out {args.out}: {problem}")
    torch.set_num_threads(args.threads)
    try:
        check_size(args.size)
        config = TrainConfig(mode="image", text_policy=args.text_policy, text_model=args.text_model,
                             text_adapter=args.text_adapter, text_max_new_tokens=args.max_new_tokens)
        text = build_text_policy(config, device="cuda" if torch.cuda.is_available() else "cpu")
        image = FlowImagePolicy(FlowEditorModel.load(args.editor), steps=args.steps, window=(0, 1))
    except EditAgentError as error:  # a model missing offline, a bad size: one line
        parser.exit(2, f"rl_eval.py: error: {error}\n")
    if torch.cuda.is_available():
        image = image.to("cuda")
    summary = evaluate(text, image, n=args.sessions, turns=args.turns, size=args.size, out=args.out)
    print(json.dumps({"editor": str(args.editor), "text_policy": args.text_policy, **summary}))



if __name__ == "__main__":
    main()
