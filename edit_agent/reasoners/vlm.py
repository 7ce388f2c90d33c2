"""``vlm``: an image-text chat model (Qwen2.5-VL style) as the IC-CoT reasoner; it also sees the current image.

Example (needs the model's weights, so not run as a test)::

    reasoner = VLMReasoner("Qwen/Qwen2.5-VL-7B-Instruct", quantization="nf4")
    reasoner.reconstruct(request).intent.text  # 'Make the red car on the left blue.'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image

from edit_agent.errors import InvalidArgumentError
from edit_agent.hf_loading import ImageOnlyQwen2VLProcessor, ModelSource, loading_errors, resolve_model
from edit_agent.reasoners import iccot
from edit_agent.reasoners.llm import LLMReasoner
from edit_agent.records import Thought, TurnRequest

# Model types whose stock processor needs torchvision (video); they get the image-only one.
_QWEN_VL_TYPES = {"qwen2_vl", "qwen2_5_vl"}


class VLMReasoner(LLMReasoner):
    """IC-CoT reasoner over an image-text-to-text model; options as in :class:`LLMReasoner`, plus

    Args:
        processor: needed with a model object; otherwise loaded beside the model.
        max_image_side: the image is shown to the model at most this large (it only needs the gist).
    """

    name = "vlm"
    default_model = "Qwen/Qwen2.5-VL-3B-Instruct"

    def __init__(
        self,
        model: ModelSource | Any | None = None,
        *,
        processor: Any | None = None,
        max_image_side: int = 448,
        **options: Any,
    ) -> None:
        self.processor = processor
        self.max_image_side = max_image_side
        super().__init__(model if model is not None else self.default_model, tokenizer=processor, **options)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)

    def _load(self, model: Any, processor: Any, gguf_file: str | None) -> tuple[Any, Any, str]:
        if not isinstance(model, (str, Path)):
            if processor is None:
                raise InvalidArgumentError("Pass processor=... with a model object.")
            self.processor = processor
            return super()._load(model, processor, None)
        source, local_only = resolve_model(model, probe_file="config.json")
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        with loading_errors(model):
            config = AutoConfig.from_pretrained(source, local_files_only=local_only)
            processor_class = ImageOnlyQwen2VLProcessor if config.model_type in _QWEN_VL_TYPES else AutoProcessor
            self.processor = processor_class.from_pretrained(source, local_files_only=local_only)
            loaded = AutoModelForImageTextToText.from_pretrained(
                source, local_files_only=local_only, **self._weights_options()
            )
        if self.quantization is None:
            loaded = loaded.to(self.device)
        return loaded.eval(), self.processor, str(model)

    def reconstruct(self, request: TurnRequest) -> Thought:
        messages = iccot.build_messages(request, with_image=True)
        template_owner = self.processor if getattr(self.processor, "chat_template", None) else self.tokenizer
        prompt = template_owner.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(
            text=[prompt + iccot.PREFILL], images=[self._shown(request.image)], return_tensors="pt"
        ).to(self.model.device)
        output = self._decode_new(inputs)
        return iccot.parse_output(
            iccot.PREFILL + output, request.instruction, iccot.constraints_from_history(request.history)
        )

    def _shown(self, image: Image.Image) -> Image.Image:
        shown = image.convert("RGB")
        shown.thumbnail((self.max_image_side, self.max_image_side))
        return shown

    def generate(self, messages: list[dict]) -> str:  # text-only use, e.g. by rl/
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[prompt + iccot.PREFILL], return_tensors="pt").to(self.model.device)
        with torch.inference_mode():
            return self._decode_new(inputs)
