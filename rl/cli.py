"""Subcommand ``train`` of the ``edit-agent`` command line, and ``python -m rl.cli`` for ``accelerate launch``.

    edit-agent train --config rl/configs/world.yaml
    edit-agent train --config rl/configs/smoke.yaml --out /tmp/smoke --steps 2
    edit-agent train --config rl/configs/world.yaml --set mode=image --set text_policy=rules --set time_budget_s=1200
    accelerate launch --config_file rl/accelerate/ddp.yaml -m rl.cli --config rl/configs/world.yaml
"""

from __future__ import annotations

import argparse
import difflib
import signal
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from edit_agent.cli import OneLineParser, Terminated, named_path, raise_terminated
from edit_agent.errors import EditAgentError, one_line


class TrainConfigError(EditAgentError, ValueError):
    """The training configuration cannot be read or is not valid."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` to the CLI."""
    parser = subparsers.add_parser(
        "train", help="joint text+image RL (Flow-GRPO + GRPO) on MICE-World sessions",
        epilog="several processes (GPUs, or CPU processes over gloo): accelerate launch --config_file "
               "rl/accelerate/ddp.yaml -m rl.cli --config FILE [the same options]")
    _add_arguments(parser)
    parser.set_defaults(func=run_train_command)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=named_path, help="YAML file of rl.config.TrainConfig fields")
    parser.add_argument("--out", type=str, default=None, help="run folder (overrides the config's out)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (overrides the config's steps)")
    parser.add_argument("--seed", type=int, default=None, help="seed (overrides the config's seed)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any config field (VALUE read as YAML), e.g. --set time_budget_s=600")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """``--set FIELD=VALUE`` items as config overrides, each VALUE read as YAML.

    >>> parse_overrides(["sessions_per_step=128", "filtering=false"])
    {'sessions_per_step': 128, 'filtering': False}
    """
    import yaml

    overrides = {}
    for item in items:
        field, separator, value = item.partition("=")
        if not separator or not field.strip():
            raise TrainConfigError(f"--set needs FIELD=VALUE; got {item!r}.")
        try:
            overrides[field.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise TrainConfigError(f"--set {item!r}: the value is not YAML ({_yaml_problem(error)}).") from None
    return overrides


def load_config(args: argparse.Namespace):
    import yaml
    from pydantic import ValidationError

    from rl.config import TrainConfig

    if not args.config.is_file():
        raise TrainConfigError(f"No config file at {args.config}.")
    overrides = parse_overrides(args.set)
    try:
        config = TrainConfig.from_yaml(args.config, overrides, out=args.out, steps=args.steps,
                                       seed=args.seed, progress=False if args.no_progress else None)
    except ValidationError as error:
        given = " (with the command-line overrides)" if overrides or args.steps is not None or args.seed is not None else ""
        raise TrainConfigError(f"{args.config}{given}: {_config_problem(error, TrainConfig.model_fields)}.") from None
    except yaml.YAMLError as error:
        raise TrainConfigError(f"{args.config}: {_yaml_problem(error)}.") from None
    except ValueError as error:  # also a file that is not UTF-8
        raise TrainConfigError(f"{args.config}: {one_line(error)}.") from None
    if config.out.exists() and not config.out.is_dir():
        raise TrainConfigError(f"The run folder {config.out} is a file; give a folder with --out.")
    return config


def _config_problem(error: Exception, settings: Iterable[str]) -> str:
    """pydantic's words for a misspelt setting ("stpes: Extra inputs are not permitted") name no remedy: this names
    the setting that was likely meant."""
    unknown = [str(item["loc"][0]) for item in error.errors() if item["type"] == "extra_forbidden" and item["loc"]]
    if not unknown:
        return one_line(error)
    names = sorted(settings)
    meant = difflib.get_close_matches(unknown[0], names, n=1, cutoff=0.6)
    remedy = f"the nearest is {meant[0]}" if meant else f"the settings are: {', '.join(names)}"
    more = f" (and {len(unknown) - 1} more unknown)" if len(unknown) > 1 else ""
    return f"{unknown[0]} is not a setting{more}; {remedy}"


def _yaml_problem(error: Exception) -> str:
    """What PyYAML found and where ("line 2, column 1: found character '\\t' that cannot start any token"): its
    first line alone ("while scanning for the next token") says neither."""
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is None or not problem:
        return one_line(error)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def run_train_command(args: argparse.Namespace) -> int:
    config = load_config(args)  # before the trainer's imports: a bad config is refused at once
    from rl.trainer import Trainer, check_run_folder

    check_run_folder(config)  # before the models are built
    trainer = Trainer(config)
    try:
        final = trainer.train()
    except KeyboardInterrupt:
        print(_resume_hint(config.out, config.resume), file=sys.stderr)
        raise
    if trainer.accelerator.is_main_process:  # once, not once per process
        steps = f"{trainer.step} step{'s' if trainer.step != 1 else ''}"
        print(f"rl: {steps}; log {config.out / 'log.jsonl'}, plot {config.out / 'log.png'}, policy {final}")
    return 0


def _resume_hint(out: Path, resume: bool) -> str:
    """What an interrupted run leaves: the step it goes on from when the same command runs again."""
    from rl.trainer import _checkpoint_step, latest_checkpoint

    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        again = "the same command" if resume else "the same command with --set resume=true"
        return f"rl: stopped before the first checkpoint; {again} starts {out} afresh."
    step = _checkpoint_step(checkpoint)
    if not resume:
        return f"rl: stopped at the checkpoint of step {step} ({checkpoint}); go on from it with --set resume=true."
    return f"rl: stopped; the same command goes on from the checkpoint of step {step} ({checkpoint})."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m rl.cli`` (what ``accelerate launch -m`` runs)."""
    parser = OneLineParser(prog="rl.cli", description="edit-agent train")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    if argv is None:  # launchers and schedulers stop with SIGTERM: the resume hint, as after Ctrl-C
        signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return run_train_command(args)
    except (EditAgentError, OSError) as error:
        print(f"rl: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("rl: stopped (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("rl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
