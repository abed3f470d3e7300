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

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.metrics.base import MeanMetric
from evalkit.metrics.retrieval._engine import Judged, measure_values, prepare, value_name
from evalkit.metrics.retrieval._inputs import batch_warnings, prepared_batch
from evalkit.metrics.retrieval.conventions import (
    K_HELP,
    TIES,
    CutoffParams,
    Cutoffs,
    GainParams,
    LevelParams,
    PolicyParams,
    RankingParams,
    TieWarning,
)
from evalkit.metrics.retrieval.functional import evaluate, evaluate_per_query, score_run
from evalkit.types import Sample, Stats

__all__ = [
    "FAMILIES",
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
        rows: list[Stats] = self.judged_stats(prepared_batch(self.name, batch, self)).tolist()
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
        return batch_warnings(self.name, batch, self)


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

        k: Cutoffs = Field(None, validate_default=True, description=K_HELP)


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
    class Params(PolicyParams, GainParams, CutoffParams):
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

        k: Cutoffs = Field(None, validate_default=True, description=K_HELP)


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

    class Params(PolicyParams, LevelParams):
        """R-precision's parameters: its cutoff is each query's number of relevant documents."""


#: Registry name -> class (the registry's builtin table points here too).
FAMILIES: dict[str, type[RankingMetric]] = {
    cls.name: cls for cls in (Precision, Recall, HitRate, MRR, NDCG, MAP, RPrecision)
}
