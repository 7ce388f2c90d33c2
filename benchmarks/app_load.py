"""Load test of the chat app: concurrent gradio_client users editing on loopback.

    python benchmarks/app_load.py                 # 20 users x 10 edits, default editor
    python benchmarks/app_load.py --users 5 --edits 3

Starts ``python app.py`` on a fresh store, runs every user in its own thread (own Client, own
browser token, own session), then checks the store: every user's session holds exactly the
turns that user sent, in order, each on the previous one (none lost, none duplicated), and no
user saw "database is locked". Prints p50/p95 seconds per edit (submit to image, queueing
included: edits share one GPU concurrency slot, as in production).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gradio_client import Client, handle_file
from PIL import Image

from edit_agent.backends import DEFAULT_EDITOR, DEFAULT_REASONER

ROOT = Path(__file__).resolve().parent.parent
INSTRUCTIONS = (
    "make it warmer", "rotate it 90 degrees", "make it brighter", "flip it horizontally",
    "increase the contrast", "make it cooler", "rotate it 90 degrees", "make it darker",
    "flip it vertically", "decrease the contrast",
)


@dataclass
class Args:
    users: int = 20
    edits: int = 10
    port: int = 0
    """0: a free port."""
    editor: str | None = None
    """None: the app's default editor."""


@dataclass
class UserResult:
    session_id: str | None = None
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def main(args: Args) -> int:
    with tempfile.TemporaryDirectory(prefix="edit-agent-load-") as home:
        port = args.port or _free_port()
        began_start = time.perf_counter()
        server, started = _start_app(Path(home), port, args.editor)
        try:
            photo = Path(home) / "photo.png"
            from skimage import data

            Image.fromarray(data.chelsea()).save(photo)
            # Wait for the background backend checks (they import model libraries), as a user opening
            # the settings panel would; the load then measures a warm app.
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                DEFAULT_REASONER, args.editor or DEFAULT_EDITOR, {}, api_name="/settings"  # {}: nothing picked before
            )
            ready = time.perf_counter() - began_start
            results = [UserResult() for _ in range(args.users)]
            threads = [
                threading.Thread(target=_user, args=(f"http://127.0.0.1:{port}/", photo, args, result))
                for result in results
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(timeout=30)
        problems = _check_store(Path(home) / "store", results, args.edits)
    _report(args, results, problems, wall, started, ready)
    return 1 if problems or any(result.errors for result in results) else 0


def _start_app(home: Path, port: int, editor: str | None) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "EDIT_AGENT_HOME": str(home / "store"), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(home / "gradio"), "HF_HUB_OFFLINE": "1"}
    if editor:
        env["EDIT_AGENT_EDITOR"] = editor
    began = time.perf_counter()
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, time.perf_counter() - began
        except OSError as error:
            if server.poll() is not None:
                raise SystemExit("the app exited during start-up") from error
            time.sleep(0.1)


def _user(url: str, photo: Path, args: Args, result: UserResult) -> None:
    # Like a browser, fetch only the current image, not every thumbnail of the reply.
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    state, *_ = client.predict(None, api_name="/restore")
    for number in range(args.edits):
        files = [handle_file(str(photo))] if number == 0 else []
        message = {"text": INSTRUCTIONS[number % len(INSTRUCTIONS)], "files": files}
        began = time.perf_counter()
        try:
            state, _chat, image, *_ = client.predict(
                message, state, DEFAULT_REASONER, args.editor or DEFAULT_EDITOR, api_name="/edit"
            )
            httpx.get(image["url"], timeout=60).raise_for_status()
        except Exception as error:  # a user sees it; the check below reports it
            result.errors.append(str(error))
            continue
        result.seconds.append(time.perf_counter() - began)
    result.session_id = state.get("session_id")


def _check_store(store: Path, results: list[UserResult], edits: int) -> list[str]:
    from edit_agent import EditSession

    problems = []
    ids = [result.session_id for result in results]
    if len(set(ids)) != len(ids) or None in ids:
        problems.append(f"sessions: expected {len(ids)} distinct, got {ids}")
    for session_id in filter(None, set(ids)):
        records = EditSession.open(session_id, store=store, reasoner="passthrough", editor="identity").turn_records()
        sent = [INSTRUCTIONS[n % len(INSTRUCTIONS)] for n in range(edits)]
        if [record.instruction for record in records] != sent:
            problems.append(f"{session_id}: {len(records)} turns stored, {edits} sent")
        chain = [None] + [record.id for record in records[:-1]]
        if [record.parent_id for record in records] != chain:
            problems.append(f"{session_id}: turns are not a chain")
    return problems


def _report(
    args: Args, results: list[UserResult], problems: list[str], wall: float, started: float, ready: float
) -> None:
    seconds = sorted(s for result in results for s in result.seconds)
    errors = [error for result in results for error in result.errors]
    locked = sum("database is locked" in error for error in errors)
    print(f"app start-up: port open after {started:.1f} s, backend checks done after {ready:.1f} s")
    print(f"{args.users} users x {args.edits} edits = {args.users * args.edits} edits in {wall:.1f} s "
          f"({len(seconds) / wall:.1f} edits/s)")
    if seconds:
        p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
        print(f"seconds per edit (submit to image): p50 {statistics.median(seconds):.2f}  p95 {p95:.2f}  "
              f"max {seconds[-1]:.2f}")
    print(f"errors seen by users: {len(errors)} ({locked} 'database is locked')")
    for error in errors[:5]:
        print(f"  {error}")
    print("store check: " + ("every turn stored once, in order" if not problems else "; ".join(problems)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _parse() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in vars(Args()).items():
        parser.add_argument(f"--{name}", type=type(value) if value is not None else str, default=value)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main(_parse()))
