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

Modules: :mod:`~evalkit.data.retrieval.values` (checks of one query's judgments or ranking),
:mod:`~evalkit.data.retrieval.qrels`, :mod:`~evalkit.data.retrieval.runs` and
:mod:`~evalkit.data.retrieval.trec_runs` (the vectorised TREC run reader),
:mod:`~evalkit.data.retrieval.corpus`, and :mod:`~evalkit.data.retrieval.files` (shared file
helpers). Everything public is importable from here.
"""

from __future__ import annotations

from evalkit.data.retrieval.corpus import Corpus, load_corpus, request_corpus, top_ranking
from evalkit.data.retrieval.qrels import BEIR_HEADER, Qrels
from evalkit.data.retrieval.runs import Run
from evalkit.data.retrieval.values import CheckedRanking, parse_grades, parse_ranking

__all__ = [
    "BEIR_HEADER",
    "CheckedRanking",
    "Corpus",
    "Qrels",
    "Run",
    "load_corpus",
    "parse_grades",
    "parse_ranking",
    "request_corpus",
    "top_ranking",
]
