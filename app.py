"""Start the chat app on the offline defaults: ``python app.py`` (http://127.0.0.1:7860).

``EDIT_AGENT_HOME`` picks the store folder; ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` the address.
"""

import os

from ui.app import demo, serve
from ui.handlers import AppConfig

if __name__ == "__main__":
    serve(
        demo, AppConfig.from_env(),
        host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None,
    )
