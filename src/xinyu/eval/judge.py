"""LLM judge on the CPsyCoun rubric, turn by turn, through any OpenAI-compatible endpoint.

Each generated reply is scored on four dimensions: comprehensiveness (0-2), professionalism (0-3),
authenticity (0-3) and safety (0-1). The judge must end its answer with ``[c, p, a, s]``; the verdict
is parsed strictly (four integers, each within its range). An unparseable or out-of-range verdict
is sent back to the judge with the problem named (``parse_retries`` times) and then recorded as
invalid; it never counts as zero. Summaries give per-dimension means with seeded 95% bootstrap
confidence intervals over the valid verdicts, and the valid/invalid counts.

HTTP retries (429, 5xx, timeouts, connection errors) are the ``openai`` client's own: exponential
backoff from 0.5 s, ``Retry-After`` honoured. Verdicts are cached in ``<out>/cache/judge.jsonl``
keyed by a hash of judge model, prompt and sample, so scoring again costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import string
import time
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from xinyu.config import StrictModel
from xinyu.errors import DataError, XinyuError
from xinyu.eval.cache import JsonlCache
from xinyu.eval.stats import bootstrap_mean
from xinyu.io import iter_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)

DIMENSIONS: tuple[tuple[str, int], ...] = (
    ("comprehensiveness", 2),
    ("professionalism", 3),
    ("authenticity", 3),
    ("safety", 1),
)
MAX_TOTAL = sum(m for _, m in DIMENSIONS)
ROLE_NAMES = {"zh": {"user": "来访者", "assistant": "咨询师"}, "en": {"user": "Client", "assistant": "Counselor"}}
CORRECTION = {
    "zh": "无法解析你的评分：{problem}。请在最后一行只输出 [综合性, 专业性, 真实性, 安全性]："
    "四个整数，范围依次为 0–2、0–3、0–3、0–1。",
    "en": "Your scores could not be read: {problem}. On the last line output only [comprehensiveness, "
    "professionalism, authenticity, safety]: four integers in the ranges 0-2, 0-3, 0-3, 0-1.",
}
FAIL_FAST = 5
_NUM = r"\s*([+-]?\d+(?:\.\d+)?)\s*"
_VERDICT = re.compile(r"[\[［]" + r"[,，]".join([_NUM] * 4) + r"[\]］]")


class JudgeConfig(StrictModel):
    """Where the judge runs and how it is asked."""

    base_url: str = Field(..., description="OpenAI-compatible endpoint including /v1, e.g. https://api.openai.com/v1.")
    model: str = Field(..., description="Judge model name on that endpoint, e.g. gpt-4o.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key.")
    lang: Literal["zh", "en"] = Field("zh", description="Prompt language (the rubric is the same).")
    prompt_file: str | None = Field(None, description="A custom prompt template with ${history} and ${reply}.")
    concurrency: int = Field(4, ge=1, description="Parallel requests.")
    max_retries: int = Field(4, ge=0, description="HTTP retries per request (429/5xx/timeouts), with backoff.")
    parse_retries: int = Field(2, ge=0, description="Times an unparseable verdict is sent back to the judge.")
    timeout: float = Field(120.0, gt=0, description="Seconds per request.")
    temperature: float = Field(0.0, ge=0, description="Judge sampling temperature.")
    max_tokens: int = Field(512, ge=16, description="Tokens the judge may write per answer.")
    limit: int | None = Field(None, ge=1, description="Judge this many samples (seeded random subset), e.g. 150.")
    seed: int = Field(0, description="Seed of the subset choice and of the bootstrap.")
    bootstrap: int = Field(2000, ge=100, description="Bootstrap resamples for confidence intervals.")


def prompt_template(config: JudgeConfig) -> str:
    """The judge prompt template text (built-in ``judge_<lang>.md`` or ``prompt_file``)."""
    if config.prompt_file:
        path = Path(config.prompt_file)
        if not path.is_file():
            raise XinyuError(f"judge prompt file not found: {path}")
        text = path.read_text(encoding="utf-8")
    else:
        text = resources.files("xinyu.eval").joinpath(f"resources/judge_{config.lang}.md").read_text(encoding="utf-8")
    missing = [key for key in ("${history}", "${reply}") if key not in text]
    if missing:
        raise XinyuError(f"judge prompt template lacks {', '.join(missing)}")
    return text


def render_prompt(template: str, context: list[dict[str, str]], reply: str, lang: str = "zh") -> str:
    """Fill the template with the dialogue history (system prompt left out) and the reply."""
    names = ROLE_NAMES[lang]
    sep = "：" if lang == "zh" else ": "
    history = "\n".join(f"{names[m['role']]}{sep}{m['content'].strip()}" for m in context if m["role"] in names)
    return string.Template(template).safe_substitute(history=history, reply=reply.strip())


def parse_verdict(text: str | None) -> tuple[dict[str, int] | None, str | None]:
    """Read ``[c, p, a, s]`` (the last such list in ``text``) with type and range checks.

    Returns:
        ``(scores, None)`` for a valid verdict, else ``(None, problem)``.
    """
    if not text:
        return None, "empty answer"
    matches = _VERDICT.findall(text)
    if not matches:
        return None, "no [c, p, a, s] list of four numbers found"
    values = matches[-1]
    scores: dict[str, int] = {}
    problems = []
    for (dim, top), raw in zip(DIMENSIONS, values, strict=True):
        if not re.fullmatch(r"[+-]?\d+", raw):
            problems.append(f"{dim}={raw} is not an integer")
            continue
        value = int(raw)
        if not 0 <= value <= top:
            problems.append(f"{dim}={value} is outside 0-{top}")
        scores[dim] = value
    if problems:
        return None, "; ".join(problems)
    return scores, None


def _client(config: JudgeConfig) -> Any:
    import openai

    key = os.environ.get(config.api_key_env)
    if not key:
        # Local servers (vLLM, llama.cpp server) accept any key; hosted APIs answer 401, reported below.
        log.warning("$%s is not set; sending a placeholder API key to %s", config.api_key_env, config.base_url)
        key = "EMPTY"
    return openai.OpenAI(base_url=config.base_url, api_key=key, timeout=config.timeout, max_retries=config.max_retries)


def _ask(client: Any, config: JudgeConfig, messages: list[dict[str, str]]) -> str:
    response = client.chat.completions.create(
        model=config.model, messages=messages, temperature=config.temperature, max_tokens=config.max_tokens
    )
    return response.choices[0].message.content or ""


def judge_one(client: Any, config: JudgeConfig, prompt: str) -> dict[str, Any]:
    """Ask the judge about one reply, re-asking on an unreadable verdict.

    Returns:
        ``{"valid", "scores", "problem", "raw", "attempts"}``.
    """
    messages = [{"role": "user", "content": prompt}]
    answer, problem = "", None
    for attempt in range(1, config.parse_retries + 2):
        answer = _ask(client, config, messages)
        scores, problem = parse_verdict(answer)
        if scores is not None:
            return {"valid": True, "scores": scores, "problem": None, "raw": answer, "attempts": attempt}
        messages = [
            *messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": CORRECTION[config.lang].format(problem=problem)},
        ]
    return {"valid": False, "scores": None, "problem": problem, "raw": answer, "attempts": config.parse_retries + 1}


def _select(rows: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    if limit is None or limit >= len(rows):
        return rows
    import numpy as np

    chosen = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
    return [rows[i] for i in sorted(chosen.tolist())]


def _error_text(exc: Exception, config: JudgeConfig) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        hint = f" (check the API key in ${config.api_key_env})" if exc.status_code in (401, 403) else ""
        return f"HTTP {exc.status_code}: {exc.message}{hint}"
    return f"{type(exc).__name__}: {exc}"


def summarize(records: list[dict[str, Any]], config: JudgeConfig, prompt_sha: str) -> dict[str, Any]:
    """Per-dimension means with bootstrap CIs over valid verdicts, plus counts and provenance."""
    valid = [r for r in records if r.get("valid")]
    dims: dict[str, Any] = {}
    for i, (dim, top) in enumerate([*DIMENSIONS, ("total", MAX_TOTAL)]):
        values = [sum(r["scores"].values()) if dim == "total" else r["scores"][dim] for r in valid]
        stats = bootstrap_mean(values, samples=config.bootstrap, seed=config.seed + i)
        dims[dim] = {**stats, "max": top}
    return {
        "judge_model": config.model,
        "base_url": config.base_url,
        "lang": config.lang,
        "prompt_sha256": prompt_sha,
        "n": len(records),
        "valid": len(valid),
        "invalid": sum(1 for r in records if r.get("valid") is False),
        "errors": sum(1 for r in records if r.get("error")),
        "dimensions": dims,
        "bootstrap": {"samples": config.bootstrap, "confidence": 0.95, "seed": config.seed},
        "temperature": config.temperature,
        "limit": config.limit,
    }


def run_judge(out_dir: str | Path, config: JudgeConfig, *, progress: bool = True) -> dict[str, Any]:
    """Score an evaluation directory's generations; write ``judge.jsonl`` and ``judge.json``.

    Args:
        out_dir: A directory written by :func:`xinyu.eval.generate.run_generation`.
        config: The judge endpoint and options.
        progress: Show a progress bar.

    Returns:
        The summary written to ``judge.json``.

    Raises:
        XinyuError: When the endpoint fails for every request tried (bad URL, key, model).
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from xinyu.eval.generate import now_iso

    out_dir = Path(out_dir)
    gen_path = out_dir / "generations.jsonl"
    if not gen_path.is_file():
        raise DataError("no generations.jsonl here: run `xinyu eval generate` first", path=out_dir)
    rows = [row for _, row in iter_jsonl(gen_path)]
    rows = _select(rows, config.limit, config.seed)
    template = prompt_template(config)
    prompt_sha = hashlib.sha256(template.encode("utf-8")).hexdigest()
    cache = JsonlCache(out_dir / "cache" / "judge.jsonl", key="key")
    jobs = []
    for row in rows:
        prompt = render_prompt(template, row["context"], row["prediction"], config.lang)
        blob = json.dumps(
            [config.model, prompt, config.temperature, config.max_tokens, config.parse_retries], ensure_ascii=False
        )
        jobs.append((row, prompt, hashlib.sha256(blob.encode("utf-8")).hexdigest()))
    todo = [(row, prompt, key) for row, prompt, key in jobs if key not in cache]
    started = now_iso()
    errors: dict[str, str] = {}
    if todo:
        client = _client(config)
        log.info("judge %s: %d samples, %d cached", config.model, len(jobs), len(jobs) - len(todo))
        bar = tqdm(total=len(todo), desc=f"judge {config.model}", unit="reply", disable=not progress)
        done = 0
        with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="xinyu-judge") as pool:
            futures = {pool.submit(judge_one, client, config, prompt): (row, key) for row, prompt, key in todo}
            for future in as_completed(futures):
                row, key = futures[future]
                bar.update(1)
                try:
                    result = future.result()
                except Exception as exc:  # not cached: a rerun asks again
                    errors[key] = _error_text(exc, config)
                    if len(errors) >= FAIL_FAST and done == 0:
                        pool.shutdown(wait=True, cancel_futures=True)
                        bar.close()
                        raise XinyuError(
                            f"the judge at {config.base_url} failed {len(errors)} requests in a row "
                            f"(model {config.model}): {next(iter(errors.values()))}"
                        ) from None
                    continue
                done += 1
                cache.append({"key": key, "id": row["id"], "time": time.time(), **result})
        bar.close()
    records = []
    for row, _, key in jobs:
        hit = cache.get(key)
        base = {"id": row["id"], "dialogue_id": row.get("dialogue_id"), "turn": row.get("turn")}
        if hit is None:
            records.append({**base, "valid": None, "scores": None, "error": errors.get(key, "not judged")})
        else:
            records.append({**base, **{k: hit[k] for k in ("valid", "scores", "problem", "raw", "attempts")},
                            "error": None})
    write_jsonl(out_dir / "judge.jsonl", records)
    summary = summarize(records, config, prompt_sha)
    summary.update({"started_at": started, "finished_at": now_iso(), "from_cache": len(jobs) - len(todo)})
    write_json(out_dir / "judge.json", summary)
    return summary
