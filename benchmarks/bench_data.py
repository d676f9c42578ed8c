"""Data pipeline benchmark: import → clean → dedup → split → stats on a SMILE-sized corpus.

Builds (once, cached) a synthetic SMILE-shaped corpus — a directory of per-dialogue JSON files with the
real corpus's shape: 1-39 turns (median ~12), client/counselor turns of realistic lengths, sentence
annotations, ~1% exact and ~1% near duplicates, PII, leaked role prefixes, empty utterances, dialogues
ending with the client — then runs the streaming pipeline on 1/4, 1/2 and all of it, each in a fresh
process, and reports wall time and peak RSS. The baseline from the same run is the pipeline fed from a
fully loaded in-memory list (what a non-streaming implementation does), at full size.

Usage::

    .venv/bin/python benchmarks/bench_data.py                 # 55,000 dialogues (the real size)
    .venv/bin/python benchmarks/bench_data.py --n 5000 --no-baseline
    .venv/bin/python benchmarks/bench_data.py --json runs/bench_data.json

Targets on a 2-core machine: < 60 s and < 1.5 GB peak RSS for the full corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
TARGET_RSS_MB = 1536.0

# ------------------------------------------------------------------------------------- corpus generator

_PUNCT_END = "。？！"
_OPENERS = ("我最近", "其实我", "说实话，", "我觉得", "你好，", "嗯，", "是的，", "可是", "谢谢你，")


def _char_pool(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # ~3,500 distinct Han characters with Zipf-like frequencies, like running Chinese text.
    codes = rng.permutation(np.arange(0x4E00, 0x4E00 + 3500, dtype=np.uint32))
    weights = 1.0 / np.arange(1, len(codes) + 1) ** 0.9
    return codes, weights / weights.sum()


class _Writer:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.codes, self.p = _char_pool(self.rng)

    def text(self, length: int) -> str:
        length = max(2, int(length))
        chars = self.rng.choice(self.codes, size=length, p=self.p)
        # clause punctuation every ~8-20 characters, sentence-final at the end
        pos = 0
        while True:
            pos += int(self.rng.integers(8, 21))
            if pos >= length - 1:
                break
            chars[pos] = (
                ord("，") if self.rng.random() < 0.75 else ord(_PUNCT_END[int(self.rng.integers(0, 3))])
            )
        chars[-1] = ord(_PUNCT_END[int(self.rng.integers(0, 3))])
        body = chars.tobytes().decode("utf-32-le")
        return _OPENERS[int(self.rng.integers(0, len(_OPENERS)))] + body if self.rng.random() < 0.3 else body

    def turns(self) -> list[dict]:
        rng = self.rng
        n = int(np.clip(rng.normal(12.5, 5.0), 1, 39))
        if n > 2 and rng.random() < 0.8:
            n -= n % 2  # most dialogues end with the counselor
        out = []
        for i in range(n):
            client = i % 2 == 0
            if rng.random() < 0.004 and i > 0:
                client = not client  # adjacent same-role turns, as in the real corpus
            length = rng.lognormal(np.log(42), 0.6) if client else rng.lognormal(np.log(95), 0.55)
            content = self.text(min(length, 900))
            r = rng.random()
            if client and i == 0 and r < 0.01:
                content = "求助者：" + content  # role prefix leaking into content
            elif r < 0.004:
                content = " " if rng.random() < 0.5 else ""  # empty utterance
            elif r < 0.02:
                content = content[:-1] + self._pii()
            out.append({"role": "client" if client else "counselor", "content": content})
        return out

    def _pii(self) -> str:
        kind = int(self.rng.integers(0, 4))
        if kind == 0:
            return f"，我的电话是1{int(self.rng.integers(3, 10))}{int(self.rng.integers(10**8, 10**9))}。"
        if kind == 1:
            return f"，邮箱user{int(self.rng.integers(1000, 99999))}@example.com。"
        if kind == 2:
            return f"，QQ号{int(self.rng.integers(10**5, 10**10))}。"
        return "，可以拨打12356心理援助热线。"  # a hotline the redactor must keep


def _annotate(turn: dict) -> dict:
    sentences = [s for s in turn["content"].replace("？", "。").replace("！", "。").split("。") if s]
    return {**turn, "annotation": [{"sentence": s + "。", "label": ""} for s in sentences]}


def generate_corpus(root: Path, n: int, seed: int = 0) -> Path:
    """Write ``n`` SMILE-shaped dialogue files under ``root`` (skipped when already complete)."""
    target = root / f"smile_synthetic_{n}_{seed}"
    done = target / ".complete"
    if done.is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    writer = _Writer(seed)
    rng = np.random.default_rng(seed + 1)
    recent: list[list[dict]] = []
    file_id = 0
    t0 = time.perf_counter()
    for i in range(n):
        r = rng.random()
        if recent and r < 0.01:
            turns = [dict(t) for t in recent[int(rng.integers(0, len(recent)))]]  # exact duplicate
        elif recent and r < 0.02:
            turns = [dict(t) for t in recent[int(rng.integers(0, len(recent)))]]  # near duplicate: one edit
            k = int(rng.integers(0, len(turns)))
            turns[k]["content"] = turns[k]["content"][:-6] + writer.text(6)
        else:
            turns = writer.turns()
        recent = [*recent, turns][-200:]
        file_id += 1 + int(rng.random() < 0.016)  # ids have gaps, like the real corpus
        with open(target / f"{file_id}.json", "w", encoding="utf-8") as handle:
            json.dump([_annotate(t) for t in turns], handle, ensure_ascii=False, indent=2)
        if (i + 1) % 10000 == 0:
            print(
                f"  generated {i + 1:,}/{n:,} dialogues ({time.perf_counter() - t0:.0f} s)", file=sys.stderr
            )
    done.write_text(str(n), encoding="utf-8")
    return target


# ------------------------------------------------------------------------------------------ pipeline


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_pipeline(corpus: Path, limit: int, out: Path, in_memory: bool = False) -> dict:
    """The timed run: the same streaming steps `xinyu data build` uses, stage by stage."""
    from xinyu.data.clean import Cleaner
    from xinyu.data.formats import ReadReport, smile
    from xinyu.data.formats import dialogue as dialogue_format
    from xinyu.data.split import SPLITS, SplitConfig, SplitPlan
    from xinyu.data.stats import CorpusStats

    baseline = _rss_mb()
    cpu_start = _cpu_s()
    t_start = time.perf_counter()
    report = ReadReport()
    stream = smile.read(corpus, report=report)

    def limited():
        for i, d in enumerate(stream):
            if i >= limit:
                break
            yield d

    source = limited()
    t_load = 0.0
    if in_memory:  # the baseline: everything loaded first, then processed
        t0 = time.perf_counter()
        source = list(source)
        t_load = time.perf_counter() - t0
    cleaner = Cleaner()
    plan = SplitPlan(SplitConfig(seed=42))
    pooled = out / "pooled.jsonl"
    t0 = time.perf_counter()
    imported = 0
    with open(pooled, "w", encoding="utf-8") as handle:
        for d in source:
            imported += 1
            kept = cleaner.clean(d)
            if kept is not None:
                plan.add(kept)
                handle.write(json.dumps(kept.to_dict(), ensure_ascii=False) + "\n")
    t_clean = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = {s: CorpusStats() for s in SPLITS}
    handles = {s: open(out / f"{s}.jsonl", "w", encoding="utf-8") for s in SPLITS}  # noqa: SIM115
    try:
        for d in dialogue_format.read(pooled):
            split = plan.split_of(d)
            handles[split].write(json.dumps(d.to_dict(), ensure_ascii=False) + "\n")
            stats[split].add(d)
    finally:
        for h in handles.values():
            h.close()
    t_split = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = {s: stats[s].summary() for s in SPLITS}
    (out / "stats.json").write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    t_stats = time.perf_counter() - t0
    return {
        "dialogues": imported,
        "kept": cleaner.report.kept,
        "dropped": {k: v for k, v in cleaner.report.dropped.items() if v},
        "pii": dict(cleaner.report.pii),
        "splits": {s: summary[s]["dialogues"] for s in SPLITS},
        "seconds": {
            "load (baseline only)": round(t_load, 2),
            "import+clean+dedup": round(t_clean, 2),
            "split+write": round(t_split, 2),
            "stats": round(t_stats, 2),
        },
        "wall_s": round(time.perf_counter() - t_start, 2),
        "cpu_s": round(_cpu_s() - cpu_start, 2),
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
    }


def _child(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        result = run_pipeline(Path(args.corpus), args.limit, Path(tmp), in_memory=args.in_memory)
    print(json.dumps(result))


def _run_child(corpus: Path, limit: int, in_memory: bool) -> dict:
    cmd = [sys.executable, __file__, "child", "--corpus", str(corpus), "--limit", str(limit)]
    if in_memory:
        cmd.append("--in-memory")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    head = (
        "| run | dialogues | wall s | CPU s | dialogues/s | import+clean+dedup s | split+write s | stats s | "
        "peak RSS MB | RSS over start MB | kept | load avg |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        s = r["seconds"]
        lines.append(
            f"| {r['label']} | {r['dialogues']:,} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['dialogues'] / max(r['wall_s'], 1e-9):,.0f} | "
            f"{s['import+clean+dedup'] + s['load (baseline only)']:.1f} | {s['split+write']:.1f} | {s['stats']:.1f} | "
            f"{r['peak_rss_mb']:,.0f} | {r['peak_rss_mb'] - r['baseline_rss_mb']:,.0f} | {r['kept']:,} | "
            f"{r['load_avg_1min']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    child = sub.add_parser("child")
    child.add_argument("--corpus", required=True)
    child.add_argument("--limit", type=int, required=True)
    child.add_argument("--in-memory", action="store_true")
    parser.add_argument("--n", type=int, default=55_000, help="Corpus size (default: SMILE's 55k).")
    parser.add_argument(
        "--workdir", default=str(REPO / "runs" / "bench_data"), help="Where the corpus is cached."
    )
    parser.add_argument("--no-baseline", action="store_true", help="Skip the in-memory baseline run.")
    parser.add_argument("--json", help="Also write the results as JSON here.")
    args = parser.parse_args()
    if args.cmd == "child":
        _child(args)
        return

    t0 = time.perf_counter()
    corpus = generate_corpus(Path(args.workdir), args.n)
    print(f"corpus: {corpus} ({args.n:,} files, ready in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    rows = []
    for frac, label in ((0.25, "streaming 1/4"), (0.5, "streaming 1/2"), (1.0, "streaming full")):
        result = _run_child(corpus, int(args.n * frac), in_memory=False)
        rows.append({"label": label, **result})
        print(f"  {label}: {result['wall_s']:.1f} s, peak {result['peak_rss_mb']:.0f} MB", file=sys.stderr)
    if not args.no_baseline:
        result = _run_child(corpus, args.n, in_memory=True)
        rows.append({"label": "baseline: in-memory full", **result})
    print(_table(rows))
    full = rows[2]
    growth = [r["peak_rss_mb"] - r["baseline_rss_mb"] for r in rows[:3]]
    print()
    print(
        f"full corpus: {full['wall_s']:.1f} s (target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if full['wall_s'] < TARGET_SECONDS else 'MISSED'}), peak RSS {full['peak_rss_mb']:.0f} MB "
        f"(target < {TARGET_RSS_MB:.0f} MB: {'met' if full['peak_rss_mb'] < TARGET_RSS_MB else 'MISSED'})"
    )
    print(
        f"pipeline memory at 1/4, 1/2, full: {growth[0]:.0f}, {growth[1]:.0f}, {growth[2]:.0f} MB over the "
        "process start (per-dialogue bookkeeping only: ids, digests, MinHash signatures, lengths)"
    )
    per_dialogue = (growth[2] - growth[0]) * 1024 / max(full["dialogues"] - rows[0]["dialogues"], 1)
    print(f"bookkeeping grows ~{per_dialogue:.1f} KB per dialogue, independent of dialogue length")
    print(f"dropped at full size: {full['dropped']}; PII redacted: {full['pii']}")
    print(
        f"CPU time {full['cpu_s']:.1f} s of {full['wall_s']:.1f} s wall (1-min load average "
        f"{full['load_avg_1min']:.1f} on {os.cpu_count()} cores: other processes share the CPU)"
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps({"n": args.n, "runs": rows}, indent=2, ensure_ascii=False), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
