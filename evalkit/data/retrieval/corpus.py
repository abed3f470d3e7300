"""Document collections for the ``dense`` and ``bm25`` adapters (:func:`load_corpus`), the corpus
of a ``retrieve`` request, and the top of a scored corpus in evaluation order."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit._textio import utf8_lines
from evalkit.data.retrieval.files import check_file, json_lines
from evalkit.data.retrieval.values import CheckedRanking
from evalkit.errors import InputError

__all__ = ["Corpus", "load_corpus", "request_corpus", "top_ranking"]


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
    check_file(p, "corpus")
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
    for where, row in json_lines(path, raw):
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
    The list is a :class:`~evalkit.data.retrieval.CheckedRanking` when its scores are finite
    (the metrics then use it without checking it again).

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
    ranking = [[doc, score] for score, doc in pairs]
    scores_by_doc = {doc: score for score, doc in pairs}
    checked = len(scores_by_doc) == len(ranking) and "" not in scores_by_doc
    if checked and math.isfinite(sum(scores_by_doc.values())):
        return CheckedRanking(ranking, scores_by_doc)
    return ranking
