"""``context_relevance``: the retrieved passages judged relevant or not by a judge model.

For datasets without passage judgments: a judge reads the question (the task's prompt and the
dataset's fields) and one retrieved passage at a time, and answers whether the passage helps to
answer it, ``{"relevant": true}`` or ``false`` (``"pass"``/``"fail"`` too). The verdicts take
the place of the judged ids of ``context_precision``: the same ragas formula
(:func:`~evalkit.metrics.rag.context.context_precision_at`) over the judge's verdicts is ragas'
``LLMContextPrecisionWithoutReference`` when the judge sees the question only, and the share of
relevant passages is the set form. A passage's verdict is the majority of its parsed repeats
(at least half relevant); a passage without any parsed verdict leaves its sample unscored (a
rank-weighted precision with a hole in it would be a guess), counted in ``unscored``, and each
failed judgment in ``judge_failure_rate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.metrics.judges._base import JudgeMetric, JudgeParams, judgments_of
from evalkit.metrics.judges.verdicts import Scale, VerdictParser
from evalkit.metrics.rag._contexts import Passage, sample_contexts
from evalkit.metrics.rag.answer_relevance import question_of
from evalkit.metrics.rag.context import context_precision_at, context_precision_set
from evalkit.types import Sample, Stats

__all__ = ["ContextRelevance"]

#: The values: the share of relevant passages (the headline), the rank-weighted precision, and
#: the judge's failures (named apart from a rubric judge's in the same task).
VALUES = (
    "context_relevance",
    "context_precision_llm",
    "relevance_failure_rate",
    "relevance_unscored",
)

DEFAULT_TEMPLATE = """You judge whether a retrieved passage helps to answer a question.

[Question]
{query}

[Passage]
{context}

[End]

Answer true if the passage holds information that helps to answer the question, false if it \
does not. Reply with only a JSON object: {{"relevant": true}} or {{"relevant": false}}."""


class ContextRelevance(JudgeMetric):
    """Relevance of the retrieved passages by a judge: rank-weighted and as a share.

    Values: ``context_relevance`` (relevant passages / passages judged, per sample; the
    headline), ``context_precision_llm`` (ragas' Context Precision@K over the judge's
    verdicts), ``relevance_failure_rate`` (failed judgments / judgments) and
    ``relevance_unscored`` (samples with a passage left without a verdict). A sample with no
    retrieved passage scores 0 on both, as ``context_precision`` scores it.

    Args:
        model: The judge, an adapter spec (``openai:gpt-4o-mini``, ``python:MOD:FN``...).
        model_options: The judge adapter's options.
        template: The judge prompt: ``{context}`` (the passage's text), ``{passage_id}``,
            ``{query}`` (the question), ``{prompt}``, ``{prediction}``, ``{reference}`` and
            dataset fields.
        template_file: A file holding the judge prompt, relative to the suite.
        parser: ``json`` or ``regex`` (a named group ``relevant``).
        pattern: The verdict regex with ``parser: regex``.
        repeats: Judgments per passage (majority of the parsed ones).
        temperature: The judge's temperature.
        max_tokens: The longest verdict asked for.
        seed: The seed of the first repeat.
        length_unit: Unused here (shared by judge metrics).
        contexts_field: Where the passages are (``outputs``, else a dataset field).
        k: Judge only the top ``k`` passages (default: all retrieved).
        question_field: The dataset field holding the question, shown as ``{query}``
            (default: the task's prompt; name the field in a task with a retriever, whose
            prompt holds the passages too).

    References:
        Es et al. (2024), "RAGAS: Automated Evaluation of Retrieval Augmented Generation"
        (context precision/relevance by an LLM); ragas 0.4 ``LLMContextPrecisionWithoutReference``.

    Example:
        >>> def s(i, verdicts):
        ...     js = [{"text": f'{{"relevant": {v}}}', "error": None} for v in verdicts]
        ...     ctx = [f"passage {j}" for j in range(len(verdicts))]
        ...     return Sample(i, prompt="q?", outputs={"contexts": ctx, "judgments": js})
        >>> m = ContextRelevance(model="python:j:relevant")
        >>> v = m.aggregate(m.sample_stats([s("1", ["true", "false", "true"]), s("2", ["false"])]))
        >>> round(v["context_precision_llm"], 4), round(v["context_relevance"], 4)  # (5/6 + 0)/2
        (0.4167, 0.3333)
    """

    name = "context_relevance"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    default_template = DEFAULT_TEMPLATE
    prompt_fields: ClassVar[tuple[str, ...]] = ("context", "passage_id", "query")

    class Params(JudgeParams):
        contexts_field: str = Field(
            "contexts", min_length=1, description="where the passages are logged"
        )
        k: int | None = Field(None, ge=1, description="judge only the top k passages")
        question_field: str | None = Field(
            None,
            min_length=1,
            description="the dataset field holding the question, shown as {query} (default: "
            "the task's prompt, which in a task with a retriever holds the passages too)",
        )

    p: Params

    def setup(self) -> None:
        super().setup()
        self.parser = VerdictParser(
            {"relevant": Scale("pass_fail")},
            parser=self.p.parser,
            pattern=self.p.pattern,
            metric=self.name,
        )
        self.params.pop("pattern", None)
        self.params.pop("length_unit", None)
        self.params["parser"] = self.parser.describe()

    def _passages(self, sample: Sample) -> list[Passage]:
        found = sample_contexts(sample, field=self.p.contexts_field)
        return found if self.p.k is None else found[: self.p.k]

    def judge_prompts(self, sample: Sample) -> list[str]:
        query = question_of(sample, self.p.question_field, self.name)
        return [
            self.prompt.render(sample, context=c.text, passage_id=c.id or "", query=query)
            for c in self._passages(sample)
        ]

    def value_names(self) -> tuple[str, ...]:
        return VALUES

    def primary_values(self) -> tuple[str, ...]:
        return VALUES[:2]

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name in VALUES[:2]

    def interval_values(self) -> tuple[str, ...]:
        return VALUES[:3]

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample, per passage in rank order: the repeats' verdicts (1/0) or failure kinds."""
        out: list[Stats] = []
        reps = self.p.repeats
        for sample in batch:
            n = len(self._passages(sample))
            answers = judgments_of(sample, n * reps)
            rows: list[list[Any]] = []
            for i in range(n):
                row: list[Any] = []
                for j in answers[i * reps : (i + 1) * reps]:
                    v = self.parser.parse(j)
                    row.append(v.failure if v.values is None else v.values["relevant"])
                rows.append(row)
            out.append({"v": rows})
        return out

    def _table(self, stats: Sequence[Stats]) -> _Table:
        precision, share = [], []
        asked, failed = [], []
        for s in stats:
            verdicts: list[int] | None = []
            a = f = 0
            for row in s["v"]:
                ok = [v for v in row if not isinstance(v, str)]
                a += len(row)
                f += len(row) - len(ok)
                if not ok:
                    verdicts = None
                elif verdicts is not None:
                    verdicts.append(int(sum(ok) / len(ok) >= 0.5))
            asked.append(a)
            failed.append(f)
            if verdicts is None:
                precision.append(math.nan)
                share.append(math.nan)
            else:
                precision.append(context_precision_at(verdicts))
                share.append(context_precision_set(verdicts))
        return _Table(
            np.array(precision, dtype=np.float64),
            np.array(share, dtype=np.float64),
            np.array(asked, dtype=np.int64),
            np.array(failed, dtype=np.int64),
        )

    def _values(self, t: _Table) -> dict[str, float]:
        ok = ~np.isnan(t.precision)
        nan = math.nan
        asked = int(t.asked.sum())
        return {
            "context_relevance": float(t.share[ok].mean()) if ok.any() else nan,
            "context_precision_llm": float(t.precision[ok].mean()) if ok.any() else nan,
            "relevance_failure_rate": int(t.failed.sum()) / asked if asked else nan,
            "relevance_unscored": float((~ok).sum()) if len(ok) else nan,
        }

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for s in self.sample_stats(batch):
            failed = sum(isinstance(v, str) for row in s["v"] for v in row)
            asked = sum(len(row) for row in s["v"])
            out.append(f"{self.name}: {failed} of {asked} verdicts failed" if failed else None)
        return out


@dataclass
class _Table:
    precision: np.ndarray  # (n,): Context Precision@K of the sample (NaN: unscored)
    share: np.ndarray  # (n,): relevant / judged (NaN: unscored)
    asked: np.ndarray  # (n,)
    failed: np.ndarray  # (n,)

    def take(self, idx: np.ndarray) -> _Table:
        return _Table(self.precision[idx], self.share[idx], self.asked[idx], self.failed[idx])
