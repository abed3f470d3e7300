"""The TREC run file reader: ``query_id Q0 doc_id rank score tag`` per line.

A run file of a million lines is read in bulk: the bytes are split once, the line structure
(six columns on every non-blank line) is checked with NumPy on the byte array, and each query's
ranking is one ``dict(zip(docs, scores))`` over a slice, so no Python object is made per line
beyond the column strings themselves. Whatever the bulk reader cannot vouch for (non-ASCII
text, unusual line ends or separators, a malformed line, a bad or non-finite score, a repeated
document) is read again line by line, which names the file, the line and the fix: both readers
give the same rankings, and errors always come from the line reader.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from evalkit.data.retrieval.files import text_lines
from evalkit.errors import InputError

__all__ = ["TrecRun", "read_trec_run"]

#: ``(rankings by query, PATH:LINE of each query's first line, tag of the last line)``.
TrecRun = tuple[dict[str, dict[str, float]], dict[str, str], str | None]

_COLUMNS = 6
# The bytes the bulk reader reads: printable ASCII and the whitespace that bytes.split() and
# str.split() agree on. Others (non-ASCII, control bytes, \x1c-\x1f, which str.split() splits
# on and bytes.split() does not) send the file to the line reader, as does a lone \r (a line
# end in text mode).
_PLAIN = bytes(range(32, 127)) + b"\t\n\r\x0b\x0c"


def read_trec_run(path: Path) -> TrecRun:
    """Read a TREC run file: rankings, the first line of each query, and the last tag.

    Raises:
        InputError: A line without six columns, a score that is not a finite number, or a
            document listed twice for a query, naming the file and line.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "bm25.run"
        >>> _ = p.write_text("q1 Q0 d1 1 2.5 bm25\\nq2 Q0 d3 1 1 bm25\\nq1 Q0 d2 2 1.5 bm25\\n")
        >>> data, where, tag = read_trec_run(p)
        >>> data, where["q2"].endswith("bm25.run:2"), tag
        ({'q1': {'d1': 2.5, 'd2': 1.5}, 'q2': {'d3': 1.0}}, True, 'bm25')
    """
    raw = path.read_bytes()
    return _bulk(raw, path) or _by_line(path)


def _bulk(raw: bytes, path: Path) -> TrecRun | None:
    """The run read in bulk, or None when the line reader must read (or reject) it."""
    if raw.translate(None, _PLAIN) or raw.count(b"\r") != raw.count(b"\r\n"):
        return None
    tokens = raw.decode("ascii").split()
    if not tokens:
        return {}, {}, None
    first = _line_of_groups(raw, len(tokens))
    if first is None:
        return None
    try:
        scores = list(map(float, tokens[4::_COLUMNS]))
    except ValueError:
        return None
    if not np.isfinite(np.fromiter(scores, np.float64, len(scores))).all():
        return None
    qids, docs = tokens[0::_COLUMNS], tokens[2::_COLUMNS]
    index = {q: i for i, q in enumerate(dict.fromkeys(qids))}
    codes = np.fromiter(map(index.__getitem__, qids), np.int64, len(qids))
    firsts = np.searchsorted(codes, np.arange(len(index))) if _sorted(codes) else None
    if firsts is None:
        order = np.argsort(codes, kind="stable")
        _, firsts_in_file = np.unique(codes, return_index=True)
        pick = order.tolist()
        docs = [docs[i] for i in pick]
        scores = [scores[i] for i in pick]
        codes = codes[order]
        bounds = np.searchsorted(codes, np.arange(len(index) + 1))
    else:
        firsts_in_file = firsts
        bounds = np.append(firsts, len(codes))
    data: dict[str, dict[str, float]] = {}
    b = bounds.tolist()
    for i, qid in enumerate(index):
        ranking = dict(zip(docs[b[i] : b[i + 1]], scores[b[i] : b[i + 1]], strict=True))
        if len(ranking) != b[i + 1] - b[i]:
            return None  # a repeated document
        data[qid] = ranking
    first_lines = (first[firsts_in_file] + 1).tolist()
    locations = {q: f"{path}:{n}" for q, n in zip(index, first_lines, strict=True)}
    return data, locations, tokens[-1]


def _sorted(codes: np.ndarray) -> bool:
    return bool((codes[1:] >= codes[:-1]).all())


def _line_of_groups(raw: bytes, n_tokens: int) -> np.ndarray | None:
    """The 0-based line of each group of six tokens, or None unless every non-blank line of
    ``raw`` (printable ASCII and whitespace only) holds exactly six."""
    if n_tokens % _COLUMNS:
        return None
    b = np.frombuffer(raw, np.uint8)
    ws = b <= 32  # whitespace, once the other control bytes are ruled out
    # A token starts where whitespace (or the start of the file) is followed by a non-space.
    starts = np.flatnonzero(ws[:-1] & ~ws[1:]) + 1
    if not ws[0]:
        starts = np.concatenate(([0], starts))
    edges = np.concatenate(([0], np.flatnonzero(b == 10) + 1, [len(b)]))
    per_line = np.diff(np.searchsorted(starts, edges))
    if ((per_line != 0) & (per_line != _COLUMNS)).any():
        return None
    lines: np.ndarray = np.flatnonzero(per_line)
    return lines if len(lines) * _COLUMNS == n_tokens else None


def _by_line(path: Path) -> TrecRun:
    """The run read line by line, raising InputError at the first bad line."""
    data: dict[str, dict[str, float]] = {}
    seen: dict[tuple[str, str], str] = {}
    locations: dict[str, str] = {}
    tag = None
    for where, parts in text_lines(path):
        if len(parts) != _COLUMNS:
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
    return data, locations, tag
