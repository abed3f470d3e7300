"""context_relevance: per-passage judge verdicts, majority over repeats, holes left unscored."""

from __future__ import annotations

import json

import pytest

from evalkit.errors import InputError
from evalkit.metrics import context_relevance
from evalkit.metrics.rag.context import context_precision_at
from evalkit.metrics.rag.relevance import ContextRelevance
from evalkit.types import Sample


def _v(x: object) -> str | None:
    return None if x is None else x if isinstance(x, str) else json.dumps({"relevant": x})


def test_repeats_are_a_majority_and_a_hole_leaves_the_sample_unscored() -> None:
    contexts = [["a", "b", "c"], ["d", "e"], []]
    # repeats: 2 per passage, in rank order
    judgments = [
        [_v(True), _v(False), _v(False), _v(False), _v(True), _v(True)],  # 1/2 -> relevant, 0, 1
        [_v(True), "no idea", None, "maybe"],  # e has no parsed verdict
        [],
    ]
    s = context_relevance(contexts, judgments, repeats=2)
    v = s.details
    assert v["context_relevance"] == pytest.approx((2 / 3 + 0.0) / 2)
    assert v["context_precision_llm"] == pytest.approx((context_precision_at([1, 0, 1]) + 0) / 2)
    assert v["relevance_unscored"] == 1
    assert v["relevance_failure_rate"] == pytest.approx(3 / 10)


def test_only_the_top_k_are_judged() -> None:
    m = ContextRelevance(model="python:j:relevant", k=1, template="{context}")
    s = Sample("1", outputs={"contexts": ["first", "second"]})
    assert [r.prompt for r in m.judge_requests(s)] == ["first"]


def test_the_twin_checks_lengths() -> None:
    with pytest.raises(InputError, match="differ in length"):
        context_relevance([["a"]], [])
