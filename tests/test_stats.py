"""Paired statistics: hand-computed cases, sacrebleu parity where sacrebleu is right, and
seeded simulations showing that noise alone does not trip a regression gate."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
import sacrebleu
from sacrebleu import significance as sb_sig

from evalkit.metrics.diversity import (
    DistinctN,
    EmbeddingDiversity,
    NgramEntropy,
    Repetition,
    SelfBLEU,
)
from evalkit.metrics.image.fid import FID
from evalkit.metrics.image.inception_score import InceptionScore
from evalkit.metrics.image.kid import KID
from evalkit.metrics.image.reference import ReferenceStats, feature_stats
from evalkit.metrics.qa import ExactMatch, TokenF1
from evalkit.metrics.text.bleu import BLEU
from evalkit.stats import (
    BC_MEDIAN,
    PERCENTILE,
    alpha_of,
    approximate_randomization,
    bootstrap_ci,
    bootstrap_test,
    holm,
    interval_method,
    inverted_rank,
    mcnemar_exact,
    min_resamples,
    paired_bootstrap,
    resample_indices,
    values_for_indices,
)
from evalkit.types import Sample
from tests.parity._corpus import perturb, sentence  # seeded text from pydoc_data


def _p(result: object) -> float:
    """The p-value of a sacrebleu significance Result."""
    assert isinstance(result, sb_sig.Result)
    assert result.p_value is not None
    return float(result.p_value)


def _bleu_stats(hyps: list[str], refs: list[str]) -> list[list[float]]:
    metric = BLEU()
    samples = [
        Sample(id=str(i), references=(r,), prediction=h)
        for i, (h, r) in enumerate(zip(hyps, refs, strict=True))
    ]
    return metric.sample_stats(samples)


@pytest.fixture(scope="module")
def systems() -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(3)
    refs = [sentence(rng) for _ in range(120)]
    hyp_a = [perturb(rng, r, 0.3) for r in refs]
    hyp_b = [perturb(rng, r, 0.35) for r in refs]
    return refs, hyp_a, hyp_b


def test_identical_systems_get_p_1_where_sacrebleu_gives_the_floor(
    systems: tuple[list[str], list[str], list[str]],
) -> None:
    refs, hyp_a, _ = systems
    stats = _bleu_stats(hyp_a, refs)
    ours = paired_bootstrap(BLEU(), stats, stats, resamples=300, seed=12345)["bleu"]
    assert ours["p_value"] == 1.0 and ours["delta"] == 0.0
    assert approximate_randomization(BLEU(), stats, stats, trials=300)["bleu"] == 1.0
    # sacrebleu 2.6.0 reports the same system against itself as significant (p = 1/(B+1)).
    test = sb_sig.PairedTest(
        [("a", hyp_a), ("a_copy", hyp_a)],
        {"BLEU": sacrebleu.BLEU()},
        [refs],
        test_type="bs",
        n_samples=300,
    )
    _, scores = test()
    assert _p(scores["BLEU"][1]) == pytest.approx(1 / 301)


def test_resampled_scores_equal_sacrebleus_for_the_same_indices(
    systems: tuple[list[str], list[str], list[str]],
) -> None:
    refs, hyp_a, _ = systems
    stats = _bleu_stats(hyp_a, refs)
    rng = np.random.default_rng(12345)
    idx = rng.choice(len(stats), size=(50, len(stats)), replace=True)
    ours = values_for_indices(BLEU(), stats, idx)["bleu"]
    metric = sacrebleu.BLEU()
    ref_stats = np.array(metric._extract_corpus_statistics(hyp_a, [refs]), dtype="float32")
    theirs = [metric._compute_score_from_stats(s.sum(0)).score for s in ref_stats[idx]]
    # sacrebleu keeps the statistics in float32 and computes BLEU from float32 scalars, which
    # moves its scores by ~1e-8 relative; evalkit sums and computes in float64.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_blockwise_draws_equal_one_shot_draws() -> None:
    # paired_bootstrap draws indices block by block; the stream must equal sacrebleu's one call.
    a = np.random.default_rng(7).choice(30, size=(450, 30), replace=True)
    rng = np.random.default_rng(7)
    b = np.concatenate(
        [
            rng.choice(30, size=(200, 30), replace=True),
            rng.choice(30, size=(200, 30), replace=True),
            rng.choice(30, size=(50, 30), replace=True),
        ]
    )
    assert (a == b).all()


def test_randomization_p_equals_sacrebleu_on_distinct_systems(
    systems: tuple[list[str], list[str], list[str]],
) -> None:
    refs, hyp_a, hyp_b = systems
    sa, sb = _bleu_stats(hyp_a, refs), _bleu_stats(hyp_b, refs)
    ours = approximate_randomization(BLEU(), sa, sb, trials=1000, seed=12345)["bleu"]
    test = sb_sig.PairedTest(
        [("a", hyp_a), ("b", hyp_b)],
        {"BLEU": sacrebleu.BLEU()},
        [refs],
        test_type="ar",
        n_samples=1000,
    )
    _, scores = test()
    assert ours == pytest.approx(_p(scores["BLEU"][1]), abs=1e-12)
    assert 0 < ours < 1


def test_clear_difference_is_significant_in_both(
    systems: tuple[list[str], list[str], list[str]],
) -> None:
    refs, hyp_a, _ = systems
    bad = [" ".join(h.split()[::-1][:3]) for h in hyp_a]
    r = paired_bootstrap(BLEU(), _bleu_stats(hyp_a, refs), _bleu_stats(bad, refs), resamples=500)[
        "bleu"
    ]
    assert r["p_value"] == pytest.approx(1 / 501)  # the floor, never below 1/(B+1)
    assert r["ci_high"] < 0 and r["delta"] < 0
    test = sb_sig.PairedTest(
        [("a", hyp_a), ("b", bad)],
        {"BLEU": sacrebleu.BLEU()},
        [refs],
        test_type="bs",
        n_samples=500,
    )
    assert _p(test()[1]["BLEU"][1]) == pytest.approx(1 / 501)


def test_randomization_matches_exact_permutation_test() -> None:
    # Hand-checkable: 6 binary outcomes; the exact two-sided permutation p-value enumerates all
    # 2^6 swap patterns. Approximate randomization with many trials converges to it.
    a = [[1.0], [1.0], [1.0], [0.0], [1.0], [0.0]]
    b = [[0.0], [1.0], [0.0], [0.0], [0.0], [0.0]]
    obs = abs(np.mean(a) - np.mean(b))
    hits = 0
    for mask in itertools.product([False, True], repeat=6):
        xa = [b[i] if m else a[i] for i, m in enumerate(mask)]
        xb = [a[i] if m else b[i] for i, m in enumerate(mask)]
        hits += abs(np.mean(xa) - np.mean(xb)) >= obs - 1e-12
    exact = hits / 64  # = 16/64 here: 3 discordant pairs all in A's favour -> 2 * 2^3 / 2^6
    assert exact == 0.25
    p = approximate_randomization(ExactMatch(), a, b, trials=20000, seed=1)["exact_match"]
    assert p == pytest.approx(exact, abs=0.01)


def test_mcnemar_hand_computed() -> None:
    # b = 5 right only in A, c = 1 right only in B: p = 2 * (C(6,0) + C(6,1)) / 2^6 = 14/64.
    a = [1] * 5 + [0] + [1] * 4
    b = [0] * 5 + [1] + [1] * 4
    assert mcnemar_exact(a, b) == pytest.approx(14 / 64)
    assert mcnemar_exact(b, a) == pytest.approx(14 / 64)
    assert mcnemar_exact([1, 0], [1, 0]) == 1.0


def test_holm_hand_computed() -> None:
    # Holm (1979): sorted p (0.01, 0.02, 0.03, 0.04) * (4, 3, 2, 1) = (0.04, 0.06, 0.06, 0.04)
    # made monotone -> (0.04, 0.06, 0.06, 0.06).
    assert holm([0.04, 0.01, 0.03, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # 0.5 * 2 = 1.0, and monotone after it
    assert holm([]) == []


def test_bootstrap_ci_brackets_estimate_and_is_seeded() -> None:
    stats = [[float(i % 3 == 0)] for i in range(90)]
    ci1 = bootstrap_ci(ExactMatch(), stats, rng=np.random.default_rng(5))["exact_match"]
    ci2 = bootstrap_ci(ExactMatch(), stats, rng=np.random.default_rng(5))["exact_match"]
    assert ci1 == ci2 and ci1[0] < 1 / 3 < ci1[1]


def _simulate(n_sims: int, p_a: float, p_b: float, seed: int) -> tuple[float, float]:
    """Share of simulations that flag a regression / any significant difference at 0.05."""
    rng = np.random.default_rng(seed)
    regress = anydiff = 0
    for sim in range(n_sims):
        # Two runs of systems with per-item difficulty; sampling noise differs run to run.
        difficulty = rng.uniform(-1.5, 1.5, size=150)
        pa = 1 / (1 + np.exp(-(difficulty + math.log(p_a / (1 - p_a)))))
        pb = 1 / (1 + np.exp(-(difficulty + math.log(p_b / (1 - p_b)))))
        a = (rng.random(150) < pa).astype(float)[:, None].tolist()
        b = (rng.random(150) < pb).astype(float)[:, None].tolist()
        r = paired_bootstrap(ExactMatch(), a, b, resamples=400, seed=sim)["exact_match"]
        sig = r["p_value"] < 0.05
        anydiff += sig
        regress += sig and r["delta"] < 0
    return regress / n_sims, anydiff / n_sims


def test_noise_alone_does_not_trip_the_regression_gate() -> None:
    regress, anydiff = _simulate(400, 0.6, 0.6, seed=2026)
    # Binomial(400, 0.05): mean 20, sd 4.4; allow 3 sd. A regression gate (one direction of a
    # two-sided 5% test) should fail about 2.5% of the time, never much more than 5%.
    assert regress <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)
    assert 0.01 <= anydiff <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)


def test_a_real_regression_is_caught() -> None:
    regress, _ = _simulate(60, 0.75, 0.55, seed=7)
    assert regress >= 0.8


# --- one procedure per reading (issue 14) -------------------------------------------------------


def test_every_sample_improved_no_longer_reads_significant_by_interval_only() -> None:
    # The symptom: every sample improved, the percentile interval of the resampled deltas sat
    # far from 0, yet the shifted-null p-value was 0.057, so the report said "no significant
    # change" beside an interval that excluded 0.
    a = [[0.0]] * 5
    b = [[0.01]] * 4 + [[1.0]]
    rng = np.random.default_rng(12345)
    idx = rng.choice(5, size=(999, 5), replace=True)
    d_b = values_for_indices(TokenF1(), b, idx)["token_f1"] - 0.0
    assert np.quantile(d_b, 0.025) > 0  # the old, percentile interval excluded 0
    r = paired_bootstrap(TokenF1(), a, b, resamples=999, seed=12345)["token_f1"]
    assert r["p_value"] == pytest.approx(0.057) and r["p_value"] >= 0.05
    assert r["ci_low"] < 0 < r["delta"] < r["ci_high"]  # the test-inverted one holds 0


def _deltas_with_count(d_obs: float, c: int, b: int, gap: float = 0.25) -> np.ndarray:
    """``b`` deltas, exactly ``c`` of them at least ``|d_obs|`` away from ``d_obs``."""
    far = np.full(c, d_obs + abs(d_obs) * (1 + gap))
    near = np.full(b - c, d_obs + abs(d_obs) * (1 - gap))
    return np.concatenate([far, near])


@pytest.mark.parametrize("b", [19, 99, 999, 1000])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("d_obs", [0.7, -3.0])
def test_interval_and_p_agree_at_every_count_around_the_boundary(
    b: int, confidence: float, d_obs: float
) -> None:
    alpha = alpha_of(confidence)
    k = inverted_rank(b, alpha)
    for c in range(max(0, k - 3), min(b, k + 3) + 1):
        r = bootstrap_test(_deltas_with_count(d_obs, c, b), d_obs, alpha)
        assert r["p_value"] == (c + 1) / (b + 1)
        if k < 1:
            assert math.isnan(r["ci_low"]) and "too few" in r["interval_note"]
            continue
        excludes = r["ci_low"] > 0 or r["ci_high"] < 0
        assert excludes == (r["p_value"] < alpha) == (c < k), (c, k, r)
        assert r["ci_low"] <= d_obs <= r["ci_high"]


def test_deviations_within_the_tie_tolerance_count_for_both() -> None:
    # |d_b - d| a hair (1e-13) below |d| counts as reaching it, in the p-value; the interval
    # must then not exclude 0 either, though its half-width is below |d| by that hair.
    d_obs, b = 1.0, 99
    alpha = alpha_of(0.95)
    k = inverted_rank(b, alpha)  # 4: p < 0.05 needs c < 4
    deltas = np.concatenate([np.full(k, d_obs - (1.0 - 1e-13)), np.full(b - k, d_obs)])
    r = bootstrap_test(deltas, d_obs, alpha)
    assert r["p_value"] == (k + 1) / (b + 1) and r["p_value"] >= alpha
    assert r["ci_low"] == 0.0 and r["ci_high"] > d_obs  # 0 is a bound, not outside


def test_inverted_rank_is_ceil_formula_and_agrees_with_floating_point() -> None:
    for b in range(1, 2500, 7):
        for confidence in (0.8, 0.9, 0.95, 0.99):
            alpha = alpha_of(confidence)
            k = inverted_rank(b, alpha)
            assert k == max(0, math.ceil(round(alpha * (b + 1), 9)) - 1), (b, alpha)
            assert all(((c + 1) / (b + 1) < alpha) == (c < k) for c in range(b + 1))
    assert alpha_of(0.95) == 0.05  # a 95% interval tests at the alpha a user writes
    assert min_resamples(0.05) == 20 and inverted_rank(19, 0.05) == 0


def test_too_few_resamples_give_no_interval_rather_than_a_made_up_one() -> None:
    a = [[0.0]] * 10
    b = [[1.0]] * 10
    r = paired_bootstrap(ExactMatch(), a, b, resamples=10)["exact_match"]
    assert math.isnan(r["ci_low"]) and math.isnan(r["ci_high"])
    assert r["interval_note"] == "10 resamples are too few for a 95% interval; use at least 20"
    assert r["p_value"] == 1 / 11  # the floor: cannot reach 0.05 either
    ok = paired_bootstrap(ExactMatch(), a, b, resamples=20)["exact_match"]
    assert ok["interval_note"] is None and ok["ci_low"] > 0 and ok["p_value"] < 0.05


def test_an_undefined_delta_is_not_a_tiny_p_value() -> None:
    # Before: a NaN delta counted no resample as extreme, so p = 1/(B+1), "significant".
    em = ExactMatch()
    r = paired_bootstrap(em, [[1.0]], [[1.0]], resamples=50)["exact_match"]
    assert r["p_value"] == 1.0  # defined and identical
    one = [Sample(id="1", prediction="x", outputs={"samples": ["a b c"]})]
    stats = SelfBLEU().sample_stats(one)  # one output: no pair, the value is undefined
    r = paired_bootstrap(SelfBLEU(), stats, stats, resamples=50)["self_bleu"]
    assert math.isnan(r["p_value"]) and r["interval_note"] == "the value is undefined"
    assert math.isnan(approximate_randomization(SelfBLEU(), stats, stats, trials=50)["self_bleu"])


def _fid_case(seed: int = 1) -> tuple[FID, list[list[float]]]:
    ref = np.random.default_rng(0).normal(size=(40, 3))
    mu, sigma = feature_stats(ref)
    metric = FID()
    metric._ref = ReferenceStats(mu, sigma, ref, len(ref), "0" * 64, {})
    gen = np.random.default_rng(seed).normal(size=(17, 3))
    return metric, gen.tolist()


def test_fid_interval_contains_its_estimate_where_the_percentile_one_did_not() -> None:
    # Resampling with replacement duplicates feature vectors, which biases FID upwards: the
    # percentile interval sat above the estimate (the report showed 0.622 with [0.676, 1.361]).
    metric, stats = _fid_case()
    est = metric.aggregate(stats)["fid"]
    blocks = resample_indices(np.random.default_rng(0), len(stats), 200)
    vals = np.concatenate([values_for_indices(metric, stats, idx)["fid"] for idx in blocks])
    lo_pct, hi_pct = np.quantile(vals, [0.025, 0.975])
    assert est < lo_pct < hi_pct  # the plain percentile interval misses the estimate
    lo, hi = bootstrap_ci(metric, stats, resamples=200, rng=np.random.default_rng(0))["fid"]
    med = float(np.median(vals))
    assert lo <= est <= hi
    assert (lo, hi) == pytest.approx((est - (med - lo_pct), est + (hi_pct - med)))
    assert interval_method(metric, "fid") == BC_MEDIAN == metric.interval_method


def test_interval_method_is_in_the_signature_only_where_it_is_not_percentile() -> None:
    assert FID().signature().endswith("|ci:bc-median")
    # KID and IS compute no interval, wide-feature FID neither: no method to name.
    assert "|ci:" not in KID().signature() and "|ci:" not in InceptionScore().signature()
    assert interval_method(KID(), "kid") is None
    for metric in (BLEU(), ExactMatch(), TokenF1(), DistinctN()):
        assert "|ci:" not in metric.signature()  # parity-tested signatures stay as they were
        assert metric.interval_method == PERCENTILE
    assert SelfBLEU().signature().endswith("|ci:bc-median")
    assert interval_method(DistinctN(), "distinct_2") is None  # corpus count: no interval
    assert interval_method(DistinctN(), "distinct_2_per_prompt") == PERCENTILE


def test_percentile_interval_absorbs_rounding_of_a_constant_statistic() -> None:
    # A constant statistic resamples to the same mean, up to the matrix product's rounding.
    for value in (0.1, 0.3, 1 / 3, 0.7):
        for n in (3, 7, 11):
            stats = [[value]] * n
            est = TokenF1().aggregate(stats)["token_f1"]
            lo, hi = bootstrap_ci(TokenF1(), stats, resamples=50, rng=np.random.default_rng(n))[
                "token_f1"
            ]
            assert lo <= est <= hi and hi - lo < 1e-12, (value, n, lo, est, hi)


def test_set_level_metrics_have_no_per_sample_outcomes() -> None:
    set_level = (FID, KID, InceptionScore, DistinctN, NgramEntropy, SelfBLEU, EmbeddingDiversity)
    assert all(cls.per_sample_outcomes is False for cls in set_level)
    assert all(cls.per_sample_outcomes for cls in (BLEU, ExactMatch, TokenF1, Repetition))
