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

from evalkit.metrics.qa import ExactMatch
from evalkit.metrics.text_overlap import BLEU
from evalkit.stats import (
    approximate_randomization,
    bootstrap_ci,
    holm,
    mcnemar_exact,
    paired_bootstrap,
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
