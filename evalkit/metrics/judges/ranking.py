"""Rankings from pairwise judge preferences: Bradley-Terry strengths and the sign test.

The Bradley-Terry model gives system ``i`` a strength ``s_i`` (log scale) and says it beats
system ``j`` with probability ``P(i > j) = 1 / (1 + exp(s_j - s_i))``. :func:`bradley_terry`
fits the strengths by maximum likelihood with Hunter's MM algorithm on a small ``n x n`` win
matrix, so one fit of a few hundred comparisons among ten systems takes about a millisecond
and the fit can run inside a bootstrap loop (resample with ``weights``, see its docstring).

:func:`sign_test` is the exact two-sided binomial test of "wins and losses are equally
likely" for one pair of systems.

Pure numpy and the standard library: scipy is not a runtime dependency of evalkit (it and
``choix`` are the references of the tests only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evalkit.errors import InputError, RunError

__all__ = ["ELO_BASE", "ELO_PER_UNIT", "bradley_terry", "bt_scores", "sign_test", "win_probability"]

#: Elo points per unit of log-strength: an Elo difference ``D`` means
#: ``P(win) = 1 / (1 + 10 ** (-D / 400))`` and a Bradley-Terry difference ``d`` means
#: ``P(win) = 1 / (1 + exp(-d))``, so ``D = 400 / ln(10) * d`` (about 173.7 points per unit).
ELO_PER_UNIT = 400.0 / math.log(10.0)
#: Where the Elo-like scale is centred (the conventional starting rating, as in Chatbot Arena).
ELO_BASE = 1000.0


def bradley_terry(
    winners: ArrayLike,
    losers: ArrayLike,
    n_items: int,
    *,
    ties: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    prior: float = 1.0,
    max_iter: int = 10_000,
    tol: float = 1e-10,
    names: Sequence[str] | None = None,
) -> NDArray[np.float64]:
    """Bradley-Terry strengths (log scale, mean 0) fitted by maximum likelihood.

    Comparison ``k`` says system ``winners[k]`` beat system ``losers[k]`` (systems are
    ``0 .. n_items - 1``), or, where ``ties[k]`` is true, that the two tied. The strengths
    ``s`` maximise ``sum_k w_k log P(winners[k] > losers[k])`` with
    ``P(i > j) = 1 / (1 + exp(s_j - s_i))``; they are returned centred (``s.mean() == 0``),
    since only differences are identified.

    Algorithm: the minorization-maximization (MM) iteration of Hunter (2004), "MM algorithms
    for generalized Bradley-Terry models", Annals of Statistics 32(1), eq. (3) (Zermelo's
    iteration): with ``W[i, j]`` the (weighted) wins of ``i`` over ``j`` and
    ``N = W + W.T``, ``g_i <- sum_j W[i, j] / sum_j N[i, j] / (g_i + g_j)``, ``s = log g``.
    It stops once every system's score equation holds, i.e. its observed and expected wins
    differ by at most ``tol`` per comparison: ``|sum_j W[i, j] - sum_j N[i, j] P(i > j)|
    <= tol * sum_j N[i, j]``.

    Ties: a tie counts as half a win for each side (the likelihood gets
    ``0.5 log P(i > j) + 0.5 log P(j > i)``). This is what e.g. the Chatbot Arena notebooks
    do when they duplicate every tie as one win each way; tie models with their own parameter
    (Rao-Kupper 1967, Davidson 1970) give different strengths and are not what this fits.

    Prior: a system that never loses (or never wins) has no finite maximum-likelihood
    strength. ``prior`` adds that many virtual *ties* between every pair of systems (half a
    virtual win each way; the default 1.0 is one half-win-half-loss against every other
    system), which keeps every strength finite and shrinks them slightly towards each other.
    The fit is then exactly the plain MLE of the real plus the virtual comparisons. With
    ``prior=0`` the plain MLE is returned, and an input where it does not exist (a group of
    systems that never lost, or never won, to the rest) is refused.

    Bootstrap: counts of distinct comparisons go in ``weights``; a resample is the same
    arrays with multinomial resampling counts as ``weights``.

    Args:
        winners: System index of each comparison's winner (one side, for a tie).
        losers: System index of each comparison's loser (the other side, for a tie).
        n_items: Number of systems.
        ties: Optional booleans, true where comparison ``k`` is a tie.
        weights: Optional non-negative weight (count) of each comparison; default 1.
        prior: Virtual ties between every pair of systems (>= 0).
        max_iter: Most MM iterations before :class:`~evalkit.errors.RunError`.
        tol: Largest score-equation residual per comparison (see above).
        names: Optional system names for the error messages.

    Returns:
        The ``n_items`` strengths, float64, centred to mean 0.

    Raises:
        InputError: Malformed input; systems that were never compared, directly or through
            others, with the rest (a ranking across disconnected groups means nothing); with
            ``prior=0``, an input without a finite MLE.
        RunError: No convergence within ``max_iter`` iterations.

    Example:
        >>> s = bradley_terry([0, 0, 0, 1, 1, 2], [1, 1, 2, 2, 0, 0], 3, prior=0)
        >>> [round(float(x), 4) for x in s]
        [0.314, 0.1283, -0.4423]
        >>> round(win_probability(s, 0, 2), 4)
        0.6806

        System 1 never wins; the prior's virtual tie makes it 2.5 wins to 0.5, so the
        strengths are ``+-ln(5) / 2``:

        >>> [round(float(x), 4) for x in bradley_terry([0, 0], [1, 1], 2)]
        [0.8047, -0.8047]
        >>> bradley_terry([0, 2], [1, 3], 4)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        evalkit.errors.InputError: bradley_terry: the comparisons form 2 groups ... 0, 1 | 2, 3; ...
    """
    wins = _win_matrix(winners, losers, n_items, ties, weights)
    if not (math.isfinite(prior) and prior >= 0):
        raise InputError(f"bradley_terry: prior must be a finite number >= 0, got {prior!r}.")
    if not (math.isfinite(tol) and tol > 0):
        raise InputError(f"bradley_terry: tol must be a finite number > 0, got {tol!r}.")
    if max_iter < 1:
        raise InputError(f"bradley_terry: max_iter must be >= 1, got {max_iter!r}.")
    label = _labeller(n_items, names)
    if n_items == 1:
        return np.zeros(1)
    games = wins + wins.T
    _check_connected(games > 0, label)
    if prior > 0:
        # `prior` virtual ties per pair: prior / 2 virtual wins each way.
        wins = wins + (prior / 2.0) * (1.0 - np.eye(n_items))
        games = wins + wins.T
    else:
        _check_mle_exists(wins > 0, label)
    return _mm(wins, games, max_iter, tol)


def _mm(
    wins: NDArray[np.float64], games: NDArray[np.float64], max_iter: int, tol: float
) -> NDArray[np.float64]:
    """Hunter's MM iteration on a win matrix whose MLE exists; centred log strengths."""
    won = wins.sum(axis=1)
    played = games.sum(axis=1)
    g = np.ones(len(won))
    for _ in range(max_iter):
        # denom_i = sum_j N_ij / (g_i + g_j); g_i * denom_i = expected wins of i.
        denom = (games / (g[:, None] + g[None, :])).sum(axis=1)
        if np.max(np.abs(won - g * denom) / played) <= tol:
            break
        g = won / denom
        g /= g.sum()  # the scale is free; keep it bounded
    else:
        raise RunError(
            f"bradley_terry: the MM iteration did not converge in {max_iter} iterations "
            f"(tol={tol}); raise max_iter or tol, or a larger prior."
        )
    s = np.log(g)
    return np.asarray(s - s.mean(), dtype=np.float64)


def _win_matrix(
    winners: ArrayLike,
    losers: ArrayLike,
    n_items: int,
    ties: ArrayLike | None,
    weights: ArrayLike | None,
) -> NDArray[np.float64]:
    """``W[i, j]``: weighted wins of ``i`` over ``j``, a tie half a win each way."""
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise InputError(f"bradley_terry: n_items must be an integer >= 1, got {n_items!r}.")
    n = int(n_items)
    win = _indices("winners", winners, n)
    lose = _indices("losers", losers, n)
    if len(win) != len(lose):
        raise InputError(
            f"bradley_terry: winners and losers differ in length ({len(win)} vs {len(lose)}); "
            "pass one winner and one loser per comparison."
        )
    same = np.flatnonzero(win == lose)
    if len(same):
        raise InputError(
            f"bradley_terry: comparison {int(same[0])} has system {int(win[same[0]])} on both "
            "sides; drop self-comparisons."
        )
    w = np.ones(len(win)) if weights is None else _weights(weights, len(win))
    tie = np.zeros(len(win), dtype=bool) if ties is None else _ties(ties, len(win))
    half = np.where(tie, 0.5 * w, 0.0)
    flat = np.bincount(win * n + lose, weights=w - half, minlength=n * n)
    flat += np.bincount(lose * n + win, weights=half, minlength=n * n)
    return np.asarray(flat, dtype=np.float64).reshape(n, n)


def _indices(field: str, values: ArrayLike, n: int) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise InputError(
            f"bradley_terry: {field} must be a 1-D sequence of integer system indices, "
            f"got dtype {arr.dtype} with shape {arr.shape}."
        )
    bad = np.flatnonzero((arr < 0) | (arr >= n))
    if len(bad):
        raise InputError(
            f"bradley_terry: {field}[{int(bad[0])}] = {int(arr[bad[0]])} is not a system index "
            f"in 0..{n - 1}; raise n_items or fix the index."
        )
    return arr.astype(np.int64)


def _weights(values: ArrayLike, size: int) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (size,):
        raise InputError(
            f"bradley_terry: weights has shape {arr.shape}; pass one weight per comparison "
            f"({size})."
        )
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise InputError("bradley_terry: weights must be finite and >= 0.")
    return arr


def _ties(values: ArrayLike, size: int) -> NDArray[np.bool_]:
    arr = np.asarray(values)
    if arr.shape != (size,) or (size and arr.dtype != np.bool_):
        raise InputError(
            f"bradley_terry: ties must hold one boolean per comparison ({size}), got dtype "
            f"{arr.dtype} with shape {arr.shape}."
        )
    return arr.astype(bool)


def _labeller(n: int, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [str(i) for i in range(n)]
    if isinstance(names, str) or len(names) != n:
        raise InputError(f"bradley_terry: names must be a list of {n} system names.")
    return [str(x) for x in names]


def _reach(edges: NDArray[np.bool_], start: int) -> NDArray[np.bool_]:
    """Nodes reachable from ``start`` along ``edges[i, j]`` (i -> j)."""
    seen = np.zeros(len(edges), dtype=bool)
    seen[start] = True
    frontier = seen.copy()
    while frontier.any():
        nxt = edges[frontier].any(axis=0) & ~seen
        seen |= nxt
        frontier = nxt
    return seen


def _check_connected(compared: NDArray[np.bool_], label: list[str]) -> None:
    left = np.ones(len(label), dtype=bool)
    groups: list[list[str]] = []
    while left.any():
        group = _reach(compared, int(np.flatnonzero(left)[0]))
        groups.append([label[i] for i in np.flatnonzero(group)])
        left &= ~group
    if len(groups) > 1:
        listed = " | ".join(", ".join(g) for g in groups)
        raise InputError(
            f"bradley_terry: the comparisons form {len(groups)} groups of systems never "
            f"compared with each other, directly or through others: {listed}; strengths across "
            "groups mean nothing: add comparisons between the groups or rank each group alone."
        )


def _check_mle_exists(beat: NDArray[np.bool_], label: list[str]) -> None:
    # Hunter's (2004) Assumption 1: the MLE exists iff the "i beat j" graph is strongly
    # connected. Everything reachable from 0 along "beat" edges never beat the rest, so the
    # rest never lost to it; everything that cannot reach 0 never won against it.
    for edges, verb in ((beat, "lost"), (beat.T, "won")):
        reached = _reach(edges, 0)
        if not reached.all():
            group = ", ".join(label[i] for i in np.flatnonzero(~reached))
            rest = ", ".join(label[i] for i in np.flatnonzero(reached))
            raise InputError(
                f"bradley_terry: with prior=0 the strengths are infinite: systems {group} never "
                f"{verb} against systems {rest}; pass prior > 0 (virtual ties) for finite "
                "strengths."
            )


def win_probability(strengths: ArrayLike, i: int, j: int) -> float:
    """Bradley-Terry probability that system ``i`` beats system ``j``.

    ``P(i > j) = 1 / (1 + exp(s_j - s_i))`` for log-scale strengths ``s`` (as returned by
    :func:`bradley_terry`).

    Args:
        strengths: Log-scale strengths.
        i: Index of the first system.
        j: Index of the second system.

    Returns:
        The probability, in [0, 1].

    Example:
        >>> round(win_probability([0.5, -0.5], 0, 1), 4)
        0.7311
        >>> win_probability([0.5, -0.5], 1, 1)
        0.5
    """
    s = np.asarray(strengths, dtype=np.float64)
    n = len(s)
    for name, k in (("i", i), ("j", j)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n:
            raise InputError(
                f"win_probability: {name} = {k!r} is not a system index in 0..{n - 1}."
            )
    d = float(s[i] - s[j])
    # The logistic function, written so that neither branch overflows.
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def bt_scores(strengths: ArrayLike, scale: Literal["elo", "log"] = "elo") -> NDArray[np.float64]:
    """Bradley-Terry strengths on a reporting scale.

    ``"log"``: the strengths centred to mean 0 (natural-log odds units). ``"elo"``: an
    Elo-like rating ``1000 + 400 / ln(10) * (s - mean(s))``, so that a difference of 400
    points means 10:1 odds, as in chess Elo and the Chatbot Arena leaderboard (which anchors
    its scale differently: compare differences, not levels, across leaderboards).

    Args:
        strengths: Log-scale strengths.
        scale: ``"elo"`` or ``"log"``.

    Returns:
        The scores, float64.

    Example:
        >>> [round(float(x), 1) for x in bt_scores([0.0, math.log(10.0)])]
        [800.0, 1200.0]
        >>> [round(float(x), 3) for x in bt_scores([1.0, 2.0, 3.0], scale="log")]
        [-1.0, 0.0, 1.0]
    """
    s = np.asarray(strengths, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
        raise InputError("bt_scores: strengths must be a non-empty 1-D array of finite numbers.")
    centred = np.asarray(s - s.mean(), dtype=np.float64)
    if scale == "log":
        return centred
    if scale == "elo":
        return ELO_BASE + ELO_PER_UNIT * centred
    raise InputError(f"bt_scores: scale must be 'elo' or 'log', got {scale!r}.")


def sign_test(wins: int | np.integer[Any], losses: int | np.integer[Any]) -> float:
    """Exact two-sided sign test: p-value of ``wins`` against ``losses`` if both are equally likely.

    Under the null hypothesis the number of wins is ``Binomial(n, 1/2)`` with
    ``n = wins + losses``; the p-value is the probability of an outcome at most as likely as
    the one observed, which for the symmetric binomial is
    ``min(1, 2 * P(X <= min(wins, losses)))`` (equal to
    ``scipy.stats.binomtest(wins, n, 0.5).pvalue``). Ties carry no sign: the caller leaves
    them out. With no comparisons at all the p-value is 1.0.

    The sum is taken relative to its largest term, ``P(X = m)``, whose logarithm is a
    correctly rounded sum of small logs (so ``n`` in the tens of thousands keeps about
    12 significant digits); nothing over- or underflows.

    Args:
        wins: Comparisons won (>= 0).
        losses: Comparisons lost (>= 0).

    Returns:
        The two-sided p-value, in (0, 1].

    Example:
        >>> round(sign_test(9, 1), 6)
        0.021484
        >>> sign_test(5, 5), sign_test(0, 0)
        (1.0, 1.0)
    """
    for name, v in (("wins", wins), ("losses", losses)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InputError(f"sign_test: {name} must be an integer >= 0, got {v!r}.")
    n = int(wins) + int(losses)
    m = min(int(wins), int(losses))
    if 2 * m == n:  # includes n == 0: the observed outcome is the most likely one
        return 1.0
    # log P(X = m) = log C(n, m) - n log 2 = sum_{i=1..m} log((n - m + i) / (4 i)) - (n - 2m) log 2;
    # folding two halves into each factor keeps the terms near 0 when m is near n / 2, where
    # the p-value is large and absolute accuracy matters.
    i = np.arange(1, m + 1, dtype=np.float64)
    log_top = math.fsum(np.log((n - m + i) / (4.0 * i)).tolist()) - (n - 2 * m) * math.log(2.0)
    # P(X = k - 1) / P(X = k) = k / (n - k + 1): the tail below m, relative to P(X = m).
    k = np.arange(m, 0, -1, dtype=np.float64)
    ratios = np.cumprod(k / (n - k + 1.0))
    tail = 1.0 + float(ratios.sum())
    return min(1.0, 2.0 * math.exp(log_top) * tail)
