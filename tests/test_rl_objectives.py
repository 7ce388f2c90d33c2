"""The Edit-R2 objective's pure functions."""

from __future__ import annotations

import torch

from rl.objectives import (
    clipped_policy_loss,
    filtered_fraction,
    group_advantages,
    masked_mean,
    rewards_to_go,
    trajectory_filter_mask,
    turn_rewards,
)


def test_filtered_turns_get_exactly_zero_gradient():
    logp = torch.zeros(2, 3, requires_grad=True)  # [G, T] log-prob per turn of the new policy
    if_scores = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    rewards = turn_rewards(if_scores, torch.ones(2, 3), torch.ones(2, 3))
    advantages = group_advantages(rewards)
    mask = trajectory_filter_mask(if_scores)
    loss, _ = clipped_policy_loss(logp, logp.detach(), advantages)
    masked_mean(loss, mask).backward()
    assert logp.grad[0, 2] == 0  # after the failure at turn 2: no gradient
    assert logp.grad[0, 1] != 0  # the failing turn itself learns
    assert abs(filtered_fraction(mask) - 1 / 6) < 1e-6


def test_advantages_are_normalised_per_turn_over_the_group():
    rewards = torch.tensor([[1.0, 0.2], [0.0, 0.2], [0.5, 0.2]])
    advantages = group_advantages(rewards)
    assert torch.allclose(advantages[:, 0].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(advantages[:, 0].std(), torch.tensor(1.0), atol=1e-3)
    assert torch.equal(advantages[:, 1], torch.zeros(3))
    assert group_advantages(torch.tensor([[100.0], [0.0]]) * 1e6, clip=2.0).abs().max() <= 2.0


def test_clipping_stops_the_ratio_from_running_away():
    old = torch.zeros(4)
    new = torch.log(torch.tensor([0.5, 0.9, 1.1, 1.5]))
    positive, clipped = clipped_policy_loss(new, old, torch.ones(4), clip_eps=0.2)
    assert torch.allclose(positive, -torch.tensor([0.5, 0.9, 1.1, 1.2]))
    assert clipped.tolist() == [False, False, False, True]
    negative, clipped = clipped_policy_loss(new, old, -torch.ones(4), clip_eps=0.2)
    assert torch.allclose(negative, torch.tensor([0.8, 0.9, 1.1, 1.5]))
    assert clipped.tolist() == [True, False, False, False]


def test_filter_threshold_is_configurable():
    scores = torch.tensor([[0.9, 0.4, 0.9]])
    assert trajectory_filter_mask(scores, threshold=0.5).tolist() == [[1.0, 1.0, 0.0]]
    assert trajectory_filter_mask(scores, threshold=0.0).tolist() == [[1.0, 1.0, 1.0]]


def test_return_credit_blames_the_turn_whose_consequences_fail_later():
    """Both rollouts score the same at turns 1-2; rollout 0 then loses at turn 3 (say, a dropped constraint)."""
    rewards = torch.tensor([[1.0, 1.0, 0.2], [1.0, 1.0, 1.0]])
    assert torch.equal(group_advantages(rewards)[:, :2], torch.zeros(2, 2))
    by_return = group_advantages(rewards_to_go(rewards))
    assert (by_return[0] < 0).all() and (by_return[1] > 0).all()
    assert torch.allclose(rewards_to_go(rewards)[:, 0], rewards.sum(dim=1))
