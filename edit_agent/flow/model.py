"""The world editor's network: a small conditional rectified-flow model over 48x48 world canvases.

Conventions (shared with :mod:`edit_agent.flow.sampling` and ``rl/``): pixels are in [-1, 1];
``x_t = (1 - t) * x_0 + t * noise`` with ``t = 1`` pure noise and ``t = 0`` the edited image, and the
velocity is ``v = noise - x_0`` (the FlowMatchEulerDiscreteScheduler convention: ``x_{t+dt} = x_t + v dt``
with ``dt < 0``).

Architecture: a diffusers ``PixArtTransformer2DModel`` whose patches are the world's cells (16x16 on a
48x48 canvas, so the 9 tokens are the 9 grid cells), conditioned on the timestep by adaLN and on the
intent by cross-attention to a small text transformer trained with it. Its input is the noisy sample
concatenated with the input image (channel concat); its output is a per-pixel feature map that a 1x1
convolution head turns into a correction of the input image and a per-pixel "changes here" logit:
``x_0 = image + sigmoid(gate) * delta``. The gate is also trained directly to predict where the target
differs from the input (see :meth:`FlowEditorModel.predict`), so keeping every untouched pixel exactly
(content consistency) is one easy decision; the delta's layer starts at zero, so an untrained model
copies its input. The velocity follows from the predicted ``x_0``: ``v = (x_t - x_0) / t``.

>>> model = FlowEditorModel(FlowEditorConfig.tiny())
>>> ids, mask = model.tokenizer(["Add a small red circle at the center."])
>>> image = torch.zeros(1, 3, 48, 48)
>>> model.velocity(torch.randn(1, 3, 48, 48), torch.tensor([1.0]), image, ids, mask).shape
torch.Size([1, 3, 48, 48])
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

with warnings.catch_warnings():
    # diffusers imports tqdm.auto, which warns in a notebook without ipywidgets; no progress bar is shown here
    warnings.filterwarnings("ignore", message="IProgress not found")
    from diffusers import PixArtTransformer2DModel
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_model, save_model
from torch import nn

from edit_agent.errors import ModelUnavailableError, one_line
from edit_agent.flow.tokenizer import WORLD_VOCABULARY, WorldTokenizer
from edit_agent.folders import share_weights_like_other_files
from edit_agent.world.scene import CELLS

MIN_T = 1e-3
"""``t`` is clamped to at least this when turning a predicted ``x_0`` into a velocity."""


class FlowEditorConfig(BaseModel):
    """Shape of the network; saved as JSON beside the weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canvas: int = 48
    """Side of the square canvas the model works on (a world canvas: divisible by 3, at least 48)."""
    patch: int = 16
    """Patch side of the transformer; canvas / 3 makes each token one grid cell."""
    width: int = 128
    """Width of the image transformer."""
    heads: int = 4
    """Attention heads of the image transformer (width must divide by it)."""
    layers: int = 4
    """Blocks of the image transformer (self-attention, cross-attention to the text, MLP)."""
    text_width: int = 128
    """Width of the text transformer (and the cross-attention key/value input)."""
    text_heads: int = 4
    text_layers: int = 1
    max_tokens: int = 64
    pixel_features: int = 12
    """Features per pixel that the transformer hands to the per-pixel head."""
    head_width: int = 48
    """Hidden width of the per-pixel head."""
    head_kernel: int = 1
    """Kernel side of the head's convolutions: 1 maps each pixel on its own (the token-to-pixels map of the
    transformer draws every shape); 3 lets the head also smooth and sharpen shapes from their neighbours."""
    head_layers: int = 1
    """Hidden layers of the head (each a convolution of ``head_kernel`` and a SiLU)."""
    vocabulary: tuple[str, ...] = Field(default=WORLD_VOCABULARY)

    @classmethod
    def tiny(cls) -> FlowEditorConfig:
        """A very small configuration for tests."""
        return cls(width=32, heads=2, layers=1, text_width=32, text_heads=2, text_layers=1, pixel_features=4,
                   head_width=8)


class TextEncoder(nn.Module):
    """Token embeddings + learned positions + a small bidirectional transformer."""

    def __init__(self, config: FlowEditorConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(config.vocabulary), config.text_width, padding_idx=0)
        self.position = nn.Parameter(torch.randn(config.max_tokens, config.text_width) * 0.02)
        layer = nn.TransformerEncoderLayer(config.text_width, config.text_heads, 4 * config.text_width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.text_width)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(ids) + self.position[: ids.shape[1]]
        return self.norm(self.encoder(hidden, src_key_padding_mask=~mask))


class CellPatchEmbed(nn.Module):
    """diffusers' patch embedding plus, on each cell's tokens, the projected text embedding of the cell's
    name ("top left", ...): the intent names cells with the same words, so cross-attention from a cell to
    the words that name it starts out easy."""

    def __init__(self, patch_embed: nn.Module, text: TextEncoder, tokenizer: WorldTokenizer, config: FlowEditorConfig):
        super().__init__()
        self.patch_embed = patch_embed
        self.text_embed = text.embed
        grid = config.canvas // config.patch
        names = []
        for row in range(grid):
            for col in range(grid):
                cell = CELLS[(row * 3 // grid) * 3 + col * 3 // grid]
                names.append(tokenizer.encode(cell.replace("-", " ")) + [0] * (2 - len(cell.split("-"))))
        self.register_buffer("cell_words", torch.tensor(names), persistent=False)
        self.project = nn.Linear(config.text_width, config.width)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        words = self.text_embed(self.cell_words).sum(dim=1)  # (tokens, text_width); padding embeds to zero
        return self.patch_embed(latent) + self.project(words)[None]


def pixel_head(config: FlowEditorConfig) -> nn.Sequential:
    """Per-pixel head: (transformer features, input image) -> (delta RGB, gate logit)."""
    layers: list[nn.Module] = []
    channels = config.pixel_features + 3
    for _ in range(config.head_layers):
        layers += [nn.Conv2d(channels, config.head_width, config.head_kernel, padding=config.head_kernel // 2),
                   nn.SiLU()]
        channels = config.head_width
    layers.append(nn.Conv2d(channels, 4, 1))
    return nn.Sequential(*layers)


class FlowEditorModel(nn.Module):
    """Predicts the edited image (and so the velocity) from ``(x_t, t, input image, intent tokens)``."""

    def __init__(self, config: FlowEditorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FlowEditorConfig()
        if config.canvas % config.patch or config.width % config.heads:
            raise ValueError("canvas must be a multiple of patch, and width a multiple of heads")
        self.tokenizer = WorldTokenizer(config.vocabulary, config.max_tokens)
        self.text = TextEncoder(config)
        self.backbone = PixArtTransformer2DModel(
            num_attention_heads=config.heads, attention_head_dim=config.width // config.heads, in_channels=6,
            out_channels=config.pixel_features, num_layers=config.layers, cross_attention_dim=config.text_width,
            sample_size=config.canvas, patch_size=config.patch, use_additional_conditions=False,
            interpolation_scale=1, norm_num_groups=1,
        )
        self.backbone.pos_embed = CellPatchEmbed(self.backbone.pos_embed, self.text, self.tokenizer, config)
        self.head = pixel_head(config)
        # zero-initialised delta: the untrained model copies its input image exactly
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def randomize_output(self, std: float, *, generator: torch.Generator | None = None) -> FlowEditorModel:
        """Random weights (normal, ``std``) for the zero-initialised last layer, so that an untrained model's edits
        depend on its weights and its noise instead of copying the input (tests and smoke runs). Returns ``self``."""
        with torch.no_grad():
            self.head[-1].weight.normal_(0.0, std, generator=generator)
        return self

    def encode_text(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Text states for cross-attention; compute once per sampling run and pass as ``text``."""
        return self.text(ids, mask)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, image: torch.Tensor, ids: torch.Tensor | None = None,
                   mask: torch.Tensor | None = None, *, text: torch.Tensor | None = None) -> torch.Tensor:
        """The edited image the model expects at ``t = 0``; ``t`` is a (B,) tensor in [0, 1]."""
        return self.predict(x_t, t, image, ids, mask, text=text)[0]

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, image: torch.Tensor, ids: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, *, text: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x_0, gate_logits, delta)``: the predicted edit, the (B, 1, H, W) logits of "this pixel changes"
        and the ungated correction (``x_0 = image + sigmoid(gate_logits) * delta``)."""
        if mask is None:
            raise ValueError("pass the token mask with the ids")
        if text is None:
            assert ids is not None
            text = self.encode_text(ids, mask)
        t = t.to(x_t.dtype).expand(x_t.shape[0])
        features = self.backbone(
            torch.cat([x_t, image], dim=1), encoder_hidden_states=text, timestep=t * 1000,
            encoder_attention_mask=mask, added_cond_kwargs={"resolution": None, "aspect_ratio": None},
        ).sample
        out = self.head(torch.cat([features, image], dim=1))
        delta, gate = out[:, :3], out[:, 3:]
        return image + torch.sigmoid(gate) * delta, gate, delta

    def velocity(self, x_t: torch.Tensor, t: torch.Tensor, image: torch.Tensor, ids: torch.Tensor | None = None,
                 mask: torch.Tensor | None = None, *, text: torch.Tensor | None = None) -> torch.Tensor:
        """``v = noise - x_0``, from the predicted ``x_0``: ``(x_t - x_0) / t``."""
        x0 = self.predict_x0(x_t, t, image, ids, mask, text=text)
        t = t.to(x_t.dtype).expand(x_t.shape[0]).clamp(min=MIN_T).view(-1, 1, 1, 1)
        return (x_t - x0) / t

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write ``path`` (safetensors) and ``path`` with suffix ``.json`` (the config)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(self, str(path))  # drops the tied copy of the token embeddings
        share_weights_like_other_files(path)
        path.with_suffix(".json").write_text(self.config.model_dump_json(indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> FlowEditorModel:
        """Load weights saved by :meth:`save` (config from the ``.json`` beside them)."""
        path = Path(path)
        if not path.is_file():
            raise ModelUnavailableError(f"No world editor weights at {path} (a .safetensors file saved by FlowEditorModel.save).")
        try:
            config = FlowEditorConfig.model_validate(json.loads(path.with_suffix(".json").read_text()))
            model = cls(config)
            load_model(model, str(path), device="cpu")
        except Exception as error:  # a missing or damaged .json, a truncated file, other shapes
            raise ModelUnavailableError(
                f"Cannot load world editor weights from {path} (and {path.with_suffix('.json').name} beside it): "
                f"{type(error).__name__}: {one_line(error)}"
            ) from None
        return model.to(device).eval()
