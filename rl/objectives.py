"""The pieces of the Edit-R2 objective as pure functions: rewards, group advantages, the
trajectory-filter mask, and the clipped-ratio policy loss shared by the text and image sides.

Shapes: ``G`` rollouts of the same session form a group, each with ``T`` turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RewardWeights:
    """Per-turn reward = IF * if_ + CC * cc + GA * ga (Edit-R2 uses .3/.3/.4)."""

    if_: float = 0.3
    cc: float = 0.3
    ga: float = 0.4


def turn_rewards(
    if_scores: torch.Tensor, cc_scores: torch.Tensor, ga_scores: torch.Tensor, weights: RewardWeights = RewardWeights()
) -> torch.Tensor:
    """Weighted per-turn reward, elementwise over any shape.

    >>> turn_rewards(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([0.5, 1.0]))
    tensor([0.8000, 0.7000])
    """
    return weights.if_ * if_scores + weights.cc * cc_scores + weights.ga * ga_scores


def rewards_to_go(rewards: torch.Tensor) -> torch.Tensor:
    """Each turn's reward plus every later turn's: ``[G, T] -> [G, T]``.

    Credits a turn with what follows from it: an intent that drops a standing constraint is
    only punished at the later turns whose global awareness it breaks.

    >>> rewards_to_go(torch.tensor([[1.0, 0.5, 0.25]]))
    tensor([[1.7500, 0.7500, 0.2500]])
    """
    return rewards.flip(-1).cumsum(-1).flip(-1)


def group_advantages(rewards: torch.Tensor, *, eps: float = 1e-4, clip: float = 5.0) -> torch.Tensor:
    """GRPO advantages: normalise each turn's rewards over the group (dim 0), then clip.

    ``rewards``: [G, T]. A group whose rewards are all equal gets zero advantage (no signal).

    >>> group_advantages(torch.tensor([[1.0], [0.0]])).round(decimals=3)
    tensor([[ 0.7070],
            [-0.7070]])
    >>> group_advantages(torch.tensor([[0.5], [0.5]]))
    tensor([[0.],
            [0.]])
    """
    mean = rewards.mean(dim=0, keepdim=True)
    std = rewards.std(dim=0, keepdim=True, unbiased=True) if rewards.shape[0] > 1 else torch.zeros_like(mean)
    return ((rewards - mean) / (std + eps)).clamp(-clip, clip)


def trajectory_filter_mask(if_scores: torch.Tensor, *, threshold: float = 0.0) -> torch.Tensor:
    """1 where a turn gets gradient, 0 after the first turn whose IF is below or at ``threshold``.

    A turn built on an image that an earlier turn already corrupted would be judged on a state
    the policy did not intend (state contamination), so the turns after a failure are dropped;
    the failing turn itself keeps its gradient (it is where the failure happened).
    With Edit-R2's threshold of 0, IF is 0/1 and "IF <= 0" means the turn failed.

    ``if_scores``: [G, T] -> mask [G, T] of 0./1.

    >>> trajectory_filter_mask(torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]]))
    tensor([[1., 1., 0., 0.],
            [1., 1., 1., 1.]])
    """
    failed = (if_scores <= threshold).float()
    failed_before = torch.cumsum(failed, dim=-1) - failed  # failures strictly before each turn
    return (failed_before == 0).float()


def filtered_fraction(mask: torch.Tensor) -> float:
    """Fraction of turns that get no gradient.

    >>> filtered_fraction(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    0.5
    """
    return float(1.0 - mask.float().mean())


def clipped_policy_loss(
    logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, *, clip_eps: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO/GRPO clipped-ratio loss per element, and whether each element was clipped.

    All tensors broadcast together (e.g. per token or per SDE step, with the advantage of its turn).
    Returns ``(loss, clipped)``; average ``loss`` under whatever mask applies.

    >>> loss, clipped = clipped_policy_loss(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([2.0]))
    >>> loss, clipped
    (tensor([-2.]), tensor([False]))
    """
    ratio = torch.exp(logp_new - logp_old)
    unclipped = ratio * advantages
    clipped_ratio = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    loss = -torch.minimum(unclipped, clipped_ratio)
    return loss, clipped_ratio < unclipped


def gaussian_kl_same_sigma(mean: torch.Tensor, reference_mean: torch.Tensor, sigma_squared: torch.Tensor) -> torch.Tensor:
    """KL between two Gaussian SDE steps with the same variance, averaged over all but dim 0.

    KL(N(mu, s^2) || N(mu_ref, s^2)) = ||mu - mu_ref||^2 / (2 s^2) per element.

    >>> gaussian_kl_same_sigma(torch.ones(1, 4), torch.zeros(1, 4), torch.tensor(0.5))
    tensor([1.])
    """
    kl = (mean - reference_mean) ** 2 / (2 * sigma_squared)
    return kl.flatten(1).mean(dim=1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is 1 (0 when nothing is selected).

    >>> masked_mean(torch.tensor([1.0, 3.0, 100.0]), torch.tensor([1.0, 1.0, 0.0]))
    tensor(2.)
    """
    mask = mask.to(values.dtype).expand_as(values)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)
