"""context_precision and context_recall: hand computations, trec_eval's measures side by side,
input errors, policies, intervals, and parity with ragas where ragas is installed."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import numpy as np
import pytest

import evalkit.metrics
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.rag.context import (
    ContextPrecision,
    ContextRecall,
    context_precision_at,
    context_precision_set,
    context_recall_at,
)
from evalkit.metrics.retrieval.functional import evaluate
from evalkit.stats import bootstrap_ci
from evalkit.types import Sample

#: One ranking used throughout: d1 (relevant), d2, d3 (relevant), d4; d5 is relevant but was
#: not retrieved.
RANKED = ["d1", "d2", "d3", "d4"]
RELEVANT = ["d1", "d3", "d5"]


def _sample(ids: list[str], relevant: Any, i: int = 0, **extra: Any) -> Sample:
    return Sample(
        id=f"q{i}",
        inputs={"relevant": relevant, **extra},
        prediction="answer",
        outputs={"contexts": [{"id": d, "text": f"text of {d}"} for d in ids]},
        where=f"data.jsonl:{i + 1}",
    )


def test_hand_computation_and_trec_eval_differ_on_one_ranking() -> None:
    s = _sample(RANKED, RELEVANT)
    # ragas Context Precision@4: P@1 * v1 + P@3 * v3 over the 2 relevant retrieved.
    assert ContextPrecision().score([s]).value == pytest.approx((1 / 1 + 2 / 3) / 2, abs=1e-15)
    # ragas IDBasedContextPrecision: 2 relevant of 4 retrieved.
    assert ContextPrecision(form="set").score([s]).value == 0.5
    assert ContextRecall().score([s]).value == pytest.approx(2 / 3, abs=1e-15)
    trec = evaluate(
        {"q": {d: 1 for d in RELEVANT}},
        {"q": {d: float(len(RANKED) - i) for i, d in enumerate(RANKED)}},
        ["precision@4", "precision@10", "map", "recall@4", "recall@2"],
    )
    # trec_eval's AP divides the same sum by all 3 relevant judged passages: (1 + 2/3) / 3.
    assert trec["map"] == pytest.approx((1 + 2 / 3) / 3, abs=1e-15)
    assert trec["map"] < ContextPrecision().score([s]).value
    # P_10 divides by 10 though 4 were retrieved; the set form divides by the 4 retrieved.
    assert trec["precision@10"] == 0.2
    assert trec["precision@4"] == ContextPrecision(form="set").score([s]).value
    # Recall is the same measure in both traditions.
    assert ContextRecall().score([s]).value == trec["recall@4"]
    assert ContextRecall(k=2).score([s]).value == trec["recall@2"] == pytest.approx(1 / 3)


def test_rank_order_matters_only_for_the_ranked_form() -> None:
    early = _sample(["d1", "d3", "d2", "d4"], RELEVANT)
    late = _sample(["d2", "d4", "d1", "d3"], RELEVANT)
    assert ContextPrecision().score([early]).value == 1.0
    assert ContextPrecision().score([late]).value == pytest.approx((1 / 3 + 2 / 4) / 2)
    for metric in (ContextPrecision(form="set"), ContextRecall()):
        assert metric.score([early]).value == metric.score([late]).value


def test_one_relevant_at_rank_one_is_perfect_precision_but_not_ap() -> None:
    s = _sample(["d1", "d7", "d8"], RELEVANT)
    assert ContextPrecision().score([s]).value == 1.0
    trec = evaluate(
        {"q": {d: 1 for d in RELEVANT}}, {"q": {"d1": 3.0, "d7": 2.0, "d8": 1.0}}, ["map"]
    )
    assert trec["map"] == pytest.approx(1 / 3)


def test_functions() -> None:
    assert context_precision_at([0, 0, 0]) == 0.0
    assert context_precision_at([]) == 0.0
    assert context_precision_at([0, 1], k=1) == 0.0
    assert context_precision_at([True, False, True]) == pytest.approx(5 / 6)
    assert context_precision_set([0, 1, 1, 1], k=2) == 0.5
    assert math.isnan(context_recall_at([0, 0], 0))
    with pytest.raises(ValueError, match="k must be"):
        context_precision_at([1], k=0)


def test_k_grades_and_value_names() -> None:
    s = _sample(["d1", "d2", "d3"], {"d1": 1, "d3": 2, "d9": 2})
    assert ContextPrecision(k=2).score([s]).details == {"context_precision@2": 1.0}
    assert ContextRecall(k=2).score([s]).details == {"context_recall@2": pytest.approx(1 / 3)}
    # min_grade 2: d3 (rank 3) and d9 are relevant; d1 is not.
    assert ContextPrecision(min_grade=2).score([s]).value == pytest.approx(1 / 3)
    assert ContextRecall(min_grade=2).score([s]).value == 0.5
    assert "k:all" in ContextPrecision().signature()
    assert "k:2" in ContextPrecision(k=2).signature()


def test_no_relevant_policy() -> None:
    ok = _sample(["d1"], ["d1"], 0)
    none = _sample(["d1"], {"d1": 0}, 1)
    for cls in (ContextPrecision, ContextRecall):
        assert cls().score([ok, none]).value == 0.5  # zero: counted as 0 (trec_eval)
        skip = cls(no_relevant="skip")
        assert skip.score([ok, none]).value == 1.0  # skip: left out (ragas' NaN)
        assert skip.per_sample_values(skip.sample_stats([ok, none])) == {cls.name: [1.0, 0.0]}
        assert math.isnan(skip.score([none]).value)


def test_empty_retrieval_scores_zero() -> None:
    s = _sample([], RELEVANT)
    assert ContextPrecision().score([s]).value == 0.0
    assert ContextPrecision(form="set").score([s]).value == 0.0
    assert ContextRecall().score([s]).value == 0.0


@pytest.mark.parametrize(
    ("sample", "needle"),
    [
        (
            Sample("q", inputs={"relevant": ["d1"]}, outputs={"contexts": ["no id"]}, where="f:3"),
            "f:3: field 'contexts': item 0 has no id, so context_precision cannot match it",
        ),
        (
            Sample("q", inputs={"gold": ["d1"]}, outputs={"contexts": []}, where="f:4"),
            "f:4: field 'relevant' is missing",
        ),
        (
            Sample("q", inputs={"relevant": "d1"}, outputs={"contexts": []}, where="f:5"),
            "f:5: field 'relevant' is str 'd1'; judged passages must be a list",
        ),
        (
            Sample("q", inputs={"relevant": {"d1": "high"}}, outputs={"contexts": []}, where="f:6"),
            "f:6: field 'relevant': the grade of 'd1' is str 'high'",
        ),
        (
            Sample("q", inputs={"relevant": [1]}, outputs={"contexts": []}, where="f:7"),
            "f:7: field 'relevant': item 0 is int 1",
        ),
    ],
)
def test_input_errors_name_the_place_and_fix(sample: Sample, needle: str) -> None:
    with pytest.raises(InputError) as info:
        ContextPrecision().sample_stats([sample])
    assert needle in str(info.value)


def test_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="context_precision: form='mean' is not allowed"):
        ContextPrecision(form="mean")
    with pytest.raises(ConfigError, match="context_recall: k must be >= 1"):
        ContextRecall(k=0)
    with pytest.raises(ConfigError, match="unknown parameter 'form'"):
        ContextRecall(form="set")


def test_twins_equal_the_classes() -> None:
    contexts = [RANKED, [{"id": "d2", "text": "x"}, "d1"], []]
    relevant: list[Any] = [RELEVANT, {"d1": 2}, ["d1"]]
    samples = [
        _sample(RANKED, RELEVANT, 0),
        _sample(["d2", "d1"], {"d1": 2}, 1),
        _sample([], ["d1"], 2),
    ]
    for name, cls in (("context_precision", ContextPrecision), ("context_recall", ContextRecall)):
        twin = getattr(evalkit.metrics, name)(contexts, relevant, k=3)
        assert twin.value == cls(k=3).score(samples).value
        assert twin.signature == cls(k=3).signature()
    with pytest.raises(InputError, match="differ in length"):
        evalkit.metrics.context_recall(contexts, relevant[:2])


def test_bootstrap_interval_brackets_the_mean() -> None:
    rng = random.Random(3)
    samples = []
    for i in range(60):
        ids = rng.sample([f"d{j}" for j in range(10)], 5)
        samples.append(_sample(ids, rng.sample([f"d{j}" for j in range(10)], 3), i))
    metric = ContextPrecision()
    stats = metric.sample_stats(samples)
    value = metric.aggregate(stats)["context_precision"]
    ci = bootstrap_ci(metric, stats, resamples=200, rng=np.random.default_rng(0))
    low, high = ci["context_precision"]
    assert low < value < high


# ----------------------------------------------------------------------------- ragas parity


def _random_cases(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    pool = [f"d{j}" for j in range(12)]
    return [
        (rng.sample(pool, rng.randint(0, 8)), rng.sample(pool, rng.randint(1, 4))) for _ in range(n)
    ]


def _text(doc_id: str) -> str:
    # Passages that share no character: ragas' string similarity is 1 for the same passage and
    # 0 for any other, so its text matching is id matching.
    letters = "abcdefghijkl"
    return letters[int(doc_id[1:])] * 30


def test_parity_with_ragas() -> None:
    """ragas 0.4.3's deterministic context metrics, question by question (200 random cases)."""
    ragas = pytest.importorskip("ragas")
    from ragas import SingleTurnSample
    from ragas.metrics import (
        IDBasedContextPrecision,
        IDBasedContextRecall,
        NonLLMContextPrecisionWithReference,
        NonLLMContextRecall,
    )

    assert ragas.__version__.startswith("0.4")
    ranked, id_precision, id_recall = (
        NonLLMContextPrecisionWithReference(),
        IDBasedContextPrecision(),
        IDBasedContextRecall(),
    )
    text_recall = NonLLMContextRecall()
    for i, (ids, rel) in enumerate(_random_cases(200, seed=11)):
        s = _sample(ids, rel, i)
        by_id = SingleTurnSample(retrieved_context_ids=ids, reference_context_ids=rel)
        by_text = SingleTurnSample(
            retrieved_contexts=[_text(d) for d in ids], reference_contexts=[_text(d) for d in rel]
        )
        # ragas divides by sum(v) + 1e-10: a relative difference of at most 1e-10.
        ours = ContextPrecision().score([s]).value
        assert ours == pytest.approx(
            asyncio.run(ranked.single_turn_ascore(by_text)), rel=1e-9, abs=0
        )
        want = asyncio.run(id_precision.single_turn_ascore(by_id))
        got = ContextPrecision(form="set").score([s]).value
        assert got == (0.0 if not ids else want)  # ragas: NaN for an empty list
        recall = ContextRecall().score([s]).value
        assert recall == asyncio.run(id_recall.single_turn_ascore(by_id))
        if ids:  # ragas' NonLLMContextRecall takes max() over an empty list otherwise
            assert recall == asyncio.run(text_recall.single_turn_ascore(by_text))
