"""Supervised warm start of the LLM text policy on the rule reasoner's traces of MICE-World sessions.

Each example is one turn of a generated session, shown to the model exactly as the ``llm``
reasoner shows it (the IC-CoT prompt with the ``<think>`` prefill, history built turn by turn as
the SDK builds it) with the answer the rule reasoner implies: a short trace inside
``<think>...</think>`` and then the rule reasoner's self-contained intent. Training uses TRL's
``SFTTrainer`` on a pre-tokenized prompt-completion dataset with a completion-only loss, so the
prompt tokens are exactly the ones the reasoner feeds at inference.

>>> from edit_agent.world.generator import generate_sessions
>>> from rl.text_policy import parse_completion
>>> request, thought = next(rule_traces(generate_sessions(1, turns=1, seed=3)))
>>> answer = completion_text(thought)
>>> parse_completion(answer, request).intent.text == thought.intent.text
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edit_agent.reasoners import iccot
from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.records import Thought, TurnRequest
from edit_agent.world.sessions import WorldSession
from rl.rollout import session_requests
from rl.text_policy import LLMTextPolicy, default_lora_config, prompt_ids

# Lines of the rule trace that describe scenes: the prompt already lists what the source and current
# images hold (iccot.scene_lines), so the model is not taught to recite them again (and the answers stay
# short enough for the reasoner's token budget).
_SCENE_LINES = ("Start scene:", "Replaying the", "Note: the current image", "So: ")


def compact_reasoning(reasoning: str) -> str:
    """The rule trace without its scene descriptions: the turn, how references resolve, rules in force.

    >>> compact_reasoning('Start scene: white background.\\nTurn 1 (add): "add a circle".\\nSo: Add a red circle.')
    'Turn 1 (add): "add a circle".'
    """
    return "\n".join(line for line in reasoning.splitlines() if not line.startswith(_SCENE_LINES))


def completion_text(thought: Thought, request: TurnRequest | None = None) -> str:
    """What the model should write after the ``<think>`` prefill: trace, ``</think>``, intent.

    With ``request`` (for a model that reads numbered objects) every object of the current image
    that the trace names is preceded by its number in the prompt's list, so the model learns to
    pick an object by number and copy its words; the intent itself stays unnumbered.
    """
    reasoning = compact_reasoning(thought.reasoning)
    described = iccot.world_object_descriptions(request.image) if request is not None else None
    if described is not None:
        reasoning = iccot.number_objects(reasoning, described[1])
    return f"{reasoning}</think>{thought.intent.text}"


def rule_traces(sessions: Iterable[WorldSession], *, size: int = 96) -> Iterator[tuple[TurnRequest, Thought]]:
    """Every turn of ``sessions`` with the rule reasoner's thought (the SFT teacher)."""
    teacher = RuleReasoner()
    for session in sessions:
        yield from session_requests(session, teacher, size=size)


def tokenized_example(
    tokenizer: Any, request: TurnRequest, thought: Thought, *, numbered_objects: bool = False
) -> dict[str, list[int]]:
    """``input_ids`` = reasoner prompt + answer + end of turn; ``completion_mask`` marks the answer."""
    prompt = prompt_ids(tokenizer, request, numbered_objects=numbered_objects).tolist()
    answer_text = completion_text(thought, request if numbered_objects else None)
    answer = tokenizer(answer_text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt + answer, "completion_mask": [0] * len(prompt) + [1] * len(answer)}


def held_out(sessions: Sequence[WorldSession], *excluded: Sequence[WorldSession]) -> list[WorldSession]:
    """``sessions`` minus any that also occur (same start and instructions) in ``excluded``."""
    def key(session: WorldSession) -> tuple:
        return session.start, tuple(turn.instruction for turn in session.turns)

    seen = {key(session) for group in excluded for session in group}
    return [session for session in sessions if key(session) not in seen]


@dataclass
class SFTArgs:
    """Supervised warm start of the text policy; defaults are the CPU run that made ``rl/adapters/world-sft``."""

    out: Path = Path("rl/adapters/world-sft")
    """Where the LoRA adapter is written (peft format; ``LLMReasoner(lora=out)`` loads it)."""
    work_dir: Path = Path("out/sft-text-policy")
    """Trainer checkpoints (for resuming) and logs."""
    sessions: int = 400
    """Generated training sessions (the examples are their turns)."""
    min_turns: int = 1
    max_turns: int = 5
    data_seed: int = 7
    """Generator seed of the training sessions (the standard splits use other seeds, and any
    session that occurs in world-dev or world-test is dropped anyway)."""
    seed: int = 0
    max_steps: int = 110
    batch_size: int = 4
    learning_rate: float = 1e-3
    warmup_steps: int = 5
    lora_rank: int = 16
    lora_alpha: int = 32
    save_steps: int = 20
    logging_steps: int = 1
    resume: bool = True
    """Continue from the newest checkpoint in ``work_dir`` when there is one."""
    model: str | None = None
    """Base model (hub id, folder or .gguf); None is the offline SmolLM2-135M-Instruct."""
    exclude_splits: tuple[str, ...] = field(default=("world-dev", "world-test", "world-long"))
    numbered_objects: bool = False
    """Number the current image's objects in prompts and traces (``iccot.describe_world_image``)."""


def training_sessions(args: SFTArgs) -> list[WorldSession]:
    from edit_agent.world.generator import generate_sessions
    from edit_agent.world.sessions import read_world_sessions
    from evals.splits import split_path

    generated = generate_sessions(args.sessions, turns=(args.min_turns, args.max_turns), seed=args.data_seed, prefix="sft")
    return held_out(generated, *(read_world_sessions(split_path(name)) for name in args.exclude_splits))


def release_accelerate_state() -> None:
    """Forget accelerate's process-wide singletons that the Trainer configured.

    ``AcceleratorState`` and ``GradientState`` outlive the Trainer; a later ``Accelerator`` in the
    same process (the RL trainer after a warm start) would inherit this run's gradient
    accumulation settings instead of its own.
    """
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def train_sft(args: SFTArgs, *, policy: LLMTextPolicy | None = None) -> LLMTextPolicy:
    """Fine-tune the policy's LoRA on rule traces with TRL's ``SFTTrainer``; saves the adapter to ``args.out``."""
    if args.numbered_objects:
        raise ValueError("numbered_objects is recorded in the model's own config, which a LoRA adapter does not carry: "
                         "train a full world LM (train_full) for it")
    policy = policy or LLMTextPolicy(args.model, lora_config=default_lora_config(args.lora_rank, args.lora_alpha))
    fit(policy.model, policy.tokenizer, training_rows(policy.tokenizer, args), args)
    policy.save(args.out)
    return policy


def train_full(model: Any, tokenizer: Any, args: SFTArgs) -> Any:
    """Train every weight of ``model`` on rule traces (a model built from scratch, such as
    :func:`rl.world_lm.new_world_lm`, has no pretrained base for a LoRA); saves model and
    tokenizer to ``args.out`` as one transformers folder."""
    from rl.world_lm import save_world_lm

    # the prompt layout the weights learn travels with them, so every reader builds the same prompt
    setattr(model.config, iccot.NUMBERED_OBJECTS_KEY, args.numbered_objects)
    fit(model, tokenizer, training_rows(tokenizer, args), args)
    save_world_lm(model, tokenizer, args.out)
    return model


def training_rows(tokenizer: Any, args: SFTArgs) -> list[dict[str, list[int]]]:
    return [tokenized_example(tokenizer, request, thought, numbered_objects=args.numbered_objects)
            for request, thought in rule_traces(training_sessions(args))]


def fit(model: Any, tokenizer: Any, rows: list[dict[str, list[int]]], args: SFTArgs) -> None:
    """TRL's ``SFTTrainer`` with a completion-only loss over pre-tokenized rows; resumable from ``args.work_dir``."""
    from datasets import Dataset
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    config = SFTConfig(
        output_dir=str(args.work_dir), max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_steps=args.warmup_steps, lr_scheduler_type="linear",
        completion_only_loss=True, max_length=None, seed=args.seed, data_seed=args.seed,
        logging_steps=args.logging_steps, save_steps=args.save_steps, save_total_limit=2, report_to=[],
        use_cpu=model.device.type == "cpu", dataloader_num_workers=0, disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    checkpoint = get_last_checkpoint(str(args.work_dir)) if args.resume and args.work_dir.is_dir() else None
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    finally:
        release_accelerate_state()
    model.eval()
