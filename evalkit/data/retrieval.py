"""Retrieval inputs: relevance judgments (``Qrels``), ranked runs (``Run``) and corpora.

Formats (chosen by the file extension):

- **TREC qrels** (any extension but the ones below): ``query_id iteration doc_id relevance``
  per line, whitespace-separated; ``iteration`` is ignored (trec_eval ignores it too) and
  ``relevance`` is an integer grade (negative, zero and positive grades are kept).
- **BEIR qrels** (``.tsv``, or any file whose first line is BEIR's header):
  ``query-id<TAB>corpus-id<TAB>score`` per line under that header line (a ``.tsv`` file without
  the header is read as BEIR's three columns, or as TREC qrels when it has four, as MS MARCO's
  ``qrels.*.tsv`` do).
- **TREC run**: ``query_id Q0 doc_id rank score tag`` per line. ``rank`` is ignored: documents
  are ordered by score (see :mod:`evalkit.metrics.retrieval.ranking`), as trec_eval does.
- **JSONL** (``.jsonl``, ``.ndjson``): one query per line with its id under ``query_id``,
  ``qid`` or ``id``. Qrels lines hold ``"qrels"``: a mapping ``{doc_id: grade}`` or a list of
  doc ids (each grade 1); run lines hold ``"ranking"``: a list of ``[doc_id, score]`` pairs or a
  mapping ``{doc_id: score}``.
- **JSON** (``.json``): one mapping ``{query_id: {doc_id: grade_or_score}}`` (ranx's and
  pytrec_eval's in-memory shape).
- **Corpus** (for the dense and BM25 adapters): JSONL with ``id`` (or BEIR's ``_id``) and
  ``text``, optionally ``title`` (then the indexed text is ``title + " " + text``, as BEIR
  does); or TSV (``.tsv``) with two columns ``doc_id<TAB>text`` (MS MARCO's collection).

Every malformed input is an :class:`~evalkit.errors.InputError` naming the file and line (or
the query) and what to change: duplicate documents in a ranking, non-numeric or non-finite
scores, non-integer grades, missing fields, and run queries that the qrels do not know.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from evalkit._io import iter_jsonl
from evalkit._textio import utf8_lines
from evalkit.errors import InputError

__all__ = [
    "Corpus",
    "Qrels",
    "Run",
    "load_corpus",
    "parse_grades",
    "parse_ranking",
    "request_corpus",
    "top_ranking",
]

_ID_KEYS = ("query_id", "qid", "id")
_JSONL = (".jsonl", ".ndjson")


# --------------------------------------------------------------------------- value checks


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


# ------------------------------------------------------------------------------ file readers


def _json_lines(path: Path, data: bytes | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(PATH:LINE, object)`` per line of a JSONL file (see :func:`evalkit._io.iter_jsonl`)."""
    for lineno, row in iter_jsonl(path, data):
        yield f"{path}:{lineno}", row


def _query_id(row: dict[str, Any], where: str) -> str:
    for key in _ID_KEYS:
        if key in row:
            qid = row[key]
            if isinstance(qid, bool) or not isinstance(qid, str | int):
                raise InputError(
                    f"{where}: '{key}' must be a string or an integer, got {type(qid).__name__}."
                )
            return str(qid)
    raise InputError(
        f"{where}: no query id; give it as 'query_id' (or 'qid', or 'id'). "
        f"Fields here: {', '.join(sorted(row)) or '(none)'}."
    )


def _text_lines(path: Path) -> Iterator[tuple[str, list[str]]]:
    """``(PATH:LINE, whitespace-separated columns)`` per non-blank line of a TREC file."""
    for lineno, line in enumerate(utf8_lines(path.read_bytes(), path), start=1):
        parts = line.split()
        if parts:
            yield f"{path}:{lineno}", parts


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found; check the path.")


def _json_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: a JSON {what} file must hold one mapping {{query_id: {{doc_id: ...}}}}, "
            f"got {type(data).__name__}."
        )
    return data


# ------------------------------------------------------------------------------------- Qrels


V = TypeVar("V", int, float)


class _ByQuery(Mapping[str, dict[str, V]]):
    """A read-only ``{query id: {doc id: value}}`` mapping over ``self._data``."""

    _data: dict[str, dict[str, V]]

    def __getitem__(self, key: str) -> dict[str, V]:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Qrels(_ByQuery[int]):
    """Graded relevance judgments: ``{query_id: {doc_id: grade}}``.

    A read-only mapping that remembers where each query was read from, for error messages.
    Grades are integers; which grades count as relevant is a metric parameter
    (``relevance_level``), not a property of the judgments.

    Example:
        >>> qrels = Qrels({"q1": {"d1": 2, "d2": 0}, "q2": ["d7"]})
        >>> qrels["q2"], len(qrels), qrels.n_judgments
        ({'d7': 1}, 2, 3)
    """

    def __init__(
        self, data: Mapping[str, Any], *, source: str = "qrels", validate: bool = True
    ) -> None:
        self.source = source
        self.locations: dict[str, str] = {}
        if validate:
            self._data = _validated_qrels(data, source)
        else:
            self._data = dict(data)

    def __repr__(self) -> str:
        return f"Qrels({len(self)} queries, {self.n_judgments} judgments, from {self.source})"

    @property
    def n_judgments(self) -> int:
        """The number of (query, document) judgments."""
        return sum(len(v) for v in self._data.values())

    def where(self, query_id: str) -> str:
        """Where a query's judgments come from (``file:line`` or the source name)."""
        return self.locations.get(query_id, f"{self.source}: query '{query_id}'")

    def to_dict(self) -> dict[str, dict[str, int]]:
        """A plain-dict copy (pytrec_eval's and ranx's input shape)."""
        return {q: dict(v) for q, v in self._data.items()}

    @classmethod
    def load(cls, path: str | Path) -> Qrels:
        """Read TREC, JSONL or JSON qrels (by extension; see the module docstring)."""
        p = Path(path)
        _check_file(p, "qrels")
        suffix = p.suffix.lower()
        if suffix in _JSONL:
            return cls._from_jsonl(p)
        if suffix == ".json":
            return cls(_json_mapping(p, "qrels"), source=str(p))
        lines = list(_qrels_lines(p))
        if _is_beir(lines, suffix):
            return cls._from_rows(p, _beir_rows(lines))
        return cls._from_rows(p, _trec_rows(lines))

    @classmethod
    def coerce(cls, value: Qrels | Mapping[str, Any] | str | Path) -> Qrels:
        """A Qrels from a Qrels, a ``{query: {doc: grade}}`` mapping or a file path."""
        if isinstance(value, Qrels):
            return value
        if isinstance(value, str | Path):
            return cls.load(value)
        if isinstance(value, Mapping):
            return cls(value)
        raise InputError(
            f"qrels must be a Qrels, a mapping {{query_id: {{doc_id: grade}}}} or a file path, "
            f"got {type(value).__name__}."
        )

    @classmethod
    def _from_rows(cls, path: Path, rows: Iterator[tuple[str, str, str, int]]) -> Qrels:
        """Qrels from ``(PATH:LINE, query id, doc id, grade)`` rows of a text file."""
        data: dict[str, dict[str, int]] = {}
        seen: dict[tuple[str, str], str] = {}
        locations: dict[str, str] = {}
        for where, qid, doc, grade in rows:
            if (qid, doc) in seen:
                raise InputError(
                    f"{where}: document '{doc}' of query '{qid}' is judged twice (first at "
                    f"{seen[(qid, doc)]}); keep one judgment."
                )
            seen[(qid, doc)] = where
            locations.setdefault(qid, where)
            data.setdefault(qid, {})[doc] = grade
        out = cls(data, source=str(path), validate=False)
        out.locations = locations
        return out

    @classmethod
    def _from_jsonl(cls, path: Path) -> Qrels:
        data: dict[str, dict[str, int]] = {}
        locations: dict[str, str] = {}
        for where, row in _json_lines(path):
            qid = _query_id(row, where)
            if qid in data:
                raise InputError(
                    f"{where}: query '{qid}' occurs twice (first at {locations[qid]}); give "
                    "each query's judgments on one line."
                )
            if "qrels" not in row:
                raise InputError(f"{where}: field 'qrels' is missing (a mapping doc_id -> grade).")
            data[qid] = parse_grades(row["qrels"], where)
            locations[qid] = where
        out = cls(data, source=str(path), validate=False)
        out.locations = locations
        return out


#: The header line of BEIR's qrels TSV files (``qrels/test.tsv``).
BEIR_HEADER = ("query-id", "corpus-id", "score")


def _qrels_lines(path: Path) -> Iterator[tuple[str, str]]:
    """``(PATH:LINE, line without its newline)`` per non-blank line of a text qrels file."""
    for lineno, line in enumerate(utf8_lines(path.read_bytes(), path), start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield f"{path}:{lineno}", text


def _is_beir(lines: Sequence[tuple[str, str]], suffix: str) -> bool:
    """Whether a text qrels file is BEIR's TSV: its header, or three tab columns in a .tsv."""
    if not lines:
        return suffix == ".tsv"
    first = lines[0][1]
    if tuple(first.strip().split()) == BEIR_HEADER:
        return True
    return suffix == ".tsv" and len(first.split("\t")) != 4


def _grade_cell(where: str, doc: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InputError(
            f"{where}: relevance '{raw}' of document '{doc}' is not an integer grade."
        ) from None


def _trec_rows(lines: Sequence[tuple[str, str]]) -> Iterator[tuple[str, str, str, int]]:
    """``(PATH:LINE, query id, doc id, grade)`` per line of TREC qrels."""
    for where, line in lines:
        parts = line.split()
        if len(parts) != 4:
            raise InputError(
                f"{where}: a TREC qrels line has 4 columns (query_id iteration doc_id "
                f"relevance), got {len(parts)}."
            )
        qid, _, doc, rel = parts
        yield where, qid, doc, _grade_cell(where, doc, rel)


def _beir_rows(lines: Sequence[tuple[str, str]]) -> Iterator[tuple[str, str, str, int]]:
    """``(PATH:LINE, query id, doc id, grade)`` per line of BEIR qrels (header skipped)."""
    for i, (where, line) in enumerate(lines):
        parts = [p.strip() for p in line.split("\t")]
        if tuple(parts) == BEIR_HEADER or tuple(line.split()) == BEIR_HEADER:
            if i == 0:
                continue
            raise InputError(f"{where}: the header line query-id/corpus-id/score is repeated.")
        if len(parts) != 3:
            raise InputError(
                f"{where}: a BEIR qrels line has 3 tab-separated columns (query-id<TAB>"
                f"corpus-id<TAB>score), got {len(parts)}."
            )
        qid, doc, rel = parts
        if not qid or not doc:
            raise InputError(f"{where}: the query id and the document id must not be empty.")
        yield where, qid, doc, _grade_cell(where, doc, rel)


def _checked_qid(qid: Any, source: str) -> str:
    if not isinstance(qid, str):
        raise InputError(f"{source}: query ids must be strings, got {type(qid).__name__} {qid!r}.")
    return qid


# --------------------------------------------------------------------------------------- Run


class Run(_ByQuery[float]):
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
        return sorted(self._data[query_id].items(), key=lambda t: (t[1], t[0]), reverse=True)

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
        _check_file(p, "run")
        suffix = p.suffix.lower()
        if suffix in _JSONL:
            return cls._from_jsonl(p, name)
        if suffix == ".json":
            return cls(_json_mapping(p, "run"), name=name or p.stem, source=str(p))
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
        data: dict[str, dict[str, float]] = {}
        seen: dict[tuple[str, str], str] = {}
        locations: dict[str, str] = {}
        tag = None
        for where, parts in _text_lines(path):
            if len(parts) != 6:
                raise InputError(
                    f"{where}: a TREC run line has 6 columns (query_id Q0 doc_id rank score "
                    f"tag), got {len(parts)}."
                )
            qid, _, doc, _, raw, tag = parts
            try:
                score = float(raw)
            except ValueError:
                raise InputError(
                    f"{where}: score '{raw}' of document '{doc}' is not a number."
                ) from None
            if not math.isfinite(score):
                raise InputError(f"{where}: score of document '{doc}' is {raw}; use finite scores.")
            if (qid, doc) in seen:
                raise InputError(
                    f"{where}: document '{doc}' occurs twice in the ranking of query '{qid}' "
                    f"(first at {seen[(qid, doc)]}); keep one line per document."
                )
            seen[(qid, doc)] = where
            locations.setdefault(qid, where)
            data.setdefault(qid, {})[doc] = score
        out = cls(data, name=name or tag or path.stem, source=str(path), validate=False)
        out.locations = locations
        return out

    @classmethod
    def _from_jsonl(cls, path: Path, name: str | None) -> Run:
        data: dict[str, dict[str, float]] = {}
        locations: dict[str, str] = {}
        for where, row in _json_lines(path):
            qid = _query_id(row, where)
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
        _checked_qid(q, source)
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


def _validated_qrels(data: Mapping[str, Any], source: str) -> dict[str, dict[str, int]]:
    """Check in-memory judgments, in bulk when they already are ``{str: {str: int}}``."""
    out: dict[str, Any] = {}
    for q, v in data.items():
        _checked_qid(q, source)
        out[q] = v if isinstance(v, dict) else parse_grades(v, f"{source}: query '{q}'")
    judged = list(out.values())
    if set(map(type, chain.from_iterable(judged))) - {str} or set(
        map(type, chain.from_iterable(map(dict.values, judged)))
    ) - {int}:
        for q, grades in out.items():
            out[q] = parse_grades(grades, f"{source}: query '{q}'")
    return out


# ------------------------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class Corpus:
    """A document collection: ids and texts in file order, and the file's SHA-256.

    Attributes:
        path: The file it was read from.
        sha256: SHA-256 of the file's bytes (part of cache keys of rankings and embeddings).
        ids: Document ids, unique, in file order.
        texts: The text to index per document (``title + " " + text`` when there is a title).
    """

    path: Path
    sha256: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


_corpus_lock = threading.Lock()
_corpora: dict[tuple[str, int, int], Corpus] = {}


def load_corpus(path: str | Path) -> Corpus:
    """Read a JSONL or TSV corpus (see the module docstring); cached per file state.

    Raises:
        InputError: A missing file, a line without id or text, or a repeated id, with the
            file and line.
    """
    p = Path(path).resolve()
    _check_file(p, "corpus")
    stat = p.stat()
    key = (str(p), stat.st_size, stat.st_mtime_ns)
    with _corpus_lock:
        cached = _corpora.get(key)
    if cached is not None:
        return cached
    raw = p.read_bytes()
    ids: list[str] = []
    texts: list[str] = []
    first: dict[str, str] = {}
    for where, doc, text in _corpus_rows(p, raw):
        if doc in first:
            raise InputError(
                f"{where}: document id '{doc}' occurs twice (first at {first[doc]}); ids must be "
                "unique."
            )
        first[doc] = where
        ids.append(doc)
        texts.append(text)
    if not ids:
        raise InputError(f"{p}: the corpus is empty.")
    corpus = Corpus(p, hashlib.sha256(raw).hexdigest(), tuple(ids), tuple(texts))
    with _corpus_lock:
        _corpora[key] = corpus
    return corpus


def _corpus_rows(path: Path, raw: bytes) -> Iterator[tuple[str, str, str]]:
    """``(PATH:LINE, doc id, text to index)`` per document of a corpus whose bytes are ``raw``."""
    if path.suffix.lower() == ".tsv":
        for lineno, line in enumerate(utf8_lines(raw, path), start=1):
            if not line.strip():
                continue
            doc, sep, text = line.rstrip("\n").partition("\t")
            if not sep or not doc:
                raise InputError(
                    f"{path}:{lineno}: a TSV corpus line is doc_id<TAB>text; no tab found."
                )
            yield f"{path}:{lineno}", doc, text
        return
    for where, row in _json_lines(path, raw):
        raw_id = row.get("id", row.get("_id"))
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise InputError(f"{where}: each document needs an 'id' (or '_id'), a string.")
        body = row.get("text")
        if not isinstance(body, str):
            raise InputError(f"{where}: field 'text' is missing or not a string.")
        title = row.get("title")
        if title is not None and not isinstance(title, str):
            raise InputError(f"{where}: field 'title' must be a string.")
        yield where, str(raw_id), f"{title} {body}" if title else body


def request_corpus(adapter: str, options: Mapping[str, Any], task: str) -> tuple[Path, str]:
    """The corpus path and SHA-256 of a ``retrieve`` request (from the task's options).

    Raises:
        InputError: When the task names no corpus.
    """
    path = options.get("corpus")
    if not isinstance(path, str):
        raise InputError(
            f"{adapter}: task '{task}' names no corpus to search; add `retrieval: {{corpus: "
            "PATH}` to the task (JSONL with id and text, or TSV)."
        )
    return Path(path), str(options.get("corpus_sha256", ""))


def top_ranking(
    ids: Sequence[str], scores: Any, depth: int, candidates: Any = None
) -> list[list[Any]]:
    """The ``depth`` best documents as ``[[doc_id, score], ...]`` in evaluation order.

    Order: score descending, then doc id descending (trec_eval's), so that the stored ranking
    is the order the metrics use, and documents tied at the cut are chosen by the same rule.

    Args:
        ids: Document ids of the corpus.
        scores: A NumPy array of one score per document.
        depth: How many documents to keep.
        candidates: Indices of the documents that may be returned (default: all).

    >>> import numpy as np
    >>> top_ranking(["a", "b", "c", "d"], np.array([0.5, 0.9, 0.5, 0.1]), 3)
    [['b', 0.9], ['c', 0.5], ['a', 0.5]]
    """
    import numpy as np

    idx = np.arange(len(ids)) if candidates is None else np.asarray(candidates)
    values = scores[idx]
    if len(idx) > depth:
        kth = np.partition(values, len(values) - depth)[len(values) - depth]
        keep = values >= kth  # every document tied with the cut stays a candidate
        idx, values = idx[keep], values[keep]
    pairs = sorted(
        ((float(v), ids[i]) for i, v in zip(idx.tolist(), values.tolist(), strict=True)),
        reverse=True,
    )[:depth]
    return [[doc, score] for score, doc in pairs]
