"""The diffusers editors and the hybrid editor, on tiny random pipelines built from config."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from edit_agent.backends import make_editor
from edit_agent.editors.diffusers_common import fit_area, pad_to_multiple
from edit_agent.editors.flux_kontext import FluxKontextEditor
from edit_agent.editors.hybrid import HybridEditor
from edit_agent.editors.instruct_pix2pix import InstructPix2PixEditor
from edit_agent.editors.qwen_image_edit import QwenImageEditEditor
from edit_agent.records import Intent
from edit_agent.testing import RecordingEditor
from tests import model_fixtures
from tests.contracts import EditorContract, gradient_image
from tests.model_contracts import ModelEditorContract, lora_weights_folder


class TestQwenImageEditEditor(ModelEditorContract, EditorContract):
    editor_class = QwenImageEditEditor

    def make_pipeline(self):
        return model_fixtures.tiny_qwen_image_edit()

    def make_editor(self):
        return QwenImageEditEditor(self.make_pipeline(), num_inference_steps=2)

    def save_pipeline(self, folder) -> None:
        # Saving records the processor's own class (ImageOnlyQwen2VLProcessor); hub snapshots name
        # transformers' Qwen2VLProcessor, which is what the editor must load from.
        super().save_pipeline(folder)
        index = json.loads((folder / "model_index.json").read_text())
        index["processor"] = ["transformers", "Qwen2VLProcessor"]
        (folder / "model_index.json").write_text(json.dumps(index))

    def test_a_folder_saved_from_the_editors_pipeline_loads_again(self, tmp_path) -> None:
        self.make_editor().pipeline.save_pretrained(tmp_path)
        assert json.loads((tmp_path / "model_index.json").read_text())["processor"] == ["transformers", "Qwen2VLProcessor"]
        reloaded = QwenImageEditEditor(str(tmp_path), num_inference_steps=2)
        assert reloaded.edit(Image.new("RGB", (64, 48), "navy"), Intent(text="make it red")).size == (64, 48)

    def test_true_cfg_is_on_by_default(self) -> None:
        info = self.make_editor().info()
        assert info.extra["true_cfg_scale"] > 1 and info.extra["negative_prompt"] == " "

    def test_model_name_picks_the_plus_pipeline(self) -> None:
        from diffusers import QwenImageEditPlusPipeline

        editor = QwenImageEditEditor(model_fixtures.tiny_qwen_image_edit(plus=True), num_inference_steps=2)
        assert editor.plus and isinstance(editor.pipeline, QwenImageEditPlusPipeline)

    def test_a_folder_is_plus_by_its_model_index_not_by_its_name(self, tmp_path) -> None:
        import json

        from edit_agent.editors.qwen_image_edit import _is_plus

        for folder, pipeline in (("my_qwen_edit", "QwenImageEditPlusPipeline"), ("surplus_qwen", "QwenImageEditPipeline")):
            (tmp_path / folder).mkdir()
            (tmp_path / folder / "model_index.json").write_text(json.dumps({"_class_name": pipeline}))
        assert _is_plus(str(tmp_path / "my_qwen_edit")) and not _is_plus(str(tmp_path / "surplus_qwen"))
        assert _is_plus("Qwen/Qwen-Image-Edit-2509") and not _is_plus("Qwen/Qwen-Image-Edit")  # ids not cached here

    def test_reference_images_need_plus(self) -> None:
        with pytest.raises(ValueError, match="Plus"):
            self.make_editor().edit(gradient_image(32, 32), self.sample_intent(), reference_images=[gradient_image(32, 32)])


class TestQwenImageEditPlusEditor:
    def test_reference_images_condition_the_edit_and_size_is_kept(self) -> None:
        editor = QwenImageEditEditor(model_fixtures.tiny_qwen_image_edit(plus=True), num_inference_steps=2)
        image = gradient_image(61, 43)
        plain = editor.edit(image, Intent(text="Put the hat from picture 2 on it."), seed=3)
        reference = gradient_image(40, 80).rotate(90, expand=True)
        referenced = editor.edit(image, Intent(text="Put the hat from picture 2 on it."), seed=3, reference_images=[reference])
        assert plain.size == referenced.size == image.size
        assert plain.tobytes() != referenced.tobytes()


class TestFluxKontextEditor(ModelEditorContract, EditorContract):
    editor_class = FluxKontextEditor
    quantized_component = "text_encoder_2"

    def make_pipeline(self):
        return model_fixtures.tiny_flux_kontext()

    def make_editor(self):
        return FluxKontextEditor(self.make_pipeline(), num_inference_steps=2)

    def test_prompt_changes_the_output(self) -> None:
        editor = self.make_editor()
        image = gradient_image(48, 48)
        first = editor.edit(image, Intent(text="make it snowy"), seed=0)
        second = editor.edit(image, Intent(text="turn the sky deep purple at sunset"), seed=0)
        assert first.tobytes() != second.tobytes()


    def test_lora_given_at_construction_is_active(self, tmp_path) -> None:
        folder = lora_weights_folder(self.make_pipeline(), tmp_path)
        editor = FluxKontextEditor(self.make_pipeline(), num_inference_steps=2, lora=folder)
        assert editor.info().extra["lora"] == ["adapter_0"]
        plain = FluxKontextEditor(self.make_pipeline(), num_inference_steps=2)
        image = gradient_image(48, 48)
        assert editor.edit(image, self.sample_intent(), seed=0).tobytes() != plain.edit(image, self.sample_intent(), seed=0).tobytes()


class TestInstructPix2PixEditor(ModelEditorContract, EditorContract):
    editor_class = InstructPix2PixEditor

    def make_pipeline(self):
        return model_fixtures.tiny_instruct_pix2pix()

    def make_editor(self):
        return InstructPix2PixEditor(self.make_pipeline(), num_inference_steps=2)

    def test_image_guidance_scale_is_recorded_and_used(self) -> None:
        low = InstructPix2PixEditor(self.make_pipeline(), num_inference_steps=2, image_guidance_scale=1.1)
        high = InstructPix2PixEditor(self.make_pipeline(), num_inference_steps=2, image_guidance_scale=3.0)
        assert high.info().extra["image_guidance_scale"] == 3.0
        image = gradient_image(48, 48)
        assert low.edit(image, self.sample_intent(), seed=0).tobytes() != high.edit(image, self.sample_intent(), seed=0).tobytes()


class TestHybridEditor(EditorContract):
    def make_editor(self):
        return HybridEditor(RecordingEditor())

    def test_exact_intents_take_the_exact_path(self) -> None:
        generative = RecordingEditor()
        hybrid = HybridEditor(generative)
        image = gradient_image(40, 30)
        output = hybrid.edit(image, Intent(text="Rotate the image 90 degrees clockwise."), seed=0)
        assert output.size == (30, 40) and generative.calls == []
        info = hybrid.info()
        assert info.extra["route"] == "exact" and "exact operations" in info.extra["route_reason"]

    def test_other_intents_take_the_generative_path_and_say_why(self) -> None:
        generative = RecordingEditor()
        hybrid = HybridEditor(generative)
        hybrid.edit(gradient_image(40, 30), Intent(text="Add a red hat to the dog."), seed=5)
        assert [call.intent for call in generative.calls] == ["Add a red hat to the dog."]
        info = hybrid.info()
        assert info.extra["route"] == "generative" and "not fully" in info.extra["route_reason"]

    def test_an_intent_that_asks_for_nothing_goes_to_no_editor(self) -> None:
        from edit_agent.errors import UnsupportedInstructionError

        generative = RecordingEditor()
        hybrid = HybridEditor(generative)
        for text in ("Thanks!", "Is it too dark?"):
            with pytest.raises(UnsupportedInstructionError, match="nothing was edited"):
                hybrid.edit(gradient_image(40, 30), Intent(text=text), seed=0)
        assert generative.calls == []

    def test_a_request_asked_as_a_question_goes_to_the_generative_editor(self) -> None:
        """"Can you make the car red?" was taken for a question and refused: it says what to change."""
        generative = RecordingEditor()
        hybrid = HybridEditor(generative)
        for text in ("Can you make the car red?", "Would you mind removing the person?", "Is it possible to add a hat?"):
            hybrid.edit(gradient_image(40, 30), Intent(text=text), seed=0)
        assert len(generative.calls) == 3

    def test_an_unknown_generative_editor_is_refused_when_the_hybrid_is_built(self) -> None:
        from edit_agent.errors import UnknownBackendError

        with pytest.raises(UnknownBackendError, match="Unknown editor 'nonexistent'"):
            make_editor("hybrid", generative="nonexistent")

    def test_generative_editor_by_name_is_built_only_when_needed(self) -> None:
        hybrid = make_editor("hybrid", generative="qwen-image-edit", model="edit-agent-tests/not-a-cached-model")
        image = gradient_image(20, 20)
        # Exact edits work although the generative model is not available.
        assert hybrid.edit(image, Intent(text="Flip the image horizontally."), seed=0).size == (20, 20)
        from edit_agent.errors import ModelUnavailableError

        with pytest.raises(ModelUnavailableError):
            hybrid.edit(image, Intent(text="Add a moon."), seed=0)


def test_padding_is_centred_and_cropped_back() -> None:
    image = gradient_image(33, 17)
    padded, box = pad_to_multiple(image, 16)
    assert padded.size == (48, 32)
    assert padded.crop(box).tobytes() == image.tobytes()


def test_max_area_bounds_the_working_size_and_output_keeps_the_input_size() -> None:
    assert fit_area(gradient_image(400, 300), 120 * 90, 8).size == (120, 90)
    editor = InstructPix2PixEditor(model_fixtures.tiny_instruct_pix2pix(), num_inference_steps=2, max_area=64 * 48)
    assert editor.edit(gradient_image(200, 150), Intent(text="make it blue"), seed=0).size == (200, 150)


def test_registered_names_build_the_editors() -> None:
    editor = make_editor("instruct-pix2pix", model=model_fixtures.tiny_instruct_pix2pix(), num_inference_steps=2)
    assert editor.name == "instruct-pix2pix"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="diffusers' bitsandbytes NF4 for the denoiser needs CUDA")
def test_nf4_quantizes_the_denoiser_on_cuda(tmp_path) -> None:
    from bitsandbytes.nn import Linear4bit

    model_fixtures.tiny_flux_kontext().save_pretrained(tmp_path)
    editor = FluxKontextEditor(str(tmp_path), quantization="nf4", num_inference_steps=2)
    assert any(isinstance(module, Linear4bit) for module in editor.pipeline.transformer.modules())
    assert editor.edit(gradient_image(45, 31), Intent(text="x"), seed=0).size == (45, 31)


def test_hybrid_path_and_reason_appear_in_the_turns_reasoning(tmp_path):
    from edit_agent import EditSession

    session = EditSession(store=tmp_path, reasoner="passthrough", editor=HybridEditor(RecordingEditor()))
    exact = session.edit(gradient_image(40, 30), "make it warmer")
    generative = session.edit(None, "add a red hat to the dog")
    assert "Editor path: exact" in exact.reasoning
    assert "Editor path: generative" in generative.reasoning and "not fully" in generative.reasoning
    assert session.history[-1].reasoning == generative.reasoning  # stored with the turn


def test_rules_with_a_generative_editor_say_the_reasoner_is_what_to_change(tmp_path):
    """The rule reasoner reads exact operations only: with a generative editor at hand, "a generative editor
    is needed" would send the user looking for what they already have."""
    from edit_agent import EditSession
    from edit_agent.errors import NeedsGenerativeEditorError, UnsupportedInstructionError

    hybrid = EditSession(store=tmp_path, reasoner="rules", editor=HybridEditor(RecordingEditor()))
    with pytest.raises(UnsupportedInstructionError, match="the 'rules' reasoner reads only those: for the 'hybrid' "
                       "editor to make it, choose a reasoner that passes other instructions on") as refused:
        hybrid.edit(gradient_image(40, 30), "add a red hat to the dog")
    assert "a generative editor is needed" not in str(refused.value)
    exact = EditSession(store=tmp_path, reasoner="rules", editor="exact")
    with pytest.raises(NeedsGenerativeEditorError, match="a generative editor is needed for it"):
        exact.edit(gradient_image(40, 30), "add a red hat to the dog")


@pytest.mark.parametrize(("kind", "name"), [("editor", "qwen-image-edit"), ("editor", "instruct-pix2pix"),
                                            ("reasoner", "vlm"), ("reasoner", "world-lm")])
def test_an_option_no_class_on_the_way_takes_is_an_argument_error_before_any_loading(kind, name):
    # these pass **options to their base class: the check follows them there
    from edit_agent.backends import make_reasoner
    from edit_agent.errors import InvalidArgumentError

    make = make_editor if kind == "editor" else make_reasoner
    with pytest.raises(InvalidArgumentError, match=rf"The {kind} '{name}' does not take foo \(it takes: .*device"):
        make(name, foo=1)


def test_a_hybrid_editor_shares_its_generative_editor_with_the_process():
    from edit_agent.backends import shared_editor

    hybrid = make_editor("hybrid", generative="identity")
    assert hybrid.generative is shared_editor("identity")  # one model in memory, not two


@pytest.mark.parametrize("module", ["instruct_pix2pix", "flux_kontext"])
def test_importing_a_diffusers_editor_does_not_tell_the_user_to_install_torchvision(module):
    """The app imports every editor at start-up: the PIL image processors serve, so no warning that they do."""
    imported = subprocess.run([sys.executable, "-c", f"import edit_agent.editors.{module}"], capture_output=True,
                              text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert "torchvision" not in imported.stderr
