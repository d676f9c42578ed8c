"""Turn-based generation over a test split, through any backend, cached per sample.

Three ways to drive a backend, chosen from what it offers:

* **batched**: backends with ``generate_batch`` (transformers): prompts sorted by length and sent
  ``batch_size`` at a time with left padding;
* **concurrent**: backends that run several streams at once (remote OpenAI-compatible servers such
  as vLLM or SGLang, ``max_concurrency > 1``): a thread pool of ``concurrency`` requests;
* **sequential**: everything else (llama.cpp).

Results are cached in ``<out>/cache/generations-<key>.jsonl`` where the key hashes the model
fingerprint (:mod:`xinyu.eval.identity`), the data file's SHA-256, the generation parameters and
the system prompt; a rerun generates only the samples that are missing. Timing: each sample
records ``latency`` (wall time of the request or batch that produced it) and ``cost_s``, its share
of the wall time (the time since the previous completion, split over the samples finished
together), so ``sum(cost_s)`` is the generation runtime even when the results were produced over
several interrupted runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xinyu import __version__
from xinyu.errors import XinyuError
from xinyu.eval.cache import JsonlCache
from xinyu.eval.identity import model_identity
from xinyu.eval.samples import Sample, build_samples, file_sha256
from xinyu.io import write_json, write_jsonl
from xinyu.serve.backends import GenerationParams, open_stream

log = logging.getLogger(__name__)

# Evaluation default: greedy decoding, so numbers are reproducible.
DEFAULT_PARAMS = GenerationParams(max_new_tokens=256, temperature=0.0, top_p=1.0)
# Give up after this many failures when nothing has succeeded yet.
FAIL_FAST = 5


def now_iso() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def cache_key(fingerprint: str, data_sha256: str, params: GenerationParams, system_prompt: str | None) -> str:
    """The generation cache key (16 hex digits)."""
    blob = json.dumps(
        {"model": fingerprint, "data": data_sha256, "params": params.to_dict(), "system_prompt": system_prompt},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def pick_mode(backend: Any, batch_size: int, concurrency: int | None) -> tuple[str, int]:
    """``("batched"|"concurrent"|"sequential", workers)`` for a backend."""
    if hasattr(backend, "generate_batch") and batch_size > 1:
        return "batched", batch_size
    workers = concurrency if concurrency is not None else int(getattr(backend, "max_concurrency", 1) or 1)
    if workers > 1:
        return "concurrent", workers
    return "sequential", 1


class _Recorder:
    """Turns finished samples into records carrying their share of the wall time.

    Args:
        sink: Receives each record (the cache's ``append``, or a plain collector).
        bar: Progress bar to advance.
    """

    def __init__(self, sink: Callable[[dict[str, Any]], None], bar: Any) -> None:
        self.sink = sink
        self.bar = bar
        self.last = time.perf_counter()
        self.generated = 0

    def finished(self, items: Sequence[tuple[Sample, str, int | None, float, str | None]]) -> None:
        now = time.perf_counter()
        share = (now - self.last) / max(1, len(items))
        self.last = now
        for sample, text, tokens, latency, finish in items:
            self.sink(
                {
                    "id": sample.id,
                    "prediction": text,
                    "tokens": tokens,
                    "latency": round(latency, 4),
                    "cost_s": round(share, 6),
                    "finish_reason": finish,
                }
            )
        self.generated += len(items)
        self.bar.update(len(items))


def _one(backend: Any, sample: Sample, params: GenerationParams) -> tuple[str, int | None, float, str | None]:
    start = time.perf_counter()
    pieces, stats = open_stream(backend, sample.context, params)
    text = "".join(pieces)
    tokens = stats.completion_tokens if stats.completion_tokens else None
    return text, tokens, time.perf_counter() - start, stats.finish_reason


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, XinyuError) else f"{type(exc).__name__}: {exc}"


def _hopeless(failures: list[tuple[str, str]], rec: _Recorder) -> bool:
    # A dead server or a model that cannot take these prompts fails every sample: stop after a few
    # failures in a row without a single success instead of waiting out every retry.
    return len(failures) >= FAIL_FAST and rec.generated == 0


def _run_batched(backend: Any, todo: list[Sample], params: GenerationParams, size: int, rec: _Recorder) -> None:
    render = getattr(backend, "render", None)
    lengths = {s.id: len(render(s.context)) if render else sum(len(m["content"]) for m in s.context) for s in todo}
    # Longest first: similar lengths share a batch (little padding) and memory peaks come early.
    ordered = sorted(todo, key=lambda s: -lengths[s.id])
    count = getattr(backend, "count_tokens", None)
    for start in range(0, len(ordered), size):
        batch = ordered[start : start + size]
        t0 = time.perf_counter()
        replies = backend.generate_batch([s.context for s in batch], params, batch_size=size)
        latency = time.perf_counter() - t0
        rec.finished([(s, r, count(r) if count else None, latency, None) for s, r in zip(batch, replies, strict=True)])


def _run_concurrent(
    backend: Any, todo: list[Sample], params: GenerationParams, workers: int, rec: _Recorder
) -> list[tuple[str, str]]:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    failures: list[tuple[str, str]] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xinyu-eval") as pool:
        futures = {pool.submit(_one, backend, s, params): s for s in todo}
        for future in as_completed(futures):
            sample = futures[future]
            try:
                text, tokens, latency, finish = future.result()
            except Exception as exc:
                failures.append((sample.id, _describe(exc)))
                if _hopeless(failures, rec):
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
                continue
            rec.finished([(sample, text, tokens, latency, finish)])
    return failures


def _run_sequential(backend: Any, todo: list[Sample], params: GenerationParams, rec: _Recorder) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    for sample in todo:
        try:
            text, tokens, latency, finish = _one(backend, sample, params)
        except Exception as exc:
            failures.append((sample.id, _describe(exc)))
            if _hopeless(failures, rec):
                break
            continue
        rec.finished([(sample, text, tokens, latency, finish)])
    return failures


def generate_replies(
    backend: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    params: GenerationParams,
    *,
    batch_size: int = 8,
    concurrency: int | None = None,
    progress: bool = True,
    desc: str = "generate",
) -> list[str]:
    """One reply per conversation, in order, without caching (for short fixed sets such as probes)."""
    from tqdm.auto import tqdm

    samples = [Sample(id=str(i), dialogue_id=str(i), turn=1, context=list(c), reference="") for i, c in enumerate(conversations)]
    mode, workers = pick_mode(backend, batch_size, concurrency)
    out: dict[str, str] = {}
    with tqdm(total=len(samples), desc=desc, unit="reply", disable=not progress) as bar:
        rec = _Recorder(lambda record: out.__setitem__(record["id"], record["prediction"]), bar)
        if mode == "batched":
            _run_batched(backend, samples, params, workers, rec)
            failures: list[tuple[str, str]] = []
        elif mode == "concurrent":
            failures = _run_concurrent(backend, samples, params, workers, rec)
        else:
            failures = _run_sequential(backend, samples, params, rec)
    if failures:
        raise XinyuError(f"{len(failures)} of {len(samples)} generations failed (first: {failures[0][1]})")
    return [out[s.id] for s in samples]


def run_generation(
    backend: Any,
    data_path: str | Path,
    out_dir: str | Path,
    params: GenerationParams | None = None,
    *,
    model: str | None = None,
    name: str | None = None,
    system_prompt: str | None = None,
    max_turns: int | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    concurrency: int | None = None,
    progress: bool = True,
) -> Path:
    """Generate one reply per test turn and write ``generations.jsonl`` and ``info.json``.

    Args:
        backend: Any backend (see :func:`xinyu.serve.backends.load_backend`).
        data_path: Dialogue JSONL test split.
        out_dir: Evaluation directory (created).
        params: Generation parameters (default: greedy, 256 new tokens).
        model: The model argument behind ``backend`` (recorded; used for the cache fingerprint).
        name: Label of this model in reports (default: the backend's name).
        system_prompt: Persona/system prompt replacing the dialogues' own (recorded); ``"persona"``: the default
            persona that chat/serve send.
        max_turns: Assistant turns per dialogue (the first ones).
        limit: Number of samples (the first ones, in file order).
        batch_size: Batch size for backends that batch (transformers); 1 streams one at a time.
        concurrency: Parallel requests for remote backends (default: the backend's ``max_concurrency``).
        progress: Show a progress bar.

    Returns:
        ``out_dir``.

    Raises:
        XinyuError: When some samples failed (the finished ones stay cached; rerun to retry).
    """
    from tqdm.auto import tqdm

    params = params or DEFAULT_PARAMS
    out_dir = Path(out_dir)
    data_path = Path(data_path)
    started = now_iso()
    from xinyu.serve.persona import resolve_system_prompt

    system_prompt = resolve_system_prompt(system_prompt)
    samples = build_samples(data_path, system_prompt=system_prompt, max_turns=max_turns, limit=limit)
    data_sha = file_sha256(data_path)
    identity = model_identity(backend, model)
    key = cache_key(identity["fingerprint"], data_sha, params, system_prompt)
    cache = JsonlCache(out_dir / "cache" / f"generations-{key}.jsonl")
    todo = [s for s in samples if s.id not in cache]
    mode, workers = pick_mode(backend, batch_size, concurrency)
    label = name or identity["name"] or "model"
    log.info("generation %s: %d samples, %d cached, mode %s", label, len(samples), len(samples) - len(todo), mode)
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"generate {label}", unit="reply", disable=not progress or not todo)
    rec = _Recorder(cache.append, bar)
    failures: list[tuple[str, str]] = []
    try:
        if todo and mode == "batched":
            _run_batched(backend, todo, params, workers, rec)
        elif todo and mode == "concurrent":
            failures = _run_concurrent(backend, todo, params, workers, rec)
        elif todo:
            failures = _run_sequential(backend, todo, params, rec)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    if failures:
        first_id, first_error = failures[0]
        raise XinyuError(
            f"{len(failures)} of {len(todo)} generations failed (first: sample {first_id}: {first_error}); "
            f"the {rec.generated} finished ones are cached in {cache.path}, rerun to retry the rest"
        )
    rows = []
    for s in samples:
        cached = cache.get(s.id) or {}
        rows.append(
            {
                "id": s.id,
                "dialogue_id": s.dialogue_id,
                "turn": s.turn,
                "context": s.context,
                "reference": s.reference,
                "prediction": cached.get("prediction", ""),
                "tokens": cached.get("tokens"),
                "latency": cached.get("latency"),
                "cost_s": cached.get("cost_s"),
                "finish_reason": cached.get("finish_reason"),
            }
        )
    write_jsonl(out_dir / "generations.jsonl", rows)
    contamination = data_path.parent / "contamination.json"
    info = {
        "name": label,
        "model": identity,
        "backend": dict(backend.info()) if hasattr(backend, "info") else {},
        "data": {
            "path": str(data_path),
            "sha256": data_sha,
            "samples": len(samples),
            "dialogues": len({s.dialogue_id for s in samples}),
            "contamination": str(contamination) if contamination.is_file() else None,
        },
        "params": params.to_dict(),
        "system_prompt": system_prompt,
        "max_turns": max_turns,
        "limit": limit,
        "generation": {
            "mode": mode,
            "batch_size": batch_size if mode == "batched" else None,
            "concurrency": workers if mode == "concurrent" else None,
            "generated_now": len(todo),
            "from_cache": len(samples) - len(todo),
            "wall_s_now": round(wall, 3),
            "cache": str(cache.path),
            "cache_key": key,
        },
        "xinyu_version": __version__,
        "started_at": started,
        "finished_at": now_iso(),
    }
    write_json(out_dir / "info.json", info)
    return out_dir
