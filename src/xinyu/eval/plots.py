"""Bar charts for comparison reports (matplotlib, Agg backend, PNG).

Titles and axes are in English. Model names may be Chinese: they are drawn with a CJK font when
one is installed (Noto Sans CJK, Source Han Sans, WenQuanYi, SimHei...); without one, non-ASCII
names are replaced on the chart by ``M1``, ``M2``... (the report's tables give the mapping), so a
chart never shows missing-glyph boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of an installed CJK-capable font, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def chart_labels(names: Sequence[str]) -> list[str]:
    """Names as they can be drawn: unchanged with a CJK font or when ASCII, else ``M<i>``."""
    if cjk_font():
        return list(names)
    return [n if n.isascii() else f"M{i + 1}" for i, n in enumerate(names)]


def grouped_bars(
    path: str | Path,
    title: str,
    groups: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    ylabel: str = "",
    errors: dict[str, Sequence[tuple[float, float] | None]] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Grouped bar chart: one group per metric, one bar per model (None values are left out).

    Args:
        path: PNG to write.
        title: Chart title (English).
        groups: Metric names along the x axis.
        series: Model name → one value per group.
        ylabel: Y axis label.
        errors: Model name → per-group ``(low, high)`` interval drawn as error bars.
        ylim: Y axis limits.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from xinyu.io import atomic_write

    font = cjk_font()
    rc = {"font.family": ["sans-serif"], "font.sans-serif": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}
    labels = chart_labels(list(series))
    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(groups) * max(1, len(series)) * 0.6 + 2), 3.6), dpi=110)
        x = np.arange(len(groups))
        width = 0.8 / max(1, len(series))
        for i, (name, label) in enumerate(zip(series, labels, strict=True)):
            values = [np.nan if v is None else float(v) for v in series[name]]
            offset = (i - (len(series) - 1) / 2) * width
            yerr = None
            if errors and errors.get(name):
                lows, highs = [], []
                for v, ci in zip(values, errors[name], strict=True):
                    lows.append(0.0 if ci is None or np.isnan(v) else max(0.0, v - ci[0]))
                    highs.append(0.0 if ci is None or np.isnan(v) else max(0.0, ci[1] - v))
                yerr = np.array([lows, highs])
            bars = ax.bar(x + offset, values, width, label=label, yerr=yerr, capsize=3 if yerr is not None else 0)
            ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
        ax.set_xticks(x, list(groups))
        ax.set_title(title)
        if ylabel:
            ax.set_ylabel(ylabel)
        if ylim:
            ax.set_ylim(*ylim)
        ax.legend(fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        path = Path(path)
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format="png")
        plt.close(fig)
    return path
