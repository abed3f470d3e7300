"""The vectorised bootstrap paths (``resample_block``, ``resample_means``) equal ``aggregate``.

Each metric's resampled values from counts must be what ``aggregate`` gives on the drawn list of
statistics (to floating-point rounding), NaN exactly where it is NaN; p-values, which have no
interval, are NaN in resamples. The chunked permutation tests must draw the very patterns of
one unchunked draw, so full-sample p-values are unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from evalkit.metrics.base import Metric
from evalkit.metrics.bias import _stats
from evalkit.metrics.classification.calibration import Calibration
from evalkit.registry import METRICS
from evalkit.stats import _Resampler, bootstrap_ci, counts_from_indices, paired_bootstrap

RNG = np.random.default_rng(20240611)


def _assert_block_equals_aggregate(metric: Metric, stats: Sequence[Any], b: int = 150) -> None:
    idx = RNG.integers(0, len(stats), size=(b, len(stats)))
    res = _Resampler(metric, stats)
    assert res.additive
    got = res.values(idx, counts_from_indices(idx))
    for name in metric.value_names():
        if name not in metric.interval_values():
            continue  # a p-value (NaN in resamples), a set-level corpus value (aggregated)
        want = np.array([metric.aggregate([stats[i] for i in row])[name] for row in idx])
        np.testing.assert_array_equal(np.isnan(got[name]), np.isnan(want), err_msg=name)
        np.testing.assert_allclose(got[name], want, rtol=1e-12, atol=1e-12, err_msg=name)


def _labels(n: int) -> list[list[str]]:
    labs = ["a", "b", "c", "d"]
    truth = RNG.choice(labs, size=n, p=[0.5, 0.3, 0.15, 0.05])
    pred = RNG.choice([*labs, "zz"], size=n, p=[0.4, 0.3, 0.1, 0.1, 0.1])
    return [[str(t), str(p)] for t, p in zip(truth, pred, strict=True)]


@pytest.mark.parametrize(
    ("average", "zero_division", "labels"),
    list(itertools.product(["macro", "micro", "weighted"], [0.0, 1.0], [None, ["b", "a", "q"]])),
)
def test_f1_block(average: str, zero_division: float, labels: list[str] | None) -> None:
    params: dict[str, Any] = {"average": average, "zero_division": zero_division}
    if labels:
        params["labels"] = labels
    _assert_block_equals_aggregate(METRICS.get("f1").build(params), _labels(25))


def test_accuracy_means() -> None:
    _assert_block_equals_aggregate(METRICS.get("accuracy").build({}), _labels(30))


@pytest.mark.parametrize(
    ("norm", "edge"),
    list(itertools.product(["l1", "l2", "max"], ["upper", "lower", "torchmetrics"])),
)
def test_calibration_block(norm: str, edge: str) -> None:
    metric = METRICS.get("calibration").build({"norm": norm, "edge": edge, "n_bins": 5})
    conf = np.round(RNG.random(40), 1)
    conf[:3] = 1.0  # torchmetrics' bin of its own
    stats = [[float(c), float(RNG.random() < c)] for c in conf]
    _assert_block_equals_aggregate(metric, stats)


def test_calibration_equal_mass_resamples_as_drawn() -> None:
    metric = METRICS.get("calibration").build({"binning": "equal_mass"})
    assert isinstance(metric, Calibration)
    assert metric.resample_block([[0.5, 1.0]]) is None


def test_group_fairness_block() -> None:
    metric = METRICS.get("group_fairness").build({})
    groups = RNG.choice(["a", "b", "c"], size=14, p=[0.6, 0.3, 0.1])
    stats = [[str(g), int(RNG.random() < 0.5), int(RNG.random() < 0.4)] for g in groups]
    _assert_block_equals_aggregate(metric, stats)


@pytest.mark.parametrize("name", ["counterfactual_gap", "counterfactual_ll_gap"])
def test_paired_probe_block(name: str) -> None:
    metric = METRICS.get(name).build({})
    stats = [
        [float(RNG.integers(3)), float(RNG.integers(3)), float(RNG.integers(2))] for _ in range(30)
    ]
    _assert_block_equals_aggregate(metric, stats)


def _weat_stats(n_distinct: int = 4) -> list[dict[str, Any]]:
    sets = ["X"] * 7 + ["Y"] * 6 + ["A"] * 5 + ["B"] * 4
    shared = RNG.normal(size=(n_distinct, 5))
    return [
        {"set": s, "embedding": (shared[i % n_distinct] if i % 3 else RNG.normal(size=5)).tolist()}
        for i, s in enumerate(sets)
    ]


def test_weat_block() -> None:
    # Repeated rows (merged before resampling) and resamples missing a set (NaN) included.
    _assert_block_equals_aggregate(METRICS.get("weat").build({}), _weat_stats(), b=300)


def test_bootstrap_of_p_value_probes_is_deterministic_and_skips_p_values() -> None:
    metric = METRICS.get("counterfactual_gap").build({})
    a = [[float(RNG.integers(2)), float(RNG.integers(2)), 0.0] for _ in range(60)]
    b = [[float(RNG.integers(2)), 0.0, 1.0] for _ in range(60)]
    ci = [bootstrap_ci(metric, a, resamples=200, rng=np.random.default_rng(3)) for _ in range(2)]
    assert repr(ci[0]) == repr(ci[1])  # NaN bounds included
    assert np.isnan(ci[0]["cf_p_value"]).all() and ci[0]["cf_gap"][0] <= ci[0]["cf_gap"][1]
    r = paired_bootstrap(metric, a, b, resamples=200, seed=1)
    assert r["cf_p_value"]["interval_note"] == "no finite resample"
    assert r["cf_p_value"]["value_a"] == metric.aggregate(a)["cf_p_value"]
    for name in metric.primary_values():
        assert r[name]["resamples"] == 200 and 0 < r[name]["p_value"] <= 1


@pytest.mark.parametrize("m", [17, 301, 1003])
def test_chunked_sign_flip_draws_the_patterns_of_one_draw(m: int) -> None:
    d = RNG.normal(size=m) * 0.1 + 0.01
    samples = 700  # more than two chunks, the last one partial
    rng = np.random.default_rng(5)
    signs = np.where(rng.integers(0, 2, size=(samples, m), dtype=np.int8) == 1, -1.0, 1.0)
    # The same patterns; the products differ from one big product only by BLAS rounding.
    got = _stats._random_sign_sums(d, samples, 5)
    np.testing.assert_allclose(got, np.abs(signs @ d), rtol=1e-13, atol=1e-13)
    observed = abs(float(d.sum()))
    extreme = int(np.count_nonzero(np.abs(signs @ d) >= observed - 1e-12 * max(1.0, observed)))
    p = _stats.sign_flip_p_value(d.tolist(), samples=samples, seed=5)
    assert p == (1 + extreme) / (samples + 1)


def test_chunked_weat_permutations_draw_the_partitions_of_one_draw() -> None:
    x, y, a, b = (RNG.normal(size=(40, 6)) for _ in range(4))
    _, p = _stats.weat_statistics(x, y, a, b, permutations=600, exact_limit=1)
    targets = np.concatenate([x, y])
    assoc = _stats._cosine(targets, a).mean(1) - _stats._cosine(targets, b).mean(1)
    keys = np.random.default_rng(0).random((600, 80))
    in_x = assoc[np.argsort(keys, axis=1)[:, :40]].sum(axis=1)
    observed = float(assoc[:40].sum() - assoc[40:].sum())
    count = int(
        np.count_nonzero(2 * in_x - assoc.sum() >= observed - 1e-12 * max(1, abs(observed)))
    )
    assert p == (1 + count) / 601


def test_mean_cosine_of_large_sets_equals_the_cosine_matrix_mean() -> None:
    t, a = RNG.normal(size=(2100, 8)), RNG.normal(size=(2000, 8))  # over _MATRIX_LIMIT pairs
    assert len(t) * len(a) > _stats._MATRIX_LIMIT
    np.testing.assert_allclose(
        _stats._mean_cosine(t, a), _stats._cosine(t, a).mean(axis=1), rtol=0, atol=1e-14
    )


def _outputs(n: int, k: int = 3) -> list[list[str]]:
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]
    return [
        [" ".join(RNG.choice(words, size=int(RNG.integers(0, 6)))) for _ in range(k)]
        for _ in range(n)
    ]


@pytest.mark.parametrize("name", ["distinct_n", "ngram_entropy"])
@pytest.mark.parametrize("n", [1, [1, 2, 3]])
def test_ngram_diversity_block(name: str, n: int | list[int]) -> None:
    from evalkit.types import Sample

    metric = METRICS.get(name).build({"n": n})
    outputs = _outputs(30)
    outputs[0] = ["", "", ""]  # a prompt without an n-gram: left out of the per-prompt mean
    samples = [
        Sample(id=str(i), prediction=o[0], outputs={"samples": o}) for i, o in enumerate(outputs)
    ]
    stats = metric.sample_stats(samples)
    assert any(not (s["total"] if isinstance(n, int) else s["1"]["total"]) for s in stats)
    _assert_block_equals_aggregate(metric, stats)


def test_embedding_diversity_block_and_closed_form() -> None:
    metric = METRICS.get("embedding_diversity").build({})
    emb = RNG.normal(size=(25, 3, 8))
    emb[0, 1] = 0.0  # a zero vector: distance 1 to everything
    stats: list[dict[str, Any]] = [
        {"id": str(i), "embeddings": e[: int(RNG.integers(0, 4))].tolist()}
        for i, e in enumerate(emb)
    ]
    stats[0]["embeddings"] = emb[0].tolist()
    _assert_block_equals_aggregate(metric, stats)
    # The closed form equals the pairwise definition (1 - cos over pairs of distinct rows).
    rows = np.concatenate([np.asarray(s["embeddings"]).reshape(-1, 8) for s in stats])
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    iu = np.triu_indices(len(rows), 1)
    want = float(np.mean(1.0 - (unit @ unit.T)[iu]))
    assert metric.aggregate(stats)["embedding_diversity"] == pytest.approx(want, rel=1e-12)


def test_self_bleu_per_prompt_block() -> None:
    metric = METRICS.get("self_bleu").build({})
    stats = [{"id": str(i), "outputs": o} for i, o in enumerate(_outputs(20))]
    _assert_block_equals_aggregate(metric, stats, b=40)
    assert metric.interval_values() == ("self_bleu_per_prompt",)


def test_corpus_self_bleu_resamples_sit_below_the_value() -> None:
    """Why corpus self-BLEU has no interval: a resample holds fewer distinct references, so
    every resampled value is below the full-sample value (a percentile interval misses it)."""
    from evalkit.metrics.diversity.self_bleu import SelfBLEU

    rng = np.random.default_rng(1)
    words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "dog",
        "ran",
        "over",
        "red",
        "hills",
        "near",
        "blue",
        "water",
    ]
    stats = [
        {"id": str(i), "outputs": [" ".join(rng.choice(words, size=8)) for _ in range(2)]}
        for i in range(150)
    ]
    metric = SelfBLEU()
    full = metric.aggregate(stats)["self_bleu"]
    drawn = [rng.integers(0, len(stats), len(stats)) for _ in range(20)]
    resampled = [metric.aggregate([stats[i] for i in idx])["self_bleu"] for idx in drawn]
    assert max(resampled) < full


@pytest.mark.parametrize("copies", [0, 40])
@pytest.mark.parametrize("name", ["distinct_n", "ngram_entropy"])
@pytest.mark.parametrize("n", [1, [1, 2, 3]])
def test_corpus_ngram_values_of_resamples_equal_aggregating_them(
    name: str, n: Any, copies: int
) -> None:
    """The set-level corpus values (no run-level interval; the paired tests use them) come from
    the counts too: distinct n-grams and entropy of each resample's merged counts."""
    import random

    from evalkit.types import Sample

    rnd = random.Random(3)
    words = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"]

    def output() -> str:
        return " ".join(rnd.choice(words[: rnd.randint(2, 16)]) for _ in range(rnd.randint(0, 8)))

    samples = [
        Sample(id=str(i), prediction="x", outputs={"samples": [output() for _ in range(3)]})
        for i in range(150)
    ]
    # Samples with the same outputs as others (merged before the shared n-grams are summed).
    samples += [
        Sample(id=f"copy{i}", prediction="x", outputs=s.outputs)
        for i, s in enumerate(samples[:copies])
    ]
    metric = METRICS.get(name).build({"n": n})
    stats = metric.sample_stats(samples)
    idx = RNG.integers(0, len(stats), size=(40, len(stats)))
    idx[0] = 5  # one sample drawn every time
    res = _Resampler(metric, stats)
    corpus = [k for k in metric.value_names() if k not in metric.interval_values()]
    got = res.values(idx, counts_from_indices(idx), corpus)
    assert set(got) == set(corpus)
    for k in corpus:
        want = np.array([metric.aggregate([stats[i] for i in row])[k] for row in idx])
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want), err_msg=k)
        np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-12, err_msg=k)
    # Run-level intervals ask for the per-prompt values only: no corpus counts are built.
    only = res.values(idx, counts_from_indices(idx), list(metric.interval_values()))
    assert set(only) == set(metric.interval_values())
