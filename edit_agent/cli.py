"""The ``edit-agent`` command line.

    edit-agent edit photo.jpg "rotate it 90 degrees" "make it warmer" --out out/
    edit-agent sessions list | show ID | export ID DIR

Bad input prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from edit_agent.errors import EditAgentError, InvalidArgumentError, NeedsGenerativeEditorError, UnknownBackendError
from edit_agent.folders import held_folder, partial_file_beside

if TYPE_CHECKING:
    from PIL import Image

    from edit_agent.session import EditSession
    from edit_agent.store import Store

EXIT_BAD_INPUT = 2
GENERATIVE_EDITOR_HINT = ("To make it, name one and a reasoner that passes the instruction on: --editor qwen-image-edit "
                          "--reasoner passthrough (its weights must be on this machine).")

# Other packages add their subcommands here: each is "module:function(subparsers)".
COMMAND_PROVIDERS: tuple[str, ...] = ("evals.cli:add_commands", "ui.cli:add_commands", "rl.cli:add_commands")


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as the program, not called in-process: the streams are its own
        for stream in (sys.stdout, sys.stderr):
            # A console that cannot show a character (an emoji on cp1252) prints an escape, not a traceback.
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="backslashreplace")
    try:
        # Inside the try: the subcommands' modules load here, and a Ctrl-C as the program starts is a stop too.
        args = build_parser().parse_args(argv)
        if argv is None and args.command != "serve":
            # `timeout`, `docker stop` and systemd stop with SIGTERM: the same clean-up as Ctrl-C, not none at all.
            # (The app's server keeps the default: it has nothing to clean up, and stops at once.)
            signal.signal(signal.SIGTERM, raise_terminated)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader stopped early (`... | head`): what it read was right
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 0
    except (EditAgentError, OSError) as error:  # OSError: a folder that is a file, a full disk; no traceback
        hint = f" {GENERATIVE_EDITOR_HINT}" if isinstance(error, NeedsGenerativeEditorError) else ""
        print(f"edit-agent: error: {error}{hint}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Terminated:
        _ignore_further_stops(argv)
        print("edit-agent: stopped (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        _ignore_further_stops(argv)
        print("edit-agent: interrupted", file=sys.stderr)
        return 130


def _ignore_further_stops(argv: Sequence[str] | None) -> None:
    """Once stopped, the program only exits: a second Ctrl-C (an impatient user, or `timeout`, which signals the
    program and then its process group) would print a traceback from the interpreter's own shut-down."""
    if argv is None:  # the program's own signals, not those of a caller running it in-process
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that what Ctrl-C cleans up is cleaned up."""


def at_least_one(text: str) -> int:
    """An argparse type for counts: a whole number of at least 1, or the option's usage error."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def named_path(text: str) -> Path:
    """An argparse type for a file or folder argument: a name, never "" (which ``Path`` reads as the current
    folder: an unset shell variable exported a session into wherever the command ran)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: name a folder or a file")
    return Path(text)


def raise_terminated(signum: int, frame: object) -> NoReturn:
    raise Terminated


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr, like every other bad input (the full usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from edit_agent import __version__

    parser = OneLineParser(prog="edit-agent", description="Multi-turn, context-aware image editing.")
    parser.add_argument("--version", action="version", version=f"edit-agent {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_edit(subparsers)
    _add_sessions(subparsers)
    for provider in COMMAND_PROVIDERS:
        _load(provider)(subparsers)
    return parser


def _load(target: str) -> Callable[[argparse._SubParsersAction], None]:
    import importlib

    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


def _add_edit(subparsers: argparse._SubParsersAction) -> None:
    edit = subparsers.add_parser("edit", help="run one multi-turn session on an image")
    edit.add_argument("image", help="PNG, JPEG, WEBP, BMP or GIF file, or sample:NAME (e.g. sample:astronaut, "
                      "sample:world-1)")
    edit.add_argument("instructions", nargs="+", help="one instruction per turn")
    edit.add_argument("--out", required=True, help="folder for one PNG per turn and the session export")
    edit.add_argument("--reasoner", default=None, help="reasoner name (default: the offline default)")
    edit.add_argument("--editor", default=None, help="editor name (default: the offline default)")
    edit.add_argument("--model", default=None, help="editor model id or local folder (for model-backed editors)")
    edit.add_argument("--reasoner-model", default=None,
                      help="model id or local folder of the --reasoner (llm, vlm, world-lm; without --reasoner: llm)")
    edit.add_argument("--store", default=None, help="store folder (default: $EDIT_AGENT_HOME or the user data folder)")
    edit.add_argument("--seed", type=int, default=None, help="seed of the first turn (later turns use seed+1, ...; default: a random seed a turn, "
                      "which the export records)")
    edit.set_defaults(func=run_edit)


def run_edit(args: argparse.Namespace) -> int:
    _check_edit_arguments(args)
    if args.out.exists() and not args.out.is_dir():
        raise InvalidArgumentError(f"--out {args.out} is a file; give a folder.")
    if not args.out.exists() and args.out.suffix.lower() in _IMAGE_SUFFIXES:  # "--out result.png" meant a file
        raise InvalidArgumentError(f"--out is a folder, for one PNG per turn and the session export; "
                                   f"{str(args.out)!r} names an image file. Give a folder, e.g. --out "
                                   f"{str(args.out.with_suffix(''))!r}.")
    _check_out_can_hold_results(args.out)
    created = [folder for folder in (args.out, *args.out.absolute().parents) if not folder.exists()]
    args.out.mkdir(parents=True, exist_ok=True)  # before any turn runs: a bad --out fails at once
    try:
        # Held from the first look into --out to the last file written: two runs into one folder at once each
        # cleared the other's turn images and export, and both said their turns were there.
        with held_folder(args.out, lambda: InvalidArgumentError(
                f"--out {args.out} is in use by another edit-agent edit; wait for it to end, or give another "
                "folder.")):
            _edit_into_held_folder(args)
    except BaseException:
        for folder in created:  # leave no empty folder behind a failed first turn (nor the ones made above it)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only an empty one goes
        raise
    return 0


def _edit_into_held_folder(args: argparse.Namespace) -> None:
    from edit_agent.backends import check_backend_name
    from edit_agent.session import EditSession, store_made_if_needed

    _recover_replaced_export(args.out)
    _check_no_foreign_turn_images(args.out)
    _remove_partial_turn_images(args.out)
    # What can fail comes before the store, which opening creates: a mistyped name makes nothing.
    image = _load_first_image(args.image)
    backends = backends_from_args(args)
    check_backend_name(backends["reasoner"], "reasoner")
    check_backend_name(backends["editor"], "editor")
    with store_made_if_needed(args.store) as store:  # a refused first turn leaves no store it made
        _check_earlier_export(args.out / "session", store)
        _edit_and_export(EditSession(store=store, **backends), args, image)


_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"})


def _check_edit_arguments(args: argparse.Namespace) -> None:
    """Everything about the arguments that would fail a later turn fails now, before turn 1 commits."""
    from edit_agent.history_words import is_history_move
    from edit_agent.records import SEED_RANGE, seeds_fit
    from edit_agent.session import as_folder, validate_instruction

    args.out = as_folder(args.out, "--out")
    for instruction in args.instructions:
        validate_instruction(instruction)
        _check_move_is_one_step(instruction)
    if is_history_move(args.instructions[0]):
        raise InvalidArgumentError(f"{args.instructions[0]!r} is the first instruction: there is no edit to move from "
                                   "yet. Give an edit first.")
    if args.seed is not None:
        last = args.seed + len(args.instructions) - 1
        if not seeds_fit(args.seed, last):
            raise InvalidArgumentError(
                f"--seed {args.seed} gives turn {len(args.instructions)} the seed {last}, which does not fit in "
                f"64 bits; use one from {SEED_RANGE[0]} to {SEED_RANGE[1] - len(args.instructions) + 1}."
            )


def _check_move_is_one_step(instruction: str) -> None:
    """A move in the history other than one step back or forward ("go back two steps", "start over") is refused."""
    from edit_agent.history_words import is_history_move, is_redo_request, steps_back
    from edit_agent.world.language import is_undo_request

    one_step = is_undo_request(instruction) or steps_back(instruction) == 1 or is_redo_request(instruction)
    if is_history_move(instruction) and not one_step:  # "nope, undo that" is one step back, as in the app
        raise InvalidArgumentError(f"{instruction!r} moves in the history; between instructions the command line takes "
                                   "'undo that' and 'redo that' (the Python API and the app go anywhere in it).")


def _load_first_image(given: str) -> Image.Image:
    from edit_agent.images import load_image
    from edit_agent.samples import resolve_sample

    return load_image(resolve_sample(given) or Path(given))


def _edit_and_export(session: EditSession, args: argparse.Namespace, image: Image.Image | None) -> None:
    """Run the turns; export the session whatever happens once one turn has committed, so that a later
    turn's failure loses neither the turns before it nor the session's id."""
    try:
        for number, instruction in enumerate(args.instructions, 1):
            image = _run_turn(session, args, number, instruction, image)
    finally:
        if session.turns:
            try:
                _export(session, args.out / "session")
                if not getattr(args, "turn_pngs_are_ours", False):  # stopped as turn 1 committed: an earlier run's
                    _remove_earlier_runs_turns(args.out, 1)  # turn PNGs would stand beside this run's export
            except (EditAgentError, OSError) as error:  # a full disk: the turns are safe, and this is how to get them
                raise EditAgentError(f"{error} {_how_to_export(session, args)}") from None


def _how_to_export(session: EditSession, args: argparse.Namespace) -> str:
    from edit_agent.store import shown_session_id

    store = f" --store {shlex.quote(str(args.store))}" if args.store else ""
    return (f"The session is kept in the store ({_turns(len(session.turns))}): `edit-agent sessions export "
            f"{shown_session_id(session.id)} FOLDER{store}` writes it to another folder.")


def _check_out_can_hold_results(out: Path) -> None:
    """Everything about ``--out`` that would fail once a turn has committed (a file where the export's folders
    go, a folder that cannot be written) fails now, before the store holds a session the folder cannot show."""
    from edit_agent.folders import out_folder_problem

    for place in (out / "session", out / "session" / "images"):
        if place.exists() and not place.is_dir():
            raise InvalidArgumentError(f"{place} is a file, where the session export goes; choose another --out.")
    problem = out_folder_problem(out / "session" / "images")
    if problem:
        raise InvalidArgumentError(f"--out {out}: {problem}.")


def _remove_partial_turn_images(out: Path) -> None:
    """A run killed while writing a turn's PNG leaves that PNG's hidden partial file; it is this command's own."""
    for partial in out.glob(".turn-[0-9][0-9].png.*.partial"):
        with contextlib.suppress(OSError):
            partial.unlink()


def _run_turn(session: EditSession, args: argparse.Namespace, number: int, instruction: str, image: object) -> None:
    """One instruction: an edit, or, where the reasoner refuses "undo that" or "redo that" as an edit, a move as the
    app's Undo and Redo buttons make (on a MICE-World canvas "undo that" is a turn of the world language, and
    "redo that" after it moves back past that turn)."""
    from edit_agent.errors import UnsupportedInstructionError
    from edit_agent.history_words import is_history_move, is_redo_request

    path = args.out / f"turn-{number:02d}.png"
    seed = None if args.seed is None else args.seed + number - 1
    try:
        result = session.edit(image, instruction, seed=seed)
    except UnsupportedInstructionError:
        if not is_history_move(instruction):
            raise
        _move(session, args.out, number, path, redo=is_redo_request(instruction))
        return None
    _keep_export_beside_turns(session, args.out, number)
    args.turn_pngs_are_ours = True  # an earlier run's are gone
    _save_whole(result.image, path, copy_of=_exported_png(session, args.out, result.turn_id))
    fallback = "  (the reasoner's answer could not be read: the raw instruction was used)" if result.fallback else ""
    print(f"turn {number}: {result.intent}  ->  {path}  ({result.seconds * 1000:.0f} ms){fallback}")
    return None  # later turns continue from the head


def _move(session: EditSession, out: Path, number: int, path: Path, *, redo: bool) -> None:
    """One step back (or forward) in the history, saved and told as an edit's turn is."""
    moved, head = session.redo_step() if redo else session.undo_step()
    took_back_undo_turn = False
    if redo and not moved:
        took_back_undo_turn, head = session.step_back_over_undo_turn()
        moved = took_back_undo_turn
    _keep_export_beside_turns(session, out, number)
    exported = _exported_png(session, out, head.turn_id) if head is not None else None
    _save_whole(head.image if head is not None else session.source_image, path, copy_of=exported)
    where = f"edit #{_number_of(session, head.turn_id)}" if head else "the source image"
    if took_back_undo_turn:
        told = "redo: took back the 'undo that' turn, at"
    elif redo:
        told = "redo, at" if moved else "nothing to redo, still at"
    else:
        told = "undo, back at" if moved else "nothing to undo, still at"
    print(f"turn {number}: {told} {where}  ->  {path}")


def _number_of(session: EditSession, turn_id: str) -> int:
    """A turn's number in its session, as the app's "#k" and the reasoning's "turn k" say it (the order turns were
    made in; after an "undo that" turn, not its place on the way from the source)."""
    return next(turn.seq for turn in session.turn_records() if turn.id == turn_id)


def _exported_png(session: EditSession, out: Path, turn_id: str) -> Path | None:
    """The export's PNG of that turn's image, just written beside the turn PNGs; ``None`` if it is not there."""
    from edit_agent.transfer import exported_image_name

    turn = next((turn for turn in session.turn_records() if turn.id == turn_id), None)
    exported = out / "session" / exported_image_name(turn.output_hash) if turn is not None else None
    return exported if exported is not None and exported.is_file() else None


def _save_whole(image: Any, path: Path, *, copy_of: Path | None = None) -> None:
    """Write the PNG under another name, then rename it: Ctrl-C or a full disk never leaves half a picture.
    ``copy_of``: a PNG of the same image to copy (encoding a 12 MP photo again took over 3 s a turn)."""
    partial = partial_file_beside(path)
    try:
        if copy_of is not None:
            shutil.copyfile(copy_of, partial)
        else:
            image.save(partial, format="PNG", compress_level=1)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _remove_earlier_runs_turns(out: Path, number: int) -> None:
    """Once this run's first turn has committed, an earlier run's turn PNGs would mix with its own; a run
    that fails before that leaves them (and the earlier export beside them) as they were."""
    if number == 1:
        for stale in out.glob("turn-[0-9][0-9].png"):
            stale.unlink()


def _keep_export_beside_turns(session: EditSession, out: Path, number: int) -> None:
    """Export the session as it now stands, then clear an earlier run's PNGs, before this turn's PNG is written:
    every turn PNG in ``--out`` then has an export of a session this store holds beside it, so a run killed at any
    moment (even by SIGKILL) leaves a folder that the same command takes again."""
    _write_export(session, out / "session")
    _remove_earlier_runs_turns(out, number)


def _write_export(session: EditSession, folder: Path) -> Path:
    from edit_agent.transfer import exported_session_id

    if exported_session_id(folder) in (None, session.id):
        return session.export(folder)  # this session's own export is brought up to date in place
    # An earlier run's export of a session this store holds (checked up front): replaced whole, once the new one is
    # written beside it. Removed first, a run killed while exporting left the earlier turn PNGs with no export beside
    # them, which every later run refused.
    fresh, earlier = _beside(folder)
    shutil.rmtree(fresh, ignore_errors=True)
    exported = session.export(fresh)
    shutil.rmtree(earlier, ignore_errors=True)
    os.replace(folder, earlier)
    os.replace(fresh, folder)
    shutil.rmtree(earlier, ignore_errors=True)
    return folder / exported.relative_to(fresh)


def _recover_replaced_export(out: Path) -> None:
    """A run killed between the two renames of :func:`_write_export` left the earlier export as ``session.old``."""
    folder = out / "session"
    fresh, earlier = _beside(folder)
    if not folder.exists() and earlier.is_dir():
        os.replace(earlier, folder)
    shutil.rmtree(fresh, ignore_errors=True)


def _beside(folder: Path) -> tuple[Path, Path]:
    """Where a replacing export is written, and where the export it replaces goes meanwhile."""
    return folder.with_name(f"{folder.name}.new"), folder.with_name(f"{folder.name}.old")


def _export(session: EditSession, folder: Path) -> None:
    exported = _write_export(session, folder)
    print(f"session {session.id} exported to {exported.parent}")


def _check_earlier_export(folder: Path, store: Store) -> None:
    """Refuse, before any turn, to replace an export of a session that is not in this store: it may be the only copy."""
    from edit_agent.transfer import exported_session_id

    exported = exported_session_id(folder)
    if exported is not None and not store.has_session(exported):
        raise InvalidArgumentError(
            f"{folder} holds an export of session {exported}, which is not in this store; choose another --out."
        )


def _check_no_foreign_turn_images(out: Path) -> None:
    """A run replaces an earlier run's turn PNGs, which it knows by the export beside them; PNGs of that
    name without one are someone else's files, and are never overwritten or removed."""
    from edit_agent.transfer import exported_session_id

    if exported_session_id(out / "session") is not None:
        return
    named_like_turns = sorted(path.name for path in out.glob("turn-[0-9][0-9].png"))
    if named_like_turns:
        raise InvalidArgumentError(
            f"{out} holds {', '.join(named_like_turns[:3])}{', ...' if len(named_like_turns) > 3 else ''} but no "
            "session export of an earlier run beside them; choose another --out, or move those files."
        )


def backends_from_args(args: argparse.Namespace) -> dict[str, object]:
    """``reasoner``/``editor`` for EditSession: a name, or a built backend when a model is named."""
    from edit_agent.backends import make_editor, make_reasoner

    reasoner = args.reasoner
    if args.reasoner_model:
        reasoner = make_reasoner(args.reasoner or "llm", model=args.reasoner_model)
    editor = args.editor
    if args.model:
        if not args.editor:
            raise UnknownBackendError("--model needs --editor NAME (e.g. --editor qwen-image-edit).")
        editor = make_editor(args.editor, model=args.model)
    return {"reasoner": reasoner, "editor": editor}


SESSION_ID_HELP = "a session id, or its first 4 or more characters (8 or more to delete), as the app shows it"


def _add_sessions(subparsers: argparse._SubParsersAction) -> None:
    sessions = subparsers.add_parser("sessions", help="list, show, export, delete or import stored sessions")
    actions = sessions.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list stored sessions")
    show = actions.add_parser("show", help="show a session's turns")
    show.add_argument("session_id", help=SESSION_ID_HELP)
    export = actions.add_parser("export", help="export a session to a folder, or to one zip if the name ends in .zip")
    export.add_argument("session_id", help=SESSION_ID_HELP)
    export.add_argument("folder", type=named_path, metavar="FOLDER_OR_ZIP",
                        help="a folder to write the export into, or a file name ending in .zip for one zip")
    delete = actions.add_parser("delete", help="delete a session and the images only it uses")
    delete.add_argument("session_id", help=SESSION_ID_HELP)
    importing = actions.add_parser(
        "import", help="import an exported session: its folder, or the zip the app downloads (a taken id is renewed)"
    )
    importing.add_argument("folder", type=named_path, metavar="FOLDER_OR_ZIP",
                           help="an export folder, or a .zip of one (the app's \"Download session\")")
    for action in (listing, show, export, delete, importing):
        action.add_argument("--store", default=None,
                            help="store folder (default: $EDIT_AGENT_HOME or the user data folder)")
    listing.set_defaults(func=run_sessions_list)
    show.set_defaults(func=run_sessions_show)
    export.set_defaults(func=run_sessions_export)
    delete.set_defaults(func=run_sessions_delete)
    importing.set_defaults(func=run_sessions_import)


def _existing_store(folder: str | None) -> Store | None:
    """The store a read-only command names; None for a default store not made yet (it holds no sessions).
    A --store that holds no store is an error: a typo must not read as an empty store."""
    from edit_agent.session import as_folder, existing_store
    from edit_agent.store import DATABASE_NAME

    # An empty --store (an unset "$STORE") is an error, never the default store.
    path = as_folder(folder, "--store") if folder is not None else None
    store = existing_store(path)
    if store is None and path is not None:
        raise InvalidArgumentError(f"No session store at {path} (it holds no {DATABASE_NAME}).")
    return store


MIN_DELETE_PREFIX = 8
"""Deleting asks for as much of the id as the app and the status line show."""


def _stored_session(store_folder: str | None, given: str) -> tuple[Store, str]:
    """The store and the full id of the session ``given`` names (its id, or a prefix of it)."""
    from edit_agent.errors import UnknownSessionError

    store = _existing_store(store_folder)
    if store is None:
        raise UnknownSessionError(f"No session {given!r}: no session has been stored yet.")
    return store, store.full_session_id(given)


def _turns(count: int) -> str:
    return f"{count} turn{'s' if count != 1 else ''}"


def run_sessions_list(args: argparse.Namespace) -> int:
    store = _existing_store(args.store)
    if store is None:
        return 0
    for session_id in store.list_sessions():
        session = store.get_session(session_id)
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(session.created))
        print(f"{session_id}  {created}  {_turns(store.turns_summary(session_id).count)}")
    return 0


def run_sessions_show(args: argparse.Namespace) -> int:
    store, session_id = _stored_session(args.store, args.session_id)
    session = store.get_session(session_id)
    print(f"session {session.id}  reasoner={session.settings.get('reasoner')}  editor={session.settings.get('editor')}")
    for turn in store.turns(session.id):
        marker = "*" if turn.id == session.head else " "
        parent = turn.parent_id or "source"
        fallback = "  [the reasoner's answer could not be read: raw instruction used]" if turn.fallback else ""
        print(f"{marker} {turn.seq:3d} {turn.id} (from {parent}) {turn.instruction!r} -> {turn.intent.text!r}{fallback}")
    return 0


def run_sessions_export(args: argparse.Namespace) -> int:
    from edit_agent.session import EditSession

    store, session_id = _stored_session(args.store, args.session_id)
    session = EditSession.open(session_id, store=store)
    if args.folder.suffix.lower() == ".zip":  # the app's download, which the app can open again
        print(f"exported session {session_id} to {session.export_zip(args.folder)}")
    else:
        print(f"exported session {session_id} to {session.export(args.folder).parent}")
    return 0


def run_sessions_delete(args: argparse.Namespace) -> int:
    store, session_id = _stored_session(args.store, args.session_id)
    # A mistyped short prefix must not match another session; a short id given whole ("demo") is no prefix.
    if session_id != args.session_id and len(args.session_id) < MIN_DELETE_PREFIX:
        raise InvalidArgumentError(f"To delete, give at least {MIN_DELETE_PREFIX} characters of the session id.")
    turns = store.turns_summary(session_id).count
    removed = store.delete_session(session_id)
    print(f"deleted session {session_id} ({_turns(turns)}, {removed} image files)")
    return 0


def run_sessions_import(args: argparse.Namespace) -> int:
    from edit_agent.archives import is_session_archive, starts_as_zip
    from edit_agent.errors import InvalidExportError
    from edit_agent.session import EditSession, store_made_if_needed
    from edit_agent.transfer import EXPORT_FILE

    named_or_begun_as_zip = args.folder.is_file() and (args.folder.suffix.lower() == ".zip" or starts_as_zip(args.folder))
    if not args.folder.exists():
        raise InvalidExportError(f"{args.folder} does not exist; give a session zip or an exported folder.")
    if not (is_session_archive(args.folder) or named_or_begun_as_zip or (args.folder / EXPORT_FILE).is_file()):
        raise InvalidExportError(f"{args.folder} is neither a zip nor a folder with {EXPORT_FILE}; "
                                 "it is not a session export.")
    # The export's images are read into the store: one found bad then leaves no store that this import made.
    with store_made_if_needed(args.store) as store:
        if is_session_archive(args.folder) or named_or_begun_as_zip:
            session = EditSession.import_zip(args.folder, store=store)  # a damaged zip is told so there
        else:
            session = EditSession.import_folder(args.folder, store=store)
    print(f"imported as session {session.id} ({_turns(len(session.turns))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
