"""Vectorised bootstrap resamples of the label metrics (``resample_block``/``resample_means``).

:class:`evalkit.stats._Resampler` hands a metric the ``(B, n)`` counts of each sample in each
resample. A label metric's corpus values depend on those counts only through the counts of each
distinct ``(reference, prediction)`` pair, so :class:`PairCounts` sums the sample counts per
distinct pair (one ``reduceat`` over the samples sorted by pair), and the per-class
true-positive, false-positive and false-negative counts follow from a product with 0/1 maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evalkit.metrics.classification.labels import _divide
from evalkit.types import Stats

__all__ = ["PairCounts", "calibration_block", "f1_block"]

#: Up to this many distinct pairs, a one-hot matrix product counts them (one BLAS call);
#: beyond it a sort-and-``reduceat`` does, without an ``n x pairs`` matrix.
_DENSE = 256


class PairCounts:
    """The distinct label pairs of some statistics and how to count them per resample."""

    def __init__(self, stats: Sequence[Stats]) -> None:
        keys = [(str(t), str(p)) for t, p in stats]
        index: dict[tuple[str, str], int] = {}
        ids = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int64)
        self.pairs = list(index)
        self.onehot: np.ndarray | None = None
        if len(index) <= _DENSE:
            self.onehot = np.zeros((len(ids), len(index)))
            self.onehot[np.arange(len(ids)), ids] = 1.0
        self.order = np.argsort(ids, kind="stable")
        self.starts = np.searchsorted(ids[self.order], np.arange(len(index)))

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        """``(B, distinct pairs)``: how often each resample draws each pair."""
        if self.onehot is not None:
            dense: np.ndarray = counts @ self.onehot
            return dense
        summed: np.ndarray = np.add.reduceat(counts[:, self.order], self.starts, axis=1)
        return summed


def f1_block(
    stats: Sequence[Stats],
    labels: Sequence[str] | None,
    average: str,
    zero_division: float,
    names: Sequence[str],
) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """Resampled values of :class:`~evalkit.metrics.classification.labels.F1`.

    As ``aggregate`` computes them: without ``labels`` a resample's classes are the labels of
    the pairs it draws (sorted), so absent classes leave the macro and weighted averages.
    """
    pc = PairCounts(stats)
    fixed = labels is not None
    classes = list(labels) if labels is not None else sorted({x for p in pc.pairs for x in p})
    col = {c: i for i, c in enumerate(classes)}
    shape = (len(pc.pairs), len(classes))
    tp_map, fp_map, fn_map, has = (np.zeros(shape) for _ in range(4))
    for j, (t, p) in enumerate(pc.pairs):
        ti, pi = col.get(t), col.get(p)
        if ti is not None:
            has[j, ti] = 1.0
        if pi is not None:
            has[j, pi] = 1.0
        if t == p:
            if ti is not None:
                tp_map[j, ti] = 1.0
            continue
        if ti is not None:
            fn_map[j, ti] = 1.0
        if pi is not None:
            fp_map[j, pi] = 1.0

    def values(counts: np.ndarray) -> dict[str, np.ndarray]:
        c = pc(counts)
        tp, fp, fn = c @ tp_map, c @ fp_map, c @ fn_map
        present = np.ones(tp.shape, dtype=bool) if fixed else (c @ has) > 0
        if average == "micro":
            stp, sfp, sfn = tp.sum(1), fp.sum(1), fn.sum(1)
            p = _divide(stp, stp + sfp, zero_division)
            r = _divide(stp, stp + sfn, zero_division)
            f = _divide(2 * stp, 2 * stp + sfp + sfn, zero_division)
        else:
            pcs = _divide(tp, tp + fp, zero_division)
            rcs = _divide(tp, tp + fn, zero_division)
            fcs = _divide(2 * tp, 2 * tp + fp + fn, zero_division)
            if average == "macro":
                w = present * 1.0
                zero = w.sum(1) == 0
            else:
                w = np.where(present, tp + fn, 0.0)
                zero = w.sum(1) == 0
            with np.errstate(invalid="ignore", divide="ignore"):
                p, r, f = (
                    (np.where(present, v, 0.0) * w).sum(1) / w.sum(1) for v in (pcs, rcs, fcs)
                )
            p, r, f = (np.where(zero, float(zero_division), v) for v in (p, r, f))
        out = {f"f1_{average}": f, f"precision_{average}": p, f"recall_{average}": r}
        if fixed:
            pcs = _divide(tp, tp + fp, zero_division)
            rcs = _divide(tp, tp + fn, zero_division)
            fcs = _divide(2 * tp, 2 * tp + fp + fn, zero_division)
            for i, label in enumerate(classes):
                out[f"f1[{label}]"] = fcs[:, i]
                out[f"precision[{label}]"] = pcs[:, i]
                out[f"recall[{label}]"] = rcs[:, i]
        return {k: out[k] for k in names}

    return values


def calibration_block(
    arr: np.ndarray, edges: np.ndarray, index: np.ndarray, norm: str
) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """Resampled ``ece`` and ``brier`` of ``[confidence, correct]`` rows with fixed bins.

    With equal-width bins each sample's bin does not depend on the resample, so a resample's
    per-bin count, confidence sum and accuracy sum are count-weighted sums over the samples
    of each bin; the calibration error follows as in
    :func:`~evalkit.metrics.classification.calibration.calibration_error`.
    """
    size = len(edges)
    # One matrix product per block: columns [bin one-hot, conf in bin, correct in bin, sq].
    cols = np.zeros((len(arr), 3 * size + 1))
    rows = np.arange(len(arr))
    cols[rows, index] = 1.0
    cols[rows, size + index] = arr[:, 0]
    cols[rows, 2 * size + index] = arr[:, 1]
    cols[:, -1] = (arr[:, 0] - arr[:, 1]) ** 2
    n = float(len(arr))

    def values(counts: np.ndarray) -> dict[str, np.ndarray]:
        totals = counts @ cols
        count, conf_sum, acc_sum = (totals[:, j * size : (j + 1) * size] for j in range(3))
        full = count > 0
        total = count.sum(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.where(full, np.abs(acc_sum / count - conf_sum / count), 0.0)
        if norm == "max":
            ece = gap.max(1)
        elif norm == "l1":
            ece = (count / total * gap).sum(1)
        else:
            ece = np.sqrt((count / total * gap * gap).sum(1))
        return {"ece": ece, "brier": totals[:, -1] / n}

    return values
