"""The world editor as an RL policy: Flow-GRPO sampling with an SDE window, and the step log-probs the loss needs.

Sampling runs the editor's flow from seeded noise over ``steps`` steps; the steps inside ``window`` are
stochastic (the Flow-GRPO SDE of :mod:`edit_agent.flow.sampling`), the others deterministic Euler steps,
so exploration happens where it is cheap to score and the rest stays the editor's own ODE. Each SDE
transition ``(x_t, x_next, t, dt)`` is kept with its log-prob; :meth:`FlowImagePolicy.forward` recomputes
those log-probs under the current parameters (with grad) and the KL of each step's mean to the frozen
reference, as Flow-GRPO does. Images go to the model canvas and back with the same functions as
:class:`~edit_agent.editors.world.WorldEditor`, so an output has the input's size and exact palette colours.

``finetune="lora"`` puts peft LoRA adapters on the transformer blocks and the per-pixel head (the frozen
base with adapters disabled is the reference, so no second copy is held); ``finetune="full"`` trains
every weight against a frozen copy.

>>> from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
>>> from edit_agent.world import Scene, render
>>> policy = FlowImagePolicy(FlowEditorModel(FlowEditorConfig.tiny()), steps=3, window=(1, 2))
>>> [sample] = policy.sample([render(Scene(background="white"), 96)], ["Change the background to gray."], seed=0)
>>> sample.image.size, tuple(sample.states.shape), tuple(sample.old_log_probs.shape)
((96, 96), (1, 3, 48, 48), (1,))
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from edit_agent.flow.canvas import from_model_canvas_keeping_input, to_model_canvas, to_pixels, to_tensor
from edit_agent.flow.model import FlowEditorModel
from edit_agent.flow.sampling import gated_edit, sde_log_prob, sde_mean, sde_sigma
from edit_agent.folders import share_weights_like_other_files
from rl.objectives import gaussian_kl_same_sigma

Finetune = Literal["lora", "full"]


@dataclass
class ImageSample:
    """One sampled edit and the SDE transitions it took (all tensors on the CPU, no grad)."""

    image: Image.Image
    """The edited image at the input's size (what the next turn starts from)."""
    condition: torch.Tensor
    """(3, H, W) the input on the model canvas, in [-1, 1]."""
    intent: str
    """The text the editor was conditioned on."""
    states: torch.Tensor
    """(W, 3, H, W) ``x_t`` before each SDE step."""
    next_states: torch.Tensor
    """(W, 3, H, W) ``x_next`` after each SDE step."""
    times: torch.Tensor
    """(W,) ``t`` of each SDE step."""
    dts: torch.Tensor
    """(W,) ``dt`` of each SDE step (negative)."""
    old_log_probs: torch.Tensor
    """(W,) log-prob of each SDE step under the policy that sampled it."""


@dataclass
class StepLogProbs:
    """What :meth:`FlowImagePolicy.forward` returns for N samples of W SDE steps."""

    log_probs: torch.Tensor
    """(N, W) under the current parameters, with grad."""
    kl: torch.Tensor
    """(N, W) KL of each step's Gaussian to the reference model's (same variance), with grad."""


def lora_targets(model: FlowEditorModel) -> list[str]:
    """Names of the layers that get adapters: every linear/conv layer of the transformer blocks and the head.

    The blocks carry the text-conditioned edit and the head turns it into pixels and the change gate;
    the text encoder, patch embedding and timestep embedding stay frozen (shared by every edit).
    """
    return [
        name for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv2d)) and name.startswith(("backbone.transformer_blocks.", "head."))
    ]


class FlowImagePolicy(nn.Module):
    """A world editor that samples with log-probs and scores its own transitions.

    It is an ``nn.Module`` whose ``forward`` is the log-prob recomputation, so ``accelerate`` can wrap it
    (DDP/FSDP) and synchronise its gradients; sampling goes through the unwrapped module.
    """

    def __init__(self, model: FlowEditorModel, *, steps: int = 4, window: tuple[int, int] = (1, 3), a: float = 0.7,
                 finetune: Finetune = "full", lora_rank: int = 8, lora_alpha: int = 16,
                 keep_unchanged: bool = True) -> None:
        super().__init__()
        if not 0 <= window[0] < window[1] <= steps:
            raise ValueError(f"window must be a non-empty range of step indices within 0..{steps}; got {window}")
        self.steps, self.window, self.a = steps, (int(window[0]), int(window[1])), a
        self.finetune: Finetune = finetune
        self.keep_unchanged = keep_unchanged
        """Copy the input wherever the change gate (last step) is shut, as the shipped editor does."""
        if finetune == "lora":
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(r=lora_rank, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules=lora_targets(model))
            self.network = get_peft_model(model, config)
            self.reference = None
        elif finetune == "full":
            self.network = model
            self.reference = copy.deepcopy(model).requires_grad_(False).eval()
        else:
            raise ValueError(f"finetune must be 'lora' or 'full'; got {finetune!r}")

    @property
    def model(self) -> FlowEditorModel:
        """The editor with its current (trained) parameters."""
        return self.network.get_base_model() if self.finetune == "lora" else self.network

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        return (p for p in self.network.parameters() if p.requires_grad)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, images: Sequence[Image.Image], intents: Sequence[str], *, seed: int,
               stochastic: bool = True) -> list[ImageSample]:
        """Edit each image by its intent (one batch); ``stochastic=False`` is the plain ODE (evaluation)."""
        model, device = self.model, self.device
        model_inputs = [to_model_canvas(image, model.config.canvas) for image in images]
        condition = torch.cat([to_tensor(pixels) for pixels in model_inputs]).to(device)
        ids, mask = model.tokenizer(list(intents))
        ids, mask = ids.to(device), mask.to(device)
        text = model.encode_text(ids, mask)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(condition.shape, generator=generator).to(device)
        trajectory = gated_edit(model, condition, mask, text, noise, steps=self.steps,
                                window=self.window if stochastic else None, a=self.a, generator=generator,
                                keep_unchanged=self.keep_unchanged)
        pixels = to_pixels(trajectory.sample)
        times = trajectory.times.cpu()
        window = trajectory.sde_steps
        samples = []
        for b, image in enumerate(images):
            samples.append(ImageSample(
                image=from_model_canvas_keeping_input(image, model_inputs[b], pixels[b]),
                condition=condition[b].cpu(), intent=intents[b],
                states=_stack([s[b] for s in trajectory.states], condition[b]),
                next_states=_stack([s[b] for s in trajectory.next_states], condition[b]),
                times=times[window], dts=times[[k + 1 for k in window]] - times[window],
                old_log_probs=torch.stack([lp[b] for lp in trajectory.log_probs]).cpu() if window else torch.zeros(0),
            ))
        return samples

    # ------------------------------------------------------------------ scoring stored transitions
    def forward(self, samples: Sequence[ImageSample]) -> StepLogProbs:
        """Log-probs (with grad) and KL to the reference of the stored SDE steps of ``samples``."""
        model, device = self.model, self.device
        n, w = len(samples), samples[0].states.shape[0]
        states = torch.cat([s.states for s in samples]).to(device)
        next_states = torch.cat([s.next_states for s in samples]).to(device)
        t = torch.cat([s.times for s in samples]).to(device).view(-1, 1, 1, 1)
        dt = torch.cat([s.dts for s in samples]).to(device).view(-1, 1, 1, 1)
        condition = torch.stack([s.condition for s in samples]).to(device).repeat_interleave(w, dim=0)
        ids, mask = model.tokenizer([s.intent for s in samples])
        ids, mask = ids.to(device).repeat_interleave(w, dim=0), mask.to(device).repeat_interleave(w, dim=0)

        mean = sde_mean(states, model.velocity(states, t.flatten(), condition, ids, mask), t, dt, self.a)
        log_probs = sde_log_prob(next_states, mean, t, dt, self.a)
        with torch.no_grad():
            reference_mean = sde_mean(states, self._reference_velocity(states, t.flatten(), condition, ids, mask),
                                      t, dt, self.a)
        variance = sde_sigma(t, self.a).to(states.dtype) ** 2 * dt.abs()
        kl = gaussian_kl_same_sigma(mean, reference_mean, variance)
        return StepLogProbs(log_probs=log_probs.view(n, w), kl=kl.view(n, w))

    def _reference_velocity(self, *args: torch.Tensor) -> torch.Tensor:
        if self.reference is not None:
            return self.reference.velocity(*args)
        with self.network.disable_adapter():
            return self.model.velocity(*args)

    # ------------------------------------------------------------------ persistence
    def trained_state(self) -> dict[str, torch.Tensor]:
        """What training changes (the adapters, or every weight), for checkpoints."""
        names = {name for name, p in self.network.named_parameters() if p.requires_grad}
        return {name: value.detach().cpu().contiguous() for name, value in self.network.state_dict().items()
                if name in names}

    def save(self, folder: str | Path) -> None:
        """Write the trained state (``image_policy.safetensors``) and an editor-ready ``world_editor.safetensors``.

        The second is a plain :class:`FlowEditorModel` (adapters merged), loadable by ``WorldEditor(model=path)``.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(self.trained_state(), str(folder / "image_policy.safetensors"))
        self.editor_model().save(folder / "world_editor.safetensors")
        share_weights_like_other_files(folder)

    def load(self, folder: str | Path) -> None:
        """Load a trained state written by :meth:`save` into this policy (same finetune kind and shapes)."""
        state = load_file(str(Path(folder) / "image_policy.safetensors"), device=str(self.device))
        missing = set(self.trained_state()) - set(state)
        if missing:
            raise ValueError(f"{folder} holds no values for {len(missing)} trained tensors (e.g. {sorted(missing)[0]})")
        self.network.load_state_dict(state, strict=False)

    def editor_model(self) -> FlowEditorModel:
        """A standalone copy of the current editor (adapters merged into the weights)."""
        if self.finetune == "full":
            return copy.deepcopy(self.model).eval()
        from peft.tuners.lora import LoraLayer

        # peft's merge_and_unload expects a transformers-style config; merging layer by layer and renaming
        # "<layer>.base_layer.<param>" back to "<layer>.<param>" gives the same plain model
        merged = copy.deepcopy(self.model)
        for module in merged.modules():
            if isinstance(module, LoraLayer):
                module.merge()
        state = {name.replace(".base_layer.", "."): value for name, value in merged.state_dict().items()
                 if "lora_" not in name}
        editor = FlowEditorModel(self.model.config)
        editor.load_state_dict(state)
        return editor.to(self.device).eval()


def _stack(states: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    if not states:
        return like.new_zeros((0, *like.shape)).cpu()
    return torch.stack(states).cpu()
