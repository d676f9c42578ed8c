"""Corpus statistics, accumulated over a stream: counts, turn and length distributions, token lengths.

Lengths are kept as compact integer arrays (not text), so statistics over 55k dialogues stay small.
Token lengths use a tokenizer (by default the embedded model's); texts are tokenised in batches.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from xinyu.config import StrictModel
from xinyu.data.schema import Dialogue

PERCENTILES = (50, 90, 95, 99)


class StatsConfig(StrictModel):
    """What to compute for the dataset report."""

    tokenizer: str | None = Field(
        "gemma-3-270m", description="Model whose tokenizer measures token lengths; 'none' to skip."
    )
    batch_size: int = Field(256, ge=1, description="Dialogues per tokenizer batch.")
    plots: bool = Field(True, description="Write histograms (PNG).")

    def tokenizer_name(self) -> str | None:
        """The tokenizer to load, or ``None``."""
        if self.tokenizer is None or str(self.tokenizer).strip().lower() in ("", "none", "null", "false"):
            return None
        return str(self.tokenizer)


def describe(values: Iterable[int] | np.ndarray) -> dict[str, float]:
    """Count, mean, min, percentiles and max of a sequence of numbers (zeros when empty)."""
    arr = np.asarray(values if isinstance(values, (np.ndarray, array)) else list(values), dtype=np.float64)
    if arr.size == 0:
        return {"count": 0, "mean": 0.0, "min": 0.0, **{f"p{p}": 0.0 for p in PERCENTILES}, "max": 0.0}
    out = {"count": int(arr.size), "mean": round(float(arr.mean()), 2), "min": float(arr.min())}
    for p, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES), strict=True):
        out[f"p{p}"] = round(float(v), 2)
    out["max"] = float(arr.max())
    return out


def load_stats_tokenizer(name: str | None) -> Any:
    """Load a tokenizer by model argument (``None`` → no tokenizer)."""
    if name is None:
        return None
    from xinyu.errors import XinyuError

    try:
        from xinyu.models import load_tokenizer

        return load_tokenizer(name)
    except ImportError as exc:
        raise XinyuError(
            f"cannot load tokenizer '{name}' ({exc}); install xinyu[train] or use --tokenizer none "
            "(recipes: stats.tokenizer=none)"
        ) from None


class CorpusStats:
    """Accumulates statistics over dialogues.

    Args:
        tokenizer: A Hugging Face tokenizer (or ``None``) for token lengths.
        batch_size: Dialogues per tokenizer call.
    """

    def __init__(self, tokenizer: Any = None, batch_size: int = 256) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.dialogues = 0
        self.by_source: Counter[str] = Counter()
        self.by_topic: Counter[str] = Counter()
        self.by_style: Counter[str] = Counter()
        self.turns = array("I")
        self.chars_dialogue = array("I")
        self.chars_user = array("I")
        self.chars_assistant = array("I")
        self.tokens_dialogue = array("I")
        self.tokens_assistant = array("I")
        self.with_system = 0
        self._pending: list[list[str]] = []
        self._pending_roles: list[list[str]] = []

    def add(self, d: Dialogue) -> None:
        """Count one dialogue."""
        self.dialogues += 1
        meta = d.meta or {}
        self.by_source[d.source or "(none)"] += 1
        self.by_topic[str(meta.get("topic") or "(none)")] += 1
        for style in meta.get("style") or []:
            self.by_style[str(style)] += 1
        turns = [m for m in d.messages if m["role"] != "system"]
        if len(turns) != len(d.messages):
            self.with_system += 1
        self.turns.append(len(turns))
        total = 0
        for m in turns:
            n = len(m["content"])
            total += n
            (self.chars_user if m["role"] == "user" else self.chars_assistant).append(n)
        self.chars_dialogue.append(total)
        if self.tokenizer is not None:
            self._pending.append([m["content"] for m in d.messages])
            self._pending_roles.append([m["role"] for m in d.messages])
            if len(self._pending) >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        """Tokenise the pending batch."""
        if not self._pending:
            return
        flat = [text for texts in self._pending for text in texts]
        ids = self.tokenizer(flat, add_special_tokens=False)["input_ids"]
        k = 0
        for texts, roles in zip(self._pending, self._pending_roles, strict=True):
            lengths = [len(ids[k + i]) for i in range(len(texts))]
            k += len(texts)
            self.tokens_dialogue.append(sum(lengths))
            for role, n in zip(roles, lengths, strict=True):
                if role == "assistant":
                    self.tokens_assistant.append(n)
        self._pending.clear()
        self._pending_roles.clear()

    def add_all(self, dialogues: Iterable[Dialogue]) -> CorpusStats:
        """Count a stream; returns ``self``."""
        for d in dialogues:
            self.add(d)
        self.flush()
        return self

    def passthrough(self, dialogues: Iterable[Dialogue]) -> Iterator[Dialogue]:
        """Count a stream while passing it on (call :meth:`flush` at the end)."""
        for d in dialogues:
            self.add(d)
            yield d

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        self.flush()
        out: dict[str, Any] = {
            "dialogues": self.dialogues,
            "with_system_prompt": self.with_system,
            "by_source": dict(sorted(self.by_source.items())),
            "by_topic": dict(sorted(self.by_topic.items())),
            "by_style": dict(sorted(self.by_style.items())),
            "turns_per_dialogue": describe(self.turns),
            "chars_per_dialogue": describe(self.chars_dialogue),
            "chars_per_user_turn": describe(self.chars_user),
            "chars_per_assistant_turn": describe(self.chars_assistant),
        }
        if self.tokenizer is not None:
            out["tokens_per_dialogue"] = describe(self.tokens_dialogue)
            out["tokens_per_assistant_turn"] = describe(self.tokens_assistant)
        return out


def stats_of_file(path: str | Path, tokenizer: Any = None, batch_size: int = 256) -> CorpusStats:
    """Statistics of one Dialogue JSONL file."""
    from xinyu.data.formats import dialogue as dialogue_format

    return CorpusStats(tokenizer, batch_size).add_all(dialogue_format.read(Path(path)))
