"""What every Hugging Face backend (diffusers editors, transformers reasoners) needs to load a model.

- ``resolve_model``: a model id or a local folder -> where to load it from, or a
  :class:`ModelUnavailableError` at once when the weights are not there and the hub is off.
- ``loading_errors``: turns the loaders' network/cache failures into that same error.
- ``pick_device`` / ``pick_dtype``: bf16 on CUDA, float32 on CPU, both overridable.
- ``nf4_config``: the transformers bitsandbytes 4-bit (NF4) config.
- ``out_of_memory``: CUDA OOM -> :class:`OutOfMemoryError`, with the cache freed first.
- ``ImageOnlyQwen2VLProcessor``: Qwen2-VL's processor without the video processor (see its docstring).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError
from safetensors import SafetensorError
from transformers import Qwen2VLProcessor

from edit_agent.errors import EditAgentError, InvalidArgumentError, ModelUnavailableError, OutOfMemoryError, one_line

ModelSource = str | os.PathLike[str]


@contextlib.contextmanager
def quiet_processor_fallback() -> Iterator[None]:
    """Importing diffusers' pipelines names transformers' CLIP and Siglip image processors; without torchvision
    transformers gives their PIL versions, which serve these pipelines, and warns that it did (at every app start,
    telling the user to install torchvision). The warning is left out for these imports only."""
    logger = logging.getLogger("transformers.utils.import_utils")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def hub_offline() -> bool:
    """True when the hub must not be contacted (``HF_HUB_OFFLINE``, read now, not at import)."""
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(constants.HF_HUB_OFFLINE)


def unavailable(model: ModelSource, why: str) -> ModelUnavailableError:
    """The one message for missing weights: which model, where we looked, how to get it."""
    if _is_local_path(model):  # a folder or file: the cache and `hf download` are beside the point
        relative = "" if Path(model).expanduser().is_absolute() else (
            f" A relative path is read from the current folder ({Path.cwd()}): run from the folder it is relative "
            "to, or give the full path.")
        return ModelUnavailableError(
            f"Model {str(model)!r} is not available: {why}. It names a local folder or file; pass one that "
            f"holds the weights of this kind of model.{relative}"
        )
    return ModelUnavailableError(
        f"Model {str(model)!r} is not available: {why}. Looked in the Hugging Face cache at "
        f"{constants.HF_HUB_CACHE} (set HF_HOME or HF_HUB_CACHE to use another). To fix: on a machine "
        f"with network run `hf download {model}` (and copy the cache here), or pass a local folder "
        "that holds the weights."
    )


def _is_local_path(model: ModelSource) -> bool:
    text = str(model)
    has_folders = text.count("/") > 1  # a hub id has one slash: "rl/adapters/world-lm" is a path
    return isinstance(model, Path) or text.startswith(("/", "./", "../", "~")) or has_folders or Path(text).exists()


def resolve_model(model: ModelSource, *, probe_file: str) -> tuple[str, bool]:
    """Return ``(source, local_files_only)`` for ``from_pretrained``, or raise at once.

    ``probe_file`` is a file every copy of the model has (``model_index.json`` for a diffusers
    pipeline, ``config.json`` for a transformers model); finding it in the cache means the model
    was downloaded.
    """
    if not str(model).strip():  # Path("") is the current folder, which is never meant
        raise unavailable(model, "no model was named")
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), True
    text = str(model)
    if path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1:
        raise unavailable(model, f"no folder at {path}")
    cached = try_to_load_from_cache(text, probe_file)
    if isinstance(cached, str):
        # In the cache: never touch the network (no ETag round trip that could hang).
        return text, True
    if hub_offline():
        raise unavailable(model, "it is not in the cache and the hub is disabled (HF_HUB_OFFLINE=1)")
    return text, False


@contextlib.contextmanager
def loading_errors(model: ModelSource) -> Iterator[None]:
    """Report a failed download or an incomplete cache as :class:`ModelUnavailableError`."""
    try:
        yield
    except EditAgentError:
        raise
    # A folder or file that is not a model of this kind makes the libraries raise ValueError
    # ("Couldn't instantiate the backend tokenizer", "not a GGUF file"), not OSError.
    except ImportError as error:  # an optional library the format needs (gguf for a .gguf file)
        package = error.name or "the package it names"
        raise ModelUnavailableError(f"Model {str(model)!r} needs the Python package {package} to load "
                                    f"({one_line(error)}). To fix: pip install {package}.") from error
    # A damaged weights file raises safetensors' own error.
    except (OSError, HfHubHTTPError, ValueError, SafetensorError) as error:
        raise unavailable(model, f"loading failed ({type(error).__name__}: {one_line(error)})") from error


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else the first CUDA device when there is one, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``dtype`` if given (``"bfloat16"`` or ``torch.bfloat16``), else bf16 on CUDA and float32 on CPU.

    float32 on CPU because CPU bf16 kernels are slow or missing for many layers.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(resolved, torch.dtype):
            raise InvalidArgumentError(f"Unknown dtype {dtype!r}; use e.g. 'bfloat16', 'float16' or 'float32'.")
        return resolved
    return torch.bfloat16 if device.type == "cuda" else torch.float32


QUANTIZATIONS = (None, "nf4")


def check_quantization(quantization: str | None) -> None:
    if quantization not in QUANTIZATIONS:
        raise InvalidArgumentError(f"Unknown quantization {quantization!r}; use None or 'nf4'.")


def nf4_config(compute_dtype: torch.dtype) -> Any:
    """transformers' bitsandbytes 4-bit NF4 config (bitsandbytes also runs it on CPU)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute_dtype,
    )


def free_accelerator_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def out_of_memory(what: str) -> Iterator[None]:
    """Turn a CUDA out-of-memory error into :class:`OutOfMemoryError` after freeing the cache.

    The exception is re-raised outside the ``except`` block so that its traceback (which holds the
    frames and with them the activations) is gone before the cache is emptied.
    """
    failed: BaseException | None = None
    try:
        yield
    except torch.OutOfMemoryError as error:
        failed = error
    if failed is None:
        return
    message = str(failed).splitlines()[0] if str(failed) else "CUDA out of memory"
    del failed
    free_accelerator_memory()
    raise OutOfMemoryError(
        f"{what} ran out of device memory ({message}). Memory was freed; nothing changed. "
        "To fix: a smaller image, fewer steps, quantization='nf4', or offload='model'."
    )


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    """Qwen2-VL / Qwen2.5-VL processor for text and images, without the video processor.

    Why: transformers' video processors need torchvision; without it the stock processor fails its
    argument check (``VIDEO_PROCESSOR_MAPPING has no attribute _extra_content``) before any image is
    seen. Dropping the video attribute keeps images, saving and ``from_pretrained`` working.
    """

    @classmethod
    def get_attributes(cls) -> list[str]:
        return [name for name in super().get_attributes() if name != "video_processor"]
