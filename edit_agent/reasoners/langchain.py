"""``langchain``: any langchain-core chat model object as the IC-CoT reasoner.

>>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
>>> from edit_agent.records import TurnRequest
>>> from PIL import Image
>>> model = FakeListChatModel(responses=["<think>No history.</think>Make the sky purple."])
>>> image = Image.new("RGB", (8, 8))
>>> request = TurnRequest(instruction="make the sky purple", image=image, source_image=image)
>>> LangChainReasoner(model).reconstruct(request).intent.text
'Make the sky purple.'
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from edit_agent.errors import InvalidArgumentError
from edit_agent.reasoners import iccot
from edit_agent.records import Thought, TurnRequest


class LangChainReasoner:
    """IC-CoT over a langchain-core chat model (OpenAI, Anthropic, Ollama, ... or a fake for tests).

    Args:
        model: the chat model object (what ``--reasoner-model`` cannot name: build it in Python).
    """

    name = "langchain"

    def __init__(self, model: BaseChatModel) -> None:
        if not isinstance(model, BaseChatModel):
            raise InvalidArgumentError(
                f"The langchain reasoner needs a langchain-core chat model object (build it in Python); got "
                f"{type(model).__name__}.")
        self.model = model

    def reconstruct(self, request: TurnRequest) -> Thought:
        messages = [SystemMessage(content=iccot.SYSTEM_PROMPT), HumanMessage(content=iccot.user_prompt(request))]
        reply = self.model.invoke(messages)
        return iccot.parse_output(
            answer_text(reply), request.instruction, iccot.constraints_from_history(request.history)
        )

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "model": type(self.model).__name__}


def answer_text(reply: BaseMessage) -> str:
    """The reply as ``<think>trace</think>answer``.

    Reasoning models return the trace apart from the text: as reasoning content blocks (OpenAI's
    summaries, Anthropic's thinking) or in ``additional_kwargs["reasoning_content"]``; it is put back
    in front so one parser serves all.
    """
    text = reply.text if isinstance(reply.text, str) else str(reply.content)
    trace = _reasoning_trace(reply)
    if trace and "<think>" not in text:
        text = f"<think>{trace}</think>{text}"
    return text


def _reasoning_trace(reply: BaseMessage) -> str | None:
    # langchain-core's standard blocks translate each provider's own reasoning format.
    try:
        blocks = reply.content_blocks
    except (TypeError, ValueError, KeyError, AttributeError):  # a reply it cannot translate
        blocks = []
    parts = [block["reasoning"] for block in blocks
             if isinstance(block, dict) and block.get("type") == "reasoning" and block.get("reasoning")]
    if not parts and isinstance(reply.content, list):  # a thinking block with no provider named to translate it
        parts = [block["thinking"] for block in reply.content
                 if isinstance(block, dict) and block.get("type") == "thinking" and block.get("thinking")]
    return "\n".join(parts) if parts else reply.additional_kwargs.get("reasoning_content")
