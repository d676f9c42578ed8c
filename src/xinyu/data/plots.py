"""Histograms and bar charts of a dataset (PNG, matplotlib Agg backend).

Labels are English unless a CJK font is installed (then topic names also show in Chinese), so the
images never show missing-glyph boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xinyu.data.stats import CorpusStats
from xinyu.data.topics import BY_KEY

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cjk_font() -> str | None:
    """Name of an installed font that covers Chinese, or ``None``."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


def _topic_label(key: str, cjk: bool) -> str:
    topic = BY_KEY.get(key)
    if topic and cjk:
        return f"{key}\n{topic.zh}"
    return key


def _save(fig: Any, path: Path) -> Path:
    from xinyu.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    _pyplot().close(fig)
    return path


def _hist(
    path: Path, series: dict[str, np.ndarray], title: str, xlabel: str, log_x: bool = False
) -> Path | None:
    series = {k: v for k, v in series.items() if len(v)}
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    hi = max(float(np.percentile(v, 99.5)) for v in series.values())
    lo = min(float(v.min()) for v in series.values())
    if log_x and lo > 0:
        bins = np.geomspace(max(lo, 1), max(hi, lo + 1), 40)
        ax.set_xscale("log")
    else:
        bins = np.linspace(lo, max(hi, lo + 1), 40)
    for name, values in series.items():
        ax.hist(
            np.clip(values, bins[0], bins[-1]),
            bins=bins,
            histtype="step",
            linewidth=1.6,
            label=f"{name} (n={len(values)}, median={np.median(values):.0f})",
        )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _bars(
    path: Path, table: dict[str, dict[str, int]], title: str, xlabel: str, label_fn: Any = str
) -> Path | None:
    keys = sorted({k for counts in table.values() for k in counts})
    if not keys:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(keys) + 2), 4.2))
    x = np.arange(len(keys))
    bottom = np.zeros(len(keys))
    for name, counts in table.items():
        values = np.array([counts.get(k, 0) for k in keys], dtype=float)
        ax.bar(x, values, bottom=bottom, label=name)
        bottom += values
    ax.set_xticks(
        x,
        [label_fn(k) for k in keys],
        rotation=30 if len(keys) > 4 else 0,
        ha="right" if len(keys) > 4 else "center",
        fontsize=8,
    )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("dialogues")
    if len(table) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)


def _hbars(path: Path, counts: dict[str, int], title: str, xlabel: str) -> Path | None:
    items = [(k, v) for k, v in counts.items() if v]
    if not items:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(items) + 1.5))
    names = [k for k, _ in items]
    values = [v for _, v in items]
    ax.barh(np.arange(len(items)), values, color="#c0504d")
    ax.set_yticks(np.arange(len(items)), names, fontsize=8)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v}", va="center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return _save(fig, path)


def write_plots(
    out_dir: str | Path, splits: dict[str, CorpusStats], cleaning: dict[str, Any] | None = None
) -> list[Path]:
    """Write the dataset's PNGs into ``out_dir`` and return their paths.

    Args:
        out_dir: Usually ``data/<name>/plots``.
        splits: Statistics per split (``train``, ``val``, ``test``...). A ``persona`` entry is drawn in
            the histograms but left out of pooled and stacked counts, as its dialogues are part of train.
        cleaning: A :meth:`CleanReport.to_dict` (possibly merged over sources), for the cleaning chart.
    """
    import matplotlib

    out = Path(out_dir)
    font = cjk_font()
    rc = {"font.family": ["sans-serif"], "font.sans-serif": [font, "DejaVu Sans"]} if font else {}
    written: list[Path | None] = []
    with matplotlib.rc_context(rc):
        splits = {k: v for k, v in splits.items() if v.dialogues}
        arr = {k: np.asarray(v.turns) for k, v in splits.items()}
        written.append(
            _hist(out / "turns_per_dialogue.png", arr, "Turns per dialogue", "turns (user + assistant)")
        )
        arr = {k: np.asarray(v.chars_dialogue) for k, v in splits.items()}
        written.append(
            _hist(out / "chars_per_dialogue.png", arr, "Characters per dialogue", "characters", log_x=True)
        )
        # persona dialogues are also part of train: pooling or stacking them again would count them twice
        stacked = {k: v for k, v in splits.items() if k != "persona"} or splits
        merged_user = np.concatenate([np.asarray(v.chars_user) for v in stacked.values()] or [np.zeros(0)])
        merged_asst = np.concatenate(
            [np.asarray(v.chars_assistant) for v in stacked.values()] or [np.zeros(0)]
        )
        written.append(
            _hist(
                out / "chars_per_turn.png",
                {"user": merged_user, "assistant": merged_asst},
                "Characters per turn (all splits)",
                "characters",
                log_x=True,
            )
        )
        tokens = {k: np.asarray(v.tokens_dialogue) for k, v in splits.items() if len(v.tokens_dialogue)}
        if tokens:
            written.append(
                _hist(out / "tokens_per_dialogue.png", tokens, "Tokens per dialogue", "tokens", log_x=True)
            )
        written.append(
            _bars(
                out / "dialogues_by_topic.png",
                {k: dict(v.by_topic) for k, v in stacked.items()},
                "Dialogues per topic",
                "topic",
                lambda key: _topic_label(key, bool(font)),
            )
        )
        written.append(
            _bars(
                out / "dialogues_by_source.png",
                {k: dict(v.by_source) for k, v in stacked.items()},
                "Dialogues per source",
                "source",
            )
        )
        if cleaning:
            counts = {f"dropped: {k}": v for k, v in (cleaning.get("dropped") or {}).items()}
            counts.update({f"rule: {k}": v for k, v in (cleaning.get("rules") or {}).items()})
            written.append(
                _hbars(
                    out / "cleaning.png",
                    counts,
                    "What cleaning changed and removed",
                    "turns changed / dialogues dropped",
                )
            )
    return [p for p in written if p is not None]
