"""The bundled judge suite (suites/judge.yaml) runs offline on its two systems and compares.

Its judge is the rule-based function of suites/judge/rules.py; the agreement with people is
checked against scikit-learn on the run's own record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from evalkit.compare import compare_runs
from evalkit.runner import run_suite
from tests.conftest import ROOT

SUITE = ROOT / "suites" / "judge.yaml"
SYSTEMS = ROOT / "suites" / "judge"


def _values(run: Path) -> dict[tuple[str, str], float]:
    doc = json.loads((run / "results.json").read_text("utf-8"))
    return {
        (r["task"], r["metric"]): float(r["value"])
        for r in doc["results"]
        if r["value"] is not None
    }


def _lines(run: Path, task: str) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text("utf-8").splitlines()]
    return [r for r in rows if r["task"] == task]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("judge-suite")
    out = {}
    for name in ("careful", "sloppy"):
        out[name] = base / name
        outcome = run_suite(SUITE, f"predictions:{SYSTEMS / f'{name}.jsonl'}", out[name])
        assert outcome.exit_code == 0
    return out


def test_the_careful_system_is_graded_and_preferred_higher(runs: dict[str, Path]) -> None:
    careful, sloppy = _values(runs["careful"]), _values(runs["sloppy"])
    assert careful[("graded", "score")] > sloppy[("graded", "score")] + 1.5
    assert careful[("preference", "win_rate")] > sloppy[("preference", "win_rate")]
    doc = compare_runs([runs["careful"], runs["sloppy"]])
    worse = {(r["task"], r["metric"]) for r in doc["comparisons"] if r["change"] == "regressed"}
    assert {("graded", "score"), ("preference", "win_rate")} <= worse


def test_failures_are_counted_never_scored(runs: dict[str, Path]) -> None:
    lines = {r["id"]: r for r in _lines(runs["sloppy"], "graded")}
    # q18's call failed when the file was made: an error, not judged at all.
    assert "503" in lines["q18"]["error"] and not lines["q18"].get("judgments")
    # q30 is an empty answer, which the rule judge refuses to grade: a counted judge failure.
    assert lines["q30"]["stats"]["judge"]["j"] == ["unparsed"]
    v = _values(runs["sloppy"])
    assert v[("graded", "judge_failure_rate")] == pytest.approx(1 / 39)
    assert v[("graded", "unscored")] == 1


def test_the_rule_judges_position_bias_shows(runs: dict[str, Path]) -> None:
    # The careful answers tie with the baseline's on the rules, and a tie goes to answer A.
    v = _values(runs["careful"])
    assert v[("preference", "flip_rate")] > 0.5
    assert v[("preference", "first_position_rate")] > 0.9
    assert v[("preference", "tie_rate")] > 0.5  # order-averaged, the flips are ties


def test_agreement_with_people_equals_scikit_learn(runs: dict[str, Path]) -> None:
    people = {
        json.loads(x)["id"]: json.loads(x)["human"]
        for x in (SYSTEMS / "people.jsonl").read_text("utf-8").splitlines()
    }
    judged, human = [], []
    for line in _lines(runs["careful"], "judge_vs_people"):
        ((correctness, _clarity),) = line["stats"]["judge"]["j"]
        judged.append(int(correctness))
        human.append(people[line["id"]])
    want = cohen_kappa_score(judged, human, labels=[1, 2, 3, 4, 5], weights="quadratic")
    v = _values(runs["careful"])
    assert v[("judge_vs_people", "kappa")] == pytest.approx(want)
    assert 0.6 < want < 1.0  # good agreement, not a copy of the labels


def test_runs_from_another_checkout_compare(runs: dict[str, Path], tmp_path: Path) -> None:
    # The judge's file is identified by its content, not its folder: a copy of the suite
    # elsewhere gives the same signatures, so its runs compare with these.
    import shutil

    shutil.copy(SUITE, tmp_path / "judge.yaml")
    shutil.copytree(SYSTEMS, tmp_path / "judge")
    elsewhere = tmp_path / "run"
    run_suite(
        tmp_path / "judge.yaml", f"predictions:{tmp_path / 'judge' / 'careful.jsonl'}", elsewhere
    )
    doc = compare_runs([elsewhere, runs["sloppy"]])
    assert {r["task"] for r in doc["comparisons"]} == {"graded", "preference", "judge_vs_people"}
