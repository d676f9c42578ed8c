"""Online RL stage: GRPO (or RLOO) on conversational prompts with a combined reward.

MindGLM aligns its SFT model with PPO against a reward model. TRL 1.x has no ``PPOTrainer``; its
PPO-family online trainers keep PPO's clipped policy-gradient objective and replace the value
model with a group baseline: for each prompt ``num_generations`` replies are sampled, scored with
the reward functions of :mod:`xinyu.train.rewards` (``R = Σ w_i·r_i``: reward model, safety,
style), and each reply's advantage is its reward relative to the other replies of the same prompt.

* **GRPO** (``GRPOTrainer``): advantage ``(R - mean_group) / std_group``; KL to the reference is a
  per-token penalty ``β·KL`` in the loss.
* **RLOO** (``RLOOTrainer``): advantage ``R - β·KL - mean(other replies)`` (leave-one-out baseline).

The reference for KL control is the SFT policy: starting from an SFT adapter, TRL keeps a frozen
copy of it (adapter ``"ref"``) beside the trained one; starting from a plain model, the reference
is the model with the new adapter disabled. Prompts are the user turns of the training dialogues
with up to ``max_history`` earlier messages (conversational prompts, rendered with the chat
template).

Saved layout (``<output_dir>/``): ``adapter/``, ``eval.json`` (held-out rewards before/after),
``metrics.jsonl`` and ``plots/rl.png``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import ConfigError

log = logging.getLogger(__name__)

ALGORITHMS = ("grpo", "rloo")


@dataclass
class RLResult:
    """What an RL run produced.

    Attributes:
        output_dir: The stage directory.
        adapter_dir: The trained policy (adapter, or a full model for full fine-tuning).
        metrics: Summary: held-out rewards before/after, steps, seconds, hyperparameters.
        log_rows: The trainer's logged rows.
    """

    output_dir: Path
    adapter_dir: Path
    metrics: dict[str, Any]
    log_rows: list[dict[str, Any]] = field(default_factory=list)


def load_prompt_sources(
    sources: Any, *, max_history: int | None = 4, limit: int | None = None, seed: int = 0
) -> list[list[dict[str, str]]]:
    """Prompts from files (dialogues, pairs or prompts) or from message lists given directly.

    Files are read with :func:`xinyu.train.align_eval.load_prompts`.
    """
    from xinyu.train.align_eval import load_prompts

    if sources is None:
        return []
    if isinstance(sources, (str, Path)):
        sources = [sources]
    prompts: list[list[dict[str, str]]] = []
    for src in sources:
        if isinstance(src, (str, Path)):
            prompts += load_prompts(src, max_history=max_history)
        else:
            prompts.append([{"role": m["role"], "content": m["content"]} for m in src])
    if limit is not None and limit < len(prompts):
        import random

        keep = sorted(random.Random(seed).sample(range(len(prompts)), limit))
        prompts = [prompts[i] for i in keep]
    return prompts


def evaluate_in_memory(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[dict[str, str]]],
    *,
    scorer: Any,
    score_mean: float,
    score_std: float,
    weights: dict[str, float],
    style: dict[str, Any] | None,
    samples: int,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    batch_size: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Sample replies from ``model`` on held-out prompts and score them (rows, summary)."""
    from xinyu.train.align_eval import generate_with_model, score_replies, summarize

    replies = generate_with_model(
        model, tokenizer, prompts, samples=samples, max_new_tokens=max_new_tokens, temperature=temperature,
        seed=seed, batch_size=batch_size,
    )
    rows = score_replies(
        prompts, replies, scorer=scorer, score_mean=score_mean, score_std=score_std, weights=weights, style=style
    )
    return rows, summarize(rows, seed)


def train_rl(
    policy: str,
    train_prompts: Any,
    output_dir: str | Path,
    *,
    algorithm: str = "grpo",
    reward_model: str | Path | None = None,
    reward_weights: dict[str, float] | None = None,
    normalize_reward_model: bool = True,
    style: dict[str, Any] | None = None,
    beta: float = 0.04,
    num_generations: int = 4,
    max_completion_length: int = 96,
    temperature: float = 1.0,
    top_p: float = 1.0,
    epsilon: float = 0.2,
    num_iterations: int = 1,
    learning_rate: float = 1e-5,
    num_epochs: float = 1.0,
    max_steps: int = -1,
    batch_size: int = 4,
    grad_accum: int = 1,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.0,
    target_modules: str | Sequence[str] = "all-linear",
    max_history: int | None = 4,
    prompt_limit: int | None = None,
    system: str | None = None,
    logging_steps: int = 1,
    seed: int = 0,
    device: str | None = None,
    dtype: str | None = None,
    quantization: str | None = None,
    gradient_checkpointing: bool = False,
    val_prompts: Any = None,
    eval_limit: int | None = 16,
    eval_samples: int = 2,
    eval_max_new_tokens: int | None = None,
    eval_temperature: float = 0.7,
    eval_batch_size: int = 8,
    full: bool = False,
    extra_args: dict[str, Any] | None = None,
    on_row: Any = None,
    is_main: bool = True,
    resume_from: str | None = None,
    chat_template: str | None = None,
) -> RLResult:
    """Align ``policy`` with GRPO or RLOO and save the aligned adapter under ``output_dir``.

    Args:
        policy: The SFT policy (run or adapter directory: its adapter keeps training, a frozen copy
            is the KL reference), or a plain model (a new LoRA is trained).
        train_prompts: Dialogue/pair/prompt file(s), or message lists, giving the prompts.
        output_dir: Stage directory.
        algorithm: ``grpo`` or ``rloo``.
        reward_model: Trained reward model (reward stage directory or a run holding one).
        reward_weights: ``{reward_model, safety, style: weight}`` (default
            :data:`~xinyu.train.rewards.DEFAULT_WEIGHTS`).
        normalize_reward_model: Standardise reward-model scores with its held-out statistics.
        style: Options of the style term (``min_chars``, ``max_chars``, ``repeat_limit``).
        beta: KL coefficient towards the SFT policy (0 disables the reference).
        num_generations: Replies sampled per prompt (the group).
        max_completion_length: Tokens per sampled reply.
        temperature: Sampling temperature during training.
        top_p: Nucleus sampling during training.
        epsilon: PPO clipping range.
        num_iterations: Optimisation passes per generated batch (μ).
        learning_rate: Peak learning rate.
        num_epochs: Epochs over the prompts (ignored when ``max_steps`` > 0).
        max_steps: Optimizer steps (``-1``: use epochs).
        batch_size: Replies (not prompts) per device micro-batch; ``batch_size × grad_accum`` must
            be a multiple of ``num_generations``.
        grad_accum: Micro-batches per optimizer step.
        lora_r: LoRA rank (new adapter only).
        lora_alpha: LoRA alpha (new adapter only).
        lora_dropout: LoRA dropout (new adapter only).
        target_modules: LoRA targets (new adapter only).
        max_history: Earlier messages kept with each user turn.
        system: System message given to prompts that have none.
        prompt_limit: Seeded subset of this many training prompts.
        logging_steps: Log every this many steps.
        seed: Seed of sampling, data order and the held-out subset.
        device: ``cpu``/``cuda`` (default: CUDA when available).
        dtype: Model dtype.
        quantization: ``"4bit"`` for QLoRA on CUDA.
        gradient_checkpointing: Trade compute for memory.
        val_prompts: Held-out prompt source for the before/after evaluation (skipped when None).
        eval_limit: Held-out prompts evaluated.
        eval_samples: Replies per held-out prompt and policy.
        eval_max_new_tokens: Reply length in the evaluation (default: ``max_completion_length``).
        eval_temperature: Sampling temperature in the evaluation.
        eval_batch_size: Replies per generation batch in the evaluation.
        full: Train every weight instead of a LoRA (the reference is then a second copy).
        extra_args: More ``GRPOConfig``/``RLOOConfig`` fields (optimizer, scheduler, ...).
        on_row: Called with every logged row (the pipeline's ``log_event``).
        is_main: False on the other ranks of a distributed run: they train but write nothing.
        resume_from: A trainer checkpoint to resume from.
        chat_template: A Jinja chat template to use instead of the tokenizer's (the recipe's).

    Returns:
        The :class:`RLResult`.
    """
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    from xinyu.io import write_json
    from xinyu.models.loading import pick_device
    from xinyu.train.align_common import (
        base_reference,
        common_trainer_args,
        metrics_callback,
        parameter_check,
        parameter_fingerprint,
        plot_curves,
        quiet_progress,
        resolve_policy,
        save_policy,
        trainable_parameter_count,
    )
    from xinyu.train.dpo import load_policy
    from xinyu.train.rewards import DEFAULT_WEIGHTS, RewardModelTerm, build_reward_terms, term_name

    if algorithm not in ALGORITHMS:
        raise ConfigError([f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {algorithm!r}"])
    if (batch_size * grad_accum) % num_generations:
        raise ConfigError(
            [f"batch_size × grad_accum ({batch_size} × {grad_accum}) must be a multiple of num_generations "
             f"({num_generations}): every prompt's replies are scored together"]
        )
    weights = dict(DEFAULT_WEIGHTS if reward_weights is None else reward_weights)
    if weights.get("reward_model") and reward_model is None:
        raise ConfigError(["reward_model: required when reward_weights.reward_model is not 0 (or set it to 0)"])
    started = time.time()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(device)
    prompts = load_prompt_sources(train_prompts, max_history=max_history, limit=prompt_limit, seed=seed)
    held_out = load_prompt_sources(val_prompts, max_history=max_history, limit=eval_limit, seed=seed)
    if system:  # the system message the SFT stages trained with, where a prompt has none
        from xinyu.train.data import with_system

        prompts = [with_system(p, system) for p in prompts]
        held_out = [with_system(p, system) for p in held_out]
    if not prompts:
        raise ConfigError(["data.train: no prompts (expected dialogues with user turns, pairs or prompts)"])
    funcs, func_weights = build_reward_terms(
        weights, reward_model=reward_model, normalize_reward_model=normalize_reward_model, device=device, style=style
    )
    rm_term = next((f for f in funcs if isinstance(f, RewardModelTerm)), None)
    base_name = base_reference(resolve_policy(policy)[0])
    model, tokenizer, peft = load_policy(
        policy, device=device, dtype=dtype, quantization=quantization, lora_r=lora_r, lora_alpha=lora_alpha,
        lora_dropout=lora_dropout, target_modules=target_modules, full=full,
        gradient_checkpointing=gradient_checkpointing,
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    reference = (
        "none (beta = 0)" if beta == 0
        else "a second copy of the starting model" if full
        else "base model (new adapter disabled)" if peft is not None
        else "frozen copy of the SFT adapter"
    )
    log.info("%s: %d prompts, %d held-out, terms %s", algorithm, len(prompts), len(held_out), [term_name(f) for f in funcs])

    eval_kwargs = {
        "scorer": rm_term.scorer if rm_term else None,
        "score_mean": rm_term.mean if rm_term else 0.0,
        "score_std": rm_term.std if rm_term else 1.0,
        "weights": weights,
        "style": style,
        "samples": eval_samples,
        "max_new_tokens": eval_max_new_tokens or max_completion_length,
        "temperature": eval_temperature,
        "seed": seed,
        "batch_size": eval_batch_size,
    }
    before = evaluate_in_memory(model, tokenizer, held_out, **eval_kwargs)[1] if held_out and is_main else None

    from datasets import Dataset

    rows: list[dict[str, Any]] = []
    base_args = common_trainer_args(
        output_dir / "trainer",
        device=device,
        learning_rate=learning_rate,
        num_epochs=num_epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        logging_steps=logging_steps,
        seed=seed,
        gradient_checkpointing=gradient_checkpointing,
        extra=extra_args,
    )
    shared = {
        "num_generations": num_generations,
        "max_completion_length": max_completion_length,
        "temperature": temperature,
        "top_p": top_p,
        "beta": beta,
        "epsilon": epsilon,
        "num_iterations": num_iterations,
        "reward_weights": func_weights,
        # Completions are counseling text: never print or upload them from the trainer.
        "log_completions": False,
    }
    config_cls, trainer_cls = (GRPOConfig, GRPOTrainer) if algorithm == "grpo" else (RLOOConfig, RLOOTrainer)
    args = config_cls(**base_args, **shared)
    tokenizer.padding_side = "left"  # TRL generates from left-padded prompts
    trainer = trainer_cls(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[metrics_callback(algorithm, rows, output_dir / "metrics.jsonl" if is_main else None, on_row)],
    )
    quiet_progress(trainer, algorithm.upper())
    trainable, total = trainable_parameter_count(trainer.model)
    fingerprint = parameter_fingerprint(trainer.model)
    output = trainer.train(resume_from_checkpoint=resume_from)
    trained = trainer.model
    tokenizer.padding_side = "right"
    after = evaluate_in_memory(trained, tokenizer, held_out, **eval_kwargs)[1] if held_out and is_main else None
    adapter_dir = output_dir / ("model" if full else "adapter")
    checked = parameter_check(fingerprint, parameter_fingerprint(trainer.model))
    metrics = {
        "stage": algorithm,
        "beta": beta,
        "reward_weights": weights,
        "num_generations": num_generations,
        "max_completion_length": max_completion_length,
        "reference": reference,
        "train_prompts": len(prompts),
        "steps": int(output.global_step),
        "train_loss": round(float(output.training_loss), 4),
        "trainable_params": trainable,
        "total_params": total,
        "parameter_check": checked,
        "seconds": round(time.time() - started, 1),
        "val_prompts": len(held_out),
        "val_before": before,
        "val_after": after,
    }
    if before and after:
        metrics["val_change"] = {
            k: round(after[k]["mean"] - before[k]["mean"], 4)
            for k in ("reward_model", "safety", "style", "total", "screen_pass", "chars")
            if k in before and k in after
        }
    if not is_main:
        return RLResult(output_dir=output_dir, adapter_dir=adapter_dir, metrics=metrics, log_rows=rows)
    save_policy(trained, tokenizer, adapter_dir, base_name=base_name)
    write_json(output_dir / "eval.json", metrics)
    series = {"reward": "combined reward R", "kl": "KL to SFT policy"}
    series.update({f"rewards/{term_name(f)}/mean": term_name(f) for f in funcs})
    series["completions/mean_length"] = "reply length (tokens)"
    plot_curves(rows, series, output_dir / "plots" / "rl.png", f"{algorithm.upper()} (β={beta})")
    return RLResult(output_dir=output_dir, adapter_dir=adapter_dir, metrics=metrics, log_rows=rows)


# The recipe stage (config + runner) lives with the other alignment stages; the stage registry
# (xinyu.train.stages) names it by this module.
from xinyu.train.align_stages import GRPOStage, RLOOStage, run_grpo_stage, run_rloo_stage  # noqa: E402, F401
