"""Reward terms for online RL (GRPO/RLOO) and how they combine.

Each term is a TRL reward function, ``f(prompts, completions, **kwargs) -> list[float]``, with a
``__name__`` that TRL uses to log it (``rewards/<name>/mean``). A recipe weights them with
``reward_weights``; the reward of a reply ``y`` to a prompt ``x`` is

    R(x, y) = w_rm · r_rm(x, y) + w_safety · r_safety(x, y) + w_style · r_style(y)

* ``r_rm`` (``reward_model``): the trained reward model's score, standardised with the mean and
  standard deviation of its scores on the held-out pairs (``(s - μ) / σ``, so 1 unit = one spread of
  the reward model's own scale; ``normalize=False`` uses the raw score);
* ``r_safety`` (``safety``), in [-1, 1]: :func:`xinyu.safety.reward.safety_reward_func`: referral,
  safety question and warmth on crisis turns, penalties for method details, dismissiveness, human
  or clinician claims, diagnoses (formula in that module);
* ``r_style`` (``style``), in [-1, 0]: keeps replies conversational: -0.5 for Markdown list or
  heading lines, -0.25 for bold markup only, -0.5 for a reply shorter than ``min_chars``, up to
  -0.5 for one longer than ``max_chars`` (linear in the excess), -0.5 for degenerate repetition
  (a 4-character sequence occurring ``repeat_limit`` times or more), -1 for an empty reply; the sum
  is clipped at -1.

A term that returns ``None`` for a reply is left out of that reply's sum (TRL's ``nansum``). The
trainer then turns ``R`` into advantages (GRPO: ``R`` minus the mean of the prompt's group, divided
by the group's standard deviation; RLOO: ``R`` minus the mean of the other samples of the prompt,
after subtracting ``β·KL`` to the reference). KL control to the SFT policy is ``beta``: GRPO adds
``β·KL`` to the loss per token, RLOO subtracts it from ``R``. :func:`combined_reward` computes ``R``
exactly as TRL's ``sum_then_normalize`` aggregation does before normalising.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xinyu.errors import ConfigError

RewardFunc = Callable[..., list[float | None]]
TERMS = ("reward_model", "safety", "style")
DEFAULT_WEIGHTS = {"reward_model": 1.0, "safety": 1.0, "style": 0.5}

_LIST_LINE = re.compile(r"^\s*(?:[-*•+]\s+|\d{1,2}[.、)）]\s*|#{1,6}\s)", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the assistant contents of a message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return "".join(
        str(m.get("content", "")) for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
    )


def prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """A prompt as a message list (a plain string is one user turn)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def style_score(reply: str, min_chars: int = 10, max_chars: int = 300, repeat_limit: int = 4) -> float:
    """The style term ``r_style`` of one reply, in [-1, 0] (see the module docstring)."""
    text = reply.strip()
    if not text:
        return -1.0
    score = 0.0
    if _LIST_LINE.search(text):
        score -= 0.5
    elif _BOLD.search(text):
        score -= 0.25
    n = len(text)
    if n < min_chars:
        score -= 0.5
    elif n > max_chars:
        score -= 0.5 * min(1.0, (n - max_chars) / max_chars)
    compact = re.sub(r"\s+", "", text)
    grams = Counter(compact[i : i + 4] for i in range(len(compact) - 3))
    if grams and max(grams.values()) >= repeat_limit:
        score -= 0.5
    return max(-1.0, score)


def make_style_term(min_chars: int = 10, max_chars: int = 300, repeat_limit: int = 4) -> RewardFunc:
    """The style term as a TRL reward function."""

    def style(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        return [style_score(completion_text(c), min_chars, max_chars, repeat_limit) for c in completions]

    return style


def safety(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """The safety term: :func:`xinyu.safety.reward.safety_reward_func` (named ``safety`` in logs)."""
    from xinyu.safety.reward import safety_reward_func

    return list(safety_reward_func(prompts, completions))


class RewardModelTerm:
    """The reward-model term: a saved reward model's score of prompt + reply.

    Args:
        path: Reward stage directory (``reward_model.json``) or a run holding one.
        normalize: Standardise scores with the held-out mean/std recorded in the stage's ``eval.json``.
        device: Where the reward model runs (default: CUDA when available).
        batch_size: Replies per forward pass.
        scorer: An already loaded :class:`~xinyu.train.reward.RewardScorer` (tests, reuse).
    """

    __name__ = "reward_model"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        normalize: bool = True,
        device: str | None = None,
        batch_size: int = 8,
        scorer: Any = None,
    ) -> None:
        if path is None and scorer is None:
            raise ConfigError(["reward_model: a path to a trained reward model is required for this term"])
        self.path = str(path) if path is not None else getattr(scorer, "path", None)
        self.device = device
        self.batch_size = batch_size
        self._scorer = scorer
        self.mean, self.std = 0.0, 1.0
        if normalize and self.path:
            self.mean, self.std = score_stats(self.path)

    @property
    def scorer(self) -> Any:
        """The loaded scorer (loaded on first use)."""
        if self._scorer is None:
            from xinyu.train.reward import RewardScorer

            self._scorer = RewardScorer(self.path, device=self.device, batch_size=self.batch_size)
        return self._scorer

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        """Standardised reward-model scores, one per (prompt, completion)."""
        convs = [
            [*prompt_messages(p), {"role": "assistant", "content": completion_text(c)}]
            for p, c in zip(prompts, completions, strict=True)
        ]
        return [(s - self.mean) / self.std for s in self.scorer.score_batch(convs)]


def score_stats(path: str | Path) -> tuple[float, float]:
    """``(mean, std)`` of a reward model's scores on its held-out replies (``eval.json``), else ``(0, 1)``."""
    import json

    from xinyu.train.reward import _pointer

    info = _pointer(Path(path))
    eval_file = Path(info["_dir"]) / "eval.json"
    if eval_file.is_file():
        after = json.loads(eval_file.read_text(encoding="utf-8")).get("val_after") or {}
        if after.get("score_std"):
            return float(after["score_mean"]), max(float(after["score_std"]), 1e-3)
    return 0.0, 1.0


def build_reward_terms(
    weights: dict[str, float],
    *,
    reward_model: str | Path | None = None,
    normalize_reward_model: bool = True,
    device: str | None = None,
    style: dict[str, Any] | None = None,
    scorer: Any = None,
) -> tuple[list[RewardFunc], list[float]]:
    """The reward functions and weights for a recipe's ``reward_weights``.

    Args:
        weights: ``{term name: weight}`` over :data:`TERMS`; zero-weight terms are left out.
        reward_model: Path of the trained reward model (needed when ``reward_model`` is weighted).
        normalize_reward_model: Standardise reward-model scores (see :class:`RewardModelTerm`).
        device: Where the reward model runs.
        style: Keyword arguments of :func:`make_style_term`.
        scorer: A loaded reward scorer to use instead of loading ``reward_model``.

    Returns:
        ``(reward functions, weights)`` in the same order, as ``GRPOTrainer(reward_funcs=...)`` and
        ``GRPOConfig(reward_weights=...)`` take them.
    """
    unknown = sorted(set(weights) - set(TERMS))
    if unknown:
        raise ConfigError([f"reward_weights.{k}: unknown reward term (known: {', '.join(TERMS)})" for k in unknown])
    funcs: list[RewardFunc] = []
    out_weights: list[float] = []
    for name in TERMS:
        weight = float(weights.get(name, 0.0))
        if weight == 0.0:
            continue
        if name == "reward_model":
            funcs.append(
                RewardModelTerm(reward_model, normalize=normalize_reward_model, device=device, scorer=scorer)
            )
        elif name == "safety":
            funcs.append(safety)
        else:
            funcs.append(make_style_term(**(style or {})))
        out_weights.append(weight)
    if not funcs:
        raise ConfigError(["reward_weights: at least one term needs a non-zero weight"])
    return funcs, out_weights


def term_name(func: RewardFunc) -> str:
    """The name TRL logs a reward function under."""
    return getattr(func, "__name__", type(func).__name__)


def term_scores(funcs: Sequence[RewardFunc], prompts: Sequence[Any], completions: Sequence[Any]) -> dict[str, list[float]]:
    """Each term's scores (``NaN`` where a term returned ``None``), keyed by term name."""
    out: dict[str, list[float]] = {}
    for func in funcs:
        values = func(prompts=prompts, completions=completions)
        out[term_name(func)] = [math.nan if v is None else float(v) for v in values]
    return out


def combined_reward(
    funcs: Sequence[RewardFunc], weights: Sequence[float], prompts: Sequence[Any], completions: Sequence[Any]
) -> list[float]:
    """``R = Σ_i w_i · r_i`` per reply, terms returning ``None`` left out (NaN if all of them are)."""
    scores = term_scores(funcs, prompts, completions)
    out = []
    for j in range(len(completions)):
        parts = [w * s[j] for w, s in zip(weights, scores.values(), strict=True) if not math.isnan(s[j])]
        out.append(sum(parts) if parts else math.nan)
    return out
