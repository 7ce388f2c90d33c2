"""``edit-agent serve``: start the chat app (added to the CLI through ``COMMAND_PROVIDERS``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ui.handlers import AppConfig


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="start the chat app (Gradio, with MCP tools)")
    add_serve_arguments(serve)
    serve.set_defaults(func=run_serve)


def add_serve_arguments(parser: argparse.ArgumentParser, *, host: str = "127.0.0.1", port: str | None = None) -> None:
    """The options of ``edit-agent serve`` (and of ``python app.py``, whose defaults come from the environment)."""
    parser.add_argument("--host", default=host, help=f"address to bind (default: {host}; 127.0.0.1 is this machine only)")
    parser.add_argument("--port", type=int, default=port, help=f"port (default: {port or '7860 or the next free one'})")
    parser.add_argument("--store", default=None, help="store folder (default: $EDIT_AGENT_HOME or the user data folder)")
    parser.add_argument("--reasoner", default=None, help="reasoner preselected for new sessions")
    parser.add_argument("--editor", default=None, help="editor preselected for new sessions")
    parser.add_argument("--model", default=None,
                        help="model id or local folder of the --editor (loaded before the app serves)")
    parser.add_argument("--reasoner-model", default=None,
                        help="model id or local folder of the --reasoner (default reasoner: llm; loaded before the app serves)")


def run_serve(args: argparse.Namespace) -> int:
    from edit_agent.errors import InvalidArgumentError

    # Checked before the app module loads: it builds the page, and with it the store's secret.
    if args.port is not None and not 1 <= args.port <= 65535:
        raise InvalidArgumentError(f"--port must be from 1 to 65535; got {args.port}.")
    unusable = _host_problem(args.host)
    if unusable:  # the server would retry it on each port of its range, a traceback each, and never stop
        raise InvalidArgumentError(f"--host {args.host!r} {unusable}; give an address of this machine (127.0.0.1 for "
                                   "this machine only, 0.0.0.0 for every network).")
    if args.port is not None and _port_taken(args.host, args.port):  # Gradio's own message names its launch()
        raise InvalidArgumentError(f"Port {args.port} on {args.host} is in use (an app already running there?); "
                                   "choose another with --port, or leave it out for the next free one.")
    config = config_from_args(args)
    load_configured_models(config)
    from ui.app import build_demo, serve

    serve(build_demo(config), config, host=args.host, port=args.port)
    return 0


def _host_problem(host: str) -> str | None:
    """Why the server cannot listen at ``host``: a name that does not resolve, or an address of another machine."""
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as error:
        return f"does not resolve to an address ({getattr(error, 'strerror', None) or error})"
    with socket.socket(family, kind) as probe:
        try:
            probe.bind(address)  # port 0: any free one, so only the address is tried
        except OSError as error:
            return f"is no address this machine can listen at ({error.strerror})"
    return None


def _port_taken(host: str, port: int) -> bool:
    """Whether another program listens on ``port`` at ``host``; any other problem (a host that does not resolve,
    a port that needs root) is left for the server to report as it starts."""
    import errno
    import socket

    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError:
        return False
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port is free
        try:
            probe.bind(address)
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def config_from_args(args: argparse.Namespace) -> AppConfig:
    """The app's settings: the environment's, then the command line's (backend names checked here)."""
    from edit_agent.backends import check_backend_name
    from edit_agent.errors import UnknownBackendError
    from edit_agent.session import as_folder
    from ui.handlers import AppConfig

    overrides: dict[str, Any] = {key: getattr(args, key) for key in ("reasoner", "editor") if getattr(args, key)}
    if args.store is not None:  # an empty --store (an unset "$STORE") is an error, never the default store
        overrides["store"] = as_folder(args.store, "--store")
    if args.model:
        if not args.editor:
            raise UnknownBackendError("--model needs --editor NAME (e.g. --editor qwen-image-edit).")
        overrides["editor_options"] = {"model": args.model}
    if args.reasoner_model:
        overrides.setdefault("reasoner", "llm")  # as in `edit-agent edit`: a model alone means a chat LM
        overrides["reasoner_options"] = {"model": args.reasoner_model}
    check_backend_name(overrides.get("reasoner"), "reasoner")
    check_backend_name(overrides.get("editor"), "editor")
    _check_runs_here(overrides)
    return AppConfig(**{**AppConfig.from_env().model_dump(), **overrides})


def _check_runs_here(overrides: dict[str, Any]) -> None:
    """A backend named for new sessions that cannot run here is one error at start-up: served anyway, every new
    session's first message failed. One with its own model (--model) is loaded at start-up instead."""
    from edit_agent.errors import ModelUnavailableError
    from ui import backends

    for kind in ("reasoner", "editor"):
        name = overrides.get(kind)
        if name is None or overrides.get(f"{kind}_options"):
            continue
        reason = backends.unavailable_reason(kind, name)
        if reason is not None:
            how = "give its model with --model, or choose another" if kind == "editor" else "choose another"
            raise ModelUnavailableError(f"The {name} {kind} cannot run on this machine ({reason}); {how}.")


def load_configured_models(config: AppConfig) -> None:
    """Build the backends that name their own model now: a missing or wrong model is one error at
    start-up, not a failed first message; the app then uses these very instances."""
    from edit_agent.backends import shared_editor, shared_reasoner

    if config.reasoner_options:
        print(f"Loading the {config.reasoner} reasoner from {config.reasoner_options['model']}…", flush=True)
        shared_reasoner(config.reasoner, **config.reasoner_options)
    if config.editor_options:
        print(f"Loading the {config.editor} editor from {config.editor_options['model']}…", flush=True)
        shared_editor(config.editor, **config.editor_options)
