"""Tiny random models and tokenizers built from config, for the model-backend tests. Nothing is downloaded.

Tokenizers are character level (every byte is a token, no merges), built in code, so no fixture
files are needed; models are a few thousand parameters under a fixed seed, in the style of
diffusers' ``get_dummy_components()``.
"""

from __future__ import annotations

import torch
from tokenizers import pre_tokenizers

QWEN_SPECIAL_TOKENS = [
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# A ChatML template, the shape Qwen and SmolLM2 use.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_vocab(suffix: str = "") -> dict[str, int]:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {char: index for index, char in enumerate(alphabet)}
    if suffix:
        vocab.update({char + suffix: len(alphabet) + index for index, char in enumerate(alphabet)})
    return vocab


def qwen_tokenizer():
    """A Qwen2 (byte-level BPE) tokenizer with the chat and vision special tokens."""
    from transformers import Qwen2Tokenizer

    tokenizer = Qwen2Tokenizer(vocab=byte_vocab(), merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL_TOKENS})
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def qwen_vl_processor():
    from transformers import Qwen2VLImageProcessorPil

    from edit_agent.hf_loading import ImageOnlyQwen2VLProcessor

    # Few vision tokens: at most 16 patches of 28x28 after merging.
    image_processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    return ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=qwen_tokenizer())


def qwen_vl_model(tokenizer, seed: int = 0):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {name: tokenizer.convert_tokens_to_ids(f"<|{name}|>") for name in ("image_pad", "video_pad", "vision_start", "vision_end")}
    config = Qwen2_5_VLConfig(
        text_config={
            # Sides are multiples of 64: bitsandbytes' CPU 4-bit kernel needs that (NF4 test).
            "hidden_size": 64,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_parameters": {"mrope_section": [4, 4, 8], "rope_type": "default", "rope_theta": 1000000.0},
            "vocab_size": 320,
            "bos_token_id": tokenizer.convert_tokens_to_ids("<|im_start|>"),
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={"depth": 2, "hidden_size": 64, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64},
        image_token_id=ids["image_pad"],
        video_token_id=ids["video_pad"],
        vision_start_token_id=ids["vision_start"],
        vision_end_token_id=ids["vision_end"],
    )
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def tiny_qwen_image_edit(plus: bool = False):
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPipeline,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )

    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=16,
        out_channels=4,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=64,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    torch.manual_seed(0)
    z_dim = 4
    vae = AutoencoderKLQwenImage(
        base_dim=z_dim * 6,
        z_dim=z_dim,
        # Three spatial downsamplings (x8) as in the real model, so a 333x517 image stays fast.
        dim_mult=[1, 2, 2, 2],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * z_dim,
        latents_std=[1.0] * z_dim,
    )
    processor = qwen_vl_processor()
    pipeline_class = QwenImageEditPlusPipeline if plus else QwenImageEditPipeline
    return pipeline_class(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=qwen_vl_model(processor.tokenizer),
        tokenizer=processor.tokenizer,
        processor=processor,
    )


def clip_tokenizer():
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab={**byte_vocab("</w>"), "<|startoftext|>": 512, "<|endoftext|>": 513}, merges=[], model_max_length=77)


def clip_text_encoder(seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        bos_token_id=512,
        eos_token_id=513,
        # Sides are multiples of 64: bitsandbytes' CPU 4-bit kernel needs that (NF4 test).
        hidden_size=64,
        intermediate_size=64,
        num_attention_heads=4,
        num_hidden_layers=2,
        pad_token_id=513,
        vocab_size=520,
        projection_dim=64,
        max_position_embeddings=77,
    )
    torch.manual_seed(seed)
    return CLIPTextModel(config).eval()


def t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    pieces += [(chr(code), -2.0) for code in range(33, 127)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def t5_encoder(seed: int = 0):
    from transformers import T5Config, T5EncoderModel

    config = T5Config(vocab_size=100, d_model=64, d_ff=64, d_kv=16, num_layers=2, num_heads=4,
                      relative_attention_num_buckets=8, decoder_start_token_id=0)
    torch.manual_seed(seed)
    return T5EncoderModel(config).eval()


def tiny_flux_kontext():
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=64,
        pooled_projection_dim=64,
        axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        # Four levels: a downscale of 8 as in the real model, so a 333x517 test image stays fast.
        block_out_channels=(4, 4, 4, 4),
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    return FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=clip_text_encoder(),
        text_encoder_2=t5_encoder(),
        tokenizer=clip_tokenizer(),
        tokenizer_2=t5_tokenizer(),
        transformer=transformer,
        vae=vae,
        image_encoder=None,
        feature_extractor=None,
    )


def tiny_instruct_pix2pix():
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=8,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64,
        norm_num_groups=4,
        attention_head_dim=4,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        # Four levels: a downscale of 8 as in the real model.
        block_out_channels=[4, 4, 8, 8],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4,
        norm_num_groups=4,
    )
    return StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=clip_text_encoder(),
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def tiny_chat_lm(seed: int = 0):
    """A tiny random Llama chat model with the ChatML byte tokenizer: ``(model, tokenizer)``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = qwen_tokenizer()
    config = LlamaConfig(
        vocab_size=320,
        # Sides are multiples of 64 (32 for k/v): bitsandbytes' CPU 4-bit kernel needs that (NF4 test).
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval(), tokenizer
