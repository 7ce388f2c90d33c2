"""Ship an RL run's text policy as the offline world reasoner (``world-lm``; ``auto`` uses it on world canvases).

    python scripts/ship_world_policy.py --run rl/runs/world-lm-joint-s0

Folds the run's LoRA (``final/text``) into its base model (the run's ``text_model``) and writes the
result to ``edit_agent/weights/world_policy/`` (a plain transformers folder: no peft at inference),
together with ``rl/adapters/world-lm-rl/`` (the adapter itself, to continue training from) and a
``policy.json`` naming the run it came from. A run with ``text_finetune: full`` saved a plain folder
already: it is copied as it is (and trains on from ``text_model: edit_agent/weights/world_policy``).
``--step N`` ships the run's ``checkpoints/step-N`` instead of ``final/`` (e.g. the step chosen on world-dev).
Only the text half ships: the editor stays the shipped world editor, so evaluate the shipped pair
again (``rl_eval.py --text-model edit_agent/weights/world_policy``); a joint run's own ``eval/`` used
its RL-trained editor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from edit_agent.reasoners.world_lm import WORLD_POLICY
from rl.config import TrainConfig
from rl.world_lm import merge_adapter

ROOT = Path(__file__).resolve().parent.parent


def in_repo(path: str | Path) -> Path:
    """A relative path as the run's config meant it: from the repository root."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else ROOT / path


def checkpoint_text(run: Path, step: int, folder: Path) -> Path:
    """The text policy of ``run``'s ``checkpoints/step-N``, saved as ``final/text`` holds the run's last one."""
    from rl.trainer import Trainer, checkpoint_folder

    checkpoint = checkpoint_folder(run, step)
    if not (checkpoint / "state.json").is_file():
        raise SystemExit(f"{run} has no checkpoint at step {step}")
    config = TrainConfig.from_yaml(run / "config.yaml")
    if config.text_model is None:
        raise SystemExit(f"{run} has no world-LM text policy (text_model None)")
    config = config.model_copy(update={"out": folder, "resume": False, "progress": False,
                                       "text_model": str(in_repo(config.text_model))})
    trainer = Trainer(config, sessions=())
    trainer.load_checkpoint(checkpoint)
    trainer.save_policy(folder)
    return folder / "text"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an edit-agent train run folder")
    parser.add_argument("--out", type=Path, default=WORLD_POLICY)
    parser.add_argument("--adapter-out", type=Path, default=Path("rl/adapters/world-lm-rl"))
    parser.add_argument("--step", type=int, default=None, help="ship checkpoints/step-N instead of final/")
    args = parser.parse_args()
    _check_replaceable(args.out, "policy.json", "--out")
    _check_replaceable(args.adapter_out, "adapter_config.json", "--adapter-out")
    config = TrainConfig.from_yaml(args.run / "config.yaml")
    with tempfile.TemporaryDirectory() as exported:
        trained = args.run / "final" / "text" if args.step is None else checkpoint_text(args.run, args.step, Path(exported))
        ship(args, config, trained)


def _check_replaceable(folder: Path, marker: str, flag: str) -> None:
    """Shipping replaces ``folder``: refuse one that holds anything but an earlier shipped policy (``marker``)."""
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / marker).is_file())):
        raise SystemExit(f"{flag} {folder} holds files that are no shipped policy (no {marker}), and shipping "
                         "replaces it; choose a new or empty folder.")


def ship(args: argparse.Namespace, config: TrainConfig, trained: Path) -> None:
    """Write ``trained`` (a run's text policy folder) to ``args.out`` as a plain transformers folder."""
    is_adapter = (trained / "adapter_config.json").is_file()
    if config.text_model is None or not (is_adapter or (trained / "config.json").is_file()):
        raise SystemExit(f"{args.run} has no world-LM text policy (text_model {config.text_model}, {trained})")
    # build beside the destination first, so a failed merge leaves the shipped policy as it was
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out.parent) as scratch:
        if is_adapter:
            policy = merge_adapter(in_repo(config.text_model), trained, Path(scratch) / "policy")
        else:
            policy = Path(shutil.copytree(trained, Path(scratch) / "policy"))
        if args.out.exists():
            shutil.rmtree(args.out)
        policy.rename(args.out)
    if is_adapter:
        shutil.copytree(trained, args.adapter_out, dirs_exist_ok=True)
    steps = {json.loads(line)["step"] for line in (args.run / "log.jsonl").read_text().splitlines() if line.strip()}
    summary = args.run / "eval" / "summary.json" if args.step is None else None  # the run's eval scored final/
    record = {"run": str(args.run), "base": str(config.text_model), "steps": args.step if args.step is not None else max(steps, default=0), "seed": config.seed,
              "run_eval_with_its_own_editor": json.loads(summary.read_text())["mean"] if summary and summary.is_file() else None}
    (args.out / "policy.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
