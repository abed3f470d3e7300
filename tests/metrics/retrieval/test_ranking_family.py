"""Ranking metrics' own behaviour (the generic contract: tests/metrics/test_metric_contract.py).

Rankings are scored by score, not by list position; the signature records the tie and skip
conventions and canonical cutoffs; twins equal the classes; malformed judgments and rankings are
named input errors; skip policies weight queries; property tests check bounds and ideal runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.metrics
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import MeanMetric
from evalkit.metrics.retrieval.ranking import FAMILIES, RankingMetric, TieWarning
from evalkit.registry import METRICS
from evalkit.stats import bootstrap_ci, paired_bootstrap
from evalkit.types import Sample
from tests.metric_examples import QRELS, RANKING_PARAMS, RUN, ranking_samples

NAMES = sorted(RANKING_PARAMS)


def _custom(name: str) -> dict[str, Any]:
    return dict(RANKING_PARAMS[name][0][0])


def _samples(qrels: dict[str, dict[str, int]] = QRELS, run: Any = RUN) -> list[Sample]:
    return ranking_samples(qrels, run)


def _cls(name: str) -> type[RankingMetric]:
    cls = METRICS.get(name)
    assert isinstance(cls, type) and issubclass(cls, RankingMetric)
    return cls


@pytest.fixture(autouse=True)
def _quiet_ties() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TieWarning)
        yield


def test_every_ranking_metric_is_covered() -> None:
    ranking = {
        n for n in METRICS.names() if getattr(METRICS.get(n), "request_kind", "") == "retrieve"
    }
    assert ranking == set(RANKING_PARAMS) == set(FAMILIES), "add its examples to metric_examples"


@pytest.mark.parametrize("name", NAMES)
def test_ranking_metadata(name: str) -> None:
    cls = _cls(name)
    assert cls.higher_is_better is True
    assert cls.requires == frozenset({"ranking", "qrels"}) and cls.request_kind == "retrieve"
    assert issubclass(cls, MeanMetric)
    assert "Definition" in (cls.__doc__ or ""), f"{name}'s docstring lacks its definition"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_the_order_of_ranking_entries_does_not_matter(name: str, params: str) -> None:
    """Documents are sorted by score, so a run file may list them in any order."""
    metric = _cls(name).build(_custom(name) if params == "custom" else {})
    stats = metric.sample_stats(_samples())
    shuffled = {q: list(reversed(r)) for q, r in RUN.items()}
    assert metric.sample_stats(_samples(run=shuffled)) == stats


@pytest.mark.parametrize("name", NAMES)
def test_values_are_fractions(name: str) -> None:
    for params in ({}, _custom(name)):
        metric = _cls(name).build(params)
        values = metric.aggregate(metric.sample_stats(_samples()))
        assert list(metric.primary_values()) == list(metric.value_names())
        assert all(0.0 <= v <= 1.0 for v in values.values()), values


@pytest.mark.parametrize("name", NAMES)
def test_twin_refuses_unknown_parameters(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: unknown parameter 'no_such_param'"):
        getattr(evalkit.metrics, name)(QRELS, {}, no_such_param=1)


@pytest.mark.parametrize("name", NAMES)
def test_signature_records_the_conventions(name: str) -> None:
    cls = _cls(name)
    sig = cls.build(_custom(name)).signature()
    for part in sig.split("|")[1:]:
        assert part.count(":") == 1, part
    for convention in ("ties:score_desc_docid_desc", "missing:", "no_relevant:"):
        assert convention in sig
    if "k" in cls.parameters():  # cutoffs are canonical: order and scalar-vs-list do not matter
        assert cls.build({"k": [10, 5]}).signature() == cls.build({"k": [5, 10]}).signature()
        assert cls.build({"k": 7}).signature() == cls.build({"k": [7]}).signature()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_functional_twin_equals_class(name: str, params: str) -> None:
    kw = _custom(name) if params == "custom" else {}
    want = _cls(name).build(kw).score(_samples())
    got = getattr(evalkit.metrics, name)(QRELS, RUN, **kw)
    assert got == want and got.n == len(QRELS)
    assert got.name == _cls(name).build(kw).value_names()[0]


@pytest.mark.parametrize("name", NAMES)
def test_malformed_samples_are_input_errors(name: str) -> None:
    metric = _cls(name)()
    ok = Sample(id="ok", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a", 1.0]]})
    cases: list[tuple[Sample, str]] = [
        (Sample(id="p", outputs={"ranking": []}), "sample 'p' has no relevance judgments"),
        (Sample(id="r", inputs={"qrels": {"a": 1}}), "sample 'r' has no ranking"),
        (
            Sample(id="d", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a", 1], ["a", 2]]}),
            "document 'a' occurs twice",
        ),
        (
            Sample(id="s", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a", "high"]]}),
            "score of document 'a' must be a number",
        ),
        (
            Sample(id="n", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a", math.nan]]}),
            "must be finite",
        ),
        (
            Sample(id="g", inputs={"qrels": {"a": "2"}}, outputs={"ranking": []}),
            "must be an integer grade",
        ),
        (Sample(id="t", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a"]]}), "pair"),
    ]
    for bad, message in cases:
        with pytest.raises(InputError, match=message):
            metric.sample_stats([ok, bad])


def test_ties_are_warned_per_sample() -> None:
    metric = _cls("ndcg")()
    warned = metric.sample_warnings(_samples())
    assert warned[0] is not None and warned[0].startswith("2 documents share their score")
    assert warned[1] is None and warned[5] is None  # q2: no ties; q6: missing


def test_skip_policies_weight_queries() -> None:
    samples = _samples()
    zero = _cls("recall").build({"k": [None]})
    skip_missing = _cls("recall").build({"k": [None], "missing": "skip"})
    skip_both = _cls("recall").build({"k": [None], "missing": "skip", "no_relevant": "skip"})
    per_query = zero.per_sample_values(zero.sample_stats(samples))["recall"]
    assert per_query == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    assert zero.score(samples).value == pytest.approx(4 / 7)
    assert skip_missing.score(samples).value == pytest.approx(4 / 6)  # q6 left out
    assert skip_both.score(samples).value == pytest.approx(4 / 5)  # and q4 (nothing relevant)
    assert skip_both.per_sample_values(skip_both.sample_stats(samples))["recall"] == per_query
    assert len(skip_both.sample_stats(samples)[0]) == 2  # the value and the weight
    ci = bootstrap_ci(skip_both, skip_both.sample_stats(samples), rng=np.random.default_rng(0))
    assert ci["recall"][0] <= 0.8 <= ci["recall"][1]


@pytest.mark.parametrize("name", NAMES)
def test_paired_test_of_a_run_against_itself(name: str) -> None:
    metric = _cls(name).build(_custom(name))
    stats = metric.sample_stats(_samples())
    result = paired_bootstrap(metric, stats, stats, resamples=200, seed=0)
    for value in metric.primary_values():
        assert result[value]["delta"] == 0.0 and result[value]["p_value"] == 1.0


_PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_GRADES = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(-1, 3), min_size=1, max_size=6)


@pytest.mark.parametrize("name", NAMES)
@_PROPS
@given(
    data=st.lists(
        st.tuples(_GRADES, st.dictionaries(st.sampled_from("abcdefghxyz"), st.floats(-5, 5))),
        min_size=1,
        max_size=5,
    )
)
def test_values_stay_in_bounds(
    name: str, data: list[tuple[dict[str, int], dict[str, float]]]
) -> None:
    qrels = {f"q{i}": g for i, (g, _) in enumerate(data)}
    run = {f"q{i}": r for i, (_, r) in enumerate(data)}
    for params in ({}, _custom(name)):
        score = getattr(evalkit.metrics, name)(qrels, run, **params)
        for key, value in score.details.items():
            assert math.isnan(value) or 0.0 <= value <= 1.0 + 1e-12, (key, value)


@pytest.mark.parametrize("name", NAMES)
@_PROPS
@given(data=st.lists(_GRADES.filter(lambda g: max(g.values()) >= 1), min_size=1, max_size=5))
def test_the_ideal_ranking_scores_one(name: str, data: list[dict[str, int]]) -> None:
    """Judged documents ranked by grade (relevant first) score 1 on every measure but
    precision@k (which is 1 only when k relevant documents exist)."""
    qrels = {f"q{i}": g for i, g in enumerate(data)}
    run = {q: {d: float(g) for d, g in grades.items()} for q, grades in qrels.items()}
    params = {} if name in ("ndcg", "r_precision") else {"k": [None]}
    score = getattr(evalkit.metrics, name)(qrels, run, **params)
    if name == "precision":
        want = np.mean([sum(v >= 1 for v in g.values()) / len(g) for g in data])
        assert score.value == pytest.approx(want)
    else:
        assert score.value == pytest.approx(1.0), score
