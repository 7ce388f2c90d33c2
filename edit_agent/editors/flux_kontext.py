"""``flux-kontext``: FLUX.1 Kontext (FluxKontextPipeline) by id, folder or pipeline object.

Example (needs the model's weights, so not run as a test)::

    editor = FluxKontextEditor("black-forest-labs/FLUX.1-Kontext-dev", quantization="nf4")
    editor.edit(image, Intent(text="Add snow on the roof."), seed=0).size == image.size  # True
"""

from __future__ import annotations

import torch
from PIL import Image

from edit_agent.hf_loading import quiet_processor_fallback

with quiet_processor_fallback():
    from diffusers import FluxKontextPipeline

from edit_agent.editors.diffusers_common import DiffusersEditor


class FluxKontextEditor(DiffusersEditor):
    """FLUX.1 Kontext; options as in :class:`~edit_agent.editors.diffusers_common.DiffusersEditor`.

    Kontext is guidance-distilled: ``guidance_scale`` is the embedded guidance (2.5 on its model
    card); true CFG (``true_cfg_scale`` > 1 with a ``negative_prompt``) is off unless asked for.
    """

    name = "flux-kontext"
    pipeline_class = FluxKontextPipeline
    default_model = "black-forest-labs/FLUX.1-Kontext-dev"
    default_steps = 28
    default_guidance_scale = 2.5
    # The CLIP encoder is small; the T5 encoder (4.7B) is the one worth quantizing.
    transformers_components = ("text_encoder_2",)

    def _run(self, image: Image.Image, prompt: str, generator: torch.Generator | None) -> Image.Image:
        width, height = image.size
        result = self.pipeline(
            image=image,
            prompt=prompt,
            height=height,
            width=width,
            # max_area equal to the image's own area and no snapping to Kontext's preferred
            # resolutions: the pipeline then works at exactly this size.
            max_area=width * height,
            _auto_resize=False,
            generator=generator,
            **self._guidance_kwargs(),
        )
        return result.images[0]
