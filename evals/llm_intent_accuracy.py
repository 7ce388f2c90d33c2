"""Intent accuracy of reasoners on MICE-World: does the intent alone, interpreted on T_{t-1}, give T_t?

Each reasoner sees every turn as the SDK shows it (the raw history of instructions and the
image of the previous target, so earlier mistakes do not compound) and writes an intent. The
intent is then interpreted *alone* on the previous target with the exact world interpreter
(``apply_program``); the turn counts as correct when that gives the target scene T_t. An intent
that is not MICE-World language leaves the scene unchanged (as the program editor would), so it
is only correct on turns that change nothing; such intents are counted separately.

Run (the rule reasoner is exact, so it is the upper bound; SmolLM2 is the offline ``llm`` default)::

    python evals/llm_intent_accuracy.py --sessions 40 --reasoners rules llm
    python evals/llm_intent_accuracy.py --sessions 100 --reasoners world-lm --model rl/adapters/world-lm-sft \
        --max-new-tokens 192 --out DIR/sft.json      # another world LM folder than the shipped one

The summary breaks accuracy down by task type and by turn, so errors that grow with the history
(what multi-turn RL is meant to fix) show apart from errors of a kind of edit at any turn.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edit_agent.backends import make_reasoner
from edit_agent.errors import EditAgentError
from edit_agent.records import HistoryTurn, TurnRequest
from edit_agent.world.interpreter import WorldInterpreter, apply_program
from edit_agent.world.render import render
from edit_agent.world.sessions import WorldSession, read_world_sessions

SPLITS = Path(__file__).resolve().parent / "splits"


@dataclass
class Args:
    split: str = "world-test"
    """A file under evals/splits (without .jsonl) or a path to a session file."""
    sessions: int = 40
    """How many sessions, from the start of the file (0: all)."""
    reasoners: list[str] = field(default_factory=lambda: ["rules", "llm"])
    max_new_tokens: int = 96
    """Budget of the llm reasoner's answer (trace and instruction)."""
    model: str | None = None
    """For the model reasoners (llm, vlm, world-lm): a model id or folder instead of their default."""
    size: int = 96
    out: Path = Path("evals/reports/llm_intent_accuracy.json")


def turn_results(session: WorldSession, reasoner, size: int) -> list[dict]:
    world = WorldInterpreter(session.start)
    previous = session.start
    history: list[HistoryTurn] = []
    source = render(session.start, size)
    rows = []
    for index, turn in enumerate(session.turns, 1):
        outcome = world.step(turn.instruction)
        target = turn.target or outcome.target
        request = TurnRequest(instruction=turn.instruction, history=tuple(history),
                              image=render(previous, size), source_image=source)
        try:
            thought = reasoner.reconstruct(request)
            intent, fallback = thought.intent.text, thought.fallback
        except EditAgentError as error:
            intent, fallback = f"(reasoner failed: {error})", True
        try:
            predicted, understood = apply_program(previous, intent), True
        except EditAgentError:
            predicted, understood = previous, False
        rows.append({
            "session": session.id, "turn": index, "task_type": turn.task_type or outcome.task_type,
            "instruction": turn.instruction, "intent": intent, "fallback": fallback,
            "understood": understood, "correct": predicted.slots() == target.slots(),
        })
        history.append(HistoryTurn(turn_id=f"{session.id}:{index}", instruction=turn.instruction,
                                   reasoning="", intent=intent))
        previous = target
    return rows


def summarize(rows: list[dict]) -> dict:
    by_type: dict[str, list[bool]] = defaultdict(list)
    by_turn: dict[int, list[bool]] = defaultdict(list)
    for row in rows:
        by_type[row["task_type"]].append(row["correct"])
        by_turn[row["turn"]].append(row["correct"])
    count = len(rows) or 1
    return {
        "turns": len(rows),
        "intent_accuracy": sum(row["correct"] for row in rows) / count,
        "fallback_rate": sum(row["fallback"] for row in rows) / count,
        "not_world_language_rate": sum(not row["understood"] for row in rows) / count,
        "by_task_type": {name: round(sum(v) / len(v), 4) for name, v in sorted(by_type.items())},
        "by_turn": {turn: round(sum(v) / len(v), 4) for turn, v in sorted(by_turn.items())},
        "task_types": dict(Counter(row["task_type"] for row in rows)),
    }


def _shown(model: str | None) -> str | None:
    """A model folder under the working directory as a relative path (reports do not name this machine)."""
    if model is None or not Path(model).is_absolute():
        return model
    try:
        return str(Path(model).relative_to(Path.cwd()))
    except ValueError:
        return model


def main(args: Args) -> dict:
    path = Path(args.split) if args.split.endswith(".jsonl") else SPLITS / f"{args.split}.jsonl"
    sessions = read_world_sessions(path)
    sessions = sessions[: args.sessions] if args.sessions else sessions
    results = {"split": _shown(str(path)), "sessions": len(sessions), "reasoners": {}}
    for name in args.reasoners:
        model_reasoner = name in ("llm", "vlm", "world-lm")
        options = {"max_new_tokens": args.max_new_tokens} if model_reasoner else {}
        if model_reasoner and args.model:
            options["model"] = args.model
        started = time.perf_counter()
        reasoner = make_reasoner(name, **options)
        loaded = time.perf_counter()
        rows = []
        for number, session in enumerate(sessions, 1):
            rows += turn_results(session, reasoner, args.size)
            if name != "rules":  # slow reasoners: show progress
                correct = sum(row["correct"] for row in rows)
                print(f"  {name}: {number}/{len(sessions)} sessions, {correct}/{len(rows)} correct", flush=True)
        summary = summarize(rows)
        summary.update(model=_shown(getattr(reasoner, "model_name", None)), load_seconds=round(loaded - started, 1),
                       seconds_per_turn=round((time.perf_counter() - loaded) / max(1, len(rows)), 3),
                       examples=rows[:5])
        results["reasoners"][name] = summary
        print(f"{name}: intent accuracy {summary['intent_accuracy']:.3f} over {summary['turns']} turns "
              f"(fallback {summary['fallback_rate']:.2f}, not world language {summary['not_world_language_rate']:.2f}, "
              f"{summary['seconds_per_turn']} s/turn)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in asdict(args).items()}, **results}, indent=2))
    return results


def parse_args() -> Args:
    defaults = Args()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default=defaults.split)
    parser.add_argument("--sessions", type=int, default=defaults.sessions)
    parser.add_argument("--reasoners", nargs="+", default=defaults.reasoners)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--size", type=int, default=defaults.size)
    parser.add_argument("--out", type=Path, default=defaults.out)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
