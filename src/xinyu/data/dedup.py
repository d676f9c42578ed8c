"""Exact and near-duplicate detection for dialogues, streaming-friendly.

Exact duplicates: a 128-bit BLAKE2b digest of the dialogue's user/assistant text reduced by
:func:`xinyu.data.normalize.dedup_key` (case, whitespace and punctuation ignored; system prompts
ignored, since corpora reuse one prompt for every record). Only digests are kept.

Near duplicates: MinHash signatures over character n-gram shingles, indexed with datasketch's
:class:`~datasketch.MinHashLSH`; an LSH candidate counts as a duplicate only when its estimated Jaccard
similarity reaches the threshold. Only signatures are kept (``num_perm`` × 4 bytes per dialogue), never
the text. The signature is computed with numpy using datasketch's own ``affine32`` permutations,
because datasketch hashes every shingle with a Python-level call, which is too slow for 55k dialogues
of ~1,000 characters; shingles are hashed vectorised (a polynomial rolling hash of code points).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from xinyu.data.normalize import dedup_key

_MASK32 = np.uint64(0xFFFFFFFF)


def dialogue_text_key(messages: Iterable[dict[str, str]]) -> str:
    """The user/assistant text of a dialogue reduced for duplicate detection (turns separated by ``|``)."""
    return "|".join(f"{m['role'][0]}{dedup_key(m['content'])}" for m in messages if m["role"] != "system")


def exact_digest(key: str) -> bytes:
    """128-bit digest of a :func:`dialogue_text_key`."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """Unique 32-bit hashes of the character ``size``-grams of ``text`` (the whole text if shorter)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.uint32)
    if len(codes) < size:
        size = len(codes)
    count = len(codes) - size + 1
    acc = np.zeros(count, dtype=np.uint64)
    prime = np.uint64(1_000_003)
    for j in range(size):  # polynomial hash mod 2^64 (wrap-around is intended)
        acc = acc * prime + codes[j : j + count]
    # Fold to 32 bits with a murmur-style finaliser so that nearby n-grams spread out.
    acc ^= acc >> np.uint64(33)
    acc *= np.uint64(0xFF51AFD7ED558CCD)
    acc ^= acc >> np.uint64(33)
    return np.unique((acc & _MASK32).astype(np.uint32))


class NearDuplicateIndex:
    """Online near-duplicate detection: ``find`` a near-duplicate of a text among those ``add``-ed.

    Args:
        threshold: Jaccard similarity (of shingle sets) from which two texts are near-duplicates.
        num_perm: MinHash permutations (signature length).
        shingle_size: Characters per shingle.
        seed: Permutation seed (fixed, for reproducible results).
    """

    def __init__(
        self, threshold: float = 0.85, num_perm: int = 128, shingle_size: int = 5, seed: int = 1
    ) -> None:
        from datasketch import MinHash, MinHashLSH

        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.seed = seed
        self._perm_a, self._perm_b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def signature(self, text: str) -> np.ndarray:
        """MinHash signature (``uint32[num_perm]``) of ``text``'s shingle set."""
        hashes = shingle_hashes(text, self.shingle_size)
        if len(hashes) == 0:
            return np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        # datasketch's affine32 permutations a*h + b mod 2^32 (our shingle hashes are already mixed, so
        # its extra input mixing step is not needed); chunked so the (shingles x permutations) matrix
        # stays small for very long texts.
        sig = np.full(self.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
        for start in range(0, len(hashes), 4096):
            chunk = hashes[start : start + 4096, None]
            sig = np.minimum(sig, (chunk * self._perm_a + self._perm_b).min(axis=0))
        return sig

    def _lean(self, sig: np.ndarray):
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=sig, scheme="affine32")

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        """Estimated Jaccard similarity of two signatures."""
        return float(np.count_nonzero(a == b)) / len(a)

    def find(self, sig: np.ndarray) -> tuple[str, float] | None:
        """The most similar indexed key at or above the threshold, with its similarity, or ``None``."""
        if not self._signatures:
            return None
        best: tuple[str, float] | None = None
        for key in self._lsh.query(self._lean(sig)):
            sim = self.similarity(sig, self._signatures[key])
            if sim >= self.threshold and (
                best is None or sim > best[1] or (sim == best[1] and key < best[0])
            ):
                best = (key, sim)
        return best

    def add(self, key: str, sig: np.ndarray) -> None:
        """Index a signature under ``key`` (keys must be unique)."""
        self._lsh.insert(key, self._lean(sig), check_duplication=False)
        self._signatures[key] = sig
