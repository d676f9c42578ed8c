"""``xinyu eval run recipe.yaml``: evaluate several models on one test split and compare them.

For each model in the recipe: generate (cached), compute metrics, run the persona probes and the
LLM judge when configured; then write the comparison report. Every model's results land in
``<output_dir>/<name>/``, the report in ``<output_dir>/compare/`` and the resolved recipe in
``<output_dir>/recipe.yaml``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from xinyu.config import StrictModel, dump_config, load_config
from xinyu.eval.judge import JudgeConfig

log = logging.getLogger(__name__)


class ModelEntry(StrictModel):
    """One model to evaluate."""

    name: str = Field(..., description="Label in reports and the sub-directory of output_dir.")
    model: str = Field(..., description="Alias, run dir, HF dir, adapter dir, .gguf file or http(s)://host/v1.")
    backend: Literal["auto", "llama", "transformers", "remote"] = Field("auto", description="Backend kind.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Backend options (llama: n_ctx, n_threads; transformers: adapter, device, dtype; "
        "remote: remote_model, api_key_env, timeout, max_retries, max_concurrency).",
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value.strip() or "/" in value or value.startswith("."):
            raise ValueError("must be a non-empty name without '/' and not starting with '.'")
        return value


class ParamsConfig(StrictModel):
    """Generation parameters: a preset plus overrides."""

    preset: str = Field("greedy", description="default, hearmeglm or greedy (xinyu.serve.backends.PRESETS).")
    max_new_tokens: int | None = Field(256, ge=1, description="Tokens per reply.")
    temperature: float | None = Field(None, ge=0, description="0 = greedy.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling.")
    top_k: int | None = Field(None, ge=0, description="Top-k sampling (0 = off).")
    repetition_penalty: float | None = Field(None, gt=0, description="Repetition penalty (1 = off).")
    seed: int | None = Field(None, description="Sampling seed.")

    def build(self) -> Any:
        """The :class:`~xinyu.serve.backends.GenerationParams`."""
        from xinyu.serve.backends import preset

        return preset(self.preset).replace(**self.model_dump(exclude={"preset"}))


class ProbesConfig(StrictModel):
    """Persona probes."""

    enabled: bool = Field(True, description="Run the probes for every model.")
    name: str = Field("心语", description="Expected persona name.")
    name_en: str = Field("xinyu", description="Expected name in English replies.")
    author: str = Field("心语开源社区", description="Expected maker.")
    author_en: str = Field("xinyu contributors", description="Expected maker in English replies.")
    system_prompt: str | None = Field(None, description="System prompt for the probes (None: the model's own identity; 'persona': the default persona).")
    max_new_tokens: int = Field(128, ge=1, description="Tokens per probe reply.")
    file: str | None = Field(None, description="Another probe set (YAML).")


class ReportConfig(StrictModel):
    """Comparison report."""

    enabled: bool = Field(True, description="Write the comparison report.")
    samples: int = Field(5, ge=0, description="Test turns shown side by side.")


class EvalRecipe(StrictModel):
    """An evaluation recipe."""

    output_dir: str = Field(..., description="Where results go (one sub-directory per model).")
    data: str = Field(..., description="Dialogue JSONL test split.")
    models: list[ModelEntry] = Field(..., min_length=1, description="Models to evaluate; the first is the baseline.")
    params: ParamsConfig = Field(default_factory=ParamsConfig, description="Generation parameters.")
    system_prompt: str | None = Field(None, description="Persona/system prompt for every test turn ('persona': the default persona; recorded).")
    max_turns: int | None = Field(None, ge=1, description="Assistant turns per dialogue.")
    limit: int | None = Field(None, ge=1, description="Samples to evaluate (the first ones).")
    batch_size: int = Field(8, ge=1, description="Batch size for the transformers backend.")
    concurrency: int | None = Field(None, ge=1, description="Parallel requests for remote backends.")
    metric_workers: int | None = Field(None, ge=1, description="Processes for metrics (default: automatic).")
    probes: ProbesConfig = Field(default_factory=ProbesConfig, description="Persona probes.")
    judge: JudgeConfig | None = Field(None, description="LLM judge (omit to skip judging).")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Comparison report.")

    @field_validator("models")
    @classmethod
    def _unique_names(cls, value: list[ModelEntry]) -> list[ModelEntry]:
        names = [m.name for m in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique (repeated: {', '.join(dupes)})")
        return value


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> EvalRecipe:
    """Load and validate an evaluation recipe (YAML + dotted overrides)."""
    return load_config(EvalRecipe, path, overrides)


def evaluate_model(entry: ModelEntry, recipe: EvalRecipe, *, progress: bool = True) -> dict[str, Any]:
    """Generate, score, probe and judge one model; returns its metrics (and judge/probe summaries)."""
    from xinyu.eval.generate import run_generation
    from xinyu.eval.judge import run_judge
    from xinyu.eval.metrics import compute_metrics
    from xinyu.eval.probes import Persona, run_probes
    from xinyu.serve.backends import load_backend

    out = Path(recipe.output_dir) / entry.name
    params = recipe.params.build()
    backend = load_backend(entry.model, entry.backend, **entry.options)
    try:
        run_generation(
            backend, recipe.data, out, params, model=entry.model, name=entry.name, system_prompt=recipe.system_prompt,
            max_turns=recipe.max_turns, limit=recipe.limit, batch_size=recipe.batch_size,
            concurrency=recipe.concurrency, progress=progress,
        )
        result: dict[str, Any] = {"dir": str(out), "metrics": compute_metrics(out, workers=recipe.metric_workers,
                                                                              progress=progress)}
        if recipe.probes.enabled:
            p = recipe.probes
            persona = Persona(name=p.name, name_en=p.name_en, author=p.author, author_en=p.author_en)
            report = run_probes(
                backend, out, persona=persona, system_prompt=p.system_prompt,
                params=params.replace(max_new_tokens=p.max_new_tokens), probes_file=p.file,
                batch_size=recipe.batch_size, concurrency=recipe.concurrency, progress=progress,
            )
            result["probes"] = report["rates"]
    finally:
        close = getattr(backend, "close", None)
        if close:
            close()  # free the model before the next one loads
    if recipe.judge is not None:
        result["judge"] = run_judge(out, recipe.judge, progress=progress)
    return result


def run_recipe(recipe: EvalRecipe, *, progress: bool = True) -> dict[str, Any]:
    """Evaluate every model of a recipe and write the comparison report.

    Returns:
        ``{"models": {name: {...}}, "report": [paths]}``.
    """
    from xinyu.eval.compare import write_comparison

    root = Path(recipe.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    dump_config(recipe, root / "recipe.yaml")
    results = {}
    for entry in recipe.models:
        log.info("evaluating %s", entry.name)
        results[entry.name] = evaluate_model(entry, recipe, progress=progress)
    paths: list[Path] = []
    if recipe.report.enabled:
        paths = write_comparison(
            [root / m.name for m in recipe.models], [m.name for m in recipe.models], root / "compare",
            samples=recipe.report.samples,
        )
    return {"models": results, "report": [str(p) for p in paths]}
