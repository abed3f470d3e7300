"""A RAG task: a retriever's passages in the generator's prompt, scored in one record.

The bundled task (suites/rag.yaml, ``retrieve_and_answer``) retrieves with BM25 and answers
with an extractive ``python:`` generator; small suites written here check what the passages
are, that a missed passage shows in both the context and the answer metrics, a run file as the
retriever, and the configuration errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters.bm25 import BM25Adapter
from evalkit.cli import main
from evalkit.runner import run_suite
from evalkit.types import GenerateRequest
from tests.conftest import ROOT, write_jsonl

CORPUS = ROOT / "suites" / "retrieval" / "corpus.jsonl"


def _lines(run: Path, task: str) -> dict[str, dict[str, Any]]:
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text("utf-8").splitlines()]
    return {r["id"]: r for r in rows if r["task"] == task}


def _values(run: Path, task: str) -> dict[str, float]:
    doc = json.loads((run / "results.json").read_text("utf-8"))
    return {r["metric"]: r["value"] for r in doc["results"] if r["task"] == task}


def test_the_bundled_task_shows_bm25s_top_passages(tmp_path: Path) -> None:
    suite = ROOT / "suites" / "rag.yaml"
    preds = ROOT / "suites" / "rag" / "faithful.jsonl"
    outcome = run_suite(suite, f"predictions:{preds}", tmp_path / "run", use_cache=False)
    assert outcome.exit_code == 0
    lines = _lines(tmp_path / "run", "retrieve_and_answer")
    questions = [
        json.loads(x)
        for x in (ROOT / "suites" / "rag" / "questions.jsonl").read_text().splitlines()
    ]
    assert len(lines) == len(questions) == 40
    bm25 = BM25Adapter()
    options = (("corpus", str(CORPUS)), ("depth", 3))
    asked = [GenerateRequest(q["question"], kind="retrieve", options=options) for q in questions]
    for q, ranked in zip(questions, bm25.retrieve(asked), strict=True):
        top = [doc for doc, _ in ranked.outputs["ranking"]]
        prompt = lines[q["id"]]["prompt"]
        # the prompt shows the three passages, best first, then the question
        at = [prompt.index(f"[{doc}] ") for doc in top]
        assert at == sorted(at) and prompt.index(q["question"]) > at[-1]
        # the context metrics scored exactly these passages
        stats = lines[q["id"]]["stats"]["context_precision"]
        assert stats is not None
    v = _values(tmp_path / "run", "retrieve_and_answer")
    assert v["exact_match"] >= 0.9 and v["faithfulness"] == 1.0


GENERATOR = """\
def answer(prompts):
    return [p.split("[", 2)[1].split("]", 1)[1].split("\\n", 1)[0].strip() for p in prompts]
"""


def _small_suite(tmp: Path, spec: str, corpus: list[dict[str, str]], **extra: Any) -> Path:
    (tmp / "gen.py").write_text(GENERATOR, encoding="utf-8")
    write_jsonl(tmp / "corpus.jsonl", corpus)
    write_jsonl(
        tmp / "data.jsonl",
        [
            {"id": "q1", "question": "capital of france", "answer": "Paris is the capital.",
             "relevant": {"d1": 1}},
            {"id": "q2", "question": "tallest mountain", "answer": "Everest is the tallest.",
             "relevant": {"d2": 1}},
        ],
    )  # fmt: skip
    task: dict[str, Any] = {
        "name": "rag",
        "model": "python:gen.py:answer",
        "dataset": {"path": "data.jsonl", "id": "id", "references": "answer"},
        "retriever": {"model": spec, "corpus": "corpus.jsonl", "k": 1},
        "prompt": "{passages}\nQ: {question}",
        "metrics": ["exact_match", "context_recall"],
        **extra,
    }
    suite = tmp / "s.yaml"
    suite.write_text(json.dumps({"name": "small", "tasks": [task]}), encoding="utf-8")
    return suite


def test_a_missed_passage_shows_in_context_and_answer(tmp_path: Path) -> None:
    corpus = [
        {"id": "d1", "text": "Paris is the capital."},
        {"id": "d3", "text": "Everest climbing tours and the tallest hotels."},
        {"id": "d2", "text": "Everest is the tallest."},
    ]
    suite = _small_suite(tmp_path, "bm25:", corpus)
    assert run_suite(suite, None, tmp_path / "run", use_cache=False).exit_code == 0
    lines = _lines(tmp_path / "run", "rag")
    assert lines["q1"]["prompt"] == "[d1] Paris is the capital.\nQ: capital of france"
    v = _values(tmp_path / "run", "rag")
    # For q2 BM25 ranks the longer d3 ("tallest", no "mountain" anywhere) above d2, so with
    # k = 1 the judged passage is missed, and the answer drawn from d3 is wrong.
    assert lines["q2"]["prompt"].startswith("[d3] Everest climbing")
    assert lines["q2"]["prediction"].startswith("Everest climbing")
    assert v["context_recall"] == 0.5 and v["exact_match"] == 0.5


def test_a_run_file_retrieves(tmp_path: Path) -> None:
    corpus = [{"id": "d1", "text": "Paris is the capital."}, {"id": "d2", "text": "Everest."}]
    (tmp_path / "run.trec").write_text("q1 Q0 d2 1 9.0 r\nq1 Q0 d1 2 8.0 r\nq2 Q0 d2 1 9.0 r\n")
    suite = _small_suite(tmp_path, "trec_run:run.trec", corpus)
    assert run_suite(suite, None, tmp_path / "out", use_cache=False).exit_code == 0
    lines = _lines(tmp_path / "out", "rag")
    assert lines["q1"]["prompt"].startswith("[d2] Everest.")  # the run's order, k = 1
    assert _values(tmp_path / "out", "rag")["context_recall"] == 0.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": "Q: {question}"}, "does not name {passages}"),
        ({"retriever": {"model": "bm25:", "corpus": "nowhere.jsonl"}}, "corpus file"),
        ({"retriever": {"model": "bm25:", "corpus": "corpus.jsonl", "query": "{nope}"}}, "nope"),
        (
            {"retriever": {"model": "bm25:", "corpus": "corpus.jsonl", "passage": "{title}"}},
            "only {id}, {text} and {rank}",
        ),
        (
            {"retriever": {"model": "bm25:", "corpus": "corpus.jsonl", "k": 3, "depth": 2}},
            "depth (2) is below k (3)",
        ),
        ({"metrics": ["exact_match", "ndcg"]}, "ndcg requires 'qrels'"),
    ],
)
def test_bad_retriever_settings_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], message: str
) -> None:
    suite = _small_suite(tmp_path, "bm25:", [{"id": "d1", "text": "x"}], **change)
    with pytest.raises(SystemExit) as exc:
        main(["run", str(suite), "--out", str(tmp_path / "run"), "--no-cache"])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert message in err
    assert not (tmp_path / "run" / "samples.jsonl").exists()


def test_a_generator_as_retriever_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _small_suite(tmp_path, "python:gen.py:answer", [{"id": "d1", "text": "x"}])
    with pytest.raises(SystemExit) as exc:
        main(["run", str(suite), "--out", str(tmp_path / "run"), "--no-cache"])
    assert exc.value.code == 2
    assert "cannot rank documents" in capsys.readouterr().err


def test_ranking_metrics_score_the_retrievers_own_ranking(tmp_path: Path) -> None:
    """nDCG, MAP and recall of a RAG task are trec_eval's numbers on the retriever's ranking
    (``depth`` documents), on the samples whose answers the other metrics score."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    suite = ROOT / "suites" / "rag.yaml"
    preds = ROOT / "suites" / "rag" / "faithful.jsonl"
    outcome = run_suite(suite, f"predictions:{preds}", tmp_path / "run", use_cache=False)
    assert outcome.exit_code == 0
    questions = [
        json.loads(x)
        for x in (ROOT / "suites" / "rag" / "questions.jsonl").read_text().splitlines()
    ]
    options = (("corpus", str(CORPUS)), ("depth", 10))
    asked = [GenerateRequest(q["question"], kind="retrieve", options=options) for q in questions]
    run = {
        q["id"]: {doc: float(score) for doc, score in g.outputs["ranking"]}
        for q, g in zip(questions, BM25Adapter().retrieve(asked), strict=True)
    }
    assert all(len(r) == 10 for r in run.values())
    qrels = {q["id"]: q["relevant"] for q in questions}
    measures = {"ndcg_cut.10", "recall.3,10", "map"}
    ref = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)

    def mean(m: str) -> float:
        return sum(r[m] for r in ref.values()) / len(ref)

    v = _values(tmp_path / "run", "retrieve_and_answer")
    assert v["ndcg@10"] == pytest.approx(mean("ndcg_cut_10"), abs=1e-12)
    assert v["map"] == pytest.approx(mean("map"), abs=1e-12)
    assert v["recall@3"] == pytest.approx(mean("recall_3"), abs=1e-12)
    assert v["recall@10"] == pytest.approx(mean("recall_10"), abs=1e-12)
    # The generator saw the top 3: recall@3 of the ranking is ragas' context recall over the
    # judged passages of those 3 (both count every judged passage with grade >= 1).
    assert v["recall@3"] == pytest.approx(v["context_recall"], abs=1e-12)
    lines = _lines(tmp_path / "run", "retrieve_and_answer")
    assert all(len(r["stats"]["context_precision"]) for r in lines.values())
    assert "ranking" not in json.dumps([r.get("outputs", {}) for r in lines.values()])
    assert 0.0 < v["answer_relevance"] <= 1.0 and v["answer_relevance_failure_rate"] == 0.0
