"""Extra contract checks for model-backed editors (on top of ``tests.contracts.EditorContract``).

Every diffusers editor passes: loading from a local folder, the NF4 path builds and runs, a LoRA
adapter changes the output and unloading it restores it exactly, the pipeline works at the padded
input size (no silent resize), a missing model fails at once with a useful message, and a CUDA
out-of-memory error becomes ``OutOfMemoryError`` with the next turn still working.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from edit_agent.editors.diffusers_common import pad_to_multiple
from edit_agent.errors import ModelUnavailableError, OutOfMemoryError
from tests.contracts import gradient_image


def difference(first, second) -> float:
    return float(np.abs(np.asarray(first, dtype=np.int16) - np.asarray(second, dtype=np.int16)).mean())


def lora_weights_folder(pipeline, folder) -> str:
    """Save a random (non-zero) LoRA for the pipeline's denoiser in diffusers' LoRA format."""
    denoiser_name = "unet" if hasattr(pipeline, "unet") else "transformer"
    denoiser = getattr(pipeline, denoiser_name)
    torch.manual_seed(1)
    denoiser.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False),
        adapter_name="made",
    )
    # Large B factors: the LoRA format carries no alpha, and a tiny random denoiser barely moves the
    # decoded pixels, so the adapter must be strong for its effect to be measurable.
    state = {key: value * 20 if "lora_B" in key else value
             for key, value in get_peft_model_state_dict(denoiser, adapter_name="made").items()}
    type(pipeline).save_lora_weights(str(folder), **{f"{denoiser_name}_lora_layers": state})
    return str(folder)


class ModelEditorContract:
    """Mix into an ``EditorContract`` test class; define ``editor_class``, ``make_pipeline()`` and ``make_editor()``."""

    editor_class: type
    quantized_component: str = "text_encoder"

    def make_pipeline(self):
        raise NotImplementedError

    def save_pipeline(self, folder) -> None:
        """Save a tiny pipeline the way hub snapshots are laid out."""
        self.make_pipeline().save_pretrained(folder)

    def edit_once(self, editor, size=(64, 48), seed=0):
        return editor.edit(gradient_image(*size), self.sample_intent(), seed=seed)

    def test_lora_load_changes_output_and_unload_restores_it(self, tmp_path) -> None:
        editor = self.make_editor()
        base = self.edit_once(editor)
        name = editor.load_lora(lora_weights_folder(self.make_pipeline(), tmp_path))
        assert editor.info().extra["lora"] == [name]
        with_lora = self.edit_once(editor)
        assert difference(base, with_lora) > 0.5
        editor.unload_lora(name)
        assert editor.info().extra["lora"] == []
        assert self.edit_once(editor).tobytes() == base.tobytes()

    def test_loads_from_a_local_folder_in_nf4(self, tmp_path) -> None:
        from bitsandbytes.nn import Linear4bit

        self.save_pipeline(tmp_path / "model")
        editor = self.editor_class(str(tmp_path / "model"), quantization="nf4", num_inference_steps=2)
        encoder = getattr(editor.pipeline, self.quantized_component)
        assert any(isinstance(module, Linear4bit) for module in encoder.modules())
        assert editor.info().extra["quantization"] == "nf4"
        assert editor.info().model == str(tmp_path / "model")
        output = self.edit_once(editor, size=(45, 31))
        assert output.size == (45, 31)

    def test_works_at_the_padded_size_without_resizing(self, monkeypatch) -> None:
        editor = self.make_editor()
        seen = []
        run = editor._run

        def spy(image, *args, **kwargs):
            output = run(image, *args, **kwargs)
            seen.append((image.size, output.size))
            return output

        monkeypatch.setattr(editor, "_run", spy)
        image = gradient_image(101, 75)
        editor.edit(image, self.sample_intent(), seed=0)
        padded, _ = pad_to_multiple(image, editor.multiple)
        assert seen == [(padded.size, padded.size)]

    def test_missing_model_fails_at_once_naming_model_cache_and_fix(self) -> None:
        started = time.perf_counter()
        with pytest.raises(ModelUnavailableError) as caught:
            self.editor_class("edit-agent-tests/not-a-cached-model")
        assert time.perf_counter() - started < 2.0
        message = str(caught.value)
        assert "edit-agent-tests/not-a-cached-model" in message
        assert "cache" in message and "hf download" in message

    def test_missing_folder_fails_clearly(self, tmp_path) -> None:
        with pytest.raises(ModelUnavailableError, match="no folder"):
            self.editor_class(str(tmp_path / "nowhere" / "model"))

    def test_out_of_memory_is_reported_and_the_next_turn_works(self, monkeypatch) -> None:
        editor = self.make_editor()
        expected = self.edit_once(editor)
        pipeline_class = type(editor.pipeline)
        original_call = pipeline_class.__call__

        def exhausted(self, *args, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

        monkeypatch.setattr(pipeline_class, "__call__", exhausted)
        with pytest.raises(OutOfMemoryError, match="Memory was freed"):
            self.edit_once(editor)
        monkeypatch.setattr(pipeline_class, "__call__", original_call)
        assert self.edit_once(editor).tobytes() == expected.tobytes()

    def test_info_names_model_steps_and_settings(self) -> None:
        info = self.make_editor().info()
        assert info.steps == 2
        assert info.extra["dtype"] == "float32" and info.extra["device"] == "cpu"


class ModelReasonerContract:
    """Mix into a ``ReasonerContract`` test class for transformers reasoners; define ``reasoner_class``,
    ``make_model()`` -> (model, tokenizer or processor) and ``make_reasoner()``."""

    reasoner_class: type

    def make_model(self):
        raise NotImplementedError

    def messages(self):
        return [{"role": "user", "content": "make it brighter"}]

    def test_lora_load_changes_output_and_unload_restores_it(self, tmp_path) -> None:
        reasoner = self.make_reasoner()
        base = reasoner.generate(self.messages())
        model, _ = self.make_model()
        torch.manual_seed(1)
        from peft import get_peft_model

        peft_model = get_peft_model(
            model, LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        )
        peft_model.save_pretrained(tmp_path / "adapter")
        name = reasoner.load_lora(tmp_path / "adapter")
        assert reasoner.generate(self.messages()) != base
        reasoner.unload_lora(name)
        assert reasoner.generate(self.messages()) == base

    def test_missing_model_fails_at_once_naming_model_cache_and_fix(self) -> None:
        started = time.perf_counter()
        with pytest.raises(ModelUnavailableError) as caught:
            self.reasoner_class("edit-agent-tests/not-a-cached-model")
        assert time.perf_counter() - started < 2.0
        message = str(caught.value)
        assert "edit-agent-tests/not-a-cached-model" in message and "hf download" in message

    def test_out_of_memory_is_reported_and_the_next_turn_works(self, monkeypatch) -> None:
        reasoner = self.make_reasoner()
        request = self.request(self.sample_instruction())
        expected = reasoner.reconstruct(request)
        original = reasoner.model.generate

        def exhausted(*args, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory.")

        monkeypatch.setattr(reasoner.model, "generate", exhausted)
        with pytest.raises(OutOfMemoryError):
            reasoner.reconstruct(request)
        monkeypatch.setattr(reasoner.model, "generate", original)
        assert reasoner.reconstruct(request) == expected
