"""``qwen-image-edit``: Qwen-Image-Edit (QwenImageEditPipeline) and its several-image Plus
versions 2509/2511 (QwenImageEditPlusPipeline), which also take reference images.

Example (needs the model's weights, so not run as a test)::

    editor = QwenImageEditEditor("Qwen/Qwen-Image-Edit-2509", quantization="nf4")
    editor.edit(image, Intent(text="Make the car red."), seed=0).size == image.size  # True
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from diffusers import QwenImageEditPipeline, QwenImageEditPlusPipeline
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit, pipeline_qwenimage_edit_plus
from PIL import Image

from edit_agent.editors.diffusers_common import DiffusersEditor, pinned_dimensions
from edit_agent.hf_loading import ImageOnlyQwen2VLProcessor, ModelSource
from edit_agent.records import Intent

# The area both pipelines resize their input and output to (1024 * 1024 in their source).
_PIPELINE_AREA = 1024 * 1024
_PLUS_MARKERS = ("2509", "2511", "plus")


def _is_plus(model: object) -> bool:
    """Whether ``model`` is a Plus pipeline: what its ``model_index.json`` says (a local folder or the
    Hub cache), else the markers in its name (2509, 2511, plus)."""
    if not isinstance(model, str | Path):
        return False
    index: Path | None = Path(model) / "model_index.json"
    if not index.is_file():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(str(model), "model_index.json")
        except ValueError:  # a path that is not there is no repo id either; loading reports it
            cached = None
        index = Path(cached) if isinstance(cached, str) else None
    if index is not None:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(index.read_text(encoding="utf-8")).get("_class_name") == "QwenImageEditPlusPipeline"
    return any(mark in Path(str(model)).name.lower() for mark in _PLUS_MARKERS)


class QwenImageEditEditor(DiffusersEditor):
    """Qwen-Image-Edit by id, folder or pipeline object.

    Args:
        model: default ``Qwen/Qwen-Image-Edit``; an id or folder whose ``model_index.json`` names
            QwenImageEditPlusPipeline (without one at hand: whose name has 2509/2511/plus), or a
            QwenImageEditPlusPipeline object, selects the Plus pipeline.
        plus: force the Plus pipeline (True) or the single-image one (False).
        **options: see :class:`~edit_agent.editors.diffusers_common.DiffusersEditor`.

    True CFG stays on by default: these pipelines only apply ``true_cfg_scale`` when a negative
    prompt is given, so the default negative prompt is a single space, as the model cards do.
    """

    name = "qwen-image-edit"
    default_model = "Qwen/Qwen-Image-Edit"
    default_steps = 50
    default_true_cfg_scale = 4.0
    default_negative_prompt = " "

    def __init__(self, model: ModelSource | Any | None = None, *, plus: bool | None = None, **options: Any) -> None:
        if plus is None:
            if isinstance(model, QwenImageEditPlusPipeline):
                plus = True
            else:
                plus = _is_plus(model)
        self.plus = plus
        self.pipeline_class = QwenImageEditPlusPipeline if plus else QwenImageEditPipeline
        self._module = pipeline_qwenimage_edit_plus if plus else pipeline_qwenimage_edit
        super().__init__(model, **options)
        if isinstance(getattr(self.pipeline, "processor", None), ImageOnlyQwen2VLProcessor):
            # Saved as the hub snapshots name it, so that a folder written by ``pipeline.save_pretrained``
            # loads again (diffusers cannot check a processor class from our module against its own).
            self.pipeline.register_to_config(processor=("transformers", "Qwen2VLProcessor"))

    def _extra_components(self, source: str, local_only: bool) -> dict[str, Any]:
        # The stock Qwen2VLProcessor cannot be built without torchvision (its video processor).
        processor = ImageOnlyQwen2VLProcessor.from_pretrained(
            source, subfolder="processor", local_files_only=local_only
        )
        return {"processor": processor}

    def edit(
        self,
        image: Image.Image,
        intent: Intent,
        *,
        seed: int | None = None,
        reference_images: Sequence[Image.Image] = (),
    ) -> Image.Image:
        """Edit ``image``; with a Plus model, ``reference_images`` are shown after it (Picture 2, 3...)."""
        if reference_images and not self.plus:
            raise ValueError(
                "Reference images need a Qwen-Image-Edit Plus model (e.g. Qwen/Qwen-Image-Edit-2509); "
                f"{self.model_name!r} takes one image."
            )
        references = [reference.convert("RGB") for reference in reference_images]
        return self._edit(image, intent, seed=seed, references=references)

    def _run(
        self,
        image: Image.Image,
        prompt: str,
        generator: torch.Generator | None,
        references: Sequence[Image.Image] = (),
    ) -> Image.Image:
        width, height = image.size
        inputs: Any = [image, *references] if self.plus else image
        with pinned_dimensions(self._module, image.size, target_area=_PIPELINE_AREA, multiple=self.multiple):
            result = self.pipeline(
                image=inputs,
                prompt=prompt,
                height=height,
                width=width,
                generator=generator,
                **self._guidance_kwargs(),
            )
        return result.images[0]
