"""Registry of stage types: each ``type:`` in a recipe maps to a config class and a runner.

A stage type is two import paths, so that validating a recipe never imports torch:

* ``config``: ``"module:Class"``, a :class:`xinyu.train.config.StageConfig` subclass with the
  stage's own fields (its ``type`` field a ``Literal`` of the type name);
* ``runner``: ``"module:function"``, called as ``runner(stage, ctx) -> StageResult``.

The pipeline gives each runner a :class:`StageContext` (where to write, which weights to start
from) and expects a :class:`StageResult` back (where the trained weights are, plus a summary). A
runner starts from ``ctx.init_from`` (the previous stage's adapter or model, or None for the base
model), trains, saves its output under ``ctx.stage_dir``, and appends log events through
``ctx.log_event``. Built-in types are declared below; a plugin can add one with
:func:`register_stage_type`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import ConfigError


@dataclass(frozen=True)
class StageType:
    """A stage type: its config class and runner, as ``module:attribute`` import paths."""

    kind: str
    config: str
    runner: str
    description: str = ""

    def _load(self, target: str) -> Any:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise ConfigError(
                    [f"stage type '{self.kind}' is not available in this version of xinyu ({module_name} is missing)"]
                ) from None
            raise
        try:
            return getattr(module, attr)
        except AttributeError:
            raise ConfigError([f"stage type '{self.kind}': {module_name} defines no '{attr}'"]) from None

    def config_class(self) -> Any:
        """The stage's pydantic config class."""
        return self._load(self.config)

    def runner_function(self) -> Callable[..., StageResult]:
        """The function that runs the stage."""
        return self._load(self.runner)


# Declared types. reward/dpo/grpo/rloo are filled in by their modules (xinyu.train.reward, .dpo, .rl);
# until those exist, a recipe that uses them gets a clear "not available" error.
_REGISTRY: dict[str, StageType] = {
    t.kind: t
    for t in (
        StageType("sft", "xinyu.train.config:SFTStage", "xinyu.train.sft:run_sft_stage", "supervised fine-tuning"),
        StageType("reward", "xinyu.train.reward:RewardStage", "xinyu.train.reward:run_reward_stage",
                  "reward model on preference pairs"),
        StageType("dpo", "xinyu.train.dpo:DPOStage", "xinyu.train.dpo:run_dpo_stage", "direct preference optimisation"),
        StageType("grpo", "xinyu.train.rl:GRPOStage", "xinyu.train.rl:run_grpo_stage", "online RL with GRPO"),
        StageType("rloo", "xinyu.train.rl:RLOOStage", "xinyu.train.rl:run_rloo_stage", "online RL with RLOO"),
    )
}


def register_stage_type(kind: str, config: str, runner: str, description: str = "") -> StageType:
    """Add (or replace) a stage type; ``config`` and ``runner`` are ``module:attribute`` paths."""
    entry = StageType(kind, config, runner, description)
    _REGISTRY[kind] = entry
    return entry


def stage_type(kind: str) -> StageType:
    """Look up a stage type; unknown names raise a :class:`ConfigError` listing the known ones."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ConfigError([f"unknown stage type '{kind}' (known: {', '.join(sorted(_REGISTRY))})"]) from None


def available_stage_types() -> list[str]:
    """Declared types whose config class imports (the ones a recipe can use now)."""
    out = []
    for kind, entry in _REGISTRY.items():
        try:
            entry.config_class()
        except ConfigError:
            continue
        out.append(kind)
    return out


@dataclass
class StageContext:
    """What the pipeline hands a stage runner.

    Attributes:
        recipe: The whole validated recipe (model, method, LoRA shape, seed, precision...).
        index: Position of the stage in the recipe.
        run_dir: ``runs/<name>``.
        stage_dir: ``runs/<name>/stages/<stage>``; the runner writes everything of its own here.
        init_from: The previous stage's output (adapter or model directory), or None: start from
            ``recipe.model``.
        resume: Resume from the last checkpoint in ``stage_dir/checkpoints`` if there is one.
        log_event: ``log_event(dict)`` appends one event (step, loss, lr...) to ``metrics.jsonl``.
        is_main_process: False on the other ranks of a distributed run (they write nothing).
    """

    recipe: Any
    index: int
    run_dir: Path
    stage_dir: Path
    init_from: Path | None = None
    resume: bool = True
    log_event: Callable[[dict[str, Any]], None] = lambda event: None
    is_main_process: bool = True


@dataclass
class StageResult:
    """What a stage runner returns.

    Attributes:
        output: Directory of the trained weights (a PEFT adapter or a full HF model).
        kind: ``"adapter"`` or ``"model"``.
        summary: JSON-ready numbers for ``train_summary.json`` (tokens, throughput, wall time,
            peak memory, parameter counts, final losses, hyperparameters).
    """

    output: Path
    kind: str
    summary: dict[str, Any] = field(default_factory=dict)


__all__ = [
    "StageContext",
    "StageResult",
    "StageType",
    "available_stage_types",
    "register_stage_type",
    "stage_type",
]
