"""The small world LM: a tokenizer learned from world text, a Llama built from config, full SFT on rule
traces, and the saved folder loading as the ``llm`` reasoner and as an RL text policy."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from edit_agent.reasoners.world_lm import WorldLMReasoner
from edit_agent.world.generator import generate_sessions
from rl.sft import SFTArgs, completion_text, rule_traces, train_full
from rl.text_policy import LLMTextPolicy, prompt_text
from rl.world_lm import BEGIN, WorldLMShape, new_world_lm, save_world_lm, train_tokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = WorldLMShape(hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=1024)
REQUESTS_AND_THOUGHTS = list(rule_traces(generate_sessions(2, turns=3, seed=5)))


@pytest.fixture(scope="module")
def tokenizer():
    from edit_agent.reasoners import iccot

    texts = [iccot.user_prompt(request) + completion_text(thought) for request, thought in REQUESTS_AND_THOUGHTS]
    return train_tokenizer(texts, vocab_size=400)


def test_the_tokenizer_round_trips_text_it_never_saw(tokenizer) -> None:
    text = "Zébra «quotes» 42 — emoji 🙂 and\nnew lines\tand tabs"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(tokenizer) <= 400


def test_the_chat_template_drops_the_system_message_and_opens_the_answer(tokenizer) -> None:
    request, _ = REQUESTS_AND_THOUGHTS[1]
    prompt = prompt_text(tokenizer, request)
    assert "You help a user edit" not in prompt  # the system prompt is left out
    assert prompt.startswith(f"{BEGIN}user\nHistory:") and prompt.endswith(f"{BEGIN}assistant\n<think>")


def test_full_sft_changes_every_weight_and_the_folder_loads_as_the_llm_reasoner(tokenizer, tmp_path) -> None:
    model = new_world_lm(tokenizer, TINY, seed=0)
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    args = SFTArgs(out=tmp_path / "world-lm", work_dir=tmp_path / "work", sessions=4, max_turns=2, max_steps=3,
                   batch_size=2, learning_rate=1e-2, warmup_steps=0, save_steps=2, logging_steps=1, exclude_splits=())
    train_full(model, tokenizer, args)
    changed = [not torch.equal(parameter, before[name]) for name, parameter in model.named_parameters()]
    assert all(changed)

    reasoner = WorldLMReasoner(args.out, max_new_tokens=12)  # a local folder: nothing is downloaded
    assert reasoner.model.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert reasoner.tokenizer.pad_token_id == tokenizer.convert_tokens_to_ids("<|pad|>") != reasoner.tokenizer.eos_token_id
    request, _ = REQUESTS_AND_THOUGHTS[0]
    messages_prompt = prompt_text(reasoner.tokenizer, request)
    assert messages_prompt == prompt_text(tokenizer, request)
    thought = reasoner.reconstruct(request)
    assert thought.intent.text  # a tiny model falls back to the raw instruction, but answers
    saved = dict(reasoner.model.named_parameters())
    assert all(torch.equal(saved[name], parameter) for name, parameter in model.named_parameters())


def test_the_saved_folder_is_an_rl_text_policy_whose_log_probs_match_its_samples(tokenizer, tmp_path) -> None:
    folder = save_world_lm(new_world_lm(tokenizer, replace(TINY, layers=2), seed=1), tokenizer, tmp_path / "lm")
    policy = LLMTextPolicy(str(folder), max_new_tokens=10)
    requests = [request for request, _ in REQUESTS_AND_THOUGHTS[:3]]
    samples = policy.sample(requests, temperature=0.7, seed=3)
    assert all(sample.completion_ids.numel() > 0 for sample in samples)
    with torch.no_grad():
        again = policy.log_probs(samples)
    for sample, log_probs in zip(samples, again):
        torch.testing.assert_close(log_probs, sample.old_log_probs, atol=1e-5, rtol=1e-5)
    assert next(policy.trainable_parameters()) is not None  # the LoRA RL trains


def test_a_merged_rl_adapter_gives_the_same_log_probs_without_peft(tokenizer, tmp_path) -> None:
    from rl.world_lm import merge_adapter

    base = save_world_lm(new_world_lm(tokenizer, TINY, seed=2), tokenizer, tmp_path / "base")
    policy = LLMTextPolicy(str(base), max_new_tokens=6)
    with torch.no_grad():
        for name, parameter in policy.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)  # as if RL had moved the adapter
    policy.save(tmp_path / "adapter")
    samples = policy.sample([request for request, _ in REQUESTS_AND_THOUGHTS[:2]], temperature=1.0, seed=0)

    merged = merge_adapter(base, tmp_path / "adapter", tmp_path / "merged")
    plain = LLMTextPolicy(str(merged), max_new_tokens=6)  # a fresh, zero LoRA: the merged weights alone
    with torch.no_grad():
        for before, after in zip(samples, plain.log_probs(samples)):
            torch.testing.assert_close(after, before.old_log_probs, atol=1e-4, rtol=1e-4)
    assert not list((tmp_path / "merged").glob("adapter_*"))


def test_a_full_fine_tune_trains_every_weight_and_saves_a_folder_the_reasoner_loads(tokenizer, tmp_path) -> None:
    from edit_agent.reasoners.llm import LLMReasoner
    from rl.text_policy import pad_log_probs, text_policy_loss

    base = save_world_lm(new_world_lm(tokenizer, TINY, seed=3), tokenizer, tmp_path / "base")
    policy = LLMTextPolicy(str(base), max_new_tokens=6, finetune="full")
    assert not policy.is_lora
    names = {name for name, _ in policy.model.named_parameters()}
    assert not any("lora_" in name for name in names)
    assert {id(p) for p in policy.trainable_parameters()} == {id(p) for p in policy.model.parameters()}
    before = {name: p.detach().clone() for name, p in policy.model.named_parameters()}
    samples = policy.sample([request for request, _ in REQUESTS_AND_THOUGHTS[:3]], temperature=1.0, seed=0)
    old, mask = pad_log_probs([s.old_log_probs for s in samples])
    new, _ = pad_log_probs(policy.log_probs(samples))
    loss, _ = text_policy_loss(new, old, torch.tensor([1.0, -1.0, 0.5]), mask)
    optimizer = torch.optim.Adam(policy.trainable_parameters(), lr=1e-2)
    loss.backward()
    optimizer.step()
    changed = {name for name, p in policy.model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == names

    policy.save(tmp_path / "trained")
    assert not list((tmp_path / "trained").glob("adapter_*"))
    reloaded = LLMTextPolicy(str(tmp_path / "trained"), max_new_tokens=6, finetune="full")
    with torch.no_grad():
        expected = policy.log_probs(samples)
        for want, got in zip(expected, reloaded.log_probs(samples)):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    request = REQUESTS_AND_THOUGHTS[0][0]
    assert LLMReasoner(str(tmp_path / "trained"), max_new_tokens=6).reconstruct(request) == \
        policy.as_reasoner().reconstruct(request)


def test_a_full_fine_tune_takes_no_lora(tokenizer, tmp_path) -> None:
    from rl.config import TrainConfig

    base = save_world_lm(new_world_lm(tokenizer, TINY, seed=3), tokenizer, tmp_path / "base")
    with pytest.raises(ValueError, match="no LoRA"):
        LLMTextPolicy(str(base), finetune="full", lora=tmp_path / "adapter")
    with pytest.raises(ValueError, match="finetune must be"):
        LLMTextPolicy(str(base), finetune="everything")
    with pytest.raises(ValueError, match="text_adapter: null"):
        TrainConfig(text_finetune="full", text_adapter="rl/adapters/world-sft")
    assert TrainConfig(text_finetune="full", text_adapter=None).text_finetune == "full"


def test_a_deepened_world_lm_answers_as_the_trained_one_and_its_new_layers_train(tokenizer, tmp_path) -> None:
    from rl.world_lm import deepen_world_lm

    trained = new_world_lm(tokenizer, replace(TINY, layers=2), seed=4)
    deeper = deepen_world_lm(trained)
    assert deeper.config.num_hidden_layers == 4 and trained.config.num_hidden_layers == 2
    request, thought = REQUESTS_AND_THOUGHTS[2]
    ids = tokenizer(prompt_text(tokenizer, request) + completion_text(thought), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(deeper(ids).logits, trained(ids).logits, atol=1e-5, rtol=1e-5)

    folder = save_world_lm(deeper, tokenizer, tmp_path / "deep")
    policy = LLMTextPolicy(str(folder), max_new_tokens=6, finetune="full")
    assert policy.model.config.num_hidden_layers == 4
    with torch.no_grad():
        torch.testing.assert_close(policy.model(ids).logits, trained(ids).logits, atol=1e-5, rtol=1e-5)

    deeper.train()
    deeper(ids, labels=ids).loss.backward()
    new_layer = deeper.model.layers[1]  # the silent copy of layer 0: its output projections get gradient
    assert new_layer.self_attn.o_proj.weight.grad.abs().sum() > 0
    assert new_layer.mlp.down_proj.weight.grad.abs().sum() > 0
    assert deeper.lm_head.weight is deeper.model.embed_tokens.weight  # still tied, as the trained model was
