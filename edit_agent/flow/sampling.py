"""Samplers for the world editor: the deterministic ODE (Euler) and the Flow-GRPO SDE with log-probs.

Time runs from ``t = 1`` (noise) to ``t = 0`` (the edited image) on the grid of
``FlowMatchEulerDiscreteScheduler`` with ``sigmas = linspace(1, 0, steps + 1)``; each step has
``dt = t_next - t < 0``. The step functions are pure (tensors in, tensors out) so ``rl/`` can use them
directly: run :func:`sample` with an SDE ``window`` to collect a trajectory, then recompute
:func:`sde_log_prob` under the current policy's velocities for the clipped-ratio loss.

SDE step (docs/design.md "RL"):
``sigma_t = a * sqrt(t / (1 - t))``;
``mu = x + v dt + sigma_t^2 / (2 t) * (x + (1 - t) v) * dt``;
``x' = mu + sigma_t * sqrt(-dt) * eps``;
``log p(x') = -||x' - mu||^2 / (2 sigma_t^2 |dt|)``, averaged over elements (the Gaussian's constant
term is dropped: it cancels in the ratio of two policies' probabilities).
``sigma_t`` is infinite at ``t = 1``; there it is evaluated at ``t = T_MAX`` (Flow-GRPO likewise takes the
next grid point), so a window may start at the first step.

>>> x, v = torch.zeros(1, 2), torch.ones(1, 2)
>>> euler_step(x, v, dt=-0.5)
tensor([[-0.5000, -0.5000]])
>>> sde_sigma(torch.tensor(0.5), a=0.7)
tensor(0.7000)
>>> x_next, mu, log_prob = sde_step(x, v, t=0.5, dt=-0.5, a=0.7, noise=torch.zeros(1, 2))
>>> torch.equal(x_next, mu), log_prob
(True, tensor([-0.]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

if TYPE_CHECKING:
    from edit_agent.flow.model import FlowEditorModel

T_MAX = 0.95
"""Largest ``t`` at which ``sigma_t`` is evaluated (it diverges at ``t = 1``)."""

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``velocity(x_t, t)`` with ``t`` a (B,) tensor: the model with its conditioning bound."""


def timesteps(steps: int) -> torch.Tensor:
    """The ``steps + 1`` times from 1 to 0, from ``FlowMatchEulerDiscreteScheduler``.

    >>> timesteps(4)
    tensor([1.0000, 0.7500, 0.5000, 0.2500, 0.0000])
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.0, steps + 1)[:-1].tolist())
    return scheduler.sigmas.clone().float()


def euler_step(x: torch.Tensor, v: torch.Tensor, dt: float | torch.Tensor) -> torch.Tensor:
    """One deterministic (ODE) step: ``x + v dt``."""
    return x + v * dt


def sde_sigma(t: float | torch.Tensor, a: float) -> torch.Tensor:
    """``a * sqrt(t / (1 - t))`` with ``t`` clamped to at most :data:`T_MAX`."""
    t = torch.as_tensor(t, dtype=torch.float32).clamp(max=T_MAX)
    return a * torch.sqrt(t / (1.0 - t))


def sde_mean(x: torch.Tensor, v: torch.Tensor, t: float | torch.Tensor, dt: float | torch.Tensor,
             a: float) -> torch.Tensor:
    """``mu = x + v dt + sigma_t^2 / (2 t) * (x + (1 - t) v) * dt`` (``dt < 0``)."""
    sigma = sde_sigma(t, a).to(x.dtype)
    t = torch.as_tensor(t, dtype=x.dtype)
    return x + v * dt + sigma**2 / (2 * t) * (x + (1 - t) * v) * dt


def sde_log_prob(x_next: torch.Tensor, mu: torch.Tensor, t: float | torch.Tensor, dt: float | torch.Tensor,
                 a: float) -> torch.Tensor:
    """Per-sample ``-||x' - mu||^2 / (2 sigma_t^2 |dt|)`` averaged over the non-batch elements, shape (B,)."""
    sigma = sde_sigma(t, a).to(x_next.dtype)
    dt = abs(float(dt)) if not torch.is_tensor(dt) else dt.abs()
    squared = (x_next - mu) ** 2 / (2 * sigma**2 * dt)
    return -squared.flatten(1).mean(dim=1)


def sde_step(x: torch.Tensor, v: torch.Tensor, *, t: float | torch.Tensor, dt: float | torch.Tensor, a: float,
             noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One stochastic step: ``(x', mu, log_prob)`` with ``x' = mu + sigma_t sqrt(-dt) eps`` (``eps = noise``)."""
    mu = sde_mean(x, v, t, dt, a)
    x_next = mu + sde_sigma(t, a).to(x.dtype) * math.sqrt(float(-dt)) * noise
    return x_next, mu, sde_log_prob(x_next, mu, t, dt, a)


@dataclass
class Trajectory:
    """What :func:`sample` returns: the final sample and, for SDE steps, what ``rl/`` needs."""

    sample: torch.Tensor
    """(B, C, H, W) at ``t = 0``."""
    times: torch.Tensor
    """The ``steps + 1`` times."""
    sde_steps: list[int] = field(default_factory=list)
    """Indices ``k`` of the steps taken with the SDE (from ``times[k]`` to ``times[k + 1]``)."""
    states: list[torch.Tensor] = field(default_factory=list)
    """``x`` before each SDE step."""
    next_states: list[torch.Tensor] = field(default_factory=list)
    """``x'`` after each SDE step."""
    log_probs: list[torch.Tensor] = field(default_factory=list)
    """(B,) log-prob of each SDE step under the sampling policy."""


def sample(velocity: Velocity, noise: torch.Tensor, *, steps: int, window: tuple[int, int] | None = None,
           a: float = 0.7, generator: torch.Generator | None = None) -> Trajectory:
    """Integrate from ``noise`` (t = 1) to t = 0 in ``steps`` steps.

    Steps ``k`` with ``window[0] <= k < window[1]`` are SDE steps (noise drawn from ``generator``), the
    others deterministic Euler steps; ``window=None`` is the plain ODE sampler.

    >>> traj = sample(lambda x, t: x, torch.ones(1, 3), steps=2)
    >>> traj.sample  # v = x: each Euler step multiplies by (1 - 0.5)
    tensor([[0.2500, 0.2500, 0.2500]])
    >>> traj = sample(lambda x, t: x, torch.ones(2, 3), steps=4, window=(1, 3), generator=torch.Generator().manual_seed(0))
    >>> traj.sde_steps, traj.log_probs[0].shape
    ([1, 2], torch.Size([2]))
    """
    times = timesteps(steps).to(noise.device)
    traj = Trajectory(sample=noise, times=times)
    x = noise
    for k in range(steps):
        t, t_next = times[k], times[k + 1]
        dt = float(t_next - t)
        v = velocity(x, t.expand(x.shape[0]))
        if window is not None and window[0] <= k < window[1]:
            eps = torch.randn(x.shape, generator=generator, device="cpu" if generator is None else generator.device,
                              dtype=x.dtype).to(x.device)
            x_next, _, log_prob = sde_step(x, v, t=float(t), dt=dt, a=a, noise=eps)
            traj.sde_steps.append(k)
            traj.states.append(x)
            traj.next_states.append(x_next)
            traj.log_probs.append(log_prob)
            x = x_next
        else:
            x = euler_step(x, v, dt)
    traj.sample = x
    return traj


def gated_edit(model: FlowEditorModel, condition: torch.Tensor, mask: torch.Tensor, text: torch.Tensor,
               noise: torch.Tensor, *, steps: int, window: tuple[int, int] | None = None, a: float = 0.7,
               generator: torch.Generator | None = None, keep_unchanged: bool = True) -> Trajectory:
    """The world editor's edit of ``condition`` (the input on the model canvas) by its encoded intent.

    :func:`sample` over the model's velocity; with ``keep_unchanged`` the returned ``sample`` copies the
    input exactly wherever the model's change gate at the last step is shut (what keeps untouched pixels
    exact). The editor backend and the RL image policy both edit through this, so they give the same pixels.
    """
    from edit_agent.flow.model import MIN_T

    gates: list[torch.Tensor] = []

    def velocity(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x0, gate, _ = model.predict(x_t, t, condition, mask=mask, text=text)
        gates.append(gate)
        return (x_t - x0) / t.clamp(min=MIN_T).view(-1, 1, 1, 1)

    trajectory = sample(velocity, noise, steps=steps, window=window, a=a, generator=generator)
    if keep_unchanged:
        trajectory.sample = torch.where(gates[-1] > 0, trajectory.sample, condition)
    return trajectory
