"""Split dialogues into train/val/test: by dialogue, seeded, group-aware, optionally stratified.

Groups: dialogues that must not straddle splits share a key — ``meta["group"]`` (e.g. all PsyQA answers
to one question), else ``meta["dup_group"]`` (near-duplicates kept by the cleaner's ``group`` action),
else their own id.

Assignment depends only on the set of (group, stratum, size) and the seed, not on input order: within
each stratum, group keys are sorted, shuffled with ``random.Random(f"{seed}:{stratum}")``, and laid end
to end on [0, 1) by dialogue count; a group goes to the split whose ratio interval holds its midpoint.
Each split therefore gets its share of every stratum, up to one group's rounding.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from xinyu.config import StrictModel
from xinyu.data.schema import Dialogue
from xinyu.errors import ConfigError

SPLITS = ("train", "val", "test")


def parse_ratios(text: str | list[float] | tuple[float, ...]) -> tuple[float, float, float]:
    """Parse ``"0.7,0.15,0.15"``, ``"80/20"`` (train/val, no test), ``"80/10/10"`` or a list.

    Percentages (a sum near 100) are accepted. Two values mean train and val with an empty test split.

    Raises:
        ConfigError: Not 2-3 non-negative numbers summing to 1 (or 100).
    """
    if isinstance(text, str):
        parts = [p for p in re.split(r"[,/:\s]+", text.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(
                [f"ratios: expected numbers like 0.7,0.15,0.15 or 80/20, got {text!r}"]
            ) from None
    else:
        values = [float(v) for v in text]
    if len(values) == 2:
        values.append(0.0)
    if len(values) != 3 or any(v < 0 for v in values):
        raise ConfigError([f"ratios: expected 2 or 3 non-negative numbers (train, val, test), got {text!r}"])
    total = sum(values)
    if abs(total - 100) < 1e-6:
        values = [v / 100 for v in values]
        total = 1.0
    if abs(total - 1.0) > 1e-6:
        raise ConfigError([f"ratios: must sum to 1 (or 100), got {total:g} from {text!r}"])
    if values[0] <= 0:
        raise ConfigError([f"ratios: the train share must be positive, got {text!r}"])
    return values[0], values[1], values[2]


class SplitConfig(StrictModel):
    """How to split a cleaned corpus."""

    ratios: tuple[float, float, float] = Field((0.70, 0.15, 0.15), description="train, val, test shares.")
    seed: int = Field(42, description="Shuffle seed; the same seed gives the same split.")
    stratify: Literal["none", "topic", "source"] = Field(
        "none", description="Keep each topic's (or source's) share equal across splits."
    )

    @field_validator("ratios", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> tuple[float, float, float]:
        try:
            return parse_ratios(value)
        except ConfigError as exc:
            raise ValueError("; ".join(exc.problems)) from None


def group_key(d: Dialogue) -> str:
    """The key of the group ``d`` must stay with (``meta.group``, ``meta.dup_group``, or its id)."""
    meta = d.meta or {}
    return str(meta.get("group") or meta.get("dup_group") or d.id)


def stratum_of(d: Dialogue, stratify: str) -> str:
    """The stratum of ``d``: its topic or source, or ``"all"``."""
    if stratify == "topic":
        return str((d.meta or {}).get("topic") or "(none)")
    if stratify == "source":
        return d.source or "(none)"
    return "all"


def assign_groups(
    groups: dict[str, tuple[str, int]], ratios: tuple[float, float, float], seed: int
) -> dict[str, str]:
    """Assign groups to splits.

    Args:
        groups: ``group key -> (stratum, number of dialogues)``.
        ratios: train, val, test shares.
        seed: Shuffle seed.

    Returns:
        ``group key -> "train" | "val" | "test"``.
    """
    bounds = (ratios[0], ratios[0] + ratios[1])
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for key, (stratum, _) in groups.items():
        by_stratum[stratum].append(key)
    result: dict[str, str] = {}
    for stratum in sorted(by_stratum):
        keys = sorted(by_stratum[stratum])
        random.Random(f"{seed}:{stratum}").shuffle(keys)
        total = sum(groups[k][1] for k in keys)
        done = 0
        for key in keys:
            size = groups[key][1]
            mid = (done + size / 2) / total
            done += size
            result[key] = "train" if mid < bounds[0] else "val" if mid < bounds[1] else "test"
    return result


class SplitPlan:
    """Collects (id, group, stratum) in a first pass; then tells each dialogue's split.

    Args:
        config: Ratios, seed and stratification.
    """

    def __init__(self, config: SplitConfig | None = None) -> None:
        self.config = config or SplitConfig()
        self._groups: dict[str, list[Any]] = {}
        self._member: dict[str, str] = {}
        self._assignment: dict[str, str] | None = None

    def add(self, d: Dialogue) -> None:
        """Register one dialogue (first pass)."""
        key = group_key(d)
        stratum = stratum_of(d, self.config.stratify)
        entry = self._groups.setdefault(key, [stratum, 0])
        entry[1] += 1
        self._member[d.id] = key
        self._assignment = None

    def split_of(self, d: Dialogue | str) -> str:
        """The split of a registered dialogue (or dialogue id)."""
        if self._assignment is None:
            groups = {k: (v[0], v[1]) for k, v in self._groups.items()}
            self._assignment = assign_groups(groups, self.config.ratios, self.config.seed)
        dialogue_id = d if isinstance(d, str) else d.id
        return self._assignment[self._member[dialogue_id]]

    @property
    def n_groups(self) -> int:
        """Number of groups registered."""
        return len(self._groups)


def split_dialogues(
    dialogues: Iterable[Dialogue], config: SplitConfig | None = None
) -> dict[str, list[Dialogue]]:
    """Split an in-memory collection (for small data and tests; files use :func:`split_file`)."""
    items = list(dialogues)
    plan = SplitPlan(config)
    for d in items:
        plan.add(d)
    out: dict[str, list[Dialogue]] = {s: [] for s in SPLITS}
    for d in items:
        out[plan.split_of(d)].append(d)
    return out


def split_counts(plan: SplitPlan, dialogues: Iterable[Dialogue]) -> dict[str, Any]:
    """Counts per split, and per split and stratum, for a registered stream."""
    totals: Counter[str] = Counter()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for d in dialogues:
        split = plan.split_of(d)
        totals[split] += 1
        per[split][stratum_of(d, plan.config.stratify)] += 1
    return {
        "counts": {s: totals.get(s, 0) for s in SPLITS},
        "by_stratum": {s: dict(sorted(per[s].items())) for s in SPLITS},
    }


def split_file(in_path: str | Path, out_dir: str | Path, config: SplitConfig | None = None) -> dict[str, Any]:
    """Split a Dialogue JSONL file into ``out_dir/{train,val,test}.jsonl`` (two streaming passes).

    Returns:
        ``{"counts": {split: n}, "groups": n, "ratios": [...], "seed": s, "stratify": ...}``.
    """
    from xinyu.data.formats import dialogue as dialogue_format
    from xinyu.io import atomic_write

    config = config or SplitConfig()
    plan = SplitPlan(config)
    for d in dialogue_format.read(Path(in_path)):
        plan.add(d)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        handles = {s: stack.enter_context(atomic_write(out_dir / f"{s}.jsonl")) for s in SPLITS}
        for d in dialogue_format.read(Path(in_path)):
            split = plan.split_of(d)
            handles[split].write(json.dumps(d.to_dict(), ensure_ascii=False) + "\n")
            counts[split] += 1
    return {
        "counts": {s: counts.get(s, 0) for s in SPLITS},
        "groups": plan.n_groups,
        "ratios": list(config.ratios),
        "seed": config.seed,
        "stratify": config.stratify,
    }
