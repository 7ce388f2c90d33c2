"""Rollouts: sessions played turn by turn by the text+image policy, G rollouts per session forming a group.

At each turn the text policy reconstructs the intent from the raw history (as the SDK's reasoners see
it: ``TurnRequest`` with the earlier instructions, reasonings and intents, the current image and the
source image), then the image policy edits the policy's own previous output. Every rollout of every
session advances one turn at a time, so both policies see one batch per turn. The reward scores each
finished rollout as a whole (CC and GA depend on earlier turns).

>>> from edit_agent.flow.model import FlowEditorConfig, FlowEditorModel
>>> from edit_agent.records import Intent, Thought
>>> from edit_agent.world.generator import generate_sessions
>>> from rl.image_policy import FlowImagePolicy
>>> from rl.interfaces import TextSample, TurnScores
>>> class Constant:
...     def score(self, rollout): return [TurnScores(1.0, 1.0, 1.0)] * len(rollout.outputs)
>>> class Raw:  # the raw instruction as the intent
...     trainable = False
...     def sample(self, requests, *, temperature, seed):
...         return [TextSample(Thought(reasoning="", intent=Intent(text=r.instruction)), torch.zeros(0, dtype=torch.long),
...                            torch.zeros(0, dtype=torch.long), torch.zeros(0)) for r in requests]
>>> policy = FlowImagePolicy(FlowEditorModel(FlowEditorConfig.tiny()), steps=2, window=(0, 1))
>>> [group] = collect_groups(generate_sessions(1, turns=3), text_policy=Raw(), image_policy=policy, reward=Constant(),
...                          group_size=2, turns=2, temperature=0.7, seed=0)
>>> len(group.rollouts), len(group.rollouts[0].images), group.tensor("if_").shape
(2, 2, torch.Size([2, 2]))
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from PIL import Image

from edit_agent.records import HistoryTurn, TurnRequest
from edit_agent.world.render import render
from edit_agent.world.sessions import WorldSession
from rl.image_policy import FlowImagePolicy, ImageSample
from rl.interfaces import Reward, RolloutTurns, TextPolicy, TextSample, TurnScores


@dataclass
class Rollout:
    """One play of a session: per turn, the text sample, the image sample and the scores."""

    session: WorldSession
    start_image: Image.Image
    texts: list[TextSample] = field(default_factory=list)
    images: list[ImageSample] = field(default_factory=list)
    scores: list[TurnScores] = field(default_factory=list)

    def history(self) -> tuple[HistoryTurn, ...]:
        """The earlier turns as a reasoner sees them (the policy's own reasonings and intents)."""
        return tuple(
            HistoryTurn(turn_id=f"{self.session.id}:{index}", instruction=turn.instruction,
                        reasoning=text.thought.reasoning, intent=text.thought.intent.text)
            for index, (turn, text) in enumerate(zip(self.session.turns, self.texts), 1)
        )

    def current_image(self) -> Image.Image:
        return self.images[-1].image if self.images else self.start_image


@dataclass
class Group:
    """The G rollouts of one session (the unit of advantage normalisation)."""

    session: WorldSession
    rollouts: list[Rollout]
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of the batch this group was collected in, by part (text, image, reward)."""

    def tensor(self, score: str) -> torch.Tensor:
        """[G, T] of one score field: ``if_``, ``cc`` or ``ga``."""
        return torch.tensor([[getattr(s, score) for s in rollout.scores] for rollout in self.rollouts])


def collect_groups(
    sessions: Sequence[WorldSession], *, text_policy: TextPolicy, image_policy: FlowImagePolicy, reward: Reward,
    group_size: int, turns: int, temperature: float, seed: int, size: int = 96, stochastic: bool = True,
) -> list[Group]:
    """Play the first ``turns`` turns of each session ``group_size`` times and score every turn.

    ``seed`` fixes the text and image noise of the whole batch; each rollout of a group still differs,
    since every rollout draws its own noise from the batch's generator.
    """
    rollouts = [
        Rollout(session=session, start_image=start)
        for session in sessions
        for start in [render(session.start, size)] * group_size
    ]
    seconds = {"text": 0.0, "image": 0.0, "reward": 0.0}
    for turn in range(turns):
        playing = [r for r in rollouts if turn < len(r.session.turns)]
        requests = [
            TurnRequest(instruction=r.session.turns[turn].instruction, history=r.history(), image=r.current_image(),
                        source_image=r.start_image)
            for r in playing
        ]
        started = time.perf_counter()
        texts = text_policy.sample(requests, temperature=temperature, seed=seed * 1000 + turn)
        seconds["text"] += time.perf_counter() - started
        started = time.perf_counter()
        images = image_policy.sample([r.current_image() for r in playing], [t.thought.intent.text for t in texts],
                                     seed=seed * 1000 + turn, stochastic=stochastic)
        seconds["image"] += time.perf_counter() - started
        for rollout, text, image in zip(playing, texts, images):
            rollout.texts.append(text)
            rollout.images.append(image)
    started = time.perf_counter()
    for rollout in rollouts:
        rollout.scores = list(reward.score(_reward_view(rollout)))
    seconds["reward"] = time.perf_counter() - started
    return [
        Group(session=session, rollouts=rollouts[i * group_size:(i + 1) * group_size], seconds=seconds)
        for i, session in enumerate(sessions)
    ]


def _reward_view(rollout: Rollout) -> RolloutTurns:
    return RolloutTurns(
        start_image=rollout.start_image,
        instructions=[turn.instruction for turn in rollout.session.turns[:len(rollout.images)]],
        outputs=[image.image for image in rollout.images],
        intents=[text.thought.intent.text for text in rollout.texts],
        session=rollout.session,
    )
