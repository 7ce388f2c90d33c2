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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import torch
from PIL import Image

from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.records import HistoryTurn, Thought, TurnRequest
from edit_agent.world.interpreter import WorldInterpreter
from edit_agent.world.render import render
from edit_agent.world.sessions import WorldSession
from rl.image_policy import FlowImagePolicy, ImageSample
from rl.interfaces import Reward, RolloutTurns, TextPolicy, TextSample, TurnScores


def session_requests(session: WorldSession, reasoner: Any, *, size: int = 96) -> Iterator[tuple[TurnRequest, Thought]]:
    """Each turn's request as the SDK builds it (raw history, the previous image, the source) and
    ``reasoner``'s thought; the image of each turn is the render of the previous target."""
    world = WorldInterpreter(session.start)
    source = render(session.start, size)
    previous = session.start
    history: list[HistoryTurn] = []
    for index, turn in enumerate(session.turns, 1):
        outcome = world.step(turn.instruction)
        request = TurnRequest(instruction=turn.instruction, history=tuple(history),
                              image=render(previous, size), source_image=source)
        thought = reasoner.reconstruct(request)
        yield request, thought
        history.append(HistoryTurn(turn_id=f"{session.id}:{index}", instruction=turn.instruction,
                                   reasoning=thought.reasoning, intent=thought.intent.text))
        previous = turn.target or outcome.target


@dataclass(frozen=True)
class GoldPrefix:
    """A session's first turns played exactly: the rule reasoner's thoughts and the exact renders of the targets.

    A rollout that starts after it sees what a flawless policy would have left: the teacher's history and the
    image the session should be at.
    """

    request: TurnRequest
    """The request of the first turn the policy plays (gold history, gold image, the source)."""
    outputs: tuple[Image.Image, ...]
    """The exact image after each gold turn (what the reward scores for those turns)."""

    @property
    def turns(self) -> int:
        return len(self.outputs)


def gold_prefix(session: WorldSession, turns: int, *, size: int = 96) -> GoldPrefix:
    """The first ``turns`` turns of ``session`` played by the rule reasoner; the policy takes over after them.

    >>> from edit_agent.world.generator import generate_sessions
    >>> [session] = generate_sessions(1, turns=3, seed=2)
    >>> prefix = gold_prefix(session, 2)
    >>> prefix.turns, len(prefix.request.history), prefix.request.instruction == session.turns[2].instruction
    (2, 2, True)
    """
    if not 0 <= turns < len(session.turns):
        raise ValueError(f"a gold prefix of {turns} turns leaves no turn to play in a session of {len(session.turns)}")
    requests = [request for request, _ in islice(session_requests(session, RuleReasoner(), size=size), turns + 1)]
    return GoldPrefix(request=requests[-1], outputs=tuple(request.image for request in requests[1:]))


@dataclass
class Rollout:
    """One play of a session: per turn, the text sample, the image sample and the scores.

    With a ``prefix`` the policy plays from turn ``prefix.turns + 1`` on; ``texts``, ``images`` and ``scores``
    hold the policy's turns only.
    """

    session: WorldSession
    start_image: Image.Image
    prefix: GoldPrefix | None = None
    texts: list[TextSample] = field(default_factory=list)
    images: list[ImageSample] = field(default_factory=list)
    scores: list[TurnScores] = field(default_factory=list)

    @property
    def first_turn(self) -> int:
        """Index in ``session.turns`` of the first turn the policy plays."""
        return self.prefix.turns if self.prefix else 0

    def history(self) -> tuple[HistoryTurn, ...]:
        """The earlier turns as a reasoner sees them (the gold prefix, then the policy's own reasonings and intents)."""
        gold = self.prefix.request.history if self.prefix else ()
        own = tuple(
            HistoryTurn(turn_id=f"{self.session.id}:{index}", instruction=turn.instruction,
                        reasoning=text.thought.reasoning, intent=text.thought.intent.text)
            for index, (turn, text) in enumerate(zip(self.session.turns[self.first_turn:], self.texts),
                                                 self.first_turn + 1)
        )
        return gold + own

    def current_image(self) -> Image.Image:
        if self.images:
            return self.images[-1].image
        return self.prefix.request.image if self.prefix else self.start_image


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
    gold_turns: Sequence[int] | None = None,
) -> list[Group]:
    """Play ``turns`` turns of each session ``group_size`` times and score every turn.

    ``gold_turns`` (one count per session, default none): the policy starts after that many turns played
    exactly (:func:`gold_prefix`), so that a short rollout lands at a later turn of its session.
    ``seed`` fixes the text and image noise of the whole batch; each rollout of a group still differs,
    since every rollout draws its own noise from the batch's generator.
    """
    prefixes = [gold_prefix(session, count, size=size) if count else None
                for session, count in zip(sessions, gold_turns or [0] * len(sessions))]
    rollouts = [
        Rollout(session=session, start_image=start, prefix=prefix)
        for session, prefix in zip(sessions, prefixes)
        for start in [render(session.start, size)] * group_size
    ]
    seconds = {"text": 0.0, "image": 0.0, "reward": 0.0}
    for turn in range(turns):
        playing = [r for r in rollouts if r.first_turn + turn < len(r.session.turns)]
        if not playing:  # every session is shorter than ``turns``: nothing left to play (and no empty batch)
            break
        requests = [
            TurnRequest(instruction=r.session.turns[r.first_turn + turn].instruction, history=r.history(),
                        image=r.current_image(), source_image=r.start_image)
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
        rollout.scores = list(reward.score(_reward_view(rollout)))[rollout.first_turn:]
    seconds["reward"] = time.perf_counter() - started
    return [
        Group(session=session, rollouts=rollouts[i * group_size:(i + 1) * group_size], seconds=seconds)
        for i, session in enumerate(sessions)
    ]


def _reward_view(rollout: Rollout) -> RolloutTurns:
    """The whole session so far, gold prefix included: CC and GA at a turn depend on every turn before it."""
    gold_history = rollout.prefix.request.history if rollout.prefix else ()
    gold_outputs = list(rollout.prefix.outputs) if rollout.prefix else []
    played = rollout.first_turn + len(rollout.images)
    return RolloutTurns(
        start_image=rollout.start_image,
        instructions=[turn.instruction for turn in rollout.session.turns[:played]],
        outputs=gold_outputs + [image.image for image in rollout.images],
        intents=[turn.intent for turn in gold_history] + [text.thought.intent.text for text in rollout.texts],
        session=rollout.session,
    )
