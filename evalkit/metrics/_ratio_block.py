"""Bootstrap resamples of ratios of per-sample sums: ``sum(c_i num_i) / sum(c_i den_i)``.

Many values are a ratio of two sums over samples (supported claims over claims, a weighted mean
of per-sample values over the samples that have one). Under a resample that draws sample ``i``
``c_i`` times, both sums are one matrix product of the ``(B, n)`` counts, so a whole block of
resamples costs two products instead of ``B`` aggregations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["ratio_block"]


def ratio_block(
    num: np.ndarray, den: np.ndarray, names: Sequence[str]
) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """A ``resample_block`` function: the ratios ``counts @ num / counts @ den`` by column.

    Args:
        num: ``(n, k)`` numerators per sample (float64).
        den: ``(n, k)`` denominators per sample; a resample whose column sum is 0 gets NaN.
        names: The ``k`` value names, in column order.

    Example:
        >>> block = ratio_block(np.array([[1.0], [3.0]]), np.array([[1.0], [2.0]]), ["r"])
        >>> block(np.array([[2.0, 0.0], [1.0, 1.0]]))["r"].tolist()  # 2/2, 4/3
        [1.0, 1.3333333333333333]
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)

    def values(counts: np.ndarray) -> dict[str, np.ndarray]:
        top, bottom = counts @ num, counts @ den
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
        return {k: ratio[:, j] for j, k in enumerate(names)}

    return values
