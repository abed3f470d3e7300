"""The HTML reports in a real browser (headless Chromium): safe, offline, interactive, drawn.

Each test opens a generated report from disk (a ``file://`` URL) and checks what a reader would
see: no console error, no request but the file itself, model output carrying XSS payloads shown
as text with nothing executed (each payload would set ``window.__pwned``), sorting, filtering,
search and paging that change the rows, and a screenshot that is not blank.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.registry import METRICS
from evalkit.report import write_reports
from evalkit.report.compare_files import write_compare_outputs
from evalkit.store import RESULTS, SAMPLES, append_samples, write_json_atomic
from tests.browser import browser, open_report, png_pixel_spread
from tests.conftest import ROOT

__all__ = ["browser"]  # the fixture, imported so that pytest finds it here

pytestmark = pytest.mark.browser

FIXTURES = ROOT / "tests" / "fixtures"
# Each payload sets window.__pwned if the browser ever runs it.
IMG = '<img src=x onerror="window.__pwned=1">'
ATTR = '"><script>window.__pwned=2</script>'
BREAKOUT = "</script><script>window.__pwned=3</script>"
JS_URL = "javascript:window.__pwned=4"
SVG = "<svg onload=window.__pwned=5>"
COMMENT = "<!-- <script>window.__pwned=6</script>"
STYLE = "</style><img src=x onerror=window.__pwned=7>"
PAYLOADS = (IMG, ATTR, BREAKOUT, JS_URL, SVG, COMMENT, STYLE)


def _signature(name: str) -> str:
    return METRICS.get(name).build({}).signature()


def _write_run(path: Path, lines: list[dict[str, Any]], tasks: list[str]) -> Path:
    """A run directory with exact_match / token_f1 results, written with the store's writers."""
    sigs = {m: _signature(m) for m in ("exact_match", "token_f1")}
    results = []
    for t, task in enumerate(tasks):
        for m, metric in enumerate(sigs):
            value = 0.2 + 0.3 * t + 0.1 * m
            results.append(
                {
                    "task": task,
                    "metric": metric,
                    "value": value,
                    "ci_low": value - 0.05,
                    "ci_high": value + 0.05,
                    "n": 10,
                    "n_errors": 0,
                    "higher_is_better": True,
                    "signature": sigs[metric],
                }
            )
    header = {
        "format_version": 1,
        "run_id": "20261121T133500Z-browser",
        "status": "completed",
        "suite": {"name": "browser " + IMG, "path": "suites/x.yaml", "fingerprint": "ab" * 32},
        "model": {"spec": "predictions:" + ATTR, "info": {"adapter": "predictions"}},
        "seed": 0,
        "evalkit_version": "0.1.0",
        "versions": {"python": "3.11.7"},
        "created_at": "2026-11-21T13:35:00Z",
        "finished_at": "2026-11-21T13:36:05Z",
        "bootstrap": {"resamples": 1000, "confidence": 0.95},
        "tasks": [
            {
                "name": task,
                "dataset": {"path": "data.jsonl", "sha256": "cd" * 32, "n": 10},
                "metrics": sigs,
                "metric_params": {m: {} for m in sigs},
            }
            for task in tasks
        ],
        "results": results,
    }
    write_json_atomic(path / RESULTS, header)
    append_samples(path / SAMPLES, lines)
    write_reports(path)
    return path / "report.html"


def _line(task: str, sid: str, prediction: str | None, score: float, **extra: Any) -> dict:
    line: dict[str, Any] = {
        "task": task,
        "id": sid,
        "prompt": f"prompt {sid}",
        "prediction": prediction,
        "references": [f"reference {sid}"],
        "error": None,
        "cached": False,
        "stats": {"exact_match": [float(score >= 0.5)], "token_f1": [score]},
    }
    line.update(extra)
    return line


HOSTILE_TASK = "qa " + SVG


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [_line("qa", f"p{i}", p, i / 10) for i, p in enumerate(PAYLOADS)]
    lines.append(_line("qa", "refs", "fine", 0.9, references=list(PAYLOADS), prompt=COMMENT))
    lines.append(_line(HOSTILE_TASK, "failed", None, 0.0, error="HTTP 500: " + BREAKOUT, stats={}))
    lines.append(
        _line(
            HOSTILE_TASK,
            "ranked",
            None,
            0.5,
            outputs={"ranking": [[IMG, 2.5], [JS_URL, 1.25]]},
        )
    )
    return _write_run(tmp_path_factory.mktemp("hostile"), lines, ["qa", HOSTILE_TASK])


@pytest.fixture(scope="module")
def table_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """137 samples over two tasks: ids s000..s136, token_f1 = (i * 37 % 100) / 100."""
    lines = []
    for i in range(137):
        task = "alpha" if i % 2 == 0 else "beta"
        word = "needle" if i % 10 == 3 else "hay"
        score = (i * 37 % 100) / 100
        extra = {"error": "timeout", "stats": {}} if i % 25 == 24 else {}
        lines.append(_line(task, f"s{i:03d}", f"{word} {i}", score, **extra))
    return _write_run(tmp_path_factory.mktemp("table"), lines, ["alpha", "beta"])


def _visible_rows(page: Any, table: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{table} tbody tr:not([hidden])",
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))",
    )


def _assert_clean(page: Any, log: Any, url_path: Path) -> None:
    assert page.evaluate("() => window.__pwned") is None
    assert log.problems() == []
    assert log.requests == [url_path.resolve().as_uri()]


# --- safety --------------------------------------------------------------------------------


def test_run_report_shows_payloads_as_text_and_runs_none(
    browser: Any, hostile_report: Path
) -> None:
    with open_report(browser, hostile_report) as (page, log):
        page.select_option("#sample-page-size", "500")
        text = page.inner_text("#samples-table")
        for payload in PAYLOADS:
            assert payload in text, payload
        assert "HTTP 500: " + BREAKOUT in text
        # The header and the task names carry payloads too, shown as text.
        assert "browser " + IMG in page.inner_text("h1")
        assert page.locator(f"#sample-task option[value='{HOSTILE_TASK}']").count() == 1
        # Nothing from the data became an element, a link or a handler.
        assert (
            page.evaluate("() => document.querySelectorAll('img, iframe, object, embed').length")
            == 0
        )
        hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
        assert hrefs and all(h.startswith("#") for h in hrefs)
        handlers = page.evaluate(
            """() => Array.from(document.querySelectorAll('*'))
                   .flatMap(e => Array.from(e.attributes).map(a => a.name))
                   .filter(n => n.startsWith('on'))"""
        )
        assert handlers == []
        # Retrieved documents of a retrieval sample are listed, as text.
        page.fill("#sample-search", "ranked")
        page.wait_for_function(
            "() => document.querySelectorAll('#samples-table tbody tr').length === 1"
        )
        assert page.locator("#samples-table ol.ranking li").all_inner_texts() == [
            IMG + " 2.5",
            JS_URL + " 1.25",
        ]
        _assert_clean(page, log, hostile_report)


def test_csp_blocks_fetches_even_from_page_code(browser: Any, hostile_report: Path) -> None:
    with open_report(browser, hostile_report) as (page, log):
        _assert_clean(page, log, hostile_report)
        # Code running in the page (here injected through the devtools protocol) cannot load
        # anything: the policy refuses fetches and new scripts, even data: URLs.
        outcome = page.evaluate(
            """() => fetch('data:text/plain,x').then(() => 'loaded', () => 'blocked')"""
        )
        assert outcome == "blocked"
        added = page.evaluate(
            """() => new Promise(done => {
                 const s = document.createElement('script');
                 s.textContent = 'window.__pwned = 99';
                 document.body.appendChild(s);
                 setTimeout(() => done(window.__pwned === undefined), 50);
               })"""
        )
        assert added is True
        assert any("Content Security Policy" in text for _, text in log.console)


def test_compare_report_is_safe_and_interactive(browser: Any, tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "compare_series_significant.json").read_text("utf-8"))
    doc = copy.deepcopy(doc)
    doc["runs"][0]["label"] = IMG
    doc["series"]["order"][0] = IMG
    doc["comparisons"][0]["task"] = BREAKOUT
    doc["comparisons"][1]["metric"] = SVG
    for entry in doc["examples"]:
        for ex in entry["improved"] + entry["regressed"]:
            ex["prediction_a"], ex["prediction_b"] = IMG, STYLE
            ex["references"] = [JS_URL, COMMENT]
    write_compare_outputs(doc, tmp_path)
    html = tmp_path / "compare.html"
    n_rows = len(doc["comparisons"])
    n_significant = sum(1 for r in doc["comparisons"] if r["significant"])
    with open_report(browser, html) as (page, log):
        page.select_option("#row-page-size", "500")
        assert len(_visible_rows(page, "#comparisons")) == n_rows
        page.check("#row-significant")
        assert len(_visible_rows(page, "#comparisons")) == n_significant
        page.uncheck("#row-significant")
        # Sort by delta: ascending, then descending.
        delta_col = 9  # after the values and n (with what was left out)
        page.click("#comparisons thead th:nth-child(10) button")
        deltas = [float(r[delta_col]) for r in _visible_rows(page, "#comparisons")]
        assert deltas == sorted(deltas) and len(deltas) == n_rows
        page.click("#comparisons thead th:nth-child(10) button")
        deltas = [float(r[delta_col]) for r in _visible_rows(page, "#comparisons")]
        assert deltas == sorted(deltas, reverse=True)
        # Filter by text.
        page.fill("#row-search", "rougeL")
        page.wait_for_function(
            "n => document.querySelectorAll('#comparisons tbody tr:not([hidden])').length < n",
            arg=n_rows,
        )
        rows = _visible_rows(page, "#comparisons")
        assert rows and all("rougeL" in r[2] for r in rows)
        assert page.locator("svg.trend").count() == len(doc["series"]["trend"])
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        assert IMG in page.inner_text("#examples")
        assert page.evaluate("() => document.querySelectorAll('img').length") == 0
        _assert_clean(page, log, html)


# --- interaction ---------------------------------------------------------------------------


def test_results_table_sorts_and_filters(browser: Any, table_report: Path) -> None:
    with open_report(browser, table_report) as (page, log):

        def column(i: int) -> list[str]:
            return [r[i] for r in _visible_rows(page, "#results-table")]

        page.click("#results-table thead th:nth-child(3) button")  # value, ascending
        assert column(2) == ["0.2", "0.3", "0.5", "0.6"]
        assert (
            page.get_attribute("#results-table thead th:nth-child(3)", "aria-sort") == "ascending"
        )
        page.click("#results-table thead th:nth-child(3) button")
        assert column(2) == ["0.6", "0.5", "0.3", "0.2"]
        page.fill("#results-filter", "token_f1")
        assert column(1) == ["token_f1", "token_f1"]
        assert page.inner_text("#results-count") == "2 of 4 rows"
        page.fill("#results-filter", "beta")
        assert column(0) == ["beta", "beta"]
        _assert_clean(page, log, table_report)


def test_sample_table_search_filters_sorts_and_pages(browser: Any, table_report: Path) -> None:
    with open_report(browser, table_report) as (page, log):
        status = "#page-status"
        assert page.inner_text(status) == "Showing 1–50 of 137 · page 1 of 3"
        assert len(_visible_rows(page, "#samples-table")) == 50
        page.click("#page-last")
        assert page.inner_text(status) == "Showing 101–137 of 137 · page 3 of 3"
        assert len(_visible_rows(page, "#samples-table")) == 37
        # Search over predictions (debounced).
        page.fill("#sample-search", "needle")
        needles = [i for i in range(137) if i % 10 == 3]
        page.wait_for_function(
            "n => document.getElementById('page-status').textContent.includes('of ' + n + ' (')",
            arg=len(needles),
        )
        ids = [r[0] for r in _visible_rows(page, "#samples-table")]
        assert ids == [f"s{i:03d}" for i in needles]
        # Task filter on top of the search.
        page.select_option("#sample-task", "beta")
        ids = [r[0] for r in _visible_rows(page, "#samples-table")]
        assert ids == [f"s{i:03d}" for i in needles if i % 2 == 1]
        page.select_option("#sample-task", "")
        page.fill("#sample-search", "")
        page.wait_for_function(
            "() => document.getElementById('page-status').textContent.includes('of 137 ·')"
        )
        # Failed only.
        page.check("#sample-errors")
        ids = [r[0] for r in _visible_rows(page, "#samples-table")]
        assert ids == [f"s{i:03d}" for i in range(137) if i % 25 == 24]
        page.uncheck("#sample-errors")
        # Sort by token_f1 (a per-sample score column): ascending, failed samples last.
        headers = page.eval_on_selector_all(
            "#samples-table thead th", "ths => ths.map(t => t.textContent.trim())"
        )
        col = headers.index("token_f1")
        page.click(f"#samples-table thead th:nth-child({col + 1}) button")
        page.select_option("#sample-page-size", "500")
        rows = _visible_rows(page, "#samples-table")
        scores = [float(r[col]) for r in rows if r[col]]
        assert scores == sorted(scores) and len(scores) == 137 - 5
        assert all(r[col] == "" for r in rows[-5:])
        page.click(f"#samples-table thead th:nth-child({col + 1}) button")
        scores = [float(r[col]) for r in _visible_rows(page, "#samples-table") if r[col]]
        assert scores == sorted(scores, reverse=True)
        _assert_clean(page, log, table_report)


def test_screenshot_is_not_blank(browser: Any, table_report: Path, tmp_path: Path) -> None:
    with open_report(browser, table_report) as (page, log):
        assert page.locator("svg.results-chart").count() == 2
        assert page.locator("svg.histogram").count() == 4  # 2 tasks x (exact_match, token_f1)
        png = page.screenshot(full_page=True)
        (tmp_path / "report.png").write_bytes(png)
        spread, colours = png_pixel_spread(png)
        assert spread > 10, spread
        assert colours > 50, colours
        _assert_clean(page, log, table_report)


# --- scale ---------------------------------------------------------------------------------


def test_10k_sample_report_opens_and_filters(browser: Any, tmp_path: Path) -> None:
    """A 10,000-sample run built by the runner (bench/report_browser.py's data): the report
    opens, draws one page of rows, and search and sort work over all samples. Correctness
    only; ``python bench/report_browser.py`` reports the timings."""
    bench = ROOT / "bench"
    sys.path.insert(0, str(bench))
    try:
        report_browser = importlib.import_module("report_browser")
    finally:
        sys.path.remove(str(bench))
    n = 10_000
    report = report_browser.build_run(tmp_path, n) / "report.html"
    needles = [f"q{i:05d}" for i in range(n) if i % 100 == 7]
    with open_report(browser, report) as (page, log):
        assert page.inner_text("#page-status") == "Showing 1–50 of 10,000 · page 1 of 200"
        assert page.locator("#samples-table tbody tr").count() == 50
        page.fill("#sample-search", report_browser.NEEDLE)
        page.wait_for_function(
            "() => document.getElementById('page-status').textContent.includes('filtered')"
        )
        assert page.inner_text("#page-status") == (
            f"Showing 1–50 of {len(needles)} (filtered from 10,000) · page 1 of 2"
        )
        page.click("#page-next")
        page.select_option("#sample-page-size", "500")
        ids = [r[0] for r in _visible_rows(page, "#samples-table")]
        assert ids == needles
        # Sort all 10,000 by exact_match, descending: 1 (every third sample, whose prediction is
        # the answer, unless the needle was appended) before 0, ties in record order.
        page.fill("#sample-search", "")
        page.wait_for_function(
            "() => !document.getElementById('page-status').textContent.includes('filtered')"
        )
        headers = page.eval_on_selector_all(
            "#samples-table thead th", "ths => ths.map(t => t.textContent.trim())"
        )
        col = headers.index("exact_match")
        button = f"#samples-table thead th:nth-child({col + 1}) button"
        page.click(button)
        page.click(button)
        exact = [f"q{i:05d}" for i in range(n) if i % 3 == 0 and i % 100 != 7]
        rows = _visible_rows(page, "#samples-table")
        assert [r[0] for r in rows] == exact[:500]
        assert {r[col] for r in rows} == {"1"}
        page.click("#page-last")
        rows = _visible_rows(page, "#samples-table")
        assert {r[col] for r in rows} == {"0"} and rows[-1][0] == "q09998"
        _assert_clean(page, log, report)
