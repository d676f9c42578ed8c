"""Reference-based metrics, comparable with LLaMA-Factory's ``predict_bleu-4`` and ``predict_rouge-*``.

Per pair (prediction, reference), LLaMA-Factory (``src/llamafactory/train/sft/metric.py``,
``ComputeSimilarity``) computes

* ROUGE-1/2/L F on jieba words with ``rouge_chinese.Rouge`` (0 when either side has no word),
* BLEU-4 on characters with ``nltk``'s ``sentence_bleu`` and smoothing method 3,

each as ``round(value * 100, 4)``, and reports the mean of each list. :func:`llamafactory_pair`
is that code verbatim (the plain per-sample implementation); :func:`similarity_scores` gives the
same numbers faster (see :mod:`xinyu.eval.fastscore`), segmenting each unique text once and
optionally using a process pool.

Other metrics, with their units:

* ``distinct-1``/``distinct-2``: corpus-level distinct-n over **characters**: the number of unique
  character n-grams divided by the total number of character n-grams, pooled over all predictions
  (n-grams never cross two predictions; whitespace is removed first, punctuation is kept).
* ``mean_len``: mean prediction length in characters (``len(str)``, whitespace included).
* ``runtime_s``, ``samples_per_s``, ``tokens_per_s``: wall time spent generating the predictions
  (see :mod:`xinyu.eval.generate`), predictions per second and generated tokens per second.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xinyu.errors import DataError
from xinyu.eval.fastscore import METRIC_KEYS, rouge_text, score_pair
from xinyu.eval.segment import segment, segmenter
from xinyu.io import read_json, write_json

# Below this many pairs a process pool costs more (start-up + loading jieba) than it saves.
POOL_MIN_PAIRS = 2000


def llamafactory_pair(prediction: str, reference: str) -> dict[str, float]:
    """Score one pair with LLaMA-Factory's code, verbatim (slow; the reference implementation)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_chinese import Rouge

    hypothesis = segment(prediction)
    ref_words = segment(reference)
    if len(" ".join(hypothesis).split()) == 0 or len(" ".join(ref_words).split()) == 0:
        result = {"rouge-1": {"f": 0.0}, "rouge-2": {"f": 0.0}, "rouge-l": {"f": 0.0}}
    else:
        result = Rouge().get_scores(" ".join(hypothesis), " ".join(ref_words))[0]
    scores = {k: round(v["f"] * 100, 4) for k, v in result.items()}
    bleu = sentence_bleu([list(reference)], list(prediction), smoothing_function=SmoothingFunction().method3)
    scores["bleu-4"] = round(bleu * 100, 4)
    return scores


def _score_chunk(pairs: Sequence[tuple[str, str]]) -> list[tuple[float, float, float, float]]:
    """Score pairs in this process, segmenting every distinct text once."""
    prepared: dict[str, Any] = {}
    out = []
    for prediction, reference in pairs:
        for text in (prediction, reference):
            if text not in prepared:
                prepared[text] = rouge_text(segment(text))
        out.append(score_pair(prediction, reference, prepared[prediction], prepared[reference]))
    return out


def _can_fork() -> bool:
    import multiprocessing
    import sys

    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _default_workers(n: int) -> int:
    if n < POOL_MIN_PAIRS or not _can_fork():
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def similarity_scores(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    workers: int | None = None,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Per-sample BLEU-4 and ROUGE-1/2/L (0-100, 4 decimals) as LLaMA-Factory computes them.

    Args:
        predictions: Model replies.
        references: Gold replies, same length.
        workers: Processes to use (default: 2 from :data:`POOL_MIN_PAIRS` pairs up, else 1).
        progress: Show a progress bar.

    Returns:
        ``{"bleu-4": [...], "rouge-1": [...], "rouge-2": [...], "rouge-l": [...]}``.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    pairs = list(zip(predictions, references, strict=True))
    workers = _default_workers(len(pairs)) if workers is None else max(1, workers)
    if not _can_fork():
        workers = 1
    from tqdm.auto import tqdm

    bar = tqdm(total=len(pairs), desc="metrics", unit="pair", disable=not progress or len(pairs) < 500, leave=False)
    rows: list[tuple[float, float, float, float]] = []
    if workers == 1 or len(pairs) < 2:
        step = 500
        for start in range(0, len(pairs), step):
            rows.extend(_score_chunk(pairs[start : start + step]))
            bar.update(min(step, len(pairs) - start))
    else:
        import multiprocessing
        import warnings
        from concurrent.futures import ProcessPoolExecutor

        segmenter()  # load the dictionary once; forked workers inherit it
        # Contiguous chunks keep a model's repeated replies in one worker (each text segmented once).
        size = max(50, math.ceil(len(pairs) / (workers * 4)))
        chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        # fork, not spawn: spawn re-imports the caller's __main__ (breaking scripts without a main
        # guard) and reloads jieba. The workers run pure Python only (no torch/OpenMP), which is
        # what makes forking a process that holds such threads safe here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for chunk, result in zip(chunks, pool.map(_score_chunk, chunks), strict=True):
                    rows.extend(result)
                    bar.update(len(chunk))
    bar.close()
    return {key: [row[i] for row in rows] for i, key in enumerate(METRIC_KEYS)}


def distinct_n(predictions: Sequence[str], n: int) -> float:
    """Corpus-level distinct-n over characters (whitespace removed); 0.0 when there are no n-grams."""
    seen: set[str] = set()
    total = 0
    for text in predictions:
        chars = "".join(text.split())
        grams = [chars[i : i + n] for i in range(len(chars) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def text_metrics(
    predictions: Sequence[str], references: Sequence[str], *, workers: int | None = None, progress: bool = False
) -> dict[str, float]:
    """BLEU-4, ROUGE-1/2/L (means of per-sample values), distinct-1/2, mean length and count."""
    scores = similarity_scores(predictions, references, workers=workers, progress=progress)
    out: dict[str, float] = {key: float(np.mean(values)) if values else 0.0 for key, values in scores.items()}
    out["distinct-1"] = distinct_n(predictions, 1)
    out["distinct-2"] = distinct_n(predictions, 2)
    out["mean_len"] = float(np.mean([len(p) for p in predictions])) if predictions else 0.0
    out["n"] = len(predictions)
    return out


def _read_generations(path: Path) -> list[dict[str, Any]]:
    from xinyu.io import iter_jsonl

    rows = []
    for lineno, row in iter_jsonl(path):
        for key in ("prediction", "reference"):
            if not isinstance(row, dict) or not isinstance(row.get(key), str):
                raise DataError("expected a string (a generations.jsonl record)", path=path, line=lineno, field=key)
        rows.append(row)
    return rows


def compute_metrics(out_dir: str | Path, *, workers: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Compute metrics for an evaluation directory and write ``<out_dir>/metrics.json``.

    Reads ``generations.jsonl``: predictions, references, and per sample the generated ``tokens``
    and ``cost_s`` (its share of the generation wall time, see :mod:`xinyu.eval.generate`), whose
    sum is ``runtime_s``.

    Returns:
        ``{"bleu-4", "rouge-1", "rouge-2", "rouge-l", "distinct-1", "distinct-2", "mean_len", "n",
        "runtime_s", "samples_per_s", "tokens_per_s"}``; rates are None when unknown.
    """
    out_dir = Path(out_dir)
    path = out_dir / "generations.jsonl"
    if not path.is_file():
        raise DataError("no generations.jsonl here: run `xinyu eval generate` first", path=out_dir)
    rows = _read_generations(path)
    metrics: dict[str, Any] = text_metrics(
        [r["prediction"] for r in rows], [r["reference"] for r in rows], workers=workers, progress=progress
    )
    runtime = sum(float(r.get("cost_s") or 0.0) for r in rows)
    tokens = [r.get("tokens") for r in rows]
    known_tokens = all(isinstance(t, int) for t in tokens) and bool(tokens)
    metrics["runtime_s"] = round(runtime, 3) if runtime > 0 else None
    metrics["samples_per_s"] = round(len(rows) / runtime, 4) if runtime > 0 else None
    metrics["tokens_per_s"] = round(sum(tokens) / runtime, 2) if runtime > 0 and known_tokens else None
    info_path = out_dir / "info.json"
    if info_path.is_file():
        metrics["model"] = read_json(info_path).get("name")
    write_json(out_dir / "metrics.json", metrics)
    return metrics
