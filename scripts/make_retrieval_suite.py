"""Write the bundled retrieval suite's data from Python's own help text (``pydoc_data.topics``).

The task is an inverse cloze test (Lee et al. 2019, "Latent retrieval for weakly supervised open
domain question answering"): a sentence is taken out of a passage and becomes the query; the
passage it came from (without that sentence) is the best answer, and the other passages of the
same help topic are partly relevant. Everything is deterministic (no model, fixed seed), so the
files are reproducible from this script and the Python version that ships the help text:

- ``corpus.jsonl``: ``{"id", "title", "text"}``, about 200 prose paragraphs of 30-160 words,
  taken round-robin from the help topics (each topic's first paragraph, then each one's
  second, ...) so that every topic is represented;
- ``queries.jsonl``: ``{"id", "query", "topic", "qrels": {doc_id: grade}}``, 50 queries from 50
  different topics, with grade 2 for the source passage and grade 1 for every other passage of
  the topic;
- ``qrels.trec``: the same judgments in TREC format (``query_id 0 doc_id grade``).

Usage::

    python scripts/make_retrieval_suite.py [--out suites/retrieval] [--docs 200] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 20240605
_UNDERLINE = re.compile(r"^[*=\-^~+#]+$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Passage:
    """One corpus paragraph and the topic it comes from."""

    id: str
    topic: str
    title: str
    text: str


def prose_paragraphs(text: str, low: int = 30, high: int = 160) -> list[str]:
    """Paragraphs of running text (no code, grammar or headings) of ``low``-``high`` words.

    >>> prose_paragraphs("Title\n*****\n\nOne two three.\n\n   code = 1\n", low=2)
    ['One two three.']
    """
    out = []
    for block in re.split(r"\n\s*\n", text)[1:]:
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines or any(line.startswith(" ") for line in lines):
            continue  # indented: code, grammar productions, tables
        if any(_UNDERLINE.match(line.strip()) for line in lines):
            continue  # a heading
        words = " ".join(line.strip() for line in lines).split()
        if low <= len(words) <= high:
            out.append(" ".join(words))
    return out


def sentences(text: str) -> list[str]:
    """Split running text into sentences (at ., ! or ? followed by a capital or a quote).

    >>> sentences('It is. "So" it goes! Ok? yes.')
    ['It is.', '"So" it goes!', 'Ok? yes.']
    """
    return [s for s in _SENTENCE_END.split(text) if s]


def build_corpus(n_docs: int) -> list[Passage]:
    """About ``n_docs`` passages, round-robin over the help topics in sorted order."""
    from pydoc_data.topics import topics

    per_topic = {}
    for key in sorted(topics):
        paragraphs = prose_paragraphs(topics[key])
        if paragraphs:
            per_topic[key] = (topics[key].split("\n", 1)[0].strip(), paragraphs)
    passages: list[Passage] = []
    depth = 0
    while len(passages) < n_docs and any(len(p) > depth for _, p in per_topic.values()):
        for key, (title, paragraphs) in per_topic.items():
            if depth < len(paragraphs) and len(passages) < n_docs:
                passages.append(Passage(f"{key}-{depth + 1}", key, title, paragraphs[depth]))
        depth += 1
    return passages


def build_queries(passages: Sequence[Passage], n_queries: int) -> list[dict[str, Any]]:
    """Inverse-cloze queries; removes each query sentence from its passage (in place)."""
    rng = random.Random(SEED)
    by_topic: dict[str, list[Passage]] = {}
    for p in passages:
        by_topic.setdefault(p.topic, []).append(p)
    candidates = []
    for topic in sorted(by_topic):
        # A query sentence must occur in its own passage only: the help text repeats some
        # sentences across topics, and a copy elsewhere would be an unjudged exact match.
        options = [
            (p, s)
            for p in by_topic[topic]
            for s in sentences(p.text)
            if 8 <= len(s.split()) <= 30
            and len(sentences(p.text)) >= 3
            and sum(s in other.text for other in passages) == 1
        ]
        if options:
            candidates.append((topic, options))
    rng.shuffle(candidates)
    queries = []
    for i, (topic, options) in enumerate(sorted(candidates[:n_queries])):
        source, sentence = options[rng.randrange(len(options))]
        source.text = " ".join(s for s in sentences(source.text) if s != sentence)
        qrels = {p.id: 2 if p is source else 1 for p in by_topic[topic]}
        queries.append({"id": f"q{i + 1:02d}", "query": sentence, "topic": topic, "qrels": qrels})
    return queries


def write(out: Path, n_docs: int, n_queries: int) -> tuple[int, int]:
    """Write the three files into ``out``; returns (documents, queries)."""
    passages = build_corpus(n_docs)
    queries = build_queries(passages, n_queries)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for p in passages:
            fh.write(json.dumps({"id": p.id, "title": p.title, "text": p.text}) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for q in queries:
            fh.write(json.dumps(q) + "\n")
    with (out / "qrels.trec").open("w", encoding="utf-8") as fh:
        for q in queries:
            for doc, grade in q["qrels"].items():
                fh.write(f"{q['id']} 0 {doc} {grade}\n")
    return len(passages), len(queries)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "suites" / "retrieval")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)
    n_docs, n_queries = write(args.out, args.docs, args.queries)
    print(
        f"wrote {n_docs} passages and {n_queries} queries to {args.out} "
        f"(pydoc_data.topics of Python {platform.python_version()})"
    )


if __name__ == "__main__":
    main()
