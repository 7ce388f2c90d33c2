"""Quick checks of whether text RL can help a world text policy, before a long run is spent on it.

    python scripts/rl_probe.py fixed --out rl/runs/probe-fixed            # can it learn at all?
    python scripts/rl_probe.py held-out --out rl/runs/probe-lr1e-4 --set text_lr=1e-4   # does it generalise?

Both run text-only GRPO on turn 1 (``rl/configs/world-lm.yaml`` with ``mode: text, turns: 1``, 32 sessions x
8 rollouts per step at temperature 1.0 unless ``--set`` says otherwise):

- ``fixed``: every step replays the same ``--sessions`` training sessions. The rollout reward must rise
  (the policy memorises them); if it does not, the update is broken, whatever a long run would show.
- ``held-out``: training sessions drawn from a pool of 20,000 (as a real run; few repeat). Every ``--every``
  steps, the greedy turn-1 intent is compared with the rule reasoner's on ``--held-out`` generated sessions
  that training never sees. This is the cheapest measure of whether RL moves the policy the right way: most
  of the world LM's errors are turn-1 grounding errors, and a greedy intent equal to the rule intent is a
  correct one.

Each line of ``<out>/probe.jsonl`` is a step's rollout statistics or an ``{"eval": ...}`` record. With
``--set save_every=N`` a checkpoint is saved every N steps, which ``scripts/rl_checkpoints.py --run <out>`` scores
on a whole split (the probe writes the ``config.yaml`` it needs).

    python scripts/rl_probe.py greedy --out DIR --set text_model=rl/adapters/world-lm-sft-5k

``greedy`` trains nothing: it is the held-out check alone, for any text model (``greedy.json``).

    python scripts/rl_probe.py by-turn --out DIR --held-out 100 --set text_model=rl/adapters/world-lm-sft-10k
    python scripts/rl_probe.py by-turn --out DIR --held-out 100 --checkpoint RUN/checkpoints/step-000030

``by-turn`` trains nothing: greedy accuracy at each of turns 1-5 of held-out sessions, each turn given the rule
reasoner's history and the exact image, so that every turn is judged on its own (``by_turn.json``).

    python scripts/rl_probe.py editor-noise --out DIR --prompts 12 --set mode=joint --set turns=5 --set temperature=0.7 \
        --set train_sessions=2000 --set text_model=rl/adapters/world-lm-sft-10k --set text_finetune=full

``editor-noise`` trains nothing: it rolls out ``--prompts`` training sessions twice with the same seeds, once
through the SDE editor that training samples and once through the deterministic one, and counts how often the
same intent gets a different reward, and how much that moves the advantages (``editor_noise.json``).

    python scripts/rl_probe.py samples --out rl/runs/probe-samples

``samples`` trains nothing: on ``--prompts`` fresh first turns it measures what GRPO has to learn from. Greedy
accuracy; then at temperatures 0.7 and 1.0, from one draw of 8 rollouts per prompt (through the shipped world
editor, scored by the world reward): the accuracy of single samples, pass@8, the groups of 8 that mix right and
wrong intents (the only ones whose advantages say which is right), and whether the reward ranks right above
wrong in those groups. It writes ``samples.json``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from edit_agent.reasoners.rules import RuleReasoner
from edit_agent.records import TurnRequest
from edit_agent.world.generator import generate_sessions
from edit_agent.world.sessions import WorldSession
from rl.cli import parse_overrides
from rl.config import TrainConfig
from rl.image_policy import FlowImagePolicy
from rl.interfaces import TextPolicy
from rl.rollout import collect_groups, session_requests
from rl.trainer import Trainer, build_image_policy, build_reward, build_text_policy, make_batch

PROBE_DEFAULTS = {"mode": "text", "turns": 1, "sessions_per_step": 32, "group_size": 8, "temperature": 1.0,
                  "text_lr": 1e-3, "train_sessions": 20_000, "eval_sessions": 0, "save_every": 10_000,
                  "progress": False, "resume": False}
"""A pool of 20,000 training sessions, so that a probe of a few thousand draws sees few prompts twice."""


def first_turns(sessions: list[WorldSession], size: int) -> tuple[list[TurnRequest], list[str]]:
    """Each session's turn-1 request, as a rollout makes it, and the rule reasoner's intent for it."""
    reasoner = RuleReasoner()
    pairs = [next(session_requests(session, reasoner, size=size)) for session in sessions]
    return [request for request, _ in pairs], [thought.intent.text for _, thought in pairs]


def held_out_first_turns(count: int, size: int) -> tuple[list[TurnRequest], list[str]]:
    """The accuracy check's sessions: generated with a seed of their own, never drawn for training."""
    return first_turns(generate_sessions(count, turns=1, seed=4242, prefix="probe-held-out"), size)


def greedy_right(policy: TextPolicy, requests: list[TurnRequest], truth: list[str]) -> list[bool]:
    """Per request, whether the greedy intent is the rule reasoner's, word for word."""
    samples = policy.sample(requests, temperature=0.0, seed=0)
    return [sample.thought.intent.text == intent for sample, intent in zip(samples, truth)]


def sample_statistics(config: TrainConfig, count: int) -> dict:
    """Per temperature, from one draw of 8 rollouts per prompt: sampled accuracy, pass@8, mixed groups, and how
    the reward ranks the right intents against the wrong ones in those groups."""
    text, image, reward = build_text_policy(config), build_image_policy(config), build_reward(config)
    sessions = generate_sessions(count, turns=1, seed=99, prefix="probe-samples")
    requests, truth = first_turns(sessions, config.image_size)
    greedy = greedy_right(text, requests, truth)
    result: dict = {"prompts": count, "greedy_accuracy": _mean(greedy)}
    for temperature in (0.7, 1.0):
        groups = collect_groups(sessions, text_policy=text, image_policy=image, reward=reward, group_size=8, turns=1,
                                temperature=temperature, seed=3, size=config.image_size)
        rewards = make_batch(groups, config).rewards[:, 0].view(count, 8).tolist()
        right = [[r.texts[0].thought.intent.text == t for r in g.rollouts] for g, t in zip(groups, truth)]
        mixed = [i for i, row in enumerate(right) if 0 < sum(row) < 8]
        gaps = [_mean([v for v, ok in zip(rewards[i], right[i]) if ok])
                - _mean([v for v, ok in zip(rewards[i], right[i]) if not ok]) for i in mixed]
        result[f"T={temperature}"] = {
            "sample_accuracy": sum(map(sum, right)) / (8 * count),
            "pass_at_8": sum(any(row) for row in right) / count,
            "mixed_groups": len(mixed),
            # the only groups that can teach the greedy answer something; the other mixed groups are
            # sampling slips on prompts that greedy already gets right
            "mixed_groups_where_greedy_is_wrong": sum(not greedy[i] for i in mixed),
            "reward_right_above_wrong": sum(gap > 1e-6 for gap in gaps),
            "reward_tied": sum(abs(gap) <= 1e-6 for gap in gaps),
            "reward_wrong_above_right": sum(gap < -1e-6 for gap in gaps),
            "mean_reward_gap": _mean(gaps),
            "tied_groups": [{"rule_intent": truth[i], "other_intents": sorted({
                r.texts[0].thought.intent.text for r, ok in zip(groups[i].rollouts, right[i]) if not ok})}
                for i, gap in zip(mixed, gaps) if abs(gap) <= 1e-6],
        }
    return result


def editor_noise(config: TrainConfig, count: int, *, image: FlowImagePolicy | None = None) -> dict:
    """How much of the text policy's advantage is the stochastic editor's noise.

    The same ``count`` training sessions are rolled out twice with the same seeds (``config.group_size`` rollouts each, ``config.turns``
    turns, the sampling temperature of ``config``): once with the SDE editor that training uses and once with the
    deterministic ODE editor. Where a turn got the same intent both times, any change of its reward or of its
    group-normalised advantage comes from the editor alone.
    """
    text, reward = build_text_policy(config), build_reward(config)
    image = image or build_image_policy(config)
    sessions = random.Random(1).sample(
        generate_sessions(config.train_sessions, turns=config.turns, seed=config.session_seed, prefix="rl-train"), count)
    runs = {}
    for stochastic in (True, False):
        groups = collect_groups(sessions, text_policy=text, image_policy=image, reward=reward,
                                group_size=config.group_size, turns=config.turns, temperature=config.temperature, seed=3, size=config.image_size,
                                stochastic=stochastic)
        batch = make_batch(groups, config)
        intents = [s.thought.intent.text for g in groups for r in g.rollouts for s in r.texts]
        runs[stochastic] = (batch.rewards.flatten(), batch.advantages, intents)
    (sde_reward, sde_advantage, sde_intents), (ode_reward, ode_advantage, ode_intents) = runs[True], runs[False]
    same = torch.tensor([a == b for a, b in zip(sde_intents, ode_intents)])
    reward_change = (sde_reward - ode_reward).abs()[same]
    return {
        "sessions": count, "rollouts_per_session": config.group_size, "turns": config.turns, "temperature": config.temperature,
        "turn_samples": len(same), "same_intent": int(same.sum()),
        "same_intent_reward_changed": int((reward_change > 1e-6).sum()),
        "largest_reward_change": float(reward_change.max()),
        "reward_sde": float(sde_reward.mean()), "reward_ode": float(ode_reward.mean()),
        "mean_abs_advantage_sde": float(sde_advantage.abs().mean()),
        "mean_abs_advantage_change_same_intent": float((sde_advantage - ode_advantage).abs()[same].mean()),
    }


def greedy_check(config: TrainConfig, count: int) -> dict:
    """The held-out check alone: the greedy turn-1 accuracy of ``config``'s text model on ``count`` sessions."""
    requests, truth = held_out_first_turns(count, config.image_size)
    return {"text_model": config.text_model, "sessions": count,
            "greedy_turn1_accuracy": _mean(greedy_right(build_text_policy(config), requests, truth))}


def by_turn_check(config: TrainConfig, count: int, checkpoint: Path | None = None) -> dict:
    """Greedy accuracy at each turn of ``count`` held-out 5-turn sessions, every turn given the rule reasoner's
    history and the exact image (so an error is that turn's own, not one carried over): the text model of
    ``config``, or of ``checkpoint`` (a run's ``checkpoints/step-N``, rebuilt from that run's config.yaml)."""
    if checkpoint is None:
        text = build_text_policy(config)
    else:
        run_config = TrainConfig.from_yaml(checkpoint.parent.parent / "config.yaml",
                                           {"resume": False, "threads": config.threads})
        trainer = Trainer(run_config, sessions=())
        trainer.load_checkpoint(checkpoint)
        text = trainer.text_policy
    reasoner = RuleReasoner()
    sessions = generate_sessions(count, turns=5, seed=4243, prefix="probe-by-turn")
    per_session = [list(session_requests(session, reasoner, size=config.image_size)) for session in sessions]
    accuracy = []
    for turn in range(5):
        requests = [pairs[turn][0] for pairs in per_session]
        accuracy.append(_mean(greedy_right(text, requests, [pairs[turn][1].intent.text for pairs in per_session])))
    return {"text_model": str(checkpoint or config.text_model), "sessions": count,
            "greedy_accuracy_by_turn": accuracy, "mean": _mean(accuracy)}


def _mean(values: list[float] | list[bool]) -> float:
    return sum(values) / max(len(values), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["fixed", "held-out", "samples", "greedy", "by-turn", "editor-noise"])
    parser.add_argument("--config", type=Path, default=Path("rl/configs/world-lm.yaml"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--sessions", type=int, default=16, help="fixed: how many training sessions are replayed")
    parser.add_argument("--held-out", type=int, default=200, help="held-out: sessions of the accuracy check")
    parser.add_argument("--prompts", type=int, default=40, help="samples: first turns to sample")
    parser.add_argument("--every", type=int, default=10, help="held-out: steps between accuracy checks")
    parser.add_argument("--checkpoint", type=Path, help="by-turn: a run's checkpoints/step-N instead of text_model")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any config field")
    args = parser.parse_args()

    overrides = {**PROBE_DEFAULTS, "out": args.out, "steps": args.steps}
    overrides.update(parse_overrides(args.set))
    config = TrainConfig.from_yaml(args.config, overrides)
    if config.threads:  # the Trainer sets it for training; the kinds that train nothing must too
        torch.set_num_threads(config.threads)
    measurements = {
        "greedy": lambda: greedy_check(config, args.held_out),
        "by-turn": lambda: by_turn_check(config, args.held_out, args.checkpoint),
        "editor-noise": lambda: editor_noise(config, args.prompts),
        "samples": lambda: sample_statistics(config, args.prompts),
    }
    if args.kind in measurements:  # the kinds that train nothing: one JSON file each
        result = measurements[args.kind]()
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.kind.replace('-', '_')}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result))
        return
    sessions = None
    if args.kind == "fixed":
        sessions = generate_sessions(args.sessions, turns=config.turns, seed=config.session_seed, prefix="rl-train")
        config = config.model_copy(update={"sessions_per_step": args.sessions})
    trainer = Trainer(config, sessions=sessions)
    requests, truth = held_out_first_turns(args.held_out if args.kind == "held-out" else 0, config.image_size)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.yaml").write_text(config.to_yaml())  # so rl_checkpoints.py can rebuild the policy
    with (args.out / "probe.jsonl").open("w", encoding="utf-8") as log:
        def write(record: dict) -> None:
            log.write(json.dumps(record) + "\n")
            log.flush()
            print(json.dumps(record), flush=True)

        def check() -> None:
            accuracy = _mean(greedy_right(trainer.text_policy, requests, truth))
            write({"eval": {"step": trainer.step, "greedy_turn1_accuracy": accuracy}})

        if requests:
            check()
        for _ in range(config.steps):
            record = trainer.train_step()
            write({key: record[key] for key in ("step", "reward", "IF", "text_clip_fraction", "seconds")})
            if trainer.step % config.save_every == 0:
                trainer.save_checkpoint()
            if requests and trainer.step % args.every == 0:
                check()


if __name__ == "__main__":
    main()
