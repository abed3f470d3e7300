"""Comparison reports (HTML, CSV, Markdown, JUnit) are pure, deterministic and safe.

The fixtures are comparison documents written by :func:`evalkit.compare.compare_runs` on the
quickstart suite (example lists trimmed to keep them small):

- ``compare_pairwise.json``: two systems, every row a significant regression;
- ``compare_series.json``: four checkpoints with 1,000 resamples, where Holm over 68 tests
  leaves nothing significant (the report must say why);
- ``compare_series_significant.json``: the same series with 4,000 resamples, ``top_k=2``:
  significant improvements and regressions against the previous and the best earlier run.

Hostile strings (OWASP XSS filter evasion classics, a script breakout, a ``javascript:`` URL
and a spreadsheet formula) are injected into labels, names, prompts, predictions and
references of copies of these documents.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from evalkit.records import ComparisonRow, RecordError
from evalkit.report._record import typed_comparison
from evalkit.report.compare_files import (
    COMPARE_COLUMNS,
    compare_csv_text,
    write_compare_outputs,
)
from evalkit.report.html import examples as compare_examples
from evalkit.report.html.compare import render_compare_html
from evalkit.report.junit import junit_for_compare, junit_for_run
from evalkit.report.markdown import render_compare_markdown, render_gates_markdown
from evalkit.report.views import change_of, resolution_warning
from tests._csp import assert_strict_csp
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
IMG = "<img src=x onerror=alert(1)>"
BREAKOUT = "</script><script>alert(1)</script>"
JS_URL = "javascript:alert(1)"
FORMULA = "=cmd|' /C calc'!A0"
CONTROL = "bell\x07nul\x00"
PAYLOADS = (IMG, BREAKOUT, JS_URL)


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"compare_{name}.json").read_text("utf-8"))
    return doc


@pytest.fixture(scope="module")
def pairwise() -> dict[str, Any]:
    return _load("pairwise")


@pytest.fixture(scope="module")
def series() -> dict[str, Any]:
    return _load("series")


@pytest.fixture(scope="module")
def series_sig() -> dict[str, Any]:
    return _load("series_significant")


def _hostile(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with payloads in every kind of string a report shows."""
    doc = copy.deepcopy(doc)
    doc["runs"][0]["label"] = IMG
    doc["runs"][0]["model"] = BREAKOUT
    doc["runs"][-1]["label"] = FORMULA
    doc["runs"][-1]["run_id"] = JS_URL
    row = doc["comparisons"][0]
    row["task"] = BREAKOUT
    row["metric"] = IMG
    row["signature"] = FORMULA
    doc["comparisons"][1]["metric"] = CONTROL + JS_URL
    for entry in doc["examples"]:
        for ex in entry["improved"] + entry["regressed"]:
            ex["id"] = IMG
            ex["prompt"] = "<!-- " + BREAKOUT
            ex["prediction_a"] = IMG
            ex["prediction_b"] = BREAKOUT
            ex["references"] = [JS_URL, IMG, "line\u2028sep\u2029para"]
    series = doc.get("series")
    if series:
        series["order"][0] = IMG
        series["trend"][0]["metric"] = BREAKOUT
        series["trend"][0]["points"][0]["label"] = IMG
        for entry in series["forgotten"]:
            for ex in entry["examples"]:
                ex["best_run"] = BREAKOUT
                ex["prediction_best"] = IMG
                ex["prediction_last"] = JS_URL
                ex["references"] = [BREAKOUT]
    return doc


def _json_block(html: str) -> str:
    blocks = re.findall(
        r'<script type="application/json" id="evalkit-compare">(.*?)</script>', html, re.S
    )
    assert len(blocks) == 1
    return blocks[0]


def _regressed(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in doc["comparisons"] if r["change"] == "regressed"]


# --- HTML: safety --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pairwise", "series", "series_significant"])
def test_html_escapes_hostile_strings(name: str) -> None:
    html = render_compare_html(_hostile(_load(name)))
    lowered = html.lower()
    for needle in ("<img", "<script>alert", "<!-- <"):
        assert needle not in lowered, needle
    # Exactly the template's two script elements: the JSON block and the code.
    assert lowered.count("<script") == 2
    assert lowered.count("</script") == 2
    assert "innerhtml" not in lowered and "document.write" not in lowered
    assert "eval(" not in lowered
    # The payloads are visible as text (escaped), not dropped.
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    outside = html.replace(_json_block(html), "")
    # Escaped text may show the words; no element or attribute can carry them.
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", outside, re.I)
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", outside, re.I)
    # The plots lead: the forest plot of an A/B page, the trends of a series.
    assert re.findall(r'href="([^"]*)"', html) == [
        "#differences" if name == "pairwise" else "#trends",
        "#runs",
        "#summary",
        *(["#forgotten"] if name != "pairwise" else []),
        "#examples",
        "#samples",
    ]


@pytest.mark.parametrize("name", ["pairwise", "series"])
def test_html_has_csp_and_no_external_urls(name: str) -> None:
    html = render_compare_html(_hostile(_load(name)))
    assert_strict_csp(html)
    assert "http://" not in html and "https://" not in html
    outside = html.replace(_json_block(html), "")
    # No attribute that loads anything ("src=x" of the payload is only escaped text here).
    loads = r"""<[a-zA-Z][^>]*\s(src|href|action|srcset|poster)\s*=\s*(?!["']?#)"""
    assert not re.search(loads, outside)
    assert "@import" not in html and "url(" not in html


def test_template_has_no_url() -> None:
    import importlib.resources

    text = (importlib.resources.files("evalkit.report") / "templates" / "compare.html").read_text(
        encoding="utf-8"
    )
    assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_json_block_is_escaped_and_round_trips(pairwise: dict[str, Any]) -> None:
    doc = _hostile(pairwise)
    block = _json_block(render_compare_html(doc))
    for ch in ("<", ">", "&", "\u2028", "\u2029"):
        assert ch not in block
    data = json.loads(block)
    summary = {k: v for k, v in doc.items() if k != "examples"}
    assert data["document"] == summary
    assert data["document"]["runs"][0]["label"] == IMG
    assert data["document"]["comparisons"][0]["task"] == BREAKOUT
    assert len(data["rows"]) == len(doc["comparisons"])
    assert [r["significant"] for r in data["rows"]] == [
        r["significant"] for r in doc["comparisons"]
    ]


def test_json_block_keeps_series_trend(series: dict[str, Any]) -> None:
    data = json.loads(_json_block(render_compare_html(series)))
    assert data["document"]["series"]["trend"] == series["series"]["trend"]
    assert "forgotten" not in data["document"]["series"]


# --- HTML: content -------------------------------------------------------------------------


def test_html_header_states_runs_and_settings(pairwise: dict[str, Any]) -> None:
    html = render_compare_html(pairwise)
    for run in pairwise["runs"]:
        assert run["run_id"] in html
        assert run["model"] in html
        assert run["created_at"] in html
    assert "Holm–Bonferroni across all metrics and tasks of this comparison" in html
    assert "two-sided; never below 1/(resamples+1) = 0.000999" in html
    assert "paired bootstrap, 1,000 resamples" in html
    assert "12345" in html and "95% CI" in html
    assert "17 significant regressions" in html
    for task, counts in pairwise["samples"].items():
        assert re.search(rf"<td>{task}</td><td class=\"num\">{counts['common']}</td>", html), task


def test_regressed_rows_are_marked(pairwise: dict[str, Any], series_sig: dict[str, Any]) -> None:
    for doc in (pairwise, series_sig):
        html = render_compare_html(doc)
        rows = re.findall(r'<tr class="([a-z-]+)" data-index="\d+">', html)
        assert len(rows) == len(doc["comparisons"])
        assert rows == [r["change"].replace(" ", "-") for r in doc["comparisons"]]
        assert html.count("▼ regressed</span>") == len(_regressed(doc))
        improved = sum(r["change"] == "improved" for r in doc["comparisons"])
        assert html.count("▲ improved</span>") == improved


def test_significance_is_direction_aware(pairwise: dict[str, Any]) -> None:
    # TER (lower is better) rose from A to B: a regression, although its delta is positive.
    ter = next(r for r in pairwise["comparisons"] if r["metric"] == "ter")
    assert ter["delta"] > 0 and ter["higher_is_better"] is False
    # A ``change`` this version does not name (a newer outcome) is derived from the row.
    stripped = {**ter, "change": "changed"}
    assert change_of(ComparisonRow.model_validate(stripped)) == "regressed"
    flipped = {**stripped, "delta": -ter["delta"]}
    assert change_of(ComparisonRow.model_validate(flipped)) == "improved"
    quiet = {**stripped, "significant": False}
    assert change_of(ComparisonRow.model_validate(quiet)) == "no significant change"
    doc = copy.deepcopy(pairwise)
    for row in doc["comparisons"]:
        row["change"] = "changed"
    assert render_compare_html(doc).count("▼ regressed</span>") == len(doc["comparisons"])


def test_series_has_one_chart_per_trend_with_ci_band(series: dict[str, Any]) -> None:
    html = render_compare_html(series)
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(svgs) == html.count("<svg") == len(series["series"]["trend"])
    for svg, trend in zip(svgs, series["series"]["trend"], strict=True):
        assert svg.count('class="ci-band"') >= 1
        assert svg.count('class="point"') == len(trend["points"])
        assert 'class="trend-line"' in svg
        for label in series["series"]["order"]:
            assert f"<title>{label}</title>" in svg
    pairwise_html = render_compare_html(_load("pairwise"))
    assert pairwise_html.count("<svg") == 1 and 'class="chart-svg forest"' in pairwise_html


def test_series_charts_mark_significant_regressions(series_sig: dict[str, Any]) -> None:
    html = render_compare_html(series_sig)
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    expected: dict[tuple[str, str], set[int]] = {}
    for row in _regressed(series_sig):
        assert row["against"] in ("previous", "best")
        expected.setdefault((row["task"], row["metric"]), set()).add(row["b"])
    assert expected  # the fixture has regressions against the previous and the best run
    assert {r["against"] for r in _regressed(series_sig)} == {"previous", "best"}
    for svg, trend in zip(svgs, series_sig["series"]["trend"], strict=True):
        runs = expected.get((trend["task"], trend["metric"]), set())
        assert svg.count('class="regression"') == len(runs), trend["metric"]
    assert "significant regression of ckpt-4000 against the best run ckpt-2000" in html


def test_series_without_reachable_significance_says_why(series: dict[str, Any]) -> None:
    warning = resolution_warning(typed_comparison(series))
    assert warning is not None and "68/1,001 = 0.0679" in warning
    assert "no comparison can be significant" in render_compare_html(series)
    assert resolution_warning(typed_comparison(_load("series_significant"))) is None


def test_forgotten_section(series: dict[str, Any]) -> None:
    html = render_compare_html(series)
    section = html[html.index('<section id="forgotten">') : html.index('<section id="examples">')]
    assert section.count("<details>") == len(series["series"]["forgotten"])
    first = series["series"]["forgotten"][0]
    assert f"{first['count']} forgotten" in section
    assert first["examples"][0]["prediction_best"] in section
    assert first["examples"][0]["prediction_last"] in section


def test_example_sections_show_both_predictions(
    pairwise: dict[str, Any], series_sig: dict[str, Any]
) -> None:
    html = render_compare_html(pairwise)
    section = html[html.index('<section id="examples">') : html.index('<section id="samples">')]
    assert section.count("<details") == len(pairwise["examples"])
    examples = section.split('<div class="example">')[1:]
    ex = pairwise["examples"][0]["regressed"][0]
    block = next(e for e in examples if f"<code>{ex['id']}</code>" in e)
    assert ex["prediction_a"] in block and ex["prediction_b"] in block
    assert ex["references"][0] in block
    # Pairwise: every example got worse, so only "Most regressed" lists appear.
    assert "Most regressed" in section and "Most improved" not in section
    html = render_compare_html(series_sig)
    section = html[html.index('<section id="examples">') : html.index('<section id="samples">')]
    assert "Most regressed" in section and "Most improved" in section
    # Sections whose comparison regressed come first.
    first = section.index("<details")
    assert section[first : first + 40].startswith('<details class="regressed">')


def test_failed_and_empty_predictions_are_explicit(pairwise: dict[str, Any]) -> None:
    doc = copy.deepcopy(pairwise)
    ex = doc["examples"][0]["regressed"][0]
    ex["prediction_b"] = None
    ex["prediction_a"] = ""
    html = render_compare_html(doc)
    assert "(no prediction: the model call failed)" in html
    assert "(empty string)" in html


def test_large_documents_are_capped(pairwise: dict[str, Any]) -> None:
    doc = copy.deepcopy(pairwise)
    row = doc["comparisons"][0]
    doc["comparisons"] = [
        {**row, "metric": f"m{i}", "change": "no significant change", "significant": False}
        for i in range(3000)
    ]
    long_text = "x" * (compare_examples.MAX_TEXT_CHARS + 500)
    entry = copy.deepcopy(doc["examples"][0])
    entry["regressed"] = [{**entry["regressed"][0], "prompt": long_text}] * 25
    doc["examples"] = [{**entry, "metric": f"m{i}"} for i in range(500)]
    start = time.perf_counter()
    html = render_compare_html(doc)
    assert time.perf_counter() - start < 20
    assert html.count("data-index=") == 3000  # every row is in the file; the script pages them
    section = html[html.index('<section id="examples">') : html.index('<section id="samples">')]
    assert section.count("<details") == compare_examples.MAX_EXAMPLE_SECTIONS
    assert "300 more sections" in section
    assert section.count('<div class="example">') == (
        compare_examples.MAX_EXAMPLE_SECTIONS * compare_examples.MAX_EXAMPLES_PER_LIST
    )
    assert "500 more characters in compare.json" in section
    assert "15 more in compare.json" in section


def test_html_is_deterministic(series_sig: dict[str, Any]) -> None:
    doc = _hostile(series_sig)
    assert render_compare_html(doc) == render_compare_html(copy.deepcopy(doc))


def test_empty_document_renders() -> None:
    doc = {
        "format_version": 1,
        "kind": "pairwise",
        "runs": [],
        "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95},
        "regressions": 0,
        "exit_code": 0,
    }
    html = render_compare_html(doc)
    assert "This comparison has no rows." in html
    assert "no significant regression" in html


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({}, "compare.json: not a comparison: format_version: Field required"),
        ({"format_version": 9}, "compare.json: format_version 9 is newer than this evalkit"),
        ("[]", "compare.json: not a comparison (a JSON object is expected)"),
    ],
)
def test_malformed_document_is_refused_by_every_renderer(doc: Any, problem: str) -> None:
    renderers = (render_compare_html, render_compare_markdown, compare_csv_text, junit_for_compare)
    for render in renderers:
        with pytest.raises(RecordError) as err:
            render(doc)
        assert str(err.value).startswith(problem), render.__name__


def test_malformed_row_is_refused_naming_the_field(tmp_path: Path) -> None:
    doc = copy.deepcopy(_load("pairwise"))
    doc["comparisons"][3]["delta"] = "0.5"  # text where the schema has a number
    with pytest.raises(RecordError) as err:
        write_compare_outputs(doc, tmp_path / "ab")
    assert str(err.value).startswith(f"{tmp_path / 'ab' / 'compare.json'}: not a comparison:")
    assert "comparisons.3.delta: Input should be a valid number" in str(err.value)
    assert err.value.exit_code == 2
    assert not (tmp_path / "ab").exists()  # refused before anything was written


# --- files and CSV ---------------------------------------------------------------------------


def test_write_compare_outputs(tmp_path: Path, series_sig: dict[str, Any]) -> None:
    out = tmp_path / "nested" / "ab"
    paths = write_compare_outputs(series_sig, out)
    assert [p.name for p in paths] == ["compare.json", "compare.csv", "compare.html", "compare.md"]
    assert json.loads((out / "compare.json").read_text("utf-8")) == series_sig
    first = {p.name: p.read_bytes() for p in paths}
    write_compare_outputs(series_sig, out)
    assert {p.name: p.read_bytes() for p in paths} == first
    assert sorted(p.name for p in out.iterdir()) == sorted(first)  # no temporary file left


def test_compare_csv_is_neutralised(pairwise: dict[str, Any]) -> None:
    doc = _hostile(pairwise)
    text = compare_csv_text(doc)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == COMPARE_COLUMNS
    assert len(rows) == 1 + len(doc["comparisons"])
    col = {name: i for i, name in enumerate(COMPARE_COLUMNS)}
    first = rows[1]
    assert first[col["a_label"]] == IMG
    assert first[col["b_label"]] == "'" + FORMULA
    assert first[col["signature"]] == "'" + FORMULA
    assert first[col["task"]] == BREAKOUT
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    # Numbers keep full precision and their sign; flags are true/false.
    assert float(first[col["delta"]]) == doc["comparisons"][0]["delta"]
    assert first[col["significant"]] == "true"
    assert first[col["change"]] == "regressed"
    assert first[col["mcnemar_p"]] == ""
    assert sum(r[col["change"]] == "regressed" for r in rows[1:]) == len(_regressed(doc))


# --- Markdown ----------------------------------------------------------------------------------


def test_markdown_verdict_first_line(
    pairwise: dict[str, Any], series: dict[str, Any], series_sig: dict[str, Any]
) -> None:
    md = render_compare_markdown(pairwise)
    assert md.splitlines()[0] == "### evalkit compare: 17 significant regressions"
    assert "Holm–Bonferroni across all metrics and tasks of this comparison" in md
    assert md.count("**▼** regressed") == 17
    md = render_compare_markdown(series)
    assert md.splitlines()[0] == "### evalkit compare: no significant regression"
    assert "no comparison can be significant" in md
    md = render_compare_markdown(series_sig)
    n_reg = len(_regressed(series_sig))
    assert md.splitlines()[0].startswith(f"### evalkit compare: {n_reg} significant regressions")
    # One screen: significant regressions first, the rest counted.
    table = [line for line in md.splitlines() if line.startswith("| ")][1:]
    assert len(table) == 20
    assert all("regressed" in line for line in table[:n_reg])
    assert "48 more rows (" in md


def test_markdown_escapes_cells(pairwise: dict[str, Any]) -> None:
    md = render_compare_markdown(_hostile(pairwise))
    assert "<img" not in md and "<script" not in md and "</script" not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    assert r"\=cmd" not in md and r"=cmd\|'" in md  # the pipe cannot end the cell
    for line in md.splitlines():
        if line.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", line)) == 13, line


def test_gates_markdown() -> None:
    gates = [
        _gate("min", 0.3, 0.5, "pass"),
        _gate("max", 10.0, 12.0, "fail", message=IMG + " | " + FORMULA),
        _gate("max_drop", 1.0, 0.5, "skipped", message="no baseline run given"),
        _gate(
            "no_significant_regression",
            0.05,
            0.4,
            "fail",
            baseline_value=0.6,
            delta=-0.2,
            p_value=0.001,
            p_adjusted=0.003,
            alpha=0.05,
        ),
    ]
    md = render_gates_markdown(gates)
    assert md.splitlines()[0] == "#### Gates: 2 failed, 1 skipped"
    assert "<img" not in md and "&lt;img" in md
    assert "value ≥ 0.3" in md and "value ≤ 10" in md and "drop from baseline ≤ 1" in md
    assert "no significant regression (alpha 0.05, Holm)" in md
    assert md.count("❌ **fail**") == 2 and md.count("⏭️ skipped") == 1
    assert render_gates_markdown([_gate("min", 0.3, 0.5, "pass")]).startswith(
        "#### Gates: all 1 checked passed"
    )
    assert "No gates declared" in render_gates_markdown([])


# --- JUnit ---------------------------------------------------------------------------------------


def _gate(kind: str, threshold: float, value: float, status: str, **kw: Any) -> dict[str, Any]:
    gate: dict[str, Any] = {
        "task": "qa",
        "metric": "exact_match",
        "kind": kind,
        "threshold": threshold,
        "value": value,
        "baseline_value": None,
        "delta": None,
        "p_value": None,
        "p_adjusted": None,
        "alpha": None,
        "status": status,
        "message": f"{kind} {status}",
    }
    gate.update(kw)
    return gate


@pytest.mark.parametrize("name", ["pairwise", "series", "series_significant"])
def test_junit_for_compare(name: str) -> None:
    doc = _hostile(_load(name))
    xml = junit_for_compare(doc)
    root = ET.fromstring(xml)
    cases = list(root.iter("testcase"))
    assert len(cases) == len(doc["comparisons"]) == int(root.get("tests", "-1"))
    n_reg = len(_regressed(doc))
    assert int(root.get("failures", "-1")) == n_reg
    assert len(list(root.iter("failure"))) == n_reg
    assert sum(int(s.get("failures", "0")) for s in root.iter("testsuite")) == n_reg
    assert root.get("skipped") == "0" and root.get("errors") == "0"
    names = {c.get("name") for c in cases}
    assert any(BREAKOUT in (n or "") for n in names)  # escaped by ElementTree, parsed back
    assert "\\u0007" in xml and "\x07" not in xml and "\x00" not in xml
    assert "timestamp" not in xml and "time=" not in xml
    assert junit_for_compare(copy.deepcopy(doc)) == xml


def test_junit_for_run_counts_gates() -> None:
    header = {
        "format_version": 1,
        "suite": {"name": "quickstart"},
        "model": {"spec": "predictions:" + IMG},
        "bootstrap": {"confidence": 0.9},
        "tasks": [{"name": "qa"}, {"name": "translate"}],
        "results": [
            {
                "task": "qa",
                "metric": "exact_match",
                "value": 0.5,
                "ci_low": 0.25,
                "ci_high": 0.75,
                "n": 16,
                "n_errors": 1,
                "higher_is_better": True,
                "signature": "exact_match|" + BREAKOUT,
            },
            {
                "task": "translate",
                "metric": "bleu",
                "value": 31.2,
                "ci_low": None,
                "ci_high": None,
                "n": 20,
                "n_errors": 0,
                "higher_is_better": True,
                "signature": "bleu",
            },
        ],
    }
    gates = [
        _gate("min", 0.3, 0.5, "pass"),
        _gate("max", 0.4, 0.5, "fail", message="exact_match = 0.5 must be at most 0.4"),
        _gate("max_drop", 1.0, 0.5, "skipped", message="no baseline run given"),
        _gate("no_significant_regression", 0.05, 0.5, "skipped", message="no baseline"),
        _gate("no_significant_regression", 0.05, 0.5, "fail", p_adjusted=0.01, alpha=0.05),
    ]
    xml = junit_for_run(header, gates)
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("7", "2", "2")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["qa", "translate"]
    qa = suites["qa"]
    assert (qa.get("tests"), qa.get("failures"), qa.get("skipped"), qa.get("errors")) == (
        "6",
        "2",
        "2",
        "0",
    )
    names = [c.get("name") for c in qa.iter("testcase")]
    assert names[0] == "qa/exact_match"
    assert names[1:] == [
        "gate qa/exact_match min",
        "gate qa/exact_match max",
        "gate qa/exact_match max_drop",
        "gate qa/exact_match no_significant_regression",
        "gate qa/exact_match no_significant_regression",
    ]
    result_case = qa.find("testcase")
    assert result_case is not None
    assert result_case.find("failure") is None and result_case.find("skipped") is None
    out = result_case.findtext("system-out") or ""
    assert "qa/exact_match = 0.5" in out and "90% CI: [0.25, 0.75]" in out
    assert BREAKOUT in out and IMG in out  # escaped in the XML text, intact once parsed
    failure = qa.find("testcase[@name='gate qa/exact_match max']/failure")
    assert failure is not None and failure.get("message") == "exact_match = 0.5 must be at most 0.4"
    skipped = qa.find("testcase[@name='gate qa/exact_match max_drop']/skipped")
    assert skipped is not None and skipped.get("message") == "no baseline run given"
    assert "<script" not in xml and "<img" not in xml
    assert junit_for_run(header, gates) == xml
    empty = ET.fromstring(junit_for_run({"format_version": 1}, []))  # a run just started
    assert empty.get("tests") == "0"
    with pytest.raises(RecordError, match=r"format_version: Field required"):
        junit_for_run({}, [])
    with pytest.raises(RecordError, match=r"^gates\[4\]: not a gate outcome: status: Field"):
        junit_for_run(header, [*gates[:4], {k: v for k, v in gates[4].items() if k != "status"}])
