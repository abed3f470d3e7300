"""The paired statistics of bias probes: the sign-flip test and WEAT's effect size and p-value.

:func:`sign_flip_p_value` tests the mean of per-pair differences against zero (exact over all
sign patterns for up to 16 non-zero differences, seeded Monte Carlo otherwise), and
:func:`weat_statistics` computes the WEAT effect size and permutation p-value of Caliskan et
al. (2017).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["sign_flip_p_value", "unit_rows", "weat_statistics"]

#: Above this many non-zero differences the sign-flip test samples sign patterns.
EXACT_SIGN_FLIP_LIMIT = 16
_TIE = 1e-12


#: Rows of random sign patterns (or WEAT partitions) drawn at once: bounds memory at
#: ``_CHUNK * m`` values (the full ``9999 x 100,000`` patterns would take 8 GB as float64).
_CHUNK = 256


@functools.lru_cache(maxsize=64)
def _all_sign_patterns(m: int) -> np.ndarray:
    codes = np.arange(2**m)[:, None] >> np.arange(m)[None, :]
    return np.where(codes & 1, -1.0, 1.0)


def _random_sign_sums(d: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """``|s . d|`` for ``samples`` seeded sign patterns ``s``, drawn ``_CHUNK`` rows at a time.

    The chunks draw the same stream as one ``integers(0, 2, (samples, m), int8)`` call (a
    multiple of 4 bytes per chunk), so the patterns are those of a single draw.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(samples)
    for start in range(0, samples, _CHUNK):
        rows = min(_CHUNK, samples - start)
        bits = rng.integers(0, 2, size=(rows, d.size), dtype=np.int8)
        out[start : start + rows] = np.abs((1.0 - 2.0 * bits) @ d)  # bit 1: sign -1
    return out


def sign_flip_p_value(differences: Sequence[float], *, samples: int = 9999, seed: int = 0) -> float:
    """Two-sided paired sign-flip permutation p-value for ``mean(differences) == 0``.

    Under the null each pair's difference is as likely to have either sign (Fisher 1935;
    Good 2005, ch. 3). Zero differences cannot change sign and are left out. With at most
    :data:`EXACT_SIGN_FLIP_LIMIT` non-zero differences all ``2**m`` sign patterns are
    enumerated (``p = #{|sum s*d| >= |sum d|} / 2**m``, exact); otherwise ``samples`` seeded
    random patterns give ``p = (1 + #{...}) / (samples + 1)``.

    >>> sign_flip_p_value([1.0] * 6)  # 2 of 64 patterns are as extreme
    0.03125
    >>> sign_flip_p_value([0.0, 0.0])
    1.0
    """
    d = np.asarray([x for x in differences if x != 0], dtype=np.float64)
    m = d.size
    if m == 0:
        return 1.0
    observed = abs(float(d.sum()))
    floor = observed - _TIE * max(1.0, observed)
    if m <= EXACT_SIGN_FLIP_LIMIT:
        signs = _all_sign_patterns(m)
        extreme = int(np.count_nonzero(np.abs(signs @ d) >= floor))
        return float(extreme / signs.shape[0])
    extreme = int(np.count_nonzero(_random_sign_sums(d, samples, seed) >= floor))
    return (1 + extreme) / (samples + 1)


def unit_rows(u: np.ndarray) -> np.ndarray:
    """Rows of ``u`` scaled to unit length (a zero row stays zero)."""
    unit: np.ndarray = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    return unit


def _cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    sims: np.ndarray = unit_rows(u) @ unit_rows(v).T
    return sims


#: Above this many target-attribute pairs, mean cosines use ``w_hat . mean(a_hat)`` (equal up
#: to rounding) instead of the full cosine matrix (13 GB at 66,000 x 25,000).
_MATRIX_LIMIT = 4_000_000


def _mean_cosine(targets: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """``mean_a cos(w, a)`` for each target row ``w``."""
    if len(targets) * len(attributes) <= _MATRIX_LIMIT:
        small: np.ndarray = _cosine(targets, attributes).mean(axis=1)
        return small
    large: np.ndarray = unit_rows(targets) @ unit_rows(attributes).mean(axis=0)
    return large


def weat_statistics(
    x: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    permutations: int = 10000,
    exact_limit: int = 20000,
    seed: int = 0,
) -> tuple[float, float]:
    """WEAT effect size and one-sided permutation p-value (Caliskan et al. 2017).

    With ``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)``, the effect size is
    ``(mean_x s(x) - mean_y s(y)) / std_{w in X u Y} s(w)``, the standard deviation being the
    *sample* one (``ddof=1``) over the union of both target sets, as in Caliskan et al.'s
    formula and WEFAT/SEAT implementations. The p-value is Caliskan et al.'s one-sided
    ``P[s(X_i, Y_i) > s(X, Y)]`` with ``s(X, Y) = sum_x s(x) - sum_y s(y)``, over equal-size
    partitions ``(X_i, Y_i)`` of ``X u Y``: all of them when there are at most ``exact_limit``
    (we count ``>=``, which includes the observed partition, so ``p > 0``), else
    ``permutations`` seeded random ones with ``p = (1 + #) / (permutations + 1)``.

    >>> e = np.eye(4)
    >>> x, y = e[[0, 0]] + 0.1 * e[[2, 3]], e[[1, 1]] + 0.1 * e[[3, 2]]
    >>> size, p = weat_statistics(x, y, e[[0]], e[[1]])
    >>> round(size, 6), p  # mean gap 2c over std 2c/sqrt(3); 1 of 6 partitions as extreme
    (1.732051, 0.16666666666666666)
    """
    if min(len(x), len(y), len(a), len(b)) == 0:
        return math.nan, math.nan
    targets = np.concatenate([x, y])
    assoc = _mean_cosine(targets, a) - _mean_cosine(targets, b)
    sx, sy = assoc[: len(x)], assoc[len(x) :]
    std = float(np.std(assoc, ddof=1)) if len(assoc) > 1 else math.nan
    effect = float((sx.mean() - sy.mean()) / std) if std and std > 0 else math.nan
    n, k = len(assoc), len(x)
    observed = float(sx.sum() - sy.sum())
    total = float(assoc.sum())
    if math.comb(n, k) <= exact_limit:
        idx = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)
        in_x = assoc[idx].sum(axis=1)
        count = int(np.count_nonzero(2 * in_x - total >= observed - _TIE * max(1, abs(observed))))
        return effect, count / len(idx)
    rng = np.random.default_rng(seed)
    in_x = np.empty(permutations)
    # Drawn _CHUNK rows at a time: the same stream as one (permutations, n) draw. X_i is the
    # k smallest keys of a row; argpartition finds that set in linear time (an argsort is
    # 7x slower at 66,000 targets), summed in another order (a few ulps, within _TIE).
    for start in range(0, permutations, _CHUNK):
        rows = min(_CHUNK, permutations - start)
        chosen = np.argpartition(rng.random((rows, n)), k - 1, axis=1)[:, :k]
        in_x[start : start + rows] = assoc[chosen].sum(axis=1)
    count = int(np.count_nonzero(2 * in_x - total >= observed - _TIE * max(1, abs(observed))))
    return effect, (1 + count) / (permutations + 1)
