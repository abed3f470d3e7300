"""The bundled RAG suite end to end: its data is reproducible, both systems run, and the
comparison finds the inventive system's answers significantly worse and less grounded."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.compare import compare_runs
from evalkit.runner import run_suite
from evalkit.store import load_run
from tests.conftest import ROOT

SUITE = ROOT / "suites" / "rag.yaml"
DATA = ROOT / "suites" / "rag"
SYSTEMS = ("faithful", "inventive")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in SYSTEMS:
        d = tmp_path_factory.mktemp(f"rag-{name}")
        run_suite(SUITE, f"predictions:{DATA / f'{name}.jsonl'}", d)
        out[name] = d
    return out


def _results(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["task"], r["metric"]): r for r in load_run(run).results}


def test_the_data_is_what_the_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_rag_suite", ROOT / "scripts" / "make_rag_suite.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_rag_suite"] = module
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path)]) == 0
    for name in ("questions", *SYSTEMS):
        bundled = (DATA / f"{name}.jsonl").read_bytes()
        assert (tmp_path / f"{name}.jsonl").read_bytes() == bundled
        assert len(bundled) < 200_000
    assert len(_rows(DATA / "questions.jsonl")) == 40


def _by_hand(min_grade: int, k: int | None) -> tuple[float, float]:
    """Mean ragas context precision and recall, written out from the files (no evalkit code)."""
    questions = {q["id"]: q for q in _rows(DATA / "questions.jsonl")}
    precisions, recalls = [], []
    for row in _rows(DATA / "faithful.jsonl"):
        grades = questions[row["id"]]["relevant"]
        relevant = {d for d, g in grades.items() if g >= min_grade}
        ids = [c["id"] for c in row["outputs"]["contexts"]][:k]
        hits, total = 0, 0.0
        for rank, doc in enumerate(ids, start=1):
            if doc in relevant:
                hits += 1
                total += hits / rank
        precisions.append(total / hits if hits else 0.0)
        recalls.append(hits / len(relevant))
    return sum(precisions) / len(precisions), sum(recalls) / len(recalls)


@pytest.mark.parametrize("system", SYSTEMS)
def test_context_metrics_equal_a_hand_computation(runs: dict[str, Path], system: str) -> None:
    rows = _results(runs[system])
    precision, recall = _by_hand(1, None)
    assert rows[("help_qa", "context_precision")]["value"] == pytest.approx(precision, abs=1e-12)
    assert rows[("help_qa", "context_recall")]["value"] == pytest.approx(recall, abs=1e-12)
    precision2, recall2 = _by_hand(2, 2)
    assert rows[("help_qa_source", "context_precision@2")]["value"] == pytest.approx(precision2)
    assert rows[("help_qa_source", "context_recall@2")]["value"] == pytest.approx(recall2)
    r = rows[("help_qa", "context_recall")]
    assert r["ci_low"] < r["value"] < r["ci_high"] and r["n"] == 40


def test_comparison_finds_the_inventive_answers_worse(runs: dict[str, Path]) -> None:
    doc = compare_runs([runs["faithful"], runs["inventive"]])
    rows = {(c["task"], c["metric"]): c for c in doc["comparisons"]}
    # Same retriever, same passages: no change in the context metrics.
    for metric in ("context_precision", "context_recall"):
        c = rows[("help_qa", metric)]
        assert c["delta"] == 0.0 and c["p_value"] == 1.0 and not c["significant"]
    # Changed numbers and invented names: lower overlap with the reference, Holm p < 0.05.
    for metric in ("token_f1", "rougeL", "exact_match"):
        c = rows[("help_qa", metric)]
        assert c["value_b"] < c["value_a"]
        assert c["p_adjusted"] < 0.05 and c["change"] == "regressed", metric
    # Grounding: the inventive answers add names and numbers that no retrieved passage holds
    # and cite passages that were not retrieved; the faithful system is ahead on each, with
    # paired significance (Holm p < 0.05).
    for metric in (
        "faithfulness",
        "unsupported_rate",
        "unsupported_per_answer",
        "citation_precision",
        "citation_recall",
    ):
        c = rows[("help_qa", metric)]
        worse = (
            c["value_b"] < c["value_a"] if c["higher_is_better"] else c["value_b"] > c["value_a"]
        )
        assert worse and c["p_adjusted"] < 0.05 and c["change"] == "regressed", metric
    assert rows[("help_qa", "unsupported_rate")]["higher_is_better"] is False
    assert doc["regressions"] >= 8


def test_faithful_answers_quote_their_context_and_score_as_grounded(runs: dict[str, Path]) -> None:
    for row in _rows(DATA / "faithful.jsonl"):
        passages = {c["id"]: c["text"] for c in row["outputs"]["contexts"]}
        (cited,) = row["outputs"]["citations"]
        assert row["prediction"] in passages[cited]
    rows = _results(runs["faithful"])
    assert rows[("help_qa", "faithfulness")]["value"] == 1.0
    assert rows[("help_qa", "unsupported_rate")]["value"] == 0.0
    assert rows[("help_qa", "citation_precision")]["value"] == 1.0
