"""The app's public API: the agent tools of :mod:`edit_agent.tools` as Gradio API endpoints and, when
``gradio[mcp]`` is installed, MCP tools (:mod:`ui.mcp_transport`). Each endpoint runs the langchain tool of the same
name, so the API, MCP and in-process agents share one set of checks."""

from __future__ import annotations

from typing import Any

import gradio as gr

from edit_agent.errors import InvalidArgumentError, is_blank
from edit_agent.samples import SAMPLE_NAMES, SAMPLE_PREFIX
from edit_agent.tools import SESSIONS_LISTED, SHOWN_SIDE, as_json_text, make_token_tools, what_it_understands
from ui import backends
from ui.handlers import AppConfig
from ui.mcp_transport import is_mcp_call, mcp_reply_text, prepare_mcp_transport

MIN_TOKEN_SYMBOLS = 4
"""Distinct characters an owner_token needs: "aaaaaaaaaaaaaaaa" or "abababababababab" are 16 characters that two
agents may both pick, while a random one has fewer than 4 about once in a billion (16 hex digits; 16 decimal
digits: once in two million)."""


def serve_agent_tools(config: AppConfig) -> None:
    """Serve the langchain tools as API endpoints (and MCP tools): same code, same checks."""
    prepare_mcp_transport()

    def call(tool_name: str, owner_token: str, arguments: dict[str, Any], request: gr.Request | None) -> str:
        """Run one tool; a refusal is raised, so that API and MCP clients see an error, not a result."""
        if not isinstance(owner_token, str) or len(owner_token) < 16 or len(set(owner_token)) < MIN_TOKEN_SYMBOLS \
                or is_blank(owner_token):
            raise gr.Error(
                "owner_token must be a hard-to-guess secret of at least 16 characters (not one character repeated or "
                "a short pattern); reuse it to reach your sessions.",
                print_exception=False,
            )
        try:
            tools = make_token_tools(
                owner_token, store=config.store,
                reasoner=backends.reasoner(config.reasoner, **config.reasoner_options),
                editor=backends.editor(config.editor, **config.editor_options),
            )
        except InvalidArgumentError as error:  # a token of spaces or one that is not valid text
            raise gr.Error(f"owner_token: {error}", print_exception=False) from None
        tool = next(tool for tool in tools if tool.name == tool_name)
        # Form fields cannot be left out: the tools read an empty optional field as "not given".
        reply = tool.invoke({"type": "tool_call", "id": "api", "name": tool_name, "args": arguments})
        if reply.status == "error":
            refusal = str(reply.content)
            if refusal.startswith("Unknown session id"):  # the same for every id this token does not reach
                refusal += " A session is reached only with the owner_token that made it: check that it is that one."
            raise gr.Error(refusal, print_exception=False)
        if is_mcp_call(request.headers if request is not None else None):
            return mcp_reply_text(reply)  # an image goes to the model as an image
        return as_json_text(reply)  # an API reply is one text: an image goes in it as base64

    # Optional fields take null as well as "" (models send either for "not given"); attached_image comes last, so
    # that API clients passing the others by position are unaffected.
    def edit_image(
        instruction: str, owner_token: str, image_base64: str | None = None, session_id: str | None = None,
        image_id: str | None = None, return_image: bool | str | None = False, seed: int | str | None = None,
        attached_image: str | None = None, request: gr.Request = None,
    ) -> str:
        """Edit an image by instruction, one turn of a multi-turn session that keeps earlier edits and rules. {understands}

        Args:
            instruction: what to change, e.g. "make it warmer" (1 to 2000 characters).
            owner_token: a secret of your choosing (16+ characters); only the same token reaches the session again.
            image_base64: base64 PNG/JPEG/WEBP/BMP/GIF (data: URL prefix allowed) to start a session; at most 12 MiB, 4096 px a side, 16 MP.
            session_id: the session to continue (32 hex characters, from an earlier reply); leave empty to start one.
            image_id: a turn_id of this session (16 hex characters), or "source" for the image it started from: the edit branches from there.
            return_image: also return the edited image: over MCP an image (at most {shown_side} px a side), over HTTP base64 PNG in the JSON. Off unless needed.
            seed: seed for generative editors (a reply's seed redoes that edit exactly); leave empty for a random one.
            attached_image: instead of image_base64, a bundled sample to start a session from: {samples}.
        Returns:
            JSON with session_id, turn_id, the reconstructed intent, the constraints in force and the seed; a refusal is raised as an error.
        """
        if not (session_id or image_base64 or attached_image or image_id):  # the tool says what image_id lacks
            raise gr.Error(f"Pass image_base64 (or attached_image, {SAMPLE_PREFIX}NAME) to start a session, or session_id "
                           "to continue one.", print_exception=False)
        return call("edit_image", owner_token, {
            "instruction": instruction, "image_base64": image_base64, "session_id": session_id,
            "image_id": image_id, "return_image": return_image, "seed": seed, "attached_image": attached_image,
        }, request)

    # The MCP description says what the configured backends understand, as the langchain tool's does.
    edit_image.__doc__ = (edit_image.__doc__ or "").replace(
        "{understands}", what_it_understands(config.reasoner, config.editor)).replace(
        "{samples}", f"'{SAMPLE_PREFIX}NAME', NAME one of {', '.join(SAMPLE_NAMES)}").replace(
        "{shown_side}", str(SHOWN_SIDE))

    def undo_edit(session_id: str, owner_token: str, request: gr.Request = None) -> str:
        """Undo the latest edit of a session.

        Args:
            session_id: the session (32 hex characters), from an edit_image reply.
            owner_token: the token the session was created with.
        Returns:
            JSON describing the new latest turn, with undone: false when there was nothing to undo; a refusal is raised as an error.
        """
        return call("undo_edit", owner_token, {"session_id": session_id}, request)

    def redo_edit(session_id: str, owner_token: str, request: gr.Request = None) -> str:
        """Redo the edit that undo_edit last took back.

        Args:
            session_id: the session (32 hex characters), from an edit_image reply.
            owner_token: the token the session was created with.
        Returns:
            JSON describing the new latest turn, with redone: false when there was nothing to redo; a refusal is raised as an error.
        """
        return call("redo_edit", owner_token, {"session_id": session_id}, request)

    def get_image(session_id: str, owner_token: str, image_id: str | None = None, request: gr.Request = None) -> str:
        """Look at an image of a session: over MCP an image after the JSON (at most {shown_side} px a side), over the HTTP API base64 PNG in it.

        Args:
            session_id: the session (32 hex characters), from an edit_image reply.
            owner_token: the token the session was created with.
            image_id: a turn_id of this session, or "source" for the image it started from; leave empty for the current image.
        Returns:
            JSON with the turn (or the source) and is_current (shown_size when the image shown is scaled down), and the image; a refusal is raised as an error.
        """
        return call("get_image", owner_token, {"session_id": session_id, "image_id": image_id}, request)

    def session_history(session_id: str, owner_token: str, request: gr.Request = None) -> str:
        """List every turn of a session and which one is current.

        Args:
            session_id: the session (32 hex characters), from an edit_image reply.
            owner_token: the token the session was created with.
        Returns:
            JSON with the turns (ids, parents, instructions, intents); a refusal is raised as an error.
        """
        return call("session_history", owner_token, {"session_id": session_id}, request)

    def list_sessions(owner_token: str, limit: int | str | None = None, offset: int | str | None = None,
                      request: gr.Request = None) -> str:
        """List the sessions made with this token, newest first, to continue one started earlier.

        Args:
            owner_token: the token the sessions were created with.
            limit: how many sessions to list (1 to 100; leave empty for {listed}).
            offset: how many of the newest to skip: the offset a reply's "more" names.
        Returns:
            JSON with each session's id, creation time, turns, first instruction and current turn, the total, and "more" when older ones are not listed.
        """
        return call("list_sessions", owner_token, {"limit": limit, "offset": offset}, request)

    list_sessions.__doc__ = (list_sessions.__doc__ or "").replace("{listed}", str(SESSIONS_LISTED))
    get_image.__doc__ = (get_image.__doc__ or "").replace("{shown_side}", str(SHOWN_SIDE))

    gr.api(edit_image, api_name="edit_image", concurrency_id="gpu", concurrency_limit=config.gpu_concurrency)
    gr.api(undo_edit, api_name="undo_edit")
    gr.api(redo_edit, api_name="redo_edit")
    gr.api(get_image, api_name="get_image")
    gr.api(session_history, api_name="session_history")
    gr.api(list_sessions, api_name="list_sessions")
