"""The lexical layer: a character n-gram linear model of risk, shipped with xinyu and on by default.

Why it exists: hand-written rules match what their author thought of. Measured on utterances
written independently of them, the rule layer alone finds fewer than half of the crises. People
say the same thing in endless ways (slang, euphemism, typos, mixed languages), and a model trained on
many examples generalises to new phrasing far better than rules do, while staying cheap enough to
run on every turn.

Why this model: Chinese words are short character sequences, so character 1–4-grams carry most of
the meaning; a linear model over them trains in seconds, needs only numpy at run time (no torch),
runs in well under a millisecond, and its weights can be inspected. An experiment with sentence
embeddings from the embedded Gemma-3-270M generalised no better on the same data and was about a
hundred times slower.

Outputs, for the current user turn with the last user turns of its history as context:

* level probabilities (``none``, ``distress``, ``crisis``; softmax),
* P(imminent | crisis) and P(category | crisis) for each category (independent sigmoids).

The bundled weights (``resources/lexical_model.npz``) are trained by ``xinyu safety train-lexical``
on the project's own labelled utterances (``resources/train/*.jsonl`` plus the development sets);
the blind evaluation sets are never used for training.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from xinyu.safety.normalize import normalize
from xinyu.safety.types import Category, Level

RESOURCES = Path(__file__).parent / "resources"
DEFAULT_MODEL = RESOURCES / "lexical_model.npz"
LEVELS = ("none", "distress", "crisis")
CATEGORIES = tuple(c.value for c in Category)
MAX_N = 4
HISTORY_TURNS = 2  # earlier user turns whose n-grams are context features


def _ngrams(text: str, prefix: str, max_n: int) -> list[str]:
    padded = f"^{text}$"
    out = []
    for n in range(1, max_n + 1):
        out += [prefix + padded[i : i + n] for i in range(len(padded) - n + 1)]
    return out


def _masked(text: str) -> str:
    """Normalised text with the rule layer's idioms ("想死你了", "割草", "自杀式进攻") as one "□" each.

    The idiom table is curated knowledge of what is *not* risk; masking lets the model see the frame
    around an idiom without the risk-looking characters inside it.
    """
    from xinyu.safety.crisis import default_engine
    from xinyu.safety.engine import _MASK

    masked = default_engine().mask(normalize(text).text)
    return re.sub(re.escape(_MASK) + "+", "□", masked)


def features(text: str, history: Sequence[str] = ()) -> list[str]:
    """Feature strings of a turn: character 1–4-grams, jieba words and word pairs, history 2–3-grams.

    Text is normalised as for the rule layer (full-width folding, traditional to simplified for risk
    vocabulary, fillers inside words removed). Words separate "想学跳水" from "想死" better than
    characters alone. History features carry a separate prefix so the model learns how earlier
    turns change the meaning of the current one ("嗯" after a disclosure).
    """
    from xinyu.eval.segment import segment  # the project's quiet, private jieba instance

    norm = _masked(text)
    feats = _ngrams(norm, "c:", MAX_N)
    words = [w for w in segment(norm) if w.strip()]
    feats += ["w:" + w for w in words] + ["b:" + a + "_" + b for a, b in pairwise(words)]
    for turn in list(history)[-HISTORY_TURNS:]:
        feats += [f for f in _ngrams(_masked(turn), "h:", 3) if len(f) > 3]  # 2- and 3-grams only
    return feats


def _vectorize(feats: Iterable[str], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of one L2-normalised, log-scaled term-frequency row."""
    counts: dict[int, int] = {}
    for f in feats:
        idx = vocab.get(f)
        if idx is not None:
            counts[idx] = counts.get(idx, 0) + 1
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    val = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    val /= np.sqrt((val * val).sum())
    return idx, val


@dataclass
class LexicalPrediction:
    """Probabilities for one turn."""

    levels: dict[str, float]
    imminent: float
    categories: dict[str, float]

    @property
    def crisis(self) -> float:
        """P(crisis)."""
        return self.levels["crisis"]


class LexicalModel:
    """Weights of the lexical model.

    Args:
        vocab: Feature string → row index.
        weights: ``(n_features, 3 + 1 + len(CATEGORIES))`` float32: level logits, imminent logit,
            category logits.
        bias: Bias of each output column.
        meta: Training provenance and default thresholds.
    """

    def __init__(self, vocab: dict[str, int], weights: np.ndarray, bias: np.ndarray, meta: dict[str, Any]) -> None:
        self.vocab = vocab
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.meta = meta

    def logits(self, text: str, history: Sequence[str] = ()) -> np.ndarray:
        """Raw output logits for one turn."""
        idx, val = _vectorize(features(text, history), self.vocab)
        out = self.bias.copy()
        if len(idx):
            out += val @ self.weights[idx]
        return out

    def predict(self, text: str, history: Sequence[str] = ()) -> LexicalPrediction:
        """Probabilities for one turn (see module docstring)."""
        z = self.logits(text, history)
        lv = z[:3] - z[:3].max()
        p = np.exp(lv) / np.exp(lv).sum()
        sig = 1.0 / (1.0 + np.exp(-z[3:]))
        return LexicalPrediction(
            levels={name: float(p[i]) for i, name in enumerate(LEVELS)},
            imminent=float(sig[0]),
            categories={name: float(sig[1 + i]) for i, name in enumerate(CATEGORIES)},
        )

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (vocabulary, weights, bias, JSON metadata), atomically."""
        from xinyu.io import atomic_write

        terms = np.array(sorted(self.vocab, key=self.vocab.__getitem__), dtype=np.str_)
        with atomic_write(path, "wb") as handle:
            np.savez_compressed(handle, terms=terms, weights=self.weights.astype(np.float16),
                                bias=self.bias, meta=np.array(json.dumps(self.meta, ensure_ascii=False)))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> LexicalModel:
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            terms = data["terms"].tolist()
            return cls({t: i for i, t in enumerate(terms)}, data["weights"].astype(np.float32), data["bias"],
                       json.loads(str(data["meta"])))


@lru_cache(maxsize=4)
def load_lexical(path: str | None = None) -> LexicalModel:
    """The model at ``path`` (default: the bundled one), loaded once per process."""
    return LexicalModel.load(path or DEFAULT_MODEL)


COMBINER_INPUTS = (
    "log_p_none", "log_p_distress", "log_p_crisis", "imminent_logit",
    "rules_crisis", "rules_distress", "rules_imminent", "rules_other",
)


def combiner_inputs(prediction: LexicalPrediction, risk: Any) -> np.ndarray:
    """The combiner's inputs: the model's log-probabilities and the rule layer's verdict."""
    eps = 1e-6
    imm = min(max(prediction.imminent, eps), 1 - eps)
    return np.array([
        math.log(prediction.levels["none"] + eps), math.log(prediction.levels["distress"] + eps),
        math.log(prediction.levels["crisis"] + eps), math.log(imm / (1 - imm)),
        float(risk.level is Level.CRISIS), float(risk.level is Level.DISTRESS), float(risk.imminent),
        float(getattr(risk, "subject", "self") == "other"),
    ])


@dataclass
class Combiner:
    """Logistic regression over :data:`COMBINER_INPUTS`: P(crisis) and P(imminent | crisis).

    Fitted on out-of-fold model predictions and rule verdicts for utterances the rules were never
    tuned on (see :mod:`xinyu.safety.lexical_train`), so it learns how far to trust each.
    """

    coef: list[float]
    intercept: float
    imminent_coef: list[float]
    imminent_intercept: float
    threshold: float = 0.4
    distress_threshold: float = 0.5

    def probabilities(self, x: np.ndarray) -> tuple[float, float]:
        """``(P(crisis), P(imminent | crisis))`` for one input row."""
        p = 1.0 / (1.0 + math.exp(-(float(np.dot(self.coef, x)) + self.intercept)))
        pi = 1.0 / (1.0 + math.exp(-(float(np.dot(self.imminent_coef, x)) + self.imminent_intercept)))
        return p, pi


def _protected(risk: Any) -> bool:
    """Rule crises the lexical layer may not lower (see :func:`apply_lexical`)."""
    return any(e.rule.startswith("method.") or e.turn < 0 for e in risk.evidence)


def apply_lexical(prediction: LexicalPrediction, combiner: Combiner, risk: Any, text: str) -> None:
    """Decide the level of ``risk`` (a RiskAssessment holding the rule verdict) with the model.

    * combined P(crisis) >= threshold: crisis; imminent when the rules found imminence or
      P(imminent | crisis) >= 0.5; the model's likely categories are added.
    * below it, a rule-layer crisis that is *not* imminent is lowered to distress: the rules fire on
      idioms in benign frames ("自杀式进攻", "我妈肯定打死我") and the model, trained on thousands of
      such frames, is the better judge there. Never lowered: an imminent verdict (plan, means, an
      act), method seeking (a crisis whatever its framing, "for a novel" included), and risk carried
      over from earlier turns. Nothing is ever lowered below distress.
    * otherwise, a turn the rules call none becomes distress when P(distress) + P(crisis) passes
      ``distress_threshold``.
    """
    from xinyu.safety.crisis import raise_to

    p, p_imminent = combiner.probabilities(combiner_inputs(prediction, risk))
    risk.layers.append("lexical")
    if p >= combiner.threshold:
        cats = {Category(c) for c, q in prediction.categories.items() if q >= 0.5}
        if not cats and not risk.categories:
            cats = {Category(max(prediction.categories, key=prediction.categories.get))}
        raise_to(risk, Level.CRISIS, "lexical", p, imminent=p_imminent >= 0.5, categories=cats, text=text)
        if p_imminent >= 0.5 and not risk.imminent:
            risk.imminent = True
        risk.categories |= cats
        risk.score = max(risk.score, p)
    elif risk.level is Level.CRISIS and not risk.imminent and not _protected(risk):
        risk.level = Level.DISTRESS
        risk.score = p
        risk.layers.append("lexical:lowered")
    elif prediction.levels["distress"] + prediction.crisis >= combiner.distress_threshold:
        raise_to(risk, Level.DISTRESS, "lexical", prediction.levels["distress"], text=text)


@lru_cache(maxsize=4)
def load_combiner(path: str | None = None) -> Combiner:
    """The combiner stored with the model at ``path`` (default: the bundled one)."""
    meta = load_lexical(path).meta
    if "combiner" not in meta:
        raise ValueError(f"{path or DEFAULT_MODEL} has no combiner: train it with `xinyu safety train-lexical`")
    return Combiner(**meta["combiner"])
