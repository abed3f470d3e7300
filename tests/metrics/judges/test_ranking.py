"""Bradley-Terry strengths and the sign test against choix, scipy.optimize and scipy.stats."""

from __future__ import annotations

import math

import choix
import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import optimize, stats

from evalkit.errors import InputError, RunError
from evalkit.metrics.judges.ranking import (
    ELO_PER_UNIT,
    bradley_terry,
    bt_scores,
    sign_test,
    win_probability,
)

SEEDS = range(8)


def _simulate(
    seed: int, n_items: int, n_games: int, tie_rate: float = 0.0
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Comparisons drawn from a Bradley-Terry model with random strengths."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0.0, 0.8, n_items)
    a = rng.integers(0, n_items, n_games)
    b = (a + rng.integers(1, n_items, n_games)) % n_items  # never a == b
    a_wins = rng.random(n_games) < 1.0 / (1.0 + np.exp(true[b] - true[a]))
    winners = np.where(a_wins, a, b)
    losers = np.where(a_wins, b, a)
    ties = rng.random(n_games) < tie_rate
    return winners, losers, ties


def _choix_data(
    winners: NDArray[np.int64],
    losers: NDArray[np.int64],
    ties: NDArray[np.bool_],
    n_items: int,
    prior: int,
) -> list[tuple[int, int]]:
    """Integer data for choix with the same likelihood, doubled: a real win counts twice, a tie
    once each way (half a win each, doubled), and each pair gets `prior` virtual wins each way
    (`prior` virtual ties = prior / 2 wins each way, doubled). Doubling every count leaves the
    maximiser unchanged."""
    data: list[tuple[int, int]] = []
    for w, lo, t in zip(winners.tolist(), losers.tolist(), ties.tolist(), strict=True):
        data += [(w, lo), (lo, w)] if t else [(w, lo), (w, lo)]
    for i in range(n_items):
        for j in range(n_items):
            if i != j:
                data += [(i, j)] * prior
    return data


def _scipy_fit(
    winners: NDArray[np.int64],
    losers: NDArray[np.int64],
    ties: NDArray[np.bool_],
    n_items: int,
    prior: float,
) -> NDArray[np.float64]:
    """Independent fit: minimise the penalised negative log-likelihood written out directly.

    -sum_k [(1 - t_k / 2) log P(w_k > l_k) + t_k / 2 log P(l_k > w_k)]
    - prior / 2 * sum_{i != j} log P(i > j), with P(i > j) = expit(s_i - s_j).
    """
    t = ties.astype(float)
    pi, pj = np.where(~np.eye(n_items, dtype=bool))

    def nll(s: NDArray[np.float64]) -> float:
        d = s[winners] - s[losers]
        val = np.sum((1 - t / 2) * np.logaddexp(0, -d) + (t / 2) * np.logaddexp(0, d))
        val += prior / 2 * np.sum(np.logaddexp(0, -(s[pi] - s[pj])))
        return float(val)

    def grad(s: NDArray[np.float64]) -> NDArray[np.float64]:
        d = s[winners] - s[losers]
        p = 1 / (1 + np.exp(-d))  # P(w > l)
        # d/dd of the per-comparison loss: -(1 - t/2)(1 - p) + (t/2) p
        c = -(1 - t / 2) * (1 - p) + (t / 2) * p
        g = np.zeros(n_items)
        np.add.at(g, winners, c)
        np.add.at(g, losers, -c)
        q = 1 / (1 + np.exp(-(s[pi] - s[pj])))
        cv = -prior / 2 * (1 - q)
        np.add.at(g, pi, cv)
        np.add.at(g, pj, -cv)
        return g

    res = optimize.minimize(
        nll, np.zeros(n_items), jac=grad, method="BFGS", options={"gtol": 1e-11, "maxiter": 10_000}
    )
    s = np.asarray(res.x, dtype=np.float64)
    return s - s.mean()


def _centred(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return x - x.mean()


# --- parity: unregularised MLE ----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_mle_equals_choix_mm_and_ilsr_and_scipy(seed: int) -> None:
    n_items = 3 + seed % 8  # 3..10 systems
    winners, losers, _ = _simulate(seed, n_items, 400)
    no_ties = np.zeros(len(winners), dtype=bool)
    ours = bradley_terry(winners, losers, n_items, prior=0)
    data = list(zip(winners.tolist(), losers.tolist(), strict=True))
    mm = choix.mm_pairwise(n_items, data, alpha=0.0, max_iter=100_000, tol=1e-13)
    ilsr = choix.ilsr_pairwise(n_items, data, alpha=0.0, max_iter=10_000, tol=1e-13)
    ref = _scipy_fit(winners, losers, no_ties, n_items, prior=0.0)
    assert abs(ours.mean()) < 1e-12
    np.testing.assert_allclose(ours, _centred(mm), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours, _centred(ilsr), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_mle_with_ties_equals_choix_on_duplicated_ties(seed: int) -> None:
    n_items = 4 + seed % 5
    winners, losers, ties = _simulate(100 + seed, n_items, 300, tie_rate=0.3)
    ours = bradley_terry(winners, losers, n_items, ties=ties, prior=0)
    data = _choix_data(winners, losers, ties, n_items, prior=0)
    mm = choix.mm_pairwise(n_items, data, alpha=0.0, max_iter=100_000, tol=1e-13)
    np.testing.assert_allclose(ours, _centred(mm), atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        ours, _scipy_fit(winners, losers, ties, n_items, 0.0), atol=1e-6, rtol=0
    )


# --- parity: the prior (virtual ties) ---------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("prior", [1, 2])
def test_prior_equals_choix_on_augmented_data_and_scipy_penalised(seed: int, prior: int) -> None:
    n_items = 3 + seed % 8
    winners, losers, ties = _simulate(200 + seed, n_items, 150, tie_rate=0.1)
    ours = bradley_terry(winners, losers, n_items, ties=ties, prior=prior)
    data = _choix_data(winners, losers, ties, n_items, prior=prior)
    mm = choix.mm_pairwise(n_items, data, alpha=0.0, max_iter=100_000, tol=1e-13)
    ilsr = choix.ilsr_pairwise(n_items, data, alpha=0.0, max_iter=10_000, tol=1e-13)
    np.testing.assert_allclose(ours, _centred(mm), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours, _centred(ilsr), atol=1e-6, rtol=0)
    ref = _scipy_fit(winners, losers, ties, n_items, float(prior))
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_fractional_prior_equals_scipy_penalised() -> None:
    winners, losers, ties = _simulate(7, 6, 80, tie_rate=0.2)
    ours = bradley_terry(winners, losers, 6, ties=ties, prior=0.1)
    np.testing.assert_allclose(ours, _scipy_fit(winners, losers, ties, 6, 0.1), atol=1e-6)


# --- known cases ------------------------------------------------------------------------------


def test_three_systems_known_order_and_closed_form() -> None:
    # A beats B 3-1, B beats C 3-1, A beats C 3-1: the order is A > B > C, and by symmetry
    # (B has 4 wins in 8 games against a symmetric field) B sits at 0 and A, C at +-x.
    w = [0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 0, 2]
    lo = [1, 1, 1, 0, 2, 2, 2, 1, 2, 2, 2, 0]
    s = bradley_terry(w, lo, 3, prior=0)
    assert s[0] > s[1] > s[2]
    assert s[1] == pytest.approx(0.0, abs=1e-9)
    assert s[0] == pytest.approx(-s[2], abs=1e-9)
    # Score equation of A: 6 wins = 4 P(A > B) + 4 P(A > C), with s_B = 0, s_C = -s_A.
    x = s[0]
    expected_wins = 4 / (1 + math.exp(-x)) + 4 / (1 + math.exp(-2 * x))
    assert expected_wins == pytest.approx(6.0, abs=1e-8)
    # With the default prior the order is the same and the spread smaller.
    shrunk = bradley_terry(w, lo, 3)
    assert shrunk[0] > shrunk[1] > shrunk[2]
    assert shrunk[0] - shrunk[2] < s[0] - s[2]


def test_two_systems_closed_form() -> None:
    # 7 wins to 3: the MLE difference is log(7 / 3); a tie adds half a win each side.
    s = bradley_terry([0] * 7 + [1] * 3, [1] * 7 + [0] * 3, 2, prior=0)
    assert s[0] - s[1] == pytest.approx(math.log(7 / 3), abs=1e-9)
    t = bradley_terry([0] * 8, [1] * 8, 2, ties=[True] * 2 + [False] * 6, prior=0)
    assert t[0] - t[1] == pytest.approx(math.log(7 / 1), abs=1e-9)
    assert win_probability(t, 0, 1) == pytest.approx(7 / 8, abs=1e-9)


def test_ties_only_gives_equal_strengths() -> None:
    w = [0, 1, 2, 0, 3]
    lo = [1, 2, 3, 2, 1]
    s = bradley_terry(w, lo, 4, ties=[True] * 5, prior=0)
    np.testing.assert_allclose(s, np.zeros(4), atol=1e-12)
    np.testing.assert_allclose(bradley_terry(w, lo, 4, ties=[True] * 5), np.zeros(4), atol=1e-12)


def test_system_with_zero_wins() -> None:
    # System 2 loses all its games; the MLE is infinite, so prior=0 is refused by name.
    w = [0, 1, 0, 1, 0, 1, 1]
    lo = [1, 0, 2, 2, 2, 2, 0]
    with pytest.raises(InputError, match=r"systems C never won against systems A, B;"):
        bradley_terry(w, lo, 3, prior=0, names=["A", "B", "C"])
    s = bradley_terry(w, lo, 3)
    assert np.all(np.isfinite(s))
    assert s[2] == s.min()
    ties = np.zeros(7, dtype=bool)
    np.testing.assert_allclose(
        s, _scipy_fit(np.array(w), np.array(lo), ties, 3, 1.0), atol=1e-6, rtol=0
    )


def test_system_that_never_loses_is_refused_without_prior() -> None:
    with pytest.raises(InputError, match=r"systems 1, 2 never won against systems 0;"):
        bradley_terry([0, 0, 1, 2], [1, 2, 2, 1], 3, prior=0)
    s = bradley_terry([0, 0, 1, 2], [1, 2, 2, 1], 3)
    assert s[0] == s.max() and np.all(np.isfinite(s))
    with pytest.raises(InputError, match=r"systems 2 never lost against systems 0, 1;"):
        bradley_terry([2, 2, 0, 1], [0, 1, 1, 0], 3, prior=0)


def test_disconnected_graph_names_the_groups() -> None:
    names = ["gpt", "llama", "mistral", "qwen", "phi"]
    with pytest.raises(InputError, match=r"2 groups .*: gpt, llama, phi \| mistral, qwen"):
        bradley_terry([0, 2, 4], [1, 3, 0], 5, names=names)
    # A system with no comparisons at all is its own group, whatever the prior.
    with pytest.raises(InputError, match=r"3 groups .*: 0, 1 \| 2 \| 3"):
        bradley_terry([0, 1], [1, 0], 4, prior=5.0)


def test_weights_equal_repeated_comparisons() -> None:
    winners, losers, ties = _simulate(3, 5, 60, tie_rate=0.2)
    counts = np.random.default_rng(3).integers(0, 4, len(winners))
    rep = np.repeat(np.arange(len(winners)), counts)
    weighted = bradley_terry(winners, losers, 5, ties=ties, weights=counts)
    repeated = bradley_terry(winners[rep], losers[rep], 5, ties=ties[rep])
    np.testing.assert_allclose(weighted, repeated, atol=1e-9)


def test_order_of_comparisons_does_not_matter() -> None:
    winners, losers, ties = _simulate(5, 6, 120, tie_rate=0.1)
    perm = np.random.default_rng(5).permutation(len(winners))
    a = bradley_terry(winners, losers, 6, ties=ties)
    b = bradley_terry(winners[perm], losers[perm], 6, ties=ties[perm])
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_single_system() -> None:
    np.testing.assert_array_equal(bradley_terry([], [], 1), np.zeros(1))


def test_no_convergence_raises_run_error() -> None:
    winners, losers, _ = _simulate(1, 6, 100)
    with pytest.raises(RunError, match="did not converge in 2 iterations"):
        bradley_terry(winners, losers, 6, max_iter=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"winners": [0, 1], "losers": [1]}, "differ in length"),
        ({"winners": [0, 3], "losers": [1, 0]}, r"winners\[1\] = 3 is not a system index"),
        ({"winners": [0, -1], "losers": [1, 0]}, r"winners\[1\] = -1"),
        ({"winners": [0.0, 1.0], "losers": [1, 0]}, "integer system indices"),
        ({"winners": [0, 1], "losers": [0, 0]}, "comparison 0 has system 0 on both sides"),
        ({"winners": [0, 1], "losers": [1, 0], "weights": [1, -1]}, "weights must be finite"),
        ({"winners": [0, 1], "losers": [1, 0], "weights": [1]}, "one weight per comparison"),
        ({"winners": [0, 1], "losers": [1, 0], "ties": [1, 0]}, "ties must hold one boolean"),
        ({"winners": [0, 1], "losers": [1, 0], "prior": -1.0}, "prior must be"),
        ({"winners": [0, 1], "losers": [1, 0], "tol": 0.0}, "tol must be"),
        ({"winners": [0, 1], "losers": [1, 0], "max_iter": 0}, "max_iter must be"),
        ({"winners": [0, 1], "losers": [1, 0], "names": ["a"]}, "names must be a list of 3"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        bradley_terry(n_items=3, **kwargs)  # type: ignore[arg-type]


def test_bad_n_items_is_refused() -> None:
    for bad in (0, True, 2.0):
        with pytest.raises(InputError, match="n_items must be an integer"):
            bradley_terry([0], [1], bad)  # type: ignore[arg-type]


# --- win_probability and bt_scores ------------------------------------------------------------


def test_win_probability_matches_the_logistic_and_does_not_overflow() -> None:
    s = np.array([0.3, -1.2, 2.0])
    for i in range(3):
        for j in range(3):
            expected = 1.0 / (1.0 + math.exp(s[j] - s[i]))
            assert win_probability(s, i, j) == pytest.approx(expected, abs=1e-15)
            assert win_probability(s, i, j) + win_probability(s, j, i) == pytest.approx(1.0)
    assert win_probability([1000.0, -1000.0], 0, 1) == 1.0
    assert win_probability([1000.0, -1000.0], 1, 0) == 0.0
    with pytest.raises(InputError, match="j = 3 is not a system index"):
        win_probability(s, 0, 3)


def test_bt_scores_elo_scale_gives_the_same_odds() -> None:
    winners, losers, _ = _simulate(11, 5, 200)
    s = bradley_terry(winners, losers, 5)
    elo = bt_scores(s)
    assert elo.mean() == pytest.approx(1000.0)
    assert pytest.approx(173.7177928, abs=1e-6) == ELO_PER_UNIT
    for i in range(5):
        for j in range(5):
            elo_p = 1.0 / (1.0 + 10.0 ** ((elo[j] - elo[i]) / 400.0))
            assert elo_p == pytest.approx(win_probability(s, i, j), abs=1e-12)
    np.testing.assert_allclose(bt_scores(s + 3.0, scale="log"), s, atol=1e-12)
    with pytest.raises(InputError, match="scale must be 'elo' or 'log'"):
        bt_scores(s, scale="glicko")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="finite numbers"):
        bt_scores([0.0, math.inf])


# --- sign test --------------------------------------------------------------------------------


def _sign_cases() -> list[tuple[int, int]]:
    cases = [(w, n - w) for n in range(1, 41) for w in range(n + 1)]
    rng = np.random.default_rng(0)
    for n in (99, 100, 101, 1000, 2501, 5000, 9999, 10_000):
        half = n // 2
        spread = int(3 * math.sqrt(n))
        picks = {0, 1, half - 1, half, half + 1, n - 1, n, half - spread, half + spread}
        picks |= set(rng.integers(max(0, half - spread), min(n, half + spread) + 1, 20).tolist())
        cases += [(w, n - w) for w in sorted(picks) if 0 <= w <= n]
    return cases


def test_sign_test_equals_scipy_binomtest() -> None:
    worst = 0.0
    for wins, losses in _sign_cases():
        ref = stats.binomtest(wins, wins + losses, 0.5).pvalue
        worst = max(worst, abs(sign_test(wins, losses) - ref))
    assert worst <= 1e-12


def test_sign_test_edge_cases() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(7, 7) == 1.0
    assert sign_test(3, 0) == pytest.approx(0.25, abs=1e-15)
    assert sign_test(0, 3) == sign_test(3, 0)
    assert sign_test(0, 10_000) == 0.0 or sign_test(0, 10_000) < 1e-300
    assert 0.0 < sign_test(4000, 6000) < 1e-80
    assert sign_test(np.int64(9), np.int64(1)) == sign_test(9, 1)
    for bad in ((-1, 3), (True, 2), (2.0, 1)):
        with pytest.raises(InputError, match="must be an integer >= 0"):
            sign_test(*bad)
