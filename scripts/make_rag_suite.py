"""Write the bundled RAG suite's data (``suites/rag/``) from the retrieval suite's help text.

Questions come from the retrieval suite (``suites/retrieval/``: 200 passages of Python's own
help text, inverse-cloze queries and their graded judgments). For each of the first 40 queries,
the longest sentence of its source passage (grade 2) is the fact: the question shows the first
half of that sentence and asks for the statement (a cloze question), the reference answer is the
whole sentence, and the judged passages are the query's judgments (grade 2 for the source
passage, 1 for the other passages of its help topic). Nothing is random but a seeded choice of
inventions; the files are the same on every run with the same retrieval suite:

- ``questions.jsonl``: ``{"id", "question", "answer", "topic", "relevant": {doc_id: grade}}``;
- ``faithful.jsonl``: a RAG system's predictions file. Its retriever is BM25 over the corpus
  (evalkit's own index, ``evalkit.adapters.bm25``), the top 4 passages are logged as
  ``outputs.contexts`` (``{"id", "text"}``); its answer quotes the retrieved sentence that
  shares the most words with the question and cites that passage (``outputs.citations``);
- ``inventive.jsonl``: the same retrieval and answers, but every answer changes its numbers or
  adds a name and a version that no passage holds, and every other answer also cites a passage
  that was not retrieved.

Usage::

    python scripts/make_rag_suite.py [--out suites/rag] [--questions 40]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

from evalkit.adapters.bm25 import BM25Index, tokenize

ROOT = Path(__file__).resolve().parents[1]
SEED = 18
DEPTH = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")
_NUMBER = re.compile(r"\b\d+\b")
#: Invented names for the inventive system (people who wrote none of this help text).
NAMES = ("Ada Moreau", "Tomas Kival", "Rhea Lindqvist", "Omar Feld", "Ines Takahara")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.split()) >= 6]


def _invent(answer: str, i: int, rng: random.Random) -> str:
    """The answer with its numbers changed, or with a name and a version added."""
    if _NUMBER.search(answer) and i % 3 != 0:
        return _NUMBER.sub(lambda m: str(int(m.group()) * 3 + 7), answer)
    name = NAMES[i % len(NAMES)]
    return f"{answer} {name} added this in Python 2.{rng.randint(1, 7)}."


def build(
    source: Path, n_questions: int = 40
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The questions, the faithful system's rows and the inventive system's rows."""
    corpus = _jsonl(source / "corpus.jsonl")
    queries = _jsonl(source / "queries.jsonl")
    by_id = {d["id"]: d for d in corpus}
    index = BM25Index([tokenize(d["title"] + " " + d["text"]) for d in corpus])
    rng = random.Random(SEED)
    questions, faithful, inventive = [], [], []
    for i, query in enumerate(queries[:n_questions]):
        gold = max(query["qrels"], key=lambda d: (query["qrels"][d], d))
        doc = by_id[gold]
        fact = max(_sentences(doc["text"]) or [doc["text"]], key=lambda s: (len(s.split()), s))
        words = fact.split()
        head = " ".join(words[: max(3, len(words) // 2)])
        question = f'From the help on {doc["title"]}: complete the statement "{head} ..."'
        qid = f"rag{i + 1:02d}"
        questions.append(
            {
                "id": qid,
                "question": question,
                "answer": fact,
                "topic": query["topic"],
                "relevant": query["qrels"],
            }
        )
        scores, _ = index.scores(tokenize(question))
        # Score descending, then id descending (trec_eval's order of ties).
        order = sorted(
            range(len(corpus)), key=lambda j: (-scores[j], [-ord(c) for c in corpus[j]["id"]])
        )
        top = [corpus[j] for j in order[:DEPTH]]
        contexts = [{"id": d["id"], "text": d["text"]} for d in top]
        q_tokens = set(tokenize(question))
        best = max(
            ((d["id"], s) for d in top for s in _sentences(d["text"]) or [d["text"]]),
            key=lambda c: (len(q_tokens & set(tokenize(c[1]))), -len(c[1])),
        )
        faithful.append(
            {
                "id": qid,
                "prediction": best[1],
                "outputs": {"contexts": contexts, "citations": [best[0]]},
            }
        )
        citations = [best[0]]
        if i % 2 == 0:
            retrieved = {d["id"] for d in top}
            outside = sorted(d["id"] for d in corpus if d["id"] not in retrieved)
            citations.append(rng.choice(outside))
        inventive.append(
            {
                "id": qid,
                "prediction": _invent(best[1], i, rng),
                "outputs": {"contexts": contexts, "citations": citations},
            }
        )
    return questions, faithful, inventive


def main(argv: list[str] | None = None) -> int:
    """Write the three files and print each path with its SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "suites" / "rag")
    parser.add_argument("--source", type=Path, default=ROOT / "suites" / "retrieval")
    parser.add_argument("--questions", type=int, default=40)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    files = zip(
        ("questions", "faithful", "inventive"), build(args.source, args.questions), strict=True
    )
    for name, rows in files:
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        path = args.out / f"{name}.jsonl"
        path.write_text(body, encoding="utf-8")
        print(path, hashlib.sha256(body.encode("utf-8")).hexdigest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
