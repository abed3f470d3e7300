"""Resampling statistics over per-sample statistics: bootstrap confidence intervals.

Resampling never re-tokenises or calls a model: it draws sample indices and recomputes the corpus
metric from the statistics already stored (for additive statistics, with one matrix product per
block of resamples).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

import numpy as np

from evalkit.metrics.base import Metric, VectorMetric
from evalkit.types import Stats

_BLOCK = 200  # resamples per block: bounds memory at _BLOCK * n counts


def task_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by the run seed and stable keys (a task name...), same on every run."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def resample_indices(rng: np.random.Generator, n: int, resamples: int) -> Iterator[np.ndarray]:
    """Yield blocks of bootstrap index arrays, shape ``(block, n)``, drawn with replacement."""
    done = 0
    while done < resamples:
        b = min(_BLOCK, resamples - done)
        yield rng.integers(0, n, size=(b, n))
        done += b


def counts_from_indices(idx: np.ndarray) -> np.ndarray:
    """How often each sample occurs in each resample: shape ``(block, n)``."""
    b, n = idx.shape
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def values_for_indices(
    metric: Metric, stats: Sequence[Stats], idx: np.ndarray, matrix: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Corpus values of ``metric`` for each row of resampled indices ``idx`` (shape (B, n))."""
    if isinstance(metric, VectorMetric):
        mat = matrix if matrix is not None else np.asarray(stats, dtype=np.float64)
        counts = counts_from_indices(idx)
        totals = counts @ mat
        return {
            k: np.asarray(v, dtype=np.float64)
            for k, v in metric.from_totals(totals, counts.sum(axis=1)).items()
        }
    names = metric.value_names()
    out = {k: np.empty(idx.shape[0]) for k in names}
    for b, row in enumerate(idx):
        vals = metric.aggregate([stats[i] for i in row])
        for k in names:
            out[k][b] = vals[k]
    return out


def bootstrap_ci(
    metric: Metric,
    stats: Sequence[Stats],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval for every value of ``metric``.

    Args:
        metric: The metric whose ``aggregate`` defines the corpus value.
        stats: Per-sample statistics of the scored samples.
        resamples: Number of bootstrap resamples (0 disables intervals: NaN bounds).
        confidence: Two-sided coverage, e.g. 0.95.
        rng: Source of randomness (seeded by the caller for reproducibility).

    Returns:
        ``{value name: (low, high)}``.

    >>> from evalkit.metrics.qa import ExactMatch
    >>> m = ExactMatch()
    >>> ci = bootstrap_ci(m, [[1.0], [0.0]] * 50, rng=np.random.default_rng(0))
    >>> 0.35 < ci["exact_match"][0] < 0.5 < ci["exact_match"][1] < 0.65
    True
    """
    names = metric.value_names()
    n = len(stats)
    if n == 0 or resamples <= 0:
        return {k: (float("nan"), float("nan")) for k in names}
    matrix = np.asarray(stats, dtype=np.float64) if isinstance(metric, VectorMetric) else None
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for idx in resample_indices(rng, n, resamples):
        vals = values_for_indices(metric, stats, idx, matrix)
        for k in names:
            chunks[k].append(vals[k])
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for k in names:
        arr = np.concatenate(chunks[k])
        arr = arr[~np.isnan(arr)]
        if arr.size == 0:
            out[k] = (float("nan"), float("nan"))
        else:
            lo, hi = np.quantile(arr, [alpha, 1.0 - alpha])
            out[k] = (float(lo), float(hi))
    return out
