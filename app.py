"""Start the chat app on the offline defaults: ``python app.py`` (http://127.0.0.1:7860).

It takes the options of ``edit-agent serve`` (``python app.py --help``). Without them,
``EDIT_AGENT_HOME`` picks the store folder and ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` the address.
"""

import argparse
import os
import sys

from edit_agent.errors import EditAgentError
from ui.cli import add_serve_arguments, run_serve

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a program that Ctrl-C stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python app.py", description="Start the edit-agent chat app.")
    add_serve_arguments(parser, host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        port=os.environ.get("GRADIO_SERVER_PORT") or None)
    args = parser.parse_args(argv)
    try:
        return run_serve(args)
    except EditAgentError as error:  # a bad port or backend name: one line, as edit-agent serve prints it
        parser.error(str(error))
    except KeyboardInterrupt:  # while it loads or serves: the server is closed; a line, not a traceback
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
