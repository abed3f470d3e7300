"""Retrieval inside suites: qrels in datasets, retrieve requests, the bm25: and trec_run:
adapters, records, paired comparisons, and the bundled suite."""

from __future__ import annotations

import filecmp
import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters import build_adapter
from evalkit.adapters.bm25 import BM25Adapter, BM25Index, tokenize
from evalkit.compare import CompareOptions, compare_runs
from evalkit.data.retrieval import load_corpus
from evalkit.errors import ConfigError, InputError
from evalkit.runner import run_suite
from evalkit.store import load_run
from evalkit.suite import load_suite
from evalkit.types import GenerateRequest
from tests.conftest import ROOT, write_jsonl

SUITE = ROOT / "suites" / "retrieval.yaml"
BUNDLED = ROOT / "suites" / "retrieval"

DOCS = [
    {"id": "lists", "title": "Lists", "text": "Lists are mutable sequences of items."},
    {"id": "tuples", "text": "Tuples are immutable sequences, often of mixed items."},
    {"id": "dicts", "text": "Dictionaries map hashable keys to values."},
    {"id": "sets", "text": "A set holds distinct hashable objects."},
    {"id": "files", "text": "The open function returns a file object."},
]
QUERIES = [
    {"id": "q1", "query": "are tuples immutable", "qrels": {"tuples": 2, "lists": 1}},
    {"id": "q2", "query": "map keys to values", "qrels": {"dicts": 1}},
    {"id": "q3", "query": "open a file", "qrels": {"files": 1}},
    {"id": "q4", "query": "distinct objects", "qrels": {"sets": 1, "dicts": 0}},
]


def _suite(
    tmp_path: Path,
    metrics: str = "[ndcg, mrr, {recall: {k: [1, 5]}}]",
    dataset: str = "{path: queries.jsonl, qrels: qrels}",
    retrieval: str = "    retrieval: {corpus: corpus.jsonl, depth: 3}\n",
    queries: list[dict[str, Any]] | None = None,
) -> Path:
    write_jsonl(tmp_path / "corpus.jsonl", DOCS)
    write_jsonl(tmp_path / "queries.jsonl", QUERIES if queries is None else queries)
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: r\nbootstrap: {resamples: 100}\ntasks:\n  - name: t\n"
        f"    dataset: {dataset}\n"
        '    prompt: "{query}"\n'
        f"{retrieval}    metrics: {metrics}\n",
        encoding="utf-8",
    )
    return path


# ------------------------------------------------------------------------------ suite checks


def test_the_task_carries_corpus_and_depth(tmp_path: Path) -> None:
    task = load_suite(_suite(tmp_path)).tasks[0]
    options = dict(task.request_options)
    assert task.request_kind == "retrieve"
    assert options["corpus"] == str((tmp_path / "corpus.jsonl").resolve())
    assert options["corpus_sha256"] == load_corpus(tmp_path / "corpus.jsonl").sha256
    assert options["depth"] == 3


def test_suite_errors_name_the_place_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"s.yaml:5: tasks\[0\].dataset: ranking metrics need "
        r"relevance judgments; .* `qrels: FIELD`",
    ):
        load_suite(_suite(tmp_path, dataset="{path: queries.jsonl}"))
    with pytest.raises(ConfigError, match=r"tasks\[0\].retrieval.corpus: corpus file .* not found"):
        load_suite(_suite(tmp_path, retrieval="    retrieval: {corpus: nope.jsonl}\n"))
    with pytest.raises(ConfigError, match=r"tasks\[0\].retrieval: only tasks whose metrics rank"):
        load_suite(_suite(tmp_path, metrics="[exact_match]"))
    with pytest.raises(ConfigError, match="different kinds of model request"):
        load_suite(_suite(tmp_path, metrics="[ndcg, exact_match]"))
    with pytest.raises(ConfigError, match=r"retrieval.depth: Input should be greater than"):
        load_suite(_suite(tmp_path, retrieval="    retrieval: {depth: 0}\n"))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "q1", "query": "x"}, r"queries.jsonl:1: field 'qrels' is missing; the task maps"),
        (
            {"id": "q1", "query": "x", "qrels": {"a": "2"}},
            r"queries.jsonl:1: field 'qrels': relevance of document 'a' must be an integer grade",
        ),
        (
            {"id": "q1", "query": "x", "qrels": 3},
            r"queries.jsonl:1: field 'qrels': relevance "
            r"judgments must be a mapping",
        ),
    ],
)
def test_bad_qrels_in_the_dataset(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        run_suite(_suite(tmp_path, queries=[row]), "bm25:", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before any call


def test_a_differently_named_qrels_field(tmp_path: Path) -> None:
    rows = [{"id": q["id"], "query": q["query"], "judged": q["qrels"]} for q in QUERIES]
    suite = _suite(tmp_path, dataset="{path: queries.jsonl, qrels: judged}", queries=rows)
    assert run_suite(suite, "bm25:", tmp_path / "out").results[0]["n"] == 4
    rows[0]["qrels"] = "something else"
    with pytest.raises(InputError, match="field 'qrels' is reserved"):
        run_suite(
            _suite(tmp_path, dataset="{path: queries.jsonl, qrels: judged}", queries=rows),
            "bm25:",
            tmp_path / "out2",
        )


def test_adapters_that_cannot_rank_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs 'retrieve' requests, which adapter scripted"):
        run_suite(_suite(tmp_path), "scripted:echo", tmp_path / "out")
    with pytest.raises(
        InputError,
        match=r"bm25: task 't' names no corpus to search; add "
        r"`retrieval: \{corpus: PATH\}`",
    ):
        run_suite(_suite(tmp_path, retrieval=""), "bm25:", tmp_path / "out")


# ---------------------------------------------------------------------------------- bm25:


def test_bm25_run_end_to_end_and_cached(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    first = run_suite(suite, "bm25:", tmp_path / "a")
    rows = {r["metric"]: r for r in first.results}
    assert list(rows) == ["ndcg@10", "mrr", "recall@1", "recall@5"]
    assert rows["mrr"]["value"] == 1.0 and rows["mrr"]["n"] == 4
    assert "ties:score_desc_docid_desc" in rows["ndcg@10"]["signature"]
    lines = load_run(tmp_path / "a").samples
    assert lines[0]["outputs"]["ranking"][0][0] == "tuples" and lines[0]["prediction"] is None
    assert all(len(ln["outputs"]["ranking"]) <= 3 for ln in lines)  # depth 3
    second = run_suite(suite, "bm25:", tmp_path / "b")
    assert all(ln["cached"] for ln in load_run(tmp_path / "b").samples)
    assert second.results == first.results


def test_bm25_equals_rank_bm25_bit_for_bit() -> None:
    rank_bm25 = pytest.importorskip("rank_bm25")
    corpus = load_corpus(BUNDLED / "corpus.jsonl")
    docs = [tokenize(t) for t in corpus.texts]
    ours, theirs = BM25Index(docs), rank_bm25.BM25Okapi(docs)
    for q in (json.loads(line) for line in (BUNDLED / "queries.jsonl").open()):
        tokens = tokenize(q["query"])
        scores, matched = ours.scores(tokens)
        want = theirs.get_scores(tokens)
        assert scores.tolist() == want.tolist()
        assert not (want[~matched]).any()  # documents left out all score 0


def test_bm25_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="the only variant is okapi"):
        build_adapter("bm25:plus")
    with pytest.raises(ConfigError, match="k1 must be a number >= 0"):
        BM25Adapter("", k1=-1)
    assert build_adapter("bm25:", {"k1": 0.9, "b": 0.4}).info()["k1"] == 0.9


# ------------------------------------------------------------------------------ trec_run:


def test_trec_run_with_missing_and_unknown_queries(tmp_path: Path) -> None:
    run_file = tmp_path / "sys.run"
    run_file.write_text(
        "q1 Q0 tuples 1 9 sys\nq1 Q0 lists 2 8 sys\nq2 Q0 sets 1 5 sys\nq2 Q0 dicts 2 4 sys\n"
        "q3 Q0 files 1 1 sys\n"
    )  # q4 is missing
    zero = run_suite(_suite(tmp_path, metrics="[mrr]"), f"trec_run:{run_file}", tmp_path / "z")
    assert zero.results[0]["value"] == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert load_run(tmp_path / "z").samples[3]["outputs"] == {"ranking": [], "missing": True}
    skip = run_suite(
        _suite(tmp_path, metrics="[{mrr: {missing: skip}}]"), f"trec_run:{run_file}", tmp_path / "s"
    )
    assert skip.results[0]["value"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert "missing:skip" in skip.results[0]["signature"]

    run_file.write_text(run_file.read_text() + "q9 Q0 sets 1 1 sys\n")
    with pytest.raises(InputError, match=r"sys.run:6: query 'q9' is not a sample of any task"):
        run_suite(_suite(tmp_path), f"trec_run:{run_file}", tmp_path / "u")
    assert not (tmp_path / "u").exists()
    ok = run_suite(
        _suite(tmp_path, metrics="[mrr]"),
        f"trec_run:{run_file}",
        tmp_path / "i",
        model_options={"unknown_queries": "ignore"},
    )
    assert ok.results[0]["value"] == zero.results[0]["value"]


def test_trec_run_adapter_contract(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_jsonl(path, [{"id": "q1", "ranking": [["a", 1.0], ["c", 2.0], ["b", 2.0]]}])
    adapter = build_adapter(f"trec_run:{path}", {"depth": 2})
    req = GenerateRequest("", sample_id="q1", kind="retrieve", options=(("depth", 1),))
    # The adapter's depth (trec_eval's -M), not the task's retrieval depth, cuts a run file.
    assert adapter.call([req])[0].outputs == {"ranking": [("c", 2.0), ("b", 2.0)]}
    assert adapter.info()["run_name"] == "r" and not adapter.cacheable
    with pytest.raises(ConfigError, match="unknown_queries='no'"):
        build_adapter(f"trec_run:{path}", {"unknown_queries": "no"})
    with pytest.raises(InputError, match="run file not found"):
        build_adapter(f"trec_run:{tmp_path / 'none.run'}")


# ------------------------------------------------------------------------------- compare


def test_paired_comparison_of_two_retrievers(tmp_path: Path) -> None:
    suite = _suite(tmp_path, metrics="[ndcg, {recall: {k: [1]}}, map]")
    run_suite(suite, "bm25:", tmp_path / "bm25")
    worse = tmp_path / "worse.jsonl"
    write_jsonl(worse, [{"id": q["id"], "ranking": [["sets", 1.0]]} for q in QUERIES])
    run_suite(suite, f"trec_run:{worse}", tmp_path / "worse")
    result = compare_runs([tmp_path / "bm25", tmp_path / "worse"], CompareOptions(resamples=200))
    rows = {r["metric"]: r for r in result["comparisons"]}
    assert set(rows) == {"ndcg@10", "recall@1", "map"}
    assert rows["map"]["delta"] < 0 and rows["map"]["losses"] == 3 and rows["map"]["wins"] == 0
    same = compare_runs([tmp_path / "bm25", tmp_path / "bm25"], CompareOptions(resamples=200))
    assert all(r["p_value"] == 1.0 for r in same["comparisons"])


# -------------------------------------------------------------------------- bundled suite


def test_bundled_data_is_consistent() -> None:
    corpus = load_corpus(BUNDLED / "corpus.jsonl")
    queries = [json.loads(line) for line in (BUNDLED / "queries.jsonl").open()]
    assert len(corpus) == 200 and len(queries) == 50
    assert len({q["topic"] for q in queries}) == 50
    trec: dict[str, dict[str, int]] = {}
    for line in (BUNDLED / "qrels.trec").read_text().splitlines():
        q, _, d, g = line.split()
        trec.setdefault(q, {})[d] = int(g)
    for q in queries:
        assert set(q["qrels"]) <= set(corpus.ids)
        assert sorted(q["qrels"].values()).count(2) == 1
        assert q["query"] not in " ".join(corpus.texts)  # the query sentence was taken out
        assert trec[q["id"]] == q["qrels"]


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="the bundled data was written from Python 3.11's pydoc_data.topics",
)
def test_bundled_data_is_what_the_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_retrieval_suite", ROOT / "scripts" / "make_retrieval_suite.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.write(tmp_path, 200, 50) == (200, 50)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.trec"):
        assert filecmp.cmp(tmp_path / name, BUNDLED / name, shallow=False), name


def test_bundled_suite_with_bm25_equals_pytrec_eval_on_its_record(tmp_path: Path) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    outcome = run_suite(SUITE, "bm25:", tmp_path / "bm25")
    rows = {r["metric"]: r["value"] for r in outcome.results}
    lines = load_run(tmp_path / "bm25").samples
    qrels = {q["id"]: q["qrels"] for q in map(json.loads, (BUNDLED / "queries.jsonl").open())}
    run = {ln["id"]: {d: s for d, s in ln["outputs"]["ranking"]} for ln in lines}
    measures = {"ndcg_cut.10", "recall.10,100", "map", "success.1", "P.5", "Rprec"}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    cut10 = {
        q: dict(sorted(r.items(), key=lambda t: (t[1], t[0]), reverse=True)[:10])
        for q, r in run.items()
    }
    mrr10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut10)

    def mean(table: dict[str, dict[str, float]], key: str) -> float:
        return sum(v[key] for v in table.values()) / len(qrels)

    assert rows["ndcg@10"] == pytest.approx(mean(theirs, "ndcg_cut_10"), abs=1e-12)
    assert rows["recall@10"] == pytest.approx(mean(theirs, "recall_10"), abs=1e-12)
    assert rows["recall@100"] == pytest.approx(mean(theirs, "recall_100"), abs=1e-12)
    assert rows["map"] == pytest.approx(mean(theirs, "map"), abs=1e-12)
    assert rows["hit_rate@1"] == pytest.approx(mean(theirs, "success_1"), abs=1e-12)
    assert rows["precision@5"] == pytest.approx(mean(theirs, "P_5"), abs=1e-12)
    assert rows["r_precision"] == pytest.approx(mean(theirs, "Rprec"), abs=1e-12)
    assert rows["mrr@10"] == pytest.approx(mean(mrr10, "recip_rank"), abs=1e-12)
    # Golden values of this suite with bm25: (evalkit, checked against pytrec_eval above).
    assert round(rows["ndcg@10"], 4) == 0.4657 and round(rows["map"], 4) == 0.3753


def test_suite_file_documents_its_commands() -> None:
    text = SUITE.read_text()
    for command in ("--model dense:", "--model bm25:", "evalkit compare"):
        assert command in text
    assert textwrap.dedent(text)  # parses as YAML via load_suite below
    assert load_suite(SUITE).tasks[0].request_kind == "retrieve"
