"""The metric contract for the ranking metrics (tests/test_metric_contract.py's checks, over
rankings and relevance judgments instead of texts), plus their own invariants."""

from __future__ import annotations

import inspect
import json
import math
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.metrics
from evalkit import __version__
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import MeanMetric
from evalkit.metrics.retrieval import FAMILIES, RankingMetric, TieWarning
from evalkit.registry import METRICS
from evalkit.stats import bootstrap_ci, paired_bootstrap
from evalkit.types import Sample


@dataclass(frozen=True)
class Case:
    """Valid non-default parameters, and parameter sets that must fail."""

    params: dict[str, Any]
    bad: list[dict[str, Any]] = field(default_factory=list)


_COMMON_BAD: list[dict[str, Any]] = [
    {"missing": "drop"},
    {"no_relevant": "nan"},
    {"missing": None},
]
_K_BAD: list[dict[str, Any]] = [{"k": 0}, {"k": [5, 5]}, {"k": "10"}, {"k": []}, {"k": True}]
_LEVEL_BAD: list[dict[str, Any]] = [{"relevance_level": "2"}, {"relevance_level": 1.5}]

CASES: dict[str, Case] = {
    "precision": Case({"k": [1, 5], "relevance_level": 2}, _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "recall": Case({"k": [3, None], "missing": "skip"}, _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "hit_rate": Case({"k": 1, "no_relevant": "skip"}, _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "mrr": Case({"k": [10], "relevance_level": 2}, _COMMON_BAD + _K_BAD + _LEVEL_BAD),
    "ndcg": Case(
        {"k": [3, 10, None], "gain": "exponential"},
        [*_COMMON_BAD, *_K_BAD, {"gain": "log"}, {"gain": None}, {"relevance_level": 1}],
    ),
    "map": Case({"k": [2], "missing": "skip", "no_relevant": "skip"}, _COMMON_BAD + _K_BAD),
    "r_precision": Case({"relevance_level": 2}, [*_COMMON_BAD, *_LEVEL_BAD, {"k": 10}]),
}
NAMES = sorted(CASES)

# Judgments and rankings with every awkward case: ties across relevant and unjudged documents,
# an empty ranking (q3), a query without relevant documents (q4), a negative grade, a query
# missing from the run (q6), and an unjudged document at the top.
QRELS: dict[str, dict[str, int]] = {
    "q1": {"a": 2, "b": 1, "c": 0},
    "q2": {"d": 1},
    "q3": {"e": 3, "f": -1},
    "q4": {"g": 0},
    "q5": {"h": 1, "i": 2, "j": 1},
    "q6": {"k": 1},
    "q7": {"m": 2, "n": 2},
}
RUN: dict[str, list[list[Any]]] = {
    "q1": [["a", 0.3], ["x", 0.9], ["b", 0.3], ["c", 0.1]],
    "q2": [["y", 1.0], ["d", 0.5]],
    "q3": [],
    "q4": [["g", 1.0]],
    "q5": [["i", 2.0], ["h", 1.0], ["z", 0.5], ["j", 0.25]],
    "q7": [["n", 5], ["w", 4], ["m", 3]],
}


def _samples(qrels: dict[str, dict[str, int]] = QRELS, run: Any = RUN) -> list[Sample]:
    return [
        Sample(
            id=q,
            inputs={"qrels": grades},
            outputs={"ranking": run[q]} if q in run else {"ranking": [], "missing": True},
        )
        for q, grades in qrels.items()
    ]


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
    assert ranking == set(CASES) == set(FAMILIES), "add the new ranking metric to CASES"


@pytest.mark.parametrize("name", NAMES)
def test_class_metadata(name: str) -> None:
    cls = _cls(name)
    assert cls.name == name and cls.higher_is_better is True
    assert cls.requires == frozenset({"ranking", "qrels"}) and cls.request_kind == "retrieve"
    assert issubclass(cls, MeanMetric)
    for pname, p in cls.parameters().items():
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}.{pname} must be keyword-only"
        assert p.default is not inspect.Parameter.empty, f"{name}.{pname} needs a default"
        assert p.annotation is not inspect.Parameter.empty, f"{name}.{pname} needs a type hint"
    doc = inspect.getdoc(cls) or ""
    for part in ("Definition", "References:", "Example:", ">>>"):
        assert part in doc, f"{name}'s docstring lacks {part!r}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_order_invariance(name: str, params: str) -> None:
    metric = _cls(name).build(CASES[name].params if params == "custom" else {})
    samples = _samples()
    stats = metric.sample_stats(samples)
    want = metric.aggregate(stats)
    rng = random.Random(3)
    order = list(range(len(samples)))
    for _ in range(5):
        rng.shuffle(order)
        assert metric.sample_stats([samples[i] for i in order]) == [stats[i] for i in order]
        got = metric.aggregate([stats[i] for i in order])
        assert all(got[k] == pytest.approx(want[k], abs=1e-15) for k in want)
    # The order of a ranking's entries does not matter either: documents are sorted by score.
    shuffled = {q: list(reversed(r)) for q, r in RUN.items()}
    assert metric.sample_stats(_samples(run=shuffled)) == stats


@pytest.mark.parametrize("name", NAMES)
def test_stats_survive_json_and_batching(name: str) -> None:
    metric = _cls(name).build(CASES[name].params)
    samples = _samples()
    stats = metric.sample_stats(samples)
    assert json.loads(json.dumps(stats)) == stats
    assert [st for s in samples for st in metric.sample_stats([s])] == stats
    assert metric.sample_stats([]) == []


@pytest.mark.parametrize("name", NAMES)
def test_value_names_and_per_sample_values(name: str) -> None:
    for params in ({}, CASES[name].params):
        metric = _cls(name).build(params)
        stats = metric.sample_stats(_samples())
        values = metric.aggregate(stats)
        assert list(values) == list(metric.value_names()) == list(metric.primary_values())
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values.values())
        assert all(math.isnan(v) for v in metric.aggregate([]).values())
        per_sample = metric.per_sample_values(stats)
        for i, stat in enumerate(stats):
            single = metric.aggregate([stat])
            for key, vals in per_sample.items():
                # A query left out by a skip policy shows 0 and counts for nothing.
                want = 0.0 if math.isnan(single[key]) else single[key]
                assert vals[i] == pytest.approx(want, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_and_bad_parameters_are_config_errors(name: str) -> None:
    cls = _cls(name)
    with pytest.raises(ConfigError, match=f"^{name}: unknown parameter 'no_such_param'"):
        cls.build({"no_such_param": 1})
    with pytest.raises(ConfigError, match="unknown parameter"):
        getattr(evalkit.metrics, name)(QRELS, {}, no_such_param=1)
    for bad in CASES[name].bad:
        with pytest.raises(ConfigError) as info:
            cls.build(bad)
        message = str(info.value)
        assert message.startswith(f"{name}: ") and any(key in message for key in bad), message
    defaults = {k: p.default for k, p in cls.parameters().items()}
    assert cls.build(defaults).signature() == cls().signature()


@pytest.mark.parametrize("name", NAMES)
def test_signature(name: str) -> None:
    cls = _cls(name)
    sig = cls.build(CASES[name].params).signature()
    assert sig == cls.build(dict(CASES[name].params)).signature()
    assert sig.startswith(f"{name}|") and f"|evalkit:{__version__}" in sig and " " not in sig
    for part in sig.split("|")[1:]:
        assert part.count(":") == 1, part
    for convention in ("ties:score_desc_docid_desc", "missing:", "no_relevant:"):
        assert convention in sig
    assert sig != cls().signature()
    if "k" in cls.parameters():  # cutoffs are canonical: order and scalar-vs-list do not matter
        assert cls.build({"k": [10, 5]}).signature() == cls.build({"k": [5, 10]}).signature()
        assert cls.build({"k": 7}).signature() == cls.build({"k": [7]}).signature()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_functional_twin_equals_class(name: str, params: str) -> None:
    kw = CASES[name].params if params == "custom" else {}
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
    metric = _cls(name).build(CASES[name].params)
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
    for params in ({}, CASES[name].params):
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
