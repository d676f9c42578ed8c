"""Safety benchmark: latency and accuracy per utterance, against a naive keyword scan in the same run.

Utterances: every text of the held-out evaluation sets (dev, blind, unseen: never training data),
assessed on its own (no history) and, for the multi-turn items, with its history. For each utterance the best of ``--repeats``
runs is kept (the per-text cache is cleared first), so a scheduler time slice on a shared machine does
not masquerade as rule cost; mean, p50, p99 and max are over utterances.

Rows:
  keyword baseline   ``any(word in text for word in KEYWORDS)`` over the same lexicon (xinyu.safety.lexicon)
  rule scan          one turn through the engine: normalise, mask idioms, match + scope every rule
  assess, rules      ``assess(text)`` with the rule layer alone: scan + combine + RiskAssessment
                     (and with history: every turn of the window scanned)
  assess, default    the default pipeline: rules + the lexical model (what the conversation engine runs)

Accuracy columns (crisis recall, false crisis alarms) are on the same utterances with their labels.

Usage::

    .venv/bin/python benchmarks/bench_safety.py
    .venv/bin/python benchmarks/bench_safety.py --repeats 7 --json runs/bench_safety.json

Target: rule layer < 1 ms per utterance (p99 of the single-turn rules-only assess).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from xinyu.safety import assess  # noqa: E402
from xinyu.safety.config import SafetyConfig  # noqa: E402

RULES = SafetyConfig(layers=["rules"])
from xinyu.safety.crisis import default_engine  # noqa: E402
from xinyu.safety.evaluate import BUNDLED_SETS, bundled, keyword_flag, load_labelled  # noqa: E402
from xinyu.safety.lexicon import KEYWORDS  # noqa: E402

TARGET_MS = 1.0


def timed(fn, args, repeats: int, clear) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        clear()
        start = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best * 1000, out


def summarise(name: str, ms: list[float], hits: list[bool] | None = None, items: list[dict] | None = None) -> dict:
    ms = sorted(ms)
    row = {
        "name": name,
        "n": len(ms),
        "mean_ms": statistics.mean(ms),
        "p50_ms": ms[len(ms) // 2],
        "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "max_ms": ms[-1],
        "per_s": 1000 / statistics.mean(ms) if statistics.mean(ms) else float("inf"),
    }
    if hits is not None and items is not None:
        crisis = [h for h, i in zip(hits, items, strict=True) if i["level"] == "crisis"]
        benign = [h for h, i in zip(hits, items, strict=True) if i["level"] != "crisis"]
        row["crisis_recall"] = sum(crisis) / len(crisis)
        row["false_crisis_rate"] = sum(benign) / len(benign)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per utterance; the best is kept")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    items = [item for name in BUNDLED_SETS if bundled(name).is_file() for item in load_labelled(bundled(name))]
    single = [i for i in items if not i["history"]]
    multi = [i for i in items if i["history"]]
    engine = default_engine()
    clear = engine.scan.cache_clear
    for item in items[:50]:  # warm up: compiled patterns, lazy imports, the lexical model, jieba
        assess(item["text"], item["history"] or None)
        assess(item["text"], item["history"] or None, config=RULES)

    rows = []
    ms, hits = [], []
    for item in single:
        t, flagged = timed(keyword_flag, (item["text"],), args.repeats, lambda: None)
        ms.append(t)
        hits.append(bool(flagged))
    rows.append(summarise(f"keyword baseline ({len(KEYWORDS)} words)", ms, hits, single))

    ms = [timed(engine._scan, (item["text"],), args.repeats, clear)[0] for item in single]
    rows.append(summarise("rule scan (1 turn)", ms))

    def rules_only(text, history=None):
        return assess(text, history, config=RULES)

    ms, hits = [], []
    for item in single:
        t, risk = timed(rules_only, (item["text"],), args.repeats, clear)
        ms.append(t)
        hits.append(risk.level.value == "crisis")
    rows.append(summarise("assess, rules (1 turn)", ms, hits, single))

    ms, hits = [], []
    for item in multi:
        t, risk = timed(rules_only, (item["text"], item["history"]), args.repeats, clear)
        ms.append(t)
        hits.append(risk.level.value == "crisis")
    rows.append(summarise(f"assess, rules (history, {statistics.mean(len(i['history']) for i in multi):.1f} turns avg)",
                          ms, hits, multi))

    # The default pipeline: rules + lexical model (jieba segmentation, n-gram lookup, combiner).
    for label, subset in (("1 turn", single), ("with history", multi)):
        ms, hits = [], []
        for item in subset:
            t, risk = timed(assess, (item["text"], item["history"] or None), args.repeats, clear)
            ms.append(t)
            hits.append(risk.level.value == "crisis")
        rows.append(summarise(f"assess, rules+lexical default ({label})", ms, hits, subset))

    print(f"safety rule layer on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; best of {args.repeats} runs per utterance")
    header = f"{'':44} {'n':>5} {'mean ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'utt/s':>9} {'crisis R':>9} {'false cr.':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        acc = (f"{r['crisis_recall']:>9.3f} {r['false_crisis_rate']:>9.3f}" if "crisis_recall" in r else f"{'':>9} {'':>9}")
        print(f"{r['name']:44} {r['n']:>5} {r['mean_ms']:>9.4f} {r['p50_ms']:>8.4f} {r['p99_ms']:>8.4f} "
              f"{r['max_ms']:>8.4f} {r['per_s']:>9.0f} {acc}")
    single_assess = rows[2]
    ok = single_assess["p99_ms"] < TARGET_MS
    print(f"\ntarget: assess (1 turn) p99 < {TARGET_MS} ms: {'met' if ok else 'MISSED'} "
          f"({single_assess['p99_ms']:.3f} ms; {single_assess['mean_ms'] / rows[0]['mean_ms']:.0f}x the keyword scan's mean)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "repeats": args.repeats, "target_ms": TARGET_MS}, indent=2),
                             encoding="utf-8")


if __name__ == "__main__":
    main()
