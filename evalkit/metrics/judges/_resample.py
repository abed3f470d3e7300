"""Judge values of many bootstrap resamples at once, from the resample counts.

A resample is a row of counts over the samples (how often each was drawn; see
:mod:`evalkit.stats`). A judge metric's values are weighted means and Spearman's rank
correlation; both are computed here for a ``(B, n)`` block of counts without building any
resample, equal (to rounding) to the values of the resample's rows taken one by one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["weighted_means", "weighted_spearman"]

Array = npt.NDArray[np.float64]


def weighted_means(counts: Array, values: Array, keep: npt.NDArray[np.bool_]) -> Array:
    """Per resample, the mean of ``values`` over the drawn samples where ``keep`` holds.

    NaN where a resample drew none of them (the mean of nothing).

    >>> weighted_means(np.array([[2.0, 0, 1]]), np.array([1.0, 5, 4]), np.array([1, 1, 1], bool))
    array([2.])
    """
    w = counts * keep
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ np.where(keep, values, 0.0)) / np.where(total > 0, total, np.nan)


def weighted_spearman(counts: Array, x: Array, y: Array) -> Array:
    """Per resample, Spearman's rho of ``x`` and ``y`` over the drawn samples.

    Equal to :func:`evalkit.metrics.judges.agreement.spearman` of the resample's rows (each
    sample repeated as often as it was drawn): a drawn sample's average rank is the count of
    drawn samples below its value plus half of those tied with it, plus one half; the
    correlation of the ranks is weighted by the counts. NaN where fewer than two samples were
    drawn or either side is constant over them, as ``spearman`` gives. ``x`` and ``y`` must
    hold no NaN (the caller's counts leave such samples out).

    >>> c = np.array([[1.0, 1, 1, 1], [2, 0, 1, 1]])
    >>> weighted_spearman(c, np.array([10.0, 20, 30, 40]), np.array([1.0, 3, 2, 4])).round(6)
    array([0.8, 1. ])
    """
    total = counts.sum(axis=1)
    # Only the distinct (x, y) pairs matter: the drawn count of each, then each side's ranks.
    _, xg = np.unique(x, return_inverse=True)
    _, yg = np.unique(y, return_inverse=True)
    _, pair = np.unique(xg.astype(np.int64) * (int(yg.max()) + 1) + yg, return_inverse=True)
    per_pair = _summed(counts, pair)
    first = np.zeros(per_pair.shape[1], dtype=np.int64)
    first[pair] = np.arange(len(pair))
    px, py = xg[first], yg[first]  # each pair's x group and y group
    dx, x_groups = _centred_ranks(_summed(per_pair, px), total)
    dy, y_groups = _centred_ranks(_summed(per_pair, py), total)
    dx, dy = dx[:, px], dy[:, py]
    sxy = (per_pair * dx * dy).sum(axis=1)
    sxx = (per_pair * dx * dx).sum(axis=1)
    syy = (per_pair * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
    undefined = (total < 2) | (x_groups < 2) | (y_groups < 2)
    return np.where(undefined, np.nan, rho)


def _summed(counts: Array, group: npt.NDArray[np.intp]) -> Array:
    """``counts`` (B, n) summed over the columns of each group ``0..G-1`` (all present): (B, G)."""
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return np.add.reduceat(counts[:, order], starts, axis=1)


def _centred_ranks(per_value: Array, total: Array) -> tuple[Array, Array]:
    """Each distinct value's average rank in each resample (values in increasing order, their
    drawn counts ``per_value``) less the mean rank ``(N + 1) / 2``; and how many distinct
    values each resample drew."""
    below = np.cumsum(per_value, axis=1) - per_value
    rank = below + (per_value + 1.0) / 2.0 - ((total + 1.0) / 2.0)[:, None]
    return rank, (per_value > 0).sum(axis=1).astype(np.float64)
