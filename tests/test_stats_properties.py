"""Property tests of the resampling statistics over random paired data, one case per family.

For every metric family (QA, BLEU/chrF/TER/ROUGE, perplexity, retrieval, diversity, FID):

- a run compared with itself gives ``p = 1``, a zero delta and the interval ``[0, 0]``;
- the delta's interval and the p-value agree: a two-sided interval at confidence ``c`` excludes
  0 exactly when ``p < 1 - c``, and it contains the delta;
- every run-level interval (``bootstrap_ci``) contains its point estimate.

The data are drawn from a seeded generator whose seed, size and noise hypothesis chooses, so a
failure shrinks to a small reproducible case. Sizes and resample counts are small to stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.metrics.base import Metric
from evalkit.metrics.diversity import DistinctN, SelfBLEU
from evalkit.metrics.image.fid import FID
from evalkit.metrics.image.reference import ReferenceStats, feature_stats
from evalkit.metrics.lm import Perplexity
from evalkit.metrics.qa import ExactMatch, TokenF1
from evalkit.metrics.retrieval.ranking import NDCG
from evalkit.metrics.text.bleu import BLEU
from evalkit.metrics.text.chrf import CHRF
from evalkit.metrics.text.rouge import ROUGE
from evalkit.metrics.text.ter import TER
from evalkit.stats import alpha_of, bootstrap_ci, inverted_rank, paired_bootstrap
from evalkit.types import Sample, Stats

WORDS = ("the", "cat", "sat", "on", "a", "mat", "dog", "ran", "red", "blue")

PROPS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Case:
    """Per-sample statistics of two systems on the same samples."""

    metric: Metric
    a: list[Stats]
    b: list[Stats]


def _sentence(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(1, 9))))


def _perturb(rng: np.random.Generator, text: str, noise: float) -> str:
    words = [w if rng.random() > noise else str(rng.choice(WORDS)) for w in text.split()]
    if rng.random() < noise:
        words = words[: max(1, len(words) - 1)]
    return " ".join(words)


def _text_case(metric: Metric) -> Callable[[np.random.Generator, int, float], Case]:
    def build(rng: np.random.Generator, n: int, noise: float) -> Case:
        refs = [_sentence(rng) for _ in range(n)]
        a = [_perturb(rng, r, 0.3) for r in refs]
        b = [_perturb(rng, r, 0.3 + noise) for r in refs]

        def stats(hyps: list[str]) -> list[Stats]:
            return metric.sample_stats(
                [
                    Sample(id=str(i), references=(r,), prediction=h)
                    for i, (h, r) in enumerate(zip(hyps, refs, strict=True))
                ]
            )

        return Case(metric, stats(a), stats(b))

    return build


def _perplexity(rng: np.random.Generator, n: int, noise: float) -> Case:
    tokens = rng.integers(1, 40, size=n).astype(float)
    words = np.maximum(1.0, np.round(tokens * 0.7))
    nbytes = tokens * 4.0
    nll_a = tokens * rng.uniform(1.0, 4.0, size=n)
    nll_b = nll_a * (1.0 + noise * rng.uniform(-0.5, 1.0, size=n))

    def stats(nll: np.ndarray) -> list[Stats]:
        return np.column_stack([nll, tokens, words, nbytes]).tolist()

    return Case(Perplexity(), stats(nll_a), stats(nll_b))


def _ndcg(rng: np.random.Generator, n: int, noise: float) -> Case:
    metric = NDCG.build({"k": [3]})
    docs = [f"d{j}" for j in range(6)]
    qrels = [{d: int(rng.integers(0, 3)) for d in docs[:4]} for _ in range(n)]

    def ranking(q: dict[str, int], shuffle: float) -> list[list[object]]:
        order = sorted(docs, key=lambda d: -q.get(d, 0) + shuffle * rng.normal())
        return [[d, float(len(order) - r)] for r, d in enumerate(order)]

    def stats(shuffle: float) -> list[Stats]:
        return metric.sample_stats(
            [
                Sample(id=str(i), inputs={"qrels": q}, outputs={"ranking": ranking(q, shuffle)})
                for i, q in enumerate(qrels)
            ]
        )

    return Case(metric, stats(1.0), stats(1.0 + 3 * noise))


def _diversity(metric: Metric) -> Callable[[np.random.Generator, int, float], Case]:
    def build(rng: np.random.Generator, n: int, noise: float) -> Case:
        base = [_sentence(rng) for _ in range(n)]

        def stats(level: float) -> list[Stats]:
            return metric.sample_stats(
                [
                    Sample(
                        id=str(i),
                        prediction=p,
                        outputs={"samples": [_perturb(rng, p, level) for _ in range(3)]},
                    )
                    for i, p in enumerate(base)
                ]
            )

        return Case(metric, stats(0.2), stats(0.2 + noise))

    return build


def _fid(rng: np.random.Generator, n: int, noise: float) -> Case:
    # Small random features (3 dimensions) against a fixed reference set of 40.
    dim = 3
    ref = np.random.default_rng(0).normal(size=(40, dim))
    mu, sigma = feature_stats(ref)
    metric = FID()
    metric._ref = ReferenceStats(mu, sigma, ref, len(ref), "0" * 64, {})
    a = rng.normal(size=(n + dim + 2, dim))
    b = a + noise * rng.normal(size=a.shape) + noise
    return Case(metric, a.tolist(), b.tolist())


FAMILIES: dict[str, Callable[[np.random.Generator, int, float], Case]] = {
    "exact_match": _text_case(ExactMatch()),
    "token_f1": _text_case(TokenF1()),
    "bleu": _text_case(BLEU()),
    "chrf": _text_case(CHRF()),
    "ter": _text_case(TER()),
    "rouge": _text_case(ROUGE()),
    "perplexity": _perplexity,
    "ndcg": _ndcg,
    "distinct_n": _diversity(DistinctN()),
    "self_bleu": _diversity(SelfBLEU()),
    "fid": _fid,
}

SEEDS = st.integers(0, 2**32 - 1)
SIZES = st.integers(1, 12)
NOISE = st.sampled_from([0.0, 0.1, 0.4, 0.8])


def _finite(*xs: float | None) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@PROPS
@given(seed=SEEDS, n=SIZES)
def test_a_run_against_itself_gives_p_1_and_zero_deltas(family: str, seed: int, n: int) -> None:
    case = FAMILIES[family](np.random.default_rng(seed), n, 0.0)
    result = paired_bootstrap(case.metric, case.a, case.a, resamples=40, seed=seed)
    for name in case.metric.primary_values():
        r = result[name]
        if not _finite(r["value_a"]):
            assert math.isnan(r["p_value"]) and r["interval_note"], r  # undefined, not "1"
            continue
        assert r["delta"] == 0.0 and r["p_value"] == 1.0, (name, r)
        assert (r["ci_low"], r["ci_high"]) == (0.0, 0.0), (name, r)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@PROPS
@given(
    seed=SEEDS,
    n=SIZES,
    noise=NOISE,
    confidence=st.sampled_from([0.8, 0.9, 0.95]),
    resamples=st.sampled_from([9, 19, 39, 99]),
)
def test_the_interval_excludes_0_exactly_when_p_is_below_1_minus_confidence(
    family: str, seed: int, n: int, noise: float, confidence: float, resamples: int
) -> None:
    case = FAMILIES[family](np.random.default_rng(seed), n, noise)
    result = paired_bootstrap(
        case.metric, case.a, case.b, resamples=resamples, seed=seed, confidence=confidence
    )
    alpha = alpha_of(confidence)
    for name in case.metric.primary_values():
        r = result[name]
        if not _finite(r["delta"]):
            assert math.isnan(r["p_value"]) and r["interval_note"], r
            continue
        if inverted_rank(r["resamples"], alpha) < 1:
            # Too few resamples for this confidence: no interval, and no p can reach alpha.
            assert math.isnan(r["ci_low"]) and math.isnan(r["ci_high"]) and r["interval_note"]
            assert r["p_value"] >= alpha
            continue
        lo, hi, d = r["ci_low"], r["ci_high"], r["delta"]
        assert lo <= d <= hi, (name, r)
        assert (lo > 0 or hi < 0) == (r["p_value"] < alpha), (name, confidence, r)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@PROPS
@given(seed=SEEDS, n=SIZES, noise=NOISE)
def test_every_run_level_interval_contains_its_estimate(
    family: str, seed: int, n: int, noise: float
) -> None:
    case = FAMILIES[family](np.random.default_rng(seed), n, noise)
    for stats in (case.a, case.b):
        values = case.metric.aggregate(stats)
        cis = bootstrap_ci(case.metric, stats, resamples=200, rng=np.random.default_rng(seed))
        for name, (lo, hi) in cis.items():
            if _finite(lo, hi, values[name]):
                assert lo <= values[name] <= hi, (name, values[name], lo, hi)
