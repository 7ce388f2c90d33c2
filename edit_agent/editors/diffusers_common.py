"""What the diffusers editors share: loading, NF4, offload, LoRA, size keeping, seeding and OOM.

Each editor (``qwen_image_edit``, ``flux_kontext``, ``instruct_pix2pix``) is a
:class:`DiffusersEditor` that names its pipeline class and defaults and says how to call it; it
wraps a diffusers pipeline and never subclasses one.

Size: the input's size and aspect are kept exactly. The image is padded (edge pixels repeated)
to the model's multiple, the pipeline runs at that size (its own resize to ~1024x1024 area is
switched off), and the output is cropped back. ``max_area`` optionally bounds the working size
for very large photos: the image is then scaled down on the way in and back up on the way out,
so the output still has the input's size.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from edit_agent.errors import InvalidArgumentError
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
from edit_agent.records import EditorInfo, Intent

OFFLOADS = (None, "model", "sequential")


class DiffusersEditor:
    """Base of the diffusers editors. Subclasses set the class attributes and ``_run``.

    Args:
        model: a hub id, a local folder, or an already built pipeline of ``pipeline_class``.
        device: where to run; default the first CUDA device, else the CPU.
        dtype: default bfloat16 on CUDA, float32 on CPU.
        quantization: ``"nf4"`` loads the diffusion model and the text encoder(s) in bitsandbytes
            4-bit NF4 (diffusers' bitsandbytes backend needs CUDA; on CPU only the transformers
            text encoders are quantized).
        offload: ``"model"`` (whole models to the GPU in turn) or ``"sequential"`` (layer by layer,
            slowest, least memory); CUDA only.
        num_inference_steps, guidance_scale, true_cfg_scale, negative_prompt: as in diffusers;
            ``None`` means the editor's default (its class attributes).
        max_area: largest working area in pixels (``None``: the image's own size).
        lora: LoRA adapters to load at once, each a folder/file/hub id (see :meth:`load_lora`).
    """

    name: ClassVar[str]
    pipeline_class: ClassVar[type]
    default_model: ClassVar[str]
    default_steps: ClassVar[int]
    default_guidance_scale: ClassVar[float | None] = None
    default_true_cfg_scale: ClassVar[float | None] = None
    default_negative_prompt: ClassVar[str | None] = None
    needs_gpu: ClassVar[bool] = True
    """Whether the default model is too large to edit on a CPU in practice (the app's settings panel
    offers it only with a CUDA GPU; Python code may still run it anywhere)."""
    # Components quantized to NF4: diffusers models and transformers models, by pipeline name.
    diffusers_components: ClassVar[tuple[str, ...]] = ("transformer",)
    transformers_components: ClassVar[tuple[str, ...]] = ("text_encoder",)

    def __init__(
        self,
        model: ModelSource | Any | None = None,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        quantization: str | None = None,
        offload: str | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        true_cfg_scale: float | None = None,
        negative_prompt: str | None = None,
        max_area: int | None = None,
        lora: Sequence[ModelSource] | ModelSource | None = None,
    ) -> None:
        check_quantization(quantization)
        if offload not in OFFLOADS:
            raise InvalidArgumentError(f"Unknown offload {offload!r}; use None, 'model' or 'sequential'.")
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.quantization = quantization
        self.offload = offload if self.device.type == "cuda" else None
        self.num_inference_steps = num_inference_steps or self.default_steps
        self.guidance_scale = guidance_scale if guidance_scale is not None else self.default_guidance_scale
        self.true_cfg_scale = true_cfg_scale if true_cfg_scale is not None else self.default_true_cfg_scale
        self.negative_prompt = negative_prompt if negative_prompt is not None else self.default_negative_prompt
        self.max_area = max_area
        self.model_name, self.pipeline = self._build(model if model is not None else self.default_model)
        self.pipeline.set_progress_bar_config(disable=True)
        self.adapters: list[str] = []
        self._weights: dict[str, float] = {}
        for source in [lora] if isinstance(lora, (str, Path)) else list(lora or ()):
            self.load_lora(source)

    # -- loading ---------------------------------------------------------------------------

    def _build(self, model: ModelSource | Any) -> tuple[str, Any]:
        if not isinstance(model, (str, Path)):
            if not isinstance(model, self.pipeline_class):
                raise TypeError(
                    f"{self.name} needs a {self.pipeline_class.__name__}, a model id or a folder; "
                    f"got {type(model).__name__}."
                )
            name = getattr(model, "name_or_path", None) or type(model).__name__
            # A built pipeline is used in its own dtype (only moved to the device).
            self.dtype = model.dtype
            return str(name), self._place(model)
        source, local_only = resolve_model(model, probe_file="model_index.json")
        with loading_errors(model):
            pipeline = self.pipeline_class.from_pretrained(
                source,
                dtype=self.dtype,
                local_files_only=local_only,
                quantization_config=self._quantization_config(),
                **self._extra_components(source, local_only),
            )
        return str(model), self._place(pipeline)

    def _extra_components(self, source: str, local_only: bool) -> dict[str, Any]:
        """Components the editor must build itself instead of letting diffusers load them."""
        return {}

    def _quantization_config(self) -> Any:
        if self.quantization is None:
            return None
        from diffusers import BitsAndBytesConfig as DiffusersBnbConfig
        from diffusers import PipelineQuantizationConfig

        mapping: dict[str, Any] = {name: nf4_config(self.dtype) for name in self.transformers_components}
        # diffusers' bitsandbytes quantizer refuses to run without a GPU; transformers' does not.
        if self.device.type == "cuda":
            for name in self.diffusers_components:
                mapping[name] = DiffusersBnbConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=self.dtype
                )
        return PipelineQuantizationConfig(quant_mapping=mapping)

    def _place(self, pipeline: Any) -> Any:
        if self.offload == "model":
            pipeline.enable_model_cpu_offload(device=self.device)
        elif self.offload == "sequential":
            pipeline.enable_sequential_cpu_offload(device=self.device)
        else:
            pipeline.to(self.device)
        return pipeline

    # -- LoRA ------------------------------------------------------------------------------

    def load_lora(self, source: ModelSource | dict[str, torch.Tensor], *, adapter_name: str | None = None,
                  weight: float = 1.0, weight_name: str | None = None) -> str:
        """Load a LoRA adapter (folder, file, hub id or state dict) and activate it with ``weight``.

        Several adapters may be active together; returns the adapter's name for :meth:`unload_lora`.
        """
        name = adapter_name or f"adapter_{len(self.adapters)}"
        if isinstance(source, (str, Path)):
            path = Path(source).expanduser()
            if path.is_file():
                source, weight_name = str(path.parent), weight_name or path.name
            elif not path.is_dir():
                resolve_model(source, probe_file=weight_name or "pytorch_lora_weights.safetensors")
        options = {"weight_name": weight_name} if weight_name else {}
        with loading_errors(source if not isinstance(source, dict) else name):
            self.pipeline.load_lora_weights(source, adapter_name=name, **options)
        self.adapters.append(name)
        self._weights[name] = weight
        self.pipeline.set_adapters(self.adapters, adapter_weights=[self._weights[n] for n in self.adapters])
        return name

    def unload_lora(self, adapter_name: str | None = None) -> None:
        """Remove one adapter (by name) or all of them; the base weights are exactly as before."""
        if adapter_name is None:
            self.pipeline.unload_lora_weights()
            self.adapters = []
            return
        if adapter_name not in self.adapters:
            raise InvalidArgumentError(f"No LoRA adapter {adapter_name!r} is loaded; loaded: {self.adapters}.")
        self.pipeline.delete_adapters(adapter_name)
        self.adapters.remove(adapter_name)
        if self.adapters:
            self.pipeline.set_adapters(self.adapters, adapter_weights=[self._weights[n] for n in self.adapters])

    # -- editing ---------------------------------------------------------------------------

    @property
    def multiple(self) -> int:
        """Side multiple the pipeline needs (VAE downscale x latent patch size)."""
        return int(self.pipeline.vae_scale_factor) * 2

    def edit(self, image: Image.Image, intent: Intent, *, seed: int | None = None) -> Image.Image:
        """Edit ``image`` as ``intent.text`` says; the output has the input's size."""
        return self._edit(image, intent, seed=seed)

    def _edit(self, image: Image.Image, intent: Intent, *, seed: int | None, **extra: Any) -> Image.Image:
        source = image.convert("RGB")
        working = fit_area(source, self.max_area, self.multiple)
        padded, box = pad_to_multiple(working, self.multiple)
        # A CPU generator gives the same noise on every device for the same seed.
        generator = torch.Generator("cpu").manual_seed(seed) if seed is not None else None
        with out_of_memory(f"{self.name} ({self.model_name})"), torch.inference_mode():
            output = self._run(padded, intent.text, generator, **extra)
        output = output.convert("RGB").crop(box)
        if output.size != source.size:
            output = output.resize(source.size, Image.Resampling.LANCZOS)
        return output

    def _run(self, image: Image.Image, prompt: str, generator: torch.Generator | None, **extra: Any) -> Image.Image:
        """Call the pipeline at exactly ``image.size`` and return the PIL output."""
        raise NotImplementedError

    def _guidance_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"num_inference_steps": self.num_inference_steps}
        if self.guidance_scale is not None:
            kwargs["guidance_scale"] = self.guidance_scale
        if self.true_cfg_scale is not None:
            kwargs["true_cfg_scale"] = self.true_cfg_scale
        if self.negative_prompt is not None:
            kwargs["negative_prompt"] = self.negative_prompt
        return kwargs

    def info(self) -> EditorInfo:
        extra: dict[str, Any] = {
            "pipeline": type(self.pipeline).__name__,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "quantization": self.quantization,
            "lora": list(self.adapters),
        }
        for key in ("guidance_scale", "true_cfg_scale", "negative_prompt"):
            if getattr(self, key) is not None:
                extra[key] = getattr(self, key)
        return EditorInfo(backend=self.name, model=self.model_name, steps=self.num_inference_steps, extra=extra)


def fit_area(image: Image.Image, max_area: int | None, multiple: int) -> Image.Image:
    """Scale ``image`` down (aspect kept) so its area is at most ``max_area``; else return it."""
    width, height = image.size
    if max_area is None or width * height <= max_area:
        return image
    scale = math.sqrt(max_area / (width * height))
    size = (max(multiple, int(width * scale)), max(multiple, int(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def pad_to_multiple(image: Image.Image, multiple: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Pad ``image`` to sides divisible by ``multiple``, centred, repeating the edge pixels.

    Returns the padded image and the box that crops it back. Edge pixels rather than a flat colour
    so that the model sees no frame to "fix". Centred so the padding is split between both sides.
    """
    width, height = image.size
    new_width = -(-width // multiple) * multiple
    new_height = -(-height // multiple) * multiple
    if (new_width, new_height) == (width, height):
        return image, (0, 0, width, height)
    left, top = (new_width - width) // 2, (new_height - height) // 2
    pixels = np.asarray(image)
    padded = np.pad(
        pixels,
        ((top, new_height - height - top), (left, new_width - width - left), (0, 0)),
        mode="edge",
    )
    return Image.fromarray(padded), (left, top, left + width, top + height)


_PATCH_LOCK = threading.Lock()


class pinned_dimensions:
    """Make a pipeline module's ``calculate_dimensions`` work at the working size, not ~1024x1024.

    Why: Qwen-Image-Edit pipelines resize every input to ~1024x1024 area through the module-level
    ``calculate_dimensions(target_area, ratio)`` and offer no switch. Within this context a call
    for ``target_area`` (the VAE/output area) returns ``size`` at the working image's ratio, and
    for another ratio (a reference image) the same area at that ratio, rounded to ``multiple``.
    Other calls (e.g. the small image given to the text encoder) are left as they were. A lock
    keeps concurrent edits in one process apart.
    """

    def __init__(self, module: Any, size: tuple[int, int], *, target_area: int, multiple: int) -> None:
        self.module, self.size, self.target_area, self.multiple = module, size, target_area, multiple

    def __enter__(self) -> None:
        _PATCH_LOCK.acquire()
        original = self.original = self.module.calculate_dimensions
        width, height = self.size
        multiple = self.multiple

        def calculate_dimensions(target_area: float, ratio: float) -> Any:
            result = original(target_area, ratio)
            if target_area != self.target_area:
                return result
            if math.isclose(ratio, width / height, rel_tol=1e-6):
                new_width, new_height = width, height
            else:
                new_width = max(multiple, round(math.sqrt(width * height * ratio) / multiple) * multiple)
                new_height = max(multiple, round(new_width / ratio / multiple) * multiple)
            return (new_width, new_height, *result[2:])

        self.module.calculate_dimensions = calculate_dimensions

    def __exit__(self, *exc: object) -> None:
        self.module.calculate_dimensions = self.original
        _PATCH_LOCK.release()
