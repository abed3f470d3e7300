"""What a comparison row says: one procedure per reading, and what it left out (issue 14).

Real runs of a small suite (bundled translation, QA and digits data; the recorded outputs of
the two quickstart systems, where system B's call for ``tr-07`` failed) compared from their
records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.compare import CompareOptions, compare_runs, verdict_note
from evalkit.runner import run_suite
from evalkit.stats import PAIRED_BOOTSTRAP, RANDOMIZATION
from tests.conftest import QUICKSTART, SYS_A, SYS_B

BASE = QUICKSTART.parent
SUITE = f"""\
name: readings
seed: 0
bootstrap: {{resamples: 300, confidence: 0.95}}
tasks:
  - name: translate
    dataset: {{path: {BASE}/quickstart/translate.jsonl, id: id, references: references}}
    prompt: "Translate from French to English: {{source}}"
    metrics:
      - bleu: {{tokenize: 13a}}
      - chrf
      - distinct_n: {{n: 2}}
  - name: qa
    dataset: {{path: {BASE}/quickstart/qa.jsonl, id: id, references: answers}}
    prompt: "Context: {{context}}\\nQuestion: {{question}}\\nAnswer:"
    metrics: [exact_match, token_f1]
  - name: digits
    model: images:{BASE}/image/noisy.npz
    dataset: {{path: {BASE}/image/samples.jsonl, id: id}}
    prompt: "{{label}}"
    metrics:
      - fid: {{reference: {BASE}/image/reference.npz}}
      - kid: {{reference: {BASE}/image/reference.npz, subsets: 10, subset_size: 100}}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("readings")
    suite = d / "readings.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    run_suite(suite, f"predictions:{SYS_A}", d / "a")
    run_suite(suite, f"predictions:{SYS_B}", d / "b")
    return d / "a", d / "b"


def _rows(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["task"], r["metric"]): r for r in doc["comparisons"]}


def _excludes_zero(row: dict[str, Any]) -> bool:
    lo, hi = row["ci_low"], row["ci_high"]
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def test_identical_runs_show_no_per_sample_wins_for_set_level_metrics(
    runs: tuple[Path, Path],
) -> None:
    # The symptom: two identical image runs showed FID wins/ties/losses of 300/0/0.
    rows = _rows(compare_runs([runs[0], runs[0]], CompareOptions(resamples=100)))
    for key in [("digits", "fid"), ("digits", "kid"), ("translate", "distinct_2")]:
        assert (rows[key]["wins"], rows[key]["ties"], rows[key]["losses"]) == (None,) * 3, key
    bleu = rows[("translate", "bleu")]
    assert (bleu["wins"], bleu["ties"], bleu["losses"]) == (0, bleu["n"], 0)
    fid = rows[("digits", "fid")]
    assert fid["p_value"] == 1.0 and fid["delta"] == 0 and (fid["ci_low"], fid["ci_high"]) == (0, 0)


def test_a_failed_sample_is_said_and_full_run_values_are_shown(runs: tuple[Path, Path]) -> None:
    # The symptom: a comparison showed BLEU on the 19 samples both runs scored (tr-07 failed
    # in B) where A's own report shows BLEU on 20, and the samples table said "left out 0".
    doc = compare_runs([runs[0], runs[1]], CompareOptions(resamples=100))
    bleu = _rows(doc)[("translate", "bleu")]
    own_a = {
        (r["task"], r["metric"]): r
        for r in json.loads((runs[0] / "results.json").read_text())["results"]
    }[("translate", "bleu")]
    assert bleu["n"] == 19 and bleu["left_out"]["failed_b"] == 1
    assert sum(bleu["left_out"].values()) == 1 and bleu["errors_excluded"] == 1
    assert bleu["value_a_full"] == own_a["value"] and bleu["n_a_full"] == 20
    assert bleu["value_a"] != pytest.approx(bleu["value_a_full"])  # A on the 19 common samples
    assert bleu["n_b_full"] == 19 and bleu["value_b"] == pytest.approx(bleu["value_b_full"])
    assert doc["samples"]["translate"] == {
        "common": 20,
        "union": 20,
        "missing": 0,
        "failed": 1,
        "left_out": 1,
        "compared": 19,
    }
    qa = _rows(doc)[("qa", "exact_match")]
    assert sum(qa["left_out"].values()) == 0 and qa["value_a"] == qa["value_a_full"]


def test_ids_missing_from_one_run_are_counted_by_run(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    limited = tmp_path / "limited.yaml"
    limited.write_text(
        SUITE.replace("translate.jsonl, id: id", "translate.jsonl, limit: 10, id: id"),
        encoding="utf-8",
    )
    run_suite(limited, f"predictions:{SYS_B}", tmp_path / "lim")
    doc = compare_runs(
        [runs[0], tmp_path / "lim"], CompareOptions(intersection=True, resamples=100)
    )
    bleu = _rows(doc)[("translate", "bleu")]
    # A has 20 translations, B the first 10, of which tr-07 failed.
    assert bleu["left_out"] == {
        "failed_a": 0,
        "failed_b": 1,
        "failed_both": 0,
        "missing_a": 0,
        "missing_b": 10,
        "missing_other": 0,
    }
    assert bleu["n"] + sum(bleu["left_out"].values()) == 20
    assert doc["samples"]["translate"]["left_out"] == 11


def test_every_reading_names_its_procedures_and_explains_a_disagreement(
    runs: tuple[Path, Path],
) -> None:
    # 100 resamples over many tests: raw p-values below 0.05 that Holm lifts above it.
    doc = compare_runs([runs[0], runs[1]], CompareOptions(resamples=100))
    tests = sum(r["p_value"] is not None for r in doc["comparisons"])
    held_back = 0
    for r in doc["comparisons"]:
        if r["p_value"] is None:
            assert r["change"] == "not tested" and r["p_method"] is None
            continue
        assert r["interval_method"] == r["p_method"] == PAIRED_BOOTSTRAP
        # One procedure: the 95% interval excludes 0 exactly when the raw p is below 0.05.
        assert _excludes_zero(r) == (r["p_value"] < 0.05), r
        if r["change"] == "no significant change" and _excludes_zero(r):
            held_back += 1
            assert r["verdict_note"] == (
                f"significant before the Holm correction over {tests} tests "
                f"(p = {r['p_value']:.4g}), not after (p_holm = {r['p_adjusted']:.4g})"
            )
        if r["significant"]:
            assert r["verdict_note"] is None and _excludes_zero(r)
    assert held_back >= 1


def test_randomization_rows_name_both_procedures(runs: tuple[Path, Path]) -> None:
    doc = compare_runs([runs[0], runs[1]], CompareOptions(test="randomization", resamples=400))
    tested = [r for r in doc["comparisons"] if r["p_value"] is not None]
    assert tested and all(r["p_method"] == RANDOMIZATION for r in tested)
    assert all(r["interval_method"] == PAIRED_BOOTSTRAP for r in tested)
    for r in tested:
        # "no significant change" never sits beside an interval that excludes 0 unexplained,
        # nor "improved"/"regressed" beside one that holds 0.
        if r["significant"] != _excludes_zero(r):
            assert r["verdict_note"], r
        elif r["p_value"] >= 0.05 or r["significant"]:
            assert r["verdict_note"] is None, r


def test_verdict_note_names_each_cause() -> None:
    base = {
        "confidence": 0.95,
        "interval_method": PAIRED_BOOTSTRAP,
        "p_method": PAIRED_BOOTSTRAP,
        "ci_low": 0.1,
        "ci_high": 0.4,
    }
    # Holm: raw p below alpha, adjusted above.
    holm_row = {**base, "p_value": 0.01, "p_adjusted": 0.08, "significant": False}
    assert "before the Holm correction over 8 tests" in str(verdict_note(holm_row, 0.05, 8))
    # Another procedure's p-value.
    ar = {**base, "p_method": RANDOMIZATION, "p_value": 0.07, "p_adjusted": 0.07}
    note = verdict_note({**ar, "significant": False}, 0.05, 1)
    assert note == (
        "the 95% interval (paired bootstrap) excludes 0, but the verdict's approximate "
        "randomization p-value is 0.07 (alpha 0.05)"
    )
    # An alpha stricter than the interval's level.
    strict = {**base, "p_value": 0.02, "p_adjusted": 0.02, "significant": False}
    assert verdict_note(strict, 0.01, 1) == (
        "the 95% interval excludes 0, but the verdict tests at alpha 0.01"
    )
    # Significant, but the interval holds 0 (randomization p).
    sig = {**ar, "ci_low": -0.1, "p_value": 0.01, "p_adjusted": 0.01, "significant": True}
    assert "though the 95% interval (paired bootstrap) contains 0" in str(
        verdict_note(sig, 0.05, 1)
    )
    # Agreement: no note.
    fine = {**base, "p_value": 0.001, "p_adjusted": 0.001, "significant": True}
    assert verdict_note(fine, 0.05, 1) is None
