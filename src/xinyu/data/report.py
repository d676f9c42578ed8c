"""The Markdown report of a built dataset (``data/<name>/report.md``): tables and the PNG plots."""

from __future__ import annotations

from typing import Any

from xinyu import __version__
from xinyu.data.topics import topic_display


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 10 or v == int(v) else f"{v:.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _dist_rows(splits: dict[str, Any], key: str) -> list[list[Any]]:
    rows = []
    for name, summary in splits.items():
        if not summary or key not in summary or not summary[key]["count"]:
            continue
        d = summary[key]
        rows.append([name, d["count"], d["mean"], d["p50"], d["p90"], d["p99"], d["max"]])
    return rows


def render_report(
    recipe: Any,
    stats: dict[str, Any],
    contamination: dict[str, Any],
    sources: list[dict[str, Any]],
    plots: list[str],
) -> str:
    """Render ``report.md``.

    Args:
        recipe: The :class:`~xinyu.data.recipe.Recipe` that was built.
        stats: The ``stats.json`` document.
        contamination: The ``contamination.json`` document.
        sources: Per-source dicts (as in the manifest).
        plots: Plot paths relative to the dataset directory.
    """
    out: list[str] = [f"# Dataset `{recipe.name}`", ""]
    if recipe.description:
        out += [recipe.description.strip(), ""]
    split = stats["split"]
    out += [
        f"Built by xinyu {__version__}. Split seed {split['seed']}, ratios "
        f"{'/'.join(f'{r:g}' for r in split['ratios'])}, stratified by {split['stratify']}, "
        f"{split['groups']:,} groups. Tokenizer: {stats.get('tokenizer') or 'none'}.",
        "",
    ]

    out += ["## Splits", ""]
    rows = []
    for name in ("train", "val", "test"):
        s = stats["splits"][name]
        tok = s.get("tokens_per_dialogue", {}).get("p50", "-") if s.get("tokens_per_dialogue") else "-"
        rows.append(
            [name, s["dialogues"], s["turns_per_dialogue"]["mean"], s["chars_per_dialogue"]["p50"], tok]
        )
    out += [_table(["split", "dialogues", "mean turns", "median chars", "median tokens"], rows), ""]
    if split.get("persona_in_train_only"):
        out += [
            f"{split['persona_in_train_only']:,} persona dialogues are part of train only (also listed in "
            "`persona.jsonl`); none are in val or test.",
            "",
        ]
    if split.get("upsampled_copies_in_train"):
        out += [
            f"{split['upsampled_copies_in_train']:,} extra copies in train come from source weights > 1.",
            "",
        ]

    out += ["## Sources", ""]
    rows = []
    for src in sources:
        c = src["counts"]
        rows.append(
            [
                src["name"],
                src.get("format") or "-",
                src.get("license") or "unknown",
                c["records"],
                c["bad_records_skipped"],
                c["imported"],
                c["dropped_by_cleaning"],
                c["excluded_files"] + c["filtered_by_topic"] + c["sampled_out_by_weight"],
                c["kept"],
            ]
        )
    out += [
        _table(
            [
                "source",
                "format",
                "license",
                "records",
                "bad skipped",
                "imported",
                "dropped (cleaning)",
                "left out (files/topic/weight)",
                "kept",
            ],
            rows,
        ),
        "",
    ]

    cleaning = stats["cleaning"]
    out += [
        "## Cleaning",
        "",
        f"{cleaning['seen']:,} dialogues checked (cleaning rules run on corpus sources, generated persona data is "
        f"only validated), {cleaning['kept']:,} kept, "
        f"{cleaning['dropped_total']:,} dropped.",
        "",
    ]
    out += [_table(["dropped because", "dialogues"], [[k, v] for k, v in cleaning["dropped"].items()]), ""]
    out += [_table(["rule", "count"], [[k, v] for k, v in cleaning["rules"].items()]), ""]
    out += [
        "Rule counts are turns changed, except `drop_system` (messages), `merge_same_role` (merges), "
        "the two `drop_*` turn rules (turns removed) and the dedup rules (dialogues).",
        "",
    ]
    if cleaning["pii"]:
        out += [_table(["PII kind", "redactions"], [[k, v] for k, v in cleaning["pii"].items()]), ""]

    out += ["## Topics", ""]
    topics = sorted({t for s in stats["splits"].values() for t in s["by_topic"]})
    rows = [
        [t, topic_display(t if t != "(none)" else None)]
        + [stats["splits"][s]["by_topic"].get(t, 0) for s in ("train", "val", "test")]
        for t in topics
    ]
    out += [_table(["topic", "名称", "train", "val", "test"], rows), ""]

    out += ["## Lengths", ""]
    for key, title in (
        ("turns_per_dialogue", "Turns per dialogue"),
        ("chars_per_dialogue", "Characters per dialogue"),
        ("chars_per_user_turn", "Characters per user turn"),
        ("chars_per_assistant_turn", "Characters per assistant turn"),
        ("tokens_per_dialogue", "Tokens per dialogue"),
        ("tokens_per_assistant_turn", "Tokens per assistant turn"),
    ):
        rows = _dist_rows(stats["splits"], key)
        if rows:
            out += [f"**{title}**", "", _table(["split", "n", "mean", "p50", "p90", "p99", "max"], rows), ""]

    out += [
        "## Contamination",
        "",
        f"A dialogue is flagged when an assistant turn shares a {contamination['ngram_chars']}-character "
        f"n-gram with a training assistant turn (n-grams in more than {contamination['max_df']} training "
        "dialogues are treated as stock phrases). A likely leak shares at least "
        f"{contamination['leak_fraction']:.0%} of its n-grams (a copy or close paraphrase).",
        "",
    ]
    rows = []
    checks = [(key, contamination[key]) for key in ("test_vs_train", "val_vs_train")]
    checks += [(f"external: {c['name']}", c) for c in contamination["external"]]
    for label, c in checks:
        top = ", ".join(f"{f['id']} ({f['fraction']:.0%})" for f in c["flagged"][:5]) or "-"
        rows.append([label, c["targets_checked"], c["flagged_count"], c["likely_leak_count"], top])
    out += [
        _table(
            [
                "check",
                "dialogues checked",
                "sharing an n-gram",
                "likely leaks",
                "most overlapping (share of n-grams)",
            ],
            rows,
        ),
        "",
    ]

    if plots:
        out += ["## Plots", ""]
        for plot in plots:
            title = plot.rsplit("/", 1)[-1].removesuffix(".png").replace("_", " ")
            out += [f"![{title}]({plot})", ""]
    return "\n".join(out).rstrip() + "\n"
