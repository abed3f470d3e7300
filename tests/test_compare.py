"""Comparisons over run records: refusals, paired results, series, gates, index, CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.compare import CompareOptions, compare_runs
from evalkit.errors import ConfigError
from evalkit.gates import check_gates
from evalkit.runner import RunOptions, run_suite
from evalkit.store import load_run
from tests.conftest import QUICKSTART, SYS_A, SYS_B, quickstart_copy, quickstart_tasks, write_jsonl


@pytest.fixture(scope="module")
def ab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("ab")
    run_suite(QUICKSTART, f"predictions:{SYS_A}", d / "a")
    run_suite(QUICKSTART, f"predictions:{SYS_B}", d / "b")
    return d / "a", d / "b"


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_same_run_twice_is_never_significant(ab: tuple[Path, Path]) -> None:
    doc = compare_runs([ab[0], ab[0]], CompareOptions(resamples=200))
    assert doc["exit_code"] == 0 and doc["regressions"] == 0
    tested = [r for r in doc["comparisons"] if r["change"] != "not tested"]
    assert all(r["p_value"] == 1.0 and not r["significant"] for r in tested)
    assert all(r["delta"] == 0 for r in doc["comparisons"])


def test_set_level_metrics_that_skip_resampling_are_not_tested(ab: tuple[Path, Path]) -> None:
    # KID and IS (resample = False: a kernel or split computation per resample) get values and
    # a delta but no paired test; they stay out of the Holm correction. Digits-FID is tested.
    doc = compare_runs([ab[0], ab[1]], CompareOptions(resamples=200))
    rows = {r["metric"]: r for r in doc["comparisons"] if r["task"] == "digits"}
    for name in ("kid", "inception_score"):
        row = rows[name]
        assert row["p_value"] is None and row["p_adjusted"] is None and row["ci_low"] is None
        assert row["change"] == "not tested" and row["significant"] is False
        assert row["value_a"] == row["value_b"] and row["delta"] == 0  # the same pinned model
    assert rows["fid"]["p_value"] == 1.0 and rows["fid"]["change"] == "no significant change"
    tested = [r for r in doc["comparisons"] if r["p_value"] is not None]
    assert len(tested) == len(doc["comparisons"]) - 2


def test_a_vs_b_finds_regressions_with_holm(ab: tuple[Path, Path]) -> None:
    doc = compare_runs([ab[0], ab[1]], CompareOptions(resamples=2000))
    rows = {(r["task"], r["metric"]): r for r in doc["comparisons"]}
    bleu = rows[("translate", "bleu")]
    assert bleu["value_b"] < bleu["value_a"] and bleu["ci_high"] < 0
    assert bleu["n"] == 19 and bleu["errors_excluded"] == 1  # B's failed call is not scored
    m = sum(r["p_value"] is not None for r in doc["comparisons"])  # tests Holm corrects
    assert bleu["p_value"] == pytest.approx(1 / 2001)
    assert bleu["p_adjusted"] == pytest.approx(min(1.0, m / 2001))
    assert bleu["change"] == "regressed" and doc["exit_code"] == 1
    ter = rows[("translate", "ter")]
    assert ter["delta"] > 0 and ter["change"] == "regressed"  # TER: higher is worse
    em = rows[("qa", "exact_match")]
    assert em["mcnemar_p"] is not None and em["mcnemar_p"] < 0.01
    assert em["wins"] + em["ties"] + em["losses"] == em["n"]
    # ROUGE's precision and recall are diagnostics: only the F-measures are tested.
    assert ("summarize", "rougeL") in rows and ("summarize", "rougeL_precision") not in rows
    ex = next(e for e in doc["examples"] if e["metric"] == "bleu")
    worst = ex["regressed"][0]
    assert worst["score_a"] > worst["score_b"] and worst["references"]
    assert doc["settings"]["correction"] == "holm"


def test_mismatched_signature_is_refused(ab: tuple[Path, Path], tmp_path: Path) -> None:
    suite = quickstart_copy(
        tmp_path / "q.yaml", lambda t: t.replace("bleu: {tokenize: 13a}", "bleu: {tokenize: intl}")
    )
    run_suite(suite, f"predictions:{SYS_B}", tmp_path / "intl")
    with pytest.raises(ConfigError, match=r"metric 'bleu' differs .*tok: 13a vs intl"):
        compare_runs([ab[0], tmp_path / "intl"])


def test_disjoint_samples_refused_unless_intersection(
    ab: tuple[Path, Path], tmp_path: Path
) -> None:
    # Only the first 10 translations (a dataset limit: `--limit 10` would leave 10 digits, too
    # few for FID's covariance).
    limited = quickstart_copy(
        tmp_path / "lim.yaml",
        lambda t: t.replace("translate.jsonl,", "translate.jsonl, limit: 10,"),
    )
    run_suite(limited, f"predictions:{SYS_B}", tmp_path / "lim")
    with pytest.raises(ConfigError, match=r"scored different samples.*--intersection"):
        compare_runs([ab[0], tmp_path / "lim"])
    doc = compare_runs([ab[0], tmp_path / "lim"], CompareOptions(intersection=True, resamples=100))
    counts = doc["samples"]["translate"]
    assert (counts["common"], counts["union"], counts["missing"]) == (10, 20, 10)
    assert counts["left_out"] == 11  # 10 missing from B, and tr-07 failed in B
    bleu = next(r for r in doc["comparisons"] if r["metric"] == "bleu")
    assert (bleu["n"], bleu["errors_excluded"]) == (9, 1)  # tr-07 failed in B


def test_unfinished_run_is_refused(ab: tuple[Path, Path], tmp_path: Path) -> None:
    shutil.copytree(ab[1], tmp_path / "b")
    header = json.loads((tmp_path / "b" / "results.json").read_text())
    header["status"] = "running"
    (tmp_path / "b" / "results.json").write_text(json.dumps(header))
    with pytest.raises(ConfigError, match="--resume"):
        compare_runs([ab[0], tmp_path / "b"])


def _mix(tmp_path: Path, name: str, share_a: float) -> Path:
    a = [json.loads(x) for x in SYS_A.read_text().splitlines()]
    b = [json.loads(x) for x in SYS_B.read_text().splitlines()]
    k = int(len(a) * share_a)
    return write_jsonl(tmp_path / name, a[:k] + b[k:])


def test_checkpoint_series(tmp_path: Path) -> None:
    # The text tasks only: the set-level diversity and image tasks add minutes of resampling
    # and nothing that this test checks.
    suite = quickstart_tasks(tmp_path / "text.yaml", ["translate", "summarize", "qa"])
    shares = {"1000": 0.2, "2000": 1.0, "3000": 0.6}
    for step, share in shares.items():
        preds = _mix(tmp_path, f"p{step}.jsonl", share)
        run_suite(
            suite,
            f"predictions:{preds}",
            tmp_path / f"run{step}",
            RunOptions(labels={"step": step}),
        )
    runs = [tmp_path / "run3000", tmp_path / "run1000", tmp_path / "run2000"]  # any order
    doc = compare_runs(runs, CompareOptions(series="step"))
    assert doc["series"]["order"] == ["step=1000", "step=2000", "step=3000"]
    assert doc["settings"]["tests"] == len(doc["comparisons"])
    assert doc["settings"]["resamples"] >= 4 * len(doc["comparisons"]) / 0.05
    trend = next(t for t in doc["series"]["trend"] if t["metric"] == "exact_match")
    assert [p["label"] for p in trend["points"]] == doc["series"]["order"]
    assert all(p["ci_low"] <= p["value"] <= p["ci_high"] for p in trend["points"])
    against = {(r["a"], r["b"], r["against"]) for r in doc["comparisons"]}
    assert {(0, 1, "previous"), (1, 2, "previous")} <= against
    forgot = next(f for f in doc["series"]["forgotten"] if f["metric"] == "exact_match")
    assert forgot["count"] > 0 and forgot["examples"][0]["best_run"] == "step=2000"


def test_gates_against_a_baseline(ab: tuple[Path, Path], tmp_path: Path) -> None:
    # These three gates in place of the bundled translate task's; lm_step0600 keeps its
    # `perplexity max` gate (the same bundled model in every run: it passes).
    ours = (
        "      - {metric: chrf, min: 30}\n      - {metric: bleu, max_drop: 5}\n"
        "      - {metric: ter, no_significant_regression: true, alpha: 0.05}\n"
    )
    suite = quickstart_copy(
        tmp_path / "g.yaml",
        lambda t: re.sub(
            r"(    gates:\n)(      - \{metric: (?:chrf|bleu)[^\n]*\n)+", r"\g<1>" + ours, t, count=1
        ),
    )
    base = run_suite(suite, f"predictions:{SYS_A}", tmp_path / "base")
    assert [g["status"] for g in base.header["gates"]] == ["pass", "skipped", "skipped", "pass"]
    same = run_suite(
        suite, f"predictions:{SYS_A}", tmp_path / "same", RunOptions(baseline=tmp_path / "base")
    )
    assert same.exit_code == 0 and [g["status"] for g in same.header["gates"]] == ["pass"] * 4
    worse = run_suite(
        suite, f"predictions:{SYS_B}", tmp_path / "worse", RunOptions(baseline=tmp_path / "base")
    )
    assert worse.exit_code == 1
    by_kind = {g["kind"]: g for g in worse.header["gates"]}
    assert by_kind["max_drop"]["status"] == "fail" and by_kind["max_drop"]["delta"] < -5
    reg = by_kind["no_significant_regression"]
    assert reg["status"] == "fail" and reg["p_adjusted"] < 0.05 and "regression" in reg["message"]
    # `evalkit gate` gives the same verdict from the records alone.
    again = check_gates(load_run(tmp_path / "worse"), load_run(tmp_path / "base"))
    assert [g["status"] for g in again] == [g["status"] for g in worse.header["gates"]]


def test_index_and_latest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_INDEX", str(tmp_path / "index.sqlite"))
    run_suite(QUICKSTART, f"predictions:{SYS_A}", tmp_path / "r1")
    run_suite(QUICKSTART, f"predictions:{SYS_B}", tmp_path / "r2")
    code, out, _ = _main(["runs", "--suite", "quickstart", "--json"], capsys)
    listed = json.loads(out)
    assert code == 0 and [Path(r["path"]).name for r in listed] == ["r2", "r1"]
    code, out, _ = _main(["runs", "--model", "sys_b"], capsys)
    assert "sys_b" in out and "sys_a" not in out
    code, out, _ = _main(
        [
            "compare",
            "--latest",
            "2",
            "--suite",
            "quickstart",
            "--out",
            str(tmp_path / "cmp"),
        ],
        capsys,
    )
    assert code == 1 and "significant regression" in out
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [Path(r["path"]).name for r in doc["runs"]] == ["r1", "r2"]  # oldest is the baseline
    code, _, err = _main(["compare", "--latest", "5", "--suite", "quickstart"], capsys)
    assert code == 2 and "needs 5" in err


def test_compare_cli_outputs(
    ab: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out_dir = tmp_path / "cmp"
    code, _, _ = _main(
        [
            "compare",
            str(ab[0]),
            str(ab[1]),
            "--out",
            str(out_dir),
            "--junit",
            str(tmp_path / "j.xml"),
        ],
        capsys,
    )
    assert code == 1
    for name in ("compare.html", "compare.csv", "compare.json", "compare.md"):
        assert (out_dir / name).is_file(), name
    assert "regression" in summary.read_text()
    import xml.etree.ElementTree as ET

    root = ET.parse(tmp_path / "j.xml").getroot()
    assert (
        len(root.findall(".//failure"))
        == json.loads((out_dir / "compare.json").read_text())["regressions"]
    )
    code, _, err = _main(["compare", str(ab[0])], capsys)
    assert code == 2 and "at least two" in err


def test_gate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"id": str(i), "question": f"the answer is {i}", "answer": f"the answer is {i}"}
        for i in range(40)
    ]
    write_jsonl(tmp_path / "data.jsonl", rows)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: g\ntasks:\n  - name: t\n    dataset: {path: data.jsonl, references: answer}\n"
        '    prompt: "{question}"\n    metrics: [token_f1]\n'
        "    gates:\n      - {metric: token_f1, no_significant_regression: true}\n"
    )
    script = tmp_path / "worse.json"
    script.write_text(
        json.dumps({"responses": {f"the answer is {i}": "no idea" for i in range(0, 40, 2)}})
    )
    run_suite(suite, "scripted:echo", tmp_path / "base")
    run_suite(suite, f"scripted:{script}", tmp_path / "cand")
    code, out, _ = _main(["gate", str(tmp_path / "cand")], capsys)
    assert code == 0 and "SKIP" in out and "no baseline" in out
    code, out, err = _main(
        [
            "gate",
            str(tmp_path / "cand"),
            "--baseline",
            str(tmp_path / "base"),
            "--junit",
            str(tmp_path / "g.xml"),
        ],
        capsys,
    )
    assert code == 1 and "FAIL" in out and "significant regression" in out
    assert "1 gate(s) failed" in err
    import xml.etree.ElementTree as ET

    assert len(ET.parse(tmp_path / "g.xml").getroot().findall(".//failure")) == 1
    code, out, _ = _main(
        ["gate", str(tmp_path / "base"), "--baseline", str(tmp_path / "base")], capsys
    )
    assert code == 0 and "PASS" in out
