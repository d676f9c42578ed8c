"""Run records: ``metrics.jsonl``, peak memory, ``plots/loss.png``, ``train_summary.json``, ``summary.md``."""

from __future__ import annotations

import contextlib
import json
import resource
from pathlib import Path
from typing import Any

from xinyu.io import iter_jsonl, write_jsonl, write_text


class MetricsLog:
    """Append-only ``metrics.jsonl``: one JSON object per log or eval event (never dialogue text)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def events(self) -> list[dict[str, Any]]:
        """Every event written so far (a line cut short by a crash is skipped)."""
        if not self.path.is_file():
            return []
        return [obj for _, obj in iter_jsonl(self.path, skip_bad=True)]

    def reset_stage(self, stage: str, after_step: int = 0) -> None:
        """Drop a stage's events past ``after_step`` (a fresh or resumed stage re-logs them)."""
        kept = [e for e in self.events() if e.get("stage") != stage or e.get("step", 0) <= after_step]
        write_jsonl(self.path, kept)

    def append(self, event: dict[str, Any]) -> None:
        """Append one event as a line (flushed, so a crash loses at most that line)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
            handle.flush()


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter of this process (Linux), so a stage measures its own peak."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def peak_rss_mb() -> float:
    """Peak resident memory since the last reset (VmHWM), in MiB; falls back to ``ru_maxrss``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plot_losses(events: list[dict[str, Any]], stages: list[str], path: Path) -> Path | None:
    """Train and validation loss of every stage on one axis (steps continue across stages)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not any("loss" in e or "eval_loss" in e for e in events):
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    offset = 0
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, stage in enumerate(stages):
        mine = [e for e in events if e.get("stage") == stage]
        if not mine:
            continue
        color = colors[i % len(colors)]
        train = [(offset + e["step"], e["loss"]) for e in mine if "loss" in e]
        val = [(offset + e["step"], e["eval_loss"]) for e in mine if "eval_loss" in e]
        if train:
            ax.plot(*zip(*train, strict=True), color=color, label=f"{stage} train")
        if val:
            ax.plot(*zip(*val, strict=True), color=color, linestyle="--", marker="o", label=f"{stage} val")
        last = max(e["step"] for e in mine)
        if offset:
            ax.axvline(offset, color="0.7", linewidth=0.8)
        offset += last
    ax.set_xlabel("optimizer step (cumulative over stages)")
    ax.set_ylabel("loss")
    ax.set_title("training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def summary_markdown(summary: dict[str, Any]) -> str:
    """A short Markdown rendering of ``train_summary.json``."""
    total = summary["total"]
    lines = [
        f"# Training run `{summary['name']}`",
        "",
        f"- base model: `{summary['model']}`, method: **{summary['method']}**, device: {summary.get('device', '?')}",
        f"- final output: `{summary['output']}`",
        f"- wall time {_fmt(total['wall_s'], 3)} s, {total['tokens']} tokens "
        f"({_fmt(total['tokens_per_s'], 3)} non-padding tokens/s), peak RSS {_fmt(total['peak_rss_mb'], 4)} MiB",
        "",
        "| stage | steps | train loss | val loss | tokens | tokens/s | wall s | peak RSS MiB | trainable / total params |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in summary["stages"]:
        lines.append(
            f"| {s['name']} | {s.get('steps')} | {_fmt(s.get('final_train_loss'))} | {_fmt(s.get('final_val_loss'))} "
            f"| {s.get('tokens')} | {_fmt(s.get('tokens_per_s'), 3)} | {_fmt(s.get('wall_s'), 3)} "
            f"| {_fmt(s.get('peak_rss_mb'), 4)} | {s.get('trainable_params')} / {s.get('total_params')} |"
        )
    lines += ["", "Hyperparameters of each stage are in `train_summary.json` and `config.yaml`.", ""]
    if any(s.get("skipped") for s in summary["stages"]):
        lines.insert(-1, "Stages marked as skipped had already finished with the same configuration.")
    return "\n".join(lines)


def write_summaries(run_dir: Path, summary: dict[str, Any]) -> None:
    """Write ``train_summary.json`` and ``summary.md``."""
    from xinyu.io import write_json

    write_json(run_dir / "train_summary.json", summary)
    write_text(run_dir / "summary.md", summary_markdown(summary))
