"""Contamination check: evaluation dialogues whose assistant text also appears in training data.

A target dialogue (a test-split dialogue, or one of an external evaluation set such as CPsyCounE) is
flagged when one of its assistant turns shares a character n-gram (default 13 characters, whitespace
removed) with any training assistant turn. Flagged dialogues sharing at least ``leak_fraction`` of
their n-grams are reported as likely leaks (copies or close paraphrases; LLM-generated corpora such as
CPsyCounD contain paraphrases of one case). Stock phrases that counselors repeat everywhere would flag
almost everything, so an n-gram found in more than ``max_df`` training dialogues counts as boilerplate
and is ignored (``max_df=0`` disables that filter); a verbatim copy still shares all its other n-grams.

Memory stays small: only the *targets'* n-gram hashes are held (sorted numpy arrays); the training side
streams past them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xinyu.data.schema import Dialogue

MAX_LISTED = 200


def _assistant_text(d: Dialogue) -> list[str]:
    return ["".join(m["content"].split()) for m in d.messages if m["role"] == "assistant"]


def ngram_hashes(texts: Iterable[str], n: int) -> np.ndarray:
    """Unique 64-bit hashes of the character ``n``-grams of each text (n-grams never cross texts)."""
    parts = []
    prime = np.uint64(1_000_003)
    for text in texts:
        if len(text) < n:
            continue
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        count = len(codes) - n + 1
        acc = np.zeros(count, dtype=np.uint64)
        for j in range(n):
            acc = acc * prime + codes[j : j + count]
        parts.append(acc)
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.concatenate(parts))


@dataclass
class Overlap:
    """One flagged target dialogue."""

    id: str
    shared: int
    total: int
    example_reference: str

    @property
    def fraction(self) -> float:
        """Share of the target's (non-boilerplate) n-grams found in the reference."""
        return self.shared / self.total if self.total else 0.0


@dataclass
class ContaminationResult:
    """Outcome of :func:`check`."""

    name: str
    n: int
    max_df: int
    leak_fraction: float = 0.5
    targets: int = 0
    references: int = 0
    boilerplate_ngrams: int = 0
    flagged: list[Overlap] = field(default_factory=list)
    reference_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids and counts only)."""
        flagged = sorted(self.flagged, key=lambda o: (-o.fraction, o.id))
        return {
            "name": self.name,
            "ngram_chars": self.n,
            "max_df": self.max_df,
            "targets_checked": self.targets,
            "reference_dialogues": self.references,
            "boilerplate_ngrams_ignored": self.boilerplate_ngrams,
            "flagged_count": len(flagged),
            "leak_fraction": self.leak_fraction,
            "likely_leak_count": sum(o.fraction >= self.leak_fraction for o in flagged),
            "likely_leaks": [o.id for o in flagged if o.fraction >= self.leak_fraction][:MAX_LISTED],
            "flagged": [
                {
                    "id": o.id,
                    "shared_ngrams": o.shared,
                    "target_ngrams": o.total,
                    "fraction": round(o.fraction, 4),
                    "example_reference_id": o.example_reference,
                }
                for o in flagged[:MAX_LISTED]
            ],
            "reference_ids_overlapping": sorted(self.reference_ids)[:MAX_LISTED],
        }


def check(
    targets: Iterable[Dialogue],
    reference: Iterable[Dialogue],
    *,
    n: int = 13,
    max_df: int = 20,
    leak_fraction: float = 0.5,
    name: str = "test",
) -> ContaminationResult:
    """Find target dialogues sharing assistant n-grams with reference (training) dialogues.

    Args:
        targets: Evaluation dialogues (held in memory as n-gram hashes).
        reference: Training dialogues (streamed once).
        n: N-gram length in characters.
        max_df: N-grams found in more reference dialogues than this are boilerplate (0: no filter).
        leak_fraction: A flagged target sharing at least this share of its n-grams is a likely leak
            (a copy or close paraphrase), as opposed to a few shared phrases.
        name: Label for the result.
    """
    ids: list[str] = []
    hash_parts: list[np.ndarray] = []
    owner_parts: list[np.ndarray] = []
    for d in targets:
        h = ngram_hashes(_assistant_text(d), n)
        hash_parts.append(h)
        owner_parts.append(np.full(len(h), len(ids), dtype=np.uint32))
        ids.append(d.id)
    result = ContaminationResult(name=name, n=n, max_df=max_df, leak_fraction=leak_fraction, targets=len(ids))
    if not ids:
        for _ in reference:
            result.references += 1
        return result
    hashes = np.concatenate(hash_parts) if hash_parts else np.zeros(0, dtype=np.uint64)
    owners = np.concatenate(owner_parts) if owner_parts else np.zeros(0, dtype=np.uint32)
    order = np.argsort(hashes, kind="stable")
    hashes, owners = hashes[order], owners[order]
    uniq, first_pos = np.unique(hashes, return_index=True)
    df = np.zeros(len(uniq), dtype=np.uint32)  # reference dialogues containing each target n-gram
    first_ref = np.full(len(uniq), -1, dtype=np.int64)  # index into ref_ids of the first one
    ref_ids: list[str] = []
    h_empty = np.zeros(0, dtype=np.uint64)
    for ref in reference:
        result.references += 1
        h = ngram_hashes(_assistant_text(ref), n) if len(uniq) else h_empty
        if not len(h):
            continue
        pos = np.searchsorted(uniq, h)
        pos[pos >= len(uniq)] = len(uniq) - 1
        hit = pos[uniq[pos] == h]
        if len(hit):
            df[hit] += 1
            new = hit[first_ref[hit] < 0]
            if len(new):
                first_ref[new] = len(ref_ids)
                ref_ids.append(ref.id)
    boiler = df > max_df if max_df > 0 else np.zeros(len(uniq), dtype=bool)
    result.boilerplate_ngrams = int(boiler.sum())
    shared_uniq = (df > 0) & ~boiler
    # Each (hash, owner) row maps back to its unique n-gram, to count n-grams per target.
    row_uniq = np.repeat(np.arange(len(uniq)), np.diff(np.append(first_pos, len(hashes))))
    totals = np.bincount(owners[~boiler[row_uniq]], minlength=len(ids))
    shared_rows = np.nonzero(shared_uniq[row_uniq])[0]
    shared = np.bincount(owners[shared_rows], minlength=len(ids))
    flagged_owners, first_rows = np.unique(owners[shared_rows], return_index=True)
    for owner, row in zip(flagged_owners.tolist(), shared_rows[first_rows].tolist(), strict=True):
        example = ref_ids[first_ref[row_uniq[row]]]
        result.flagged.append(Overlap(ids[owner], int(shared[owner]), int(totals[owner]), example))
    result.reference_ids = sorted({ref_ids[i] for i in np.unique(first_ref[shared_uniq]).tolist() if i >= 0})
    return result
