"""Judgments from qrels files: BEIR's qrels TSV, ``dataset: {qrels_file: PATH}`` in suites, the
counts and the data identity they add to the record, and parity with pytrec_eval through a real
suite run with ``trec_run:`` rankings (ties, and queries missing on both sides)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from evalkit.data.retrieval import Qrels
from evalkit.data.samples import DatasetSpec, load_dataset
from evalkit.errors import ConfigError, InputError
from evalkit.runner import run_suite
from evalkit.suite import load_suite
from tests.conftest import write_jsonl

BEIR = "query-id\tcorpus-id\tscore\n"


# ----------------------------------------------------------------------------- BEIR TSV files


def test_beir_tsv_with_its_header(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(BEIR + "q1\td1\t2\nq1\td2\t0\n\nq2\td7\t1\n", encoding="utf-8")
    qrels = Qrels.load(path)
    assert qrels.to_dict() == {"q1": {"d1": 2, "d2": 0}, "q2": {"d7": 1}}
    assert qrels.where("q2") == f"{path}:5"


def test_beir_header_is_recognised_whatever_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text(BEIR + "q1\td 1\t1\n", encoding="utf-8")  # tab-separated: ids may hold spaces
    assert Qrels.load(path).to_dict() == {"q1": {"d 1": 1}}


def test_tsv_without_header_three_columns_is_beir_four_is_trec(tmp_path: Path) -> None:
    beir = tmp_path / "a.tsv"
    beir.write_text("q1\td1\t1\nq1\td2\t2\n", encoding="utf-8")
    assert Qrels.load(beir).to_dict() == {"q1": {"d1": 1, "d2": 2}}
    msmarco = tmp_path / "qrels.dev.tsv"  # MS MARCO's qrels: TREC columns in a .tsv
    msmarco.write_text("1048585\t0\t7187158\t1\n2\t0\t1\t1\n", encoding="utf-8")
    assert Qrels.load(msmarco).to_dict() == {"1048585": {"7187158": 1}, "2": {"1": 1}}


def test_trec_qrels_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 d1 1\nq1 0 d2 -1\nq2 Q0 d3 3\n", encoding="utf-8")
    assert Qrels.load(path).to_dict() == {"q1": {"d1": 1, "d2": -1}, "q2": {"d3": 3}}
    path.write_text("q1 0 d1 1\nq1 d2 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"qrels.txt:2: a TREC qrels line has 4 columns"):
        Qrels.load(path)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            "q1\td1\t1\nq1\td2\n",
            r"test.tsv:3: a BEIR qrels line has 3 tab-separated columns.*got 2",
        ),
        ("q1\td1\t1\nq2\td2\thigh\n", r"test.tsv:3: relevance 'high' of document 'd2' is not an"),
        ("q1\td1\t1.5\n", r"test.tsv:2: relevance '1.5' of document 'd1' is not an integer"),
        (
            "q1\td1\t1\n\nq1\td1\t0\n",
            r"test.tsv:4: document 'd1' of query 'q1' is judged twice "
            r"\(first at .*test.tsv:2\)",
        ),
        ("q1\td1\t1\n" + BEIR, r"test.tsv:3: the header line .* is repeated"),
        ("\td1\t1\n", r"test.tsv:2: the query id and the document id must not be empty"),
    ],
)
def test_beir_errors_name_the_line(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "test.tsv"
    path.write_text(BEIR + body, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        Qrels.load(path)


# ----------------------------------------------------------------------- load_dataset / suite


def _queries(tmp_path: Path, ids: list[str]) -> Path:
    return write_jsonl(tmp_path / "queries.jsonl", [{"id": q, "query": f"text {q}"} for q in ids])


def test_load_dataset_attaches_judgments_and_counts(tmp_path: Path) -> None:
    data = _queries(tmp_path, ["q1", "q2", "q3"])
    qrels = tmp_path / "test.tsv"
    qrels.write_text(BEIR + "q1\td1\t2\nq3\td4\t1\nq9\td1\t1\n", encoding="utf-8")
    ds = load_dataset(data, DatasetSpec(path="queries.jsonl", id="id", qrels_file=str(qrels)))
    assert [s.inputs["qrels"] for s in ds.samples] == [{"d1": 2}, {}, {"d4": 1}]
    assert ds.qrels_file is not None
    assert (ds.qrels_file.judged, ds.qrels_file.unjudged, ds.qrels_file.not_in_dataset) == (3, 1, 1)
    info = ds.info("zero")
    assert info["qrels_file"]["note"] == (
        "qrels: 3 queries judged, 1 of the dataset's queries have no judgments (scored as "
        "no_relevant: zero), 1 judged queries are not in the dataset (ignored)"
    )
    assert info["data_sha256"] != info["sha256"]
    plain = load_dataset(data, DatasetSpec(path="queries.jsonl", id="id"))
    assert plain.sha256 == info["data_sha256"] and "qrels_file" not in plain.info()

    # The identity of the data follows the qrels file's content.
    qrels.write_text(BEIR + "q1\td1\t1\nq3\td4\t1\nq9\td1\t1\n", encoding="utf-8")
    again = load_dataset(data, DatasetSpec(path="queries.jsonl", id="id", qrels_file=str(qrels)))
    assert again.sha256 != ds.sha256 and again.data_sha256 == ds.data_sha256


def test_load_dataset_refuses_both_sources_and_a_reserved_field(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "q.jsonl", [{"id": "q1", "qrels": {"d1": 1}}])
    qrels = tmp_path / "q.tsv"
    qrels.write_text(BEIR + "q1\td1\t1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"both a field .* and a file"):
        load_dataset(data, DatasetSpec(path="q.jsonl", qrels="qrels", qrels_file=str(qrels)))
    with pytest.raises(InputError, match="field 'qrels', which is reserved"):
        load_dataset(data, DatasetSpec(path="q.jsonl", qrels_file=str(qrels)))
    with pytest.raises(InputError, match="qrels file not found"):
        load_dataset(data, DatasetSpec(path="q.jsonl", qrels_file=str(tmp_path / "none.tsv")))


def _suite(tmp_path: Path, dataset: str, metrics: str = "[ndcg]", depth: int = 1000) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: r\nbootstrap: {resamples: 50}\ntasks:\n  - name: t\n"
        f"    dataset: {dataset}\n"
        '    prompt: "{query}"\n'
        f"    retrieval: {{depth: {depth}}}\n"
        f"    metrics: {metrics}\n",
        encoding="utf-8",
    )
    return path


def test_suite_resolves_qrels_file_against_the_suite_and_checks_it(tmp_path: Path) -> None:
    _queries(tmp_path, ["q1"])
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text(BEIR + "q1\td1\t1\n", encoding="utf-8")
    suite = load_suite(
        _suite(tmp_path, "{path: queries.jsonl, id: id, qrels_file: qrels/test.tsv}")
    )
    task = suite.tasks[0]
    assert task.request_kind == "retrieve"
    assert task.spec.dataset.qrels_file == str((tmp_path / "qrels" / "test.tsv").resolve())
    assert suite.spec.tasks[0].dataset.qrels_file == "qrels/test.tsv"  # the fingerprint's
    assert task.no_relevant == "zero"

    with pytest.raises(ConfigError, match=r"s.yaml:5: tasks\[0\].dataset.qrels_file: .*both"):
        load_suite(_suite(tmp_path, "{path: queries.jsonl, qrels: q, qrels_file: qrels/test.tsv}"))
    with pytest.raises(ConfigError, match=r"s.yaml:5: .*qrels_file: qrels file .*nope.tsv not"):
        load_suite(_suite(tmp_path, "{path: queries.jsonl, qrels_file: qrels/nope.tsv}"))
    with pytest.raises(ConfigError, match=r"`qrels: FIELD`.*or .*`qrels_file: PATH`"):
        load_suite(_suite(tmp_path, "{path: queries.jsonl}"))


def test_mixed_policies_are_named_in_the_note(tmp_path: Path) -> None:
    _queries(tmp_path, ["q1"])
    (tmp_path / "q.tsv").write_text(BEIR + "q1\td1\t1\n", encoding="utf-8")
    suite = load_suite(
        _suite(
            tmp_path,
            "{path: queries.jsonl, qrels_file: q.tsv}",
            "[ndcg, {map: {no_relevant: skip}}]",
        )
    )
    assert suite.tasks[0].no_relevant == "zero for ndcg, skip for map"


# ------------------------------------------------------------------ parity through a real run

MEASURES = {  # evalkit result name -> (suite metric entry, pytrec_eval measure)
    "map": ("map", "map"),
    "ndcg@10": ("ndcg: {k: [10]", "ndcg_cut_10"),
    "mrr": ("mrr", "recip_rank"),
    "precision@5": ("precision: {k: [5]", "P_5"),
    "recall@100": ("recall: {k: [100]", "recall_100"),
}


def _metrics(policy: str) -> str:
    entries = []
    for entry, _ in MEASURES.values():
        if "{" in entry:
            entries.append(f"{{{entry}, {policy}}}}}")
        else:
            entries.append(f"{{{entry}: {{{policy}}}}}")
    return "[" + ", ".join(entries) + "]"


def _world(seed: int) -> dict[str, Any]:
    """Graded 0/1/2 qrels, a dataset and a run with ties and queries missing on all sides.

    Every judged query has a relevant document, so ``no_relevant: skip`` leaves out exactly the
    unjudged dataset queries (trec_eval evaluates only queries that the qrels judge).
    """
    rng = random.Random(seed)
    pool = [f"d{j:02d}" for j in range(50)] + ["D7", "d7a"]
    universe = [f"q{i:03d}" for i in range(90)]
    qrels: dict[str, dict[str, int]] = {}
    dataset: list[str] = []
    run: dict[str, dict[str, float]] = {}
    for q in universe:
        roll = rng.random()
        judged = roll >= 0.15  # 15%: dataset queries without judgments
        in_dataset = not (0.15 <= roll < 0.27)  # 12%: judged queries the dataset lacks
        if judged:
            docs = rng.sample(pool, rng.randint(1, 10))
            qrels[q] = {d: rng.choice([0, 0, 1, 2]) for d in docs}
            qrels[q][docs[0]] = rng.choice([1, 2])
        if in_dataset:
            dataset.append(q)
            if rng.random() < 0.12:
                continue  # missing from the run
            docs = rng.sample(pool, rng.randint(1, 40))
            if rng.random() < 0.5:  # coarse scores: many ties
                run[q] = {d: float(rng.randint(0, 3)) for d in docs}
            else:
                run[q] = {d: round(rng.uniform(-1, 1), 3) for d in docs}
    for i in range(3):  # run queries that neither the dataset nor the qrels know
        run[f"x{i}"] = {"d01": 1.0}
    return {"qrels": qrels, "dataset": dataset, "run": run}


def _write_run(path: Path, run: dict[str, dict[str, float]]) -> None:
    lines = []
    for q, docs in run.items():
        ranked = sorted(docs.items(), key=lambda t: -t[1])
        lines += [f"{q} Q0 {d} {r} {s} sys\n" for r, (d, s) in enumerate(ranked, start=1)]
    path.write_text("".join(lines), encoding="utf-8")


def _write_qrels(folder: Path, qrels: dict[str, dict[str, int]], shape: str) -> str:
    if shape == "beir":
        (folder / "qrels").mkdir(exist_ok=True)
        rows = [f"{q}\t{d}\t{g}\n" for q, docs in qrels.items() for d, g in docs.items()]
        (folder / "qrels" / "test.tsv").write_text(BEIR + "".join(rows), encoding="utf-8")
        return "qrels/test.tsv"
    rows = [f"{q} 0 {d} {g}\n" for q, docs in qrels.items() for d, g in docs.items()]
    (folder / "qrels.trec").write_text("".join(rows), encoding="utf-8")
    return "qrels.trec"


def _results(outcome: Any) -> dict[str, float]:
    return {r["metric"]: r["value"] for r in outcome.results}


@pytest.mark.parametrize("shape", ["beir", "trec"])
def test_suite_run_matches_pytrec_eval(tmp_path: Path, shape: str) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    world = _world(7 if shape == "beir" else 11)
    qrels, dataset, run = world["qrels"], world["dataset"], world["run"]
    _queries(tmp_path, dataset)
    qrels_path = _write_qrels(tmp_path, qrels, shape)
    _write_run(tmp_path / "sys.run", run)
    evaluated = sorted(set(run) & set(qrels))
    assert evaluated and set(evaluated) <= set(dataset)
    unjudged = [q for q in dataset if q not in qrels]
    lacking = [q for q in qrels if q not in dataset]
    assert unjudged and lacking and [q for q in dataset if q in qrels and q not in run]
    assert any(len(set(v.values())) < len(v) for v in run.values())  # ties in the run

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {m for _, m in MEASURES.values()})
    per_query = evaluator.evaluate(run)
    assert sorted(per_query) == evaluated
    dataset_spec = f"{{path: queries.jsonl, id: id, qrels_file: {qrels_path}}}"
    model = f"trec_run:{tmp_path / 'sys.run'}"
    options = {"unknown_queries": "ignore"}  # the x* run queries

    # trec_eval's default: only the queries in both the run and the qrels count.
    skip = run_suite(
        _suite(tmp_path, dataset_spec, _metrics("missing: skip, no_relevant: skip")),
        model,
        tmp_path / "skip",
        model_options=options,
    )
    got = _results(skip)
    for name, (_, measure) in MEASURES.items():
        expected = sum(per_query[q][measure] for q in evaluated) / len(evaluated)
        assert got[name] == pytest.approx(expected, abs=1e-12), name

    # evalkit's default: every dataset query counts, unjudged and unranked ones as zero.
    zero = run_suite(
        _suite(tmp_path, dataset_spec, _metrics("missing: zero, no_relevant: zero")),
        model,
        tmp_path / "zero",
        model_options=options,
    )
    got = _results(zero)
    for name, (_, measure) in MEASURES.items():
        expected = sum(per_query[q][measure] for q in evaluated) / len(dataset)
        assert got[name] == pytest.approx(expected, abs=1e-12), name

    record = json.loads((tmp_path / "zero" / "results.json").read_text(encoding="utf-8"))
    info = record["tasks"][0]["dataset"]
    assert info["qrels_file"]["note"] == (
        f"qrels: {len(qrels)} queries judged, {len(unjudged)} of the dataset's queries have no "
        f"judgments (scored as no_relevant: zero), {len(lacking)} judged queries are not in the "
        "dataset (ignored)"
    )
    assert info["n"] == len(dataset)
    skip_info = json.loads((tmp_path / "skip" / "results.json").read_text(encoding="utf-8"))
    assert "no_relevant: skip" in skip_info["tasks"][0]["dataset"]["qrels_file"]["note"]
