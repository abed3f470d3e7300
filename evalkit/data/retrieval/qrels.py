"""Relevance judgments (:class:`Qrels`) from TREC, BEIR (TSV), JSONL and JSON files, or from
memory. The formats are described in :mod:`evalkit.data.retrieval`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from evalkit._textio import utf8_lines
from evalkit.data.retrieval.files import (
    JSONL,
    ByQuery,
    check_file,
    json_lines,
    json_mapping,
    query_id,
)
from evalkit.data.retrieval.values import checked_qid, parse_grades
from evalkit.errors import InputError

__all__ = ["BEIR_HEADER", "Qrels"]


class Qrels(ByQuery[int]):
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
        check_file(p, "qrels")
        suffix = p.suffix.lower()
        if suffix in JSONL:
            return cls._from_jsonl(p)
        if suffix == ".json":
            return cls(json_mapping(p, "qrels"), source=str(p))
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
        for where, row in json_lines(path):
            qid = query_id(row, where)
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


def _validated_qrels(data: Mapping[str, Any], source: str) -> dict[str, dict[str, int]]:
    """Check in-memory judgments, in bulk when they already are ``{str: {str: int}}``."""
    out: dict[str, Any] = {}
    for q, v in data.items():
        checked_qid(q, source)
        out[q] = v if isinstance(v, dict) else parse_grades(v, f"{source}: query '{q}'")
    judged = list(out.values())
    if set(map(type, chain.from_iterable(judged))) - {str} or set(
        map(type, chain.from_iterable(map(dict.values, judged)))
    ) - {int}:
        for q, grades in out.items():
            out[q] = parse_grades(grades, f"{source}: query '{q}'")
    return out
