"""Resampling statistics over per-sample statistics: bootstrap confidence intervals.

Resampling never re-tokenises or calls a model: it draws sample indices and recomputes the corpus
metric from the statistics already stored (for additive statistics, with one matrix product per
block of resamples).
"""

from __future__ import annotations

import inspect
import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from evalkit.metrics.base import Metric, VectorMetric
from evalkit.types import Stats

_BLOCK = 200  # resamples per block: bounds memory at _BLOCK * n counts
_TIE = 1e-12  # relative tolerance: differences this close count as equal (floating-point sums)


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
    """How often each sample occurs in each resample: shape ``(block, n)``, float64.

    One ``bincount`` over the whole block, weighted by ones so that it writes the float64
    counts the matrix product needs directly (no int64 counts and no cast: at 200 x 100,000
    that saves two passes over 160 MB).
    """
    b, n = idx.shape
    flat = idx + np.arange(0, b * n, n, dtype=idx.dtype)[:, None]
    return np.bincount(flat.ravel(), weights=_ones(b * n), minlength=b * n).reshape(b, n)


def _ones(size: int) -> np.ndarray:
    """A read-only array of ``size`` ones (bincount weights), kept for the next block."""
    cached = _ONES[0]
    if cached.size < size:
        cached = np.ones(size)
        cached.flags.writeable = False
        _ONES[0] = cached
    return cached[:size]


_ONES = [np.ones(0)]


class _Resampler:
    """Corpus values of one metric's statistics under blocks of resampled counts.

    A :class:`~evalkit.metrics.base.VectorMetric` turns its statistics into a float64 matrix
    once; each block is then one matrix product ``counts @ matrix`` and one ``from_totals``.
    A metric whose values are means of per-sample values under any resample may say so with
    a ``resample_means(stats)`` method returning those values (``{name: (n,) array}``, or None
    when its values are not such means, e.g. BERTScore with idf): each block is then
    ``counts @ values / n``. A metric whose values are a vectorised function of the counts
    (per-group confusion counts, WEAT's weighted set means) may give a
    ``resample_block(stats)`` method returning a function of the ``(B, n)`` float64 counts
    (each row sums to ``n``) to ``{name: (B,) array}``, or None to decline; its values
    may be NaN where a resample has none (a p-value: it has no interval, see
    ``interval_values``), and may leave a value out (a set-level corpus value that no matrix
    product gives), which is then aggregated resample by resample where asked for (the
    paired tests; run-level intervals skip values without one). A block function with a
    ``names`` parameter is called with the values asked for and may compute only those. Any
    other metric aggregates the resampled statistics themselves, one resample at a time.
    """

    def __init__(
        self, metric: Metric, stats: Sequence[Stats], matrix: np.ndarray | None = None
    ) -> None:
        self.metric = metric
        self.stats = stats
        self.matrix = matrix if matrix is not None else _matrix(metric, stats)
        self.means: np.ndarray | None = None
        self.block: Callable[..., Mapping[str, np.ndarray]] | None = None
        block_hook = getattr(metric, "resample_block", None)
        if self.matrix is None and callable(block_hook):
            self.block = block_hook(stats)
        # A block that takes `names` computes only the values asked for.
        self.block_takes_names = self.block is not None and (
            "names" in inspect.signature(self.block).parameters
        )
        hook = getattr(metric, "resample_means", None)
        if self.matrix is None and self.block is None and callable(hook):
            per_sample = hook(stats)
            if per_sample is not None:
                means = np.stack(
                    [np.asarray(per_sample[k], dtype=np.float64) for k in metric.value_names()],
                    axis=1,
                )
                # A NaN would spread to every resample through the product; such statistics
                # take the sample-by-sample path, where only resamples that draw it are NaN.
                if np.isfinite(means).all():
                    self.means = means

    def values(
        self, idx: np.ndarray, counts: np.ndarray | None, names: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Values for the resamples ``idx`` (shape (B, n)), whose counts may be given: every
        value, or only ``names``. A value a ``resample_block`` leaves out (a set-level corpus
        value) is aggregated resample by resample when asked for."""
        metric = self.metric
        if self.matrix is not None and isinstance(metric, VectorMetric):
            if counts is None:
                counts = counts_from_indices(idx)
            totals = counts @ self.matrix
            # Every resample draws n samples: the row sums of counts, without summing them.
            sizes = np.full(idx.shape[0], float(idx.shape[1]))
            return {
                k: np.asarray(v, dtype=np.float64)
                for k, v in metric.from_totals(totals, sizes).items()
            }
        if self.block is not None:
            if counts is None:
                counts = counts_from_indices(idx)
            want = metric.value_names() if names is None else names
            block = self.block(counts, names=want) if self.block_takes_names else self.block(counts)
            got = {k: np.asarray(block[k], dtype=np.float64) for k in want if k in block}
            missing = [k for k in want if k not in block]
            return {**got, **self._aggregated(idx, missing)} if missing else got
        names = metric.value_names()
        if self.means is not None:
            if counts is None:
                counts = counts_from_indices(idx)
            vals = (counts @ self.means) / idx.shape[1]
            return {k: vals[:, i] for i, k in enumerate(names)}
        return self._aggregated(idx, names)

    def _aggregated(self, idx: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """``names`` of each resample, by aggregating its drawn statistics."""
        metric = self.metric
        stats = self.stats
        out = {k: np.empty(idx.shape[0]) for k in names}
        for b, row in enumerate(idx):
            vals = metric.aggregate([stats[i] for i in row.tolist()])
            for k in names:
                out[k][b] = vals[k]
        return out

    @property
    def additive(self) -> bool:
        """Whether blocks are resampled by a matrix product of counts."""
        return (
            self.means is not None
            or self.block is not None
            or (self.matrix is not None and isinstance(self.metric, VectorMetric))
        )


def values_for_indices(
    metric: Metric, stats: Sequence[Stats], idx: np.ndarray, matrix: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Corpus values of ``metric`` for each row of resampled indices ``idx`` (shape (B, n))."""
    return _Resampler(metric, stats, matrix).values(idx, None)


#: Interval methods of :func:`bootstrap_ci` (a metric's ``interval_method``).
PERCENTILE = "percentile"
BC_MEDIAN = "bc-median"
INTERVAL_METHODS = (PERCENTILE, BC_MEDIAN)


def interval_method(metric: Metric, value_name: str) -> str | None:
    """The method behind ``value_name``'s run-level interval, or None when it gets none.

    None for a metric that does not resample (``resample = False``: KID, IS, FID on wide
    features) and for a value left out of ``interval_values`` (corpus-level distinct-n).

    >>> from evalkit.metrics.qa import ExactMatch
    >>> interval_method(ExactMatch(), "exact_match")
    'percentile'
    """
    if not getattr(metric, "resample", True) or value_name not in metric.interval_values():
        return None
    return metric.interval_method


def _percentile(arr: np.ndarray, estimate: float, alpha: float) -> tuple[float, float]:
    lo, hi = (float(x) for x in np.quantile(arr, [alpha, 1.0 - alpha]))
    # The resampled values come from a matrix product whose rounding differs from the
    # estimate's sum by a few ulps: a constant statistic gives [0.30000000000000004, ...]
    # around 0.3. Only such noise is absorbed here; a real miss is left for the tests to see.
    if math.isfinite(estimate):
        tol = _TIE * max(1.0, abs(estimate))
        if estimate < lo <= estimate + tol:
            lo = estimate
        if hi < estimate <= hi + tol:
            hi = estimate
    return lo, hi


def _bc_median(arr: np.ndarray, estimate: float, alpha: float) -> tuple[float, float]:
    if not math.isfinite(estimate):
        return float("nan"), float("nan")
    lo, med, hi = (float(x) for x in np.quantile(arr, [alpha, 0.5, 1.0 - alpha]))
    # Shift the percentile interval by (estimate - median): the widths below and above the
    # median are kept, so the interval always holds the estimate (both widths are >= 0).
    return estimate - max(0.0, med - lo), estimate + max(0.0, hi - med)


def bootstrap_ci(
    metric: Metric,
    stats: Sequence[Stats],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator,
    estimates: Mapping[str, float] | None = None,
) -> dict[str, tuple[float, float]]:
    """Bootstrap interval of every value of ``metric``, by the metric's ``interval_method``.

    Two methods, over the ``B`` resampled values ``v_b`` with ``a = (1 - confidence) / 2``:

    - ``percentile`` (Efron & Tibshirani 1993, sec. 13.3): ``[q_a(v_b), q_{1-a}(v_b)]``. For
      means and ratios of sums (exact match, BLEU, perplexity, nDCG...) it contains the
      estimate; property tests in ``tests/test_stats_properties.py`` check that.
    - ``bc-median``, a bias-corrected percentile interval: the percentile interval shifted by
      ``estimate - median(v_b)``, i.e. ``[e - (m - q_a), e + (q_{1-a} - m)]``. Set-level
      statistics are biased under resampling with replacement: a resample that draws a sample
      twice has fewer distinct feature vectors, so FID goes up (an FID of 0.622 had a
      percentile interval of [0.676, 1.361]). The shift removes that bias (the basic
      bootstrap bias correction applied to the median) and always contains the estimate.
      Metrics that use it say so in their signature (``|ci:bc-median``).

    Args:
        metric: The metric whose ``aggregate`` defines the corpus value.
        stats: Per-sample statistics of the scored samples.
        resamples: Number of bootstrap resamples (0 disables intervals: NaN bounds).
        confidence: Two-sided coverage, e.g. 0.95.
        rng: Source of randomness (seeded by the caller for reproducibility).
        estimates: The full-sample values, if the caller has them (else aggregated here).

    Returns:
        ``{value name: (low, high)}``; NaN bounds for values without an interval
        (:func:`interval_method` gives None for them) or without a finite resample.

    >>> from evalkit.metrics.qa import ExactMatch
    >>> m = ExactMatch()
    >>> ci = bootstrap_ci(m, [[1.0], [0.0]] * 50, rng=np.random.default_rng(0))
    >>> 0.35 < ci["exact_match"][0] < 0.5 < ci["exact_match"][1] < 0.65
    True
    """
    names = metric.value_names()
    n = len(stats)
    nan = (float("nan"), float("nan"))
    # A metric may opt out (``resample = False``: FID on wide features, KID, IS), when each
    # resample costs an eigendecomposition or many kernel subsets.
    if n == 0 or resamples <= 0 or not getattr(metric, "resample", True):
        return {k: nan for k in names}
    method = metric.interval_method
    if method not in INTERVAL_METHODS:
        raise ValueError(f"{metric.name}: unknown interval_method '{method}'")
    point = dict(estimates) if estimates is not None else metric.aggregate(stats)
    resampler = _Resampler(metric, stats)
    wanted = [k for k in names if interval_method(metric, k) is not None]
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for idx in resample_indices(rng, n, resamples):
        vals = resampler.values(idx, None, wanted)
        for k in wanted:
            chunks[k].append(vals[k])
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for k in names:
        arr = np.concatenate(chunks[k]) if chunks[k] else np.empty(0)
        arr = arr[~np.isnan(arr)]
        if interval_method(metric, k) is None or arr.size == 0:
            out[k] = nan
        elif method == BC_MEDIAN:
            out[k] = _bc_median(arr, float(point[k]), alpha)
        else:
            out[k] = _percentile(arr, float(point[k]), alpha)
    return out


# --- paired tests -------------------------------------------------------------------------------


def _matrix(metric: Metric, stats: Sequence[Stats]) -> np.ndarray | None:
    return np.asarray(stats, dtype=np.float64) if isinstance(metric, VectorMetric) else None


def _tied_floor(threshold: float) -> float:
    """The least value that counts as reaching ``threshold`` (floating-point tie tolerance).

    Both the p-values and the test-inverted interval count against this one number, so that
    they agree exactly.
    """
    return threshold - _TIE * max(1.0, abs(threshold))


def _at_least(values: np.ndarray, threshold: float) -> int:
    """How many ``values`` are >= ``threshold``, with a tolerance for floating-point noise."""
    return int(np.count_nonzero(values >= _tied_floor(threshold)))


#: Names of the paired procedures, as comparisons record them (``interval_method``,
#: ``p_method``): equal names mean one procedure gave both the interval and the p-value.
PAIRED_BOOTSTRAP = "paired bootstrap"
RANDOMIZATION = "approximate randomization"


def alpha_of(confidence: float) -> float:
    """The two-sided level ``1 - confidence``, rounded to 12 decimals.

    Rounded so that a 95% interval tests at exactly the ``0.05`` a user writes as ``alpha``
    (``1 - 0.95`` is ``0.050000000000000044`` in floating point).

    >>> alpha_of(0.95), alpha_of(0.9)
    (0.05, 0.1)
    """
    return round(1.0 - confidence, 12)


def inverted_rank(resamples: int, alpha: float) -> int:
    """``k``: a bootstrap p-value ``(1 + c) / (B + 1)`` is below ``alpha`` exactly when ``c < k``.

    Mathematically ``k = ceil(alpha (B + 1)) - 1``; computed here from the same floating-point
    comparison ``(c + 1) / (B + 1) < alpha`` that a reader of ``p_value`` makes, so the interval
    and the p-value cannot disagree through rounding. ``k = 0`` means no p-value can reach
    ``alpha``: ``B`` is too small.

    >>> inverted_rank(999, 0.05), inverted_rank(1000, 0.05), inverted_rank(10, 0.05)
    (49, 50, 0)
    """
    k = max(0, math.ceil(alpha * (resamples + 1)) - 1)
    while k > 0 and k / (resamples + 1) >= alpha:
        k -= 1
    while k < resamples and (k + 1) / (resamples + 1) < alpha:
        k += 1
    return k


def min_resamples(alpha: float) -> int:
    """The fewest resamples for which a p-value can fall below ``alpha`` (an interval exists).

    >>> min_resamples(0.05), min_resamples(0.01)
    (20, 100)
    """
    b = max(1, math.floor(1.0 / alpha) - 1)
    while inverted_rank(b, alpha) < 1:
        b += 1
    return b


def bootstrap_test(deltas: np.ndarray, d_obs: float, alpha: float) -> dict[str, Any]:
    """p-value and test-inverted interval of one value from its resampled deltas.

    See :func:`paired_bootstrap`; ``alpha`` is ``1 - confidence`` (:func:`alpha_of`).

    Returns:
        ``ci_low``, ``ci_high``, ``p_value``, ``resamples`` (finite deltas) and
        ``interval_note`` (None, or why the interval is NaN).

    >>> r = bootstrap_test(np.array([0.9, 1.1, 1.0, 0.8, 1.2] * 4), 1.0, 0.05)
    >>> r["p_value"], r["ci_low"] > 0
    (0.047619047619047616, True)
    """
    nan = float("nan")
    d = deltas[np.isfinite(deltas)]
    b = int(d.size)
    if not math.isfinite(d_obs) or b == 0:
        note = "the value is undefined" if not math.isfinite(d_obs) else "no finite resample"
        return dict(ci_low=nan, ci_high=nan, p_value=nan, resamples=b, interval_note=note)
    dev = np.abs(d - d_obs)
    threshold = _tied_floor(abs(d_obs))  # |d_b - d| at least this counts as extreme
    c = int(np.count_nonzero(dev >= threshold))
    p = (c + 1) / (b + 1)
    k = inverted_rank(b, alpha)
    if k < 1:
        # No p-value can fall below alpha, so the set of deltas the test would not reject is
        # unbounded: a finite interval here would be a made-up number.
        return dict(
            ci_low=nan,
            ci_high=nan,
            p_value=p,
            resamples=b,
            interval_note=(
                f"{b} resamples are too few for a {(1 - alpha) * 100:g}% interval; "
                f"use at least {min_resamples(alpha)}"
            ),
        )
    h = float(np.partition(dev, b - k)[b - k])  # the k-th largest |d_b - d|
    if h >= threshold:
        # p >= alpha (c >= k values reach the threshold): make 0 a bound at least, so that a
        # deviation within the tie tolerance of |d| cannot leave 0 outside the interval.
        h = max(h, abs(d_obs))
    return dict(ci_low=d_obs - h, ci_high=d_obs + h, p_value=p, resamples=b, interval_note=None)


def paired_bootstrap(
    metric: Metric,
    stats_a: Sequence[Stats],
    stats_b: Sequence[Stats],
    *,
    resamples: int = 1000,
    seed: int = 12345,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Paired bootstrap test of system B against system A, with the interval it implies.

    Both systems are resampled with the *same* indices and the corpus metric is recomputed from
    the resampled statistics (Koehn 2004), giving deltas ``d_b`` around the observed ``d``.
    The two-sided p-value shifts the bootstrap distribution to the null (Efron & Tibshirani
    1993, sec. 16.4): ``p = (1 + #{|d_b - d| >= |d|}) / (B + 1)``, so it is never below
    ``1/(B+1)`` and a system compared with itself (``d = 0``) gets ``p = 1``.

    The interval is that test inverted: the deltas ``d0`` the same shifted test would not
    reject at ``a = 1 - confidence``, ``[d - h, d + h]`` with ``h`` the ``k``-th largest
    ``|d_b - d|``, ``k = ceil(a (B + 1)) - 1`` (:func:`inverted_rank`). So the interval always
    contains ``d``, and it excludes 0 exactly when ``p < a`` (same tie tolerance in both). A
    percentile interval of ``d_b`` does not have that property: with every sample improved it
    can sit far from 0 while ``p = 0.069``. With ``k < 1`` (fewer than :func:`min_resamples`
    resamples) no interval exists: the bounds are NaN and ``interval_note`` says why.
    Resamples whose value is undefined (NaN) are left out of ``B``.

    sacrebleu 2.6.0 instead counts ``|d_b| - mean|d_b| > |d|`` (the Moses script's rule): the
    strict ``>`` gives identical systems ``p = 1/(B+1)``, and the centring on ``mean|d_b|``
    behaves like a one-sided test, rejecting about twice as often as ``alpha`` under the null.
    The indices are drawn as sacrebleu draws them (``default_rng(seed).choice``), so resampled
    scores equal sacrebleu's for the same seed.

    Returns:
        For each value name: ``value_a``, ``value_b``, ``delta`` (B - A), ``ci_low``,
        ``ci_high`` (of the delta), ``p_value``, ``resamples`` (the finite ones counted) and
        ``interval_note`` (None, or why there is no interval).

    >>> from evalkit.metrics.qa import ExactMatch
    >>> em = ExactMatch()
    >>> same = [[1.0], [0.0], [1.0]] * 10
    >>> r = paired_bootstrap(em, same, same, resamples=200)["exact_match"]
    >>> r["p_value"], r["ci_low"], r["ci_high"]
    (1.0, 0.0, 0.0)
    """
    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError(f"paired test needs equal sample counts ({n} vs {len(stats_b)})")
    names = metric.value_names()
    va, vb = metric.aggregate(stats_a), metric.aggregate(stats_b)
    out: dict[str, dict[str, Any]] = {}
    if n == 0:
        return {
            k: dict(
                value_a=va[k],
                value_b=vb[k],
                delta=float("nan"),
                ci_low=float("nan"),
                ci_high=float("nan"),
                p_value=1.0,
                resamples=0,
                interval_note="no sample to compare",
            )
            for k in names
        }
    rng = np.random.default_rng(seed)
    res_a, res_b = _Resampler(metric, stats_a), _Resampler(metric, stats_b)
    deltas: dict[str, list[np.ndarray]] = {k: [] for k in names}
    done = 0
    while done < resamples:
        b = min(_BLOCK, resamples - done)
        idx = rng.choice(n, size=(b, n), replace=True)
        # Both systems are resampled with the same indices: count them once.
        counts = counts_from_indices(idx) if res_a.additive else None
        ra = res_a.values(idx, counts)
        rb = res_b.values(idx, counts)
        for k in names:
            deltas[k].append(rb[k] - ra[k])
        done += b
    alpha = alpha_of(confidence)
    for k in names:
        d_obs = vb[k] - va[k]
        test = bootstrap_test(np.concatenate(deltas[k]), d_obs, alpha)
        out[k] = dict(value_a=va[k], value_b=vb[k], delta=d_obs, **test)
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
        ``{value name: p_value}``; NaN where the observed difference is undefined.
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
    # An undefined difference (NaN) is never "extreme": it has no p-value, not the floor.
    return {
        k: (counts[k] + 1) / (trials + 1) if math.isfinite(vb[k] - va[k]) else float("nan")
        for k in names
    }


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
    return float(min(1.0, 2 * tail / 2**m))


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
