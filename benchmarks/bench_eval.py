"""Evaluation benchmark: metric computation and turn-based generation, each against its plain baseline.

(a) metrics: BLEU-4 and ROUGE-1/2/L on N (reference, prediction) pairs synthesised from xinyu's sample
    corpus (``src/xinyu/data/resources/sample_corpus``): references are counselor turns; predictions
    are other counselor turns, clause-shuffled or truncated copies of the reference, repeated
    degenerate replies and a few empty ones. Baseline: LLaMA-Factory's per-sample loop (jieba +
    rouge_chinese + nltk, :func:`xinyu.eval.metrics.llamafactory_pair`). xinyu:
    :func:`xinyu.eval.metrics.similarity_scores` (exact re-computation, each text segmented once,
    process pool). Every per-sample value must be identical.
(b) generation: N turn-based replies of the embedded Gemma-3-270M on test turns of the sample
    corpus, greedy, same ``max_new_tokens``. Baseline: transformers ``model.generate`` one sample
    at a time. xinyu: :func:`xinyu.eval.generate.run_generation` through the llama.cpp backend
    (sequential) and through the transformers backend (batched, left padding).

Usage::

    .venv/bin/python benchmarks/bench_eval.py                      # both parts (a: 10,000 pairs; b: 200 replies)
    .venv/bin/python benchmarks/bench_eval.py --part metrics --pairs 2000
    .venv/bin/python benchmarks/bench_eval.py --part generation --n 50 --max-new-tokens 24
    .venv/bin/python benchmarks/bench_eval.py --json runs/bench_eval.json

Targets: (a) at least as fast as the baseline with identical numbers; (b) ≥ 3× the baseline's samples/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "src" / "xinyu" / "data" / "resources" / "sample_corpus"
KEYS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


def load_dialogues() -> list[dict]:
    from xinyu.io import read_jsonl

    files = sorted(CORPUS.glob("*.jsonl"))
    if not files:
        sys.exit(f"no sample corpus in {CORPUS}")
    return [d for f in files for d in read_jsonl(f)]


# ----------------------------------------------------------------------------------------- (a) metrics


def synth_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (prediction, reference) pairs of realistic counseling text with varied overlap."""
    rng = random.Random(seed)
    turns = [m["content"] for d in load_dialogues() for m in d["messages"] if m["role"] == "assistant"]
    clauses = [c for t in turns for c in re.split(r"(?<=[，。？！])", t) if c]
    degenerate = [rng.choice(turns)[: rng.randint(5, 30)] * rng.randint(2, 6) for _ in range(40)]
    pairs = []
    for _ in range(n):
        ref = rng.choice(turns)
        r = rng.random()
        if r < 0.35:
            pred = rng.choice(turns)  # an unrelated but fluent counselor reply
        elif r < 0.65:  # clause-level rewrite: keep some clauses, shuffle, add others
            parts = [c for c in re.split(r"(?<=[，。？！])", ref) if c and rng.random() < 0.7]
            parts += rng.sample(clauses, rng.randint(0, 3))
            rng.shuffle(parts)
            pred = "".join(parts)
        elif r < 0.85:
            pred = ref[: rng.randint(0, len(ref))] + rng.choice(turns)[: rng.randint(0, 60)]
        elif r < 0.98:
            pred = rng.choice(degenerate)  # a weak model repeating itself
        else:
            pred = rng.choice(["", " ", "。"])
        pairs.append((pred, ref))
    return pairs


def bench_metrics(n: int, workers: int | None) -> dict:
    from xinyu.eval.metrics import llamafactory_pair, similarity_scores
    from xinyu.eval.segment import segmenter

    pairs = synth_pairs(n)
    preds, refs = [p for p, _ in pairs], [r for _, r in pairs]
    segmenter()  # both sides start with jieba loaded
    t0 = time.perf_counter()
    base = [llamafactory_pair(p, r) for p, r in pairs]
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = similarity_scores(preds, refs, workers=1)
    t_single = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = similarity_scores(preds, refs, workers=workers)
    t_fast = time.perf_counter() - t0
    mismatches = sum(base[i][k] != fast[k][i] for i in range(n) for k in KEYS)
    mismatches += sum(single[k] != fast[k] for k in KEYS)
    means = {k: round(sum(fast[k]) / n, 4) for k in KEYS}
    return {"pairs": n, "baseline_s": t_base, "xinyu_1proc_s": t_single, "xinyu_s": t_fast,
            "workers": workers or "auto", "mismatches": mismatches, "means": means}


# -------------------------------------------------------------------------------------- (b) generation


def _test_split(tmp: Path) -> Path:
    from xinyu.io import write_jsonl

    path = tmp / "test.jsonl"
    write_jsonl(path, load_dialogues())
    return path


def _baseline_generate(samples: list, max_new_tokens: int) -> dict:
    """Plain transformers: ``model.generate`` on one sample at a time."""
    import torch
    from tqdm.auto import tqdm

    from xinyu.models import DEFAULT_MODEL, load_model
    from xinyu.models.templates import stop_token_ids

    model, tok = load_model(DEFAULT_MODEL)
    stops = stop_token_ids(tok)
    tokens = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in tqdm(samples, desc="baseline generate", unit="reply"):
            ids = tok.apply_chat_template(s.context, add_generation_prompt=True, return_tensors="pt",
                                          return_dict=True)
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                                 pad_token_id=tok.pad_token_id)
            tokens += int(out.shape[1] - ids["input_ids"].shape[1])
    wall = time.perf_counter() - t0
    del model
    return {"path": "transformers model.generate, one at a time (baseline)", "wall_s": wall, "n": len(samples),
            "tokens": tokens}


def _xinyu_generate(kind: str, data: Path, n: int, max_new_tokens: int, batch_size: int, tmp: Path) -> dict:
    from xinyu.eval.generate import run_generation
    from xinyu.models import DEFAULT_MODEL
    from xinyu.serve.backends import GenerationParams, load_backend

    backend = load_backend(DEFAULT_MODEL, kind)
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0, top_p=1.0)
    out = tmp / f"xinyu-{kind}"
    t0 = time.perf_counter()
    run_generation(backend, data, out, params, model=DEFAULT_MODEL, limit=n, batch_size=batch_size, progress=True)
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text(encoding="utf-8").splitlines()]
    backend.close()
    label = "xinyu llama.cpp (GGUF Q4_K_M), sequential" if kind == "llama" else \
        f"xinyu transformers, batched (batch {batch_size}, left padding)"
    return {"path": label, "wall_s": wall, "n": len(rows), "tokens": sum(r["tokens"] or 0 for r in rows)}


def bench_generation(n: int, max_new_tokens: int, batch_size: int, paths: list[str]) -> list[dict]:
    from xinyu.eval.samples import build_samples

    rows = []
    with tempfile.TemporaryDirectory(prefix="xinyu-bench-eval-") as tmp:
        data = _test_split(Path(tmp))
        samples = build_samples(data, limit=n)
        if "baseline" in paths:
            rows.append(_baseline_generate(samples, max_new_tokens))
        for kind in ("llama", "transformers"):
            if kind in paths:
                rows.append(_xinyu_generate(kind, data, n, max_new_tokens, batch_size, Path(tmp)))
    for row in rows:
        row["samples_per_s"] = row["n"] / row["wall_s"]
        row["tokens_per_s"] = row["tokens"] / row["wall_s"]
        row["tokens_per_reply"] = row["tokens"] / max(1, row["n"])
    return rows


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "metrics", "generation"], default="all")
    parser.add_argument("--pairs", type=int, default=10_000, help="(a) pairs to score")
    parser.add_argument("--workers", type=int, default=None, help="(a) processes for xinyu (default: automatic)")
    parser.add_argument("--n", type=int, default=200, help="(b) replies to generate")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="(b) tokens per reply")
    parser.add_argument("--batch-size", type=int, default=16, help="(b) transformers batch size")
    parser.add_argument("--paths", default="baseline,llama,transformers", help="(b) which generation paths")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    console = Console()
    console.print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
    results: dict = {}
    if args.part in ("all", "metrics"):
        m = bench_metrics(args.pairs, args.workers)
        results["metrics"] = m
        table = Table(title=f"(a) BLEU-4 + ROUGE-1/2/L on {m['pairs']:,} pairs")
        for col in ("implementation", "seconds", "pairs/s", "speed-up"):
            table.add_column(col, justify="right" if col != "implementation" else "left")
        for label, secs in (("LLaMA-Factory per-sample loop (baseline)", m["baseline_s"]),
                            ("xinyu, 1 process", m["xinyu_1proc_s"]),
                            (f"xinyu, workers={m['workers']}", m["xinyu_s"])):
            table.add_row(label, f"{secs:.2f}", f"{m['pairs'] / secs:,.0f}", f"{m['baseline_s'] / secs:.1f}×")
        console.print(table)
        verdict = "PASS" if m["mismatches"] == 0 and m["xinyu_s"] <= m["baseline_s"] else "FAIL"
        console.print(f"per-sample mismatches: {m['mismatches']}  means: {m['means']}  → {verdict}")
    if args.part in ("all", "generation"):
        rows = bench_generation(args.n, args.max_new_tokens, args.batch_size, args.paths.split(","))
        results["generation"] = rows
        table = Table(title=f"(b) turn-based generation, {args.n} replies, greedy, max_new_tokens={args.max_new_tokens}")
        for col in ("path", "seconds", "samples/s", "tokens/s", "tokens/reply", "vs baseline"):
            table.add_column(col, justify="right" if col != "path" else "left")
        base = next((r for r in rows if "baseline" in r["path"]), None)
        for r in rows:
            ratio = f"{r['samples_per_s'] / base['samples_per_s']:.1f}×" if base else "–"
            table.add_row(r["path"], f"{r['wall_s']:.1f}", f"{r['samples_per_s']:.2f}", f"{r['tokens_per_s']:.1f}",
                          f"{r['tokens_per_reply']:.1f}", ratio)
        console.print(table)
        if base:
            best = max(r["samples_per_s"] for r in rows if r is not base) / base["samples_per_s"]
            console.print(f"best xinyu path: {best:.1f}× the baseline's samples/s (target ≥ 3×) → "
                          f"{'PASS' if best >= 3 else 'FAIL'}")
    console.print(f"load average at end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
