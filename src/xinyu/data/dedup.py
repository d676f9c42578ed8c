"""Exact and near-duplicate detection for dialogues, streaming-friendly.

Exact duplicates: a 128-bit BLAKE2b digest of the dialogue's user/assistant text reduced to letters and
digits (case, whitespace and punctuation ignored; system prompts ignored, since corpora reuse one prompt
for every record), see :func:`dialogue_codes`. Only digests are kept.

Near duplicates: MinHash signatures over character n-gram shingles, indexed with datasketch's
:class:`~datasketch.MinHashLSH`; an LSH candidate counts as a duplicate only when its estimated Jaccard
similarity reaches the threshold. Only signatures are kept (``num_perm`` × 4 bytes per dialogue), never
the text. Signatures are computed with numpy by one-permutation hashing (see
:func:`one_permutation_signature`) rather than with datasketch's ``MinHash``, which hashes every shingle
with a Python-level call and applies ``num_perm`` permutations: too slow for 55k dialogues of ~1,000
characters. Shingles are hashed vectorised (a polynomial rolling hash of code points) over the same
reduced text as the exact digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

_USER, _ASSISTANT = "\x01", "\x02"  # turn markers kept in the reduced text, so turn boundaries count


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    # Per code point of the BMP: keep it (letters and digits of any script, plus the turn markers)?
    # and its lower-case form (ASCII). A lookup table reduces a whole dialogue in a few numpy calls,
    # where a regular expression per turn costs several microseconds.
    keep = np.fromiter((chr(i).isalnum() for i in range(0x10000)), dtype=bool, count=0x10000)
    keep[[ord(_USER), ord(_ASSISTANT)]] = True
    lower = np.arange(0x10000, dtype=np.uint32)
    lower[ord("A") : ord("Z") + 1] += 32
    return keep, lower


def dialogue_codes(messages: Iterable[dict[str, str]]) -> np.ndarray:
    """The user/assistant text of a dialogue reduced for duplicate detection, as code points.

    Letters and digits only (case-folded), so whitespace and punctuation differences do not matter;
    system prompts are left out (corpora reuse one prompt for every record); each turn starts with a
    role marker.
    """
    text = "".join(
        (_USER if m["role"] == "user" else _ASSISTANT) + m["content"]
        for m in messages
        if m["role"] != "system"
    )
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    keep, lower = _tables()
    bmp = codes < 0x10000
    if bmp.all():
        return lower[codes[keep[codes]]]
    # Outside the BMP: keep CJK extension ideographs (U+20000-U+3FFFF), drop emoji and symbols.
    mask = np.zeros(len(codes), dtype=bool)
    mask[bmp] = keep[codes[bmp]]
    mask |= (codes >= 0x20000) & (codes < 0x40000)
    out = codes[mask].copy()
    small = out < 0x10000
    out[small] = lower[out[small]]
    return out


def exact_digest(codes: np.ndarray) -> bytes:
    """128-bit digest of a :func:`dialogue_codes` array."""
    return hashlib.blake2b(codes.tobytes(), digest_size=16).digest()


def shingle_hashes(codes: np.ndarray, size: int) -> np.ndarray:
    """32-bit hashes of the ``size``-grams of a code-point array (the whole array if shorter).

    Repeated shingles are not removed: a minimum over a multiset equals the minimum over its set, and
    skipping the sort keeps this cheap.
    """
    if len(codes) == 0:
        return np.zeros(0, dtype=np.uint32)
    size = min(size, len(codes))
    count = len(codes) - size + 1
    acc = codes[:count].astype(np.uint64)
    prime = np.uint64(1_000_003)
    for j in range(1, size):  # polynomial hash mod 2^64, in place (wrap-around is intended)
        acc *= prime
        acc += codes[j : j + count]
    # Fold to 32 bits with a murmur-style finaliser so that nearby n-grams spread out.
    acc ^= acc >> np.uint64(33)
    acc *= np.uint64(0xFF51AFD7ED558CCD)
    acc ^= acc >> np.uint64(33)
    return acc.astype(np.uint32)


_EMPTY = np.uint32(0xFFFFFFFF)
_GOLDEN = np.uint32(0x9E3779B1)


def one_permutation_signature(hashes: np.ndarray, bins: int, mult: np.uint32) -> np.ndarray:
    """MinHash signature by one-permutation hashing with rotation densification.

    The permuted hash range is cut into ``bins`` equal parts and each part's minimum is one signature
    value (Li, Owen & Zhang, NIPS 2012); a part that no shingle falls into borrows the value of the
    next non-empty part, offset by the distance (Shrivastava & Li, ICML 2014). Equal positions estimate
    the Jaccard similarity like ``bins`` independent permutations would, for one sort instead of
    ``bins`` passes over the shingles — about 30 times cheaper for a 1,000-character dialogue.
    """
    if len(hashes) == 0:
        return np.full(bins, _EMPTY, dtype=np.uint32)
    permuted = np.sort(hashes * mult)  # uint32 arithmetic wraps: a bijection for odd `mult`
    which = ((permuted.astype(np.uint64) * np.uint64(bins)) >> np.uint64(32)).astype(np.int64)
    first = np.flatnonzero(np.diff(which, prepend=-1))  # sorted, so each part's first value is its min
    sig = np.zeros(bins, dtype=np.uint32)
    filled = np.zeros(bins, dtype=bool)
    sig[which[first]] = permuted[first]
    filled[which[first]] = True
    if not filled.all():
        full = np.flatnonzero(filled)
        empty = np.flatnonzero(~filled)
        donor = full[np.searchsorted(full, empty) % len(full)]
        distance = ((donor - empty) % bins).astype(np.uint32)
        sig[empty] = sig[donor] + distance * _GOLDEN
    return sig


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
        from datasketch import MinHashLSH

        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.seed = seed
        # The permutation: multiplication by an odd constant drawn from the seed (a bijection mod 2^32).
        self._mult = np.uint32(np.random.default_rng(seed).integers(0, 2**31) * 2 + 1)
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def signature(self, text: str | np.ndarray) -> np.ndarray:
        """MinHash signature (``uint32[num_perm]``) of the shingle set of a text or code-point array."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) if isinstance(text, str) else text
        return one_permutation_signature(shingle_hashes(codes, self.shingle_size), self.num_perm, self._mult)

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
