"""Compare a policy before and after alignment on held-out prompts.

For each policy, replies are sampled for the same held-out prompts (same seed and parameters) and
scored with:

* the trained reward model (mean score, raw and standardised as in RL),
* the safety screen (:func:`xinyu.safety.screen`): share of replies that pass unchanged,
* the safety reward (:mod:`xinyu.safety.reward`, in [-1, 1]) and the style term,
* the combined RL reward ``R`` with the recipe's weights (:mod:`xinyu.train.rewards`),
* optionally the LLM judge (:mod:`xinyu.eval.judge`, CPsyCoun rubric) when a judge is configured.

Means come with seeded 95% bootstrap intervals; the aligned-minus-SFT change of each per-prompt
mean gets a paired bootstrap interval. Results go to ``align.json``, ``align.md`` (a section the
evaluation report can include) and ``align_samples.jsonl`` (the replies and their scores).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xinyu.errors import DataError

log = logging.getLogger(__name__)

METRICS = (
    ("reward_model", "reward model score (standardised)"),
    ("reward_model_raw", "reward model score (raw)"),
    ("safety", "safety reward"),
    ("style", "style term"),
    ("total", "combined reward R"),
    ("screen_pass", "safety screen pass rate"),
    ("chars", "reply length (characters)"),
)


def load_prompts(path: str | Path, *, max_history: int | None = 4, limit: int | None = None, seed: int = 0) -> list[list[dict[str, str]]]:
    """Held-out prompts from a dialogue, pair or prompt JSONL file.

    A dialogue gives every user turn with its history, a pair file its prompts, and a JSONL of
    ``{"messages": [...]}`` ending with a user turn its messages. Duplicates are removed; ``limit`` keeps a seeded random subset (in file order).
    """
    from xinyu.data.preference import prompts_of
    from xinyu.data.schema import Dialogue
    from xinyu.io import iter_jsonl

    path = Path(path)
    if not path.is_file():
        raise DataError("no such file (expected dialogues, pairs or prompts as JSONL)", path=path)
    prompts: list[list[dict[str, str]]] = []
    seen: set[str] = set()
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
            raise DataError("expected an object with a 'messages' list", path=path, line=lineno, field="messages")
        if "chosen" in obj or (obj["messages"] and obj["messages"][-1].get("role") == "user"):
            candidates = [obj["messages"]]
        else:
            dialogue = Dialogue.from_dict(obj, path=path, line=lineno)
            candidates = [p for _, p, _ in prompts_of(dialogue, max_history=max_history)]
        for prompt in candidates:
            if not prompt or prompt[-1].get("role") != "user":
                raise DataError("a prompt must end with a user turn", path=path, line=lineno, field="messages")
            key = repr(prompt)
            if key not in seen:
                seen.add(key)
                prompts.append([{"role": m["role"], "content": m["content"]} for m in prompt])
    if limit is not None and limit < len(prompts):
        keep = sorted(random.Random(seed).sample(range(len(prompts)), limit))
        prompts = [prompts[i] for i in keep]
    return prompts


def generate_with_model(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[dict[str, str]]],
    *,
    samples: int = 1,
    max_new_tokens: int = 64,
    temperature: float = 0.7,
    top_p: float = 0.9,
    seed: int = 0,
    batch_size: int = 8,
) -> list[list[str]]:
    """``samples`` replies per prompt from an in-memory causal LM (left-padded batches, seeded)."""
    import torch
    from tqdm.auto import tqdm

    from xinyu.models.templates import stop_token_ids

    texts = [tokenizer.apply_chat_template(list(p), add_generation_prompt=True, tokenize=False) for p in prompts]
    jobs = [(i, s) for i in range(len(texts)) for s in range(samples)]
    out: list[list[str]] = [[""] * samples for _ in texts]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    sample = temperature > 0
    try:
        torch.manual_seed(seed)
        with torch.inference_mode():
            for start in tqdm(range(0, len(jobs), batch_size), desc="generate", unit="batch", leave=False):
                batch = jobs[start : start + batch_size]
                enc = tokenizer(
                    [texts[i] for i, _ in batch], add_special_tokens=False, padding=True, return_tensors="pt"
                ).to(model.device)
                generated = model.generate(
                    **enc,
                    do_sample=sample,
                    temperature=temperature if sample else None,
                    top_p=top_p if sample else None,
                    top_k=None,
                    max_new_tokens=max_new_tokens,
                    eos_token_id=stop_token_ids(tokenizer),
                    pad_token_id=tokenizer.pad_token_id,
                )
                width = enc["input_ids"].shape[1]
                for row, (i, s) in enumerate(batch):
                    out[i][s] = tokenizer.decode(generated[row, width:], skip_special_tokens=True).strip()
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return out


def generate_with_backend(
    model: str, prompts: Sequence[Sequence[dict[str, str]]], *, samples: int = 1, max_new_tokens: int = 64,
    temperature: float = 0.7, top_p: float = 0.9, seed: int = 0, batch_size: int = 8, kind: str = "auto",
) -> list[list[str]]:
    """``samples`` replies per prompt from any model argument through :func:`xinyu.serve.backends.load_backend`."""
    from xinyu.serve.backends import GenerationParams, complete, load_backend

    backend = load_backend(model, kind=kind)
    try:
        out: list[list[str]] = [[] for _ in prompts]
        for s in range(samples):
            params = GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed + s)
            if hasattr(backend, "generate_batch"):
                replies = backend.generate_batch([list(p) for p in prompts], params, batch_size=batch_size)
            else:
                replies = [complete(backend, list(p), params) for p in prompts]
            for i, reply in enumerate(replies):
                out[i].append(reply.strip())
        return out
    finally:
        backend.close()


def score_replies(
    prompts: Sequence[Sequence[dict[str, str]]],
    replies: Sequence[Sequence[str]],
    *,
    scorer: Any = None,
    score_mean: float = 0.0,
    score_std: float = 1.0,
    weights: dict[str, float] | None = None,
    style: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per (prompt, reply): every term, the combined reward and the screen outcome."""
    from xinyu.safety import screen
    from xinyu.safety.reward import safety_reward_func
    from xinyu.train.rewards import DEFAULT_WEIGHTS, style_score

    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    flat_prompts = [list(p) for p, rs in zip(prompts, replies, strict=True) for _ in rs]
    flat_replies = [r for rs in replies for r in rs]
    index = [(i, s) for i, rs in enumerate(replies) for s in range(len(rs))]
    raw = (
        scorer.score_batch([[*p, {"role": "assistant", "content": r}] for p, r in zip(flat_prompts, flat_replies, strict=True)])
        if scorer is not None
        else [None] * len(flat_replies)
    )
    safety = safety_reward_func(flat_prompts, flat_replies)
    rows = []
    for (i, s), prompt, reply, rm, safe in zip(index, flat_prompts, flat_replies, raw, safety, strict=True):
        result = screen(reply, prompt)
        row: dict[str, Any] = {
            "prompt": i,
            "sample": s,
            "reply": reply,
            "chars": len(reply),
            "safety": safe,
            "style": style_score(reply, **(style or {})),
            "screen_pass": 1.0 if result.ok else 0.0,
            "violations": result.violations,
        }
        if rm is not None:
            row["reward_model_raw"] = rm
            row["reward_model"] = (rm - score_mean) / score_std
        total = sum(weights.get(k, 0.0) * row[k] for k in ("reward_model", "safety", "style") if k in row)
        row["total"] = total
        rows.append(row)
    return rows


def summarize(rows: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Per-metric means with 95% bootstrap intervals (over replies)."""
    from xinyu.eval.stats import bootstrap_mean

    out: dict[str, Any] = {"replies": len(rows), "prompts": len({r["prompt"] for r in rows})}
    for i, (key, _) in enumerate(METRICS):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            out[key] = {k: (round(v, 4) if v is not None else None) for k, v in bootstrap_mean(values, seed=seed + i).items()}
    return out


def paired_change(before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Aligned-minus-SFT change of each metric: per-prompt means, paired bootstrap interval."""
    from xinyu.eval.stats import bootstrap_mean

    def per_prompt(rows: Sequence[dict[str, Any]], key: str) -> dict[int, float]:
        groups: dict[int, list[float]] = {}
        for r in rows:
            if r.get(key) is not None:
                groups.setdefault(r["prompt"], []).append(float(r[key]))
        return {k: sum(v) / len(v) for k, v in groups.items()}

    out: dict[str, Any] = {}
    for i, (key, _) in enumerate(METRICS):
        b, a = per_prompt(before, key), per_prompt(after, key)
        common = sorted(set(a) & set(b))
        if common:
            stats = bootstrap_mean([a[k] - b[k] for k in common], seed=seed + 100 + i)
            out[key] = {k: (round(v, 4) if v is not None else None) for k, v in stats.items()}
    return out


def judge_rows(
    prompts: Sequence[Sequence[dict[str, str]]], rows: Sequence[dict[str, Any]], judge_config: Any
) -> dict[str, Any]:
    """Judge each reply on the CPsyCoun rubric; mean total and dimensions over valid verdicts."""
    from concurrent.futures import ThreadPoolExecutor

    from xinyu.eval import judge as judge_mod

    client = judge_mod._client(judge_config)
    template = judge_mod.prompt_template(judge_config)

    def one(row: dict[str, Any]) -> dict[str, Any]:
        text = judge_mod.render_prompt(template, list(prompts[row["prompt"]]), row["reply"], judge_config.lang)
        return judge_mod.judge_one(client, judge_config, text)

    with ThreadPoolExecutor(max_workers=judge_config.concurrency) as pool:
        verdicts = list(pool.map(one, rows))
    valid = [v["scores"] for v in verdicts if v.get("valid")]
    dims = [d for d, _ in judge_mod.DIMENSIONS]
    out: dict[str, Any] = {"judged": len(verdicts), "valid": len(valid)}
    if valid:
        out.update({d: round(sum(v[d] for v in valid) / len(valid), 4) for d in dims})
        out["total"] = round(sum(sum(v.values()) for v in valid) / len(valid), 4)
    return out


def markdown_section(result: dict[str, Any]) -> str:
    """The comparison as a Markdown section (for the evaluation report)."""
    names = result["policies"]
    lines = [
        "## Alignment: before vs. after",
        "",
        f"{result['prompts']} held-out prompts × {result['samples_per_prompt']} sampled replies per policy "
        f"(temperature {result['generation']['temperature']}, max {result['generation']['max_new_tokens']} new tokens, "
        f"seed {result['generation']['seed']}). Reward weights: {result['weights']}.",
        "",
        f"| metric | {names[0]} | {names[1]} | change (95% CI) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in METRICS:
        b, a, d = result["before"].get(key), result["after"].get(key), result["change"].get(key)
        if not b or not a:
            continue
        ci = f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]" if d else ""
        lines.append(f"| {label} | {b['mean']:.3f} | {a['mean']:.3f} | {ci} |")
    if result.get("judge"):
        j = result["judge"]
        lines += ["", f"LLM judge (CPsyCoun total, 0-9): {names[0]} {j['before'].get('total')}, {names[1]} {j['after'].get('total')}."]
    lines.append("")
    return "\n".join(lines)


def compare_policies(
    before: str,
    after: str,
    prompts: str | Path,
    out_dir: str | Path,
    *,
    reward_model: str | Path | None = None,
    weights: dict[str, float] | None = None,
    names: tuple[str, str] = ("sft", "aligned"),
    limit: int | None = 32,
    samples: int = 2,
    max_new_tokens: int = 64,
    temperature: float = 0.7,
    top_p: float = 0.9,
    seed: int = 0,
    batch_size: int = 8,
    max_history: int | None = 4,
    judge_config: Any = None,
) -> dict[str, Any]:
    """Generate with both policies on the same held-out prompts, score, write ``align.json``/``.md``.

    Args:
        before: The SFT policy (any model argument: run, adapter, HF dir, GGUF, URL).
        after: The aligned policy.
        prompts: Held-out dialogues, pairs or prompts (see :func:`load_prompts`).
        out_dir: Where to write the results.
        reward_model: Reward stage directory or a run holding one (mean RM score); optional.
        weights: Reward weights for the combined reward (default: :data:`~xinyu.train.rewards.DEFAULT_WEIGHTS`).
        names: Labels of the two policies.
        limit: Seeded subset of this many prompts (None: all).
        samples: Replies per prompt per policy.
        max_new_tokens: Reply length limit.
        temperature: Sampling temperature (0: greedy, then ``samples`` is 1).
        top_p: Nucleus sampling.
        seed: Seed of the prompt subset, the sampling and the bootstrap.
        batch_size: Prompts per generation batch (transformers backends).
        max_history: History messages kept before each user turn when prompts come from dialogues.
        judge_config: A :class:`xinyu.eval.judge.JudgeConfig` to also judge the replies.

    Returns:
        The result dict (also written to ``align.json``).
    """
    from xinyu.io import write_json, write_jsonl, write_text
    from xinyu.train.rewards import DEFAULT_WEIGHTS

    out_dir = Path(out_dir)
    chosen_prompts = load_prompts(prompts, max_history=max_history, limit=limit, seed=seed)
    if temperature <= 0:
        samples = 1
    gen = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "seed": seed}
    replies = {
        name: generate_with_backend(model, chosen_prompts, samples=samples, batch_size=batch_size, **gen)
        for name, model in zip(names, (before, after), strict=True)
    }
    scorer, mean, std = None, 0.0, 1.0
    if reward_model is not None:
        from xinyu.train.reward import RewardScorer
        from xinyu.train.rewards import score_stats

        scorer = RewardScorer(reward_model)
        mean, std = score_stats(reward_model)
    rows = {
        name: score_replies(chosen_prompts, replies[name], scorer=scorer, score_mean=mean, score_std=std, weights=weights)
        for name in names
    }
    result: dict[str, Any] = {
        "policies": list(names),
        "models": {names[0]: before, names[1]: after},
        "prompts_file": str(prompts),
        "prompts": len(chosen_prompts),
        "samples_per_prompt": samples,
        "generation": gen,
        "reward_model": str(reward_model) if reward_model else None,
        "weights": dict(weights or DEFAULT_WEIGHTS),
        "before": summarize(rows[names[0]], seed),
        "after": summarize(rows[names[1]], seed),
        "change": paired_change(rows[names[0]], rows[names[1]], seed),
    }
    if judge_config is not None:
        result["judge"] = {
            "before": judge_rows(chosen_prompts, rows[names[0]], judge_config),
            "after": judge_rows(chosen_prompts, rows[names[1]], judge_config),
        }
    write_json(out_dir / "align.json", result)
    write_text(out_dir / "align.md", markdown_section(result))
    write_jsonl(
        out_dir / "align_samples.jsonl",
        ({"policy": name, **row} for name in names for row in rows[name]),
    )
    return result
