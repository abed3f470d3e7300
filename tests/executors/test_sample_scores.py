"""Each sample line records its metrics' per-sample primary values at scoring time, and the
reports read them from the record (``scores``) instead of rebuilding metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.executors.base import has_sample_scores
from evalkit.registry import METRICS
from evalkit.report.scores import per_sample_scores
from evalkit.runner import run_suite
from evalkit.store import RunRecord, load_run
from tests.conftest import SYS_A, quickstart_tasks

TASKS = ["translate", "summarize", "qa", "stereotype", "diversity", "digits"]


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> RunRecord:
    tmp = tmp_path_factory.mktemp("scores")
    suite = quickstart_tasks(tmp / "qs.yaml", TASKS)
    run_suite(suite, f"predictions:{SYS_A}", tmp / "run")
    return load_run(tmp / "run")


def test_lines_hold_the_primary_values_of_per_sample_metrics(record: RunRecord) -> None:
    params = {t["name"]: t["metric_params"] for t in record.header["tasks"]}
    checked = 0
    for task in TASKS:
        lines = [s for s in record.samples if s["task"] == task and s["error"] is None]
        assert lines, task
        for key in lines[0]["stats"]:
            metric = METRICS.get(key).build(params[task].get(key) or {})
            if not has_sample_scores(metric):
                assert all(key not in s.get("scores", {}) for s in lines), (task, key)
                continue
            expected = metric.per_sample_values([s["stats"][key] for s in lines])
            for s, i in zip(lines, range(len(lines)), strict=True):
                for name in metric.primary_values():
                    assert s["scores"][key][name] == pytest.approx(expected[name][i], abs=0)
            checked += 1
    assert checked >= 5  # bleu, chrf, ter, rouge, exact_match, token_f1, stereotype...


def test_set_level_metrics_record_no_scores(record: RunRecord) -> None:
    digits = [s for s in record.samples if s["task"] == "digits"]
    diversity = [s for s in record.samples if s["task"] == "diversity"]
    assert digits and diversity
    assert all("fid" not in s.get("scores", {}) for s in digits)
    assert all("distinct_n" not in s.get("scores", {}) for s in diversity)


def test_reports_read_the_recorded_scores_and_equal_the_rebuilt_ones(
    record: RunRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    columns, scores = per_sample_scores(record)
    assert {"bleu", "chrf", "rougeL", "exact_match"} <= set(columns)
    # The same record without the recorded scores goes the old way (rebuilding the metrics):
    # the columns and numbers must agree where the old way has them.
    legacy = RunRecord(
        record.path,
        record.header,
        [{k: v for k, v in s.items() if k != "scores"} for s in record.samples],
    )
    old_columns, old_scores = per_sample_scores(legacy)
    assert set(old_columns) <= set(columns)
    for new, old in zip(scores, old_scores, strict=True):
        for name, value in old.items():
            assert new[name] == pytest.approx(value, rel=1e-12), name

    # Reading recorded scores never touches the metric registry.
    def refuse(name: str) -> None:
        raise AssertionError(f"report rebuilt metric {name}")

    monkeypatch.setattr(METRICS, "get", refuse)
    assert per_sample_scores(record) == (columns, scores)


def test_scores_survive_the_file(record: RunRecord) -> None:
    lines = [json.loads(x) for x in (Path(record.path) / "samples.jsonl").read_text().splitlines()]
    assert any("scores" in ln for ln in lines)
    assert all(
        isinstance(v, float)
        for ln in lines
        for m in ln.get("scores", {}).values()
        for v in m.values()
    )
