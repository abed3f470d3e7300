"""Gates that cannot pass by accident: `evalkit gate`, gates.json, the report's gate section, JUnit.

The runs are real: the bundled quickstart translations of two systems (sys_b's BLEU is 62.6
points below sys_a's) scored with BLEU and chrF by `run_suite`, then checked through the CLI.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.gates import GATES_FILE, check_gates, read_gate_check
from evalkit.runner import RunOptions, run_suite
from evalkit.stats import holm
from evalkit.store import load_run, write_json_atomic
from tests.conftest import ROOT, SYS_A, SYS_B

TRANSLATE = ROOT / "suites" / "quickstart" / "translate.jsonl"


def _suite(path: Path, gates: str = "", tasks: tuple[str, ...] = ("translate",)) -> Path:
    """A suite of translation tasks on the bundled data, with BLEU and chrF, and ``gates``."""
    text = "name: gates-test\nseed: 0\nbootstrap: {resamples: 200}\ntasks:\n"
    for task in tasks:
        text += (
            f"  - name: {task}\n"
            f"    dataset: {{path: {TRANSLATE}, id: id, references: references}}\n"
            '    prompt: "Translate from French to English: {source}"\n'
            "    metrics: [bleu, chrf]\n"
        )
        if gates:
            text += f"    gates:\n{gates}"
    path.write_text(text, encoding="utf-8")
    return path


def _run(suite: Path, system: Path, out: Path, baseline: Path | None = None) -> Path:
    run_suite(suite, f"predictions:{system}", out, RunOptions(use_cache=False, baseline=baseline))
    return out


def _predictions(path: Path, tasks: tuple[str, ...]) -> Path:
    """sys_a's translations, repeated for each of ``tasks``."""
    rows = [json.loads(x) for x in SYS_A.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if r.get("task") == "translate"]
    lines = [json.dumps(dict(r, task=task)) for task in tasks for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def ungated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(baseline, candidate) runs of a suite without gates: sys_a, then the much worse sys_b."""
    d = tmp_path_factory.mktemp("ungated")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_INDEX", str(d / "index.sqlite"))
        suite = _suite(d / "s.yaml")
        yield _run(suite, SYS_A, d / "base"), _run(suite, SYS_B, d / "cand")


@pytest.fixture
def runs(ungated: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Private copies of the ungated runs (`evalkit gate` writes into the run folder)."""
    return (
        Path(shutil.copytree(ungated[0], tmp_path / "base")),
        Path(shutil.copytree(ungated[1], tmp_path / "cand")),
    )


def test_gate_without_gates_is_an_error_not_a_pass(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = runs
    bleu = {r["metric"]: r["value"] for r in load_run(base).results}["bleu"]
    worse = {r["metric"]: r["value"] for r in load_run(cand).results}["bleu"]
    assert bleu - worse > 60  # the regression that used to pass with exit 0
    code, out, err = _main(["gate", str(cand), "--baseline", str(base)], capsys)
    assert code == 2, out
    assert "declares no gates" in err and "{metric: bleu, min:" in err
    assert "--fail-on-regression" in err
    assert not (cand / GATES_FILE).exists()  # nothing was checked, so nothing is recorded
    code, _, err = _main(["gate", str(cand)], capsys)
    assert code == 2 and "declares no gates" in err
    code, _, err = _main(["gate", str(cand), "--fail-on-regression"], capsys)
    assert code == 2 and "--fail-on-regression needs --baseline" in err


def test_fail_on_regression_tests_every_primary_value_with_holm(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = runs
    junit = cand / "junit.xml"
    args = ["gate", str(cand), "--baseline", str(base), "--fail-on-regression"]
    code, _, err = _main([*args, "--junit", str(junit)], capsys)
    assert code == 1 and "2 gate(s) failed" in err
    doc = json.loads((cand / GATES_FILE).read_text())
    gates = doc["gates"]
    assert [(g["metric"], g["kind"], g["source"]) for g in gates] == [
        ("bleu", "no_significant_regression", "--fail-on-regression"),
        ("chrf", "no_significant_regression", "--fail-on-regression"),
    ]
    assert all(g["status"] == "fail" and g["delta"] < 0 for g in gates)
    # One Holm correction across all the tests of the check.
    assert [g["p_adjusted"] for g in gates] == pytest.approx(holm([g["p_value"] for g in gates]))
    assert all(g["p_adjusted"] < 0.05 for g in gates)
    assert doc["failed"] is True and doc["baseline"]["path"] == str(base)
    assert doc["settings"]["fail_on_regression"] is True
    # The report re-rendered from the folder shows the verdicts and a red badge.
    html = (cand / "report.html").read_text()
    assert 'class="pill bad" id="run-status">gate failed<' in html
    assert html.index('id="gates"') < html.index('id="results"')
    assert "Checked by evalkit gate (against the baseline" in html
    # JUnit: one test case per gate check, each failure carrying its message.
    root = ET.parse(junit).getroot()
    cases = [c for c in root.iter("testcase") if c.get("name", "").startswith("gate ")]
    assert [c.get("name") for c in cases] == [
        "gate translate/bleu no_significant_regression",
        "gate translate/chrf no_significant_regression",
    ]
    failures = [c.find("failure") for c in cases]
    assert all(f is not None and "significant regression" in f.get("message", "") for f in failures)


def test_fail_on_regression_passes_a_run_against_itself(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = runs
    code, out, _ = _main(
        ["gate", str(base), "--baseline", str(base), "--fail-on-regression"], capsys
    )
    assert code == 0 and "gates: 2 passed, 0 failed, 0 skipped" in out
    gates = json.loads((base / GATES_FILE).read_text())["gates"]
    assert [g["p_value"] for g in gates] == [1.0, 1.0]
    html = (base / "report.html").read_text()
    assert 'class="pill ok" id="run-status">completed<' in html


def test_too_few_resamples_to_ever_fail_is_an_error(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = runs
    args = ["gate", str(cand), "--baseline", str(base), "--fail-on-regression"]
    code, _, err = _main([*args, "--resamples", "20"], capsys)
    # Holm over 2 tests with p >= 1/21: 2/21 > 0.05, so no regression could be significant.
    assert code == 2 and "too few" in err and "at least 40" in err


def test_declared_gates_without_baseline_skip_relative_keep_absolute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gates = (
        "      - {metric: chrf, min: 30}\n"
        "      - {metric: bleu, min: 50}\n"
        "      - {metric: bleu, max_drop: 2}\n"
        "      - {metric: chrf, no_significant_regression: true}\n"
    )
    suite = _suite(tmp_path / "s.yaml", gates)
    cand = _run(suite, SYS_B, tmp_path / "cand")
    # The run itself checked the gates without a baseline and recorded them.
    recorded = load_run(cand).header["gates"]
    assert [(g["kind"], g["status"]) for g in recorded] == [
        ("min", "pass"),
        ("min", "fail"),  # sys_b's BLEU 16.5 is under 50: absolute gates apply without a baseline
        ("max_drop", "skipped"),
        ("no_significant_regression", "skipped"),
    ]
    assert all(g["message"].startswith("no baseline yet") for g in recorded[2:])
    html = (cand / "report.html").read_text()
    assert "gate failed" in html and "Checked when the run finished (no baseline)" in html
    # `--fail-on-regression` without a baseline is allowed when the suite has gates: its own
    # tests are reported as skipped too.
    code, out, err = _main(["gate", str(cand), "--fail-on-regression"], capsys)
    assert code == 1 and "1 gate(s) failed" in err
    gates_doc = json.loads((cand / GATES_FILE).read_text())["gates"]
    added = [g for g in gates_doc if g["source"] == "--fail-on-regression"]
    # chrF already has a regression gate in the suite; only BLEU gets one from the flag.
    assert [(g["metric"], g["status"]) for g in added] == [("bleu", "skipped")]
    assert out.count("SKIP") == 3 and "no baseline yet" in out


def test_baseline_missing_a_task_skips_it_and_a_foreign_baseline_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gates = "      - {metric: bleu, min: 10}\n      - {metric: bleu, max_drop: 2}\n"
    base = _run(_suite(tmp_path / "a.yaml", gates), SYS_A, tmp_path / "base")
    tasks = ("translate", "translate_new")
    two = _suite(tmp_path / "b.yaml", gates, tasks=tasks)
    cand = _run(two, _predictions(tmp_path / "two.jsonl", tasks), tmp_path / "cand")
    by_task = {(g["task"], g["kind"]): g for g in check_gates(load_run(cand), load_run(base))}
    assert by_task[("translate", "max_drop")]["status"] == "pass"
    new = by_task[("translate_new", "max_drop")]
    assert new["status"] == "skipped" and "has no task 'translate_new'" in new["message"]
    assert by_task[("translate_new", "min")]["status"] == "pass"
    other = _suite(tmp_path / "o.yaml", gates, tasks=("other",))
    foreign = _run(other, _predictions(tmp_path / "o.jsonl", ("other",)), tmp_path / "foreign")
    code, _, err = _main(["gate", str(cand), "--baseline", str(foreign)], capsys)
    assert code == 2 and "shares no task" in err


def test_report_ignores_a_gate_check_of_an_earlier_record(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = runs
    _main(["gate", str(cand), "--baseline", str(base), "--fail-on-regression"], capsys)
    record = load_run(cand)
    assert read_gate_check(cand, record.header) is not None
    # As after `--resume`: the record finished again, later; the old check no longer applies.
    header = dict(record.header, finished_at="2999-01-01T00:00:00Z")
    write_json_atomic(cand / "results.json", header)
    assert read_gate_check(cand, header) is None
    code, _, _ = _main(["report", str(cand)], capsys)
    html = (cand / "report.html").read_text()
    assert code == 0 and "gate failed" not in html and "No gates:" in html


def test_malformed_gate_file_is_an_input_error(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, cand = runs
    (cand / GATES_FILE).write_text("{not json", encoding="utf-8")
    code, _, err = _main(["report", str(cand)], capsys)
    assert code == 2 and GATES_FILE in err and "evalkit gate" in err


def test_a_gate_that_checks_nothing_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "s.yaml", "      - {metric: bleu}\n")
    code, _, err = _main(["validate", str(suite)], capsys)
    assert code == 2 and "s.yaml:" in err and "tasks[0].gates[0]" in err
    assert "checks nothing: add min, max, max_drop or no_significant_regression" in err
