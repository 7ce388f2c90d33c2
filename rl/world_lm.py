"""A small causal LM for MICE-World intents, built from a config (nothing is downloaded).

SmolLM2-135M reads the long IC-CoT prompt slowly on a CPU and learns the world's intents slowly
from a LoRA (``evals/reports/rl_sft.md``). This is the smaller alternative the text policy can
use instead: a Llama-architecture model of a few million parameters with its own byte-level BPE
tokenizer, learned from the very prompts and answers it will see, then trained on the rule
reasoner's traces (``rl.sft.train_full``) and post-trained by ``rl/`` like any other text policy.

It is saved as an ordinary transformers folder, so everything that takes a model id or folder
takes it: ``LLMReasoner(model=folder)``, ``LLMTextPolicy(folder)``, ``text_model:`` in an RL config.

Its chat template leaves out the system message: the model only ever does this one task, and the
fixed system text would be most of every sequence while telling it nothing.

>>> tokenizer = train_tokenizer(["Add a red circle.", "Move the blue square to the center."], vocab_size=300)
>>> tokenizer.decode(tokenizer("Add a red circle.")["input_ids"])
'Add a red circle.'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edit_agent.folders import share_weights_like_other_files

BEGIN, END, PAD = "<|im_start|>", "<|im_end|>", "<|pad|>"

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class WorldLMShape:
    """The model's size. The default (2.0M parameters with a 1k vocabulary) trains on a CPU in minutes."""

    hidden_size: int = 192
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 1024
    """Longest prompt + answer; a 5-turn world prompt with its answer is about 400 tokens."""


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 1024) -> Any:
    """A byte-level BPE tokenizer learned from ``texts`` (any text still encodes: unseen words fall back to bytes)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BEGIN, END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token=BEGIN, eos_token=END, pad_token=PAD,
                                   chat_template=CHAT_TEMPLATE, padding_side="left")


def new_world_lm(tokenizer: Any, shape: WorldLMShape = WorldLMShape(), *, seed: int = 0) -> Any:
    """A randomly initialised Llama-architecture causal LM over ``tokenizer``'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.heads,
        max_position_embeddings=shape.max_positions, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def deepen_world_lm(model: Any) -> Any:
    """A copy of a trained world LM with twice the layers that computes exactly what ``model`` computes.

    Each layer is followed by a copy of itself whose two output projections (attention ``o_proj``
    and MLP ``down_proj``) are zero, so the copy adds nothing to the residual stream until training
    moves them (block expansion, as in LLaMA Pro). Continued SFT then starts from the trained
    model's answers with the capacity of a model twice as deep, instead of from scratch.
    """
    import torch
    from transformers import LlamaForCausalLM

    config = model.config.__class__.from_dict(model.config.to_dict())
    depth = config.num_hidden_layers
    config.num_hidden_layers = 2 * depth
    deeper = LlamaForCausalLM(config)
    deeper.generation_config = model.generation_config
    state = {}
    for name, tensor in model.state_dict().items():
        if not name.startswith("model.layers."):
            state[name] = tensor
            continue
        index, rest = name.removeprefix("model.layers.").split(".", 1)
        state[f"model.layers.{2 * int(index)}.{rest}"] = tensor
        silent = rest in ("self_attn.o_proj.weight", "mlp.down_proj.weight")
        state[f"model.layers.{2 * int(index) + 1}.{rest}"] = torch.zeros_like(tensor) if silent else tensor.clone()
    deeper.load_state_dict(state, strict=True)
    return deeper.to(model.device)


def save_world_lm(model: Any, tokenizer: Any, folder: str | Path) -> Path:
    """Write model and tokenizer as one transformers folder (safetensors)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    share_weights_like_other_files(folder)
    return folder


def merge_adapter(base: str | Path, adapter: str | Path, out: str | Path) -> Path:
    """Fold an RL-trained LoRA into the world LM and save the result as one plain folder
    (what the ``llm`` reasoner loads with no peft at inference)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return save_world_lm(merged, tokenizer, out)
