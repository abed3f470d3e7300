"""Agreement statistics against their references: scikit-learn, krippendorff, scipy.

Randomised parity over many seeds (ties, missing ratings, constant sides, 2..7 categories,
2..300 items), worked examples from the literature, undefined cases and input checks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import krippendorff
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from evalkit.metrics.judges.agreement import (
    cohen_kappa,
    kendall_tau_b,
    krippendorff_alpha,
    spearman,
)

NAN = math.nan
SEEDS = range(120)
LEVELS = ("nominal", "ordinal", "interval", "ratio")

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers
# x 12 units with missing values. The paper reports alpha = 0.743 (nominal), 0.815 (ordinal),
# 0.849 (interval) and 0.797 (ratio); the krippendorff package's docstring reproduces the
# nominal, ordinal and ratio values, and test_krippendorff_worked_example checks all four
# against the package before asserting the paper's rounding.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
PAPER_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def quiet(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a reference with its undefined-value warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def same(ours: float, reference: float, tolerance: float) -> None:
    if math.isnan(reference):
        assert math.isnan(ours), ours
    else:
        assert ours == pytest.approx(reference, abs=tolerance, rel=0)


def rater_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Two raters on 2..300 items, 2..7 categories, agreeing more than chance (or constant)."""
    n = int(rng.integers(2, 301))
    categories = int(rng.integers(2, 8))
    a = rng.integers(1, categories + 1, n)
    b = np.where(rng.random(n) < rng.random(), a, rng.integers(1, categories + 1, n))
    if rng.random() < 0.1:
        b = np.full(n, b[0])
    return a, b, categories


# --- Cohen's kappa --------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", SEEDS)
def test_kappa_matches_sklearn(seed: int, weights: Any) -> None:
    a, b, _ = rater_pair(np.random.default_rng(seed))
    reference = quiet(cohen_kappa_score, a, b, weights=weights)
    same(cohen_kappa(a, b, weights=weights), reference, 1e-12)
    # Strings and numpy arrays against plain lists give the same number.
    same(cohen_kappa(list(map(int, a)), list(map(int, b)), weights=weights), reference, 1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_kappa_string_labels_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b, _ = rater_pair(rng)
    names = np.array(["bad", "fair", "good", "great", "meh", "ok", "poor", "superb"])
    sa, sb = list(names[a]), list(names[b])
    for weights in (None, "linear", "quadratic"):
        reference = quiet(cohen_kappa_score, sa, sb, weights=weights)
        same(cohen_kappa(sa, sb, weights=weights), reference, 1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_kappa_float_labels_weigh_by_rank(seed: int) -> None:
    # scikit-learn refuses non-integer floats ("continuous is not supported"); the weights
    # depend on the labels' sorted positions only, so 0.5-steps equal their integer codes.
    a, b, _ = rater_pair(np.random.default_rng(seed))
    for weights in (None, "linear", "quadratic"):
        reference = quiet(cohen_kappa_score, a, b, weights=weights)
        same(cohen_kappa(a / 2.0, b / 2.0, weights=weights), reference, 1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_kappa_labels_argument_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b, categories = rater_pair(rng)
    # A shuffled subset (items outside it dropped) plus an unused label, in a chosen order.
    chosen = rng.permutation(np.arange(1, categories + 2))[: max(2, categories - 1)]
    if not np.isin(a, chosen).any():
        chosen = np.append(chosen, a[0])
    for weights in (None, "linear", "quadratic"):
        reference = quiet(cohen_kappa_score, a, b, labels=chosen, weights=weights)
        same(cohen_kappa(a, b, labels=chosen, weights=weights), reference, 1e-12)


def test_kappa_hand_values() -> None:
    # p_o = 3/4, p_e = (2*1 + 2*3) / 16 = 1/2: kappa = (3/4 - 1/2) / (1 - 1/2) = 1/2.
    assert cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"]) == pytest.approx(0.5)
    # Cohen (1960)-style 2x2 table: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no (n = 50).
    # p_o = 35/50 = 0.7; p_e = (25*30 + 25*20) / 2500 = 0.5; kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_kappa_all_agree_and_undefined() -> None:
    assert cohen_kappa([1, 2, 3, 1], [1, 2, 3, 1], weights="quadratic") == 1.0
    # One label on both sides: chance disagreement 0; sklearn warns and gives nan.
    assert math.isnan(quiet(cohen_kappa_score, [2, 2, 2], [2, 2, 2]))
    assert math.isnan(cohen_kappa([2, 2, 2], [2, 2, 2]))
    # Each rater constant but different: defined, and 0 (as sklearn).
    assert cohen_kappa([1, 1], [2, 2]) == quiet(cohen_kappa_score, [1, 1], [2, 2]) == 0.0
    # Nothing left to count (sklearn raises on empty input; labels that b never uses).
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(quiet(cohen_kappa_score, [1, 2, 3], [5, 5, 5], labels=[1, 2]))
    assert math.isnan(cohen_kappa([1, 2, 3], [5, 5, 5], labels=[1, 2]))


def test_kappa_bad_input() -> None:
    with pytest.raises(ValueError, match=r"differ in length \(3 vs 2\)"):
        cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"a\[1\] is NaN"):
        cohen_kappa([1.0, NAN], [1.0, 2.0])
    with pytest.raises(ValueError, match="mixes strings"):
        cohen_kappa([1, "a"], ["a", "a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="string labels, the other numbers"):
        cohen_kappa(["1", "2"], [1, 2])
    with pytest.raises(ValueError, match="duplicates"):
        cohen_kappa([1, 2], [1, 2], labels=[1, 1, 2])
    with pytest.raises(ValueError, match="numbers or strings"):
        cohen_kappa([1, None], [1, 2])  # type: ignore[arg-type]


# --- Krippendorff's alpha -------------------------------------------------------------------


def reliability_data(rng: np.random.Generator) -> np.ndarray:
    """2..6 raters x 2..300 units, 2..7 values, up to half the ratings missing."""
    raters = int(rng.integers(2, 7))
    units = int(rng.integers(2, 301))
    categories = int(rng.integers(2, 8))
    truth = rng.integers(0, categories, units)
    noise = rng.integers(0, categories, (raters, units))
    data = np.where(rng.random((raters, units)) < rng.random(), truth, noise).astype(float)
    data[rng.random((raters, units)) < rng.random() * 0.5] = NAN
    if rng.random() < 0.3:  # scale to non-integer values (interval and ratio see them)
        data = data * 0.5 + 1.0
    return data


def reference_alpha(data: Any, level: str, values: Any = None) -> float:
    try:
        return float(
            quiet(
                krippendorff.alpha,
                reliability_data=data,
                level_of_measurement=level,
                value_domain=values,
            )
        )
    except ValueError as error:
        # The package raises where alpha is undefined (one value, no pairable unit).
        assert "more than one value" in str(error) or "at least two coders" in str(error)
        return NAN


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", SEEDS)
def test_alpha_matches_krippendorff(seed: int, level: str) -> None:
    data = reliability_data(np.random.default_rng(seed))
    same(krippendorff_alpha(data, level=level), reference_alpha(data, level), 1e-10)  # type: ignore[arg-type]
    # Lists with NaN give the same number as the float array.
    same(krippendorff_alpha(data.tolist(), level=level), reference_alpha(data, level), 1e-10)  # type: ignore[arg-type]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(60))
def test_alpha_with_unused_values_matches_krippendorff(seed: int, level: str) -> None:
    rng = np.random.default_rng(seed)
    data = reliability_data(rng)
    seen = np.unique(data[~np.isnan(data)])
    # Values nobody used, below, between and above the ratings.
    extra = np.array([seen.max() + 1.0, seen.max() + 2.5, (seen[0] + seen[-1]) / 2 + 0.125])
    values = np.unique(np.concatenate([seen, extra, [0.0]]))
    reference = reference_alpha(data, level, values)
    same(krippendorff_alpha(data, level=level, values=values), reference, 1e-10)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(40))
def test_alpha_string_ratings_match_krippendorff(seed: int) -> None:
    rng = np.random.default_rng(seed)
    codes = reliability_data(rng)
    codes = np.where(np.isnan(codes), NAN, np.round(codes * 2))
    order = [f"grade {g:02d}" for g in range(20)]  # sorted as text = sorted as grades
    rows = [[NAN if math.isnan(v) else order[int(v)] for v in row] for row in codes]
    text = np.asarray(rows)  # NaN becomes "nan", which both read as missing
    for level, values in (("nominal", None), ("ordinal", order)):
        reference = reference_alpha(text, level, values)
        same(krippendorff_alpha(rows, level=level, values=values), reference, 1e-10)  # type: ignore[arg-type]
        same(krippendorff_alpha(text, level=level, values=values), reference, 1e-10)  # type: ignore[arg-type]


def test_krippendorff_worked_example() -> None:
    for level, paper in PAPER_ALPHA.items():
        reference = reference_alpha(KRIPPENDORFF_2011, level)
        assert round(reference, 3) == paper  # the package reproduces the paper...
        ours = krippendorff_alpha(KRIPPENDORFF_2011, level=level)  # type: ignore[arg-type]
        assert ours == pytest.approx(reference, abs=1e-12)  # ...and so do we
        assert round(ours, 3) == paper
    # Exact nominal value, by hand with fractions: n = 40 pairable values with marginals
    # n_1..n_5 = 9, 13, 10, 5, 3; off-diagonal coincidences sum to 8; sum_{c != k} n_c n_k =
    # 40^2 - (81 + 169 + 100 + 25 + 9) = 1216; alpha = 1 - 39 * 8 / 1216 = 113/152.
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(113 / 152, abs=1e-15)


def test_alpha_ordinal_order_from_values() -> None:
    # The paper's example as words, ordered by values= (the package's docstring: 0.815).
    words = ["very low", "low", "mid", "high", "very high"]
    rows = [
        [None if math.isnan(v) else words[int(v) - 1] for v in row] for row in KRIPPENDORFF_2011
    ]
    ordinal = krippendorff_alpha(rows, level="ordinal", values=words)
    assert ordinal == pytest.approx(reference_alpha(KRIPPENDORFF_2011, "ordinal"), abs=1e-12)
    # Nominal ignores order; alphabetical values give the same number.
    assert krippendorff_alpha(rows, values=sorted(words)) == pytest.approx(113 / 152, abs=1e-15)


def test_alpha_hand_value_and_single_ratings() -> None:
    # Units (1,1), (1,2), (2,2): o = [[2,1],[1,2]], n = 6, alpha = 1 - 5*2/(3*3*2) = 4/9.
    assert krippendorff_alpha([[1, 1, 2], [1, 2, 2]]) == pytest.approx(4 / 9, abs=1e-15)
    # A unit rated once is not pairable: adding one changes nothing.
    assert krippendorff_alpha([[1, 1, 2, 7], [1, 2, 2, NAN]]) == pytest.approx(4 / 9, abs=1e-15)


def test_alpha_all_agree_and_undefined() -> None:
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3], [1, NAN, 3]], level="ordinal") == 1.0
    # One value throughout: D_e = 0 (the package raises "more than one value").
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))
    # No unit with two ratings (the package raises "at least two coders").
    assert math.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))
    # Pairable ratings all one value, another value only in a single-rated unit: the
    # package returns nan (0/0) itself.
    data: list[list[float]] = [[1, 1, 2], [1, 1, NAN]]
    assert math.isnan(reference_alpha(data, "nominal"))
    assert math.isnan(krippendorff_alpha(data))


def test_alpha_bad_input() -> None:
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha([[1, 2], [1, 2]], level="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(raters, units\)"):
        krippendorff_alpha([1, 2, 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"\(raters, units\)"):
        krippendorff_alpha([[1, 2, 3], [1, 2]])
    with pytest.raises(ValueError, match="not in values"):
        krippendorff_alpha([[1, 2], [1, 3]], values=[1, 2])
    with pytest.raises(ValueError, match="need values"):
        krippendorff_alpha([["a", "b"], ["a", "b"]], level="ordinal")
    with pytest.raises(ValueError, match="numbers, not strings"):
        krippendorff_alpha([["a", "b"], ["a", "b"]], level="interval")
    with pytest.raises(ValueError, match="mix strings"):
        krippendorff_alpha([["a", 1], ["a", 2]])
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha([[-1, 2], [1, 2]], level="ratio")
    with pytest.raises(ValueError, match="duplicates"):
        krippendorff_alpha([[1, 2], [1, 2]], values=[1, 2, 2])


# --- Spearman and Kendall -------------------------------------------------------------------


def score_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """2..300 items: continuous, or 2..7 levels with many ties, sometimes a constant side."""
    n = int(rng.integers(2, 301))
    kind = rng.integers(0, 4)
    if kind == 0:
        x = rng.normal(size=n)
        y = x * rng.normal() + rng.normal(size=n)
    else:
        levels = int(rng.integers(2, 8))
        x = rng.integers(1, levels + 1, n).astype(float)
        y = np.where(rng.random(n) < 0.5, x, rng.integers(1, levels + 1, n)).astype(float)
        if kind == 3:
            y = -y * 0.5  # reversed, non-integer
    if rng.random() < 0.08:
        y = np.full(n, 3.0)
    return x, y


@pytest.mark.parametrize("seed", range(300))
def test_correlations_match_scipy(seed: int) -> None:
    x, y = score_pair(np.random.default_rng(seed))
    same(spearman(x, y), float(quiet(scipy.stats.spearmanr, x, y).statistic), 1e-12)
    same(kendall_tau_b(x, y), float(quiet(scipy.stats.kendalltau, x, y).statistic), 1e-12)


@pytest.mark.parametrize("n", [1000, 5000])
def test_kendall_large_matches_scipy(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    assert kendall_tau_b(x, y) == pytest.approx(scipy.stats.kendalltau(x, y).statistic, abs=1e-12)
    xs, ys = np.round(x), np.round(y * 3)  # heavy ties
    reference = scipy.stats.kendalltau(xs, ys).statistic
    assert kendall_tau_b(xs, ys) == pytest.approx(reference, abs=1e-12)


def test_correlations_hand_values() -> None:
    # Ranks 1 2 3 4 vs 1 3 2 4: rho = 1 - 6 * 2 / (4 * 15) = 0.8; tau = (5 - 1) / 6.
    assert spearman([10, 20, 30, 40], [1, 3, 2, 4]) == pytest.approx(0.8, abs=1e-15)
    assert kendall_tau_b([10, 20, 30, 40], [1, 3, 2, 4]) == pytest.approx(4 / 6, abs=1e-15)
    # Ties: one concordant pair, one tie on each side of three: 1 / sqrt(2 * 2).
    assert kendall_tau_b([1, 1, 2], [1, 2, 2]) == pytest.approx(0.5, abs=1e-15)
    # Average ranks 1.5 1.5 3 vs 1 2.5 2.5: r of centred (-.5 -.5 1) and (-1 .5 .5) = 0.5.
    assert spearman([1, 1, 2], [1, 2, 2]) == pytest.approx(0.5, abs=1e-15)
    assert spearman([1, 2], [2, 1]) == -1.0
    assert kendall_tau_b([3, 1, 2], [30, 10, 20]) == 1.0


@pytest.mark.parametrize("function", [spearman, kendall_tau_b])
def test_correlations_undefined(function: Callable[[Any, Any], float]) -> None:
    for x, y in [([], []), ([1.0], [2.0]), ([1, 2, 3], [4, 4, 4]), ([5, 5], [1, 2])]:
        assert math.isnan(function(x, y))
    assert math.isnan(function([1, 2, NAN], [1, 2, 3]))  # scipy's nan_policy="propagate"
    with pytest.raises(ValueError, match=r"differ in length \(2 vs 3\)"):
        function([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="numbers"):
        function(["a", "b"], ["c", "d"])


# --- properties -----------------------------------------------------------------------------

small_scores = st.lists(st.integers(0, 4), min_size=2, max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_properties(data: st.DataObject) -> None:
    x = data.draw(small_scores)
    y = data.draw(st.lists(st.integers(0, 4), min_size=len(x), max_size=len(x)))
    rho, tau = spearman(x, y), kendall_tau_b(x, y)
    same(rho, float(quiet(scipy.stats.spearmanr, x, y).statistic), 1e-12)
    same(tau, float(quiet(scipy.stats.kendalltau, x, y).statistic), 1e-12)
    if not math.isnan(tau):
        # Symmetric, bounded, and reversed by negating one side.
        assert kendall_tau_b(y, x) == pytest.approx(tau, abs=1e-12)
        assert kendall_tau_b(x, [-v for v in y]) == pytest.approx(-tau, abs=1e-12)
        assert -1.0 <= tau <= 1.0 and -1.0 <= rho <= 1.0
    for weights in (None, "linear", "quadratic"):
        kappa = cohen_kappa(x, y, weights=weights)
        same(kappa, quiet(cohen_kappa_score, x, y, weights=weights), 1e-12)
        same(cohen_kappa(y, x, weights=weights), kappa, 1e-12)
    assert cohen_kappa(x, x) == 1.0 or len(set(x)) == 1
    table = [x, y]
    for level in LEVELS:
        alpha = krippendorff_alpha(table, level=level)  # type: ignore[arg-type]
        same(alpha, reference_alpha(np.array(table, dtype=float), level), 1e-10)
        # Order of raters and of units does not matter.
        same(krippendorff_alpha([y, x], level=level), alpha, 1e-12)  # type: ignore[arg-type]
        same(krippendorff_alpha([x[::-1], y[::-1]], level=level), alpha, 1e-12)  # type: ignore[arg-type]
