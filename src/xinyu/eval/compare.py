"""Before/after comparison of evaluation directories: Markdown + self-contained HTML + PNG charts.

``write_comparison([base_dir, sft_dir], ["base", "sft"], out)`` reads each directory's
``info.json``, ``metrics.json`` (computed when missing), ``judge.json`` and ``probes.json`` when
present, and writes ``out/report.md``, ``out/report.html`` and the charts. Changes are relative to
the first directory ("+48.0%", as HearMeGLM reports BLEU-4). Runs that were not evaluated on the
same data, parameters or prompt are flagged as not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import DataError, XinyuError
from xinyu.eval.render import Figure, Heading, Paragraph, SampleBlock, Table, to_html, to_markdown
from xinyu.io import iter_jsonl, read_json, write_text

REFERENCE_METRICS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")
TABLE_METRICS = (
    *REFERENCE_METRICS, "distinct-1", "distinct-2", "mean_len", "n", "runtime_s", "samples_per_s", "tokens_per_s",
)
JUDGE_DIMS = ("comprehensiveness", "professionalism", "authenticity", "safety", "total")
PROBE_CHECKS = ("persona_name", "no_false_maker", "ai_disclosed", "no_clinician_claim", "no_human_claim", "all")


@dataclass
class EvalRun:
    """One evaluation directory, loaded."""

    name: str
    path: Path
    info: dict[str, Any]
    metrics: dict[str, Any]
    judge: dict[str, Any] | None = None
    probes: dict[str, Any] | None = None
    generations: list[dict[str, Any]] = field(default_factory=list)


def load_run(path: str | Path, name: str | None = None) -> EvalRun:
    """Load an evaluation directory (computing ``metrics.json`` if it is missing)."""
    path = Path(path)
    if not (path / "generations.jsonl").is_file():
        raise DataError("not an evaluation directory (no generations.jsonl)", path=path)
    info = read_json(path / "info.json") if (path / "info.json").is_file() else {}
    if (path / "metrics.json").is_file():
        metrics = read_json(path / "metrics.json")
    else:
        from xinyu.eval.metrics import compute_metrics

        metrics = compute_metrics(path, progress=False)
    return EvalRun(
        name=name or info.get("name") or path.name,
        path=path,
        info=info,
        metrics=metrics,
        judge=read_json(path / "judge.json") if (path / "judge.json").is_file() else None,
        probes=read_json(path / "probes.json") if (path / "probes.json").is_file() else None,
        generations=[row for _, row in iter_jsonl(path / "generations.jsonl")],
    )


def relative_change(value: float | None, base: float | None) -> str:
    """``"+48.0%"`` for value vs base; ``"n/a"`` when either is missing or base is 0."""
    if value is None or base is None or base == 0:
        return "n/a"
    return f"{(value - base) / abs(base) * 100:+.1f}%"


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in ("n",):
        return str(int(value))
    if key in ("mean_len", "tokens_per_s"):
        return f"{value:.1f}"
    if key in ("runtime_s",):
        return f"{value:.2f}"
    return f"{value:.4f}"


def _delta_header(runs: list[EvalRun]) -> list[str]:
    return [f"{r.name} vs {runs[0].name}" for r in runs[1:]]


def _comparability(runs: list[EvalRun]) -> list[str]:
    notes = []
    for key, label in (
        (("data", "sha256"), "test data"),
        (("params",), "generation parameters"),
        (("system_prompt",), "system prompt"),
        (("max_turns",), "max turns"),
        (("limit",), "sample limit"),
    ):
        values = []
        for r in runs:
            node: Any = r.info
            for part in key:
                node = node.get(part) if isinstance(node, dict) else None
            values.append(repr(node))
        if len(set(values)) > 1:
            notes.append(f"Not comparable: the runs differ in {label}.")
    kinds = {str((r.info.get("backend") or {}).get("kind")) for r in runs}
    if len(kinds) > 1:
        notes.append(f"Note: the runs used different backends ({', '.join(sorted(kinds))}); speed and, slightly, "
                     "outputs depend on the backend (e.g. a quantised GGUF).")
    counts = {r.metrics.get("n") for r in runs}
    if len(counts) > 1:
        notes.append(f"Not comparable: the runs scored different numbers of samples ({sorted(counts)}).")
    return notes


def contamination_status(run: EvalRun) -> str:
    """One line on whether the test data was checked against the training data."""
    data = run.info.get("data") or {}
    candidates = [data.get("contamination")]
    if data.get("path"):
        candidates.append(str(Path(data["path"]).parent / "contamination.json"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return _describe_contamination(read_json(candidate), candidate)
    return "not checked"


def _describe_contamination(report: dict[str, Any], path: str) -> str:
    parts = report.values() if "flagged_count" not in report else [report]
    lines = []
    for part in parts:
        if not isinstance(part, dict) or "flagged_count" not in part:
            continue
        lines.append(
            f"{part.get('name', 'test')}: {part['flagged_count']} of {part.get('targets_checked', '?')} dialogues share a "
            f"{part.get('ngram_chars', '?')}-character assistant n-gram with the training data"
        )
    return "; ".join(lines) + f" ({path})" if lines else f"checked, unrecognised format ({path})"


def _metric_section(runs: list[EvalRun], out: Path) -> list[Any]:
    from xinyu.eval.plots import grouped_bars

    rows = []
    for key in TABLE_METRICS:
        base = runs[0].metrics.get(key)
        row = [key, *[_fmt(key, r.metrics.get(key)) for r in runs]]
        row += [relative_change(r.metrics.get(key), base) for r in runs[1:]]
        rows.append(row)
    blocks: list[Any] = [
        Heading("Reference-based metrics"),
        Paragraph(
            "BLEU-4 (characters, NLTK smoothing 3) and ROUGE-1/2/L F (jieba words) are computed exactly as "
            "LLaMA-Factory's predict_bleu-4 / predict_rouge-* (mean of per-sample values, 0-100). distinct-n: unique "
            "character n-grams / all character n-grams over all predictions. mean_len: characters per reply. "
            "runtime_s: generation wall time."
        ),
        Table(["metric", *[r.name for r in runs], *_delta_header(runs)], rows),
    ]
    series = {r.name: [r.metrics.get(k) for k in REFERENCE_METRICS] for r in runs}
    blocks.append(Figure(grouped_bars(out / "metrics.png", "BLEU-4 and ROUGE (LLaMA-Factory compatible)",
                                      REFERENCE_METRICS, series, ylabel="score (0-100)"), "BLEU-4 / ROUGE"))
    series = {r.name: [r.metrics.get(k) for k in ("distinct-1", "distinct-2")] for r in runs}
    blocks.append(Figure(grouped_bars(out / "distinct.png", "Diversity of replies (characters)",
                                      ("distinct-1", "distinct-2"), series, ylim=(0, 1.1)), "distinct-n"))
    return blocks


def _judged(run: EvalRun, dim: str) -> dict[str, Any]:
    return ((run.judge or {}).get("dimensions") or {}).get(dim) or {}


def _judge_section(runs: list[EvalRun], out: Path) -> list[Any]:
    from xinyu.eval.judge import DIMENSIONS, MAX_TOTAL
    from xinyu.eval.plots import grouped_bars

    if not any(r.judge for r in runs):
        return [Heading("LLM judge (CPsyCoun)"), Paragraph("not judged")]
    maxima = {**dict(DIMENSIONS), "total": MAX_TOTAL}
    rows = []
    for dim in JUDGE_DIMS:
        cells = [f"{dim} (0-{maxima[dim]})"]
        for r in runs:
            d = _judged(r, dim)
            cells.append("–" if d.get("mean") is None else f"{d['mean']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}]")
        cells += [relative_change(_judged(r, dim).get("mean"), _judged(runs[0], dim).get("mean")) for r in runs[1:]]
        rows.append(cells)
    pad = ["" for _ in runs[1:]]
    rows.append(["valid / invalid / errors",
                 *[f"{r.judge['valid']} / {r.judge['invalid']} / {r.judge['errors']}" if r.judge else "–" for r in runs],
                 *pad])
    rows.append(["judge model", *[r.judge["judge_model"] if r.judge else "–" for r in runs], *pad])
    rows.append(["prompt sha256", *[r.judge["prompt_sha256"][:12] if r.judge else "–" for r in runs], *pad])
    dims = JUDGE_DIMS[:4]
    series = {r.name: [_judged(r, d).get("mean") for d in dims] for r in runs}
    errors: dict[str, list[tuple[float, float] | None]] = {}
    for r in runs:
        cis = [(_judged(r, d).get("ci_low"), _judged(r, d).get("ci_high")) for d in dims]
        errors[r.name] = [None if None in ci else ci for ci in cis]
    return [
        Heading("LLM judge (CPsyCoun)"),
        Paragraph("Mean score per dimension over valid verdicts, with 95% bootstrap confidence intervals. Invalid "
                  "verdicts (unparseable or out of range after retries) are excluded, never counted as zero."),
        Table(["dimension", *[r.name for r in runs], *_delta_header(runs)], rows),
        Figure(grouped_bars(out / "judge.png", "LLM judge scores (95% CI)", [f"{d} (0-{maxima[d]})" for d in dims],
                            series, errors=errors,
                            ylabel="score", ylim=(0, 3.3)), "judge scores"),
    ]


def _probe_section(runs: list[EvalRun], out: Path) -> list[Any]:
    from xinyu.eval.plots import grouped_bars

    if not any(r.probes for r in runs):
        return [Heading("Persona probes"), Paragraph("not probed")]
    rows = []
    for check in PROBE_CHECKS:
        cells = [check]
        for r in runs:
            rate = ((r.probes or {}).get("rates", {}).get(check) or {})
            cells.append("–" if rate.get("rate") is None else f"{rate['rate']:.0%} (n={rate['n']})")
        rows.append(cells)
    series = {r.name: [((r.probes or {}).get("rates", {}).get(c) or {}).get("rate") for c in PROBE_CHECKS]
              for r in runs}
    return [
        Heading("Persona probes"),
        Paragraph("Share of probe replies passing each automatic check (n = probes the check applies to)."),
        Table(["check", *[r.name for r in runs]], rows),
        Figure(grouped_bars(out / "probes.png", "Persona probe pass rates", PROBE_CHECKS, series, ylim=(0, 1.1)),
               "probe pass rates"),
    ]


def _sample_section(runs: list[EvalRun], count: int) -> list[Any]:
    blocks: list[Any] = [Heading("Sample replies"), Paragraph(f"The first {count} test turns, side by side.")]
    by_id = [{row["id"]: row for row in r.generations} for r in runs]
    for row in runs[0].generations[:count]:
        context = [m for m in row.get("context", []) if m.get("role") != "system"]
        shown = [(m["role"], m["content"]) for m in context[-4:]]
        if len(context) > 4:
            shown.insert(0, ("…", f"{len(context) - 4} earlier messages"))
        replies = [(r.name, (lookup.get(row["id"]) or {}).get("prediction", "(not generated)"))
                   for r, lookup in zip(runs, by_id, strict=True)]
        blocks.append(SampleBlock(f"{row['id']} (turn {row.get('turn')})", shown, row.get("reference", ""), replies))
    return blocks


def comparison_blocks(runs: list[EvalRun], out: Path, *, samples: int = 5, level: int = 2) -> list[Any]:
    """The comparison's report blocks (runs, metrics, judge, probes, samples); charts are written into ``out``.

    ``level`` is the heading level of the sections, so the experiment report can nest them.
    """
    blocks: list[Any] = [Heading("Runs")]
    blocks.append(Table(
        ["name", "model", "backend", "samples", "test data", "contamination"],
        [[r.name, str((r.info.get("model") or {}).get("model") or "–"), str((r.info.get("backend") or {}).get("kind", "–")),
          str(r.metrics.get("n")), str((r.info.get("data") or {}).get("path", "–")), contamination_status(r)]
         for r in runs],
    ))
    blocks += [Paragraph(note) for note in _comparability(runs)]
    blocks += _metric_section(runs, out)
    blocks += _judge_section(runs, out)
    blocks += _probe_section(runs, out)
    blocks += _sample_section(runs, samples)
    for block in blocks:
        if isinstance(block, Heading):
            block.level = level
    return blocks


def write_comparison(
    dirs: list[str | Path], names: list[str] | None = None, out: str | Path = "eval-compare", *, samples: int = 5
) -> list[Path]:
    """Write ``report.md``, ``report.html`` and charts comparing evaluation directories.

    Args:
        dirs: Evaluation directories; the first is the baseline for relative changes.
        names: Display names (default: each run's name from ``info.json``).
        out: Output directory.
        samples: Test turns shown side by side.

    Returns:
        Paths written (Markdown, HTML, PNGs).
    """
    if not dirs:
        raise XinyuError("nothing to compare: give at least one evaluation directory")
    if names is not None and len(names) != len(dirs):
        raise XinyuError(f"{len(names)} names for {len(dirs)} directories")
    runs = [load_run(d, names[i] if names else None) for i, d in enumerate(dirs)]
    seen: dict[str, int] = {}
    for r in runs:  # duplicate names would merge chart series
        seen[r.name] = seen.get(r.name, 0) + 1
        if seen[r.name] > 1:
            r.name = f"{r.name} ({seen[r.name]})"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blocks = comparison_blocks(runs, out, samples=samples)
    title = "Evaluation: " + " vs ".join(r.name for r in runs)
    md = write_text(out / "report.md", to_markdown(title, blocks, out))
    page = write_text(out / "report.html", to_html(title, blocks))
    figures = [b.path for b in blocks if isinstance(b, Figure)]
    return [md, page, *figures]
