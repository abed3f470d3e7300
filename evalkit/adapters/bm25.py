"""``bm25:``: an Okapi BM25 baseline that serves ``retrieve`` requests over the task's corpus.

Scores are those of ``rank_bm25.BM25Okapi`` (the package most Python RAG code calls) on the same
tokens, bit for bit (``tests/test_retrieval_adapters.py`` checks it), computed from an inverted
index instead of a Python loop over every document per query term, so a query costs time in
proportion to the postings of its terms:

- ``idf(t) = ln((N - n_t + 0.5) / (n_t + 0.5))``, where ``n_t`` documents of ``N`` contain ``t``;
  a negative idf (a term in more than half the documents) is replaced by
  ``epsilon * mean idf`` (rank-bm25's floor; Trotman et al. 2014, ATIRE);
- ``score(q, d) = sum over query tokens t of idf(t) * tf * (k1 + 1) /
  (tf + k1 * (1 - b + b * |d| / avgdl))``, a repeated query token counting each time.

**Tokenisation** (documents and queries alike): lower-cased, then every maximal run of Unicode
word characters (``re.findall(r"\\w+", text.lower())``: letters, digits and underscore, so
``__init__`` and ``sys.path`` give ``__init__``, ``sys``, ``path``); no stemming and no stop
words. Documents that share no token with the query are not returned (their score is 0), as
Lucene-based tools do.

Options (``--model-arg``): ``k1`` (1.5), ``b`` (0.75), ``epsilon`` (0.25): rank-bm25's defaults.

Each query keeps the task's ``retrieval.depth`` best documents; when longer rankings are cut,
one warning line per task says how many (``N of M queries had rankings cut at depth D``).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from evalkit.adapters._truncation import warn_truncated
from evalkit.adapters.base import ModelAdapter
from evalkit.data.retrieval import load_corpus, request_corpus, top_ranking
from evalkit.errors import AdapterError, ConfigError
from evalkit.types import GenerateRequest, Generation

__all__ = ["BM25Adapter", "BM25Index", "tokenize"]

_TOKEN = re.compile(r"\w+")
TOKENIZER = "lowercase_word_chars"


def tokenize(text: str) -> list[str]:
    """BM25's tokens of a text.

    >>> tokenize("The sys.path list; __init__() runs.")
    ['the', 'sys', 'path', 'list', '__init__', 'runs']
    """
    return _TOKEN.findall(text.lower())


class BM25Index:
    """An Okapi BM25 inverted index over tokenised documents.

    Example:
        >>> index = BM25Index([tokenize("a cat sat"), tokenize("a dog"), tokenize("dogs run")])
        >>> scores, matched = index.scores(tokenize("dog"))
        >>> matched.tolist(), round(float(scores[1]), 4)
        ([False, True, False], 0.5459)
    """

    def __init__(
        self,
        documents: Sequence[Sequence[str]],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> None:
        self.n_docs = len(documents)
        if self.n_docs == 0:
            raise AdapterError("bm25: cannot index an empty corpus.")
        doc_len = np.array([len(d) for d in documents], dtype=np.float64)
        avgdl = float(doc_len.sum()) / self.n_docs
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                entry = postings.setdefault(term, ([], []))
                entry[0].append(i)
                entry[1].append(tf)
        # idf in rank-bm25's order of operations (and of summation, for the mean), so that
        # scores agree to the last bit.
        idf: dict[str, float] = {}
        total = 0.0
        negative = []
        for term, (docs, _) in postings.items():
            value = math.log(self.n_docs - len(docs) + 0.5) - math.log(len(docs) + 0.5)
            idf[term] = value
            total += value
            if value < 0:
                negative.append(term)
        floor = epsilon * total / len(idf) if idf else 0.0
        for term in negative:
            idf[term] = floor
        self.idf = idf
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (docs, tfs) in postings.items():
            where = np.array(docs, dtype=np.int64)
            freq = np.array(tfs, dtype=np.float64)
            weight = freq * (k1 + 1) / (freq + k1 * (1 - b + b * doc_len[where] / avgdl))
            self._postings[term] = (where, weight)

    def scores(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every document, and which documents share a token with the query."""
        scores = np.zeros(self.n_docs)
        matched = np.zeros(self.n_docs, bool)
        for term in query:
            hit = self._postings.get(term)
            if hit is None:
                continue
            docs, weight = hit
            scores[docs] += self.idf[term] * weight
            matched[docs] = True
        return scores, matched

    def n_matched(self, query: Sequence[str]) -> int:
        """How many documents share a token with the query (the length of its full ranking).

        >>> BM25Index([["a", "b"], ["b"], ["c"]]).n_matched(["b", "c", "zzz"])
        3
        """
        hits = [self._postings[t][0] for t in set(query) if t in self._postings]
        return int(np.unique(np.concatenate(hits)).size) if hits else 0


class BM25Adapter(ModelAdapter):
    """Okapi BM25 over the task's corpus (``bm25:`` or ``bm25:okapi``).

    Example:
        >>> import tempfile, pathlib, json
        >>> corpus = pathlib.Path(tempfile.mkdtemp()) / "corpus.jsonl"
        >>> _ = corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\\n" for i, t in
        ...     [("d1", "lists are mutable"), ("d2", "tuples are immutable"), ("d3", "sets")]))
        >>> request = GenerateRequest("are tuples mutable?", kind="retrieve",
        ...                           options=(("corpus", str(corpus)), ("depth", 10)))
        >>> [doc for doc, _ in BM25Adapter("").retrieve([request])[0].outputs["ranking"]]
        ['d2', 'd1']
    """

    name: ClassVar[str] = "bm25"
    capabilities: ClassVar[frozenset[str]] = frozenset({"retrieve"})

    def __init__(
        self, target: str = "", *, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25
    ) -> None:
        if target not in ("", "okapi"):
            raise ConfigError(f"bm25:{target}: the only variant is okapi; use --model bm25:")
        for key, value in (("k1", k1), ("b", b), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"bm25: {key} must be a number >= 0, got {value!r}.")
        if b > 1:
            raise ConfigError(f"bm25: b must be between 0 and 1, got {b}.")
        self.k1, self.b, self.epsilon = float(k1), float(b), float(epsilon)
        self._lock = threading.Lock()
        self._indexes: dict[str, tuple[tuple[str, ...], BM25Index]] = {}

    def _index(self, options: Mapping[str, Any], task: str) -> tuple[tuple[str, ...], BM25Index]:
        path, _ = request_corpus(self.name, options, task)
        corpus = load_corpus(path)
        with self._lock:
            found = self._indexes.get(corpus.sha256)
            if found is None:
                index = BM25Index(
                    [tokenize(t) for t in corpus.texts], k1=self.k1, b=self.b, epsilon=self.epsilon
                )
                found = self._indexes[corpus.sha256] = (corpus.ids, index)
        return found

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        for task, reqs in requests.items():
            for options in {r.options for r in reqs}:
                _, index = self._index(dict(options), task)
                # A query's full ranking is every document sharing a token with it.
                group = [r for r in reqs if r.options == options]
                depth = int(dict(options).get("depth", 100))
                warn_truncated(task, (index.n_matched(tokenize(r.prompt)) for r in group), depth)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise AdapterError("bm25: a retriever ranks documents; it cannot generate text.")

    def retrieve(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            ids, index = self._index(dict(r.options), r.task)
            scores, matched = index.scores(tokenize(r.prompt))
            depth = int(r.option("depth", 100))
            ranking = top_ranking(ids, scores, depth, np.nonzero(matched)[0])
            out.append(Generation(text=None, outputs={"ranking": ranking}))
        return out

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "variant": "okapi",
            "k1": self.k1,
            "b": self.b,
            "epsilon": self.epsilon,
            "tokenizer": TOKENIZER,
        }
