"""``context_precision`` and ``context_recall``: the retrieved contexts against judged passages.

The deterministic forms of ragas' context metrics, for datasets whose questions carry
reference judgments: the ids of the passages that answer them (a dataset field, ``relevant``
by default: a list of ids, or an object ``id -> grade`` with a ``min_grade`` threshold, as
trec_eval's relevance level). The retrieved passages are what the pipeline logged
(``outputs["contexts"]``, read by :func:`~evalkit.metrics.rag._contexts.sample_contexts`);
each must carry an id to be matched to the judgments. ``v_i`` is 1 when the passage at rank
``i`` is relevant, ``K`` the number of passages scored (``k``, or all retrieved), ``R`` the
number of relevant judged passages:

- ``context_precision`` (ragas "Context Precision@K"):
  ``sum_{i<=K} P@i * v_i / sum_{i<=K} v_i``, ``P@i`` the share of relevant passages in the
  top ``i``: the mean of ``P@i`` over the ranks of the relevant retrieved passages; 0 when
  none is relevant. ``form: set`` gives ragas' ``IDBasedContextPrecision`` instead: relevant
  retrieved / retrieved, no rank weighting.
- ``context_recall`` (ragas ``IDBasedContextRecall``; ``NonLLMContextRecall`` when passages
  match by id): ``sum_{i<=K} v_i / R``.

How they differ from trec_eval's measures (evalkit's ranking metrics, same judgments):

============================  =======================  ==================  ===================
measure                       numerator                denominator         rank-weighted
============================  =======================  ==================  ===================
``context_precision``         ``sum P@i * v_i``        relevant in top K   yes
``context_precision`` (set)   relevant in top K        retrieved in top K  no
``precision@k`` (trec P_k)    relevant in top k        ``k`` (always)      no
``map`` (trec AP)             ``sum P@i * v_i``        ``R`` (all judged)  yes
``context_recall``            relevant in top K        ``R``               no
``recall@k`` (trec recall_k)  relevant in top k        ``R``               no
============================  =======================  ==================  ===================

So ``context_precision`` is trec's average precision normalised by the relevant passages that
were retrieved rather than by all judged ones: a retriever that finds one of three relevant
passages, at rank 1, scores 1.0 (AP: 0.333). ``P_k`` divides by ``k`` even when fewer passages
were retrieved; the set form divides by what was retrieved. ``context_recall`` equals trec's
``recall_k`` on the same judgments.

Edge cases (ragas 0.4.3, ``ragas/metrics/_context_precision.py`` and ``_context_recall.py``):

- No relevant passage retrieved, or nothing retrieved: ``context_precision`` is 0 (ragas
  divides by ``sum v_i + 1e-10``; evalkit divides exactly, so where ragas returns
  ``1 / (1 + 1e-10)`` evalkit returns 1.0). ragas' ``IDBasedContextPrecision`` returns NaN for
  an empty list; the set form here scores it 0, as trec_eval scores an empty ranking.
- No relevant judged passage: ragas' recall is NaN (left out of its mean). evalkit follows its
  ranking metrics: ``no_relevant: zero`` (trec_eval's, the default) scores 0 and counts the
  question; ``no_relevant: skip`` leaves it out of the mean, as ragas does.

References:
    Es et al. (2024), "RAGAS: Automated Evaluation of Retrieval Augmented Generation", EACL
    demo; ragas documentation, "Context Precision" and "Context Recall"
    (docs.ragas.io/en/stable/concepts/metrics/available_metrics/); trec_eval 9.0.7 ``P``,
    ``recall``, ``map``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, cast

import numpy as np
from pydantic import Field

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import VectorMetric
from evalkit.metrics.params import MetricParams
from evalkit.metrics.rag._contexts import sample_contexts
from evalkit.types import Sample, Score, Stats

__all__ = [
    "ContextMetric",
    "ContextPrecision",
    "ContextRecall",
    "context_precision_at",
    "context_precision_set",
    "context_recall_at",
    "judged_passages",
    "score_contexts",
]


def _top(ranked_relevance: Sequence[bool | int], k: int | None) -> list[int]:
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")
    return [1 if v else 0 for v in (ranked_relevance if k is None else ranked_relevance[:k])]


def context_precision_at(ranked_relevance: Sequence[bool | int], k: int | None = None) -> float:
    """ragas' Context Precision@K of one ranked list of relevance verdicts.

    ``sum_{i<=K} P@i * v_i / sum_{i<=K} v_i``: the mean precision at the ranks of the relevant
    passages among the top ``K``; 0 when none is relevant or the list is empty.

    Args:
        ranked_relevance: ``v_i`` for ranks 1, 2, ...: whether each retrieved passage is
            relevant.
        k: Score only the top ``k`` (``None``: the whole list).

    Example:
        >>> context_precision_at([1, 0, 1, 0])  # (1/1 + 2/3) / 2
        0.8333333333333333
        >>> context_precision_at([0, 1, 1], k=2)
        0.5
        >>> context_precision_at([])
        0.0
    """
    verdicts = _top(ranked_relevance, k)
    hits = 0
    total = 0.0
    for i, v in enumerate(verdicts, start=1):
        if v:
            hits += 1
            total += hits / i
    return total / hits if hits else 0.0


def context_precision_set(ranked_relevance: Sequence[bool | int], k: int | None = None) -> float:
    """ragas' ``IDBasedContextPrecision``: relevant retrieved over retrieved, in the top ``k``.

    Example:
        >>> context_precision_set([1, 0, 1, 0])
        0.5
        >>> context_precision_set([1, 0, 1, 0], k=1)
        1.0
        >>> context_precision_set([])  # ragas: NaN; here 0, as trec_eval scores no ranking
        0.0
    """
    verdicts = _top(ranked_relevance, k)
    return sum(verdicts) / len(verdicts) if verdicts else 0.0


def context_recall_at(
    ranked_relevance: Sequence[bool | int], n_relevant: int, k: int | None = None
) -> float:
    """Relevant passages in the top ``k`` over all ``n_relevant`` judged relevant ones.

    Args:
        ranked_relevance: Whether each retrieved passage is relevant, in rank order (each
            relevant passage at most once).
        n_relevant: How many judged passages are relevant (``R``).
        k: Score only the top ``k`` (``None``: the whole list).

    Returns:
        The recall; NaN when ``n_relevant`` is 0 (the metric's ``no_relevant`` policy decides).

    Example:
        >>> context_recall_at([1, 0, 1, 0], n_relevant=3)
        0.6666666666666666
        >>> context_recall_at([1, 0, 1, 0], n_relevant=3, k=2)
        0.3333333333333333
    """
    hits = sum(_top(ranked_relevance, k))
    if hits > n_relevant:
        raise ValueError(f"{hits} relevant passages retrieved but n_relevant is {n_relevant}")
    return hits / n_relevant if n_relevant else math.nan


def _where(sample: Sample) -> str:
    return sample.where or f"sample '{sample.id}'"


_RELEVANT_FIX = (
    'a list of passage ids (["doc3", "doc7"]) or an object of grades ({"doc3": 2, "doc7": 1})'
)


def judged_passages(sample: Sample, field: str, min_grade: float) -> set[str]:
    """The ids of the passages judged relevant for ``sample`` (grade ``>= min_grade``).

    Args:
        sample: The sample; its judgments are the dataset field ``field``.
        field: A list of relevant ids, or an object ``id -> grade`` (numbers).
        min_grade: The lowest grade that counts as relevant (a listed id has grade 1).

    Raises:
        InputError: The field is missing or has another shape; the message names the file and
            line, the field and the fix.

    Example:
        >>> sorted(judged_passages(Sample("q", inputs={"rel": {"d1": 2, "d2": 0}}), "rel", 1))
        ['d1']
    """
    where = _where(sample)
    if field not in sample.inputs:
        raise InputError(
            f"{where}: field '{field}' is missing; the context metrics read the judged passages "
            f"from the dataset field '{field}' ({_RELEVANT_FIX}). Fields here: "
            f"{', '.join(sorted(sample.inputs)) or 'none'}; set relevant_field to another one."
        )
    value = sample.inputs[field]
    if isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise InputError(
                    f"{where}: field '{field}': item {i} is {type(item).__name__} {item!r:.40}; "
                    f"judged passages must be {_RELEVANT_FIX}."
                )
        return set(value) if min_grade <= 1 else set()
    if isinstance(value, Mapping):
        out = set()
        for key, grade in value.items():
            if isinstance(grade, bool) or not isinstance(grade, (int, float)):
                raise InputError(
                    f"{where}: field '{field}': the grade of '{key}' is "
                    f"{type(grade).__name__} {grade!r:.40}; grades must be numbers "
                    f"({_RELEVANT_FIX})."
                )
            if grade >= min_grade:
                out.add(str(key))
        return out
    raise InputError(
        f"{where}: field '{field}' is {type(value).__name__} {value!r:.40}; judged passages "
        f"must be {_RELEVANT_FIX}."
    )


class ContextMetric(VectorMetric):
    """Base of the context metrics: one value per question from its ranked relevance verdicts.

    The statistic of a sample is ``[value]``; with ``no_relevant: skip`` it is
    ``[value * w, w]``, ``w`` 0 for a question without a relevant judged passage, and the
    corpus value divides by the summed weights (a left-out question's own value shows as 0).
    """

    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    #: The value's base name (``context_precision``...).
    measure: ClassVar[str]

    class Params(MetricParams):
        k: int | None = Field(
            None, ge=1, description="score the top k retrieved passages; null: all of them"
        )
        contexts_field: str = Field(
            "contexts", min_length=1, description="model outputs (or dataset) key of the passages"
        )
        relevant_field: str = Field(
            "relevant",
            min_length=1,
            description="dataset field of the judged passages: a list of ids or {id: grade}",
        )
        min_grade: float = Field(
            1.0, description="grades >= this are relevant (trec_eval -l); a listed id has 1"
        )
        no_relevant: Literal["zero", "skip"] = Field(
            "zero", description="questions without a relevant judged passage: zero or skip"
        )

    p: Params

    def value_names(self) -> tuple[str, ...]:
        k = self.p.k
        return (self.measure if k is None else f"{self.measure}@{k}",)

    @property
    def weighted(self) -> bool:
        """Whether questions without relevant passages are left out (stats carry a weight)."""
        return bool(self.p.no_relevant == "skip")

    @abstractmethod
    def value(self, verdicts: list[int], n_relevant: int) -> float:
        """The sample's value from its verdicts (rank order) and its number of relevant ids."""

    def sample_value(self, sample: Sample) -> tuple[float, bool]:
        """``(value, has_relevant)`` of one sample, its inputs checked."""
        relevant = judged_passages(sample, self.p.relevant_field, self.p.min_grade)
        passages = sample_contexts(sample, field=self.p.contexts_field)
        for p in passages:
            if p.id is None:
                raise InputError(
                    f"{_where(sample)}: field '{self.p.contexts_field}': item {p.rank - 1} has "
                    f"no id, so {self.name} cannot match it to the judged passages in "
                    f'\'{self.p.relevant_field}\'; log passages as {{"id", "text"}} objects.'
                )
        verdicts = [1 if p.id in relevant else 0 for p in passages]
        if not relevant:
            return 0.0, False
        return self.value(verdicts, len(relevant)), True

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        out: list[Stats] = []
        for sample in batch:
            value, has_relevant = self.sample_value(sample)
            if self.weighted:
                w = 1.0 if has_relevant else 0.0
                out.append([value * w, w])
            else:
                out.append([value])
        return out

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        name = self.value_names()[0]
        if not self.weighted:
            return {name: totals[:, 0] / np.maximum(n, 1)}
        with np.errstate(divide="ignore", invalid="ignore"):
            return {name: totals[:, 0] / totals[:, 1]}

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        name = self.value_names()[0]
        return {name: [float(s[0]) for s in stats]}

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        fields["k"] = "all" if fields["k"] is None else fields["k"]
        return fields


class ContextPrecision(ContextMetric):
    """ragas' Context Precision@K over judged passage ids (see the module docstring).

    ``form: ranked`` (default): ``sum_{i<=K} P@i * v_i / sum_{i<=K} v_i``, 0 when no relevant
    passage is retrieved. ``form: set``: relevant retrieved / retrieved in the top K (ragas'
    ``IDBasedContextPrecision``).

    Args:
        k: Score the top ``k`` retrieved passages (``None``: all); the value is then named
            ``context_precision@k``.
        contexts_field: The key of the retrieved passages in the model outputs (or dataset).
        relevant_field: The dataset field of the judged passages: ids or ``{id: grade}``.
        min_grade: Grades ``>=`` this are relevant (a listed id has grade 1).
        no_relevant: ``zero`` or ``skip`` for questions without a relevant judged passage.
        form: ``ranked`` (ragas' Context Precision@K) or ``set`` (``IDBasedContextPrecision``).

    References:
        ragas 0.4.3 ``LLMContextPrecisionWithReference._calculate_average_precision`` and
        ``IDBasedContextPrecision`` (``ragas/metrics/_context_precision.py``); the ragas
        documentation's "Context Precision" formula.

    Example:
        >>> s = Sample("q1", inputs={"relevant": ["d1", "d3", "d5"]}, prediction="...",
        ...            outputs={"contexts": [{"id": d, "text": "..."} for d in
        ...                                  ("d1", "d2", "d3", "d4")]})
        >>> round(ContextPrecision().score([s]).value, 4)  # (1/1 + 2/3) / 2
        0.8333
        >>> ContextPrecision(form="set").score([s]).value
        0.5
        >>> ContextPrecision(k=2).score([s]).details
        {'context_precision@2': 1.0}
    """

    name: ClassVar[str] = "context_precision"
    measure: ClassVar[str] = "context_precision"

    class Params(ContextMetric.Params):
        form: Literal["ranked", "set"] = Field(
            "ranked",
            description="ranked: ragas' rank-weighted Context Precision; set: IDBased (no ranks)",
        )

    p: Params

    def value(self, verdicts: list[int], n_relevant: int) -> float:
        if self.p.form == "set":
            return context_precision_set(verdicts, self.p.k)
        return context_precision_at(verdicts, self.p.k)


class ContextRecall(ContextMetric):
    """ragas' ``IDBasedContextRecall``: judged relevant passages retrieved in the top K over all.

    ``sum_{i<=K} v_i / R``; equal to trec_eval's ``recall_k`` (evalkit's ``recall@k``) on the
    same judgments.

    Args:
        k: Score the top ``k`` retrieved passages (``None``: all); the value is then named
            ``context_recall@k``.
        contexts_field: The key of the retrieved passages in the model outputs (or dataset).
        relevant_field: The dataset field of the judged passages: ids or ``{id: grade}``.
        min_grade: Grades ``>=`` this are relevant (a listed id has grade 1).
        no_relevant: ``zero`` (trec_eval) or ``skip`` (ragas' NaN, left out of the mean) for
            questions without a relevant judged passage.

    References:
        ragas 0.4.3 ``IDBasedContextRecall`` and ``NonLLMContextRecall``
        (``ragas/metrics/_context_recall.py``); trec_eval 9.0.7 ``recall``.

    Example:
        >>> s = Sample("q1", inputs={"relevant": {"d1": 2, "d3": 1, "d5": 1}}, prediction="...",
        ...            outputs={"contexts": [{"id": d, "text": "..."} for d in
        ...                                  ("d1", "d2", "d3", "d4")]})
        >>> round(ContextRecall().score([s]).value, 4)
        0.6667
        >>> ContextRecall(min_grade=2).score([s]).value
        1.0
    """

    name: ClassVar[str] = "context_recall"
    measure: ClassVar[str] = "context_recall"

    def value(self, verdicts: list[int], n_relevant: int) -> float:
        return context_recall_at(verdicts, n_relevant, self.p.k)


def score_contexts(
    metric: str,
    contexts: Sequence[Sequence[str | Mapping[str, Any]]],
    relevant: Sequence[Sequence[str] | Mapping[str, float]],
    **params: Any,
) -> Score:
    """Score retrieved contexts against judged passages with ``context_precision``/``_recall``.

    Args:
        metric: ``context_precision`` or ``context_recall``.
        contexts: Per question, the retrieved passages in rank order: ids, or passage objects
            ``{"id", "text"}``.
        relevant: Per question, the judged passages: a list of relevant ids or ``{id: grade}``.
        **params: The metric's parameters (``k``, ``min_grade``, ``no_relevant``...).

    Example:
        >>> score_contexts("context_precision", [["d1", "d2", "d3"]], [["d1", "d3"]]).value
        0.8333333333333333
    """
    if len(contexts) != len(relevant):
        raise InputError(
            f"{metric}: contexts and relevant differ in length ({len(contexts)} vs "
            f"{len(relevant)}); give one list of passages and one judgment per question."
        )
    classes: dict[str, type[ContextMetric]] = {
        "context_precision": ContextPrecision,
        "context_recall": ContextRecall,
    }
    if metric not in classes:
        raise ConfigError(
            f"score_contexts: unknown metric '{metric}'; choose context_precision or "
            "context_recall."
        )
    metric_obj = cast(ContextMetric, classes[metric].build(params))
    cf, rf = metric_obj.p.contexts_field, metric_obj.p.relevant_field
    samples = [
        Sample(
            id=str(i),
            inputs={rf: rel if isinstance(rel, Mapping) else list(rel)},
            prediction="",
            outputs={cf: [{"id": c, "text": ""} if isinstance(c, str) else dict(c) for c in ctx]},
            where=f"{metric}: question {i}",
        )
        for i, (ctx, rel) in enumerate(zip(contexts, relevant, strict=True))
    ]
    return metric_obj.score(samples)
