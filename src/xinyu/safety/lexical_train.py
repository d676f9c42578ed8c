"""Training of the lexical layer (``xinyu safety train-lexical``).

Three steps, all on the project's own labelled utterances (never on the evaluation sets
``dev.jsonl``, ``blind.jsonl`` and ``unseen.jsonl``):

1. out-of-fold predictions: the n-gram model is trained k times, each time predicting the fold it
   did not see, so the combiner learns from predictions as they will look on new text;
2. the combiner (:class:`~xinyu.safety.lexical.Combiner`) is fitted on those predictions plus the
   rule layer's verdicts, using only the utterances under ``resources/train/`` (written
   independently of the rules, so the rules' verdicts there are honest; on the rules' own test sets
   they would be perfect and teach the combiner to over-trust them);
3. the final model is trained on everything and saved with the combiner and its provenance.

Training needs scikit-learn (``pip install 'xinyu[safety]'``); using the model needs only numpy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xinyu.errors import DataError, XinyuError
from xinyu.io import iter_jsonl
from xinyu.safety.lexical import (
    CATEGORIES,
    LEVELS,
    RESOURCES,
    Combiner,
    LexicalModel,
    _vectorize,
    combiner_inputs,
    features,
)

log = logging.getLogger(__name__)

TRAIN_DIR = RESOURCES / "train"
# The rule layer's development sets: training data for the model, but not for the combiner.
RULE_DEV_SETS = ("testset.jsonl", "holdout.jsonl", "fresh.jsonl")
# Never trained on: evaluation only.
EVAL_SETS = ("dev.jsonl", "blind.jsonl", "unseen.jsonl")


def history_texts(record: dict[str, Any]) -> list[str]:
    """Earlier user turns of a labelled record (strings or ``{"role", "content"}`` items)."""
    out = []
    for item in record.get("history") or []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and item.get("role", "user") == "user":
            out.append(str(item.get("content", "")))
    return out


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Read a labelled JSONL file, checking each record (errors name the line and field)."""
    rows = []
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise DataError("expected an object with a string 'text'", path=path, line=lineno, field="text")
        if obj.get("level") not in LEVELS:
            raise DataError(f"expected level in {LEVELS}, got {obj.get('level')!r}", path=path, line=lineno,
                            field="level")
        cats = obj.get("categories") or []
        if any(c not in CATEGORIES for c in cats):
            raise DataError(f"expected categories from {CATEGORIES}, got {cats}", path=path, line=lineno,
                            field="categories")
        rows.append(obj)
    return rows


def fit_model(records: Sequence[dict[str, Any]], *, c: float = 8.0, min_df: int = 2) -> LexicalModel:
    """Fit the n-gram model (logistic regressions; imminence/category heads on crisis records only)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    feats = [features(r["text"], history_texts(r)) for r in records]
    df: dict[str, int] = {}
    for fs in feats:
        for f in set(fs):
            df[f] = df.get(f, 0) + 1
    vocab = {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= min_df))}
    rows, cols, vals = [], [], []
    for r, fs in enumerate(feats):
        idx, val = _vectorize(fs, vocab)
        rows += [r] * len(idx)
        cols += idx.tolist()
        vals += val.tolist()
    x = csr_matrix((vals, (rows, cols)), shape=(len(records), len(vocab)), dtype=np.float32)
    weights = np.zeros((len(vocab), 3 + 1 + len(CATEGORIES)), dtype=np.float32)
    bias = np.zeros(weights.shape[1], dtype=np.float32)
    y = np.array([LEVELS.index(r["level"]) for r in records])
    level = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x, y)
    bias[:3] = -20.0  # a level absent from the data keeps (practically) zero probability
    if len(level.classes_) == 2:  # binary: one row of weights for the second class, the first at 0
        weights[:, level.classes_[1]] = level.coef_[0]
        bias[level.classes_[0]], bias[level.classes_[1]] = 0.0, level.intercept_[0]
    else:
        for row, cls in enumerate(level.classes_):
            weights[:, cls] = level.coef_[row]
            bias[cls] = level.intercept_[row]
    crisis = np.flatnonzero(y == 2)
    heads = [np.array([bool(records[i].get("imminent")) for i in crisis])]
    heads += [np.array([name in (records[i].get("categories") or []) for i in crisis]) for name in CATEGORIES]
    for col, target in enumerate(heads, start=3):
        if target.all() or not target.any():  # a degenerate head keeps a constant prior
            bias[col] = 6.0 if target.all() else -6.0
            continue
        head = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x[crisis], target)
        weights[:, col] = head.coef_[0]
        bias[col] = head.intercept_[0]
    return LexicalModel(vocab, weights, bias, {"n_records": len(records), "n_features": len(vocab), "c": c,
                                               "min_df": min_df})


def rule_verdicts(records: Sequence[dict[str, Any]]) -> list[Any]:
    """The rule layer's assessment of each record (rules only, no other layer)."""
    from xinyu.safety.config import SafetyConfig
    from xinyu.safety.crisis import Assessor

    assessor = Assessor(SafetyConfig(layers=["rules"]))
    return [assessor.assess(r["text"], r.get("history")) for r in records]


def fit_combiner(inputs: np.ndarray, crisis: np.ndarray, imminent: np.ndarray, *, threshold: float,
                 distress_threshold: float) -> Combiner:
    """Fit P(crisis) on all rows and P(imminent | crisis) on crisis rows."""
    from sklearn.linear_model import LogisticRegression

    level = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(inputs, crisis)
    imm = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(inputs[crisis], imminent[crisis])
    return Combiner(coef=level.coef_[0].tolist(), intercept=float(level.intercept_[0]),
                    imminent_coef=imm.coef_[0].tolist(), imminent_intercept=float(imm.intercept_[0]),
                    threshold=threshold, distress_threshold=distress_threshold)


def _digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def train_bundle(
    out: str | Path,
    *,
    extra: Sequence[str | Path] = (),
    folds: int = 5,
    c: float = 8.0,
    threshold: float = 0.4,
    distress_threshold: float = 0.5,
    seed: int = 0,
) -> Path:
    """Train model + combiner on the bundled data (plus ``extra`` labelled files); save to ``out``.

    ``extra`` files join the combiner's data as well as the model's: like ``resources/train``, they
    should be utterances the rules were not written against.
    """
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise XinyuError("training the lexical layer needs scikit-learn: pip install 'xinyu[safety]'") from None
    from tqdm import tqdm

    started = time.time()
    rule_dev_paths = [RESOURCES / name for name in RULE_DEV_SETS]
    combiner_paths = sorted(TRAIN_DIR.glob("*.jsonl")) + [Path(p) for p in extra]
    rule_dev = [r for p in rule_dev_paths for r in load_labelled(p)]
    independent = [r for p in combiner_paths for r in load_labelled(p)]
    if not independent:
        raise XinyuError(f"no training data found in {TRAIN_DIR}")
    records = rule_dev + independent
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(records))
    oof: list[Any] = [None] * len(records)
    for k in tqdm(range(folds), desc="out-of-fold models", unit="fold"):
        held = order[k::folds]
        held_set = set(held.tolist())
        model = fit_model([records[i] for i in order if i not in held_set], c=c)
        for i in held:
            oof[i] = model.predict(records[i]["text"], history_texts(records[i]))
    offset = len(rule_dev)
    verdicts = rule_verdicts(independent)
    inputs = np.array([combiner_inputs(oof[offset + i], v) for i, v in enumerate(verdicts)])
    crisis = np.array([r["level"] == "crisis" for r in independent])
    imminent = np.array([bool(r.get("imminent")) for r in independent])
    combiner = fit_combiner(inputs, crisis, imminent, threshold=threshold, distress_threshold=distress_threshold)
    final = fit_model(records, c=c)
    final.meta.update({
        "combiner": combiner.__dict__,
        "trained": time.strftime("%Y-%m-%d"),
        "train_files": [p.name for p in rule_dev_paths + combiner_paths],
        "train_sha256": _digest(rule_dev_paths + combiner_paths),
        "n_rule_dev": len(rule_dev),
        "n_independent": len(independent),
        "folds": folds,
        "seed": seed,
        "seconds": round(time.time() - started, 1),
    })
    path = final.save(out)
    log.info("lexical model: %d records, %d features -> %s", len(records), final.meta["n_features"], path)
    return path


def summary(path: str | Path) -> str:
    """One line describing a saved model (for the CLI)."""
    from xinyu.safety.lexical import LexicalModel

    meta = LexicalModel.load(path).meta
    return json.dumps({k: meta.get(k) for k in ("n_records", "n_features", "train_sha256", "trained", "seconds")},
                      ensure_ascii=False)
