"""The Gradio chat app over :class:`edit_agent.EditSession` (see :mod:`ui.app`)."""
