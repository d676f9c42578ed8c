"""DPO stage: align the SFT policy directly on preference pairs (no reward model, no sampling).

TRL's ``DPOTrainer`` minimises ``-log σ(β·[(log π(c) - log π_ref(c)) - (log π(r) - log π_ref(r))])``
(``loss_type="sigmoid"``; ``ipo``, ``hinge``, ``robust``... are selectable). Reference handling with
LoRA, as implemented in the installed TRL 1.x (``DPOTrainer.__init__`` / ``_compute_loss``), never
loads a second copy of the model:

* policy = an SFT **adapter** (a run or adapter directory): TRL adds a frozen copy of the adapter
  named ``"ref"`` next to the trainable ``"default"`` one and computes reference log-probs with
  ``use_adapter(model, "ref")``. The reference is exactly the SFT policy, at the cost of one extra
  LoRA (megabytes).
* policy = a plain model (no adapter): a new LoRA is created from ``peft_config`` and the reference
  is the same network with the adapter disabled (the starting model).

Saved layout (``<output_dir>/``): ``adapter/`` (the trained policy adapter only, not ``ref``),
``eval.json`` (held-out log-prob margins before/after and implicit-reward accuracy),
``metrics.jsonl`` and ``plots/dpo.png``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down")


@dataclass
class DPOResult:
    """What a DPO run produced.

    Attributes:
        output_dir: The stage directory.
        adapter_dir: The trained policy adapter.
        metrics: Summary: held-out margins before/after, implicit-reward accuracy, steps, seconds.
        log_rows: The trainer's logged rows.
    """

    output_dir: Path
    adapter_dir: Path
    metrics: dict[str, Any]
    log_rows: list[dict[str, Any]] = field(default_factory=list)


def completion_logps(model: Any, tokenizer: Any, prompt: Sequence[dict[str, str]], reply: str) -> float:
    """Sum of the log-probabilities of ``reply`` (and its end-of-turn) given ``prompt``.

    The split between prompt and completion tokens follows TRL: the completion starts where the
    tokenised prompt (with the generation prompt) and prompt+reply diverge.
    """
    import torch

    prompt_ids = tokenizer.apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=True, return_dict=True)[
        "input_ids"
    ]
    full_ids = tokenizer.apply_chat_template(
        [*prompt, {"role": "assistant", "content": reply}], tokenize=True, return_dict=True
    )["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
        start += 1
    n = len(full_ids) - start
    if n <= 0:
        return 0.0
    ids = torch.tensor([full_ids], device=model.device)
    with torch.inference_mode():
        # Only the logits that predict completion tokens: the 262k-token vocabulary makes full
        # logits for a long prompt cost hundreds of megabytes.
        logits = model(input_ids=ids, logits_to_keep=n + 1).logits[0, :-1].float()
    logps = torch.log_softmax(logits, dim=-1).gather(1, ids[0, start:].unsqueeze(1))
    return float(logps.sum())


def pair_logps(model: Any, tokenizer: Any, pairs: Sequence[Any]) -> list[tuple[float, float]]:
    """``(log π(chosen), log π(rejected))`` for each pair."""
    was_training = model.training
    model.eval()
    out = [
        (
            completion_logps(model, tokenizer, p.messages, p.chosen_text),
            completion_logps(model, tokenizer, p.messages, p.rejected_text),
        )
        for p in pairs
    ]
    if was_training:
        model.train()
    return out


def margin_summary(before: list[tuple[float, float]], after: list[tuple[float, float]], beta: float) -> dict[str, Any]:
    """Held-out comparison of the policy before (= reference) and after DPO.

    ``logp_margin`` is ``log π(c) - log π(r)``; the implicit DPO reward margin of a pair is
    ``β·[(log π(c) - log π_ref(c)) - (log π(r) - log π_ref(r))]``, with the policy before training as
    the reference.
    """
    if not before:
        return {"pairs": 0}
    n = len(before)
    m_before = [c - r for c, r in before]
    m_after = [c - r for c, r in after]
    implicit = [beta * ((ca - cb) - (ra - rb)) for (cb, rb), (ca, ra) in zip(before, after, strict=True)]
    return {
        "pairs": n,
        "logp_margin_before": round(sum(m_before) / n, 4),
        "logp_margin_after": round(sum(m_after) / n, 4),
        "preference_accuracy_before": round(sum(m > 0 for m in m_before) / n, 4),
        "preference_accuracy_after": round(sum(m > 0 for m in m_after) / n, 4),
        "implicit_reward_margin": round(sum(implicit) / n, 4),
        "implicit_reward_accuracy": round(sum(m > 0 for m in implicit) / n, 4),
        "logp_chosen_change": round(sum(ca - cb for (cb, _), (ca, _) in zip(before, after, strict=True)) / n, 4),
        "logp_rejected_change": round(sum(ra - rb for (_, rb), (_, ra) in zip(before, after, strict=True)) / n, 4),
    }


def load_policy(
    policy: str,
    *,
    device: str,
    dtype: str | None,
    quantization: str | None,
    lora_r: int,
    lora_alpha: int,
    lora_dropout: float,
    target_modules: str | Sequence[str],
    full: bool = False,
    gradient_checkpointing: bool = False,
) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, peft_config)`` of the policy to align.

    An SFT adapter (run or adapter directory) is loaded trainable and ``peft_config`` is None; a
    plain model gets a new LoRA config (prepared for k-bit training under QLoRA); with ``full`` the
    whole model is trainable and there is no LoRA.
    """
    from xinyu.models import load_model
    from xinyu.train.align_common import lora_config, resolve_policy

    if full:
        model, tokenizer = load_model(policy, device=device, dtype=dtype, trainable_adapter=True)
        model.requires_grad_(True)
        return model, tokenizer, None
    base, adapter = resolve_policy(policy)
    if adapter:
        model, tokenizer = load_model(
            base, adapter=adapter, device=device, dtype=dtype, quantization=quantization, trainable_adapter=True
        )
        return model, tokenizer, None
    model, tokenizer = load_model(base, device=device, dtype=dtype, quantization=quantization, trainable_adapter=True)
    if quantization:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    peft = lora_config("CAUSAL_LM", r=lora_r, alpha=lora_alpha, dropout=lora_dropout, target_modules=target_modules)
    return model, tokenizer, peft


def train_dpo(
    policy: str,
    train_pairs: Any,
    output_dir: str | Path,
    *,
    val_pairs: Any = None,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.0,
    target_modules: str | Sequence[str] = "all-linear",
    learning_rate: float = 5e-5,
    num_epochs: float = 1.0,
    max_steps: int = -1,
    batch_size: int = 4,
    grad_accum: int = 1,
    max_length: int = 1024,
    logging_steps: int = 5,
    seed: int = 0,
    device: str | None = None,
    dtype: str | None = None,
    quantization: str | None = None,
    gradient_checkpointing: bool = False,
    precompute_ref_log_probs: bool = False,
    full: bool = False,
    extra_args: dict[str, Any] | None = None,
    on_row: Any = None,
    is_main: bool = True,
    resume_from: str | None = None,
    chat_template: str | None = None,
) -> DPOResult:
    """Run DPO from ``policy`` on preference pairs and save the aligned adapter under ``output_dir``.

    Args:
        policy: The SFT policy: a run directory or adapter directory (its adapter keeps training,
            the reference is a frozen copy), or a plain model (a new LoRA is trained).
        train_pairs: Pair JSONL path or pairs.
        output_dir: Stage directory.
        val_pairs: Held-out pairs for the before/after margins (path or pairs), optional.
        beta: Strength of the pull towards the reference (higher: closer to the SFT policy).
        loss_type: One of :data:`LOSS_TYPES` (TRL's names).
        label_smoothing: Assumed label noise (``robust``/``exo_pair`` losses).
        lora_r: LoRA rank (new adapter only).
        lora_alpha: LoRA alpha (new adapter only).
        lora_dropout: LoRA dropout (new adapter only).
        target_modules: LoRA targets (new adapter only).
        learning_rate: Peak learning rate.
        num_epochs: Epochs (ignored when ``max_steps`` > 0).
        max_steps: Optimizer steps (``-1``: use epochs).
        batch_size: Pairs per device step.
        grad_accum: Gradient accumulation steps.
        max_length: Truncate prompt+reply to this many tokens (the prompt's start is kept).
        logging_steps: Log every this many steps.
        seed: Seed of LoRA init and data order.
        device: ``cpu``/``cuda`` (default: CUDA when available).
        dtype: Model dtype (default: bf16 on CUDA, fp32 on CPU).
        quantization: ``"4bit"`` for QLoRA on CUDA.
        gradient_checkpointing: Trade compute for memory (GPU recipes).
        precompute_ref_log_probs: Compute reference log-probs once before training.
        full: Train every weight instead of a LoRA (the reference is then a second copy of the model).
        extra_args: More ``DPOConfig`` fields (optimizer, scheduler, warm-up, checkpoints...).
        on_row: Called with every logged row (the pipeline's ``log_event``).
        is_main: False on the other ranks of a distributed run: they train but write nothing.
        resume_from: A trainer checkpoint to resume from.
        chat_template: A Jinja chat template to use instead of the tokenizer's (the recipe's).

    Returns:
        The :class:`DPOResult`.
    """
    from trl import DPOConfig, DPOTrainer

    from xinyu.errors import XinyuError
    from xinyu.io import write_json
    from xinyu.models.loading import pick_device
    from xinyu.train.align_common import (
        base_reference,
        common_trainer_args,
        load_pairs,
        metrics_callback,
        pairs_dataset,
        parameter_check,
        parameter_fingerprint,
        plot_curves,
        quiet_progress,
        resolve_policy,
        save_policy,
        trainable_parameter_count,
    )

    if loss_type not in LOSS_TYPES:
        raise XinyuError(f"unknown DPO loss_type '{loss_type}': expected one of {', '.join(LOSS_TYPES)}")
    started = time.time()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(device)
    train = load_pairs(train_pairs)
    val = load_pairs(val_pairs)
    base_name = base_reference(resolve_policy(policy)[0])
    model, tokenizer, peft = load_policy(
        policy, device=device, dtype=dtype, quantization=quantization, lora_r=lora_r, lora_alpha=lora_alpha,
        lora_dropout=lora_dropout, target_modules=target_modules, full=full,
        gradient_checkpointing=gradient_checkpointing,
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    reference = (
        "a second copy of the starting model" if full
        else "base model (new adapter disabled)" if peft is not None
        else "frozen copy of the SFT adapter"
    )
    log.info("DPO: %d train pairs, %d held-out pairs, reference: %s", len(train), len(val), reference)
    before = pair_logps(model, tokenizer, val) if val and is_main else []

    rows: list[dict[str, Any]] = []
    args = DPOConfig(
        **common_trainer_args(
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
        ),
        beta=beta,
        loss_type=[loss_type],
        label_smoothing=label_smoothing,
        max_length=max_length,
        precompute_ref_log_probs=precompute_ref_log_probs,
        eval_strategy="no",
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=pairs_dataset(train),
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[metrics_callback("dpo", rows, output_dir / "metrics.jsonl" if is_main else None, on_row)],
    )
    quiet_progress(trainer, f"DPO β={beta}")
    trainable, total = trainable_parameter_count(trainer.model)
    fingerprint = parameter_fingerprint(trainer.model)
    output = trainer.train(resume_from_checkpoint=resume_from)
    trained = trainer.model
    after = pair_logps(trained, tokenizer, val) if val and is_main else []
    adapter_dir = output_dir / ("model" if full else "adapter")
    checked = parameter_check(fingerprint, parameter_fingerprint(trainer.model))
    metrics = {
        "stage": "dpo",
        "beta": beta,
        "loss_type": loss_type,
        "reference": reference,
        "train_pairs": len(train),
        "val_pairs": len(val),
        "steps": int(output.global_step),
        "train_loss": round(float(output.training_loss), 4),
        "trainable_params": trainable,
        "total_params": total,
        "parameter_check": checked,
        "seconds": round(time.time() - started, 1),
        "val": margin_summary(before, after, beta),
    }
    if not is_main:
        return DPOResult(output_dir=output_dir, adapter_dir=adapter_dir, metrics=metrics, log_rows=rows)
    save_policy(trained, tokenizer, adapter_dir, base_name=base_name)
    write_json(output_dir / "eval.json", metrics)
    plot_curves(
        rows,
        {
            "loss": "loss",
            "rewards/margins": "implicit reward margin",
            "rewards/accuracies": "implicit reward accuracy",
            "logps/chosen": "log π(chosen)",
            "logps/rejected": "log π(rejected)",
        },
        output_dir / "plots" / "dpo.png",
        f"DPO (β={beta}, {loss_type})",
    )
    return DPOResult(output_dir=output_dir, adapter_dir=adapter_dir, metrics=metrics, log_rows=rows)


# The recipe stage (config + runner) lives with the other alignment stages; the stage registry
# (xinyu.train.stages) names it by this module.
from xinyu.train.align_stages import DPOStage, run_dpo_stage  # noqa: E402, F401
