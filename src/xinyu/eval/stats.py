"""Small statistics helpers for evaluation summaries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_mean(
    values: Sequence[float], *, samples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, float | None]:
    """Mean with a percentile bootstrap confidence interval (seeded, so reruns agree).

    Args:
        values: Observations.
        samples: Bootstrap resamples.
        confidence: Interval coverage (0.95 → 2.5th and 97.5th percentiles).
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        ``{"mean", "ci_low", "ci_high"}``; all None when ``values`` is empty.
    """
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None}
    rng = np.random.default_rng(seed)
    # Resample in blocks so 2000 x 10,000 draws never sit in memory at once.
    means = np.empty(samples)
    block = max(1, 2_000_000 // data.size)
    for start in range(0, samples, block):
        stop = min(samples, start + block)
        idx = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"mean": float(data.mean()), "ci_low": float(low), "ci_high": float(high)}
