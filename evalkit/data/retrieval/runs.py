"""Ranked runs (:class:`Run`) from TREC, JSONL and JSON files, or from memory. TREC run files
are read by :mod:`evalkit.data.retrieval.trec_runs` (vectorised); the formats are described in
:mod:`evalkit.data.retrieval`."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from pathlib import Path
from typing import Any

from evalkit.data.retrieval.files import (
    JSONL,
    ByQuery,
    check_file,
    json_lines,
    json_mapping,
    query_id,
)
from evalkit.data.retrieval.qrels import Qrels
from evalkit.data.retrieval.trec_runs import read_trec_run
from evalkit.data.retrieval.values import checked_qid, parse_ranking
from evalkit.errors import InputError

__all__ = ["Run"]


class Run(ByQuery[float]):
    """Ranked documents with scores: ``{query_id: {doc_id: score}}``.

    A query that is present with no documents is an empty ranking (it scores zero); a query
    that is absent is *missing*, which the metrics' ``missing`` parameter decides about.

    Example:
        >>> run = Run({"q1": [["d1", 0.9], ["d2", 0.4]], "q2": {}}, name="bm25")
        >>> run["q1"], run.name, len(run)
        ({'d1': 0.9, 'd2': 0.4}, 'bm25', 2)
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        name: str = "run",
        source: str = "run",
        validate: bool = True,
    ) -> None:
        self.name = name
        self.source = source
        self.locations: dict[str, str] = {}
        if validate:
            self._data = _validated_run(data, source)
        else:
            self._data = dict(data)

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._data.values())
        return f"Run({self.name!r}, {len(self)} queries, {n} documents, from {self.source})"

    def where(self, query_id: str) -> str:
        """Where a query's ranking comes from (``file:line`` or the source name)."""
        return self.locations.get(query_id, f"{self.source}: query '{query_id}'")

    def to_dict(self) -> dict[str, dict[str, float]]:
        """A plain-dict copy (pytrec_eval's and ranx's input shape)."""
        return {q: dict(v) for q, v in self._data.items()}

    def ranking(self, query_id: str) -> list[tuple[str, float]]:
        """The query's documents in evaluation order: score descending, then doc id
        descending (trec_eval's order).

        >>> Run({"q": {"a": 1.0, "b": 1.0, "c": 2.0}}).ranking("q")
        [('c', 2.0), ('b', 1.0), ('a', 1.0)]
        """
        return sorted(self._data[query_id].items(), key=_evaluation_order, reverse=True)

    def check_scores(self) -> None:
        """Raise InputError naming the first query and document with a non-finite score.

        In-memory runs are checked for types when built and for finite scores when scored
        (on the score array, in bulk); this finds the culprit for the message.
        """
        for qid, ranking in self._data.items():
            parse_ranking(ranking, self.where(qid))

    def check_queries(self, qrels: Qrels) -> None:
        """Raise InputError for the first run query that the qrels do not judge.

        trec_eval silently skips such queries; evalkit refuses them because a misspelt or
        mis-mapped query id would otherwise vanish from the average unnoticed.
        """
        for qid in self._data:
            if qid not in qrels:
                unknown = [q for q in self._data if q not in qrels]
                raise InputError(
                    f"{self.where(qid)}: query '{qid}' is not in the qrels ({qrels.source}); "
                    f"{len(unknown)} of {len(self)} run queries are unknown. Fix the ids, or "
                    "pass unknown_queries='ignore' to leave them out."
                )

    @classmethod
    def load(cls, path: str | Path, *, name: str | None = None) -> Run:
        """Read a TREC, JSONL or JSON run (by extension; see the module docstring)."""
        p = Path(path)
        check_file(p, "run")
        suffix = p.suffix.lower()
        if suffix in JSONL:
            return cls._from_jsonl(p, name)
        if suffix == ".json":
            return cls(json_mapping(p, "run"), name=name or p.stem, source=str(p))
        return cls._from_trec(p, name)

    @classmethod
    def coerce(cls, value: Run | Mapping[str, Any] | str | Path) -> Run:
        """A Run from a Run, a ``{query: {doc: score}}`` mapping or a file path."""
        if isinstance(value, Run):
            return value
        if isinstance(value, str | Path):
            return cls.load(value)
        if isinstance(value, Mapping):
            return cls(value)
        raise InputError(
            f"run must be a Run, a mapping {{query_id: {{doc_id: score}}}} or a file path, got "
            f"{type(value).__name__}."
        )

    @classmethod
    def _from_trec(cls, path: Path, name: str | None) -> Run:
        data, locations, tag = read_trec_run(path)
        out = cls(data, name=name or tag or path.stem, source=str(path), validate=False)
        out.locations = locations
        return out

    @classmethod
    def _from_jsonl(cls, path: Path, name: str | None) -> Run:
        data: dict[str, dict[str, float]] = {}
        locations: dict[str, str] = {}
        for where, row in json_lines(path):
            qid = query_id(row, where)
            if qid in data:
                raise InputError(
                    f"{where}: query '{qid}' occurs twice (first at {locations[qid]}); give "
                    "each query's ranking on one line."
                )
            if "ranking" not in row:
                raise InputError(
                    f"{where}: field 'ranking' is missing (a list of [doc_id, score] pairs)."
                )
            data[qid] = parse_ranking(row["ranking"], where)
            locations[qid] = where
        out = cls(data, name=name or path.stem, source=str(path), validate=False)
        out.locations = locations
        return out


def _validated_run(data: Mapping[str, Any], source: str) -> dict[str, dict[str, float]]:
    """Check an in-memory run; fast when it already is ``{str: {str: float}}``."""
    out: dict[str, dict[str, float]] = {}
    for q, v in data.items():
        checked_qid(q, source)
        out[q] = v if isinstance(v, dict) else parse_ranking(v, f"{source}: query '{q}'")
    # The types of all keys and values are checked in bulk, in C (set(map(type, ...))): a
    # 10,000 x 100 run takes about 40 ms. The exact per-query check, which names the offending
    # query and document, runs only when that fails. Finiteness is checked on the score array
    # when the run is scored (see Run.check_scores).
    rankings = list(out.values())
    key_types = set(map(type, chain.from_iterable(rankings)))
    value_types = set(map(type, chain.from_iterable(map(dict.values, rankings))))
    if key_types - {str} or value_types - {float, int}:
        for q, ranking in out.items():
            out[q] = parse_ranking(ranking, f"{source}: query '{q}'")
    return out


def _evaluation_order(pair: tuple[str, float]) -> tuple[float, str]:
    return pair[1], pair[0]
