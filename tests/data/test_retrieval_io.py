"""Qrels, runs and corpora: the formats, and errors that name the file, line and fix."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evalkit.data.retrieval import Qrels, Run, load_corpus, top_ranking
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.retrieval.ranking import TieWarning, evaluate, score_run
from tests.conftest import write_jsonl


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- TREC


def test_trec_qrels_and_run(tmp_path: Path) -> None:
    qrels = Qrels.load(_write(tmp_path / "qrels.txt", "q1 0 d1 2\nq1 0 d2 0\n\nq2 0 d3 -1\n"))
    assert qrels.to_dict() == {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": -1}}
    assert qrels.where("q2") == f"{tmp_path / 'qrels.txt'}:4"
    run = Run.load(_write(tmp_path / "a.run", "q1 Q0 d2 1 3.5 bm25\nq1\tQ0\td1\t2\t-1e-3\tbm25\n"))
    assert run.name == "bm25" and run.to_dict() == {"q1": {"d2": 3.5, "d1": -0.001}}
    assert evaluate(qrels, run, ["mrr"]) == {"mrr": 0.25}  # q1: d1 at rank 2; q2: missing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 0 d1\n", r"qrels.txt:1: a TREC qrels line has 4 columns .* got 3"),
        ("q1 0 d1 1\nq1 0 d2 high\n", r"qrels.txt:2: relevance 'high' of document 'd2' is not"),
        (
            "q1 0 d1 1\nq1 0 d1 2\n",
            r"qrels.txt:2: document 'd1' of query 'q1' is judged twice "
            r"\(first at .*qrels.txt:1\)",
        ),
    ],
)
def test_bad_trec_qrels(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Qrels.load(_write(tmp_path / "qrels.txt", text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 Q0 d1 1 2.0\n", r"run.txt:1: a TREC run line has 6 columns .* got 5"),
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 abc t\n", r"run.txt:2: score 'abc' of document 'd2' is not"),
        ("q1 Q0 d1 1 nan t\n", r"run.txt:1: score of document 'd1' is nan; use finite scores"),
        (
            "q1 Q0 d1 1 2 t\nq2 Q0 d1 1 2 t\nq1 Q0 d1 3 1 t\n",
            r"run.txt:3: document 'd1' occurs twice in the ranking of query 'q1' \(first at "
            r".*run.txt:1\)",
        ),
    ],
)
def test_bad_trec_runs(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Run.load(_write(tmp_path / "run.txt", text))


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run file not found"):
        Run.load(tmp_path / "nope.run")
    with pytest.raises(InputError, match="qrels file not found"):
        Qrels.load(tmp_path / "nope.txt")


# ------------------------------------------------------------------------------ JSONL, JSON


def test_jsonl_and_json(tmp_path: Path) -> None:
    run = Run.load(
        write_jsonl(
            tmp_path / "run.jsonl",
            [
                {"query_id": "q1", "ranking": [["d1", 1.5], ["d2", 1]]},
                {"qid": 2, "ranking": {"d3": 0.5}},
                {"id": "q3", "ranking": []},
            ],
        )
    )
    assert run.to_dict() == {"q1": {"d1": 1.5, "d2": 1}, "2": {"d3": 0.5}, "q3": {}}
    assert run.name == "run" and run.where("2") == f"{tmp_path / 'run.jsonl'}:2"
    qrels = Qrels.load(
        write_jsonl(
            tmp_path / "q.jsonl", [{"id": "q1", "qrels": {"d1": 1}}, {"id": 2, "qrels": ["d3"]}]
        )
    )
    assert qrels.to_dict() == {"q1": {"d1": 1}, "2": {"d3": 1}}
    mapping = tmp_path / "qrels.json"
    mapping.write_text(json.dumps({"q1": {"d1": 1}}))
    assert Qrels.load(mapping).to_dict() == {"q1": {"d1": 1}}
    (tmp_path / "run.json").write_text(json.dumps({"q1": {"d1": 0.5}}))
    assert Run.load(tmp_path / "run.json").to_dict() == {"q1": {"d1": 0.5}}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"id": "q1", "ranking": [["d1", 1], ["d1", 2]]}],
            r"run.jsonl:1: document 'd1' occurs twice in the ranking \(entries 0 and 1\)",
        ),
        (
            [{"id": "q1", "ranking": [["d1", "1.0"]]}],
            r"run.jsonl:1: score of document 'd1' must be a number, got str '1.0'",
        ),
        ([{"id": "q1", "ranking": [["d1", True]]}], r"must be a number, got bool"),
        (
            [{"id": "q1", "ranking": [["d1", 1]]}, {"id": "q1", "ranking": []}],
            r"run.jsonl:2: query 'q1' occurs twice \(first at .*run.jsonl:1\)",
        ),
        ([{"id": "q1"}], r"run.jsonl:1: field 'ranking' is missing"),
        ([{"query": "x", "ranking": []}], r"run.jsonl:1: no query id; give it as 'query_id'"),
        ([{"id": "q1", "ranking": [["d1", 1, 2]]}], r"ranking entry 0 must be a \[doc_id, score\]"),
        ([{"id": "q1", "ranking": "d1 d2"}], r"a ranking must be a list of \[doc_id, score\]"),
        ([{"id": "q1", "ranking": [[3, 1.0]]}], r"document ids must be non-empty strings"),
    ],
)
def test_bad_jsonl_runs(tmp_path: Path, rows: list[dict[str, object]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        Run.load(write_jsonl(tmp_path / "run.jsonl", rows))


def test_bad_jsonl_lines(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"id": "q1", "ranking": []}\n{"id": \n')
    with pytest.raises(InputError, match=r"run.jsonl:2: not valid JSON"):
        Run.load(path)
    with pytest.raises(InputError, match=r"q.jsonl:1: relevance of document 'd1' must be an "):
        Qrels.load(write_jsonl(tmp_path / "q.jsonl", [{"id": "q1", "qrels": {"d1": 1.5}}]))
    with pytest.raises(InputError, match=r"q.jsonl:1: field 'qrels' is missing"):
        Qrels.load(write_jsonl(tmp_path / "q.jsonl", [{"id": "q1"}]))
    (tmp_path / "r.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must hold one mapping"):
        Run.load(tmp_path / "r.json")


# -------------------------------------------------------------------------- in-memory inputs


def test_in_memory_validation_names_the_query() -> None:
    with pytest.raises(InputError, match=r"run: query 'q2': score of document 'b' must be a num"):
        Run({"q1": {"a": 1.0}, "q2": {"b": "1.0"}})
    with pytest.raises(InputError, match=r"query ids must be strings, got int 1"):
        Run({1: {"a": 1.0}})  # type: ignore[dict-item]
    with pytest.raises(InputError, match=r"document ids must be non-empty strings, got int"):
        Run({"q": {7: 1.0}})
    with pytest.raises(InputError, match=r"qrels: query 'q': relevance of document 'a' must be"):
        Qrels({"q": {"a": 1.0}})
    with pytest.raises(
        InputError,
        match=r"relevance of document 'a' must be an integer grade, "
        r"got bool",
    ):
        Qrels({"q": {"a": True}})
    # Non-finite scores are found when the run is scored, and the message names them.
    with pytest.raises(InputError, match=r"run: query 'q2': score of document 'b' is inf"):
        evaluate(
            {"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": {"a": 1.0}, "q2": {"b": math.inf}}, ["map"]
        )
    with pytest.raises(InputError, match="qrels must be a Qrels"):
        evaluate([("q", "d", 1)], {}, ["map"])  # type: ignore[arg-type]


def test_unknown_query_ids() -> None:
    qrels = {"q1": {"a": 1}}
    with pytest.raises(InputError, match=r"query 'q9' is not in the qrels .*1 of 2 run queries"):
        score_run("map", qrels, {"q1": {"a": 1.0}, "q9": {"a": 1.0}})
    score = score_run("map", qrels, {"q1": {"a": 1.0}, "q9": {}}, unknown_queries="ignore")
    assert score.value == 1.0 and score.n == 1
    with pytest.raises(ConfigError, match="unknown_queries='drop' is not allowed"):
        score_run("map", qrels, {}, unknown_queries="drop")


def test_unknown_query_in_a_file_names_the_line(tmp_path: Path) -> None:
    run = _write(tmp_path / "run.txt", "q1 Q0 a 1 1 t\nq7 Q0 a 1 1 t\n")
    with pytest.raises(InputError, match=r"run.txt:2: query 'q7' is not in the qrels"):
        evaluate({"q1": {"a": 1}}, run, ["ndcg@10"])


def test_measure_names_and_options_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"unknown measure 'ndcg10'; use one of precision"):
        evaluate({"q": {"a": 1}}, {"q": {}}, ["ndcg10"])
    with pytest.raises(ConfigError, match=r"r_precision takes no cutoff"):
        evaluate({"q": {"a": 1}}, {"q": {}}, ["r_precision@5"])
    with pytest.raises(ConfigError, match=r"missing='none' is not allowed"):
        evaluate({"q": {"a": 1}}, {"q": {}}, ["map"], missing="none")
    with pytest.raises(ConfigError, match="unknown ranking metric 'ndgc'"):
        score_run("ndgc", {"q": {"a": 1}}, {})


def test_ties_among_judged_documents_warn() -> None:
    with pytest.warns(TieWarning, match=r"1 judged documents in 1 queries share their score"):
        values = evaluate({"q": {"a": 1}}, {"q": {"a": 1.0, "b": 1.0}}, ["mrr"])
    assert values == {"mrr": 0.5}  # b before a: equal scores go by doc id, descending


def test_every_query_left_out_is_nan() -> None:
    values = evaluate({"q": {"a": 0}}, {"q": {"a": 1.0}}, ["map", "ndcg"], no_relevant="skip")
    assert all(math.isnan(v) for v in values.values())


# ----------------------------------------------------------------------------------- corpus


def test_corpus_formats_and_errors(tmp_path: Path) -> None:
    jsonl = write_jsonl(
        tmp_path / "c.jsonl",
        [{"_id": "d1", "title": "Lists", "text": "are mutable"}, {"id": 2, "text": "tuples"}],
    )
    corpus = load_corpus(jsonl)
    assert corpus.ids == ("d1", "2") and corpus.texts == ("Lists are mutable", "tuples")
    assert load_corpus(jsonl) is corpus and len(corpus) == 2 and len(corpus.sha256) == 64
    tsv = _write(tmp_path / "c.tsv", "d1\tone\nd2\ttwo words\n")
    assert load_corpus(tsv).texts == ("one", "two words")
    with pytest.raises(InputError, match=r"c2.jsonl:2: document id 'd1' occurs twice"):
        load_corpus(write_jsonl(tmp_path / "c2.jsonl", [{"id": "d1", "text": "a"}] * 2))
    with pytest.raises(InputError, match=r"c3.jsonl:1: field 'text' is missing"):
        load_corpus(write_jsonl(tmp_path / "c3.jsonl", [{"id": "d1", "body": "a"}]))
    with pytest.raises(InputError, match=r"c4.tsv:1: a TSV corpus line is doc_id<TAB>text"):
        load_corpus(_write(tmp_path / "c4.tsv", "d1 text\n"))
    with pytest.raises(InputError, match="the corpus is empty"):
        load_corpus(_write(tmp_path / "c5.jsonl", "\n"))


def test_top_ranking_breaks_ties_at_the_cut_by_doc_id() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1])
    ids = ["a", "b", "c", "d", "e"]
    assert top_ranking(ids, scores, 2) == [["b", 0.9], ["d", 0.5]]
    assert top_ranking(ids, scores, 10, candidates=np.array([0, 4])) == [["a", 0.5], ["e", 0.1]]
    in_run_order = Run({"q": dict(zip(ids, scores.tolist(), strict=True))}).ranking("q")
    assert top_ranking(ids, scores, 3) == [list(t) for t in in_run_order[:3]]
