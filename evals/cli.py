"""Subcommands ``eval`` and ``world`` of the ``edit-agent`` command line.

    edit-agent eval --split world-test --reasoner rules --editor program --out runs/rules-program
    edit-agent eval --compare runs/a runs/b --out runs/comparison
    edit-agent world generate --n 10 --turns 5 --seed 1 > sessions.jsonl
    edit-agent world interpret sessions.jsonl
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from edit_agent.cli import named_path
from edit_agent.folders import out_folder_problem, partial_file_beside
from evals.errors import EvalInputError

if TYPE_CHECKING:
    from edit_agent.world.sessions import WorldSession

MAX_EVAL_SIZE = 3072
"""Largest canvas side ``eval --size`` accepts (the standard runs use 96)."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval`` and ``world`` (``world interpret``, ``world generate``) to the CLI."""
    _add_eval(subparsers)
    _add_world(subparsers)


def _folder(text: str) -> Path:
    """An --out folder; an empty name would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the folder name is empty")
    return Path(text)


def _add_sessions_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sessions", nargs="?", type=named_path, help="session file (JSON Lines, docs/world.md format)")
    parser.add_argument("--split", default=None, help="a standard split instead of a file: world-dev, world-test, world-long")


def _add_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="score a reasoner+editor pair on MICE-World sessions (IF/CC/GA/SR)")
    _add_sessions_argument(parser)
    parser.add_argument("--reasoner", default="rules", help="reasoner name (default: rules)")
    parser.add_argument("--editor", default="program", help="editor name (default: program)")
    parser.add_argument("--reasoner-model", default=None,
                        help="model id or local folder of the --reasoner, which must take one: llm, vlm, world-lm "
                             "(e.g. --reasoner world-lm --reasoner-model RUN/final/text)")
    parser.add_argument("--model", default=None,
                        help="model id or local folder of the --editor (e.g. --editor world --model "
                             "RUN/final/image/world_editor.safetensors)")
    parser.add_argument("--out", required=True, type=_folder, help="folder for turns.jsonl, summary.json, report.md, plots")
    parser.add_argument("--size", type=int, default=96, help="canvas side in pixels (divisible by 3, >= 48; default 96)")
    parser.add_argument("--seed", type=int, default=0, help="editor seed base (turn t uses seed + t; default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (default: all cores for CPU backends, 1 when a model backend is named)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N sessions")
    parser.add_argument("--compare", nargs="+", type=named_path, metavar="RUN_DIR",
                        help="instead of running: compare these run folders in one report and one plot")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_eval_command,
                        run_option_defaults={dest: parser.get_default(dest) for dest in _RUN_OPTIONS})


_RUN_OPTIONS = ("sessions", "split", "reasoner", "editor", "reasoner_model", "model", "size", "seed", "workers", "limit")
"""What ``eval`` uses to run sessions; ``--compare`` only reads finished runs."""


def _add_world(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("world", help="MICE-World tools: interpret or generate session files")
    world = parser.add_subparsers(dest="world_command", required=True)
    interpret = world.add_parser("interpret", help="write the sessions to stdout with every turn's target filled")
    _add_sessions_argument(interpret)
    interpret.set_defaults(func=run_interpret_command)
    generate = world.add_parser("generate", help="write a seeded session file to stdout (or --out)")
    generate.add_argument("--n", type=int, required=True, help="number of sessions")
    generate.add_argument("--turns", type=int, default=5,
                          help="turns per session (1-10, default 5; the maximum with --min-turns)")
    generate.add_argument("--min-turns", type=int, default=None, help="draw each session's length from [min, --turns]")
    generate.add_argument("--seed", type=_seed_of_sessions, default=0,
                          help="the same seed writes the same sessions (0 or more; default 0)")
    generate.add_argument("--prefix", default="world", help="session id prefix")
    generate.add_argument("--out", type=named_path, default=None, help="file to write (default: stdout)")
    generate.add_argument("--mix", default=None, metavar="EDIT=WEIGHT,...",
                          help="relative weights of the plain edits, e.g. add=1,recolor=2,move=0 (others keep theirs)")
    from edit_agent.world.generator import GeneratorConfig

    for name, help_text in _RATE_OPTIONS.items():  # None: the generator's own default, which the help shows
        generate.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, dest=name,
                              help=f"{help_text} (default {GeneratorConfig.model_fields[name].default})")
    generate.set_defaults(func=run_generate_command)


_RATE_OPTIONS = {
    "undo_rate": "chance that a turn is an undo",
    "restore_rate": "chance that a turn restores an original attribute",
    "rule_rate": "chance that a turn sets or lifts a rule",
    "lock_share": "share of rules that are locks/unlocks",
    "pronoun_rate": "chance of 'it' when it picks the object meant",
    "history_rate": "chance of a history reference when one works",
    "group_rate": "chance that a recolor/resize/remove takes a group",
    "noop_rate": "chance of a deliberately impossible turn",
}


def resolve_sessions(path: Path | None, split: str | None) -> tuple[Path | TextIO, str]:
    """The session file to read and the name to report it under (``--split`` stands for a file, ``-`` for
    standard input)."""
    if (path is None) == (split is None):
        raise EvalInputError("Give a session file or --split NAME (exactly one).")
    if split is not None:
        from evals.splits import verify_split

        return verify_split(split), split
    assert path is not None
    if str(path) == "-":  # the usual name for standard input
        return sys.stdin, "stdin"
    if not path.is_file():
        raise EvalInputError(f"No session file at {path}.")
    return path, path.name


def run_eval_command(args: argparse.Namespace) -> int:
    from evals.reports import compare_runs

    problem = out_folder_problem(args.out)
    if problem:
        raise EvalInputError(f"--out {args.out}: {problem}.")
    if (args.out / "checkpoints").is_dir() or (args.out / "log.jsonl").is_file():
        raise EvalInputError(f"--out {args.out} holds a training run (its own evaluation is in {args.out / 'eval'}); "
                             "write to another folder.")
    from evals.reports import run_files_problem

    problem = run_files_problem(args.out)
    if problem:
        raise EvalInputError(f"--out: {problem}.")
    if args.compare:
        _check_nothing_to_run(args)
        report = compare_runs(args.compare, args.out)
        print(f"comparison of {len(args.compare)} runs -> {report}")
        return 0
    from edit_agent.backends import check_backend_name
    from edit_agent.world.render import check_size
    from edit_agent.world.sessions import read_world_sessions
    from evals.reports import write_run
    from evals.runner import run_sessions, timed

    check_size(args.size)
    if args.size > MAX_EVAL_SIZE:  # every turn renders canvases of this side; 60000 px would need gigabytes each
        raise EvalInputError(f"--size may be at most {MAX_EVAL_SIZE}; got {args.size}.")
    check_backend_name(args.reasoner, "reasoner")
    check_backend_name(args.editor, "editor")
    if args.workers is not None and args.workers < 1:
        raise EvalInputError(f"--workers must be at least 1; got {args.workers}.")
    if args.limit is not None and args.limit < 1:
        raise EvalInputError(f"--limit must be at least 1; got {args.limit}.")
    path, name = resolve_sessions(args.sessions, args.split)
    every_session = read_world_sessions(path)
    sessions = every_session[: args.limit]
    if not sessions:
        raise EvalInputError(f"{path} holds no sessions.")
    _check_seeds(args.seed, sessions)
    reasoner, editor = _backends(args)
    workers = 1 if args.model or args.reasoner_model else args.workers or default_workers(args.reasoner, args.editor)
    if args.workers is not None and workers != args.workers:  # said, not silently dropped
        print(f"--workers {args.workers}: a backend with a model runs in one process, so 1 worker runs the sessions.",
              file=sys.stderr)
    rows, seconds = timed(lambda: run_sessions(
        sessions, reasoner=reasoner, editor=editor, size=args.size, seed=args.seed,
        workers=workers, progress=not args.no_progress))
    meta = {"reasoner": _named(args.reasoner, args.reasoner_model), "editor": _named(args.editor, args.model),
            "sessions": f"{name} (first {len(sessions)})" if len(sessions) < len(every_session) else name,
            "size": args.size,
            "seed": args.seed, "workers": workers, "wall_seconds": round(seconds, 2)}
    summary = write_run(args.out, rows, meta)
    failed = [row["error"] for session in rows for row in session if row["error"]]
    if failed:  # scored as turns that kept the image: a broken backend must not pass for a weak one
        print(f"{len(failed)} of {sum(map(len, rows))} turns failed and kept the image; the first: {failed[0]}",
              file=sys.stderr)
    mean = summary["mean"]
    print(f"{name}: {summary['n_sessions']} session{'' if summary['n_sessions'] == 1 else 's'} in {seconds:.1f} s  IF {mean['IF']:.3f}  CC {mean['CC']:.3f}  "
          f"GA {mean['GA']:.3f}  SR {mean['SR']:.3f} (at the last turn {summary['last_turn_SR']:.3f})  -> {args.out}")
    return 0


def _check_nothing_to_run(args: argparse.Namespace) -> None:
    """``--compare`` reads finished runs: an option for running sessions beside it would be silently ignored."""
    given = [f"--{dest.replace('_', '-')}" if dest != "sessions" else "a session file"
             for dest, default in args.run_option_defaults.items() if getattr(args, dest) != default]
    if given:
        raise EvalInputError(f"--compare compares finished runs and takes only their folders and --out; "
                             f"{', '.join(given)} would be ignored. Run each evaluation first, then compare.")


def _check_seeds(seed: int, sessions: list[WorldSession]) -> None:
    """Turn t of a session is edited with seed + t: every one must be a seed the editors take, known before a model
    loads."""
    from edit_agent.records import SEED_RANGE, seeds_fit

    last = seed + max(len(session.turns) for session in sessions)
    if not seeds_fit(seed + 1, last):
        raise EvalInputError(f"--seed {seed}: turns 1 to {last - seed} take the seeds {seed + 1} to {last}, which must "
                             f"fit in 64 bits; use one from {SEED_RANGE[0] - 1} to {SEED_RANGE[1] - (last - seed)}.")


def _backends(args: argparse.Namespace) -> tuple[object, object]:
    """The reasoner and editor: names, or backends built now from the model each is given (a trained run's), which
    a missing model fails at once, before any session runs."""
    from edit_agent.backends import make_editor, make_reasoner

    reasoner = make_reasoner(args.reasoner, model=args.reasoner_model) if args.reasoner_model else args.reasoner
    editor = make_editor(args.editor, model=args.model) if args.model else args.editor
    return reasoner, editor


def _named(backend: str, model: str | None) -> str:
    return f"{backend} ({model})" if model else backend


CPU_BACKENDS = frozenset({"rules", "passthrough", "program", "identity", "exact", "scripted", "recording"})
"""Backends light enough to run one copy per core; any other (a model) runs in one process. Not ``auto``:
on MICE-World sessions it is the world LM and the world editor, which every worker would load."""


def default_workers(reasoner: str, editor: str) -> int:
    if reasoner in CPU_BACKENDS and editor in CPU_BACKENDS:
        return os.cpu_count() or 1
    return 1


def run_interpret_command(args: argparse.Namespace) -> int:
    from edit_agent.world.sessions import complete, read_world_sessions

    path, _ = resolve_sessions(args.sessions, args.split)
    # Every session completed before the first is written: a bad one later in the file left the lines before it
    # in the output, which read as a whole file.
    completed = [complete(session) for session in read_world_sessions(path)]
    for session in completed:
        sys.stdout.write(session.to_json() + "\n")
    return 0


def _parse_mix(text: str, weights: dict[str, float]) -> dict[str, float]:
    mix = dict(weights)
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in mix:
            raise EvalInputError(f"--mix: unknown edit {name!r}; choose from {', '.join(mix)}.")
        try:
            mix[name] = float(value)
        except ValueError:
            raise EvalInputError(f"--mix: {item!r} needs a number after '='.") from None
        if not math.isfinite(mix[name]) or mix[name] < 0:
            raise EvalInputError(f"--mix: the weight of {name} must be a finite number >= 0.")
    if not any(mix.values()):
        raise EvalInputError("--mix: at least one edit needs a weight above 0.")
    return mix


def _seed_of_sessions(text: str) -> int:
    seed = int(text)
    if seed < 0:  # Python's random reads -N as N: the same sessions under another name
        raise argparse.ArgumentTypeError(f"must be 0 or more (-N gives the sessions of N); got {seed}")
    return seed


_seed_of_sessions.__name__ = "seed"  # argparse names the type in its message: "invalid seed value: 'x'"


def run_generate_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from edit_agent.world.generator import GeneratorConfig, iter_sessions

    if args.n < 0 or not 1 <= args.turns <= 10 or (args.min_turns is not None and not 1 <= args.min_turns <= args.turns):
        raise EvalInputError("--n must be >= 0 and turns between 1 and 10 (--min-turns <= --turns).")
    rates = {name: getattr(args, name) for name in _RATE_OPTIONS if getattr(args, name) is not None}
    if args.mix:
        rates["edit_weights"] = _parse_mix(args.mix, GeneratorConfig().edit_weights)
    try:
        config = GeneratorConfig(**rates)
    except ValidationError as error:
        raise EvalInputError(f"Bad rate: {error.errors()[0]['loc'][0]} {error.errors()[0]['msg']}.") from None
    turns = (args.min_turns, args.turns) if args.min_turns is not None else args.turns
    sessions = iter_sessions(args.n, turns=turns, seed=args.seed, config=config, prefix=args.prefix)
    if args.out is None or str(args.out) == "-":
        _write_lines(sessions, sys.stdout)
        return 0
    if args.out.is_dir():
        raise EvalInputError(f"--out {args.out} is a folder; name the session file to write, e.g. {args.out / 'sessions.jsonl'}.")
    problem = out_folder_problem(args.out.parent)
    if problem is not None:
        raise EvalInputError(f"--out {args.out}: {problem}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)  # as an export's folder is made
    # Written aside, then renamed: a failure or an interrupt leaves neither a half file under --out nor the aside one.
    partial = partial_file_beside(args.out)
    try:
        with partial.open("w", encoding="utf-8") as stream:
            _write_lines(sessions, stream)
        partial.replace(args.out)
    finally:
        partial.unlink(missing_ok=True)
    return 0


def _write_lines(sessions: Iterable[WorldSession], stream: TextIO) -> None:
    """One JSON line per session as it is made: the output starts at once and memory stays flat."""
    for session in sessions:
        stream.write(session.to_json() + "\n")
