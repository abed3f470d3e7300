"""Checks of in-memory retrieval values: judgments and rankings of one query, doc ids, grades,
scores and query ids. Every problem is an :class:`~evalkit.errors.InputError` naming where the
value came from."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, SupportsIndex

from evalkit.errors import InputError

__all__ = ["CheckedRanking", "parse_grades", "parse_ranking"]


def _grade(value: Any, where: str, doc: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"{where}: relevance of document '{doc}' must be an integer grade, got "
            f"{type(value).__name__} {value!r}."
        )
    return value


def _score(value: Any, where: str, doc: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(
            f"{where}: score of document '{doc}' must be a number, got "
            f"{type(value).__name__} {value!r}."
        )
    score = float(value)
    if not math.isfinite(score):
        raise InputError(f"{where}: score of document '{doc}' is {score}; scores must be finite.")
    return score


def _doc_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(
            f"{where}: document ids must be non-empty strings, got {type(value).__name__} "
            f"{value!r}."
        )
    return value


def parse_grades(value: Any, where: str) -> dict[str, int]:
    """Relevance judgments of one query: a ``{doc_id: grade}`` mapping or a list of doc ids.

    Args:
        value: The judgments (a list of doc ids means grade 1 for each).
        where: Where the value comes from, for error messages (``file:line`` or a sample).

    Raises:
        InputError: For a non-string doc id, a non-integer grade or a repeated doc id.

    >>> parse_grades({"d1": 2, "d2": 0}, "x")
    {'d1': 2, 'd2': 0}
    >>> parse_grades(["d1", "d3"], "x")
    {'d1': 1, 'd3': 1}
    >>> parse_grades({"d1": 1.5}, "qrels.jsonl:3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: qrels.jsonl:3: relevance of document 'd1' must be an integer ...
    """
    if isinstance(value, Mapping):
        return {_doc_id(d, where): _grade(g, where, str(d)) for d, g in value.items()}
    if isinstance(value, list | tuple):
        out: dict[str, int] = {}
        for d in value:
            doc = _doc_id(d, where)
            if doc in out:
                raise InputError(f"{where}: document '{doc}' is listed twice; list it once.")
            out[doc] = 1
        return out
    raise InputError(
        f"{where}: relevance judgments must be a mapping {{doc_id: grade}} or a list of doc "
        f"ids, got {type(value).__name__}."
    )


def parse_ranking(value: Any, where: str) -> dict[str, float]:
    """One query's ranking: ``[[doc_id, score], ...]`` or ``{doc_id: score}``.

    The order of the list does not matter: documents are ordered by score (ties by doc id,
    descending, as trec_eval does) when they are scored.

    Raises:
        InputError: For a repeated document, a non-numeric or non-finite score, or a malformed
            entry.

    >>> parse_ranking([["d2", 0.5], ["d1", 0.9]], "x")
    {'d2': 0.5, 'd1': 0.9}
    >>> parse_ranking([["d1", 0.9], ["d1", 0.5]], "run.jsonl:7")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: run.jsonl:7: document 'd1' occurs twice in the ranking ...
    """
    fast = _fast_ranking(value)
    if fast is not None:
        return fast
    if isinstance(value, Mapping):
        return {_doc_id(d, where): _score(s, where, str(d)) for d, s in value.items()}
    if not isinstance(value, list | tuple):
        raise InputError(
            f"{where}: a ranking must be a list of [doc_id, score] pairs or a mapping "
            f"{{doc_id: score}}, got {type(value).__name__}."
        )
    out: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise InputError(
                f"{where}: ranking entry {i} must be a [doc_id, score] pair, got {entry!r}."
            )
        doc = _doc_id(entry[0], where)
        if doc in out:
            raise InputError(
                f"{where}: document '{doc}' occurs twice in the ranking (entries {first[doc]} "
                f"and {i}); keep one score per document."
            )
        first[doc] = i
        out[doc] = _score(entry[1], where, doc)
    return out


def _fast_ranking(value: Any) -> dict[str, float] | None:
    """The ranking as a dict when it is well-formed, checked in bulk (C loops); else None.

    About ten times faster than the entry-by-entry check, which runs only to name a problem.
    """
    try:
        ranking = dict(value)
    except (TypeError, ValueError):
        return None
    if (
        (not isinstance(value, Mapping) and len(ranking) != len(value))  # a repeated document
        or "" in ranking
        or set(map(type, ranking)) - {str}
        or set(map(type, ranking.values())) - {float, int}
        or not math.isfinite(sum(ranking.values()))  # NaN and infinities propagate
    ):
        return None
    return ranking


def checked_qid(qid: Any, source: str) -> str:
    if not isinstance(qid, str):
        raise InputError(f"{source}: query ids must be strings, got {type(qid).__name__} {qid!r}.")
    return qid


class CheckedRanking(list[Any]):
    """A ranking as ``[[doc_id, score], ...]`` (or ``(doc_id, score)`` tuples) that was checked
    when it was made, with its ``{doc_id: score}`` mapping.

    Adapters that read rankings from checked data (``trec_run:`` from a loaded
    :class:`~evalkit.data.retrieval.Run`) return one, so that the ranking metrics use
    :attr:`scores` as it is instead of checking and converting the list again. It is a plain
    list everywhere else (JSON, equality, the record); the metrics check any other list.

    Attributes:
        scores: The same documents and scores as a mapping (string ids, finite numbers, each
            document once), shared with its source: never change it.

    Example:
        >>> r = CheckedRanking([["d1", 2.5], ["d2", 1.5]], {"d1": 2.5, "d2": 1.5})
        >>> r == [["d1", 2.5], ["d2", 1.5]], r.scores["d2"]
        (True, 1.5)
    """

    __slots__ = ("scores",)

    def __init__(self, pairs: Sequence[Any], scores: dict[str, float]) -> None:
        super().__init__(pairs)
        self.scores = scores

    def __reduce__(self) -> tuple[Any, ...]:
        return (CheckedRanking, (list(self), self.scores))

    def __setitem__(self, index: SupportsIndex | slice, value: Any) -> None:
        raise TypeError("a CheckedRanking is read-only; copy it with list() to change it")
