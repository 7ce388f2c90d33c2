"""Rewards behind the :class:`~rl.interfaces.Reward` protocol: exact scores on MICE-World, judge models on photos.

- :class:`WorldReward`: IF/CC/GA exactly as ``evals.scoring`` defines them, on the parse of the
  policy's own images (no judge, no noise): the reward RL trains the world policy on.
- :class:`JudgeReward`: the Edit-R2 / EDiVal recipe for real photos, where no target exists:
  IF and GA are a VLM judge's probability of "yes" to a question about the edit, CC is the
  DINOv2 feature similarity of the turn's input and output images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from edit_agent.hf_loading import ModelSource, loading_errors, pick_device, resolve_model
from edit_agent.world.parse import parse
from edit_agent.world.scene import Scene
from edit_agent.world.sessions import WorldSession, turn_outcomes
from evals.scoring import score_session
from rl.interfaces import RolloutTurns, TurnScores


def world_targets(session: WorldSession, turns: int) -> tuple[list[Scene], list[tuple[str, ...]]]:
    """``T_0..T_turns`` (a file's targets win over the interpreter's, as in ``evals``) and the
    cells locked after each turn (GA also covers locked objects).

    As in ``evals``, a turn the interpreter cannot read is scored on the file's target, with the
    locks in force before it; one without a target in the file raises WorldLanguageError."""
    targets, locked = [session.start], []
    for turn, outcome in zip(session.turns[:turns], turn_outcomes(session)):
        if outcome is None:
            targets.append(turn.target)
            locked.append(locked[-1] if locked else ())
        else:
            targets.append(turn.target or outcome.target)
            locked.append(outcome.locked_cells)
    return targets, locked


class WorldReward:
    """Exact per-turn IF/CC/GA of a MICE-World rollout (``rollout.session`` is its ``WorldSession``).

    Scored on ``parse(output)`` of each of the policy's images, against the session's targets;
    CC compares with the policy's own previous state, so a rollout is judged on what it did.

    >>> from edit_agent.world import Scene, SceneObject, render
    >>> from edit_agent.world.sessions import WorldSession, WorldTurn
    >>> start = Scene(background="white", objects=(SceneObject(shape="circle", color="red", size="large", cell="center"),))
    >>> session = WorldSession(id="s", start=start, turns=(WorldTurn(instruction="make the circle blue"),))
    >>> rollout = RolloutTurns(start_image=render(start), instructions=["make the circle blue"],
    ...                        outputs=[render(start)], intents=["make the circle blue"], session=session)
    >>> WorldReward().score(rollout)
    [TurnScores(if_=0.0, cc=1.0, ga=0.0)]
    """

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        session = rollout.session
        if not isinstance(session, WorldSession):
            raise TypeError(
                f"WorldReward needs rollout.session to be a WorldSession with the session's turns, got "
                f"{type(session).__name__}; for photos use JudgeReward."
            )
        if len(rollout.outputs) > len(session.turns):
            raise ValueError(f"The rollout has {len(rollout.outputs)} outputs but the session only {len(session.turns)} turns.")
        targets, locked = world_targets(session, len(rollout.outputs))
        parsed = [parse(image) for image in rollout.outputs]
        return [TurnScores(if_=s.IF, cc=s.CC, ga=s.GA) for s in score_session(targets, parsed, locked)]


DEFAULT_JUDGE = "Qwen/Qwen2.5-VL-3B-Instruct"
DEFAULT_FEATURES = "facebook/dinov2-small"


def instruction_question(instruction: str, earlier: Sequence[str]) -> str:
    """IF: did this turn do what was asked (earlier turns given so that "it" and rules can be read)?"""
    context = "".join(f"Earlier instruction {i}: {text}\n" for i, text in enumerate(earlier, 1))
    return (f"{context}The first image is before the edit and the second image is after it.\n"
            f"Does the second image follow the instruction \"{instruction.strip()}\"? Answer yes or no.")


def awareness_question(instructions: Sequence[str]) -> str:
    """GA: does the current image satisfy everything the session has asked for that is still in force?"""
    listed = "".join(f"{i}. {text.strip()}\n" for i, text in enumerate(instructions, 1))
    return (f"An image was edited over several turns with these instructions, in order:\n{listed}"
            "The first image is the original and the second is the result. Does the result satisfy every "
            "instruction that is still in force (including rules such as \"from now on ...\", locks, and "
            "what an undo reverted)? Answer yes or no.")


def thumbnail(image: Image.Image, side: int) -> Image.Image:
    shown = image.convert("RGB")
    shown.thumbnail((side, side))
    return shown


class VLMJudge:
    """Yes-probability of a question about images, from an image-text chat model.

    Loaded like the ``vlm`` reasoner (the same code: id or folder or model object, NF4, offline errors).
    The answer is read from one forward pass: P(yes) = softmax over the "yes"/"no" first tokens at
    the position where the answer starts.
    """

    def __init__(self, model: ModelSource | Any = DEFAULT_JUDGE, *, processor: Any | None = None,
                 max_image_side: int = 448, **options: Any) -> None:
        from edit_agent.reasoners.vlm import VLMReasoner

        loaded = VLMReasoner(model, processor=processor, max_image_side=max_image_side, **options)
        self.model, self.processor, self.tokenizer = loaded.model, loaded.processor, loaded.tokenizer
        self.model_name = loaded.model_name
        self.max_image_side = max_image_side
        self.yes_ids, self.no_ids = self._answer_ids(("Yes", "yes", " Yes", " yes")), self._answer_ids(("No", "no", " No", " no"))

    def _answer_ids(self, words: Sequence[str]) -> list[int]:
        """First token of each spelling of the answer; a bare leading space (a tokenizer without the
        merged " Yes" token) says nothing about the answer and is left out."""
        firsts = {self.tokenizer.encode(word, add_special_tokens=False)[0] for word in words}
        return sorted(i for i in firsts if self.tokenizer.decode([i]).strip())

    @torch.no_grad()
    def yes_probability(self, question: str, images: Sequence[Image.Image]) -> float:
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": question}]
        messages = [{"role": "user", "content": content}]
        owner = self.processor if getattr(self.processor, "chat_template", None) else self.tokenizer
        prompt = owner.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[prompt], images=[thumbnail(image, self.max_image_side) for image in images],
                                return_tensors="pt").to(self.model.device)
        logits = self.model(**inputs, logits_to_keep=1).logits[0, -1].float()
        yes = torch.logsumexp(logits[self.yes_ids], dim=0)
        no = torch.logsumexp(logits[self.no_ids], dim=0)
        return float(torch.sigmoid(yes - no))


class FeatureSimilarity:
    """Cosine similarity of DINOv2 image features (the CLS token), clipped to [0, 1]."""

    def __init__(self, model: ModelSource | Any = DEFAULT_FEATURES, *, processor: Any | None = None,
                 device: str | torch.device | None = None) -> None:
        self.device = pick_device(device)
        if isinstance(model, (str, os.PathLike)):
            model, processor = self._load(model)
        elif processor is None:
            raise ValueError("Pass processor=... (an image processor) with a feature model object.")
        self.model, self.processor = model.to(self.device).eval(), processor

    @staticmethod
    def _load(model: ModelSource) -> tuple[Any, Any]:
        from transformers import AutoImageProcessor, AutoModel

        source, local_only = resolve_model(model, probe_file="config.json")
        with loading_errors(model):
            processor = AutoImageProcessor.from_pretrained(source, local_files_only=local_only)
            return AutoModel.from_pretrained(source, local_files_only=local_only), processor

    @torch.no_grad()
    def features(self, images: Sequence[Image.Image]) -> torch.Tensor:
        inputs = self.processor(images=[image.convert("RGB") for image in images], return_tensors="pt").to(self.device)
        return self.model(**inputs).last_hidden_state[:, 0].float()

    def similarity(self, first: Image.Image, second: Image.Image) -> float:
        a, b = self.features([first, second])
        return float(torch.nn.functional.cosine_similarity(a, b, dim=0).clamp(0.0, 1.0))


class JudgeReward:
    """Per-turn IF/CC/GA for real photos from judge models (Edit-R2 / EDiVal).

    - IF: P(yes) that the turn's output (shown after its input) follows the raw instruction, with the
      earlier instructions as context.
    - CC: DINOv2 similarity of the turn's input and output (1 for an unchanged image).
    - GA: P(yes) that the output (shown after the source image) satisfies every instruction so far
      that is still in force.

    Args:
        judge: a VLM id, folder or model object (default a Qwen2.5-VL); or a built :class:`VLMJudge`.
        judge_processor: needed with a model object.
        features: a DINOv2 id, folder or model object (default ``facebook/dinov2-small``); or a built
            :class:`FeatureSimilarity`.
        features_processor: needed with a model object.
        judge_options: passed to the judge's loading (``device``, ``dtype``, ``quantization="nf4"``...).

    Example (needs both models in the cache)::

        reward = JudgeReward(judge_options={"quantization": "nf4"})
        reward.score(rollout)   # [TurnScores(if_=0.93, cc=0.88, ga=0.71), ...]
    """

    def __init__(
        self,
        judge: ModelSource | Any = DEFAULT_JUDGE,
        *,
        judge_processor: Any | None = None,
        features: ModelSource | Any = DEFAULT_FEATURES,
        features_processor: Any | None = None,
        judge_options: dict[str, Any] | None = None,
    ) -> None:
        self.features = features if isinstance(features, FeatureSimilarity) else FeatureSimilarity(
            features, processor=features_processor, device=(judge_options or {}).get("device"))
        self.judge = judge if isinstance(judge, VLMJudge) else VLMJudge(
            judge, processor=judge_processor, **(judge_options or {}))

    def score(self, rollout: RolloutTurns) -> list[TurnScores]:
        scores = []
        inputs = [rollout.start_image, *rollout.outputs[:-1]]
        for turn, (before, after) in enumerate(zip(inputs, rollout.outputs)):
            instruction, earlier = rollout.instructions[turn], rollout.instructions[:turn]
            following = self.judge.yes_probability(instruction_question(instruction, earlier), [before, after])
            awareness = self.judge.yes_probability(awareness_question(rollout.instructions[: turn + 1]),
                                                   [rollout.start_image, after])
            scores.append(TurnScores(if_=following, cc=self.features.similarity(before, after), ga=awareness))
        return scores
