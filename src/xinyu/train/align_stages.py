"""Recipe stages ``reward``, ``dpo``, ``grpo`` and ``rloo``: their configs and runners.

Each stage maps its recipe section onto the flat-argument functions of :mod:`xinyu.train.reward`,
:mod:`xinyu.train.dpo` and :mod:`xinyu.train.rl`. The policy passes from stage to stage:

* ``reward`` trains a reward model beside the policy and hands the policy on unchanged (a copy,
  with hard links where possible, in ``stages/<name>/policy``); its backbone starts from the
  previous stage's policy (``init: policy``, MindGLM's recipe) or from the base model (``init: base``).
* ``dpo``, ``grpo`` and ``rloo`` continue the previous stage's adapter (or train a new LoRA on the
  base model when they come first or follow a reward stage that had no policy before it).
* ``grpo``/``rloo`` find their reward model by ``reward_model:`` (a stage name of this recipe or
  a path), by default the closest ``reward`` stage before them.

Example (``configs/demo_align.yaml`` has the full recipe)::

    stages:
      - {name: sft, data: {train: data/demo/train.jsonl}}
      - {name: rm, type: reward, data: {train: data/pairs/train.jsonl, val: data/pairs/val.jsonl}}
      - {name: rl, type: grpo, data: {train: data/demo/train.jsonl, val: data/demo/val.jsonl},
         reward_weights: {reward_model: 1.0, safety: 1.0, style: 0.5}, beta: 0.04}
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from xinyu.config import StrictModel
from xinyu.errors import ConfigError
from xinyu.serve.persona import resolve_system_prompt
from xinyu.train.config import StageConfig
from xinyu.train.stages import StageContext, StageResult

log = logging.getLogger(__name__)

_DTYPES = {"auto": None, "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class _AlignStage(StageConfig):
    """Fields shared by the alignment stages (data is pairs or prompts, never re-mixed by style)."""

    @model_validator(mode="after")
    def _no_mix(self) -> _AlignStage:
        if self.data.mix:
            raise ValueError(f"data.mix does not apply to {self.type} stages (it reweights dialogues by style)")
        return self


class RewardStage(_AlignStage):
    """Reward model on preference pairs (``data.train``/``data.val``: pair JSONL files)."""

    type: Literal["reward"] = "reward"
    init: Literal["policy", "base"] = Field(
        "policy", description="Backbone: the previous stage's policy merged in (MindGLM), or the base model."
    )
    center_rewards_coefficient: float | None = Field(
        0.01, ge=0, description="Pull the mean reward towards 0 (keeps RL rewards centred); null to disable."
    )
    top_layers: int | None = Field(
        None, ge=1, description="LoRA only in the top N blocks (much cheaper steps on CPU); null: every block."
    )


class DPOStage(_AlignStage):
    """Direct preference optimisation on pairs (``data.train``/``data.val``: pair JSONL files)."""

    type: Literal["dpo"] = "dpo"
    beta: float = Field(0.1, gt=0, description="KL strength towards the reference (the starting policy).")
    loss_type: Literal[
        "sigmoid", "ipo", "hinge", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down"
    ] = Field("sigmoid", description="TRL loss name: sigmoid is the original DPO loss.")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="Assumed label noise (robust loss).")
    precompute_ref_log_probs: bool = Field(False, description="Compute reference log-probs once before training.")


class StyleArgs(StrictModel):
    """Options of the style reward term (:func:`xinyu.train.rewards.style_score`)."""

    min_chars: int = Field(10, ge=0, description="Replies shorter than this lose 0.5.")
    max_chars: int = Field(300, ge=1, description="Replies longer than this lose up to 0.5.")
    repeat_limit: int = Field(4, ge=2, description="A 4-character sequence this many times counts as a loop.")


class _RLStage(_AlignStage):
    """Online RL on the user turns of dialogues (``data.train``: dialogues; ``data.val``: held-out)."""

    reward_model: str | None = Field(
        None, description="Reward model: a reward stage of this recipe or a path (default: the last reward stage)."
    )
    reward_weights: dict[str, float] = Field(
        default_factory=lambda: {"reward_model": 1.0, "safety": 1.0, "style": 0.5},
        description="Weight of each reward term: reward_model, safety, style.",
    )
    normalize_reward_model: bool = Field(True, description="Standardise RM scores with its held-out mean/std.")
    style: StyleArgs = Field(default_factory=StyleArgs)
    num_generations: int = Field(4, ge=2, description="Replies sampled per prompt (the group).")
    max_completion_length: int = Field(96, ge=4, description="Tokens per sampled reply.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature while training.")
    top_p: float = Field(1.0, gt=0, le=1)
    epsilon: float = Field(0.2, gt=0, description="PPO clipping range.")
    num_iterations: int = Field(1, ge=1, description="Optimisation passes per generated batch.")
    max_history: int | None = Field(4, ge=0, description="Earlier messages kept with each user turn.")
    eval_limit: int | None = Field(16, ge=1, description="Held-out prompts scored before and after (needs data.val).")
    eval_samples: int = Field(2, ge=1, description="Replies per held-out prompt and policy.")
    eval_temperature: float = Field(0.7, ge=0)
    eval_max_new_tokens: int | None = Field(None, ge=4, description="Default: max_completion_length.")

    @model_validator(mode="after")
    def _check_rl(self) -> _RLStage:
        problems = []
        unknown = sorted(set(self.reward_weights) - {"reward_model", "safety", "style"})
        if unknown:
            problems.append(f"reward_weights: unknown term(s) {', '.join(unknown)} (known: reward_model, safety, style)")
        if (self.batch_size * self.grad_accum) % self.num_generations:
            problems.append(
                f"batch_size × grad_accum ({self.batch_size} × {self.grad_accum}) must be a multiple of "
                f"num_generations ({self.num_generations}); batch_size counts replies, not prompts"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class GRPOStage(_RLStage):
    """GRPO: group-normalised advantages, per-token KL penalty in the loss."""

    type: Literal["grpo"] = "grpo"
    beta: float = Field(0.04, ge=0, description="KL coefficient towards the SFT policy (0: no reference).")


class RLOOStage(_RLStage):
    """RLOO: leave-one-out baseline, KL penalty subtracted from the reward."""

    type: Literal["rloo"] = "rloo"
    beta: float = Field(0.05, ge=0, description="KL coefficient towards the SFT policy (0: no reference).")


# ----------------------------------------------------------------------------------------- helpers


def _lora_targets(recipe: Any) -> Any:
    targets = recipe.lora.target_modules
    if targets != "auto":
        return targets
    from xinyu.models import resolve_model

    spec = resolve_model(recipe.model).spec
    return list(spec.lora_targets) if spec is not None else "all-linear"


def _last_checkpoint(stage_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = stage_dir / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def _read_template(recipe: Any) -> str | None:
    if not recipe.chat_template:
        return None
    from xinyu.io import read_text

    return read_text(recipe.chat_template)


def common_kwargs(stage: StageConfig, ctx: StageContext) -> dict[str, Any]:
    """The arguments every alignment function takes, from the recipe and the stage."""
    recipe = ctx.recipe
    extra: dict[str, Any] = {
        "output_dir": str(ctx.stage_dir / "checkpoints"),
        "optim": stage.optimizer,
        "weight_decay": stage.weight_decay,
        "max_grad_norm": stage.max_grad_norm,
        "lr_scheduler_type": stage.scheduler,
        "warmup_steps": stage.warmup_steps if stage.warmup_steps > 0 else stage.warmup_ratio,
        "per_device_eval_batch_size": stage.eval_batch_size or stage.batch_size,
    }
    if stage.save_steps:
        extra.update({"save_strategy": "steps", "save_steps": stage.save_steps, "save_total_limit": 1})
    full = recipe.method == "full"
    return {
        "learning_rate": stage.lr,
        "num_epochs": stage.epochs,
        "max_steps": stage.max_steps,
        "batch_size": stage.batch_size,
        "grad_accum": stage.grad_accum,
        "logging_steps": stage.logging_steps,
        "seed": stage.seed if stage.seed is not None else recipe.seed,
        "device": None if recipe.device == "auto" else recipe.device,
        "dtype": _DTYPES[recipe.precision],
        "quantization": "4bit" if recipe.method == "qlora" else None,
        "gradient_checkpointing": stage.gradient_checkpointing,
        "lora_r": recipe.lora.r,
        "lora_alpha": int(recipe.lora.alpha),
        "lora_dropout": recipe.lora.dropout,
        "target_modules": "all-linear" if full else _lora_targets(recipe),
        "full": full,
        "extra_args": extra,
        # Events carry the stage's name (as SFT events do), so plots and resume truncation find them.
        "on_row": (lambda row: ctx.log_event({**row, "stage": stage.name, "type": stage.type}))
        if ctx.is_main_process else None,
        "is_main": ctx.is_main_process,
        "resume_from": _last_checkpoint(ctx.stage_dir) if ctx.resume and stage.save_steps else None,
        "chat_template": _read_template(recipe),
    }


def policy_input(ctx: StageContext) -> Path | None:
    """The policy this stage starts from: the previous stage's output, unless that is a reward model."""
    previous = ctx.init_from
    if previous is None:
        return None
    pointer = Path(previous).parent / "reward_model.json"
    if pointer.is_file() and json.loads(pointer.read_text(encoding="utf-8")).get("adapter") == Path(previous).name:
        return None
    return Path(previous)


def _kind(path: Path) -> str:
    return "adapter" if (path / "adapter_config.json").is_file() else "model"


def _split_pairs(stage: StageConfig, seed: int) -> tuple[list[Any], list[Any]]:
    from xinyu.train.align_common import load_pairs
    from xinyu.train.data import with_system

    train = [p for f in stage.data.train_files() for p in load_pairs(f)]
    val = [p for f in stage.data.val_files() for p in load_pairs(f)]
    if not val and stage.data.val_ratio > 0:
        rng = random.Random(seed)
        order = list(range(len(train)))
        rng.shuffle(order)
        cut = max(1, int(len(train) * stage.data.val_ratio))
        held = set(order[:cut])
        val = [p for i, p in enumerate(train) if i in held]
        train = [p for i, p in enumerate(train) if i not in held]
    system = resolve_system_prompt(stage.data.system)
    if system:  # the prompts get the system message the SFT stages trained with
        for pair in (*train, *val):
            pair.messages = with_system(pair.messages, system)
    # Limits keep a seeded random subset in file order (pair files are grouped by dialogue).
    if stage.data.limit and stage.data.limit < len(train):
        keep = set(random.Random(seed).sample(range(len(train)), stage.data.limit))
        train = [p for i, p in enumerate(train) if i in keep]
    if stage.data.val_limit and stage.data.val_limit < len(val):
        keep = set(random.Random(seed + 1).sample(range(len(val)), stage.data.val_limit))
        val = [p for i, p in enumerate(val) if i in keep]
    return train, val


def _summary(stage: StageConfig, ctx: StageContext, metrics: dict[str, Any], rows: list[dict[str, Any]],
             wall: float) -> dict[str, Any]:
    import torch

    from xinyu.train.records import peak_rss_mb

    losses = [r["loss"] for r in rows if "loss" in r]
    runtime = next((r["train_runtime"] for r in reversed(rows) if "train_runtime" in r), wall)
    return {
        "name": stage.name,
        "type": stage.type,
        "steps": metrics.get("steps"),
        "train_runtime_s": runtime,
        "wall_s": wall,
        "peak_rss_mb": peak_rss_mb(),
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
        "trainable_params": metrics.get("trainable_params"),
        "total_params": metrics.get("total_params"),
        "final_train_loss": losses[-1] if losses else None,
        "mean_train_loss": metrics.get("train_loss"),
        "alignment": metrics,
        "hyperparameters": {**stage.model_dump(mode="json"), "method": ctx.recipe.method,
                            "lora": ctx.recipe.lora.model_dump(mode="json") if ctx.recipe.method != "full" else None},
    }


def _copy_policy(source: Path, target: Path) -> Path:
    """Hand the policy on: a copy of ``source`` at ``target`` (hard links on the same filesystem)."""
    import os

    from xinyu.io import atomic_dir

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    with atomic_dir(target) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=link_or_copy)
    return target


def _finish(ctx: StageContext) -> None:
    """Drop checkpoints (unless kept) and copy the stage's curves into the run's ``plots/``."""
    if not ctx.is_main_process:
        return
    if not ctx.recipe.keep_checkpoints:
        shutil.rmtree(ctx.stage_dir / "checkpoints", ignore_errors=True)
    for png in sorted((ctx.stage_dir / "plots").glob("*.png")):
        target = ctx.run_dir / "plots" / f"{ctx.stage_dir.name}-{png.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)


# ----------------------------------------------------------------------------------------- runners


def run_reward_stage(stage: StageConfig, ctx: StageContext) -> StageResult:
    """Train the reward model; hand the policy on unchanged."""
    from xinyu.train.records import reset_peak_rss
    from xinyu.train.reward import train_reward_model

    assert isinstance(stage, RewardStage)
    reset_peak_rss()
    kwargs = common_kwargs(stage, ctx)
    train, val = _split_pairs(stage, kwargs["seed"])
    policy = policy_input(ctx)
    base, init_adapter = ctx.recipe.model, None
    if policy is not None and stage.init == "policy":
        if _kind(policy) == "adapter":
            init_adapter = str(policy)
        else:
            base = str(policy)
    started = time.perf_counter()
    result = train_reward_model(
        base, train, ctx.stage_dir, val_pairs=val, init_adapter=init_adapter, max_length=stage.max_length,
        center_rewards_coefficient=stage.center_rewards_coefficient, top_layers=stage.top_layers,
        eval_batch_size=stage.eval_batch_size or 8, **kwargs,
    )
    wall = time.perf_counter() - started
    if policy is not None:
        output = _copy_policy(policy, ctx.stage_dir / "policy") if ctx.is_main_process else ctx.stage_dir / "policy"
        kind = _kind(policy)
    else:  # nothing to hand on: the reward model is this run's output (a following stage starts from the base)
        output, kind = result.adapter_dir, "adapter"
    _finish(ctx)
    return StageResult(output=output, kind=kind, summary=_summary(stage, ctx, result.metrics, result.log_rows, wall))


def run_dpo_stage(stage: StageConfig, ctx: StageContext) -> StageResult:
    """Align the previous stage's policy with DPO."""
    from xinyu.train.dpo import train_dpo
    from xinyu.train.records import reset_peak_rss

    assert isinstance(stage, DPOStage)
    reset_peak_rss()
    kwargs = common_kwargs(stage, ctx)
    train, val = _split_pairs(stage, kwargs["seed"])
    policy = policy_input(ctx)
    started = time.perf_counter()
    result = train_dpo(
        str(policy) if policy else ctx.recipe.model, train, ctx.stage_dir, val_pairs=val, beta=stage.beta,
        loss_type=stage.loss_type, label_smoothing=stage.label_smoothing, max_length=stage.max_length,
        precompute_ref_log_probs=stage.precompute_ref_log_probs, **kwargs,
    )
    wall = time.perf_counter() - started
    _finish(ctx)
    return StageResult(output=result.adapter_dir, kind="model" if kwargs["full"] else "adapter",
                       summary=_summary(stage, ctx, result.metrics, result.log_rows, wall))


def _reward_model_path(stage: _RLStage, ctx: StageContext) -> Path | None:
    stages = ctx.recipe.stages
    if stage.reward_model:
        named = [s for s in stages[: ctx.index] if s.name == stage.reward_model]
        if named:
            return ctx.run_dir / "stages" / named[0].name
        path = Path(stage.reward_model)
        if path.exists():
            return path
        raise ConfigError([f"stages.{ctx.index}.reward_model: '{stage.reward_model}' is neither an earlier "
                           "stage of this recipe nor an existing path"])
    earlier = [s for s in stages[: ctx.index] if s.type == "reward"]
    if earlier:
        return ctx.run_dir / "stages" / earlier[-1].name
    if stage.reward_weights.get("reward_model"):
        raise ConfigError([f"stages.{ctx.index}.reward_model: no reward stage before '{stage.name}'; add one, "
                           "give a path, or set reward_weights.reward_model to 0"])
    return None


def _run_rl(stage: _RLStage, ctx: StageContext, algorithm: str) -> StageResult:
    from xinyu.train.records import reset_peak_rss
    from xinyu.train.rl import train_rl

    reset_peak_rss()
    kwargs = common_kwargs(stage, ctx)
    policy = policy_input(ctx)
    started = time.perf_counter()
    result = train_rl(
        str(policy) if policy else ctx.recipe.model,
        stage.data.train_files(),
        ctx.stage_dir,
        algorithm=algorithm,
        reward_model=_reward_model_path(stage, ctx),
        reward_weights=stage.reward_weights,
        normalize_reward_model=stage.normalize_reward_model,
        style=stage.style.model_dump(),
        beta=stage.beta,
        num_generations=stage.num_generations,
        max_completion_length=stage.max_completion_length,
        temperature=stage.temperature,
        top_p=stage.top_p,
        epsilon=stage.epsilon,
        num_iterations=stage.num_iterations,
        max_history=stage.max_history,
        prompt_limit=stage.data.limit,
        system=resolve_system_prompt(stage.data.system),
        val_prompts=stage.data.val_files() or None,
        eval_limit=stage.eval_limit,
        eval_samples=stage.eval_samples,
        eval_max_new_tokens=stage.eval_max_new_tokens,
        eval_temperature=stage.eval_temperature,
        eval_batch_size=stage.eval_batch_size or 8,
        **kwargs,
    )
    wall = time.perf_counter() - started
    _finish(ctx)
    return StageResult(output=result.adapter_dir, kind="model" if kwargs["full"] else "adapter",
                       summary=_summary(stage, ctx, result.metrics, result.log_rows, wall))


def run_grpo_stage(stage: StageConfig, ctx: StageContext) -> StageResult:
    """Align the previous stage's policy with GRPO."""
    assert isinstance(stage, GRPOStage)
    return _run_rl(stage, ctx, "grpo")


def run_rloo_stage(stage: StageConfig, ctx: StageContext) -> StageResult:
    """Align the previous stage's policy with RLOO."""
    assert isinstance(stage, RLOOStage)
    return _run_rl(stage, ctx, "rloo")
