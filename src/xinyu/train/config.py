"""Training recipes: one YAML file, several stages, dotted command-line overrides.

A recipe names the base model, the tuning method (LoRA, QLoRA or full fine-tuning) and a list of
stages run in order, each continuing the previous stage's weights (the same adapter, for LoRA).
``defaults`` holds hyperparameters shared by all stages; a stage's own values override them::

    name: demo
    model: gemma-3-270m
    method: lora
    lora: {r: 8, alpha: 16}
    defaults: {lr: 2e-4, batch_size: 4, grad_accum: 2}
    stages:
      - name: self_cognition
        data: {train: data/demo/persona.jsonl}
        epochs: 3
      - name: counseling
        data: {train: data/demo/train.jsonl, val: data/demo/val.jsonl}
        early_stopping_patience: 2

Each stage has a ``type`` (``sft`` by default) that selects its config class and runner from
:mod:`xinyu.train.stages`; reward/DPO/GRPO/RLOO stages plug in there. Validation collects every
problem of the whole recipe (unknown keys, bad values, per stage) and reports them at once with
their dotted keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator

from xinyu.config import StrictModel, apply_overrides, load_yaml
from xinyu.errors import ConfigError


class LoraArgs(StrictModel):
    """LoRA adapter shape (also used by QLoRA)."""

    r: int = Field(8, ge=1, description="Rank of the update matrices.")
    alpha: float = Field(16, gt=0, description="Scaling numerator: the update is scaled by alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter input.")
    target_modules: str | list[str] = Field(
        "auto",
        description="'auto' (the alias's known projections, else all linear layers), 'all-linear', or names.",
    )


class DataArgs(StrictModel):
    """Where a stage's dialogues come from (Dialogue JSONL files, e.g. from ``xinyu data build``)."""

    train: str | list[str] = Field(..., description="Training file(s); paths relative to the working directory.")
    val: str | list[str] | None = Field(None, description="Validation file(s) for eval loss and early stopping.")
    val_ratio: float = Field(
        0.0, ge=0, lt=1, description="Hold out this fraction of train as validation when no val file is given."
    )
    mix: dict[str, float] = Field(
        default_factory=dict,
        description="Resampling weight per meta.style tag: 2.0 doubles those dialogues, 0.5 keeps half.",
    )
    mix_default: float = Field(1.0, ge=0, description="Weight of dialogues whose style is not listed in mix.")
    limit: int | None = Field(None, ge=1, description="Keep at most this many training dialogues (after mixing).")
    val_limit: int | None = Field(None, ge=1, description="Keep at most this many validation dialogues.")
    system: str | None = Field(
        None,
        description="System prompt given to dialogues that have none ('persona': the default persona that "
        "xinyu chat/serve send). Train with the system prompt you will serve with.",
    )

    @field_validator("mix")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, w in value.items() if w < 0]
        if bad:
            raise ValueError(f"weights must be >= 0 (negative for {', '.join(bad)})")
        return value

    def train_files(self) -> list[str]:
        """Training files as a list."""
        return [self.train] if isinstance(self.train, str) else list(self.train)

    def val_files(self) -> list[str]:
        """Validation files as a list (maybe empty)."""
        if self.val is None:
            return []
        return [self.val] if isinstance(self.val, str) else list(self.val)


class StageConfig(StrictModel):
    """Hyperparameters every stage type shares. Defaults follow the HearMeGLM/MindGLM recipes.

    Stage types subclass this and add their own fields (see :class:`SFTStage`).
    """

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$", description="Stage name (a directory name).")
    type: str = Field("sft", description="Stage type: sft, reward, dpo, grpo, rloo.")
    data: DataArgs
    epochs: float = Field(3.0, gt=0, description="Passes over the training data.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: use epochs).")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate.")
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Fraction of steps spent warming up.")
    warmup_steps: int = Field(0, ge=0, description="Warm-up steps (overrides warmup_ratio when > 0).")
    optimizer: str = Field("adamw_torch", description="Any transformers `optim` name (AdamW by default).")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    batch_size: int = Field(4, ge=1, description="Dialogues per device per micro-batch.")
    grad_accum: int = Field(8, ge=1, description="Micro-batches per optimizer step.")
    eval_batch_size: int | None = Field(None, ge=1, description="Defaults to batch_size.")
    max_length: int = Field(1024, ge=16, description="Tokens per dialogue; longer ones lose trailing exchanges.")
    logging_steps: int = Field(10, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every N steps (default: once per epoch).")
    save_steps: int | None = Field(None, ge=1, description="Checkpoint every N steps (default: with evaluation).")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="Stop after this many evaluations without val-loss improvement (needs val data)."
    )
    early_stopping_threshold: float = Field(0.0, ge=0, description="Minimum val-loss improvement that counts.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory.")
    seed: int | None = Field(None, description="Overrides the recipe seed for this stage.")

    @model_validator(mode="after")
    def _check(self) -> StageConfig:
        if self.early_stopping_patience and not (self.data.val or self.data.val_ratio > 0):
            raise ValueError("early_stopping_patience needs validation data (data.val or data.val_ratio)")
        return self


class SFTStage(StageConfig):
    """Supervised fine-tuning on dialogues: loss on assistant turns."""

    type: Literal["sft"] = "sft"
    packing: bool = Field(False, description="Pack several dialogues per row (attention kept per dialogue).")
    group_by_length: bool = Field(True, description="Batch dialogues of similar length to cut padding.")
    train_on_prompt: bool = Field(False, description="Also put loss on system/user tokens.")


class Recipe(StrictModel):
    """A whole training recipe (see the module docstring)."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$", description="Run name: output goes to <output_dir>/<name>.")
    model: str = Field("gemma-3-270m", description="Base model: alias, HF directory or cached hub id.")
    method: Literal["lora", "qlora", "full"] = Field("lora", description="Tuning method.")
    lora: LoraArgs = Field(default_factory=LoraArgs)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on CUDA (fp16 where bf16 is missing), fp32 on CPU."
    )
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1...")
    seed: int = 42
    output_dir: str = Field("runs", description="Parent directory of run directories.")
    chat_template: str | None = Field(None, description="A .jinja file to use instead of the tokenizer's template.")
    keep_checkpoints: bool = Field(False, description="Keep intermediate checkpoints after a stage finishes.")
    defaults: dict[str, Any] = Field(default_factory=dict, description="Stage values shared by all stages.")
    stages: list[SerializeAsAny[StageConfig]] = Field(..., min_length=1)

    @property
    def run_dir(self) -> Path:
        """``<output_dir>/<name>``."""
        return Path(self.output_dir) / self.name


def _problems(exc: ValidationError, prefix: str = "") -> list[str]:
    """Like :func:`xinyu.config.format_validation_error`, under ``prefix``; whole-section rules omit the input."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        if err["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key")
        elif err["type"] == "missing":
            problems.append(f"{key}: required key is missing")
        elif err["type"] == "value_error" and not err["loc"]:
            problems.append(f"{key or '<root>'}: {err['msg'].removeprefix('Value error, ')}")
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return problems


def validate_recipe(data: dict[str, Any], source: str | Path | None = None) -> Recipe:
    """Validate a recipe mapping; raise one :class:`ConfigError` listing every problem.

    Each stage is validated against the config class of its ``type``, with ``defaults`` merged
    under the stage's own keys (a default applies only to stage types that have that field).
    """
    from xinyu.train.stages import available_stage_types, stage_type

    problems: list[str] = []
    data = dict(data)
    raw_stages = data.get("stages")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("defaults: expected a mapping of stage keys")
        defaults = {}
    known_default_keys: set[str] = set()
    for kind in available_stage_types():
        known_default_keys |= set(stage_type(kind).config_class().model_fields)
    for key in defaults:
        if key in ("name", "type"):
            problems.append(f"defaults.{key}: set per stage, not in defaults")
        elif key not in known_default_keys:
            problems.append(f"defaults.{key}: unknown key")

    stages: list[StageConfig] = []
    if not isinstance(raw_stages, list) or not raw_stages:
        problems.append("stages: required: a non-empty list of stages")
    else:
        names = [s.get("name") for s in raw_stages if isinstance(s, dict)]
        dupes = sorted({str(n) for n in names if n is not None and names.count(n) > 1})
        if dupes:
            problems.append(f"stages: stage names must be unique (repeated: {', '.join(dupes)})")
        for i, raw in enumerate(raw_stages):
            if not isinstance(raw, dict):
                problems.append(f"stages.{i}: expected a mapping")
                continue
            kind = raw.get("type", defaults.get("type", "sft"))
            try:
                cls = stage_type(str(kind)).config_class()
            except ConfigError as exc:
                problems.extend(f"stages.{i}.type: {p}" for p in exc.problems)
                continue
            merged = {k: v for k, v in defaults.items() if k in cls.model_fields and k not in ("name", "type")}
            if isinstance(merged.get("data"), dict) and isinstance(raw.get("data"), dict):
                raw = {**raw, "data": {**merged["data"], **raw["data"]}}
            merged.update(raw)
            try:
                stages.append(cls.model_validate(merged))
            except ValidationError as exc:
                problems.extend(_problems(exc, f"stages.{i}"))
    top = {k: v for k, v in data.items() if k != "stages"}
    try:
        recipe = Recipe.model_validate({**top, "stages": stages or [_placeholder()]})
    except ValidationError as exc:
        problems.extend(_problems(exc))
        recipe = None
    if problems:
        raise ConfigError(problems, source=source)
    assert recipe is not None
    return recipe


def _placeholder() -> StageConfig:
    # Lets the top level validate (and report its own problems) when every stage failed.
    return StageConfig.model_construct(name="_", data=DataArgs.model_construct(train="_"))


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Load a recipe YAML file, apply ``key.path=value`` overrides, validate."""
    data = apply_overrides(load_yaml(path), list(overrides))
    return validate_recipe(data, source=path)


def resolved_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe with defaults merged into every stage, as saved in the run directory."""
    return recipe.model_dump(mode="json")


__all__ = [
    "DataArgs",
    "LoraArgs",
    "Recipe",
    "SFTStage",
    "StageConfig",
    "load_recipe",
    "resolved_dict",
    "validate_recipe",
]
