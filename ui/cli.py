"""``edit-agent serve``: start the chat app (added to the CLI through ``COMMAND_PROVIDERS``)."""

from __future__ import annotations

import argparse


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


def run_serve(args: argparse.Namespace) -> int:
    from edit_agent.backends import check_backend_name
    from edit_agent.errors import InvalidArgumentError

    # Checked before the app module loads: it builds the page, and with it the store's secret.
    if args.port is not None and not 1 <= args.port <= 65535:
        raise InvalidArgumentError(f"--port must be from 1 to 65535; got {args.port}.")
    check_backend_name(args.reasoner, "reasoner")
    check_backend_name(args.editor, "editor")
    from ui.app import build_demo, serve
    from ui.handlers import AppConfig

    overrides = {key: getattr(args, key) for key in ("store", "reasoner", "editor") if getattr(args, key)}
    config = AppConfig(**{**AppConfig.from_env().model_dump(), **overrides})
    serve(build_demo(config), config, host=args.host, port=args.port)
    return 0
