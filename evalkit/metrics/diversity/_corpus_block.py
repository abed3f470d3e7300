"""Corpus-level distinct-n and n-gram entropy of many bootstrap resamples at once.

A resample draws sample ``i`` ``c_i`` times. Its corpus n-gram counts are ``f_g = sum_i c_i
k_ig`` (``k_ig``: how often sample ``i``'s outputs hold n-gram ``g``), its distinct n-grams
those with ``f_g > 0``. Most n-grams occur in one sample only; their part of both values is a
matrix product of the counts with per-sample sums (for entropy, ``f log f = c k (log c +
log k)`` summed over the sample's own n-grams). Only n-grams shared by several samples are
gathered one by one, per block of resamples. Samples with equal n-gram counts (the same
outputs) are merged first: drawing either adds the same n-grams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["CorpusGrams"]

Array = npt.NDArray[np.float64]

#: Shared-n-gram entries gathered at once per resample block (see :meth:`CorpusGrams._shared`).
_CHUNK = 1 << 12


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
        n = len(grams)
        lens = np.fromiter((len(own) for own in grams), dtype=np.int64, count=n)
        vocab: dict[str, int] = {}
        entries = int(lens.sum())
        col = np.fromiter(
            (vocab.setdefault(g, len(vocab)) for own in grams for g in own), np.int64, entries
        )
        k = np.fromiter((c for own in grams for c in own.values()), np.float64, entries)
        row = np.repeat(np.arange(n), lens)
        # Samples with the same n-gram counts are one kind: drawing either adds the same
        # n-grams. Found by two independent 64-bit fingerprints of the counts (with the
        # number of distinct n-grams): a false match has odds of 2**-128.
        rng = np.random.default_rng(0x5EED)
        keys = np.zeros((n, 3), dtype=np.uint64)
        keys[:, 0] = lens.astype(np.uint64)
        some = lens > 0
        starts = (np.cumsum(lens) - lens)[some]
        for j in (1, 2):
            w = rng.integers(1, 2**63, size=len(vocab), dtype=np.uint64)
            if entries:
                keys[some, j] = np.add.reduceat(w[col] * k.astype(np.uint64), starts)
        _, first, kind = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        self.kind = kind.reshape(-1).astype(np.int64)
        kinds = len(first)
        keep = self.kind[row] if entries else row
        mine = first[keep] == row  # the entries of each kind's first sample
        col, k, owner = col[mine], k[mine], keep[mine]
        holders = np.bincount(col, minlength=len(vocab))  # kinds holding each n-gram
        alone = holders[col] == 1
        self.unique = np.bincount(owner[alone], minlength=kinds).astype(np.float64)
        self.unique_k = np.bincount(owner[alone], weights=k[alone], minlength=kinds)
        self.unique_klogk = np.bincount(
            owner[alone], weights=k[alone] * np.log2(k[alone]), minlength=kinds
        )
        order = np.argsort(col[~alone], kind="stable")
        self.rows = owner[~alone][order]
        self.k = k[~alone][order]
        shared_col = col[~alone][order]
        self.starts = (
            np.flatnonzero(np.r_[True, shared_col[1:] != shared_col[:-1]])
            if len(shared_col)
            else shared_col
        )
        self.totals = np.asarray(totals, dtype=np.float64)[first]  # equal within a kind
        self._order = np.argsort(self.kind, kind="stable")
        ordered = self.kind[self._order]
        self._kind_starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self._first = first
        self._merge = kinds < n

    def _by_kind(self, counts: Array) -> Array:
        """The counts of each kind of sample: ``(B, kinds)``."""
        if not self._merge:  # every sample its own kind: only the order differs
            return counts[:, self._first]
        return np.add.reduceat(counts[:, self._order], self._kind_starts, axis=1)

    def _shared(self, counts: Array) -> Array:
        """``f_g`` of each shared n-gram in each resample: ``(B, shared)``. The counts are
        transposed once, so each entry gathers one contiguous row of ``B`` counts, in chunks
        of whole n-grams (about :data:`_CHUNK` entries) that stay in cache."""
        out = np.zeros((len(self.starts), counts.shape[0]))
        by_sample = np.ascontiguousarray(counts.T)
        ends = np.r_[self.starts[1:], len(self.rows)]
        g = 0
        while g < len(self.starts):
            stop = int(np.searchsorted(ends, ends[g - 1] + _CHUNK if g else _CHUNK, "right"))
            stop = max(stop, g + 1)
            lo, hi = int(self.starts[g]), int(ends[stop - 1])
            part = by_sample[self.rows[lo:hi]] * self.k[lo:hi, None]
            out[g:stop] = np.add.reduceat(part, self.starts[g:stop] - lo, axis=0)
            g = stop
        return out.T

    def _shared_drawn(self, counts: Array) -> Array:
        """How many shared n-grams each resample draws (held by a drawn sample).

        A gram's samples are checked in turn, and a (resample, gram) is settled by its first
        drawn sample; a resample leaves about 37% of the samples out, so few pairs need a
        gram's later samples, and a gram held by many samples costs little more than one.
        """
        if not len(self.rows):
            return np.zeros(counts.shape[0])
        sizes = np.diff(np.r_[self.starts, len(self.rows)])
        drawn = np.zeros((counts.shape[0], len(self.starts)), dtype=bool)
        open_ = np.arange(len(self.starts))  # grams some resample has not settled
        for r in range(int(sizes.max())):
            open_ = open_[sizes[open_] > r]
            if not len(open_):
                break
            drawn[:, open_] |= counts[:, self.rows[self.starts[open_] + r]] > 0
            open_ = open_[~drawn[:, open_].all(axis=0)]
        total: Array = drawn.sum(axis=1).astype(np.float64)
        return total

    def distinct(self, counts: Array) -> Array:
        """Distinct n-grams over all n-grams, per resample (NaN: no n-gram drawn)."""
        counts = self._by_kind(counts)
        drawn = (counts > 0).astype(np.float64)
        kinds = drawn @ self.unique + self._shared_drawn(counts)
        total = counts @ self.totals
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, kinds / total, np.nan)

    def entropy(self, counts: Array) -> Array:
        """Shannon entropy (bits) of the corpus n-gram counts, per resample (NaN: none)."""
        counts = self._by_kind(counts)
        with np.errstate(divide="ignore", invalid="ignore"):
            clogc = np.where(counts > 0, counts * np.log2(counts), 0.0)
            f = self._shared(counts)
            flogf = np.where(f > 0, f * np.log2(f), 0.0).sum(axis=1)
            s = clogc @ self.unique_k + counts @ self.unique_klogk + flogf
            total = counts @ self.totals
            return np.where(total > 0, np.log2(total) - s / total, np.nan)
