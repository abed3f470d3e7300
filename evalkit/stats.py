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
    # A metric may opt out (``resample = False``: FID on wide features, KID, IS), when each
    # resample costs an eigendecomposition or many kernel subsets.
    if n == 0 or resamples <= 0 or not getattr(metric, "resample", True):
        return {k: (float("nan"), float("nan")) for k in names}
    matrix = np.asarray(stats, dtype=np.float64) if isinstance(metric, VectorMetric) else None
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for idx in resample_indices(rng, n, resamples):
        vals = values_for_indices(metric, stats, idx, matrix)
        for k in names:
            chunks[k].append(vals[k])
    alpha = (1.0 - confidence) / 2.0
    out = {}
    with_interval = set(metric.interval_values())
    for k in names:
        if k not in with_interval:
            out[k] = (float("nan"), float("nan"))
            continue
        arr = np.concatenate(chunks[k])
        arr = arr[~np.isnan(arr)]
        if arr.size == 0:
            out[k] = (float("nan"), float("nan"))
        else:
            lo, hi = np.quantile(arr, [alpha, 1.0 - alpha])
            out[k] = (float(lo), float(hi))
    return out


# --- paired tests -------------------------------------------------------------------------------

_TIE = 1e-12  # relative tolerance: differences this close count as equal (floating-point sums)


def _matrix(metric: Metric, stats: Sequence[Stats]) -> np.ndarray | None:
    return np.asarray(stats, dtype=np.float64) if isinstance(metric, VectorMetric) else None


def _at_least(values: np.ndarray, threshold: float) -> int:
    """How many ``values`` are >= ``threshold``, with a tolerance for floating-point noise."""
    tol = _TIE * max(1.0, abs(threshold))
    return int(np.count_nonzero(values >= threshold - tol))


def paired_bootstrap(
    metric: Metric,
    stats_a: Sequence[Stats],
    stats_b: Sequence[Stats],
    *,
    resamples: int = 1000,
    seed: int = 12345,
    confidence: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Paired bootstrap test of system B against system A (Koehn 2004).

    Both systems are resampled with the *same* indices and the corpus metric is recomputed from
    the resampled statistics. The delta's interval is the percentile interval of the resampled
    deltas ``d_b``. The two-sided p-value shifts the bootstrap distribution to the null
    (Efron & Tibshirani 1993, sec. 16.4): ``p = (1 + #{|d_b - d| >= |d|}) / (B + 1)``, so it is
    never below ``1/(B+1)`` and a system compared with itself (``d = 0``) gets ``p = 1``.

    sacrebleu 2.6.0 instead counts ``|d_b| - mean|d_b| > |d|`` (the Moses script's rule): the
    strict ``>`` gives identical systems ``p = 1/(B+1)``, and the centring on ``mean|d_b|``
    behaves like a one-sided test, rejecting about twice as often as ``alpha`` under the null.
    The indices are drawn as sacrebleu draws them (``default_rng(seed).choice``), so resampled
    scores and intervals equal sacrebleu's for the same seed.

    Returns:
        For each value name: ``value_a``, ``value_b``, ``delta`` (B - A), ``ci_low``,
        ``ci_high`` (of the delta), ``p_value``.

    >>> from evalkit.metrics.qa import ExactMatch
    >>> em = ExactMatch()
    >>> same = [[1.0], [0.0], [1.0]] * 10
    >>> paired_bootstrap(em, same, same, resamples=200)["exact_match"]["p_value"]
    1.0
    """
    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError(f"paired test needs equal sample counts ({n} vs {len(stats_b)})")
    names = metric.value_names()
    va, vb = metric.aggregate(stats_a), metric.aggregate(stats_b)
    out: dict[str, dict[str, float]] = {}
    if n == 0:
        return {
            k: dict(
                value_a=va[k],
                value_b=vb[k],
                delta=float("nan"),
                ci_low=float("nan"),
                ci_high=float("nan"),
                p_value=1.0,
            )
            for k in names
        }
    rng = np.random.default_rng(seed)
    ma, mb = _matrix(metric, stats_a), _matrix(metric, stats_b)
    deltas: dict[str, list[np.ndarray]] = {k: [] for k in names}
    done = 0
    while done < resamples:
        b = min(_BLOCK, resamples - done)
        idx = rng.choice(n, size=(b, n), replace=True)
        ra = values_for_indices(metric, stats_a, idx, ma)
        rb = values_for_indices(metric, stats_b, idx, mb)
        for k in names:
            deltas[k].append(rb[k] - ra[k])
        done += b
    alpha = (1.0 - confidence) / 2.0
    for k in names:
        d_obs = vb[k] - va[k]
        d = np.concatenate(deltas[k])
        lo, hi = np.quantile(d, [alpha, 1.0 - alpha])
        c = _at_least(np.abs(d - d_obs), abs(d_obs))
        out[k] = dict(
            value_a=va[k],
            value_b=vb[k],
            delta=d_obs,
            ci_low=float(lo),
            ci_high=float(hi),
            p_value=(c + 1) / (resamples + 1),
        )
    return out


def approximate_randomization(
    metric: Metric,
    stats_a: Sequence[Stats],
    stats_b: Sequence[Stats],
    *,
    trials: int = 10000,
    seed: int = 12345,
) -> dict[str, float]:
    """Two-sided paired approximate randomization test (Noreen 1989; Riezler & Maxwell 2005).

    Each trial swaps the two systems' statistics of every sample with probability 1/2 and
    recomputes both corpus metrics; ``p = (1 + #{|a' - b'| >= |a - b|}) / (trials + 1)``.
    The swap masks are drawn as sacrebleu draws them, so for the same seed p-values equal
    sacrebleu's except where sacrebleu's strict ``>`` mishandles ties (identical systems get
    ``p = 1`` here, ``1/(trials+1)`` there).

    Returns:
        ``{value name: p_value}``.
    """
    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError(f"paired test needs equal sample counts ({n} vs {len(stats_b)})")
    names = metric.value_names()
    if n == 0:
        return {k: 1.0 for k in names}
    va, vb = metric.aggregate(stats_a), metric.aggregate(stats_b)
    rng = np.random.default_rng(seed)
    pos = rng.integers(2, size=(trials, n), dtype=bool)
    counts = {k: 0 for k in names}
    ma, mb = _matrix(metric, stats_a), _matrix(metric, stats_b)
    for start in range(0, trials, _BLOCK):
        sel = pos[start : start + _BLOCK]
        if ma is not None and mb is not None and isinstance(metric, VectorMetric):
            f = sel.astype(np.float64)
            ta = f @ ma + (1.0 - f) @ mb
            tb = (1.0 - f) @ ma + f @ mb
            nn = np.full(sel.shape[0], float(n))
            sa, sb = metric.from_totals(ta, nn), metric.from_totals(tb, nn)
        else:
            sa = {k: np.empty(sel.shape[0]) for k in names}
            sb = {k: np.empty(sel.shape[0]) for k in names}
            for r, row in enumerate(sel):
                xa = [stats_a[i] if keep else stats_b[i] for i, keep in enumerate(row)]
                xb = [stats_b[i] if keep else stats_a[i] for i, keep in enumerate(row)]
                for k, v in metric.aggregate(xa).items():
                    sa[k][r] = v
                for k, v in metric.aggregate(xb).items():
                    sb[k][r] = v
        for k in names:
            counts[k] += _at_least(
                np.abs(np.asarray(sa[k]) - np.asarray(sb[k])), abs(vb[k] - va[k])
            )
    return {k: (counts[k] + 1) / (trials + 1) for k in names}


def mcnemar_exact(outcomes_a: Sequence[float], outcomes_b: Sequence[float]) -> float:
    """Exact two-sided McNemar test for paired binary outcomes (McNemar 1947).

    Only discordant pairs count: with ``b`` samples right only in A and ``c`` right only in B,
    ``p = min(1, 2 * P[X <= min(b, c)])`` for ``X ~ Binomial(b + c, 1/2)``; no discordant pair
    gives ``p = 1``.

    >>> mcnemar_exact([1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0])
    0.03125
    >>> mcnemar_exact([1, 0, 1], [1, 0, 1])
    1.0
    """
    import math

    b = sum(1 for x, y in zip(outcomes_a, outcomes_b, strict=True) if x and not y)
    c = sum(1 for x, y in zip(outcomes_a, outcomes_b, strict=True) if y and not x)
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**m)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (Holm 1979), in the input order.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = round(running, 15)
    return adjusted
