"""The SFT stage: setup -> train -> save, readable top to bottom.

``run_sft_stage`` is registered as the ``sft`` stage type (:mod:`xinyu.train.stages`). It loads the
base model (or continues the previous stage's adapter/model), tokenises the stage's dialogues with
assistant-only loss masks (:mod:`xinyu.models.masks`), trains with TRL's ``SFTTrainer`` using the
labelled-positions loss (:mod:`xinyu.train.trainer`), and saves ``stages/<stage>/adapter`` (LoRA,
QLoRA) or ``stages/<stage>/model`` (full fine-tuning).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xinyu.errors import DataError
from xinyu.train.config import Recipe, SFTStage, StageConfig
from xinyu.train.stages import StageContext, StageResult

log = logging.getLogger(__name__)


def base_reference(model: str) -> str:
    """How saved adapters name their base: an absolute path for local models, else the alias/hub id."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def lora_targets(recipe: Recipe) -> str | list[str]:
    """Resolve ``lora.target_modules``: ``auto`` uses the alias's known projections, else all linear layers."""
    targets = recipe.lora.target_modules
    if targets != "auto":
        return targets
    from xinyu.models import resolve_model

    spec = resolve_model(recipe.model).spec
    return list(spec.lora_targets) if spec is not None else "all-linear"


def build_model(recipe: Recipe, init_from: Path | None, seed: int, gradient_checkpointing: bool = False):
    """Load the model to train: a fresh adapter, the previous stage's adapter, or a full model.

    Returns:
        ``(model, tokenizer)``; for LoRA/QLoRA the model is a ``PeftModel`` with trainable adapter.
    """
    from transformers import set_seed

    from xinyu.models import load_model

    dtype = None if recipe.precision == "auto" else recipe.precision
    device = None if recipe.device == "auto" else recipe.device
    import torch

    if device is None and torch.cuda.is_available():
        from accelerate import PartialState

        device = f"cuda:{PartialState().local_process_index}"  # one GPU per rank under accelerate launch
    if recipe.method == "full":
        model, tokenizer = load_model(str(init_from) if init_from else recipe.model, device=device, dtype=dtype,
                                      trainable_adapter=True)
        model.requires_grad_(True)
        return model, tokenizer
    quantization = "4bit" if recipe.method == "qlora" else None
    if init_from is not None:  # continue the same adapter, trainable
        return load_model(recipe.model, adapter=str(init_from), device=device, dtype=dtype,
                          quantization=quantization, trainable_adapter=True)
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    model, tokenizer = load_model(recipe.model, device=device, dtype=dtype, quantization=quantization,
                                  trainable_adapter=True)
    if quantization:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    config = LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=lora_targets(recipe),
        task_type="CAUSAL_LM",
    )
    set_seed(seed)  # adapter initialisation is random: seed it for reproducible runs
    return get_peft_model(model, config), tokenizer


def _read_template(recipe: Recipe) -> str | None:
    if not recipe.chat_template:
        return None
    from xinyu.io import read_text

    return read_text(recipe.chat_template)


def sft_config(stage: SFTStage, recipe: Recipe, stage_dir: Path, seed: int, has_val: bool, on_cpu: bool):
    """Map a stage's hyperparameters onto TRL's ``SFTConfig``."""
    import torch
    from trl import SFTConfig

    cuda = not on_cpu and torch.cuda.is_available()
    bf16 = cuda and recipe.precision in ("auto", "bf16") and torch.cuda.is_bf16_supported()
    fp16 = cuda and (recipe.precision == "fp16" or (recipe.precision == "auto" and not bf16))
    early = bool(stage.early_stopping_patience and has_val)
    strategy = ("steps" if stage.eval_steps else "epoch") if has_val else "no"
    if early:  # the best checkpoint is tracked at each evaluation, so saves follow evaluations
        save_strategy, save_steps = strategy, stage.eval_steps
    elif stage.save_steps or stage.eval_steps:
        save_strategy, save_steps = "steps", stage.save_steps or stage.eval_steps
    else:
        save_strategy, save_steps = "epoch", None
    return SFTConfig(
        output_dir=str(stage_dir / "checkpoints"),
        num_train_epochs=stage.epochs,
        max_steps=stage.max_steps,
        learning_rate=stage.lr,
        lr_scheduler_type=stage.scheduler,
        warmup_steps=stage.warmup_steps if stage.warmup_steps > 0 else stage.warmup_ratio,
        optim=stage.optimizer,
        weight_decay=stage.weight_decay,
        max_grad_norm=stage.max_grad_norm,
        per_device_train_batch_size=stage.batch_size,
        per_device_eval_batch_size=stage.eval_batch_size or stage.batch_size,
        gradient_accumulation_steps=stage.grad_accum,
        gradient_checkpointing=stage.gradient_checkpointing,
        max_length=stage.max_length,
        packing=stage.packing,
        packing_strategy="bfd",
        train_sampling_strategy="group_by_length" if stage.group_by_length and not stage.packing else "random",
        logging_steps=stage.logging_steps,
        logging_first_step=True,
        eval_strategy=strategy,
        eval_steps=stage.eval_steps,
        save_strategy=save_strategy,
        save_steps=save_steps,
        save_total_limit=2 if early else 1,
        save_only_model=False,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        prediction_loss_only=True,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        fp16=fp16,
        use_cpu=on_cpu,
        report_to=[],
        log_level="warning",
        disable_tqdm=False,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )


def _last_checkpoint(stage_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = stage_dir / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def _count_params(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def _save(trainer: Any, recipe: Recipe, tokenizer: Any, out: Path, is_main: bool) -> str:
    """Save the stage's weights; adapters name their base model the way the recipe does."""
    from accelerate.utils import is_peft_model

    is_adapter = is_peft_model(trainer.model)
    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        trainer.save_model(str(out))  # gathers sharded weights on every rank
    elif is_main:
        out.mkdir(parents=True, exist_ok=True)
        model = trainer.accelerator.unwrap_model(trainer.model)
        # Adapters never train the embeddings here; saying so spares PEFT a lookup of the base config.
        extra = {"save_embedding_layers": False} if is_adapter else {}
        model.save_pretrained(str(out), safe_serialization=True, **extra)
        if not is_adapter:
            tokenizer.save_pretrained(str(out))  # a full model directory must load on its own
    if is_main and is_adapter:
        config_path = out / "adapter_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = base_reference(recipe.model)
        config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return "adapter" if is_adapter else "model"


def quiet_libraries() -> None:
    """Silence per-step noise: dataset-map progress bars and deprecation notices nobody can act on."""
    import warnings

    import datasets

    datasets.disable_progress_bars()
    # TRL passes `gradient_checkpointing`, which transformers 5.2x renamed; the warning is not ours to fix.
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning)


@dataclass
class SFTSetup:
    """Everything a stage needs before ``train()``: the trainer and what to record about it."""

    trainer: Any
    tokenizer: Any
    data_stats: dict[str, Any]
    trainable_params: int
    total_params: int
    has_val: bool


def prepare_sft(stage: SFTStage, ctx: StageContext) -> SFTSetup:
    """Load the model and data of a stage and build its trainer (nothing is trained yet)."""
    from datasets import Dataset
    from transformers import EarlyStoppingCallback, ProgressCallback

    from xinyu.models.loading import pick_device
    from xinyu.train.data import load_stage_data, tokenize_all
    from xinyu.train.trainer import LabelledLossSFTTrainer, MetricsRecorder, StageProgress

    recipe: Recipe = ctx.recipe
    seed = stage.seed if stage.seed is not None else recipe.seed
    data = load_stage_data(stage.data, seed)
    has_val = bool(data.val)
    # The trainer's arguments exist before the model is loaded: under DeepSpeed ZeRO-3 they make
    # from_pretrained shard the weights as they load.
    on_cpu = pick_device(None if recipe.device == "auto" else recipe.device) == "cpu"
    args = sft_config(stage, recipe, ctx.stage_dir, seed, has_val, on_cpu)
    model, tokenizer = build_model(recipe, ctx.init_from, seed, stage.gradient_checkpointing)
    trainable, total = _count_params(model)
    template = _read_template(recipe)
    if template:
        tokenizer.chat_template = template
    common = {"max_length": stage.max_length, "train_on_prompt": stage.train_on_prompt}
    train_rows, train_counts = tokenize_all(tokenizer, data.train, desc=f"{stage.name} train", **common)
    val_rows, _ = tokenize_all(tokenizer, data.val, desc=f"{stage.name} val", **common)
    if not train_rows:
        raise DataError(f"stage '{stage.name}' has no training dialogue with assistant tokens within "
                        f"max_length={stage.max_length}", path=stage.data.train_files()[0])
    callbacks: list[Any] = [MetricsRecorder(stage.name, ctx.log_event)]
    if args.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(stage.early_stopping_patience, stage.early_stopping_threshold))
    trainer = LabelledLossSFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StageProgress(stage.name))
    stats = {**data.stats, **{f"train_{k}": v for k, v in train_counts.items()}, "val_rows": len(val_rows)}
    return SFTSetup(trainer, tokenizer, stats, trainable, total, bool(val_rows))


def run_sft_stage(stage: StageConfig, ctx: StageContext) -> StageResult:
    """Train one SFT stage and save its adapter (or model); see the module docstring."""
    import torch

    from xinyu.train.records import peak_rss_mb, reset_peak_rss

    assert isinstance(stage, SFTStage)
    quiet_libraries()
    recipe: Recipe = ctx.recipe
    seed = stage.seed if stage.seed is not None else recipe.seed

    # --- setup: model, data, trainer -------------------------------------------------------------
    reset_peak_rss()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    setup = prepare_sft(stage, ctx)
    trainer, tokenizer = setup.trainer, setup.tokenizer

    # --- train ------------------------------------------------------------------------------------
    resume = _last_checkpoint(ctx.stage_dir) if ctx.resume else None
    if resume:
        log.info("stage %s: resuming from %s", stage.name, Path(resume).name)
    start = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume)
    wall = time.perf_counter() - start
    final_val = None
    if setup.has_val:
        evals = [e for e in trainer.state.log_history if "eval_loss" in e]
        if trainer.args.load_best_model_at_end and trainer.state.best_metric is not None:
            final_val = trainer.state.best_metric  # early stopping reloaded the best checkpoint: that is what is saved
        elif evals and evals[-1]["step"] == trainer.state.global_step:
            final_val = evals[-1]["eval_loss"]  # the Trainer has just evaluated these weights
        else:
            final_val = trainer.evaluate()["eval_loss"]

    # --- save -------------------------------------------------------------------------------------
    out_name = "model" if recipe.method == "full" else "adapter"
    out = ctx.stage_dir / out_name
    kind = _save(trainer, recipe, tokenizer, out, ctx.is_main_process)
    train_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    runtime = float(output.metrics.get("train_runtime", wall))
    summary = {
        "name": stage.name,
        "type": stage.type,
        "steps": trainer.state.global_step,
        "epochs": round(float(trainer.state.epoch or 0.0), 4),
        "resumed_from_step": int(Path(resume).name.split("-")[-1]) if resume else None,
        "tokens": trainer._total_train_tokens,
        "label_tokens": trainer.label_tokens_seen,
        "tokens_per_s": trainer._total_train_tokens / runtime if runtime > 0 else None,
        "train_runtime_s": runtime,
        "wall_s": wall,
        "peak_rss_mb": peak_rss_mb(),
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
        "trainable_params": setup.trainable_params,
        "total_params": setup.total_params,
        "final_train_loss": train_losses[-1] if train_losses else None,
        "mean_train_loss": output.metrics.get("train_loss"),
        "final_val_loss": final_val,
        "best_val_loss": trainer.state.best_metric,
        "data": setup.data_stats,
        "hyperparameters": {**stage.model_dump(mode="json"), "method": recipe.method,
                            "lora": recipe.lora.model_dump(mode="json") if recipe.method != "full" else None,
                            "seed": seed, "effective_batch": stage.batch_size * stage.grad_accum
                            * trainer.accelerator.num_processes},
    }
    if ctx.is_main_process and not recipe.keep_checkpoints:
        shutil.rmtree(ctx.stage_dir / "checkpoints", ignore_errors=True)
    del trainer, setup
    return StageResult(output=out, kind=kind, summary=summary)
