"""Numbered objects: a world LM trained with the current image's objects numbered reads them numbered
everywhere (SFT rows, the reasoner, the RL policy), names the object it picks by number in its trace,
and still writes an unnumbered intent; a model trained without them sees the prompt it always saw."""

from __future__ import annotations

import json
import re

import pytest

from edit_agent.reasoners import iccot
from edit_agent.reasoners.world_lm import WorldLMReasoner
from edit_agent.world.generator import generate_sessions
from rl.sft import SFTArgs, completion_text, rule_traces, tokenized_example, train_full, train_sft
from rl.text_policy import LLMTextPolicy, parse_completion
from rl.world_lm import WorldLMShape, new_world_lm, train_tokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = WorldLMShape(hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=1024)
TRACES = list(rule_traces(generate_sessions(8, turns=3, seed=5)))
PICKING = [(request, thought) for request, thought in TRACES if " picks " in thought.reasoning]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [iccot.user_prompt(request, numbered_objects=True) + completion_text(thought, request)
             for request, thought in TRACES]
    return train_tokenizer(texts, vocab_size=400)


def test_each_mention_gets_its_number_once_and_other_text_is_left_alone() -> None:
    objects = ["small red circle at the center", "large blue square at the top left"]
    text = "picks the small red circle at the center; a large red circle at the center stays."
    numbered = iccot.number_objects(text, objects)
    assert numbered == "picks the #1 small red circle at the center; a large red circle at the center stays."
    assert iccot.number_objects(numbered, objects) == numbered


def test_a_numbered_sft_answer_names_the_picked_object_by_its_number_and_keeps_the_intent(tokenizer) -> None:
    assert len(PICKING) >= 3
    for request, thought in PICKING:
        background, objects = iccot.world_object_descriptions(request.image)
        prompt = iccot.user_prompt(request, numbered_objects=True)
        current = next(line for line in prompt.splitlines() if line.startswith("Current image:"))
        assert current == f"Current image: {background} background; " + ", ".join(
            f"#{number} {text}" for number, text in enumerate(objects, start=1)) + "."
        assert all("#" not in line for line in prompt.splitlines() if line.startswith("Source image:"))

        answer = completion_text(thought, request)
        trace, intent = answer.split("</think>")
        picked = re.search(r" picks the #(\d+) (.+?)(?:,| and |\.| \()", trace)
        assert picked is not None, trace
        assert objects[int(picked.group(1)) - 1] == picked.group(2)  # the number is that object's place in the list
        assert intent == thought.intent.text and "#" not in intent
        assert parse_completion(answer, request).intent.text == thought.intent.text

        row = tokenized_example(tokenizer, request, thought, numbered_objects=True)
        assert "#1 " in tokenizer.decode(row["input_ids"])


def test_an_unnumbered_answer_is_the_rule_trace_as_before() -> None:
    request, thought = PICKING[0]
    assert "#" not in completion_text(thought) and "#" not in iccot.user_prompt(request)


def _trained(tokenizer, tmp_path, *, numbered: bool):
    args = SFTArgs(out=tmp_path / f"lm-{numbered}", work_dir=tmp_path / f"work-{numbered}", sessions=2, max_turns=1,
                   max_steps=1, batch_size=2, learning_rate=1e-3, warmup_steps=0, save_steps=5, logging_steps=1,
                   exclude_splits=(), numbered_objects=numbered)
    train_full(new_world_lm(tokenizer, TINY, seed=0), tokenizer, args)
    return args.out


@pytest.mark.parametrize("numbered", [True, False])
def test_the_saved_world_lm_carries_its_prompt_layout_to_the_reasoner_and_the_rl_policy(tokenizer, tmp_path, numbered) -> None:
    folder = _trained(tokenizer, tmp_path, numbered=numbered)
    assert json.loads((folder / "config.json").read_text())[iccot.NUMBERED_OBJECTS_KEY] is numbered
    request, _ = PICKING[0]

    reasoner = WorldLMReasoner(folder, max_new_tokens=4)
    seen: list[str] = []
    reasoner.generate = lambda messages: seen.append(messages[-1]["content"]) or "x"
    reasoner.reconstruct(request)
    assert seen == [iccot.user_prompt(request, numbered_objects=numbered)]

    policy = LLMTextPolicy(str(folder), max_new_tokens=4, finetune="full")
    sample = policy.sample([request], temperature=0.7, seed=0)[0]
    assert ("#1 " in policy.tokenizer.decode(sample.prompt_ids)) is numbered


def test_a_lora_sft_refuses_numbered_objects_as_its_adapter_could_not_record_them(tmp_path) -> None:
    with pytest.raises(ValueError, match="numbered_objects"):
        train_sft(SFTArgs(out=tmp_path / "a", work_dir=tmp_path / "w", numbered_objects=True))
