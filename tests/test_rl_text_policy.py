"""Text policies for rl/: the LoRA LLM policy on a tiny random Llama, the fixed rule and raw-instruction policies,
the text loss, and the supervised warm start."""

from __future__ import annotations

import pytest
import torch

from edit_agent.reasoners.llm import LLMReasoner
from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.world.generator import generate_sessions
from rl.interfaces import TextPolicy
from rl.sft import SFTArgs, completion_text, rule_traces, tokenized_example, train_sft
from rl.text_policy import (
    LLMTextPolicy,
    RawInstructionPolicy,
    RulesTextPolicy,
    pad_log_probs,
    prompt_ids,
    text_policy_loss,
)
from tests import model_fixtures

SESSIONS = generate_sessions(1, turns=3, seed=1)
REQUESTS = [request for request, _ in rule_traces(SESSIONS)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_policy(**options) -> LLMTextPolicy:
    model, tokenizer = model_fixtures.tiny_chat_lm()
    return LLMTextPolicy(model, tokenizer=tokenizer, max_new_tokens=options.pop("max_new_tokens", 8), **options)


@pytest.fixture
def policy() -> LLMTextPolicy:
    return tiny_policy()


def test_every_policy_meets_the_protocol(policy: LLMTextPolicy) -> None:
    for candidate in (policy, RulesTextPolicy(), RawInstructionPolicy()):
        assert isinstance(candidate, TextPolicy)
    assert policy.trainable and not RulesTextPolicy().trainable and not RawInstructionPolicy().trainable


def test_sampling_is_reproducible_under_a_seed(policy: LLMTextPolicy) -> None:
    first = policy.sample(REQUESTS, temperature=0.7, seed=3)
    again = policy.sample(REQUESTS, temperature=0.7, seed=3)
    other = policy.sample(REQUESTS, temperature=0.7, seed=4)
    ids = [s.completion_ids.tolist() for s in first]
    assert ids == [s.completion_ids.tolist() for s in again]
    assert ids != [s.completion_ids.tolist() for s in other]
    for sample, request in zip(first, REQUESTS):
        assert sample.prompt_ids.tolist() == prompt_ids(policy.tokenizer, request).tolist()
        assert sample.old_log_probs.shape == sample.completion_ids.shape and not sample.old_log_probs.requires_grad
        assert (sample.old_log_probs <= 0).all()
        assert sample.thought.intent.text  # parsed, or the raw instruction when malformed


def test_generating_in_smaller_batches_keeps_greedy_answers_and_the_request_order() -> None:
    requests = REQUESTS * 3  # 9 requests: batches of 2 leave a last batch of 1
    whole = tiny_policy(generation_batch=64).sample(requests, temperature=0.0, seed=0)
    split = tiny_policy(generation_batch=2).sample(requests, temperature=0.0, seed=0)
    assert [s.completion_ids.tolist() for s in split] == [s.completion_ids.tolist() for s in whole]
    for a, b in zip(split, whole):
        assert a.prompt_ids.tolist() == b.prompt_ids.tolist()
        torch.testing.assert_close(a.old_log_probs, b.old_log_probs, atol=1e-5, rtol=0)
    sampled = tiny_policy(generation_batch=2).sample(requests, temperature=1.0, seed=5)
    again = tiny_policy(generation_batch=2).sample(requests, temperature=1.0, seed=5)
    assert [s.completion_ids.tolist() for s in sampled] == [s.completion_ids.tolist() for s in again]
    # each batch draws its own noise: the same requests in two batches are not sampled alike
    assert sampled[0].completion_ids.tolist() != sampled[3].completion_ids.tolist()
    with pytest.raises(ValueError, match="generation_batch"):
        tiny_policy(generation_batch=0)


def test_completion_stops_at_the_first_end_of_turn_token(policy: LLMTextPolicy) -> None:
    eos = policy.tokenizer.eos_token_id
    generated = torch.tensor([5, 6, eos, eos, eos])
    assert policy._until_eos(generated).tolist() == [5, 6, eos]
    assert policy._until_eos(torch.tensor([5, 6])).tolist() == [5, 6]


def test_log_probs_at_unchanged_weights_equal_the_sampling_log_probs_in_any_batch(policy: LLMTextPolicy) -> None:
    samples = policy.sample(REQUESTS, temperature=0.7, seed=0)
    for batch in (samples, samples[::-1], samples[:1]):
        for new, sample in zip(policy.log_probs(batch), batch):
            assert new.requires_grad
            torch.testing.assert_close(new.detach(), sample.old_log_probs, atol=1e-5, rtol=0)


def test_the_prompt_is_the_llm_reasoners_and_greedy_answers_match(policy: LLMTextPolicy, monkeypatch) -> None:
    reasoner = LLMReasoner(policy.model, tokenizer=policy.tokenizer, max_new_tokens=policy.max_new_tokens)
    seen = []
    original = reasoner._decode_new
    monkeypatch.setattr(reasoner, "_decode_new", lambda inputs: seen.append(inputs["input_ids"][0].tolist()) or original(inputs))
    for request in REQUESTS[:2]:
        thought = reasoner.reconstruct(request)
        (sample,) = policy.sample([request], temperature=0.0, seed=0)
        assert seen[-1] == sample.prompt_ids.tolist()
        assert sample.thought == thought


def test_a_text_loss_step_changes_every_lora_parameter_and_nothing_else(policy: LLMTextPolicy) -> None:
    frozen = {name: p.detach().clone() for name, p in policy.model.named_parameters() if not p.requires_grad}
    trainable = {name: p for name, p in policy.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert {id(p) for p in policy.trainable_parameters()} == {id(p) for p in trainable.values()}
    before = {name: p.detach().clone() for name, p in trainable.items()}
    optimizer = torch.optim.Adam(policy.trainable_parameters(), lr=1e-2)
    samples = policy.sample(REQUESTS, temperature=0.7, seed=0)
    old, mask = pad_log_probs([s.old_log_probs for s in samples])
    advantages = torch.tensor([1.0, -1.0, 0.5])
    for _ in range(2):  # LoRA's B starts at zero, so A only gets gradient from the second step on
        new, _ = pad_log_probs(policy.log_probs(samples))
        loss, clip_fraction = text_policy_loss(new, old, advantages, mask)
        assert torch.isfinite(loss) and 0.0 <= float(clip_fraction) <= 1.0
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(not torch.equal(p, before[name]) for name, p in trainable.items())
    assert all(torch.equal(p, frozen[name]) for name, p in policy.model.named_parameters() if name in frozen)


def test_filtered_turns_give_the_text_loss_no_gradient() -> None:
    new = torch.zeros(2, 3, requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # second turn filtered, last token of the first is padding
    loss, _ = text_policy_loss(new, torch.zeros(2, 3), torch.tensor([1.0, 1.0]), mask)
    loss.backward()
    assert new.grad[1].abs().sum() == 0 and new.grad[0, 2] == 0 and (new.grad[0, :2] != 0).all()
    nothing, _ = text_policy_loss(new, torch.zeros(2, 3), torch.tensor([1.0, 1.0]), torch.zeros(2, 3))
    assert float(nothing) == 0.0


def test_text_loss_clips_the_ratio() -> None:
    old = torch.zeros(1, 2)
    far = torch.log(torch.tensor([[2.0, 1.0]]))  # ratio 2 on the first token, 1 on the second
    loss, clip_fraction = text_policy_loss(far, old, torch.tensor([1.0]), torch.ones(1, 2), clip_eps=0.2)
    assert float(clip_fraction) == 0.5
    torch.testing.assert_close(loss, torch.tensor(-(1.2 + 1.0) / 2))


def test_saved_adapter_loads_back_with_the_same_log_probs(policy: LLMTextPolicy, tmp_path) -> None:
    with torch.no_grad():
        for parameter in policy.trainable_parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    samples = policy.sample(REQUESTS, temperature=0.7, seed=1)
    policy.save(tmp_path / "adapter")
    model, tokenizer = model_fixtures.tiny_chat_lm()
    loaded = LLMTextPolicy.load(tmp_path / "adapter", model, tokenizer=tokenizer)
    for new, sample in zip(loaded.log_probs(samples), samples):
        torch.testing.assert_close(new.detach(), sample.old_log_probs, atol=1e-5, rtol=0)
    assert len(list(loaded.trainable_parameters())) == len(list(policy.trainable_parameters()))


def test_rules_policy_reproduces_the_rule_reasoner_and_writes_no_tokens() -> None:
    samples = RulesTextPolicy().sample(REQUESTS, temperature=0.7, seed=0)
    teacher = RuleReasoner()
    assert [s.thought for s in samples] == [teacher.reconstruct(request) for request in REQUESTS]
    assert all(s.completion_ids.numel() == 0 and s.old_log_probs.numel() == 0 for s in samples)
    assert list(RulesTextPolicy().trainable_parameters()) == []


def test_raw_instruction_policy_passes_the_instruction_through() -> None:
    samples = RawInstructionPolicy().sample(REQUESTS, temperature=0.7, seed=0)
    assert [s.thought.intent.text for s in samples] == [request.instruction for request in REQUESTS]
    assert [t.numel() for t in RawInstructionPolicy().log_probs(samples)] == [0] * len(samples)


def test_sft_examples_are_the_reasoner_prompt_then_the_rule_answer(policy: LLMTextPolicy) -> None:
    request, thought = next(rule_traces(SESSIONS))
    example = tokenized_example(policy.tokenizer, request, thought)
    prompt = prompt_ids(policy.tokenizer, request).tolist()
    assert example["input_ids"][: len(prompt)] == prompt and example["input_ids"][-1] == policy.tokenizer.eos_token_id
    assert example["completion_mask"] == [0] * len(prompt) + [1] * (len(example["input_ids"]) - len(prompt))
    answer = policy.tokenizer.decode(example["input_ids"][len(prompt):], skip_special_tokens=True)
    assert answer == completion_text(thought) and "Start scene" not in answer


def test_sft_trains_the_lora_and_the_llm_reasoner_loads_the_adapter(policy: LLMTextPolicy, tmp_path) -> None:
    before = {name: p.detach().clone() for name, p in policy.model.named_parameters() if p.requires_grad}
    args = SFTArgs(out=tmp_path / "adapter", work_dir=tmp_path / "work", sessions=4, max_turns=2, max_steps=3,
                   batch_size=2, warmup_steps=0, save_steps=2, exclude_splits=())
    train_sft(args, policy=policy)
    after = dict(policy.model.named_parameters())
    assert all(not torch.equal(after[name], value) for name, value in before.items() if "lora_B" in name)
    model, tokenizer = model_fixtures.tiny_chat_lm()
    reasoner = LLMReasoner(model, tokenizer=tokenizer, max_new_tokens=policy.max_new_tokens, lora=args.out)
    (sample,) = policy.sample(REQUESTS[:1], temperature=0.0, seed=0)
    assert reasoner.reconstruct(REQUESTS[0]) == sample.thought
