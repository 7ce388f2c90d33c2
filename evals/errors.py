"""Errors of the evaluation commands, shared by the CLI and the report writers."""

from __future__ import annotations

from edit_agent.errors import EditAgentError


class EvalInputError(EditAgentError, ValueError):
    """The arguments of ``eval`` or ``world`` do not name usable input."""
