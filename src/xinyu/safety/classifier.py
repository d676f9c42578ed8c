"""Optional classifier layer: a Hugging Face sequence-classification model that can raise the level.

Labels are read from the model's ``id2label``: ``none``/``distress``/``crisis`` (any order), or two
labels where the second means risk (treated as crisis). The layer only *raises* a level: when
P(crisis) >= threshold and the rules said less, the turn becomes crisis; when P(distress) +
P(crisis) >= threshold and the rules said none, it becomes distress. ``layers`` then records
``classifier``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from xinyu.errors import ConfigError
from xinyu.safety.config import ClassifierConfig
from xinyu.safety.types import Level, RiskAssessment

log = logging.getLogger(__name__)

LEVEL_NAMES = ("none", "distress", "crisis")


def label_levels(id2label: dict[int, str]) -> list[str]:
    """Map each class index to a level name (see module docstring)."""
    names = [str(id2label[i]).strip().lower() for i in sorted(id2label)]
    if set(names) <= set(LEVEL_NAMES):
        return names
    if len(names) == 2:
        return ["none", "crisis"]
    raise ConfigError([f"classifier labels {names}: expected none/distress/crisis or two labels (second = risk)"])


@lru_cache(maxsize=4)
def _load(path: str, device: str) -> tuple[Any, Any]:
    """Model and tokenizer of a classifier, loaded once per process (they are only read)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from xinyu.models import hf_dir
    from xinyu.models.loading import pick_device

    source = hf_dir(path)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to(pick_device(device)).eval()
    return model, tokenizer


class ClassifierLayer:
    """A loaded classifier.

    Args:
        model: A ``transformers`` sequence-classification model (eval mode).
        tokenizer: Its tokenizer.
        threshold: Probability needed to raise a level.
        max_length: Tokens per utterance.
    """

    def __init__(self, model: Any, tokenizer: Any, threshold: float = 0.8, max_length: int = 256) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.threshold = threshold
        self.max_length = max_length
        self.levels = label_levels(model.config.id2label)

    @classmethod
    def from_config(cls, config: ClassifierConfig) -> ClassifierLayer:
        """Load the model named by ``config.path`` (a directory, run directory or cached hub id)."""
        if not config.path:
            raise ConfigError(["classifier.path: required when 'classifier' is in layers"])
        return cls.load(config.path, threshold=config.threshold, device=config.device, max_length=config.max_length)

    @classmethod
    def load(cls, path: str, threshold: float = 0.8, device: str = "cpu", max_length: int = 256) -> ClassifierLayer:
        """Load a classifier from ``path`` (weights are shared between layers loaded from the same path)."""
        model, tokenizer = _load(str(path), device)
        return cls(model, tokenizer, threshold=threshold, max_length=max_length)

    def probabilities(self, texts: list[str]) -> list[dict[str, float]]:
        """Per-text probabilities by level name."""
        import torch

        batch = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
        batch = {k: v.to(self.model.device) for k, v in batch.items()}
        with torch.inference_mode():
            probs = torch.softmax(self.model(**batch).logits.float(), dim=-1).cpu().tolist()
        out = []
        for row in probs:
            levels: dict[str, float] = dict.fromkeys(LEVEL_NAMES, 0.0)
            for name, p in zip(self.levels, row, strict=True):
                levels[name] += p
            out.append(levels)
        return out

    def predict(self, text: str) -> dict[str, float]:
        """Probabilities for one text."""
        return self.probabilities([text])[0]

    def apply(self, text: str, risk: RiskAssessment) -> RiskAssessment:
        """Raise ``risk`` when the classifier is confident; records ``classifier`` in ``layers``."""
        from xinyu.safety.crisis import raise_to

        probs = self.predict(text)
        risk.layers.append("classifier")
        if probs["crisis"] >= self.threshold:
            if raise_to(risk, Level.CRISIS, f"classifier:crisis={probs['crisis']:.2f}", probs["crisis"], text=text):
                log.debug("classifier raised a turn to crisis (p=%.2f)", probs["crisis"])
        elif probs["distress"] + probs["crisis"] >= self.threshold:
            raise_to(risk, Level.DISTRESS, f"classifier:risk={probs['distress'] + probs['crisis']:.2f}",
                     probs["distress"] + probs["crisis"], text=text)
        return risk
