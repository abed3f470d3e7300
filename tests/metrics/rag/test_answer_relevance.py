"""answer_relevance: a judge's grade of how directly an answer addresses its question."""

from __future__ import annotations

import pytest

from evalkit.errors import ConfigError, InputError
from evalkit.metrics import answer_relevance
from evalkit.metrics.rag.answer_relevance import AnswerRelevance
from evalkit.types import Sample


def test_grades_are_normalised_to_the_unit_interval() -> None:
    v = answer_relevance(
        ["q1?", "q2?", "q3?"],
        ["a", "b", "c"],
        [['{"relevance": 10}'], ['{"relevance": 0}'], ['{"relevance": 4}']],
        scale="0-10",
    ).details
    assert v["answer_relevance"] == pytest.approx((1.0 + 0.0 + 0.4) / 3)
    v = answer_relevance(
        ["q?", "q?"], ["a", "b"], [['{"relevance": "pass"}'], ['{"relevance": false}']],
        scale="pass_fail",
    ).details  # fmt: skip
    assert v["answer_relevance"] == 0.5


def test_failures_are_counted_never_graded() -> None:
    v = answer_relevance(
        ["q?", "q?"], ["a", "b"], [[None, '{"relevance": 6}'], ['{"relevance": 3}', "3"]],
        repeats=2,
    ).details  # fmt: skip
    # sample 1: a failed call and an out-of-scale grade (unscored); sample 2: 3 -> 0.5
    assert v["answer_relevance"] == 0.5
    assert v["answer_relevance_failure_rate"] == 0.75
    assert v["answer_relevance_unscored"] == 1


def test_the_judge_sees_the_question_field_not_the_prompt() -> None:
    m = AnswerRelevance(model="python:j:grade", question_field="question")
    s = Sample("1", inputs={"question": "Why is the sky blue?"}, prompt="[d1] long passages...",
               prediction="Rayleigh scattering.")  # fmt: skip
    (req,) = m.judge_requests(s)
    assert "Why is the sky blue?" in req.prompt and "long passages" not in req.prompt
    assert "an integer 1-5" in req.prompt and '{"relevance"' in req.prompt
    with pytest.raises(InputError, match="field 'question' is missing"):
        m.judge_requests(Sample("2", prediction="x", where="d.jsonl:3"))


def test_label_scales_are_refused() -> None:
    with pytest.raises(ConfigError, match="answer_relevance: scale must be list of int or str"):
        AnswerRelevance(model="python:j:grade", scale=["A", "B"])
    with pytest.raises(ConfigError, match=r"unknown scale 'A\|B'"):
        AnswerRelevance(model="python:j:grade", scale="A|B")
