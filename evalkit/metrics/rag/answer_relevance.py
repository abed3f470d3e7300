"""``answer_relevance``: whether an answer addresses its question, graded by a judge model.

Faithfulness asks whether the answer is supported by the passages; relevance asks whether it
answers what was asked. An answer can be perfectly grounded and beside the point (it quotes a
retrieved passage about something else), or on topic and evasive. A judge reads the question
(not the task's prompt: in a task with a retriever the prompt holds the passages too) and the
answer, and grades how directly and completely the answer addresses the question on a scale
(1-5 by default). Each verdict is parsed strictly; a failed call or an unparsed or out-of-scale
verdict is a counted failure, never a grade.

The value is normalised to [0, 1] (``(grade - low) / (high - low)``; pass/fail is 1/0) so that
it reads like the other RAG values; the value names carry the metric's name, so a rubric
``judge`` in the same task keeps its own ``score`` and ``judge_failure_rate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.errors import InputError
from evalkit.metrics.judges._base import JudgeMetric, JudgeParams, judgments_of
from evalkit.metrics.judges.verdicts import Scale, VerdictParser, scale_of
from evalkit.types import Sample, Stats

__all__ = ["VALUES", "AnswerRelevance", "question_of"]

#: The values: the headline, then the judge's failures (named apart from other judges').
VALUES = ("answer_relevance", "answer_relevance_failure_rate", "answer_relevance_unscored")

DEFAULT_TEMPLATE = """You judge whether an answer addresses the question it was given. Do not \
judge whether it is true, only whether it answers what was asked.

[Question]
{query}

[Answer]
{prediction}

[End]

Grade the answer's relevance: LOW = it does not address the question at all (off topic, \
evasive or empty), HIGH = it answers exactly what was asked, directly and completely. Reply \
with only a JSON object: {{"relevance": <an integer LOW-HIGH>}}."""

PASS_FAIL_TEMPLATE = """You judge whether an answer addresses the question it was given. Do not \
judge whether it is true, only whether it answers what was asked.

[Question]
{query}

[Answer]
{prediction}

[End]

Answer pass if the answer addresses what was asked, fail if it is off topic, evasive or empty. \
Reply with only a JSON object: {{"relevance": "pass"}} or {{"relevance": "fail"}}."""


def question_of(sample: Sample, field: str | None, metric: str) -> str:
    """The question a judge is shown: the dataset ``field``, else the task's prompt.

    Raises:
        InputError: ``field`` is named and the sample lacks it (naming its file and line).

    Example:
        >>> question_of(Sample("1", inputs={"q": "Why?"}, prompt="ctx... Why?"), "q", "m")
        'Why?'
    """
    if field is None:
        return sample.prompt or ""
    if field not in sample.inputs:
        raise InputError(
            f"{sample.where or 'sample ' + repr(sample.id)}: field '{field}' is missing; "
            f"{metric} shows it to the judge as the question (question_field: {field})."
        )
    return str(sample.inputs[field])


class AnswerRelevance(JudgeMetric):
    """How directly an answer addresses its question, graded by a judge, normalised to [0, 1].

    Values: ``answer_relevance`` (per sample the mean normalised grade of its parsed
    judgments, averaged over samples with at least one), ``answer_relevance_failure_rate``
    (failed judgments / judgments) and ``answer_relevance_unscored`` (samples whose every
    judgment failed: left out of the mean, never a 0).

    Args:
        model: The judge, an adapter spec (``openai:gpt-4o-mini``, ``python:MOD:FN``...).
        model_options: The judge adapter's options.
        template: The judge prompt: ``{query}`` (the question), ``{prediction}``,
            ``{prompt}``, ``{reference}`` and dataset fields; ``{{ }}`` for braces.
        template_file: A file holding the judge prompt, relative to the suite.
        parser: ``json`` or ``regex`` (a named group ``relevance``).
        pattern: The verdict regex with ``parser: regex``.
        repeats: Judgments per answer (their grades are averaged).
        temperature: The judge's temperature.
        max_tokens: The longest verdict asked for.
        seed: The seed of the first repeat.
        length_unit: Unused here (shared by judge metrics).
        scale: The grade's scale: ``[1, 5]`` (default), ``"0-10"``, ``"pass_fail"``.
        question_field: The dataset field holding the question, shown as ``{query}``
            (default: the task's prompt; name the field in a task with a retriever).

    References:
        Es et al. (2024), "RAGAS: Automated Evaluation of Retrieval Augmented Generation"
        (answer relevance as one of the three RAG qualities; ragas scores it by embedding the
        questions an LLM generates back from the answer, evalkit asks the judge directly).

    Example:
        >>> def s(i, *grades):
        ...     js = [{"text": g if g is None or not g[0].isdigit() else f'{{"relevance": {g}}}',
        ...            "error": None} for g in grades]
        ...     return Sample(i, inputs={"q": "Why?"}, prediction="Because.",
        ...                   outputs={"judgments": js})
        >>> m = AnswerRelevance(model="python:j:grade", repeats=2, question_field="q")
        >>> v = m.aggregate(m.sample_stats([s("1", "5", "4"), s("2", "1", "no idea"),
        ...                                 s("3", "7", "maybe")]))
        >>> v["answer_relevance"], v["answer_relevance_failure_rate"]  # (7/8 + 0) / 2, 3/6
        (0.4375, 0.5)
        >>> v["answer_relevance_unscored"]
        1.0
    """

    name = "answer_relevance"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    prompt_fields: ClassVar[tuple[str, ...]] = ("query",)

    class Params(JudgeParams):
        scale: list[int] | str = Field(
            default_factory=lambda: [1, 5],
            description="the grade's scale: [LOW, HIGH], 'LOW-HIGH' or 'pass_fail'",
        )
        question_field: str | None = Field(
            None,
            min_length=1,
            description="the dataset field holding the question, shown as {query} (default: "
            "the task's prompt, which in a task with a retriever holds the passages too)",
        )

    p: Params

    def setup(self) -> None:
        # The declared type (integers or a string) leaves labels out: grades are ordered.
        self.scale = scale_of(self.p.scale, f"{self.name}: scale")
        super().setup()
        self.parser = VerdictParser(
            {"relevance": self.scale},
            parser=self.p.parser,
            pattern=self.p.pattern,
            metric=self.name,
        )
        self.params.pop("pattern", None)
        self.params.pop("length_unit", None)
        self.params["parser"] = self.parser.describe()
        self.params["scale"] = self.scale.describe()

    def default_prompt(self) -> str:
        if self.scale.kind == "pass_fail":
            return PASS_FAIL_TEMPLATE
        return DEFAULT_TEMPLATE.replace("LOW", str(self.scale.low)).replace(
            "HIGH", str(self.scale.high)
        )

    def judge_prompts(self, sample: Sample) -> list[str]:
        query = question_of(sample, self.p.question_field, self.name)
        return [self.prompt.render(sample, query=query)]

    def value_names(self) -> tuple[str, ...]:
        return VALUES

    def primary_values(self) -> tuple[str, ...]:
        return VALUES[:1]

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == VALUES[0]

    def interval_values(self) -> tuple[str, ...]:
        return VALUES[:2]

    def _normalise(self, value: float) -> float:
        s: Scale = self.scale
        if s.kind == "pass_fail":
            return value
        assert s.low is not None and s.high is not None
        return (value - s.low) / (s.high - s.low)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample: ``{"j": [normalised grade | failure kind, ...]}``, one per repeat."""
        out: list[Stats] = []
        for sample in batch:
            reps: list[Any] = []
            for j in judgments_of(sample, self.p.repeats):
                v = self.parser.parse(j)
                grade = None if v.values is None else self._normalise(v.values["relevance"])
                reps.append(v.failure if grade is None else grade)
            out.append({"j": reps})
        return out

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for s in self.sample_stats(batch):
            failed = [v for v in s["j"] if isinstance(v, str)]
            out.append(
                f"{self.name}: {len(failed)} of {len(s['j'])} verdicts failed "
                f"({', '.join(sorted(set(failed)))})"
                if failed
                else None
            )
        return out

    def _table(self, stats: Sequence[Stats]) -> _Table:
        grade, asked, failed = [], [], []
        for s in stats:
            ok = [v for v in s["j"] if not isinstance(v, str)]
            grade.append(sum(ok) / len(ok) if ok else math.nan)
            asked.append(len(s["j"]))
            failed.append(len(s["j"]) - len(ok))
        return _Table(
            np.array(grade, dtype=np.float64),
            np.array(asked, dtype=np.int64),
            np.array(failed, dtype=np.int64),
        )

    def _values(self, t: _Table) -> dict[str, float]:
        ok = ~np.isnan(t.grade)
        asked = int(t.asked.sum())
        return {
            "answer_relevance": float(t.grade[ok].mean()) if ok.any() else math.nan,
            "answer_relevance_failure_rate": int(t.failed.sum()) / asked if asked else math.nan,
            "answer_relevance_unscored": float((~ok).sum()) if len(ok) else math.nan,
        }


@dataclass
class _Table:
    grade: np.ndarray  # (n,): mean normalised grade of the parsed repeats (NaN: unscored)
    asked: np.ndarray  # (n,)
    failed: np.ndarray  # (n,)

    def take(self, idx: np.ndarray) -> _Table:
        return _Table(self.grade[idx], self.asked[idx], self.failed[idx])
