"""Inputs people already have, scored as they expect: prediction files must match the dataset's
ids (a stray id is an error naming its line; ids cut by a limit are noted), and run files are
scored at trec_eval's depth (1,000 documents a query), with one warning per task whenever any
retrieval adapter cuts rankings."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.runner import run_suite
from evalkit.store import SAMPLES
from tests.conftest import write_jsonl

pytrec_eval = pytest.importorskip("pytrec_eval")

ROWS = [{"id": f"s{i}", "question": f"q{i}", "answer": f"a{i}"} for i in range(10)]


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _qa_suite(tmp_path: Path, dataset_limit: int | None = None) -> Path:
    write_jsonl(tmp_path / "data.jsonl", ROWS)
    limit = "" if dataset_limit is None else f", limit: {dataset_limit}"
    suite = tmp_path / "s.yaml"
    suite.write_text(
        textwrap.dedent(f"""\
        name: align
        bootstrap: {{resamples: 50}}
        tasks:
          - name: t
            dataset: {{path: data.jsonl, id: id, references: answer{limit}}}
            prompt: "{{question}}"
            metrics: [exact_match]
        """),
        encoding="utf-8",
    )
    return suite


def _preds(path: Path, ids: list[str]) -> Path:
    # Every other prediction right, so that a wrongly joined file would change the number.
    rows = [{"id": i, "prediction": f"a{i[1:]}" if int(i[1:]) % 2 == 0 else "x"} for i in ids]
    return write_jsonl(path, rows)


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("warning:")]


# ------------------------------------------------------------------ predictions: ids


def test_unknown_id_is_exit_2_naming_id_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _qa_suite(tmp_path)
    ids = [r["id"] for r in ROWS]
    preds = _preds(tmp_path / "preds.jsonl", [*ids[:6], "s06", *ids[6:]])  # line 7: typo'd
    out = tmp_path / "run"
    code, _, err = _main(
        ["run", str(suite), "--model", f"predictions:{preds}", "--out", str(out), "-q"], capsys
    )
    assert code == 2
    assert f"{preds}:7: id 's06' is not a sample of task 't'" in err
    assert "fix the row or remove it" in err
    assert not out.exists()  # refused before anything was scored or written


def test_unknown_id_is_an_error_also_under_a_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _qa_suite(tmp_path)
    preds = _preds(tmp_path / "preds.jsonl", [r["id"] for r in ROWS] + ["s99"])
    args = ["run", str(suite), "--model", f"predictions:{preds}", "--out", str(tmp_path / "r")]
    code, _, err = _main([*args, "--limit", "3", "-q"], capsys)
    assert code == 2 and f"{preds}:11: id 's99' is not a sample of task 't'" in err


def test_rows_of_other_tasks_are_skipped_and_a_mistyped_task_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _qa_suite(tmp_path)
    rows = [{"id": r["id"], "task": "t", "prediction": r["answer"]} for r in ROWS]
    other = [{"id": "zz", "task": "other", "prediction": ""}]  # a task of another suite
    preds = write_jsonl(tmp_path / "p.jsonl", rows + other)
    args = ["run", str(suite), "--model", f"predictions:{preds}", "-q"]
    code, _, err = _main([*args, "--out", str(tmp_path / "a")], capsys)
    assert code == 0 and _warnings(err) == []
    typo = write_jsonl(tmp_path / "p.jsonl", [*rows[:9], {**rows[9], "task": "tt"}])
    code, _, err = _main([*args, "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and f"{typo}: no prediction for id 's9' of task 't'" in err


@pytest.mark.parametrize("how", ["--limit", "dataset.limit"])
def test_ids_cut_by_a_limit_give_one_line_with_exact_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    suite = _qa_suite(tmp_path, dataset_limit=4 if how == "dataset.limit" else None)
    preds = _preds(tmp_path / "preds.jsonl", [r["id"] for r in ROWS])
    args = ["run", str(suite), "--model", f"predictions:{preds}", "--out", str(tmp_path / "r")]
    code, _, err = _main([*args, *(["--limit", "4"] if how == "--limit" else []), "-q"], capsys)
    assert code == 0
    assert _warnings(err) == [
        f"warning: {preds}: 6 of 10 predictions were ignored: their samples are past the sample "
        "limit (--limit or dataset.limit)."
    ]
    header = json.loads((tmp_path / "r" / "results.json").read_text())
    (row,) = header["results"]
    assert row["n"] == 4 and row["value"] == 0.5  # s0, s2 right; s1, s3 wrong


def test_no_note_when_every_prediction_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _qa_suite(tmp_path)
    preds = _preds(tmp_path / "preds.jsonl", [r["id"] for r in ROWS])
    args = ["run", str(suite), "--model", f"predictions:{preds}", "--out", str(tmp_path / "r")]
    code, _, err = _main([*args, "-q"], capsys)
    assert code == 0 and _warnings(err) == []


def test_resume_after_fixing_the_file_keeps_what_was_computed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _qa_suite(tmp_path)
    preds = _preds(tmp_path / "preds.jsonl", [r["id"] for r in ROWS])
    good = preds.read_bytes()
    out = tmp_path / "run"
    args = ["run", str(suite), "--model", f"predictions:{preds}", "--out", str(out), "-q"]
    assert _main(args, capsys)[0] == 0
    full = json.loads((out / "results.json").read_text())["results"]
    # An interrupted run: the last 4 samples are not saved yet.
    samples = out / SAMPLES
    kept = samples.read_text().splitlines(keepends=True)[:6]
    samples.write_text("".join(kept))
    before = (samples.read_bytes(), (out / "results.json").read_bytes())

    preds.write_bytes(good + b'{"id": "s10", "prediction": "a10"}\n')
    code, _, err = _main([*args, "--resume"], capsys)
    assert code == 2 and f"{preds}:11: id 's10'" in err
    assert (samples.read_bytes(), (out / "results.json").read_bytes()) == before

    preds.write_bytes(good)
    assert _main([*args, "--resume"], capsys)[0] == 0
    assert samples.read_text().splitlines(keepends=True)[:6] == kept
    assert json.loads((out / "results.json").read_text())["results"] == full


# ------------------------------------------------------------------ run files: depth


QUERIES = 5
RANKED = 1500


def _run_fixture(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Qrels and a TREC run of 1,500 documents per query (one query 900), relevant documents
    on both sides of rank 1,000, integer scores with ties."""
    rng = random.Random(7)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    lines = []
    for q in range(QUERIES):
        qid = f"q{q}"
        n = 900 if q == QUERIES - 1 else RANKED
        docs = [f"d{q}_{i:04d}" for i in range(n)]
        scores = {d: float(rng.randrange(400)) for d in docs}
        order = sorted(scores.items(), key=lambda t: (t[1], t[0]), reverse=True)
        judged = [order[i][0] for i in (3, 40, 700, 999, 1000, 1200, 1499) if i < n]
        judged.append(f"d{q}_unranked")
        qrels[qid] = {d: 1 + k % 2 for k, d in enumerate(judged)}
        run[qid] = scores
        lines += [f"{qid} Q0 {d} {r} {s} sys\n" for r, (d, s) in enumerate(order, 1)]
    (tmp_path / "sys.run").write_text("".join(lines), encoding="utf-8")
    write_jsonl(
        tmp_path / "queries.jsonl",
        [{"id": q, "query": q, "qrels": j} for q, j in qrels.items()],
    )
    return qrels, run


def _retrieval_suite(tmp_path: Path, retrieval: str = "") -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: r\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        "    dataset: {path: queries.jsonl, qrels: qrels}\n"
        '    prompt: "{query}"\n'
        f"{retrieval}"
        "    metrics: [map, {ndcg: {k: [null]}}, mrr]\n",
        encoding="utf-8",
    )
    return path


def _cut(run: dict[str, dict[str, float]], depth: int) -> dict[str, dict[str, float]]:
    """The run as trec_eval reads it with ``-M depth``: sorted (score, doc id descending)."""
    out = {}
    for q, scores in run.items():
        order = sorted(scores.items(), key=lambda t: (t[1], t[0]), reverse=True)
        out[q] = dict(order[:depth])
    return out


def _theirs(qrels: dict[str, Any], run: dict[str, dict[str, float]]) -> dict[str, float]:
    measures = {"map", "ndcg", "recip_rank"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    names = {"map": "map", "ndcg": "ndcg", "recip_rank": "mrr"}
    return {names[m]: sum(v[m] for v in per_query.values()) / len(per_query) for m in measures}


def _values(outcome: Any) -> dict[str, float]:
    return {r["metric"]: r["value"] for r in outcome.results}


def test_run_file_is_scored_as_trec_eval_scores_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qrels, run = _run_fixture(tmp_path)
    # retrieval.depth is the retrievers' setting; it does not cut a run file.
    suite = _retrieval_suite(tmp_path, "    retrieval: {depth: 100}\n")
    ours = _values(run_suite(suite, f"trec_run:{tmp_path / 'sys.run'}", tmp_path / "o"))
    theirs = _theirs(qrels, _cut(run, 1000))
    assert set(ours) == {"map", "ndcg", "mrr"}
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
    # The cut matters here: documents past rank 1,000 would change map and ndcg.
    uncut = _theirs(qrels, run)
    assert abs(uncut["map"] - ours["map"]) > 1e-4 and abs(uncut["ndcg"] - ours["ndcg"]) > 1e-4
    assert _warnings(capsys.readouterr().err) == [
        "warning: task 't': 4 of 5 queries had rankings cut at depth 1000 (longest 1500)"
    ]


def test_run_file_depth_is_an_adapter_option_in_its_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qrels, run = _run_fixture(tmp_path)
    suite = _retrieval_suite(tmp_path)
    out = tmp_path / "o"
    args = ["run", str(suite), "--model", f"trec_run:{tmp_path / 'sys.run'}", "--out", str(out)]
    code, _, err = _main([*args, "--model-arg", "depth=100", "-q", "--batch-size", "1"], capsys)
    assert code == 0
    assert _warnings(err) == [
        "warning: task 't': 5 of 5 queries had rankings cut at depth 100 (longest 1500)"
    ]
    header = json.loads((out / "results.json").read_text())
    assert header["model"]["info"]["depth"] == 100
    ours = {r["metric"]: r["value"] for r in header["results"]}
    for name, value in _theirs(qrels, _cut(run, 100)).items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
    lines = [json.loads(ln) for ln in (out / SAMPLES).read_text().splitlines()]
    assert {len(ln["outputs"]["ranking"]) for ln in lines} == {100}


def test_short_runs_give_no_truncation_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_fixture(tmp_path)
    suite = _retrieval_suite(tmp_path)
    run_suite(
        suite,
        f"trec_run:{tmp_path / 'sys.run'}",
        tmp_path / "o",
        model_options={"depth": RANKED},
    )
    assert _warnings(capsys.readouterr().err) == []


def test_bm25_warns_once_per_task_with_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [
        {"id": "d1", "text": "apple pie"},
        {"id": "d2", "text": "apple juice"},
        {"id": "d3", "text": "apple tart"},
        {"id": "d4", "text": "green apple"},
        {"id": "d5", "text": "banana bread"},
        {"id": "d6", "text": "kiwi"},
    ]
    write_jsonl(tmp_path / "corpus.jsonl", docs)
    queries = [
        {"id": "q1", "query": "apple", "qrels": {"d1": 1}},  # 4 matching documents
        {"id": "q2", "query": "kiwi", "qrels": {"d6": 1}},  # 1
        {"id": "q3", "query": "apple banana", "qrels": {"d5": 1}},  # 5
        {"id": "q4", "query": "bread", "qrels": {"d5": 1}},  # 1
    ]
    write_jsonl(tmp_path / "queries.jsonl", queries)
    suite = _retrieval_suite(tmp_path, "    retrieval: {corpus: corpus.jsonl, depth: 2}\n")
    outcome = run_suite(suite, "bm25:", tmp_path / "o", batch_size=1, use_cache=False)
    assert _warnings(capsys.readouterr().err) == [
        "warning: task 't': 2 of 4 queries had rankings cut at depth 2 (longest 5)"
    ]
    lines = [json.loads(ln) for ln in (outcome.path / SAMPLES).read_text().splitlines()]
    assert [len(ln["outputs"]["ranking"]) for ln in lines] == [2, 1, 2, 1]
