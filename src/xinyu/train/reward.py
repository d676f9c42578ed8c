"""Reward model stage: a scalar scorer of counselor replies, trained on preference pairs.

The reward model is the base (or SFT) model with a sequence-classification head (one output,
read at the last token), fine-tuned with LoRA (``task_type=SEQ_CLS``) by TRL's ``RewardTrainer`` on
the Bradley-Terry loss ``-log σ(r(chosen) - r(rejected))``. The head itself is trained in full
(``modules_to_save=["score"]``); everything else is frozen. Prompt and reply are rendered with
the model's chat template, exactly as the policy sees them.

Starting from an SFT adapter (MindGLM's recipe: RM initialised from the SFT model), the adapter is
merged into the classifier's backbone first, then the new LoRA is added on top.

Saved layout (``<output_dir>/``)::

    adapter/             PEFT adapter: LoRA weights + the score head (+ tokenizer)
    reward_model.json    {"kind": "reward_model", "base", "init_adapter", "adapter", "max_length"}
    eval.json            held-out pairwise accuracy and margins, before and after training
    metrics.jsonl        the trainer's logs (loss, accuracy, margin per logging step)
    plots/reward_model.png

Use :class:`RewardScorer` (or :func:`score`) to load and apply a saved reward model.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from xinyu.errors import XinyuError

log = logging.getLogger(__name__)

POINTER = "reward_model.json"


@dataclass
class RewardResult:
    """What a reward-model run produced.

    Attributes:
        output_dir: The stage directory.
        adapter_dir: The saved adapter (LoRA + score head).
        metrics: Summary: held-out accuracy/margin before and after, steps, train loss, seconds.
        log_rows: The trainer's logged rows.
    """

    output_dir: Path
    adapter_dir: Path
    metrics: dict[str, Any]
    log_rows: list[dict[str, Any]] = field(default_factory=list)


def load_classifier(
    base: str, init_adapter: str | None, device: str, dtype: str | None = None, quantization: str | None = None
) -> Any:
    """A sequence-classification model (one output) of ``base`` with ``init_adapter`` merged into it."""
    from transformers import AutoModelForSequenceClassification
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    from xinyu.models import hf_dir
    from xinyu.models.loading import _quantization_kwargs, pick_dtype

    torch_dtype = pick_dtype(device, dtype)
    kwargs: dict[str, Any] = {"num_labels": 1, "dtype": torch_dtype}
    if quantization:
        kwargs.update(_quantization_kwargs(quantization, device, torch_dtype))
    # The causal LM checkpoint has no score head (it starts random) and an lm_head the classifier
    # does not use; TRL's context manager keeps transformers from warning about both.
    with suppress_seqcls_warning():
        model = AutoModelForSequenceClassification.from_pretrained(hf_dir(base), **kwargs)
    if not quantization:
        model.to(device)
    if init_adapter:
        from peft import PeftConfig, PeftModel

        # The SFT adapter was saved for a causal LM; loading it as a task-less adapter applies the same
        # weights to the classifier's identical backbone without asking it for generation methods.
        config = PeftConfig.from_pretrained(init_adapter)
        config.task_type = None
        model = PeftModel.from_pretrained(model, init_adapter, config=config).merge_and_unload()
    return model


def _score_texts(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int) -> list[float]:
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    tokenizer.truncation_side = "left"  # the score is read at the last token: keep the reply's end
    scores: list[float] = []
    try:
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = tokenizer(
                    list(texts[i : i + batch_size]),
                    add_special_tokens=False,
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(model.device)
                logits = model(**enc).logits
                scores.extend(float(v) for v in logits[:, 0].float().cpu())
    finally:
        tokenizer.padding_side = side
    return scores


def conversation_text(tokenizer: Any, prompt: Sequence[dict[str, str]], reply: str | None = None) -> str:
    """The chat-template text of ``prompt`` (+ the assistant ``reply``), as the reward model reads it."""
    messages = list(prompt) + ([{"role": "assistant", "content": reply}] if reply is not None else [])
    return tokenizer.apply_chat_template(messages, tokenize=False)


def pairwise_eval(
    model: Any, tokenizer: Any, pairs: Sequence[Any], max_length: int = 1024, batch_size: int = 8
) -> dict[str, Any]:
    """Pairwise accuracy (chosen scored above rejected) and margins of a reward model on pairs.

    Returns:
        ``{"pairs", "accuracy", "mean_margin", "mean_chosen", "mean_rejected", "score_mean",
        "score_std", "by_strategy"}`` (``by_strategy`` when pairs carry ``meta.strategy``).
    """
    if not pairs:
        return {"pairs": 0}
    was_training = model.training
    model.eval()
    chosen = _score_texts(
        model, tokenizer, [conversation_text(tokenizer, p.messages, p.chosen_text) for p in pairs], max_length, batch_size
    )
    rejected = _score_texts(
        model, tokenizer, [conversation_text(tokenizer, p.messages, p.rejected_text) for p in pairs], max_length, batch_size
    )
    if was_training:
        model.train()
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    everything = chosen + rejected
    mean = sum(everything) / len(everything)
    out: dict[str, Any] = {
        "pairs": len(pairs),
        "accuracy": round(sum(m > 0 for m in margins) / len(margins), 4),
        "mean_margin": round(sum(margins) / len(margins), 4),
        "mean_chosen": round(sum(chosen) / len(chosen), 4),
        "mean_rejected": round(sum(rejected) / len(rejected), 4),
        # Spread of all held-out scores: the RL reward term standardises with these.
        "score_mean": round(mean, 4),
        "score_std": round((sum((x - mean) ** 2 for x in everything) / len(everything)) ** 0.5, 4),
    }
    groups: dict[str, list[float]] = {}
    for pair, margin in zip(pairs, margins, strict=True):
        if "strategy" in pair.meta:
            groups.setdefault(str(pair.meta["strategy"]), []).append(margin)
    if groups:
        out["by_strategy"] = {
            k: {"pairs": len(v), "accuracy": round(sum(m > 0 for m in v) / len(v), 4)} for k, v in sorted(groups.items())
        }
    return out


def train_reward_model(
    base: str,
    train_pairs: Any,
    output_dir: str | Path,
    *,
    val_pairs: Any = None,
    init_adapter: str | None = None,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.0,
    target_modules: str | Sequence[str] = "all-linear",
    top_layers: int | None = None,
    learning_rate: float = 1e-4,
    num_epochs: float = 1.0,
    max_steps: int = -1,
    batch_size: int = 4,
    grad_accum: int = 1,
    max_length: int = 1024,
    center_rewards_coefficient: float | None = 0.01,
    logging_steps: int = 5,
    seed: int = 0,
    device: str | None = None,
    dtype: str | None = None,
    quantization: str | None = None,
    gradient_checkpointing: bool = False,
    eval_batch_size: int = 8,
    full: bool = False,
    extra_args: dict[str, Any] | None = None,
    on_row: Any = None,
    is_main: bool = True,
    resume_from: str | None = None,
    chat_template: str | None = None,
) -> RewardResult:
    """Train a LoRA reward model on preference pairs and save it under ``output_dir``.

    Args:
        base: Base model argument (alias, HF dir, run dir or adapter dir; a run or adapter brings
            its SFT adapter, which is merged in first unless ``init_adapter`` is given).
        train_pairs: Pair JSONL path or pairs.
        output_dir: Stage directory (created; replaced atomically at the end for the adapter).
        val_pairs: Held-out pairs for accuracy/margin (path or pairs), optional.
        init_adapter: SFT LoRA adapter to merge into the backbone before training.
        lora_r: LoRA rank.
        lora_alpha: LoRA alpha.
        lora_dropout: LoRA dropout.
        target_modules: LoRA targets (``"all-linear"`` or module names); the score head is trained
            in full regardless.
        top_layers: Put LoRA only in the top N transformer blocks: gradients then stop there, which
            makes a step much cheaper on CPU (None: every block).
        learning_rate: Peak learning rate.
        num_epochs: Epochs over the pairs (ignored when ``max_steps`` > 0).
        max_steps: Optimizer steps (``-1``: use epochs).
        batch_size: Pairs per device step.
        grad_accum: Gradient accumulation steps.
        max_length: Pairs whose chosen or rejected sequence is longer (tokens) are left out.
        center_rewards_coefficient: Pull the rewards' mean towards 0 (keeps RL rewards centred).
        logging_steps: Log every this many steps.
        seed: Seed of the head initialisation, LoRA and data order.
        device: ``cpu``/``cuda`` (default: CUDA when available).
        dtype: Model dtype (default: bf16 on CUDA, fp32 on CPU).
        quantization: ``"4bit"`` for QLoRA on CUDA.
        gradient_checkpointing: Trade compute for memory (GPU recipes).
        eval_batch_size: Sequences per forward pass when scoring held-out pairs.
        full: Train every weight instead of a LoRA (small models only).
        extra_args: More ``RewardConfig`` fields (optimizer, scheduler, warm-up, checkpoints...).
        on_row: Called with every logged row (the pipeline's ``log_event``).
        is_main: False on the other ranks of a distributed run: they train but write nothing.
        resume_from: A trainer checkpoint to resume from (needs ``save_strategy`` in ``extra_args``).
        chat_template: A Jinja chat template to use instead of the tokenizer's (the recipe's).

    Returns:
        The :class:`RewardResult`.
    """
    from trl import RewardConfig, RewardTrainer

    from xinyu.io import atomic_dir, write_json
    from xinyu.models.loading import pick_device
    from xinyu.train.align_common import (
        common_trainer_args,
        load_pairs,
        lora_config,
        metrics_callback,
        pairs_dataset,
        parameter_check,
        parameter_fingerprint,
        plot_curves,
        quiet_progress,
        resolve_policy,
        trainable_parameter_count,
    )

    started = time.time()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(device)
    model_base, run_adapter = resolve_policy(base)
    init_adapter = init_adapter or run_adapter
    train = load_pairs(train_pairs)
    val = load_pairs(val_pairs)
    log.info("reward model: %d train pairs, %d held-out pairs, base %s", len(train), len(val), model_base)

    from xinyu.models import load_tokenizer

    model = load_classifier(model_base, init_adapter, device, dtype, quantization)
    tokenizer = load_tokenizer(model_base)
    model.config.pad_token_id = tokenizer.pad_token_id
    if chat_template:
        tokenizer.chat_template = chat_template
    if full:
        model.requires_grad_(True)
    before = pairwise_eval(model, tokenizer, val, max_length, eval_batch_size) if val and is_main else None

    rows: list[dict[str, Any]] = []
    args = RewardConfig(
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
        max_length=max_length,
        center_rewards_coefficient=center_rewards_coefficient,
        eval_strategy="no",
    )
    layers = None
    if top_layers:
        depth = int(model.config.get_text_config().num_hidden_layers)
        layers = list(range(max(0, depth - top_layers), depth))
    peft = None if full else lora_config(
        "SEQ_CLS", r=lora_r, alpha=lora_alpha, dropout=lora_dropout, target_modules=target_modules,
        modules_to_save=["score"], layers=layers,
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=pairs_dataset(train),
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[metrics_callback("reward", rows, output_dir / "metrics.jsonl" if is_main else None, on_row)],
    )
    quiet_progress(trainer, "reward model")
    trainable, total = trainable_parameter_count(trainer.model)
    fingerprint = parameter_fingerprint(trainer.model)
    output = trainer.train(resume_from_checkpoint=resume_from)
    after = pairwise_eval(trainer.model, tokenizer, val, max_length, eval_batch_size) if val and is_main else None

    adapter_dir = output_dir / ("model" if full else "adapter")
    checked = parameter_check(fingerprint, parameter_fingerprint(trainer.model))
    metrics = {
        "stage": "reward",
        "train_pairs": len(train),
        "train_pairs_used": len(trainer.train_dataset),
        "val_pairs": len(val),
        "steps": int(output.global_step),
        "train_loss": round(float(output.training_loss), 4),
        "trainable_params": trainable,
        "total_params": total,
        "parameter_check": checked,
        "seconds": round(time.time() - started, 1),
        "val_before": before,
        "val_after": after,
    }
    if not is_main:
        return RewardResult(output_dir=output_dir, adapter_dir=adapter_dir, metrics=metrics, log_rows=rows)
    with atomic_dir(adapter_dir) as tmp:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    write_json(
        output_dir / POINTER,
        {
            "kind": "reward_model",
            "base": model_base,
            # Relative to this directory (the run moves as a whole), with the absolute path as a fallback.
            "init_adapter": os.path.relpath(Path(init_adapter).resolve(), output_dir.resolve()) if init_adapter else None,
            "init_adapter_absolute": str(Path(init_adapter).resolve()) if init_adapter else None,
            "adapter": adapter_dir.name,
            "full": full,
            "max_length": max_length,
        },
    )
    write_json(output_dir / "eval.json", metrics)
    plot_curves(
        rows,
        {"loss": "loss", "accuracy": "train pairwise accuracy", "margin": "train margin r(c) - r(r)"},
        output_dir / "plots" / "reward_model.png",
        "reward model training",
    )
    return RewardResult(output_dir=output_dir, adapter_dir=adapter_dir, metrics=metrics, log_rows=rows)


def _pointer(path: Path) -> dict[str, Any]:
    pointer = path / POINTER
    if not pointer.is_file():
        # A run directory: its stages/<name>/reward_model.json, the last one written.
        found = sorted(path.glob(f"stages/*/{POINTER}"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise XinyuError(
                f"{path} is not a reward model: no {POINTER} in it (or in its stages/*/); train one with a "
                "`type: reward` stage"
            )
        pointer = found[-1]
    info = json.loads(pointer.read_text(encoding="utf-8"))
    info["_dir"] = pointer.parent
    return info


def load_reward_model(path: str | Path, device: str | None = None, dtype: str | None = None) -> tuple[Any, Any, int]:
    """Load a saved reward model (merged for fast scoring): ``(model, tokenizer, max_length)``."""
    from peft import PeftModel

    from xinyu.models import load_tokenizer
    from xinyu.models.loading import pick_device

    info = _pointer(Path(path))
    root: Path = info["_dir"]
    init_path = None
    if info.get("init_adapter"):
        relative = (root / info["init_adapter"]).resolve()
        init_path = str(relative if relative.exists() else info.get("init_adapter_absolute") or relative)
    weights = root / info.get("adapter", "adapter")
    if info.get("full"):
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(str(weights)).to(pick_device(device))
    else:
        model = load_classifier(info["base"], init_path, pick_device(device), dtype, None)
        model = PeftModel.from_pretrained(model, str(weights)).merge_and_unload()
    # The tokenizer saved with the reward model carries the chat template it was trained with.
    tokenizer = load_tokenizer(str(weights))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer, int(info.get("max_length", 1024))


class RewardScorer:
    """Score conversations with a saved reward model.

    Args:
        path: The reward stage directory (with ``reward_model.json``) or a run holding one.
        device: Where to run it (default: CUDA when available).
        batch_size: Conversations per forward pass.
    """

    def __init__(self, path: str | Path, device: str | None = None, batch_size: int = 8) -> None:
        self.path = str(path)
        self.model, self.tokenizer, self.max_length = load_reward_model(path, device=device)
        self.batch_size = batch_size

    def score_batch(self, conversations: Sequence[Sequence[dict[str, str]]]) -> list[float]:
        """Scores of whole conversations, each ending with the assistant reply to judge."""
        for i, conv in enumerate(conversations):
            if not conv or conv[-1].get("role") != "assistant":
                raise XinyuError(f"conversation {i}: the last message must be the assistant reply to score")
        texts = [self.tokenizer.apply_chat_template(list(c), tokenize=False) for c in conversations]
        return _score_texts(self.model, self.tokenizer, texts, self.max_length, self.batch_size)

    def score(self, messages: Sequence[dict[str, str]]) -> float:
        """Score of one conversation ending with the assistant reply."""
        return self.score_batch([messages])[0]

    def score_replies(self, prompts: Sequence[Sequence[dict[str, str]]], replies: Sequence[str]) -> list[float]:
        """Scores of ``replies`` to their ``prompts``."""
        return self.score_batch([[*p, {"role": "assistant", "content": r}] for p, r in zip(prompts, replies, strict=True)])


@lru_cache(maxsize=2)
def _cached_scorer(path: str, device: str | None) -> RewardScorer:
    return RewardScorer(path, device=device)


def score(messages: Sequence[dict[str, str]], reward_model: str | Path, device: str | None = None) -> float:
    """Score one conversation (ending with the assistant reply) with a saved reward model.

    The model is loaded once per path and kept (two at most) for later calls.
    """
    return _cached_scorer(str(Path(reward_model).resolve()), device).score(messages)


# The recipe stage (config + runner) lives with the other alignment stages; the stage registry
# (xinyu.train.stages) names it by this module.
from xinyu.train.align_stages import RewardStage, run_reward_stage  # noqa: E402, F401
