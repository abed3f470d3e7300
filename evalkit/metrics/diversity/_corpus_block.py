"""Corpus-level distinct-n and n-gram entropy of many bootstrap resamples at once.

A resample draws sample ``i`` ``c_i`` times. Its corpus n-gram counts are ``f_g = sum_i c_i
k_ig`` (``k_ig``: how often sample ``i``'s outputs hold n-gram ``g``), its distinct n-grams
those with ``f_g > 0``. Most n-grams occur in one sample only; their part of both values is a
matrix product of the counts with per-sample sums (for entropy, ``f log f = c k (log c +
log k)`` summed over the sample's own n-grams). Only n-grams shared by several samples are
gathered one by one, per block of resamples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["CorpusGrams"]

Array = npt.NDArray[np.float64]


class CorpusGrams:
    """The n-gram counts of one order, per sample, arranged for resampled corpus values.

    Args:
        grams: Per sample, its n-gram counts (``{gram: count}``).
        totals: Per sample, its number of n-grams (the sum of its counts).

    Example:
        >>> c = CorpusGrams([{"a": 2, "b": 1}, {"a": 1, "c": 1}], [3, 2])
        >>> c.distinct(np.array([[1.0, 1.0], [2.0, 0.0]])).tolist()  # 3/5, 2/6
        [0.6, 0.3333333333333333]
        >>> c.entropy(np.array([[0.0, 2.0]])).round(6).tolist()  # a, c twice each: 1 bit
        [1.0]
    """

    def __init__(self, grams: Sequence[Mapping[str, int]], totals: Sequence[int]) -> None:
        where: dict[str, int] = {}  # gram -> the one sample holding it, or -1: shared
        for i, own in enumerate(grams):
            for g in own:
                where[g] = i if where.get(g, i) == i else -1
        n = len(grams)
        unique = np.zeros(n)
        unique_k = np.zeros(n)
        unique_klogk = np.zeros(n)
        shared: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        ks: list[float] = []
        for i, own in enumerate(grams):
            for g, k in own.items():
                if where[g] == i:
                    unique[i] += 1
                    unique_k[i] += k
                    unique_klogk[i] += k * math.log2(k)
                else:
                    rows.append(i)
                    cols.append(shared.setdefault(g, len(shared)))
                    ks.append(k)
        order = np.argsort(np.asarray(cols, dtype=np.int64), kind="stable")
        self.rows = np.asarray(rows, dtype=np.int64)[order]
        self.k = np.asarray(ks, dtype=np.float64)[order]
        col = np.asarray(cols, dtype=np.int64)[order]
        self.starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]]) if len(col) else col
        self.unique, self.unique_k, self.unique_klogk = unique, unique_k, unique_klogk
        self.totals = np.asarray(totals, dtype=np.float64)

    def _shared(self, counts: Array) -> Array:
        """``f_g`` of each shared n-gram in each resample: ``(B, shared)``."""
        if not len(self.rows):
            return np.zeros((counts.shape[0], 0))
        return np.add.reduceat(counts[:, self.rows] * self.k, self.starts, axis=1)

    def distinct(self, counts: Array) -> Array:
        """Distinct n-grams over all n-grams, per resample (NaN: no n-gram drawn)."""
        drawn = (counts > 0).astype(np.float64)
        kinds = drawn @ self.unique + (self._shared(counts) > 0).sum(axis=1)
        total = counts @ self.totals
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, kinds / total, np.nan)

    def entropy(self, counts: Array) -> Array:
        """Shannon entropy (bits) of the corpus n-gram counts, per resample (NaN: none)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            clogc = np.where(counts > 0, counts * np.log2(counts), 0.0)
            f = self._shared(counts)
            flogf = np.where(f > 0, f * np.log2(f), 0.0).sum(axis=1)
            s = clogc @ self.unique_k + counts @ self.unique_klogk + flogf
            total = counts @ self.totals
            return np.where(total > 0, np.log2(total) - s / total, np.nan)
