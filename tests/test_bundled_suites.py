"""Every bundled suite validates, and the text suites run offline on their bundled systems."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.compare import compare_runs
from evalkit.data.samples import load_dataset
from evalkit.runner import run_suite
from evalkit.suite import load_suite
from tests.conftest import ROOT

SUITES = sorted((ROOT / "suites").glob("*.yaml"))


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_suite_validates_with_its_data(path: Path) -> None:
    suite = load_suite(path)
    for task in suite.tasks:
        assert load_dataset(task.dataset_path, task.spec.dataset, task.templates).samples


@pytest.mark.parametrize(
    ("suite", "systems"),
    [
        ("translation", ("translation/sys_a.jsonl", "translation/sys_b.jsonl")),
        ("summarization", ("quickstart/sys_a.jsonl", "quickstart/sys_b.jsonl")),
        ("classification", ("classification/sys_a.jsonl", "classification/sys_b.jsonl")),
    ],
)
def test_text_suite_runs_and_compares(suite: str, systems: tuple[str, str], tmp_path: Path) -> None:
    runs = []
    for i, system in enumerate(systems):
        out = tmp_path / f"run{i}"
        run_suite(ROOT / "suites" / f"{suite}.yaml", f"predictions:{ROOT / 'suites' / system}", out)
        runs.append(out)
    doc = compare_runs(runs)
    assert doc["comparisons"] and all(0 < r["p_value"] <= 1 for r in doc["comparisons"])
    # System B is the weaker one in both bundled pairs.
    assert doc["regressions"] > 0
