"""`xinyu eval ...` commands (light imports only; heavy work is imported inside each command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True)

BACKENDS = ("auto", "llama", "transformers", "remote")

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Alias, run dir, HF/adapter dir, .gguf or http(s)://host/v1.")]
BackendOpt = Annotated[str, typer.Option(help="auto | llama | transformers | remote.")]
RemoteModelOpt = Annotated[str | None, typer.Option(help="Model name on a remote server (default: its first).")]


def _backend(model: str, backend: str, **opts: Any) -> Any:
    from xinyu.errors import XinyuError
    from xinyu.serve.backends import load_backend

    if backend not in BACKENDS:
        raise XinyuError(f"unknown backend '{backend}': expected one of {', '.join(BACKENDS)}")
    return load_backend(model, backend, **opts)


def _params(preset: str, **overrides: Any) -> Any:
    from xinyu.serve.backends import preset as get_preset

    return get_preset(preset).replace(**overrides)


@app.command("generate")
def generate(
    model: ModelOpt,
    data: Annotated[Path, typer.Option("--data", "-d", help="Dialogue JSONL test split.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Evaluation directory to write.")],
    backend: BackendOpt = "auto",
    name: Annotated[str | None, typer.Option(help="Label of this model in reports.")] = None,
    preset: Annotated[str, typer.Option(help="Generation preset: greedy, default, hearmeglm.")] = "greedy",
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per reply.")] = 256,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (0 = greedy).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate the first N samples.")] = None,
    max_turns: Annotated[int | None, typer.Option(help="Assistant turns per dialogue.")] = None,
    system_prompt: Annotated[str | None, typer.Option(help="Persona/system prompt for every turn.")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size (transformers backend).")] = 8,
    concurrency: Annotated[int | None, typer.Option(help="Parallel requests (remote backend).")] = None,
    remote_model: RemoteModelOpt = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable with the remote API key.")] = None,
) -> None:
    """Generate one reply per test turn (cached: a rerun generates only what is missing)."""
    from xinyu.eval.generate import run_generation

    engine = _backend(model, backend, remote_model=remote_model, api_key_env=api_key_env)
    params = _params(preset, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    path = run_generation(
        engine, data, out, params, model=model, name=name, system_prompt=system_prompt, max_turns=max_turns,
        limit=limit, batch_size=batch_size, concurrency=concurrency,
    )
    typer.echo(str(path / "generations.jsonl"))


@app.command("metrics")
def metrics(
    out: Annotated[Path, typer.Argument(help="Evaluation directory (with generations.jsonl).")],
    workers: Annotated[int | None, typer.Option(help="Processes (default: 2 for large sets, else 1).")] = None,
) -> None:
    """BLEU-4, ROUGE-1/2/L (LLaMA-Factory compatible), distinct-1/2, length and speed → metrics.json."""
    from xinyu.eval.metrics import compute_metrics

    for key, value in compute_metrics(out, workers=workers).items():
        typer.echo(f"{key:>14}  {value:.4f}" if isinstance(value, float) else f"{key:>14}  {value}")


@app.command("judge")
def judge(
    out: Annotated[Path, typer.Argument(help="Evaluation directory (with generations.jsonl).")],
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible endpoint including /v1.")],
    judge_model: Annotated[str, typer.Option(help="Judge model name, e.g. gpt-4o.")],
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
    lang: Annotated[str, typer.Option(help="Prompt language: zh or en.")] = "zh",
    limit: Annotated[int | None, typer.Option(help="Judge a seeded random subset of N replies (e.g. 150).")] = None,
    concurrency: Annotated[int, typer.Option(help="Parallel requests.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the subset and the bootstrap.")] = 0,
) -> None:
    """Score replies with an LLM judge on the CPsyCoun rubric → judge.jsonl, judge.json."""
    from xinyu.config import validate
    from xinyu.eval.judge import JudgeConfig, run_judge

    config = validate(
        JudgeConfig,
        {"base_url": base_url, "model": judge_model, "api_key_env": api_key_env, "lang": lang, "limit": limit,
         "concurrency": concurrency, "seed": seed},
        source="command line",
    )
    summary = run_judge(out, config)
    typer.echo(f"valid {summary['valid']}  invalid {summary['invalid']}  errors {summary['errors']}")
    for dim, d in summary["dimensions"].items():
        if d["mean"] is not None:
            typer.echo(f"{dim:>18}  {d['mean']:.3f}  [{d['ci_low']:.3f}, {d['ci_high']:.3f}]  (max {d['max']})")


@app.command("probe")
def probe(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for probes.json.")],
    backend: BackendOpt = "auto",
    persona_name: Annotated[str, typer.Option(help="Expected persona name.")] = "心语",
    author: Annotated[str, typer.Option(help="Expected maker.")] = "心语开源社区",
    system_prompt: Annotated[str | None, typer.Option(help="System prompt before each probe.")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per reply.")] = 128,
    remote_model: RemoteModelOpt = None,
) -> None:
    """Ask the persona probes; check name, maker, AI disclosure and clinician claims → probes.json."""
    from xinyu.eval.probes import Persona, run_probes

    engine = _backend(model, backend, remote_model=remote_model)
    report = run_probes(
        engine, out, persona=Persona(name=persona_name, author=author), system_prompt=system_prompt,
        params=_params("greedy", max_new_tokens=max_new_tokens),
    )
    for check, rate in report["rates"].items():
        shown = "–" if rate["rate"] is None else f"{rate['rate']:.0%}"
        typer.echo(f"{check:>20}  {shown:>5}  (n={rate['n']})")


@app.command("compare")
def compare(
    dirs: Annotated[list[Path], typer.Argument(help="Evaluation directories; the first is the baseline.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Report directory.")],
    names: Annotated[str | None, typer.Option(help="Comma-separated display names, e.g. base,sft.")] = None,
    samples: Annotated[int, typer.Option(help="Test turns shown side by side.")] = 5,
) -> None:
    """Write a Markdown + self-contained HTML comparison report with charts."""
    from xinyu.eval.compare import write_comparison

    labels = [n.strip() for n in names.split(",")] if names else None
    for path in write_comparison(list(dirs), labels, out, samples=samples):
        typer.echo(str(path))


@app.command("run")
def run(
    recipe: Annotated[Path, typer.Argument(help="Evaluation recipe YAML, e.g. configs/eval/demo.yaml.")],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="Dotted overrides, e.g. limit=50 params.max_new_tokens=64.")
    ] = None,
) -> None:
    """Evaluate every model of a recipe (generate, metrics, probes, judge) and compare them."""
    from xinyu.eval.recipe import load_recipe, run_recipe

    result = run_recipe(load_recipe(recipe, overrides or []))
    for name, res in result["models"].items():
        shown = {k: res["metrics"].get(k) for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l", "n")}
        typer.echo(f"{name}: {json.dumps(shown, ensure_ascii=False)}")
    for path in result["report"]:
        typer.echo(path)


# `xinyu eval align` (SFT vs. aligned policy) is defined with the alignment stages.
from xinyu.train.align_cli import register as _register_align  # noqa: E402

_register_align(app)
