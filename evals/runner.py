"""Run a reasoner+editor pair over MICE-World sessions and score every turn.

Each session runs as the SDK would run it: the reasoner sees the raw history and the current
image, the editor edits a copy of the previous output, an undo the reasoner names gives back the
image from before the turn it reverts, and a turn whose reasoner or editor fails leaves the image
as it was (and stays out of the history the reasoner sees next, as a refused turn does). The
output is parsed and scored against the targets (from the file when given, else from the
interpreter). Sessions are spread over worker processes; a progress bar shows on long runs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image
from tqdm import tqdm

from edit_agent.backends import make_editor, make_reasoner
from edit_agent.errors import EditAgentError
from edit_agent.protocols import Editor, Reasoner
from edit_agent.records import HistoryTurn, Intent, Thought, TurnRequest
from edit_agent.session import translated_failures
from edit_agent.world.parse import parse
from edit_agent.world.render import render
from edit_agent.world.sessions import UNREAD_TASK_TYPE, WorldSession, turn_outcomes
from evals.scoring import psnr, score_session

TurnRow = dict[str, Any]


def run_sessions(
    sessions: Sequence[WorldSession],
    *,
    reasoner: str | Reasoner = "rules",
    editor: str | Editor = "program",
    size: int = 96,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> list[list[TurnRow]]:
    """Per session, the rows of its turns (see :func:`run_session`), in the order given.

    ``workers``: processes (default: all cores). Backend objects (not names) run in this process.
    """
    check_scorable(sessions)
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(sessions), desc="sessions", unit="session", disable=not progress or len(sessions) < 20)
    try:
        if workers == 1 or not isinstance(reasoner, str) or not isinstance(editor, str) or len(sessions) < 2 * workers:
            pair = _Pair(make_reasoner(reasoner), make_editor(editor))
            return [_tick(bar, run_session(s, pair.reasoner, pair.editor, size=size, seed=seed)) for s in sessions]
        return _run_in_workers(sessions, reasoner, editor, size=size, seed=seed, workers=workers, bar=bar)
    finally:
        bar.close()


def _run_in_workers(sessions: Sequence[WorldSession], reasoner: str, editor: str, *, size: int, seed: int,
                    workers: int, bar: tqdm) -> list[list[TurnRow]]:
    """The sessions run in ``workers`` processes, a chunk at a time.

    Stopped (Ctrl-C, SIGTERM), the run ends once each worker has finished the session it is in. A worker stopped by
    a signal, or killed, while it held the pool's queue lock or was half way through sending a result left the
    others, and the program's exit, waiting for ever: so the workers ignore both signals, leave their chunk once
    ``stop`` is set, and the pool is shut down with a second Ctrl-C ignored meanwhile."""
    stop = multiprocessing.get_context().Event()
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(reasoner, editor, stop))
    try:
        chunk = max(1, min(16, len(sessions) // (workers * 8)))
        parts = [pool.submit(_run_in_worker, sessions[start:start + chunk], size, seed)
                 for start in range(0, len(sessions), chunk)]
        return [_tick(bar, rows) for part in parts for rows in part.result()]
    finally:
        stop.set()
        with _stop_signals_held():
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM ignored meanwhile (where this thread may set handlers: the main thread)."""
    held = (signal.SIGINT, signal.SIGTERM)
    try:
        before = [signal.signal(number, signal.SIG_IGN) for number in held]
    except ValueError:  # not the main thread: its handlers are not this thread's to change
        yield
        return
    try:
        yield
    finally:
        for number, handler in zip(held, before, strict=True):
            signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: one set outside Python


def _tick(bar: tqdm, rows: list[TurnRow]) -> list[TurnRow]:
    bar.update(1)
    return rows


class _Pair:
    def __init__(self, reasoner: Reasoner, editor: Editor) -> None:
        self.reasoner = reasoner
        self.editor = editor


_worker_pair: _Pair | None = None
_stop: Any = None
"""Set by the parent when the run is stopped (a multiprocessing Event)."""


def _init_worker(reasoner: str, editor: str, stop: Any) -> None:
    global _worker_pair, _stop
    # Ctrl-C reaches the whole process group, and SIGTERM's handler is the parent's: the parent stops the run.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _stop = stop
    _worker_pair = _Pair(make_reasoner(reasoner), make_editor(editor))


def _run_in_worker(sessions: Sequence[WorldSession], size: int, seed: int) -> list[list[TurnRow]]:
    assert _worker_pair is not None and _stop is not None
    rows = []
    for session in sessions:
        if _stop.is_set():  # the run was stopped: what is left of the chunk is not wanted
            break
        rows.append(run_session(session, _worker_pair.reasoner, _worker_pair.editor, size=size, seed=seed))
    return rows


def run_session(session: WorldSession, reasoner: Reasoner, editor: Editor, *, size: int = 96, seed: int = 0) -> list[TurnRow]:
    """Run and score one session; one row per turn (what ``turns.jsonl`` holds)."""
    source = render(session.start, size)
    image = source
    history: list[HistoryTurn] = []
    inputs: dict[str, Image.Image] = {}  # each turn's input by its id: what an undo of that turn gives back
    targets, parsed, locked, rows = [session.start], [], [], []
    for index, (turn, outcome) in enumerate(zip(session.turns, turn_outcomes(session)), 1):
        # a turn the interpreter cannot read is scored on the file's target, with the locks in force before it
        if outcome is None:
            outcome = _GivenTurn(locked_cells=locked[-1] if locked else ())
        target = turn.target or outcome.target  # a file's targets are the ground truth
        request = TurnRequest(instruction=turn.instruction, history=tuple(history), image=image, source_image=source)
        thought, error = _reason(reasoner, request)
        if error is None:
            output, error = _edit(editor, image, thought, inputs, seed + index)
        if error is None:  # a turn that failed is not one the session holds: no history, nothing to undo to
            turn_id = f"{session.id}:{index}"
            inputs[turn_id], image = image, output
            history.append(HistoryTurn(turn_id=turn_id, instruction=turn.instruction, reasoning=thought.reasoning,
                                       intent=thought.intent.text))
        scene = parse(image)
        targets.append(target)
        parsed.append(scene)
        locked.append(outcome.locked_cells)
        rows.append({
            "session": session.id, "turn": index, "instruction": turn.instruction,
            "task_type": turn.task_type or outcome.task_type, "reasoning": thought.reasoning,
            "intent": thought.intent.text, "constraints": [c.text for c in thought.intent.constraints],
            "target": target.to_dict(), "parsed": scene.to_dict(), "psnr": _finite(psnr(image, target)),
            "error": error,
        })
    for row, score in zip(rows, score_session(targets, parsed, locked)):
        row.update(IF=score.IF, CC=score.CC, GA=score.GA, SR=score.SR)
    return rows


def check_scorable(sessions: Sequence[WorldSession]) -> None:
    """Raise now, before any backend runs, for a turn that could not be scored (one the interpreter cannot read,
    with no target in the file): found in the middle of a run, it lost the sessions run before it."""
    for session in sessions:
        list(turn_outcomes(session))  # raises at such a turn


@dataclass(frozen=True)
class _GivenTurn:
    """What scoring needs of a turn the interpreter cannot read but the file gives the target of."""

    target: None = None
    task_type: str = UNREAD_TASK_TYPE
    locked_cells: tuple[str, ...] = ()


def _reason(reasoner: Reasoner, request: TurnRequest) -> tuple[Thought, str | None]:
    """The reasoner's thought, or the error that refuses the turn (the SDK stores nothing for it)."""
    name = _name(reasoner, "reasoner")
    try:
        with translated_failures(name):
            thought = reasoner.reconstruct(request)
        if not isinstance(thought, Thought):
            raise EditAgentError(f"The reasoner {name!r} returned {type(thought).__name__}, not a Thought.")
        return thought, None
    except EditAgentError as error:
        kept = f"Reasoner failed, so the image stays as it was: {error}"
        return Thought(reasoning=kept, intent=Intent(text=request.instruction)), str(error)


def _edit(editor: Editor, image: Image.Image, thought: Thought, inputs: dict[str, Image.Image],
          seed: int) -> tuple[Image.Image, str | None]:
    """The turn's output: the stored input of the turn an undo reverts, or the editor's edit of a copy (an editor
    may draw on its input, which the rule reasoner reads the earlier scenes from); a failure keeps the image."""
    if thought.restores_turn in inputs:
        return inputs[thought.restores_turn], None
    name = _name(editor, "editor")
    try:
        with translated_failures(name):
            output = editor.edit(image.copy(), thought.intent, seed=seed)
        if not isinstance(output, Image.Image):
            raise EditAgentError(f"The editor {name!r} returned {type(output).__name__}, not an image.")
        return output.convert("RGB"), None
    except EditAgentError as error:
        return image, str(error)


def _name(backend: object, kind: str) -> str:
    name = getattr(backend, "name", None)
    return name if isinstance(name, str) else f"{type(backend).__name__} ({kind})"


def _finite(value: float) -> float | None:
    return None if value == float("inf") else round(value, 3)


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start
