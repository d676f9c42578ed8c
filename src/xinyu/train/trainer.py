"""TRL's ``SFTTrainer`` with a labelled-positions loss, plus the callbacks a stage needs.

Why a subclass at all: TRL 1.16 deprecates ``compute_loss_func`` (it costs an extra full-logits
forward pass) and documents overriding ``compute_loss`` instead. Its own fused LM head scores every
position on CPU (its compact path needs Triton) and computes entropy and top-1 accuracy from the
vocabulary distribution on every step. The override below projects only labelled positions
(:mod:`xinyu.train.loss`) and skips those diagnostics. Everything else -- dataset preparation,
packing, collation, schedules, checkpoints, resuming, DDP/DeepSpeed -- is TRL's and transformers'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from transformers import ProgressCallback, TrainerCallback
from trl import SFTTrainer

from xinyu.train.loss import attach_labelled_loss


class LabelledLossSFTTrainer(SFTTrainer):
    """``SFTTrainer`` whose loss is computed from the labelled positions only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accelerate.utils import is_peft_model

        attach_labelled_loss(self.model.get_base_model() if is_peft_model(self.model) else self.model)
        self.label_tokens_seen = 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Token-mean cross-entropy over labelled positions, normalised like TRL's own loss."""
        if return_outputs:
            raise ValueError("this trainer computes the loss only; set prediction_loss_only=True")
        out = model(**inputs, xinyu_labelled_loss=True)
        denom = out.num_labels if num_items_in_batch is None else num_items_in_batch
        loss = out.loss_sum / torch.as_tensor(denom, device=out.loss_sum.device).clamp(min=1)
        # As in TRL/Trainer: num_items_in_batch counts every rank's tokens and DDP averages gradients.
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        if self.model.training:
            if "attention_mask" in inputs:
                local = inputs["attention_mask"].sum()
            else:  # padding-free packing: one flattened row, every position is a token
                local = torch.tensor(inputs["input_ids"].numel(), device=inputs["input_ids"].device)
            counts = torch.stack([local.to(torch.long), out.num_labels.detach().to(local.device, torch.long)])
            counts = self.accelerator.gather_for_metrics(counts.unsqueeze(0)).sum(0)
            self._total_train_tokens += int(counts[0])
            self.label_tokens_seen += int(counts[1])
            self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
        return loss


class StageProgress(ProgressCallback):
    """The Trainer's progress bar, titled with the stage, showing the latest losses instead of printing them."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage
        self.postfix: dict[str, str] = {}

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        super().on_train_begin(args, state, control, **kwargs)
        if self.training_bar is not None:
            self.training_bar.set_description(self.stage)
            self.training_bar.update(state.global_step)  # resumed runs start part-way
            self.current_step = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        for key, short in (("loss", "loss"), ("eval_loss", "val"), ("learning_rate", "lr")):
            if key in logs:
                self.postfix[short] = f"{logs[key]:.3g}"
        self.training_bar.set_postfix(self.postfix, refresh=True)


class MetricsRecorder(TrainerCallback):
    """Sends every log/eval event to ``log_event`` as one flat JSON-ready dict (main process only)."""

    KEYS: ClassVar[dict[str, str]] = {"loss": "loss", "eval_loss": "eval_loss", "learning_rate": "lr", "grad_norm": "grad_norm",
            "num_tokens": "tokens"}

    def __init__(self, stage: str, log_event: Callable[[dict[str, Any]], None]) -> None:
        self.stage = stage
        self.log_event = log_event
        self.start = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        self.start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if not state.is_world_process_zero or not logs:
            return
        event: dict[str, Any] = {"stage": self.stage, "step": state.global_step,
                                 "epoch": round(float(state.epoch or 0.0), 4)}
        for key, name in self.KEYS.items():
            if key in logs:
                value = logs[key]
                event[name] = int(value) if name == "tokens" else float(value)
        if len(event) == 3:  # the end-of-training summary: totals are in train_summary.json
            return
        event["elapsed"] = round(time.perf_counter() - self.start, 2)
        self.log_event(event)
