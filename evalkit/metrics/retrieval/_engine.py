"""The vectorised ranking-measure engine behind :mod:`evalkit.metrics.retrieval.ranking`.

Every measure of a query depends only on the ranks of its *judged* documents, so the engine
never sorts a ranking. For each judged document that was retrieved it counts the documents
with a higher score (one NumPy comparison against a padded ``(queries, depth)`` score matrix)
plus, among equal scores, those with a larger doc id: trec_eval's order, score descending then
doc id descending. The measures are then sums over these few ``(query, rank, grade)`` triples
(``np.bincount``), which is why a 10,000 x 100 run takes tens of milliseconds.

Conventions (trec_eval 9.0.7, checked against pytrec_eval in ``tests/parity``):

- Relevant means ``grade >= relevance_level`` for every binary measure.
- nDCG gains are the grades themselves (``linear``) or ``2**grade - 1`` (``exponential``);
  grades <= 0 add nothing, and ``relevance_level`` does not apply (trec_eval ignores ``-l``
  for nDCG). The ideal ranking holds every judged document, cut at ``k``.
- ``precision@k`` divides by ``k`` even when fewer documents were retrieved; ``map@k`` divides
  by the number of relevant documents, not by ``min(k, R)`` (trec_eval's ``map_cut``).
- A measure whose denominator is zero (no relevant document; nothing retrieved for
  ``precision`` without a cutoff) is 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

__all__ = [
    "MEASURES",
    "Judged",
    "NonFiniteScoreError",
    "measure_values",
    "parse_measure",
    "prepare",
    "shared_scores",
    "value_name",
]

#: Measure families, in the order evalkit lists them.
MEASURES = ("precision", "recall", "hit_rate", "mrr", "ndcg", "map", "r_precision")
_NO_CUTOFF = frozenset({"r_precision"})
_NAME = re.compile(r"^([a-z_]+)(?:@(\d+))?$")
# Bound on the comparison block (judged documents x depth) so memory stays near 32 MB.
_BLOCK = 4_000_000


def value_name(measure: str, k: int | None) -> str:
    """The flat result name: ``ndcg@10``, ``map``.

    >>> value_name("ndcg", 10), value_name("map", None)
    ('ndcg@10', 'map')
    """
    return measure if k is None else f"{measure}@{k}"


def parse_measure(text: str) -> tuple[str, int | None]:
    """Split ``"ndcg@10"`` into ``("ndcg", 10)``; raise ValueError naming the valid forms.

    >>> parse_measure("recall@100"), parse_measure("mrr")
    (('recall', 100), ('mrr', None))
    """
    m = _NAME.match(text.strip())
    if m is None or m.group(1) not in MEASURES:
        raise ValueError(
            f"unknown measure {text!r}; use one of {', '.join(MEASURES)}, with @k for a cutoff "
            "(ndcg@10, recall@100)."
        )
    measure, k = m.group(1), m.group(2)
    if k is not None and (measure in _NO_CUTOFF or int(k) < 1):
        raise ValueError(f"measure {text!r}: {measure} takes no cutoff or a cutoff >= 1.")
    return measure, None if k is None else int(k)


@dataclass(frozen=True)
class Judged:
    """What the measures need from a batch of queries.

    Attributes:
        n_queries: Queries in the batch (``Q``).
        present: ``(Q,)`` whether the run has the query at all (an empty ranking is present).
        n_ret: ``(Q,)`` documents retrieved.
        q, rank, grade: Judged documents that were retrieved, sorted by query then rank:
            query index, 0-based rank in trec_eval's order, and grade.
        all_q, all_grade: Every judged document (retrieved or not): query index and grade.
        tied: ``(Q,)`` judged retrieved documents that share their score with another document.
        scores: ``(Q, max depth)`` every retrieved score, padded with -inf.
    """

    n_queries: int
    present: np.ndarray
    n_ret: np.ndarray
    q: np.ndarray
    rank: np.ndarray
    grade: np.ndarray
    all_q: np.ndarray
    all_grade: np.ndarray
    tied: np.ndarray
    scores: np.ndarray


class NonFiniteScoreError(ValueError):
    """A score is NaN or infinite (the caller names the query and document)."""


def _score_matrix(runs: Sequence[Mapping[str, float]], lens: np.ndarray) -> np.ndarray:
    """Scores padded to ``(Q, max depth)`` with -inf (scores are finite, so pads never tie)."""
    n_q = len(runs)
    depth = int(lens.max()) if n_q else 0
    total = int(lens.sum())
    flat = np.fromiter(chain.from_iterable(r.values() for r in runs), np.float64, total)
    if not np.isfinite(flat).all():
        raise NonFiniteScoreError("a ranking holds a NaN or infinite score")
    if n_q and (lens == depth).all():
        return flat.reshape(n_q, depth)
    matrix = np.full((n_q, depth), -np.inf)
    starts = np.cumsum(lens) - lens
    cols = np.arange(total) - np.repeat(starts, lens)
    matrix[np.repeat(np.arange(n_q), lens), cols] = flat
    return matrix


def prepare(
    qrels: Sequence[Mapping[str, int]], runs: Sequence[Mapping[str, float] | None]
) -> Judged:
    """Ranks of the judged documents of each query (``qrels[i]`` goes with ``runs[i]``).

    ``runs[i] is None`` marks a query missing from the run. Inputs must already be checked
    (string doc ids, integer grades, finite scores): see :mod:`evalkit.data.retrieval`.

    >>> j = prepare([{"a": 1, "b": 2}], [{"a": 1.0, "b": 1.0, "c": 3.0}])
    >>> j.rank.tolist(), j.grade.tolist(), j.tied.tolist()  # c, b, a: ties by doc id desc
    ([1, 2], [2, 1], [2])
    """
    n_q = len(qrels)
    empty: dict[str, float] = {}
    ranked = [r if r is not None else empty for r in runs]
    present = np.fromiter((r is not None for r in runs), bool, n_q)
    n_ret = np.fromiter(map(len, ranked), np.int64, n_q)
    qlens = np.fromiter(map(len, qrels), np.int64, n_q)
    n_judged = int(qlens.sum())
    all_q = np.repeat(np.arange(n_q), qlens)
    all_grade = np.fromiter(chain.from_iterable(g.values() for g in qrels), np.int64, n_judged)
    nan = math.nan
    judged_scores = np.fromiter(
        (r.get(d, nan) for g, r in zip(qrels, ranked, strict=True) for d in g),
        np.float64,
        n_judged,
    )
    hit = ~np.isnan(judged_scores)
    (idx,) = np.nonzero(hit)
    jq, js = all_q[idx], judged_scores[idx]
    scores = _score_matrix(ranked, n_ret)
    rank = np.empty(len(idx), np.int64)
    ties = np.empty(len(idx), np.int64)
    step = max(1, _BLOCK // max(scores.shape[1], 1))
    for a in range(0, len(idx), step):
        block = scores[jq[a : a + step]]
        s = js[a : a + step, None]
        rank[a : a + step] = (block > s).sum(axis=1)
        ties[a : a + step] = (block == s).sum(axis=1) - 1
    tied = ties > 0
    if tied.any():
        # Among equal scores trec_eval puts the larger doc id (strcmp) first.
        docs = list(chain.from_iterable(qrels))
        for t in np.nonzero(tied)[0]:
            doc, s_t, r = docs[idx[t]], js[t], ranked[jq[t]]
            rank[t] += sum(1 for d, v in r.items() if v == s_t and d > doc)
    order = np.lexsort((rank, jq))
    return Judged(
        n_queries=n_q,
        present=present,
        n_ret=n_ret,
        q=jq[order],
        rank=rank[order],
        grade=all_grade[idx][order],
        all_q=all_q,
        all_grade=all_grade,
        tied=np.bincount(jq[tied], minlength=n_q),
        scores=scores,
    )


def shared_scores(j: Judged) -> np.ndarray:
    """``(Q,)`` retrieved documents (judged or not) that share their score with another.

    >>> shared_scores(prepare([{}, {}], [{"a": 1.0, "b": 1.0, "c": 2.0}, {"a": 0.5}])).tolist()
    [2, 0]
    """
    if j.scores.shape[1] < 2:
        return np.zeros(j.n_queries, np.int64)
    ordered = np.sort(j.scores, axis=1)
    same = (ordered[:, 1:] == ordered[:, :-1]) & np.isfinite(ordered[:, 1:])
    in_group = np.zeros(ordered.shape, bool)
    in_group[:, 1:] |= same
    in_group[:, :-1] |= same
    counts: np.ndarray = in_group.sum(axis=1)
    return counts


def _gains(grades: np.ndarray, gain: str) -> np.ndarray:
    positive = np.maximum(grades, 0).astype(np.float64)
    gains: np.ndarray = positive if gain == "linear" else np.exp2(positive) - 1.0
    return gains


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, 0 where ``den`` is 0 (trec_eval's convention)."""
    out = np.zeros(len(num))
    np.divide(num, den, out=out, where=den > 0)
    return out


def _starts(sorted_q: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) query indices."""
    return np.arange(len(sorted_q)) - np.searchsorted(sorted_q, sorted_q, side="left")


def measure_values(
    j: Judged, measure: str, k: int | None, *, relevance_level: int = 1, gain: str = "linear"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query values of one measure, and which queries have something to find.

    Returns:
        ``(values, has_relevant)``, both shape ``(Q,)``. ``has_relevant`` is whether the query
        has a relevant document (for nDCG: a document with a positive gain); the caller's
        ``no_relevant`` policy uses it.

    >>> j = prepare([{"a": 1, "b": 2, "x": 0}], [{"a": 0.9, "c": 0.5, "b": 0.1}])
    >>> [round(float(measure_values(j, m, k)[0][0]), 4)
    ...  for m, k in [("precision", 2), ("recall", 2), ("mrr", None), ("map", None)]]
    [0.5, 0.5, 1.0, 0.8333]
    """
    n_q = j.n_queries
    cut = np.ones(len(j.rank), bool) if k is None else j.rank < k
    if measure == "ndcg":
        gains = _gains(j.grade, gain)
        dcg = np.bincount(j.q, weights=gains * cut / np.log2(j.rank + 2.0), minlength=n_q)
        ideal_gains = _gains(j.all_grade, gain)
        order = np.lexsort((-ideal_gains, j.all_q))
        iq, ig = j.all_q[order], ideal_gains[order]
        pos = _starts(iq)
        keep = np.ones(len(pos), bool) if k is None else pos < k
        idcg = np.bincount(iq, weights=ig * keep / np.log2(pos + 2.0), minlength=n_q)
        return _divide(dcg, idcg), idcg > 0
    num_rel = np.bincount(j.all_q, weights=j.all_grade >= relevance_level, minlength=n_q)
    has_rel = num_rel > 0
    rel = j.grade >= relevance_level
    rq, rrank = j.q[rel], j.rank[rel]
    rcut = cut[rel]
    hits = np.bincount(rq[rcut], minlength=n_q).astype(np.float64)
    if measure == "precision":
        den = np.full(n_q, float(k)) if k is not None else j.n_ret.astype(np.float64)
        return _divide(hits, den), has_rel
    if measure == "recall":
        return _divide(hits, num_rel), has_rel
    if measure == "hit_rate":
        return (hits > 0).astype(np.float64), has_rel
    if measure == "mrr":
        first_q, first = np.unique(rq[rcut], return_index=True)
        rr = np.zeros(n_q)
        rr[first_q] = 1.0 / (rrank[rcut][first] + 1.0)
        return rr, has_rel
    if measure == "map":
        precision_at = (_starts(rq) + 1.0) / (rrank + 1.0)
        total = np.bincount(rq, weights=precision_at * rcut, minlength=n_q)
        return _divide(total, num_rel), has_rel
    if measure == "r_precision":
        in_r = rrank < num_rel[rq]
        return _divide(np.bincount(rq[in_r], minlength=n_q).astype(np.float64), num_rel), has_rel
    raise ValueError(f"unknown measure {measure!r}")
