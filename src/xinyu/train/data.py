"""A stage's dialogues: read, mix by style, limit, split, tokenise with loss masks.

Only counts and ids are logged, never message text.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import ConfigError
from xinyu.serve.persona import resolve_system_prompt
from xinyu.train.config import DataArgs

log = logging.getLogger(__name__)


@dataclass
class StageData:
    """Dialogues of one stage (message lists), with the counts worth recording."""

    train: list[list[dict[str, str]]]
    val: list[list[dict[str, str]]]
    stats: dict[str, Any] = field(default_factory=dict)


def missing_files(data: DataArgs) -> list[str]:
    """Data files of a stage that do not exist (checked before any training starts)."""
    return [p for p in data.train_files() + data.val_files() if not Path(p).is_file()]


def _read(paths: list[str]) -> list[Any]:
    from xinyu.data.schema import read_dialogues

    dialogues = []
    for path in paths:
        dialogues.extend(read_dialogues(path, strict=False))
    return dialogues


def _styles(meta: dict[str, Any]) -> list[str]:
    style = meta.get("style")
    if style is None:
        return []
    return [style] if isinstance(style, str) else [str(s) for s in style]


def mix_by_style(dialogues: list[Any], weights: dict[str, float], default: float, rng: random.Random) -> list[Any]:
    """Resample dialogues by their ``meta.style`` tags.

    A dialogue's weight is the largest weight among its tags (``default`` when none is listed): the
    integer part copies it that many times, the fractional part keeps one more copy with that
    probability. ``{"warm": 2.0, "directive": 0.5}`` doubles warm dialogues and keeps half of the
    directive ones.
    """
    if not weights and default == 1.0:
        return list(dialogues)
    out = []
    for d in dialogues:
        listed = [weights[s] for s in _styles(d.meta) if s in weights]
        weight = max(listed) if listed else default
        copies = math.floor(weight) + (1 if rng.random() < weight - math.floor(weight) else 0)
        out.extend([d] * copies)
    rng.shuffle(out)
    return out


def load_stage_data(data: DataArgs, seed: int) -> StageData:
    """Read, mix, limit and split a stage's dialogues (deterministic for a given seed)."""
    missing = missing_files(data)
    if missing:
        raise ConfigError([f"data file not found: {p}" for p in missing])
    rng = random.Random(seed)
    train = _read(data.train_files())
    val = _read(data.val_files())
    read_train = len(train)
    if not val and data.val_ratio > 0:  # split before mixing: no copy of a dialogue lands on both sides
        order = list(range(len(train)))
        rng.shuffle(order)
        val_idx = set(order[: max(1, round(len(train) * data.val_ratio))])
        val = [d for i, d in enumerate(train) if i in val_idx]
        train = [d for i, d in enumerate(train) if i not in val_idx]
    train = mix_by_style(train, data.mix, data.mix_default, rng)
    if data.limit is not None and len(train) > data.limit:
        train = rng.sample(train, data.limit)
    if data.val_limit is not None and len(val) > data.val_limit:
        val = rng.sample(val, data.val_limit)
    stats = {"dialogues_read": read_train, "train_dialogues": len(train), "val_dialogues": len(val)}
    log.info("stage data: %d train / %d val dialogues (%d read)", len(train), len(val), read_train)
    system = resolve_system_prompt(data.system)
    return StageData([with_system(d.messages, system) for d in train], [with_system(d.messages, system) for d in val],
                     stats)


def with_system(messages: list[dict[str, str]], system: str | None) -> list[dict[str, str]]:
    """``messages`` with ``system`` as their first message when they have no system message of their own."""
    if not system or (messages and messages[0]["role"] == "system"):
        return messages
    return [{"role": "system", "content": system}, *messages]


def tokenize_all(
    tokenizer: Any,
    dialogues: list[list[dict[str, str]]],
    *,
    max_length: int,
    chat_template: str | None = None,
    train_on_prompt: bool = False,
    desc: str = "tokenising",
) -> tuple[list[dict[str, list[int]]], dict[str, int]]:
    """Tokenise dialogues into ``{"input_ids", "labels"}`` rows, dropping those left without loss.

    Returns:
        The rows and counts: ``cut`` (first exchange cut mid-turn), ``dropped_turns`` (trailing
        assistant turns dropped by truncation), ``empty`` (dialogues dropped: no labelled token).
    """
    from tqdm.auto import tqdm

    from xinyu.models.masks import tokenize_dialogue

    rows, counts = [], {"cut": 0, "dropped_turns": 0, "empty": 0, "tokens": 0, "label_tokens": 0}
    for messages in tqdm(dialogues, desc=desc, unit="dialogue", disable=len(dialogues) < 500, leave=False):
        ex = tokenize_dialogue(
            tokenizer, messages, max_length=max_length, chat_template=chat_template, train_on_prompt=train_on_prompt
        )
        counts["cut"] += int(ex.cut)
        counts["dropped_turns"] += ex.dropped_turns
        n_labels = ex.num_labels
        if n_labels == 0:
            counts["empty"] += 1
            continue
        counts["tokens"] += len(ex.input_ids)
        counts["label_tokens"] += n_labels
        rows.append({"input_ids": ex.input_ids, "labels": ex.labels})
    if counts["cut"]:
        log.warning(
            "%d of %d dialogues have a first exchange longer than max_length=%d and were cut mid-turn; raise "
            "max_length or shorten those dialogues", counts["cut"], len(dialogues), max_length,
        )
    if counts["empty"]:
        log.warning("%d dialogues carry no assistant tokens within max_length=%d and were skipped",
                    counts["empty"], max_length)
    return rows, counts
