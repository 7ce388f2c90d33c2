"""Seconds per editing turn and peak GPU memory for each diffusers editor, bf16 vs NF4, plus IC-CoT time.

Every model is built at its real architecture size from config with random weights (nothing is
downloaded, so it runs on a machine without hub access); speed and memory do not depend on the
weight values. Per editor: one turn at 1024x1024 for 8 and for 28 denoising steps, in bf16 and
then with the denoiser and text encoder(s) in bitsandbytes NF4; per precision the peak of
``torch.cuda.max_memory_allocated`` over the turn (weights included). Then the ``llm`` reasoner's
IC-CoT time for a 7B-shaped model (Qwen2-7B shapes), bf16 and NF4, for a fixed answer length.

Needs a CUDA GPU (H100/H200 class, ~60 GiB for Qwen-Image-Edit in bf16); it refuses to run on
CPU. ``--tiny`` checks the whole script on CPU with tiny shapes (timings meaningless).

    python benchmarks/gpu_turn.py                 # on the GPU machine, <= 8 minutes
    python benchmarks/gpu_turn.py --tiny          # anywhere, seconds

NF4 note: the random-weight models are quantized in place (each ``nn.Linear`` becomes a
bitsandbytes ``Linear4bit`` NF4 layer, bf16 compute), which is the layer layout diffusers' and
transformers' bitsandbytes loaders produce; the editors load real checkpoints that way through
``quantization="nf4"``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edit_agent.editors.flux_kontext import FluxKontextEditor  # noqa: E402
from edit_agent.editors.instruct_pix2pix import InstructPix2PixEditor  # noqa: E402
from edit_agent.editors.qwen_image_edit import QwenImageEditEditor  # noqa: E402
from edit_agent.reasoners.llm import LLMReasoner  # noqa: E402
from edit_agent.records import HistoryTurn, Intent, TurnRequest  # noqa: E402
from tests import model_fixtures  # noqa: E402  (character-level tokenizers built in code)


@dataclass
class Args:
    editors: list[str] = field(default_factory=lambda: ["qwen-image-edit", "flux-kontext", "instruct-pix2pix"])
    steps: list[int] = field(default_factory=lambda: [8, 28])
    precisions: list[str] = field(default_factory=lambda: ["bf16", "nf4"])
    size: int = 1024
    """Side of the square test image."""
    llm_new_tokens: int = 160
    """Answer length forced for the IC-CoT timing (trace + instruction)."""
    budget_s: float = 450.0
    """Measurements that would start after this many seconds are skipped (and listed as skipped)."""
    tiny: bool = False
    """Tiny shapes on CPU: checks the script, timings are meaningless."""
    out: Path | None = None
    """Where to write the Markdown table and JSON (default: benchmarks/results/, GPU runs only)."""


# -- building models at their real sizes -------------------------------------------------------


@contextlib.contextmanager
def built_on(device: torch.device, dtype: torch.dtype):
    """Create parameters directly on ``device`` in ``dtype`` (no float32 copy on the CPU first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            yield
    finally:
        torch.set_default_dtype(previous)


def clip_l(device, dtype):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                            projection_dim=768, vocab_size=49408, max_position_embeddings=77,
                            bos_token_id=512, eos_token_id=513, pad_token_id=513)
    with built_on(device, dtype):
        return CLIPTextModel(config).eval()


def qwen_image_edit(device, dtype):
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessorPil

    from edit_agent.hf_loading import ImageOnlyQwen2VLProcessor

    tokenizer = model_fixtures.qwen_tokenizer()
    ids = {name: tokenizer.convert_tokens_to_ids(f"<|{name}|>") for name in ("image_pad", "video_pad", "vision_start", "vision_end")}
    # Qwen2.5-VL-7B, the text encoder of Qwen-Image-Edit.
    config = Qwen2_5_VLConfig(
        text_config={"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                     "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
                     "rope_parameters": {"mrope_section": [16, 24, 24], "rope_type": "default", "rope_theta": 1000000.0}},
        vision_config={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                       "out_hidden_size": 3584, "fullatt_block_indexes": [7, 15, 23, 31], "window_size": 112},
        image_token_id=ids["image_pad"], video_token_id=ids["video_pad"],
        vision_start_token_id=ids["vision_start"], vision_end_token_id=ids["vision_end"],
    )
    with built_on(device, dtype):
        text_encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
        transformer = QwenImageTransformer2DModel()  # the defaults are Qwen-Image's 20B configuration
        vae = AutoencoderKLQwenImage()
    processor = ImageOnlyQwen2VLProcessor(image_processor=Qwen2VLImageProcessorPil(), tokenizer=tokenizer)
    pipeline = QwenImageEditPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
                                     text_encoder=text_encoder, tokenizer=tokenizer, processor=processor)
    return pipeline, ("transformer", "text_encoder")


def flux_kontext(device, dtype):
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    t5_xxl = T5Config(vocab_size=32128, d_model=4096, d_ff=10240, d_kv=64, num_heads=64, num_layers=24,
                      feed_forward_proj="gated-gelu", decoder_start_token_id=0)
    with built_on(device, dtype):
        transformer = FluxTransformer2DModel(guidance_embeds=True)  # FLUX.1-dev / Kontext-dev: 12B
        text_encoder_2 = T5EncoderModel(t5_xxl).eval()
        vae = AutoencoderKL(block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=16,
                            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                            use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611)
    pipeline = FluxKontextPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=clip_l(device, dtype),
                                   text_encoder_2=text_encoder_2, tokenizer=model_fixtures.clip_tokenizer(),
                                   tokenizer_2=model_fixtures.t5_tokenizer(), transformer=transformer, vae=vae)
    return pipeline, ("transformer", "text_encoder_2")


def instruct_pix2pix(device, dtype):
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )

    with built_on(device, dtype):
        unet = UNet2DConditionModel(in_channels=8, out_channels=4, cross_attention_dim=768, sample_size=64)  # SD 1.5 UNet
        vae = AutoencoderKL(block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4,
                            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4)
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=clip_l(device, dtype), tokenizer=model_fixtures.clip_tokenizer(), unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return pipeline, ("unet", "text_encoder")


def tiny(builder_name: str) -> Callable:
    def build(device, dtype):
        if builder_name == "qwen-image-edit":
            return model_fixtures.tiny_qwen_image_edit(), ("transformer", "text_encoder")
        if builder_name == "flux-kontext":
            return model_fixtures.tiny_flux_kontext(), ("transformer", "text_encoder_2")
        return model_fixtures.tiny_instruct_pix2pix(), ("unet", "text_encoder")

    return build


EDITORS: dict[str, tuple[Callable, type]] = {
    "qwen-image-edit": (qwen_image_edit, QwenImageEditEditor),
    "flux-kontext": (flux_kontext, FluxKontextEditor),
    "instruct-pix2pix": (instruct_pix2pix, InstructPix2PixEditor),
}


def quantize_nf4_(model: nn.Module, compute_dtype: torch.dtype) -> None:
    """Swap every ``nn.Linear`` of ``model`` for a bitsandbytes NF4 ``Linear4bit`` with the same weights."""
    import bitsandbytes as bnb

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:
                continue
            layer = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                      compute_dtype=compute_dtype, quant_type="nf4", device="meta")
            weight = bnb.nn.Params4bit(child.weight.data, requires_grad=False, quant_type="nf4", module=layer)
            layer.weight = weight._quantize(child.weight.device)
            if child.bias is not None:
                layer.bias = nn.Parameter(child.bias.data, requires_grad=False)
            setattr(parent, name, layer)
    free()


def free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def timed(run: Callable[[], Any]) -> tuple[float, float | None]:
    reset_peak()
    started = time.perf_counter()
    run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, peak_gib()


# -- the measurements --------------------------------------------------------------------------


def measure_editor(name: str, args: Args, device: torch.device, dtype: torch.dtype, clock: Callable[[], float]) -> list[dict]:
    builder, editor_class = EDITORS[name]
    builder = tiny(name) if args.tiny else builder
    rows: list[dict] = []
    started = time.perf_counter()
    pipeline, quantizable = builder(device, dtype)
    pipeline.to(device)
    build_s = time.perf_counter() - started
    editor = editor_class(pipeline, device=device, dtype=dtype, num_inference_steps=1)
    image = Image.new("RGB", (args.size, args.size), (120, 140, 160))
    intent = Intent(text="Make the sky at the top a deep sunset orange and keep everything else.")
    for precision in args.precisions:
        if precision == "nf4":
            for component in quantizable:
                quantize_nf4_(getattr(pipeline, component), dtype)
            editor.quantization = "nf4"
        editor.num_inference_steps = 1
        editor.edit(image, intent, seed=0)  # warm-up: kernels, allocator
        for steps in args.steps:
            row = {"what": name, "precision": precision, "steps": steps, "size": f"{args.size}x{args.size}",
                   "build_s": round(build_s, 1)}
            if clock() > args.budget_s:
                rows.append({**row, "skipped": "time budget"})
                continue
            editor.num_inference_steps = steps
            seconds, peak = timed(partial(editor.edit, image, intent, seed=0))
            rows.append({**row, "seconds_per_turn": round(seconds, 2), "peak_vram_gib": peak and round(peak, 1)})
            print(json.dumps(rows[-1]), flush=True)
    del editor, pipeline
    free()
    return rows


def measure_llm(args: Args, device: torch.device, dtype: torch.dtype, clock: Callable[[], float]) -> list[dict]:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = model_fixtures.qwen_tokenizer()
    if args.tiny:
        config = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=2, vocab_size=320)
    else:  # Qwen2-7B shapes
        config = Qwen2Config(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                             num_key_value_heads=4, vocab_size=152064)
    with built_on(device, dtype):
        model = Qwen2ForCausalLM(config).eval()
    # Random weights never emit the end token: force the answer length so every run does equal work.
    model.generation_config.min_new_tokens = args.llm_new_tokens
    model.generation_config.eos_token_id = None
    reasoner = LLMReasoner(model, tokenizer=tokenizer, device=device, dtype=dtype, max_new_tokens=args.llm_new_tokens)
    image = Image.new("RGB", (64, 64))
    history = tuple(HistoryTurn(turn_id=str(k), instruction=text, reasoning="", intent="") for k, text in enumerate([
        "From now on every new shape must be blue.", "add a circle at the top left", "don't touch the red square",
        "make the triangle bigger", "undo that"], 1))
    request = TurnRequest(instruction="move it to the center", history=history, image=image, source_image=image)
    rows = []
    for precision in args.precisions:
        if precision == "nf4":
            quantize_nf4_(model, dtype)
            reasoner.quantization = "nf4"
        row = {"what": "llm IC-CoT (Qwen2-7B shape)" if not args.tiny else "llm IC-CoT (tiny)", "precision": precision,
               "new_tokens": args.llm_new_tokens}
        if clock() > args.budget_s:
            rows.append({**row, "skipped": "time budget"})
            continue
        reasoner.reconstruct(request)  # warm-up
        seconds, peak = timed(lambda: reasoner.reconstruct(request))
        rows.append({**row, "seconds_per_turn": round(seconds, 2), "peak_vram_gib": peak and round(peak, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict], device_name: str) -> str:
    lines = [f"# GPU turn benchmark on {device_name}", "",
             "Random weights at real architecture sizes; one turn = one edit at the given size (or one IC-CoT answer).", "",
             "| what | precision | steps / tokens | seconds per turn | peak VRAM (GiB) |", "|---|---|---|---|---|"]
    for row in rows:
        amount = row.get("steps", row.get("new_tokens"))
        seconds = row.get("seconds_per_turn", row.get("skipped", row.get("error", "")))
        peak = row.get("peak_vram_gib")
        lines.append(f"| {row['what']} | {row['precision']} | {amount} | {seconds} | {'n/a' if peak is None else peak} |")
    return "\n".join(lines) + "\n"


def main(args: Args) -> list[dict]:
    if not torch.cuda.is_available() and not args.tiny:
        raise SystemExit("benchmarks/gpu_turn.py needs a CUDA GPU (H100/H200 class): no GPU is visible here. "
                         "To check the script on CPU with tiny shapes, run it with --tiny.")
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    device_name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU (tiny shapes)"
    started = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - started

    rows: list[dict] = []
    for name in args.editors:
        try:
            rows += measure_editor(name, args, device, dtype, clock)
        except torch.OutOfMemoryError as error:  # report it and go on with the next editor
            rows.append({"what": name, "precision": "-", "error": f"out of memory: {str(error).splitlines()[0]}"})
            free()
    rows += measure_llm(args, device, dtype, clock)
    table = markdown(rows, device_name) + f"\nTotal wall time: {clock():.0f} s.\n"
    print(table)
    out = args.out or (ROOT / "benchmarks" / "results" / f"gpu_turn_{device_name.replace(' ', '_')}" if not args.tiny else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(table)
        out.with_suffix(".json").write_text(json.dumps({"args": {k: str(v) for k, v in asdict(args).items()},
                                                        "device": device_name, "rows": rows}, indent=2))
    return rows


def parse_args(argv: list[str] | None = None) -> Args:
    defaults = Args()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editors", nargs="+", default=defaults.editors, choices=list(EDITORS))
    parser.add_argument("--steps", nargs="+", type=int, default=None, help="default 8 28 (2 4 with --tiny)")
    parser.add_argument("--precisions", nargs="+", default=defaults.precisions, choices=["bf16", "nf4"])
    parser.add_argument("--size", type=int, default=None, help="image side (default 1024; 96 with --tiny)")
    parser.add_argument("--llm-new-tokens", type=int, default=None, help="default 160 (16 with --tiny)")
    parser.add_argument("--budget-s", type=float, default=defaults.budget_s)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    values = vars(parser.parse_args(argv))
    values["size"] = values["size"] or (96 if values["tiny"] else defaults.size)
    values["steps"] = values["steps"] or ([2, 4] if values["tiny"] else defaults.steps)
    values["llm_new_tokens"] = values["llm_new_tokens"] or (16 if values["tiny"] else defaults.llm_new_tokens)
    return Args(**values)


if __name__ == "__main__":
    main(parse_args())
