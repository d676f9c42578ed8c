"""Shared plumbing of the alignment stages (reward model, DPO, GRPO/RLOO).

LoRA configs, precision and trainer-argument defaults that suit both a 2-core CPU and a GPU, a
callback that records the trainers' logs as ``metrics.jsonl`` rows, loss/reward curve plots, and
the conversion of pair files into TRL datasets. Torch, transformers and TRL are imported inside the
functions so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from xinyu.errors import XinyuError

log = logging.getLogger(__name__)

# Gemma/Qwen/Llama/InternLM2 projection names; "all-linear" lets PEFT find them in any architecture.
DEFAULT_TARGET_MODULES = "all-linear"


def lora_config(
    task_type: str,
    r: int = 16,
    alpha: int = 32,
    dropout: float = 0.05,
    target_modules: str | Sequence[str] = DEFAULT_TARGET_MODULES,
    modules_to_save: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
) -> Any:
    """A PEFT ``LoraConfig`` (``task_type`` ``CAUSAL_LM`` or ``SEQ_CLS``); ``layers`` limits it to those blocks."""
    from peft import LoraConfig

    targets: Any = target_modules if isinstance(target_modules, str) else list(target_modules)
    return LoraConfig(
        layers_to_transform=list(layers) if layers else None,
        task_type=task_type,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        modules_to_save=list(modules_to_save) if modules_to_save else None,
        bias="none",
    )


def precision_args(device: str) -> dict[str, Any]:
    """Mixed precision on CUDA (bf16 where supported, else fp16), plain fp32 on CPU."""
    if device.startswith("cuda"):
        import torch

        bf16 = torch.cuda.is_bf16_supported()
        return {"bf16": bf16, "fp16": not bf16, "use_cpu": False}
    return {"bf16": False, "fp16": False, "use_cpu": True}


def common_trainer_args(
    output_dir: Path,
    *,
    device: str,
    learning_rate: float,
    num_epochs: float,
    max_steps: int,
    batch_size: int,
    grad_accum: int,
    logging_steps: int,
    seed: int,
    gradient_checkpointing: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments every alignment stage passes to its TRL config.

    Checkpoints are not written unless ``extra`` asks for them (``save_strategy="steps"``): each
    stage saves its final adapter itself, atomically, so an interrupted stage never leaves a
    half-written model behind. ``extra`` (optimizer, scheduler, warm-up, weight decay, ...)
    overrides the defaults.
    """
    args: dict[str, Any] = {
        "output_dir": str(output_dir),
        "learning_rate": learning_rate,
        "num_train_epochs": num_epochs,
        "max_steps": max_steps,
        "per_device_train_batch_size": batch_size,
        "per_device_eval_batch_size": batch_size,
        "gradient_accumulation_steps": grad_accum,
        "logging_steps": logging_steps,
        "logging_first_step": True,
        "save_strategy": "no",
        "report_to": "none",
        "seed": seed,
        "data_seed": seed,
        # transformers 5 renamed gradient_checkpointing; setting the new name keeps TRL quiet and in sync.
        "activation_checkpointing": gradient_checkpointing,
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
        "log_level": "warning",
        **precision_args(device),
    }
    args.update(extra or {})
    return args


def metrics_callback(
    stage: str,
    rows: list[dict[str, Any]],
    path: Path | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> Any:
    """A ``TrainerCallback`` appending every log of the trainer to ``rows``.

    Each row is ``{"stage", "step", "epoch", "time", <the trainer's logged values>}`` with the
    values as plain floats, so the rows read like the SFT stage's ``metrics.jsonl`` events. Rows are
    also written to ``path`` (the whole file, atomically) and passed to ``on_row`` (the pipeline's
    ``log_event``).
    """
    from transformers import TrainerCallback

    from xinyu.io import write_jsonl

    start = time.time()

    class _Recorder(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if not logs or not state.is_world_process_zero:
                return
            row: dict[str, Any] = {
                "stage": stage,
                "step": int(state.global_step),
                "epoch": round(float(state.epoch or 0.0), 4),
                "time": round(time.time() - start, 2),
            }
            for key, value in logs.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    row[key] = float(value)
            rows.append(row)
            if path is not None:
                write_jsonl(path, rows)
            if on_row is not None:
                on_row(row)

    return _Recorder()


def quiet_progress(trainer: Any, label: str) -> None:
    """Show a progress bar titled ``label`` instead of printing every log dict (they go to metrics.jsonl)."""
    from transformers import ProgressCallback

    try:
        from xinyu.train.trainer import StageProgress
    except ImportError:  # the SFT trainer helpers are optional here: keep the default bar
        return
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StageProgress(label))


def plot_curves(
    rows: Iterable[dict[str, Any]], series: dict[str, str], path: Path, title: str, xlabel: str = "step"
) -> Path | None:
    """Plot logged values against the step as one PNG with a panel per series.

    Args:
        rows: Metric rows (``step`` plus values).
        series: ``{key in the rows: panel title}``; keys absent from every row are skipped.
        path: PNG to write (atomically).
        title: Figure title.
        xlabel: Label of the x axis.

    Returns:
        The path, or ``None`` when no series had any point.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xinyu.io import atomic_write

    rows = list(rows)
    present = {k: v for k, v in series.items() if any(k in r for r in rows)}
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.2), squeeze=False)
    for ax, (key, label) in zip(axes[0], present.items(), strict=True):
        points = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path


def load_pairs(source: Any) -> list[Any]:
    """Preference pairs from a pair JSONL path or an iterable of pairs/dicts (validated)."""
    from xinyu.data.preference import PreferencePair, read_pairs

    if source is None:
        return []
    if isinstance(source, (str, Path)):
        return read_pairs(source)
    return [p if isinstance(p, PreferencePair) else PreferencePair.from_dict(p) for p in source]


def pairs_dataset(pairs: Sequence[Any]) -> Any:
    """A ``datasets.Dataset`` of TRL conversational preference examples (explicit prompt)."""
    from datasets import Dataset

    if not pairs:
        raise XinyuError("no preference pairs to train on")
    return Dataset.from_list([p.to_trl() for p in pairs])


def trainable_parameter_count(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def parameter_fingerprint(model: Any) -> dict[str, tuple[bool, float, float]]:
    """``{name: (trainable, sum, sum of squares)}`` of every parameter (float64 sums, cheap on any device)."""
    import torch

    out = {}
    with torch.no_grad():
        for name, param in model.named_parameters():
            data = param.detach().double()
            out[name] = (bool(param.requires_grad), float(data.sum()), float((data * data).sum()))
    return out


def parameter_check(before: dict[str, tuple[bool, float, float]], after: dict[str, tuple[bool, float, float]]) -> dict[str, Any]:
    """How many trainable tensors changed in training, and how many frozen ones did (must be 0).

    A sanity check recorded with every stage: an adapter that did not move, or a frozen base
    weight that did, means the stage did not train what it claims to.
    """
    trainable = [n for n, (t, _, _) in before.items() if t]
    frozen = [n for n, (t, _, _) in before.items() if not t]

    def moved(name: str) -> bool:
        return name in after and after[name][1:] != before[name][1:]

    return {
        "trainable_tensors": len(trainable),
        "trainable_changed": sum(moved(n) for n in trainable),
        "frozen_tensors": len(frozen),
        "frozen_changed": sum(moved(n) for n in frozen),
    }


def resolve_policy(model: str) -> tuple[str, str | None]:
    """``(base model argument, adapter dir or None)`` for a policy or base model argument.

    A run directory, or a LoRA adapter directory, resolves to its base and adapter; anything else
    is a base model used as it is.
    """
    from xinyu.models import resolve_model

    resolved = resolve_model(model)
    if resolved.kind == "adapter":
        if not resolved.base:
            raise XinyuError(f"the adapter '{model}' does not name its base model (adapter_config.json)")
        return resolved.base, resolved.path
    return model, None


def save_policy(model: Any, tokenizer: Any, path: Path, base_name: str | None = None) -> Path:
    """Atomically save a trained policy.

    The ``default`` adapter of a PEFT model is saved (never TRL's frozen ``ref`` copy), or the whole
    model after full fine-tuning.

    Args:
        model: The trained model.
        tokenizer: Saved beside it.
        path: Target directory (replaced when complete).
        base_name: What the adapter names as its base (``base_model_name_or_path``): the recipe's
            model argument, so an alias stays an alias instead of a cache path.
    """
    import json

    from xinyu.io import atomic_dir

    with atomic_dir(path) as tmp:
        if hasattr(model, "peft_config"):
            model.save_pretrained(tmp, selected_adapters=["default"])
            config_path = tmp / "adapter_config.json"
            if base_name and config_path.is_file():
                config = json.loads(config_path.read_text(encoding="utf-8"))
                config["base_model_name_or_path"] = base_name
                config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
        else:
            model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return path


def base_reference(model: str) -> str:
    """How saved adapters name their base: an absolute path for local models, else the alias/hub id."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model
