"""The judgments and rankings of a batch of samples, read and prepared once for all the
ranking metrics of a task.

A retrieval task usually reports several families (nDCG, MRR, recall, MAP...), and the runner
calls each one's ``sample_stats`` and ``sample_warnings`` on the same batch. What they need is
the same: the checked ``{doc: grade}`` and ``{doc: score}`` of each sample and the ranks of the
judged documents (:func:`~evalkit.metrics.retrieval._engine.prepare`). :func:`prepared_batch`
computes that once per batch and keeps it for the batch's other metrics (one batch per thread,
recognised by identity). A metric that asks again for the same batch starts a new round: the
batch is prepared again, so scoring a list, changing its samples and scoring it again is right.

Rankings are checked in bulk over the whole batch (types of every doc id and score in one C
loop); only when that fails is each sample checked on its own, to name the sample and the
problem.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from evalkit.data.retrieval import CheckedRanking, parse_grades, parse_ranking
from evalkit.errors import InputError
from evalkit.metrics.retrieval._engine import Judged, NonFiniteScoreError, prepare, shared_scores
from evalkit.types import Sample

__all__ = ["batch_warnings", "prepared_batch", "sample_qrels", "sample_ranking"]


@dataclass
class _Held:
    """The last batch prepared on this thread, and what was computed from it."""

    batch: Sequence[Sample] | None = None
    first: Sample | None = None
    last: Sample | None = None
    judged: Judged | None = None
    warnings: list[str | None] | None = None
    #: The metrics that used ``judged`` and ``warnings`` (held, so their ids stay theirs).
    scored: list[object] = field(default_factory=list)
    warned: list[object] = field(default_factory=list)

    def holds(self, batch: Sequence[Sample], user: object, users: list[object]) -> bool:
        if any(u is user for u in users):
            return False
        users.append(user)
        return (
            self.batch is batch
            and self.judged is not None
            and self.judged.n_queries == len(batch)
            and self.first is batch[0]
            and self.last is batch[-1]
        )


_local = threading.local()
# Stands for a ranking that a sample lacks (dict() refuses it, so the per-sample check names it).
_ABSENT = object()


def _held() -> _Held:
    held: _Held | None = getattr(_local, "held", None)
    if held is None:
        held = _local.held = _Held()
    return held


def prepared_batch(metric: str, batch: Sequence[Sample], user: object = None) -> Judged:
    """The prepared ranks of a non-empty batch, computed once for all metrics that score it.

    Args:
        metric: The metric's name, for error messages.
        batch: The samples.
        user: Who asks (the metric instance): a second request by the same user for the same
            batch prepares it again.

    Raises:
        InputError: A sample without judgments or ranking, or with a malformed one, named
            with ``metric`` and the sample id.

    >>> from evalkit.types import Sample
    >>> batch = [Sample(id="q", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a", 0.5]]})]
    >>> j = prepared_batch("mrr", batch, "m1")
    >>> j is prepared_batch("ndcg", batch, "m2"), j is prepared_batch("mrr", batch, "m1")
    (True, False)
    """
    held = _held()
    if user is not None and held.holds(batch, user, held.scored):
        assert held.judged is not None
        return held.judged
    qrels = _judgments(metric, batch)
    runs = _rankings(metric, batch)
    try:
        judged = prepare(qrels, runs)
    except NonFiniteScoreError:
        for s in batch:  # names the sample and document
            sample_ranking(metric, s)
        raise
    held.batch, held.first, held.last = batch, batch[0], batch[-1]
    held.judged, held.warnings = judged, None
    held.scored, held.warned = [user], []
    return judged


def batch_warnings(metric: str, batch: Sequence[Sample], user: object) -> list[str | None]:
    """Per-sample notes about documents that share their score (computed once per batch)."""
    if not batch:
        return []
    held = _held()
    if not held.holds(batch, user, held.warned):
        prepared_batch(metric, batch)
        held.warned = [user]
    judged = held.judged
    assert judged is not None
    if held.warnings is None:
        held.warnings = [
            f"{n} documents share their score with another; equal scores are ordered by doc "
            "id, descending (trec_eval's rule)"
            if n
            else None
            for n in shared_scores(judged).tolist()
        ]
    return held.warnings


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


def _judgments(metric: str, batch: Sequence[Sample]) -> list[dict[str, int]]:
    """Every sample's judgments, checked in bulk when they all are mappings."""
    values = [s.inputs.get("qrels") for s in batch]
    if all(type(v) is dict for v in values):
        judged: list[dict[str, int]] = values  # type: ignore[assignment]
        keys = set(map(type, chain.from_iterable(judged)))
        grades = set(map(type, chain.from_iterable(map(dict.values, judged))))
        if not (keys - {str} or grades - {int} or any("" in g for g in judged)):
            return judged
    return [sample_qrels(metric, s) for s in batch]


def _rankings(metric: str, batch: Sequence[Sample]) -> list[dict[str, float] | None]:
    """Every sample's ranking, checked in bulk; sample by sample when the bulk check fails.

    A :class:`~evalkit.data.retrieval.CheckedRanking` (from ``trec_run:``) brings its checked
    mapping; the other rankings are converted and checked together.
    """
    runs: list[dict[str, float] | None] = []
    raw: list[Any] = []
    built: list[dict[str, float]] = []
    try:
        for s in batch:
            outputs = s.outputs
            value = None if outputs.get("missing") else outputs.get("ranking", _ABSENT)
            if value is None:
                runs.append(None)
            elif type(value) is CheckedRanking and len(value) == len(value.scores):
                runs.append(value.scores)
            else:
                ranking = dict(value)
                raw.append(value)
                built.append(ranking)
                runs.append(ranking)
    except (TypeError, ValueError):
        return [sample_ranking(metric, s) for s in batch]
    if built and not _well_formed(raw, built):
        return [sample_ranking(metric, s) for s in batch]
    return runs


def _well_formed(raw: Sequence[Any], built: Sequence[dict[str, float]]) -> bool:
    """Whether the rankings built with ``dict()`` are what the per-sample check returns."""
    if any(not isinstance(r, dict) and len(d) != len(r) for r, d in zip(raw, built, strict=True)):
        return False  # a repeated document in a list of pairs
    keys = set(map(type, chain.from_iterable(built)))
    values = set(map(type, chain.from_iterable(map(dict.values, built))))
    # Finite scores are checked on the score array (prepare raises NonFiniteScoreError).
    return not (keys - {str} or values - {float, int} or any("" in r for r in built))
