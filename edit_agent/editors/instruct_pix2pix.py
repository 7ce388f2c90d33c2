"""``instruct-pix2pix``: InstructPix2Pix (StableDiffusionInstructPix2PixPipeline) by id, folder or object.

Example (needs the model's weights, so not run as a test)::

    editor = InstructPix2PixEditor("timbrooks/instruct-pix2pix")
    editor.edit(image, Intent(text="Turn it into a watercolour."), seed=0).size == image.size  # True
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from edit_agent.hf_loading import ModelSource, quiet_processor_fallback

with quiet_processor_fallback():
    from diffusers import StableDiffusionInstructPix2PixPipeline

from edit_agent.editors.diffusers_common import DiffusersEditor


class InstructPix2PixEditor(DiffusersEditor):
    """InstructPix2Pix; options as in :class:`~edit_agent.editors.diffusers_common.DiffusersEditor`, plus

    Args:
        image_guidance_scale: how closely to stay with the input image (diffusers' name; 1.5).
    """

    name = "instruct-pix2pix"
    pipeline_class = StableDiffusionInstructPix2PixPipeline
    default_model = "timbrooks/instruct-pix2pix"
    default_steps = 20
    default_guidance_scale = 7.5
    needs_gpu = False  # Stable Diffusion 1.5 size (about 1B parameters): it runs on a CPU, slowly
    diffusers_components = ("unet",)
    transformers_components = ("text_encoder",)

    def __init__(
        self, model: ModelSource | Any | None = None, *, image_guidance_scale: float = 1.5, **options: Any
    ) -> None:
        self.image_guidance_scale = image_guidance_scale
        super().__init__(model, **options)

    @property
    def multiple(self) -> int:
        # The UNet copes with any latent size; only the VAE's factor matters.
        return int(self.pipeline.vae_scale_factor)

    def _run(self, image: Image.Image, prompt: str, generator: torch.Generator | None) -> Image.Image:
        result = self.pipeline(
            image=image,
            prompt=prompt,
            image_guidance_scale=self.image_guidance_scale,
            generator=generator,
            **self._guidance_kwargs(),
        )
        return result.images[0]

    def info(self):  # same type as the base
        base = super().info()
        return base.model_copy(update={"extra": {**base.extra, "image_guidance_scale": self.image_guidance_scale}})
