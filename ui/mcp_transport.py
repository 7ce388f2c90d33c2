"""How the app's agent tools travel over MCP: request sizes, argument errors a model can act on, and images as images.

Gradio serves every API endpoint as an MCP tool, each reply one text. An image in that text as base64 (what the
HTTP API sends) reaches the model as hundreds of thousands of characters that fill its context and that it cannot
see. Over MCP a reply with an image therefore carries the copy the langchain tools show (at most ``SHOWN_SIDE`` px
a side) under :data:`MCP_IMAGE_KEY`, and :func:`send_images_as_mcp_images` has Gradio's MCP server send it as an
MCP image after the JSON.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
from typing import Any

from langchain_core.messages import ToolMessage

from edit_agent.tools import MAX_BASE64_CHARS

MCP_MAX_REQUEST_BYTES = 4 * MAX_BASE64_CHARS
"""Largest MCP request the transport reads. A larger one is answered HTTP 413, which MCP clients raise as a crash
that ends their session: up to this size the tool itself refuses an image over its limits, with a message."""

MCP_IMAGE_KEY = "mcp_image_png_base64"
"""Where an MCP reply's JSON holds the image to send as an MCP image (taken out of the text before it is sent)."""


def mcp_available() -> bool:
    return importlib.util.find_spec("mcp") is not None


def is_mcp_call(headers: Any) -> bool:
    """Whether a tool endpoint was called by Gradio's MCP server (it calls its own API as this user)."""
    return headers is not None and headers.get("x-gradio-user") == "mcp"


def mcp_reply_text(reply: ToolMessage) -> str:
    """A tool's reply for an MCP client: its JSON, with the image it shows (if any) under :data:`MCP_IMAGE_KEY`."""
    if isinstance(reply.content, str):
        return reply.content
    blocks = [block for block in reply.content if isinstance(block, dict)]
    described = json.loads(next(block["text"] for block in blocks if block.get("type") == "text"))
    shown = next((block for block in blocks if block.get("type") == "image"), None)
    if shown is not None:
        described[MCP_IMAGE_KEY] = shown["base64"]
    return json.dumps(described)


def prepare_mcp_transport() -> None:
    """Adjust Gradio's MCP server before the app launches; a Gradio or mcp release without what is adjusted keeps
    its own behaviour."""
    if not mcp_available():
        return
    _allow_tool_sized_requests()
    _take_only_the_arguments_a_tool_has()
    _name_the_argument_in_input_errors()
    send_images_as_mcp_images()


def _allow_tool_sized_requests() -> None:
    """Gradio builds its MCP transports, streamable HTTP and SSE alike, with the mcp library's 4 MiB request limit,
    under the 12 MiB images that edit_image takes."""
    from gradio.mcp import GradioMCPServer
    from mcp.server.sse import SseServerTransport
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    for name, transport in (("StreamableHTTPSessionManager", StreamableHTTPSessionManager),
                            ("SseServerTransport", SseServerTransport)):
        if "max_request_body_size" not in inspect.signature(transport).parameters:
            continue  # an mcp release before the limit was a parameter: its own limit stays
        setattr(GradioMCPServer, name, functools.partial(transport, max_request_body_size=MCP_MAX_REQUEST_BYTES))


def _take_only_the_arguments_a_tool_has() -> None:
    """Gradio's tool schemas leave out ``additionalProperties: false``, though its API refuses an unknown argument,
    with words for a person ("click on 'view API'"); said in the schema, the schema check refuses it, naming those
    the tool takes."""
    from gradio.mcp import GradioMCPServer

    get_input_schema = GradioMCPServer.get_input_schema
    if getattr(get_input_schema, "closed", False):
        return

    @functools.wraps(get_input_schema)
    def closed(self: Any, *args: Any, **kwargs: Any) -> Any:
        schema, file_positions = get_input_schema(self, *args, **kwargs)
        return {**schema, "additionalProperties": False}, file_positions

    closed.closed = True  # type: ignore[attr-defined]
    GradioMCPServer.get_input_schema = closed


def _name_the_argument_in_input_errors() -> None:
    """The mcp library checks a call's arguments against the tool's schema and answers with jsonschema's message,
    which quotes the whole wrong value (an image sent as ``{"type": "base64", "data": ...}``: megabytes) and names
    no argument. Its server module is given a ``jsonschema`` whose ``validate`` refuses what jsonschema refuses
    (for every MCP server of the process), saying which argument is wrong and what it must be."""
    import jsonschema
    from mcp.server.lowlevel import server as lowlevel

    if getattr(lowlevel.jsonschema, "names_the_argument", False) or not hasattr(lowlevel.jsonschema, "validate"):
        return

    class ArgumentChecks:
        names_the_argument = True
        ValidationError = jsonschema.ValidationError

        @staticmethod
        def validate(instance: Any, schema: dict[str, Any]) -> None:
            problem = argument_problem(instance, schema)
            if problem is not None:
                raise jsonschema.ValidationError(problem)

    lowlevel.jsonschema = ArgumentChecks


def argument_problem(arguments: Any, schema: dict[str, Any]) -> str | None:
    """What is wrong with a tool call's ``arguments`` for its input ``schema``, in a line that names the argument
    and never quotes its value; None when nothing is."""
    import jsonschema

    known = schema.get("properties", {})
    if isinstance(arguments, dict) and schema.get("additionalProperties") is False:
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            return (f"unknown argument{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; this tool takes "
                    f"{', '.join(known)}")
    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(arguments))
    if error is None:
        return None
    where = ".".join(map(str, error.absolute_path)) or "the arguments"
    if error.validator == "required":
        missing = [name for name in error.validator_value if not isinstance(arguments, dict) or name not in arguments]
        return f"{', '.join(missing) or where}: required"
    if error.validator in ("type", "anyOf", "oneOf"):
        return f"{where}: must be {_expected(error.schema)}, not {_json_kind(error.instance)}"
    return f"{where}: {error.validator} {json.dumps(error.validator_value)[:80]} is not met"


_JSON_KINDS = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "null": "null", "object": "an object", "array": "a list"}


def _expected(schema: dict[str, Any]) -> str:
    choices = schema.get("anyOf") or schema.get("oneOf")
    if choices:
        return " or ".join(dict.fromkeys(_expected(choice) for choice in choices))
    kinds = schema.get("type", [])
    return " or ".join(_JSON_KINDS.get(kind, kind) for kind in ([kinds] if isinstance(kinds, str) else kinds)) or "valid"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "a whole number"
    kinds = {str: "a string", float: "a number", dict: "an object", list: "a list", type(None): "null"}
    return next((word for kind, word in kinds.items() if isinstance(value, kind)), type(value).__name__)


def send_images_as_mcp_images() -> None:
    """Have Gradio's MCP server send a reply's :data:`MCP_IMAGE_KEY` as an MCP image content after its text."""
    from gradio.mcp import GradioMCPServer

    postprocess = GradioMCPServer.postprocess_output_data
    if getattr(postprocess, "sends_images", False):
        return

    @functools.wraps(postprocess)
    def with_images(self: Any, data: Any, root_url: str) -> list[Any]:
        contents = []
        for content in postprocess(self, data, root_url):
            contents.extend(_split_image(self.types, content))
        return contents

    with_images.sends_images = True  # type: ignore[attr-defined]
    GradioMCPServer.postprocess_output_data = with_images


def _split_image(types: Any, content: Any) -> list[Any]:
    """A text content whose JSON holds :data:`MCP_IMAGE_KEY`, as that JSON without it and an image content."""
    text = getattr(content, "text", None)
    if not isinstance(text, str) or MCP_IMAGE_KEY not in text:
        return [content]
    try:
        described = json.loads(text)
    except ValueError:
        return [content]
    if not isinstance(described, dict) or not isinstance(described.get(MCP_IMAGE_KEY), str):
        return [content]
    image = described.pop(MCP_IMAGE_KEY)
    return [types.TextContent(type="text", text=json.dumps(described)),
            types.ImageContent(type="image", data=image, mimeType="image/png")]
