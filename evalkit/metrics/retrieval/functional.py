"""The functional front end of the ranking metrics: score a whole run against qrels.

:func:`score_run` scores one registered family (what ``evalkit.metrics.ndcg`` and its twins
call); :func:`evaluate` and :func:`evaluate_per_query` compute several measures in one pass
over the run, from mappings, :class:`~evalkit.data.retrieval.Qrels` and
:class:`~evalkit.data.retrieval.Run` objects, or files.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from evalkit._validate import check_choice, check_type
from evalkit.data.retrieval import Qrels, Run
from evalkit.errors import ConfigError
from evalkit.metrics.retrieval._engine import (
    Judged,
    NonFiniteScoreError,
    measure_values,
    parse_measure,
    prepare,
    value_name,
)
from evalkit.metrics.retrieval.conventions import POLICIES, TieWarning
from evalkit.types import Score

__all__ = ["evaluate", "evaluate_per_query", "score_run"]


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
    from evalkit.metrics.retrieval.ranking import FAMILIES, RankingMetric

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
        ("missing", missing, POLICIES),
        ("no_relevant", no_relevant, POLICIES),
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
