"""`xinyu data ...` commands (light imports only; heavy work is imported inside each command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i else "left")
    for row in rows:
        # Text cells: corpus descriptions contain [brackets] that rich would read as markup.
        table.add_row(*[Text(f"{v:,}" if isinstance(v, int) else str(v)) for v in row])
    return table


def _print_read_report(report: Any) -> None:
    console = _console()
    rows = [
        ["format", report.format],
        ["files", report.files],
        ["records", report.records],
        ["dialogues", report.dialogues],
        ["bad records skipped", report.bad],
    ]
    rows += [[f"note: {k}", v] for k, v in sorted(report.notes.items())]
    console.print(_table("import", ["", "count"], rows))
    for example in report.bad_examples:
        console.print(f"[yellow]skipped:[/yellow] {example}")
    if report.bad > len(report.bad_examples):
        console.print(f"[yellow]… and {report.bad - len(report.bad_examples)} more bad records[/yellow]")


def _print_clean_report(report: Any) -> None:
    d = report.to_dict()
    console = _console()
    console.print(
        _table(
            f"cleaning: {d['seen']:,} in, {d['kept']:,} kept, {d['dropped_total']:,} dropped",
            ["dropped because", "dialogues"],
            [[k, v] for k, v in d["dropped"].items()],
        )
    )
    console.print(_table("rules applied", ["rule", "count"], [[k, v] for k, v in d["rules"].items()]))
    if d["pii"]:
        console.print(_table("PII redacted", ["kind", "count"], [[k, v] for k, v in d["pii"].items()]))


def _bar(iterable: Any, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit=" dlg", leave=False, mininterval=0.5, disable=None)


@app.command("formats")
def formats_cmd() -> None:
    """List the importable formats (in auto-detection order)."""
    from xinyu.data.formats import FORMATS

    _console().print(
        _table("formats", ["name", "what it reads"], [[f.name, f.description] for f in FORMATS.values()])
    )


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="Corpus file or directory.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Dialogue JSONL to write.")],
    format: Annotated[
        str | None, typer.Option("--format", "-f", help="Format name (default: detect).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset name in a LLaMA-Factory dataset_info.json.")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name for ids (default: the format name).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Count and skip bad records instead of failing.")
    ] = False,
) -> None:
    """Convert a corpus into Dialogue JSONL (no cleaning)."""
    from xinyu.data.formats import ReadReport, read
    from xinyu.data.schema import write_dialogues

    report = ReadReport()
    stream = read(path, format, skip_bad=skip_bad, report=report, source=source, dataset=dataset)
    n = write_dialogues(output, _bar(stream, "import"))
    _print_read_report(report)
    typer.echo(f"wrote {n:,} dialogues to {output}")


@app.command("clean")
def clean_cmd(
    input: Annotated[Path, typer.Argument(help="Dialogues (Dialogue JSONL, or any importable format).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Cleaned Dialogue JSONL to write.")],
    format: Annotated[
        str | None, typer.Option("--format", "-f", help="Input format (default: detect).")
    ] = None,
    drop_system: Annotated[
        bool, typer.Option("--drop-system/--keep-system", help="Remove system prompts.")
    ] = False,
    normalize_whitespace: Annotated[bool, typer.Option(help="Normalise line breaks and spaces.")] = True,
    normalize_punctuation: Annotated[
        bool, typer.Option(help="Full-width punctuation in Chinese context.")
    ] = True,
    strip_role_prefixes: Annotated[bool, typer.Option(help="Remove '求助者：'-style prefixes.")] = True,
    redact_pii: Annotated[bool, typer.Option(help="Replace personal data with placeholders.")] = True,
    drop_empty_turns: Annotated[bool, typer.Option(help="Remove empty turns.")] = True,
    merge_same_role: Annotated[bool, typer.Option(help="Merge adjacent same-role turns.")] = True,
    drop_leading_assistant: Annotated[
        bool, typer.Option(help="Remove assistant turns before the first user turn.")
    ] = True,
    drop_trailing_user: Annotated[bool, typer.Option(help="Remove a final unanswered user turn.")] = True,
    exact_dedup: Annotated[bool, typer.Option(help="Drop exact duplicates.")] = True,
    near_dedup: Annotated[bool, typer.Option(help="Detect near-duplicates (MinHash LSH).")] = True,
    near_dup_threshold: Annotated[float, typer.Option(help="Jaccard threshold for near-duplicates.")] = 0.85,
    near_dup_action: Annotated[str, typer.Option(help="drop | group (keep, same split).")] = "drop",
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Count and skip bad input records.")] = False,
) -> None:
    """Clean dialogues: every rule is on by default and can be switched off with --no-<rule>."""
    from xinyu.config import validate
    from xinyu.data.clean import CleanConfig, Cleaner
    from xinyu.data.formats import ReadReport, read
    from xinyu.data.schema import write_dialogues

    config = validate(
        CleanConfig,
        {
            "drop_system": drop_system,
            "normalize_whitespace": normalize_whitespace,
            "normalize_punctuation": normalize_punctuation,
            "strip_role_prefixes": strip_role_prefixes,
            "redact_pii": redact_pii,
            "drop_empty_turns": drop_empty_turns,
            "merge_same_role": merge_same_role,
            "drop_leading_assistant": drop_leading_assistant,
            "drop_trailing_user": drop_trailing_user,
            "exact_dedup": exact_dedup,
            "near_dedup": near_dedup,
            "near_dup_threshold": near_dup_threshold,
            "near_dup_action": near_dup_action,
        },
        source="command line",
    )
    cleaner = Cleaner(config)
    read_report = ReadReport()
    stream = read(input, format, skip_bad=skip_bad, report=read_report)
    n = write_dialogues(output, cleaner.run(_bar(stream, "clean")))
    if read_report.bad:
        _print_read_report(read_report)
    _print_clean_report(cleaner.report)
    typer.echo(f"wrote {n:,} dialogues to {output}")


@app.command("split")
def split_cmd(
    input: Annotated[Path, typer.Argument(help="Cleaned Dialogue JSONL.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for train/val/test.jsonl.")],
    ratios: Annotated[
        str, typer.Option(help="train,val,test shares, e.g. 0.8,0.1,0.1 or 80/20.")
    ] = "0.7,0.15,0.15",
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 42,
    stratify: Annotated[str, typer.Option(help="none | topic | source.")] = "none",
) -> None:
    """Split dialogues into train/val/test by dialogue (seeded, group-aware)."""
    from xinyu.config import validate
    from xinyu.data.split import SplitConfig, parse_ratios, split_file

    config = validate(
        SplitConfig,
        {"ratios": list(parse_ratios(ratios)), "seed": seed, "stratify": stratify},
        source="command line",
    )
    result = split_file(input, output, config)
    _console().print(
        _table(
            f"split (seed {seed}, {result['groups']:,} groups)",
            ["split", "dialogues"],
            [[k, v] for k, v in result["counts"].items()],
        )
    )


@app.command("stats")
def stats_cmd(
    path: Annotated[
        Path, typer.Argument(help="A dataset directory (train/val/test.jsonl) or one Dialogue JSONL.")
    ],
    tokenizer: Annotated[
        str, typer.Option(help="Model whose tokenizer counts tokens, or 'none'.")
    ] = "gemma-3-270m",
    plots: Annotated[
        Path | None, typer.Option(help="Also write histograms (PNG) into this directory.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the statistics as JSON.")
    ] = None,
) -> None:
    """Counts, turn and length distributions (and token lengths) of a dataset or file."""
    from xinyu.data.stats import StatsConfig, load_stats_tokenizer, stats_of_file
    from xinyu.errors import DataError
    from xinyu.io import write_json

    name = StatsConfig(tokenizer=tokenizer).tokenizer_name()
    tok = load_stats_tokenizer(name)
    if path.is_dir():
        order = {"train": 0, "val": 1, "test": 2, "persona": 3}
        files = {
            p.stem: p for p in sorted(path.glob("*.jsonl"), key=lambda p: (order.get(p.stem, 9), p.name))
        }
        if not files:
            raise DataError("no *.jsonl files in the directory", path=path)
    elif path.is_file():
        files = {path.stem: path}
    else:
        raise DataError("no such file or directory", path=path)
    results = {split: stats_of_file(file, tok) for split, file in files.items()}
    summaries = {split: s.summary() for split, s in results.items()}
    console = _console()
    keys = [
        ("turns_per_dialogue", "turns/dialogue"),
        ("chars_per_dialogue", "chars/dialogue"),
        ("chars_per_user_turn", "chars/user turn"),
        ("chars_per_assistant_turn", "chars/assistant turn"),
    ]
    if name:
        keys += [
            ("tokens_per_dialogue", "tokens/dialogue"),
            ("tokens_per_assistant_turn", "tokens/assistant turn"),
        ]
    rows = []
    for split, s in summaries.items():
        for key, label in keys:
            d = s[key]
            rows.append([f"{split}: {label}", d["count"], d["mean"], d["p50"], d["p90"], d["p99"], d["max"]])
    console.print(_table("lengths", ["", "n", "mean", "p50", "p90", "p99", "max"], rows))
    topics = sorted({t for s in summaries.values() for t in s["by_topic"]})
    console.print(
        _table(
            "dialogues per topic",
            ["topic", *summaries],
            [[t, *[s["by_topic"].get(t, 0) for s in summaries.values()]] for t in topics],
        )
    )
    sources = sorted({t for s in summaries.values() for t in s["by_source"]})
    console.print(
        _table(
            "dialogues per source",
            ["source", *summaries],
            [[t, *[s["by_source"].get(t, 0) for s in summaries.values()]] for t in sources],
        )
    )
    if plots is not None:
        from xinyu.data.plots import write_plots

        for p in write_plots(plots, results):
            typer.echo(f"wrote {p}")
    if json_out is not None:
        write_json(json_out, {"tokenizer": name, "files": summaries})
        typer.echo(f"wrote {json_out}")


@app.command("persona")
def persona_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="Dialogue JSONL to write.")],
    name: Annotated[str, typer.Option(help="The assistant's name.")] = "心语",
    author: Annotated[str, typer.Option(help="Who made it (Chinese answers).")] = "心语开源社区",
    name_en: Annotated[str, typer.Option(help="The name in English answers.")] = "xinyu",
    author_en: Annotated[str, typer.Option(help="Who made it (English answers).")] = "xinyu contributors",
    n: Annotated[int | None, typer.Option(help="How many dialogues (default: all combinations).")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    english: Annotated[bool, typer.Option(help="Include English questions.")] = True,
) -> None:
    """Generate persona (self-cognition) dialogues: honest answers about who the assistant is."""
    from collections import Counter

    from xinyu.data.persona import PersonaConfig, generate_persona
    from xinyu.data.schema import write_dialogues

    dialogues = generate_persona(
        PersonaConfig(
            name=name, author=author, name_en=name_en, author_en=author_en, n=n, seed=seed, english=english
        )
    )
    count = write_dialogues(output, dialogues)
    by_cat = Counter(d.meta["persona_category"] for d in dialogues)
    _console().print(_table("persona dialogues", ["category", "dialogues"], sorted(by_cat.items())))
    typer.echo(f"wrote {count:,} dialogues to {output}")


@app.command("build")
def build_cmd(
    recipe: Annotated[Path, typer.Argument(help="Data recipe YAML (see configs/data/).")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key.path=value overrides.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Dataset directory (default: <out_dir>/<name>).")
    ] = None,
) -> None:
    """Build a dataset directory from a recipe: import, clean, split, stats, contamination, report."""
    import json

    from xinyu.data.build import build_dataset

    target = build_dataset(recipe, list(overrides or []), out_dir=out, progress=True)
    stats = json.loads((target / "stats.json").read_text(encoding="utf-8"))
    contamination = json.loads((target / "contamination.json").read_text(encoding="utf-8"))
    console = _console()
    console.print(
        _table(
            "sources",
            ["source", "imported", "dropped (cleaning)", "kept"],
            [[k, v["imported"], v["dropped_by_cleaning"], v["kept"]] for k, v in stats["sources"].items()],
        )
    )
    cleaning = stats["cleaning"]
    console.print(
        _table(
            f"dropped by cleaning ({cleaning['dropped_total']:,})",
            ["reason", "dialogues"],
            [[k, v] for k, v in cleaning["dropped"].items() if v] or [["(none)", 0]],
        )
    )
    console.print(
        _table("splits", ["split", "dialogues"], [[k, v] for k, v in stats["split"]["counts"].items()])
    )
    checks = [
        ("test vs train", contamination["test_vs_train"]),
        ("val vs train", contamination["val_vs_train"]),
    ]
    checks += [(f"external {c['name']}", c) for c in contamination["external"]]
    console.print(
        _table(
            "contamination",
            ["check", "sharing an n-gram", "likely leaks"],
            [[k, c["flagged_count"], c["likely_leak_count"]] for k, c in checks],
        )
    )
    typer.echo(f"dataset written to {target} (report: {target / 'report.md'})")


# Preference pairs (reward model / DPO data) live in their own command group.
from xinyu.data.pairs_cli import app as pairs_app  # noqa: E402

app.add_typer(pairs_app, name="pairs")
