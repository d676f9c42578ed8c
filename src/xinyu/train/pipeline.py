"""Run a multi-stage recipe into ``runs/<name>/``.

Layout of a run directory::

    config.yaml            resolved recipe (defaults merged into every stage)
    metrics.jsonl          one JSON object per log/eval event: stage, step, epoch, loss/eval_loss, lr, tokens, elapsed
    plots/loss.png         train and validation loss of every stage
    stages/<stage>/        adapter/ (or model/), stage.json (done marker + summary), checkpoints/ while running
    adapter/ or model/     the final weights (a copy of the last stage's)
    model.json             {"path": "adapter", "base": "<model>"}: `xinyu chat runs/<name>` etc. follow it
    train_summary.json     per stage and total: tokens, tokens/s, wall time, peak memory, params, losses, hyperparameters
    summary.md             the same, short, in Markdown

Stages run in order; each starts from the previous stage's output. A stage that already finished
with the same configuration (same recipe values, same data files, same previous stage) is skipped,
an interrupted one resumes from its last checkpoint, and ``fresh=True`` redoes everything. In a
distributed launch every rank runs the stages and only the main process writes records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from xinyu.config import dump_config
from xinyu.errors import ConfigError
from xinyu.io import atomic_dir, read_json, write_json
from xinyu.train.config import Recipe, StageConfig
from xinyu.train.records import MetricsLog, plot_losses, write_summaries
from xinyu.train.stages import StageContext, stage_type

log = logging.getLogger(__name__)

RECORDS = ("stages", "metrics.jsonl", "plots", "adapter", "model", "model.json", "train_summary.json", "summary.md")


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stage_key(recipe: Recipe, stage: StageConfig, previous: str) -> str:
    """Fingerprint of everything that determines a stage's result (config, data contents, previous stage)."""
    data_files = stage.data.train_files() + stage.data.val_files()
    payload = {
        "model": recipe.model,
        "method": recipe.method,
        "lora": recipe.lora.model_dump(mode="json"),
        "precision": recipe.precision,
        "seed": recipe.seed,
        "chat_template": _file_digest(recipe.chat_template) if recipe.chat_template else None,
        "stage": stage.model_dump(mode="json"),
        "data": {p: _file_digest(p) for p in data_files if Path(p).is_file()},
        "previous": previous,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def check_data(recipe: Recipe) -> None:
    """Every data file of every stage exists; otherwise one error lists them all."""
    from xinyu.train.data import missing_files

    problems = [f"stages.{i}.data: file not found: {p}" for i, stage in enumerate(recipe.stages)
                for p in missing_files(stage.data)]
    if problems:
        hint = "build the dataset first, e.g. `xinyu data build configs/data/demo.yaml`"
        raise ConfigError([*problems, hint])


def _distributed(recipe: Recipe) -> Any:
    """The process group: one process, or one rank of ``accelerate launch`` (gloo on CPU, NCCL on GPUs)."""
    import torch
    from accelerate import PartialState

    # PartialState only forms a CPU process group when told it runs on CPU; the first instance is
    # shared by the Trainer's, so it has to be right from the start.
    return PartialState(cpu=recipe.device == "cpu" or not torch.cuda.is_available())


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # same filesystem: the final copy of a full model costs no space
    except OSError:
        shutil.copy2(src, dst)


def _finish(recipe: Recipe, run_dir: Path, output: Path, kind: str) -> Path:
    from xinyu.train.sft import base_reference

    target = run_dir / kind
    with atomic_dir(target) as tmp:
        # A full model is large: hard-link its files (stage outputs are never rewritten in place, a
        # retrained stage gets a new directory). Adapters are small and simply copied.
        copy = _link_or_copy if kind == "model" else shutil.copy2
        shutil.copytree(output, tmp, dirs_exist_ok=True, copy_function=copy)
        if kind == "adapter" and recipe.chat_template:
            from xinyu.io import read_text
            from xinyu.models import load_tokenizer

            tokenizer = load_tokenizer(recipe.model)
            tokenizer.chat_template = read_text(recipe.chat_template)
            tokenizer.save_pretrained(str(tmp))  # the adapter carries its custom chat template
    other = run_dir / ("model" if kind == "adapter" else "adapter")
    if other.exists():
        shutil.rmtree(other)
    write_json(run_dir / "model.json", {"path": kind, "base": base_reference(recipe.model)})
    return target


def run_recipe(recipe: Recipe, *, fresh: bool = False) -> Path:
    """Run every stage of ``recipe``; return the run directory (see the module docstring)."""
    import warnings

    from transformers.trainer_utils import get_last_checkpoint

    # PEFT looks for the base model's config.json to tell whether the vocabulary changed when a
    # checkpoint is saved; an alias ("gemma-3-270m") is not a path, and xinyu never resizes the
    # vocabulary, so its "could not find a config file" warnings only add noise.
    warnings.filterwarnings("ignore", message=r"(Could not find a config file|Unable to fetch remote file)")
    check_data(recipe)
    state = _distributed(recipe)
    main = state.is_main_process
    run_dir = recipe.run_dir
    if fresh and main:
        for name in RECORDS:
            path = run_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_config(recipe, run_dir / "config.yaml")
    state.wait_for_everyone()

    metrics = MetricsLog(run_dir / "metrics.jsonl")
    summaries: list[dict[str, Any]] = []
    init_from: Path | None = None
    previous = ""
    kind = "adapter"
    for index, stage in enumerate(recipe.stages):
        stage_dir = run_dir / "stages" / stage.name
        key = stage_key(recipe, stage, previous)
        marker = stage_dir / "stage.json"
        done = read_json(marker) if marker.is_file() else None
        if done and done.get("key") == key and (stage_dir / done["output"]).exists():
            log.info("stage %s already finished with this configuration; skipped (use --fresh to redo)", stage.name)
            summary = {**done["summary"], "skipped": True}
            output, kind = stage_dir / done["output"], done["kind"]
        else:
            if main:
                started = stage_dir / "key"
                if stage_dir.exists() and (not started.is_file() or started.read_text().strip() != key):
                    shutil.rmtree(stage_dir)  # outputs or checkpoints of a different configuration
                stage_dir.mkdir(parents=True, exist_ok=True)
                started.write_text(key)
                checkpoint = get_last_checkpoint(str(stage_dir / "checkpoints")) \
                    if (stage_dir / "checkpoints").is_dir() else None
                metrics.reset_stage(stage.name, after_step=int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else 0)
            state.wait_for_everyone()
            log.info("stage %d/%d: %s (%s)", index + 1, len(recipe.stages), stage.name, stage.type)
            ctx = StageContext(recipe=recipe, index=index, run_dir=run_dir, stage_dir=stage_dir, init_from=init_from,
                               resume=True, log_event=metrics.append, is_main_process=main)
            result = stage_type(stage.type).runner_function()(stage, ctx)
            output, kind, summary = result.output, result.kind, result.summary
            if main:
                write_json(marker, {"key": key, "output": output.name, "kind": kind, "summary": summary})
            state.wait_for_everyone()
        summaries.append(summary)
        init_from, previous = output, key

    if main:
        final = _finish(recipe, run_dir, init_from, kind)
        plot_losses(metrics.events(), [s.name for s in recipe.stages], run_dir / "plots" / "loss.png")
        write_summaries(run_dir, _summary(recipe, summaries, final))
        log.info("run written to %s", run_dir)
    state.wait_for_everyone()
    return run_dir


def _summary(recipe: Recipe, stages: list[dict[str, Any]], final: Path) -> dict[str, Any]:
    tokens = sum(s.get("tokens") or 0 for s in stages if not s.get("skipped"))
    runtime = sum(s.get("train_runtime_s") or 0 for s in stages if not s.get("skipped"))
    last = stages[-1]
    vals = [s["final_val_loss"] for s in stages if s.get("final_val_loss") is not None]
    cuda = [s["peak_cuda_mb"] for s in stages if s.get("peak_cuda_mb") is not None]
    import torch

    return {
        "name": recipe.name,
        "model": recipe.model,
        "method": recipe.method,
        "device": "cuda" if torch.cuda.is_available() and recipe.device != "cpu" else "cpu",
        "output": str(final.relative_to(recipe.run_dir)),
        "total": {
            "tokens": tokens,
            "tokens_per_s": tokens / runtime if runtime else None,
            "wall_s": sum(s.get("wall_s") or 0 for s in stages if not s.get("skipped")),
            "peak_rss_mb": max(s.get("peak_rss_mb") or 0 for s in stages),
            "peak_cuda_mb": max(cuda) if cuda else None,
            "trainable_params": last.get("trainable_params"),
            "total_params": last.get("total_params"),
            "final_train_loss": last.get("final_train_loss"),
            "final_val_loss": vals[-1] if vals else None,
        },
        "stages": stages,
        "recipe": recipe.model_dump(mode="json"),
    }


__all__ = ["check_data", "run_recipe", "stage_key"]
