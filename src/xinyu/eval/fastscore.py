"""Exact, faster re-computation of LLaMA-Factory's BLEU-4 and ROUGE-1/2/L.

LLaMA-Factory (``ComputeSimilarity``) scores one pair at a time with ``rouge_chinese.Rouge`` on
jieba words and ``nltk``'s ``sentence_bleu`` (smoothing method 3) on characters. Both libraries
are slow on long replies: ``rouge_chinese`` fills a Python dict for the longest-common-subsequence
table (O(n·m) dict writes) and ``nltk`` builds ``Fraction`` objects. This module computes the
*same floating-point values*:

* The text goes through ``rouge_chinese``'s own sentence cutting and whitespace handling (the
  library function is reused, so the word lists are identical, including the empty-string words
  it produces around line breaks).
* ROUGE-1/2 use the same n-gram *sets* (``Rouge(exclusive=True)``, the default) and the same
  float formula, operation for operation.
* ROUGE-L length comes from a bit-parallel LCS (Hyyrö 2004), which returns the exact LCS length
  in O(n·⌈m/w⌉) big-integer steps; the F formula is then the library's.
* BLEU-4 uses the same clipped n-gram counts (character n-grams as substrings, which compare
  equal exactly when the character tuples do), the same smoothing-3 values and the same
  ``math.fsum``/``math.exp`` sequence as ``nltk.translate.bleu_score.corpus_bleu``.

Equality with the libraries is asserted by the tests (random and edge-case pairs) and by
``benchmarks/bench_eval.py`` on 10,000 pairs.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass

from rouge_chinese import Rouge

METRIC_KEYS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")

_CUT_SENT = Rouge().cut_sent


@dataclass(slots=True)
class RougeText:
    """What ROUGE needs of one text, computed once per unique text.

    Attributes:
        blank: True when LLaMA-Factory's emptiness check fires (no non-space word).
        words: The word list ``rouge_chinese`` scores (after its sentence cutting).
        unigrams: Set of 1-gram tuples (``exclusive=True`` counts each n-gram once).
        bigrams: Set of 2-gram tuples.
    """

    blank: bool
    words: list[str]
    unigrams: set[tuple[str, ...]]
    bigrams: set[tuple[str, ...]]


def rouge_text(jieba_words: list[str]) -> RougeText:
    """Prepare a text for ROUGE from its jieba words, exactly as ``Rouge.get_scores`` would."""
    joined = " ".join(jieba_words)
    blank = len(joined.split()) == 0
    if blank:
        return RougeText(True, [], set(), set())
    # Rouge._get_scores: cut into sentences, drop empty pieces, squeeze whitespace; then
    # rouge_score._split_into_words splits each sentence on single spaces and chains them.
    sentences = [" ".join(piece.split()) for piece in _CUT_SENT(joined) if len(piece) > 0]
    words = list(itertools.chain(*[sentence.split(" ") for sentence in sentences]))
    unigrams = {(w,) for w in words}
    bigrams = set(itertools.pairwise(words))
    return RougeText(False, words, unigrams, bigrams)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, exact).

    Hand-written because no maintained library offers an LCS over arbitrary token sequences;
    ``rouge_chinese``'s own version is the dict-based O(n·m) table this replaces.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        match = masks.get(token)
        if match:
            hit = row & match
            row = ((row + hit) | (row - hit)) & full
    return len(a) - row.bit_count()


def _f_rouge_n(evaluated_count: int, reference_count: int, overlapping_count: int) -> float:
    # rouge_score.f_r_p_rouge_n, same operations in the same order.
    precision = 0.0 if evaluated_count == 0 else overlapping_count / evaluated_count
    recall = 0.0 if reference_count == 0 else overlapping_count / reference_count
    return 2.0 * ((precision * recall) / (precision + recall + 1e-8))


def rouge_f(hyp: RougeText, ref: RougeText) -> tuple[float, float, float]:
    """ROUGE-1/2/L F values (0-1, unrounded) of one pair; 0 when either side is blank."""
    if hyp.blank or ref.blank:
        return 0.0, 0.0, 0.0
    r1 = _f_rouge_n(len(hyp.unigrams), len(ref.unigrams), len(hyp.unigrams & ref.unigrams))
    r2 = _f_rouge_n(len(hyp.bigrams), len(ref.bigrams), len(hyp.bigrams & ref.bigrams))
    # rouge_score.rouge_l_summary_level: m = reference words, n = hypothesis words.
    llcs = lcs_length(ref.words, hyp.words)
    r_lcs = llcs / len(ref.words)
    p_lcs = llcs / len(hyp.words)
    rl = 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))
    return r1, r2, rl


def _char_ngram_counts(text: str, n: int) -> Counter[str]:
    if n == 1:
        return Counter(text)
    return Counter([text[i : i + n] for i in range(len(text) - n + 1)])


def bleu4(prediction: str, reference: str) -> float:
    """``sentence_bleu([list(reference)], list(prediction), smoothing_function=method3)``, exactly."""
    hyp_len, ref_len = len(prediction), len(reference)
    numerators: list[int] = []
    denominators: list[int] = []
    for n in range(1, 5):
        counts = _char_ngram_counts(prediction, n) if hyp_len >= n else Counter()
        ref_counts = _char_ngram_counts(reference, n) if ref_len >= n else Counter()
        numerators.append(sum(min(count, ref_counts[gram]) for gram, count in counts.items()))
        denominators.append(max(1, sum(counts.values())))
    # nltk: brevity_penalty(closest_ref_len, hyp_len)
    if hyp_len > ref_len:
        bp: float = 1
    elif hyp_len == 0:
        bp = 0
    else:
        bp = math.exp(1 - ref_len / hyp_len)
    if numerators[0] == 0:
        return 0.0
    # SmoothingFunction.method3: a zero count becomes 1 / (2**k * denominator), k = 1, 2, ...
    precisions: list[float] = []
    k = 1
    for num, den in zip(numerators, denominators, strict=True):
        if num == 0:
            precisions.append(1 / (2**k * den))
            k += 1
        else:
            precisions.append(num / den)  # == float(Fraction(num, den)): ints divide correctly rounded
    total = math.fsum(0.25 * math.log(p) for p in precisions if p > 0)
    return float(bp * math.exp(total))


def score_pair(prediction: str, reference: str, hyp: RougeText, ref: RougeText) -> tuple[float, float, float, float]:
    """LLaMA-Factory's four per-sample values: ``round(value * 100, 4)`` for BLEU-4, ROUGE-1/2/L."""
    r1, r2, rl = rouge_f(hyp, ref)
    bleu = bleu4(prediction, reference)
    return round(bleu * 100, 4), round(r1 * 100, 4), round(r2 * 100, 4), round(rl * 100, 4)
