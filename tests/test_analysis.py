"""The Python analysis API: evalkit.run / load_run / load_runs / compare_runs and pandas tables."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import evalkit
from evalkit.api import RESULT_COLUMNS, SAMPLE_COLUMNS, Comparison, Run, Runs
from evalkit.errors import ConfigError, InputError
from evalkit.store import RunRecord
from tests.conftest import write_jsonl

pd = pytest.importorskip("pandas")


@pytest.fixture
def two_runs(tmp_path: Path, make_suite: Callable[..., Path]) -> tuple[Run, Run]:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(12)]
    suite = make_suite(rows=rows)
    good = write_jsonl(
        tmp_path / "good.jsonl", [{"id": str(i), "prediction": f"a{i}"} for i in range(12)]
    )
    half = write_jsonl(
        tmp_path / "half.jsonl",
        [{"id": str(i), "prediction": f"a{i}" if i % 2 else "wrong"} for i in range(12)],
    )
    a = evalkit.run(suite, f"predictions:{good}", tmp_path / "runs" / "a")
    b = evalkit.run(str(suite), f"predictions:{half}", tmp_path / "runs" / "b")
    return a, b


def test_run_returns_a_loaded_run(two_runs: tuple[Run, Run]) -> None:
    a, _ = two_runs
    assert isinstance(a, Run) and isinstance(a, RunRecord)
    assert a.exit_code == 0 and a.label == "a" and a.run_id == a.header["run_id"]
    assert (a.path / "report.html").is_file()
    assert len(a.samples) == 12


def test_results_table(two_runs: tuple[Run, Run]) -> None:
    _, b = two_runs
    df = evalkit.load_run(b.path).to_pandas()
    assert list(df.columns) == list(RESULT_COLUMNS)
    by_metric = df.set_index("metric")["value"]
    assert by_metric["exact_match"] == pytest.approx(0.5)
    assert by_metric["token_f1"] == pytest.approx(0.5)
    assert df["n"].tolist() == [12, 12]


def test_samples_table_has_per_sample_scores(two_runs: tuple[Run, Run]) -> None:
    _, b = two_runs
    df = b.to_pandas("samples")
    assert list(df.columns) == [*SAMPLE_COLUMNS, "score:exact_match", "score:token_f1"]
    assert len(df) == 12
    wrong = df[df.prediction == "wrong"]
    assert len(wrong) == 6 and set(wrong["score:exact_match"]) == {0.0}
    assert set(df[df.prediction != "wrong"]["score:exact_match"]) == {1.0}
    assert df.references.iloc[0] == ["a0"]


def test_load_runs_expands_patterns_and_stacks(two_runs: tuple[Run, Run]) -> None:
    a, b = two_runs
    runs = evalkit.load_runs(str(a.path.parent / "*"))
    assert isinstance(runs, Runs) and [r.label for r in runs] == ["a", "b"]
    assert [r.label for r in evalkit.load_runs(b.path, [a.path])] == ["b", "a"]
    df = runs.to_pandas()
    assert list(df.columns[:3]) == ["run", "run_id", "model"]
    pivot = df.pivot_table(index="metric", columns="run", values="value")
    assert pivot.loc["exact_match", "a"] == 1.0 and pivot.loc["exact_match", "b"] == 0.5
    assert len(runs.to_pandas("samples")) == 24
    with pytest.raises(InputError, match="no run directory matches"):
        evalkit.load_runs(str(a.path.parent / "nothing-*"))


def test_compare_runs_table_and_outputs(two_runs: tuple[Run, Run], tmp_path: Path) -> None:
    a, b = two_runs
    doc = evalkit.compare_runs([a, b.path], out=tmp_path / "ab", resamples=500)
    assert isinstance(doc, Comparison) and isinstance(doc, dict)
    assert {p.name for p in (tmp_path / "ab").iterdir()} >= {"compare.json", "compare.html"}
    df = doc.to_pandas()
    assert len(df) == len(doc["comparisons"]) == 2
    assert df["a_label"].tolist() == ["a", "a"] and df["b_label"].tolist() == ["b", "b"]
    assert df.set_index("metric")["delta"]["exact_match"] == pytest.approx(-0.5)
    assert doc.report_html().startswith("<!DOCTYPE html>")
    assert doc._repr_html_().startswith('<iframe sandbox="allow-scripts"')


def test_to_pandas_errors(two_runs: tuple[Run, Run], monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = two_runs
    with pytest.raises(ConfigError, match="unknown table 'sample'"):
        a.to_pandas("sample")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'evalkit\[pandas\]'"):
        a.to_pandas()


def test_public_names() -> None:
    for name in ("run", "load_run", "load_runs", "compare_runs", "Run", "Runs", "Comparison"):
        assert name in evalkit.__all__
        assert getattr(evalkit, name) is getattr(sys.modules["evalkit.api"], name)
