"""Ranking metrics with trec_eval's numbers: Recall@K, Precision@K, hit rate, MRR, nDCG, MAP,
R-precision.

Each family is one registered metric with a list of cutoffs ``k`` (``ndcg: {k: [5, 10]}``
reports ``ndcg@5`` and ``ndcg@10``; ``null`` in the list means the whole ranking and reports
``ndcg``). Per-query values are the per-sample statistics, so bootstrap intervals and paired
comparisons of two retrievers work like every other metric; the corpus value is their mean.

Conventions, decided once (recorded in every signature; trec_eval's unless said otherwise):

- **Order.** Documents are ranked by score, descending; equal scores are ordered by doc id,
  descending (trec_eval sorts ``(score, docno)`` in decreasing order and ignores the rank
  column of a run file). Rankings with ties get a per-sample warning, because another tool's
  tie-breaking gives other numbers.
- **Relevance.** Grades are integers; binary measures count ``grade >= relevance_level``
  (trec_eval ``-l``, default 1) as relevant. nDCG uses the grades as gains (``gain: linear``,
  trec_eval's; ``gain: exponential`` for ``2**grade - 1``) whatever the level, and grades
  <= 0 add nothing.
- **Missing queries.** A judged query that the run lacks counts as zero (``missing: zero``,
  trec_eval ``-c``), or is left out of the mean (``missing: skip``, trec_eval's default). An
  empty ranking is not missing: it scores zero either way (as pytrec_eval does).
- **No relevant documents.** A judged query without a relevant document (nDCG: without a
  positive grade) scores zero and counts in the mean (``no_relevant: zero``, trec_eval's), or is
  left out (``no_relevant: skip``).
- **Unknown queries.** Run queries absent from the qrels are an error naming the file and line
  (trec_eval skips them silently); the functions take ``unknown_queries="ignore"``.

References:
    trec_eval 9.0.7 (NIST, https://github.com/usnistgov/trec_eval): ``P``, ``recall``,
    ``success``, ``recip_rank``, ``ndcg_cut``, ``map_cut``, ``Rprec``; Järvelin and Kekäläinen
    (2002), "Cumulated gain-based evaluation of IR techniques"; Burges et al. (2005) for the
    exponential gain; pytrec_eval (Van Gysel and de Rijke, 2018) for the parity tests.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, cast, get_args

import numpy as np
from pydantic import Field, field_validator

from evalkit._validate import check_choice, check_type
from evalkit.data.retrieval import Qrels, Run, parse_grades, parse_ranking
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import MeanMetric
from evalkit.metrics.params import MetricParams
from evalkit.metrics.retrieval._engine import (
    Judged,
    NonFiniteScoreError,
    measure_values,
    parse_measure,
    prepare,
    value_name,
)
from evalkit.types import Sample, Score, Stats

__all__ = [
    "MAP",
    "MRR",
    "NDCG",
    "HitRate",
    "Precision",
    "RPrecision",
    "RankingMetric",
    "RankingParams",
    "Recall",
    "TieWarning",
    "evaluate",
    "evaluate_per_query",
    "score_run",
]

#: The tie-breaking rule, as recorded in signatures.
TIES = "score_desc_docid_desc"
#: A cutoff, or a list of cutoffs (``None``: the whole ranking), as users give them.
Cutoffs = int | None | Sequence[int | None]
#: What to do with a judged query absent from the run, or one without relevant documents.
Policy = Literal["zero", "skip"]
_POLICIES = get_args(Policy)
_K_HELP = "one cutoff or a list of them; null: the whole ranking"
_MISSING_HELP = "judged queries absent from the run: zero (trec_eval -c) or skip"
_NO_RELEVANT_HELP = "queries without relevant documents: zero (trec_eval) or skip"


class _PolicyParams(MetricParams):
    """The query policies every ranking metric has (listed last)."""

    missing: Policy = Field("zero", description=_MISSING_HELP)
    no_relevant: Policy = Field("zero", description=_NO_RELEVANT_HELP)


class _LevelParams(MetricParams):
    """The relevance level of the binary measures."""

    relevance_level: int = Field(1, description="grades >= this are relevant (trec_eval -l)")


class _GainParams(MetricParams):
    """nDCG's gain function (it takes grades, not a relevance level)."""

    gain: Literal["linear", "exponential"] = Field(
        "linear", description="gain of a grade: linear (trec_eval) or exponential (2**g - 1)"
    )


class _CutoffParams(MetricParams):
    """The cutoffs ``k``, canonical once validated: a list, ascending, ``None`` last.

    ``k: 10``, ``k: [10]`` and ``k: [10, 5]`` reach the signature as ``[10]`` and ``[5, 10]``.
    """

    k: Cutoffs = Field(10, validate_default=True, description=_K_HELP)

    @field_validator("k")
    @classmethod
    def _canonical(cls, k: Cutoffs) -> list[int | None]:
        values = [k] if k is None or isinstance(k, int) else list(k)
        if not values:
            raise ValueError("the list is empty; give a cutoff such as 10, a list, or null")
        for v in values:
            if v is not None and v < 1:
                raise ValueError(f"{v} is not a cutoff; cutoffs are >= 1 (or null)")
        if len(set(values)) != len(values):
            raise ValueError(f"{values} lists a cutoff twice; list each once")
        return sorted(values, key=lambda v: (v is None, v or 0))


# pydantic lists the fields of the last base first: k, relevance_level, missing, no_relevant.
class RankingParams(_PolicyParams, _LevelParams, _CutoffParams):
    """The parameters of precision, recall, hit rate, MRR and MAP (nDCG has ``gain`` instead
    of ``relevance_level``; R-precision has no ``k``)."""


class TieWarning(UserWarning):
    """Judged documents share their score with other documents; the order of equal scores
    (doc id, descending, as trec_eval does) decides their ranks."""


class RankingMetric(MeanMetric):
    """Base of the ranking metrics: per-query values of one measure at one or more cutoffs.

    A sample is one query: its judgments come from ``inputs["qrels"]`` (``{doc_id: grade}``,
    mapped with ``dataset: {qrels: FIELD}`` in a suite) and its ranking from
    ``outputs["ranking"]`` (``[[doc_id, score], ...]``, what ``retrieve`` requests return;
    ``outputs["missing"] = True`` marks a query the run does not have).

    The statistic of a query is its value at each cutoff; with a ``skip`` policy, the values
    are multiplied by a weight (0 for a left-out query, else 1) that is appended, and corpus
    values divide by the summed weights. Per-sample values of left-out queries show as 0.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"ranking", "qrels"})
    request_kind: ClassVar[str] = "retrieve"
    #: The measure family (``ndcg``...).
    measure: ClassVar[str]

    Params = RankingParams

    @property
    def cutoffs(self) -> list[int | None]:
        """The cutoffs, ascending, ``None`` (the whole ranking) last."""
        cutoffs: list[int | None] = self.params.get("k", [None])
        return cutoffs

    @property
    def weighted(self) -> bool:
        """Whether some queries may be left out (a ``skip`` policy): stats carry a weight."""
        return "skip" in (self.params["missing"], self.params["no_relevant"])

    def value_names(self) -> tuple[str, ...]:
        return tuple(value_name(self.measure, k) for k in self.cutoffs)

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        if "k" in fields:
            fields["k"] = ",".join("full" if k is None else str(k) for k in fields["k"])
        return {**fields, "ties": TIES}

    # -- statistics ---------------------------------------------------------------------

    def query_stats(
        self,
        qrels: Sequence[Mapping[str, int]],
        runs: Sequence[Mapping[str, float] | None],
    ) -> np.ndarray:
        """The statistic rows of a batch of queries, shape ``(Q, len(cutoffs) [+ 1])``."""
        return self.judged_stats(prepare(qrels, runs))

    def judged_stats(self, judged: Judged) -> np.ndarray:
        """The statistic rows from prepared queries (see :func:`_ranking.prepare`)."""
        level = self.params.get("relevance_level", 1)
        gain = self.params.get("gain", "linear")
        cols = []
        has_rel = np.ones(judged.n_queries, bool)
        for k in self.cutoffs:
            values, has_rel = measure_values(
                judged, self.measure, k, relevance_level=level, gain=gain
            )
            cols.append(values)
        rows = np.column_stack(cols)
        if not self.weighted:
            return rows
        weight = np.ones(judged.n_queries)
        if self.params["missing"] == "skip":
            weight *= judged.present
        if self.params["no_relevant"] == "skip":
            weight *= has_rel
        return np.column_stack([rows * weight[:, None], weight])

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        if not batch:
            return []
        qrels = [sample_qrels(self.name, s) for s in batch]
        runs = [sample_ranking(self.name, s) for s in batch]
        rows: list[Stats] = self.query_stats(qrels, runs).tolist()
        return rows

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        if not self.weighted:
            return super().from_totals(totals, n)
        m = len(self.cutoffs)
        weight = totals[:, m]
        with np.errstate(divide="ignore", invalid="ignore"):
            means = totals[:, :m] / weight[:, None]
        return {name: means[:, i] for i, name in enumerate(self.value_names())}

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        if not self.weighted:
            return super().per_sample_values(stats)
        arr = np.asarray(stats, dtype=np.float64).reshape(len(stats), len(self.cutoffs) + 1)
        return {name: arr[:, i].tolist() for i, name in enumerate(self.value_names())}

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for s in batch:
            ranking = s.outputs.get("ranking")
            scores = (
                [e[1] for e in ranking if isinstance(e, list | tuple) and len(e) == 2]
                if isinstance(ranking, list)
                else list(ranking.values())
                if isinstance(ranking, Mapping)
                else []
            )
            tied = sum(c for c in Counter(scores).values() if c > 1)
            out.append(
                f"{tied} documents share their score with another; equal scores are ordered "
                "by doc id, descending (trec_eval's rule)"
                if tied
                else None
            )
        return out


def sample_qrels(metric: str, sample: Sample) -> dict[str, int]:
    """The judgments of a sample (``inputs["qrels"]``), checked."""
    value = sample.inputs.get("qrels")
    if value is None:
        raise InputError(
            f"{metric}: sample '{sample.id}' has no relevance judgments (inputs['qrels']); map "
            "them in the suite with `dataset: {qrels: FIELD}`."
        )
    return parse_grades(value, f"{metric}: sample '{sample.id}'")


def sample_ranking(metric: str, sample: Sample) -> dict[str, float] | None:
    """The ranking of a sample (``outputs["ranking"]``), or None when the run lacks it."""
    if sample.outputs.get("missing"):
        return None
    if "ranking" not in sample.outputs:
        raise InputError(
            f"{metric}: sample '{sample.id}' has no ranking (outputs['ranking']); score it with "
            "a model that serves retrieve requests (dense:, bm25:, trec_run:PATH)."
        )
    return parse_ranking(sample.outputs["ranking"], f"{metric}: sample '{sample.id}'")


# ------------------------------------------------------------------------------ the families


class Precision(RankingMetric):
    """Precision@k: the fraction of the top ``k`` documents that are relevant.

    Definition: ``|relevant in top k| / k`` (divided by ``k`` even when fewer documents were
    retrieved); without a cutoff, ``|relevant retrieved| / |retrieved|`` (trec_eval
    ``set_P``).

    Args:
        k: One cutoff, a list of cutoffs, or null (the whole ranking) in the list.
        relevance_level: Grades >= this are relevant (trec_eval ``-l``).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without relevant documents.

    References:
        trec_eval's ``P_k`` and ``set_P`` measures.

    Example:
        >>> from evalkit.metrics.retrieval.ranking import score_run
        >>> score_run("precision", {"q": {"a": 1, "b": 1}}, {"q": {"a": .9, "c": .8}}, k=[1, 2]
        ...           ).details
        {'precision@1': 1.0, 'precision@2': 0.5}
    """

    name: ClassVar[str] = "precision"
    measure: ClassVar[str] = "precision"


class Recall(RankingMetric):
    """Recall@k: the fraction of a query's relevant documents found in the top ``k``.

    Definition: ``|relevant in top k| / |relevant|`` (0 for a query without relevant
    documents); without a cutoff, over the whole ranking (trec_eval ``set_recall``).

    Args:
        k: One cutoff, a list of cutoffs, or null (the whole ranking) in the list.
        relevance_level: Grades >= this are relevant (trec_eval ``-l``).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without relevant documents.

    References:
        trec_eval's ``recall_k`` and ``set_recall`` measures.

    Example:
        >>> score_run("recall", {"q": {"a": 1, "b": 2}}, {"q": {"a": .9, "c": .8}}, k=1).value
        0.5
    """

    name: ClassVar[str] = "recall"
    measure: ClassVar[str] = "recall"


class HitRate(RankingMetric):
    """Hit rate@k (success@k): whether any relevant document is in the top ``k``.

    Definition: ``1 if |relevant in top k| > 0 else 0``, averaged over queries.

    Args:
        k: One cutoff, a list of cutoffs, or null (the whole ranking) in the list.
        relevance_level: Grades >= this are relevant (trec_eval ``-l``).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without relevant documents.

    References:
        trec_eval's ``success_k`` measure.

    Example:
        >>> score_run("hit_rate", {"q": {"b": 1}}, {"q": {"a": .9, "b": .8}}, k=[1, 2]).details
        {'hit_rate@1': 0.0, 'hit_rate@2': 1.0}
    """

    name: ClassVar[str] = "hit_rate"
    measure: ClassVar[str] = "hit_rate"


class MRR(RankingMetric):
    """Mean reciprocal rank: ``1 / rank`` of the first relevant document (0 if none).

    Definition: with a cutoff ``k``, a first relevant document below rank ``k`` counts as none
    (``mrr@10``: MS MARCO's measure).

    Args:
        k: One cutoff, a list of cutoffs, or null (the whole ranking) in the list.
        relevance_level: Grades >= this are relevant (trec_eval ``-l``).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without relevant documents.

    References:
        Voorhees (1999), "The TREC-8 question answering track report"; trec_eval's
        ``recip_rank``.

    Example:
        >>> score_run("mrr", {"q": {"b": 1}}, {"q": {"a": .9, "b": .8}}, k=[1, None]).details
        {'mrr@1': 0.0, 'mrr': 0.5}
    """

    name: ClassVar[str] = "mrr"
    measure: ClassVar[str] = "mrr"

    class Params(RankingParams):
        """MRR's parameters: by default over the whole ranking (trec_eval's ``recip_rank``)."""

        k: Cutoffs = Field(None, validate_default=True, description=_K_HELP)


class NDCG(RankingMetric):
    """Normalised discounted cumulative gain at ``k``, over graded relevance.

    Definition: ``DCG@k = sum_{i<=k} gain(rel_i) / log2(i + 1)`` over the ranking and
    ``nDCG@k = DCG@k / IDCG@k``, IDCG being the DCG of the judged documents sorted by grade.
    ``gain`` is the grade (``linear``, trec_eval's) or ``2**grade - 1`` (``exponential``);
    grades <= 0 add nothing. nDCG ignores any relevance level, as trec_eval does.

    Args:
        k: One cutoff, a list of cutoffs, or null (the whole ranking) in the list.
        gain: ``linear`` (trec_eval ``ndcg_cut``) or ``exponential`` (Burges et al.).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without a positive grade.

    References:
        Järvelin and Kekäläinen (2002), "Cumulated gain-based evaluation of IR techniques";
        Burges et al. (2005), "Learning to rank using gradient descent"; trec_eval's ``ndcg``
        and ``ndcg_cut``.

    Example:
        >>> qrels, run = {"q": {"a": 1, "b": 2}}, {"q": {"a": .9, "b": .8}}
        >>> round(score_run("ndcg", qrels, run, k=2).value, 4)  # (1 + 2/log2 3) / (2 + 1/log2 3)
        0.8597
        >>> round(score_run("ndcg", qrels, run, k=2, gain="exponential").value, 4)
        0.7967
    """

    name: ClassVar[str] = "ndcg"
    measure: ClassVar[str] = "ndcg"

    # k, gain, missing, no_relevant (pydantic lists the fields of the last base first).
    class Params(_PolicyParams, _GainParams, _CutoffParams):
        """nDCG's parameters: grades are gains, so no relevance level (as trec_eval)."""


class MAP(RankingMetric):
    """Mean average precision (at ``k``).

    Definition: ``AP@k = sum_{i<=k, rel_i} P@i / |relevant|``: the precision at each relevant
    document, summed and divided by the number of relevant documents (not by
    ``min(k, |relevant|)``: trec_eval's ``map_cut``).

    Args:
        k: One cutoff, a list of cutoffs, or null (the whole ranking) in the list.
        relevance_level: Grades >= this are relevant (trec_eval ``-l``).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without relevant documents.

    References:
        Buckley and Voorhees (2000), "Evaluating evaluation measure stability"; trec_eval's
        ``map`` and ``map_cut``.

    Example:
        >>> round(score_run("map", {"q": {"a": 1, "b": 1}}, {"q": {"a": .9, "c": .8, "b": .7}}
        ...                 ).value, 4)  # (1/1 + 2/3) / 2
        0.8333
    """

    name: ClassVar[str] = "map"
    measure: ClassVar[str] = "map"

    class Params(RankingParams):
        """MAP's parameters: by default over the whole ranking (trec_eval's ``map``)."""

        k: Cutoffs = Field(None, validate_default=True, description=_K_HELP)


class RPrecision(RankingMetric):
    """R-precision: precision at rank ``R``, the number of relevant documents of the query.

    Definition: ``|relevant in top R| / R`` (0 when ``R = 0``).

    Args:
        relevance_level: Grades >= this are relevant (trec_eval ``-l``).
        missing: ``zero`` (trec_eval ``-c``) or ``skip`` for judged queries absent from the run.
        no_relevant: ``zero`` (trec_eval) or ``skip`` for queries without relevant documents.

    References:
        trec_eval's ``Rprec``.

    Example:
        >>> score_run("r_precision", {"q": {"a": 1, "b": 1}}, {"q": {"a": .9, "c": .8}}).value
        0.5
    """

    name: ClassVar[str] = "r_precision"
    measure: ClassVar[str] = "r_precision"

    class Params(_PolicyParams, _LevelParams):
        """R-precision's parameters: its cutoff is each query's number of relevant documents."""


#: Registry name -> class (the registry's builtin table points here too).
FAMILIES: dict[str, type[RankingMetric]] = {
    cls.name: cls for cls in (Precision, Recall, HitRate, MRR, NDCG, MAP, RPrecision)
}


# ------------------------------------------------------------------------- functional front end


def _aligned(
    qrels: Any, run: Any, unknown_queries: str
) -> tuple[list[str], list[dict[str, int]], list[dict[str, float] | None], Judged]:
    """Judged query ids (qrels order), their judgments and rankings, and the prepared ranks."""
    check_choice("retrieval", "unknown_queries", unknown_queries, ("error", "ignore"))
    qrels, run = Qrels.coerce(qrels), Run.coerce(run)
    if unknown_queries == "error":
        run.check_queries(qrels)
    ids = list(qrels)
    q_list, runs = [qrels[q] for q in ids], [run.get(q) for q in ids]
    try:
        judged = prepare(q_list, runs)
    except NonFiniteScoreError:
        run.check_scores()
        raise
    _warn_ties(judged.tied)
    return ids, q_list, runs, judged


def _warn_ties(tied: np.ndarray) -> None:
    if tied.any():
        warnings.warn(
            f"{int(tied.sum())} judged documents in {int((tied > 0).sum())} queries share "
            "their score with another document; equal scores are ordered by doc id, "
            "descending (trec_eval's rule). Other tools may order them differently.",
            TieWarning,
            stacklevel=3,
        )


def score_run(
    metric: str,
    qrels: Qrels | Mapping[str, Any] | str | Path,
    run: Run | Mapping[str, Any] | str | Path,
    *,
    unknown_queries: str = "error",
    **params: Any,
) -> Score:
    """Score a run against qrels with one ranking metric (what the functional twins call).

    Args:
        metric: A family name: ``precision``, ``recall``, ``hit_rate``, ``mrr``, ``ndcg``,
            ``map``, ``r_precision``.
        qrels: A :class:`~evalkit.data.retrieval.Qrels`, a ``{query: {doc: grade}}`` mapping or
            a TREC/JSONL/JSON file.
        run: A :class:`~evalkit.data.retrieval.Run`, a ``{query: {doc: score}}`` mapping (or
            ``{query: [[doc, score], ...]}``) or a TREC/JSONL/JSON file.
        unknown_queries: ``error`` (default) or ``ignore`` run queries absent from the qrels.
        **params: The metric's parameters (``k``, ``relevance_level``...).

    Returns:
        The first value as ``value``, all values in ``details``, ``n`` = judged queries.

    Example:
        >>> score_run("ndcg", {"q1": {"d1": 2}, "q2": {"d9": 1}}, {"q1": {"d1": 0.3}}, k=[5]
        ...           ).details  # q2 is missing from the run: it counts as 0
        {'ndcg@5': 0.5}
    """
    if metric not in FAMILIES:
        raise ConfigError(
            f"unknown ranking metric {metric!r}; choose one of {', '.join(FAMILIES)}."
        )
    m = cast(RankingMetric, FAMILIES[metric].build(params))
    ids, _, _, judged = _aligned(qrels, run, unknown_queries)
    values = m.aggregate(m.judged_stats(judged).tolist())
    head = m.value_names()[0]
    return Score(name=head, value=values[head], signature=m.signature(), n=len(ids), details=values)


def evaluate_per_query(
    qrels: Qrels | Mapping[str, Any] | str | Path,
    run: Run | Mapping[str, Any] | str | Path,
    measures: Sequence[str],
    *,
    relevance_level: int = 1,
    gain: str = "linear",
    missing: str = "zero",
    no_relevant: str = "zero",
    unknown_queries: str = "error",
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-query values of several measures in one pass over the run.

    Returns:
        ``(query_ids, values, weights)``: the judged query ids in qrels order, and for each
        measure name an array of per-query values and one of weights (1 counted, 0 left out by
        a ``skip`` policy).

    Example:
        >>> ids, values, _ = evaluate_per_query({"q1": {"a": 1}, "q2": {"b": 1}},
        ...                                     {"q1": {"a": 1.0}, "q2": {"x": 1.0}}, ["mrr"])
        >>> ids, values["mrr"].tolist()
        (['q1', 'q2'], [1.0, 0.0])
    """
    for name, value, choices in (
        ("gain", gain, ("linear", "exponential")),
        ("missing", missing, _POLICIES),
        ("no_relevant", no_relevant, _POLICIES),
    ):
        check_choice("retrieval", name, value, choices)
    check_type("retrieval", "relevance_level", relevance_level, int)
    try:
        parsed = [parse_measure(m) for m in measures]
    except ValueError as exc:
        raise ConfigError(f"retrieval: {exc}") from None
    ids, _, _, judged = _aligned(qrels, run, unknown_queries)
    values: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    for measure, k in parsed:
        v, has_rel = measure_values(judged, measure, k, relevance_level=relevance_level, gain=gain)
        w = np.ones(len(ids))
        if missing == "skip":
            w *= judged.present
        if no_relevant == "skip":
            w *= has_rel
        key = value_name(measure, k)
        values[key], weights[key] = v, w
    return ids, values, weights


def evaluate(
    qrels: Qrels | Mapping[str, Any] | str | Path,
    run: Run | Mapping[str, Any] | str | Path,
    measures: Sequence[str],
    **options: Any,
) -> dict[str, float]:
    """Corpus values (weighted means over judged queries) of several measures at once.

    Takes the options of :func:`evaluate_per_query`. A measure whose every query is left out
    is NaN.

    Example:
        >>> qrels = {"q1": {"d1": 2, "d2": 1}, "q2": {"d3": 1}}
        >>> run = {"q1": {"d1": 0.9, "d4": 0.8, "d2": 0.7}, "q2": {"d5": 1.0, "d3": 0.5}}
        >>> {k: round(v, 4) for k, v in evaluate(qrels, run, ["ndcg@10", "mrr", "map"]).items()}
        {'ndcg@10': 0.7906, 'mrr': 0.75, 'map': 0.6667}
    """
    _, values, weights = evaluate_per_query(qrels, run, measures, **options)
    out = {}
    for key, v in values.items():
        w = weights[key]
        total = float(w.sum())
        out[key] = float(np.dot(v, w) / total) if total > 0 else float("nan")
    return out
