"""`xinyu data pairs ...`: build, import and check preference pairs (light imports only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="Preference pairs for the reward model and DPO.")
build_app = typer.Typer(no_args_is_help=True, help="Make pairs from a corpus, the safety layer, feedback or a model.")
app.add_typer(build_app, name="build")


def _done(pairs: list[Any], output: Path, report: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from xinyu.data.preference import pair_stats, write_pairs

    count = write_pairs(output, pairs)
    stats = pair_stats(pairs)
    table = Table(title=f"{count:,} pairs → {output}", title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    for group in ("by_builder", "by_strategy"):
        for key, value in stats[group].items():
            table.add_row(f"{group[3:]}: {key}", f"{value:,}")
    for key, value in stats["mean_chars"].items():
        table.add_row(f"mean chars: {key}", str(value))
    if report is not None:
        for reason, n in report.to_dict()["skipped"].items():
            table.add_row(f"skipped: {reason}", f"{n:,}")
    Console().print(table)


def _read_dialogue_files(paths: list[Path]) -> list[Any]:
    from xinyu.data.schema import read_dialogues

    dialogues = []
    for path in paths:
        dialogues.extend(read_dialogues(path))
    return dialogues


@build_app.command("degraded")
def build_degraded(
    inputs: Annotated[list[Path], typer.Argument(help="Dialogue JSONL file(s); gold replies are their assistant turns.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Pair JSONL to write.")],
    per_turn: Annotated[int, typer.Option(help="Pairs per assistant turn (distinct strategies).")] = 1,
    strategies: Annotated[
        str | None, typer.Option(help="Comma-separated strategies (default: all; see docs/alignment.md).")
    ] = None,
    max_history: Annotated[int, typer.Option(help="Messages of history kept before the user turn (-1: all).")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the strategy and template choice.")] = 0,
) -> None:
    """Gold counselor reply (chosen) vs. a degraded reply (rejected): the demo's learnable signal."""
    from xinyu.data.preference import degraded_pairs

    pairs = degraded_pairs(
        _read_dialogue_files(inputs),
        per_turn=per_turn,
        strategies=[s.strip() for s in strategies.split(",")] if strategies else None,
        max_history=None if max_history < 0 else max_history,
        seed=seed,
    )
    _done(pairs, output)


@build_app.command("safety")
def build_safety(
    output: Annotated[Path, typer.Option("-o", "--output", help="Pair JSONL to write.")],
    prompts: Annotated[
        list[Path] | None,
        typer.Option("--prompts", help="Dialogue/prompt JSONL whose user turns add crisis prompts."),
    ] = None,
    per_prompt: Annotated[int, typer.Option(help="Unsafe variants per prompt.")] = 2,
    builtin: Annotated[bool, typer.Option(help="Include the project's own crisis and red-team prompts.")] = True,
    max_history: Annotated[int, typer.Option(help="History kept with prompts from --prompts (-1: all).")] = 2,
    locale: Annotated[str, typer.Option(help="Locale of the policy templates.")] = "zh-CN",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Compliant reply (policy template / honest disclosure) vs. unsafe-by-neglect replies."""
    from xinyu.data.pair_sources import BuildReport, safety_pairs
    from xinyu.train.align_eval import load_prompts

    extra = [p for path in prompts or [] for p in load_prompts(path, max_history=None if max_history < 0 else max_history)]
    report = BuildReport()
    pairs = safety_pairs(extra, per_prompt=per_prompt, locale=locale, seed=seed, include_builtin=builtin, report=report)
    _done(pairs, output, report)


@build_app.command("feedback")
def build_feedback(
    output: Annotated[Path, typer.Option("-o", "--output", help="Pair JSONL to write.")],
    store: Annotated[str | None, typer.Option(help="Store URL (default: the server's store in XINYU_HOME).")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt to put first in each prompt.")] = None,
) -> None:
    """Pairs from 👍/👎 feedback and regenerations collected by `xinyu serve` / the web page."""
    from xinyu.data.preference import pairs_from_feedback

    _done(pairs_from_feedback(store, system=system), output)


def _judge_config(path: Path | None) -> Any:
    if path is None:
        return None
    from xinyu.config import load_yaml, validate
    from xinyu.eval.judge import JudgeConfig

    data = load_yaml(path)
    return validate(JudgeConfig, data.get("judge", data), source=path)


@build_app.command("sampled")
def build_sampled(
    prompts: Annotated[Path, typer.Argument(help="Dialogues, pairs or prompts JSONL giving the prompts.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Pair JSONL to write.")],
    model: Annotated[str, typer.Option(help="Policy to sample from: run, GGUF, HF dir or http(s):// server.")],
    k: Annotated[int, typer.Option(help="Replies sampled per prompt.")] = 4,
    rank_by: Annotated[str, typer.Option(help="reward | judge | both")] = "reward",
    reward_model: Annotated[Path | None, typer.Option(help="Reward stage directory or a run holding one.")] = None,
    judge: Annotated[Path | None, typer.Option(help="YAML with a judge section (see configs/eval/).")] = None,
    margin: Annotated[float, typer.Option(help="Minimum best-worst score difference.")] = 0.5,
    limit: Annotated[int | None, typer.Option(help="Seeded subset of this many prompts.")] = None,
    max_history: Annotated[int, typer.Option(help="History kept with each user turn (-1: all).")] = 4,
    max_new_tokens: Annotated[int, typer.Option()] = 256,
    temperature: Annotated[float, typer.Option()] = 0.9,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Sample k replies per prompt and pair the best with the worst (reward model and/or judge)."""
    from xinyu.data.pair_sources import BuildReport, sampled_pairs
    from xinyu.train.align_eval import load_prompts

    chosen = load_prompts(prompts, max_history=None if max_history < 0 else max_history, limit=limit, seed=seed)
    report = BuildReport()
    pairs = sampled_pairs(
        chosen, model, k=k, rank_by=rank_by, reward_model=str(reward_model) if reward_model else None,
        judge_config=_judge_config(judge), margin=margin, max_new_tokens=max_new_tokens, temperature=temperature,
        seed=seed, report=report,
    )
    _done(pairs, output, report)


@app.command("import")
def import_pairs(
    path: Annotated[Path, typer.Argument(help="Preference data file/directory, or a dataset_info.json.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Pair JSONL to write.")],
    format: Annotated[str | None, typer.Option("--format", "-f", help="xinyu | trl | llamafactory (default: detect).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset name in a LLaMA-Factory dataset_info.json.")] = None,
    source: Annotated[str | None, typer.Option(help="Source name for ids.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Count and skip bad records instead of failing.")] = False,
) -> None:
    """Convert TRL/UltraFeedback or LLaMA-Factory ranking data into xinyu pairs."""
    from xinyu.data.formats import ReadReport
    from xinyu.data.formats.preference import read_pairs_any

    report = ReadReport()
    pairs = list(read_pairs_any(path, format, dataset=dataset, source=source, skip_bad=skip_bad, report=report))
    for example in report.bad_examples:
        typer.secho(f"skipped: {example}", fg=typer.colors.YELLOW)
    if report.bad > len(report.bad_examples):
        typer.secho(f"… and {report.bad - len(report.bad_examples)} more bad records", fg=typer.colors.YELLOW)
    _done(pairs, output)


@app.command("check")
def check_pairs(path: Annotated[Path, typer.Argument(help="Pair JSONL file.")]) -> None:
    """Validate a pair file (every problem names its line and field) and print counts."""
    import json

    from xinyu.data.preference import pair_stats, read_pairs

    typer.echo(json.dumps(pair_stats(read_pairs(path)), ensure_ascii=False, indent=2))
