"""Rewards for rl/: exact world scores on the policy's own images, and the judge-model reward on tiny random models."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from edit_agent.errors import ModelUnavailableError
from edit_agent.world.generator import generate_sessions
from edit_agent.world.render import render
from rl.interfaces import Reward, RolloutTurns, TurnScores
from rl.rewards import FeatureSimilarity, JudgeReward, VLMJudge, WorldReward, world_targets
from tests import model_fixtures
from tests.contracts import gradient_image

SESSIONS = generate_sessions(3, turns=4, seed=11)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def world_rollout(session, outputs) -> RolloutTurns:
    instructions = [turn.instruction for turn in session.turns[: len(outputs)]]
    return RolloutTurns(start_image=render(session.start), instructions=instructions, outputs=outputs,
                        intents=instructions, session=session)


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.id)
def test_world_reward_gives_all_ones_to_a_perfect_rollout(session) -> None:
    targets, _ = world_targets(session, len(session.turns))
    scores = WorldReward().score(world_rollout(session, [render(target) for target in targets[1:]]))
    assert isinstance(WorldReward(), Reward)
    assert scores == [TurnScores(if_=1.0, cc=1.0, ga=1.0)] * len(session.turns)


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.id)
def test_world_reward_gives_if_zero_to_an_identity_rollout_on_every_changing_turn(session) -> None:
    targets, _ = world_targets(session, len(session.turns))
    scores = WorldReward().score(world_rollout(session, [render(session.start)] * len(session.turns)))
    start = targets[0].slots()

    def left_undone(t: int) -> bool:  # the turn changed a slot to something the start image does not show
        before, after = targets[t - 1].slots(), targets[t].slots()
        return any(after[i] != before[i] and after[i] != start[i] for i in range(len(after)))

    changing = [t for t in range(1, len(targets)) if left_undone(t)]
    assert changing, "the generated sessions should change the scene"
    assert [scores[t - 1].if_ for t in changing] == [0.0] * len(changing)
    assert all(score.cc == 1.0 for score in scores)  # nothing the turn left alone was disturbed


def test_a_turn_in_other_words_is_rewarded_on_the_files_target_as_evals_scores_it() -> None:
    from edit_agent.world import Scene, SceneObject, WorldSession, WorldTurn
    from edit_agent.world.language import WorldLanguageError

    start = Scene(background="white", objects=(SceneObject(shape="circle", color="red", size="large", cell="center"),))
    beige = start.model_copy(update={"background": "beige"})
    theirs = WorldSession(id="theirs", start=start, turns=(
        WorldTurn(instruction="From now on, don't touch the circle"),
        WorldTurn(instruction="give the canvas a beige coat", target=beige)))
    assert world_targets(theirs, 2) == ([start, start, beige], [("center",), ("center",)])  # the lock still holds
    assert WorldReward().score(world_rollout(theirs, [render(start), render(beige)]))[1] == TurnScores(if_=1.0, cc=1.0, ga=1.0)
    untargeted = WorldSession(id="mine", start=start, turns=(WorldTurn(instruction="give the canvas a beige coat"),))
    with pytest.raises(WorldLanguageError, match="Session mine, turn 1: "):
        world_targets(untargeted, 1)


def test_world_reward_scores_a_partial_rollout_and_rejects_photos() -> None:
    session = SESSIONS[0]
    targets, _ = world_targets(session, 2)
    assert len(WorldReward().score(world_rollout(session, [render(t) for t in targets[1:]]))) == 2
    photo = RolloutTurns(start_image=gradient_image(64, 48), instructions=["brighter"], outputs=[gradient_image(64, 48)], intents=["brighter"])
    with pytest.raises(TypeError, match="JudgeReward"):
        WorldReward().score(photo)


def tiny_dinov2():
    from transformers import BitImageProcessorPil, Dinov2Config, Dinov2Model

    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          image_size=28, patch_size=7)
    torch.manual_seed(0)
    processor = BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 28, "width": 28})
    return Dinov2Model(config).eval(), processor


@pytest.fixture(scope="module")
def judge_reward() -> JudgeReward:
    processor = model_fixtures.qwen_vl_processor()
    features, feature_processor = tiny_dinov2()
    return JudgeReward(model_fixtures.qwen_vl_model(processor.tokenizer), judge_processor=processor,
                       features=features, features_processor=feature_processor, judge_options={"max_image_side": 56})


def photo_rollout(outputs) -> RolloutTurns:
    instructions = ["make the sky warmer", "now add snow", "undo that"][: len(outputs)]
    return RolloutTurns(start_image=gradient_image(64, 48), instructions=instructions, outputs=outputs, intents=instructions)


def test_judge_reward_scores_every_turn_within_zero_and_one(judge_reward: JudgeReward) -> None:
    outputs = [gradient_image(64, 48).rotate(90), Image.new("RGB", (64, 48), (200, 30, 30)), gradient_image(64, 48)]
    scores = judge_reward.score(photo_rollout(outputs))
    assert isinstance(judge_reward, Reward) and len(scores) == len(outputs)
    for score in scores:
        assert all(0.0 <= value <= 1.0 for value in (score.if_, score.cc, score.ga))


def test_judge_reward_gives_an_unchanged_image_full_consistency(judge_reward: JudgeReward) -> None:
    (score,) = judge_reward.score(photo_rollout([gradient_image(64, 48)]))
    assert score.cc == pytest.approx(1.0, abs=1e-6)
    changed = judge_reward.features.similarity(gradient_image(64, 48), Image.new("RGB", (64, 48), (200, 30, 30)))
    assert changed < score.cc


def test_judge_yes_probability_reads_the_answer_tokens(judge_reward: JudgeReward) -> None:
    judge = judge_reward.judge
    assert judge.yes_ids and judge.no_ids and not set(judge.yes_ids) & set(judge.no_ids)
    probability = judge.yes_probability("Is this a gradient? Answer yes or no.", [gradient_image(64, 48)])
    assert 0.0 < probability < 1.0


def test_missing_judge_models_give_the_offline_error() -> None:
    with pytest.raises(ModelUnavailableError, match="not in the cache"):
        FeatureSimilarity("nobody/no-such-dinov2")
    with pytest.raises(ModelUnavailableError, match="not in the cache"):
        VLMJudge("nobody/no-such-judge")
    with pytest.raises(ModelUnavailableError):
        JudgeReward(judge="nobody/no-such-judge", features="nobody/no-such-dinov2")


def test_feature_model_object_needs_its_processor() -> None:
    model, _ = tiny_dinov2()
    with pytest.raises(ValueError, match="processor"):
        FeatureSimilarity(model)
