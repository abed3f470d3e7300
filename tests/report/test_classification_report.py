"""The run page's classification views: confusion matrix, per-class table, reliability diagram.

Runs of the bundled classification suite, and a run whose labels are XSS payloads, rendered by
the real report code; the structure is checked in the HTML and, where Chromium is installed,
in a real browser (nothing executed, the diagram drawn, the page's strict CSP intact).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import confusion_matrix

from evalkit.metrics.classification.calibration import Calibration
from evalkit.report import render_html
from evalkit.runner import run_suite
from evalkit.store import load_run
from tests._csp import assert_strict_csp
from tests.browser import browser, open_report
from tests.conftest import ROOT

__all__ = ["browser"]

SUITE = ROOT / "suites" / "classification.yaml"
DATA = ROOT / "suites" / "classification"
LABELS = ["positive", "negative", "neutral"]
IMG = '<img src=x onerror="window.__pwned=1">'
BREAKOUT = "</script><script>window.__pwned=2</script>"


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cls-report")
    run_suite(SUITE, f"predictions:{DATA / 'sys_a.jsonl'}", out)
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose reference and predicted labels are payloads."""
    base = tmp_path_factory.mktemp("cls-hostile")
    rows = [json.loads(x) for x in (DATA / "reviews.jsonl").read_text("utf-8").splitlines()]
    for i, r in enumerate(rows):
        if i % 5 == 0:
            r["label"] = IMG
    data = base / "classification"
    data.mkdir()
    (data / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    preds = [json.loads(x) for x in (DATA / "sys_a.jsonl").read_text("utf-8").splitlines()]
    for i, p in enumerate(preds):
        if i % 7 == 0:
            p["prediction"] = BREAKOUT
    pred_file = base / "preds.jsonl"
    pred_file.write_text("".join(json.dumps(p) + "\n" for p in preds), "utf-8")
    suite = base / "classification.yaml"
    suite.write_text(SUITE.read_text("utf-8"), "utf-8")
    run_suite(suite, f"predictions:{pred_file}", base / "run")
    return base / "run"


def _section(html: str, task: str) -> str:
    """The classification views of one task, up to the next task's section."""
    start = html.index(f'<div class="classification" data-task="{task}">')
    end = html.find('<div class="task"', start)
    return html[start : end if end >= 0 else len(html)]


def _matrix(section: str) -> list[list[int]]:
    table = section[section.index('<table class="confusion-matrix">') :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return [
        [int(c) for c in re.findall(r'<td class="num">(?:<strong>)?([\d,]+)', row)]
        for row in body.split("</tr>")
        if "<td" in row
    ]


def test_confusion_matrix_equals_sklearn(run_a: Path) -> None:
    html = render_html(load_run(run_a))
    assert_strict_csp(html)
    truth = [json.loads(x)["label"] for x in (DATA / "reviews.jsonl").read_text().splitlines()]
    pred = [json.loads(x)["prediction"] for x in (DATA / "sys_a.jsonl").read_text().splitlines()]
    section = _section(html, "sentiment")
    # The declared label order (the f1 metric's labels) is the matrix's order.
    assert _matrix(section) == confusion_matrix(truth, pred, labels=LABELS).tolist()
    assert re.findall(r'<th scope="row">([^<]+)</th>', section)[:3] == LABELS
    assert '<table class="per-class">' in section
    # Without declared labels (the second task's f1 is weighted) the order is sorted.
    other = _section(html, "sentiment_alt")
    assert _matrix(other) == confusion_matrix(truth, pred, labels=sorted(LABELS)).tolist()


def test_reliability_diagram_has_one_bar_per_filled_bin(run_a: Path) -> None:
    record = load_run(run_a)
    html = render_html(record)
    section = _section(html, "sentiment")
    svg = section[section.index("<svg") : section.index("</svg>")]
    stats = [s["stats"]["calibration"] for s in record.samples_for("sentiment")]
    bins = Calibration(n_bins=10).bins(stats)
    assert svg.count('class="bar"') == sum(1 for b in bins if b.n)
    assert "equal_width, 10 bins, l1, edge upper" in section
    alt = _section(html, "sentiment_alt")
    assert "equal_mass, 10 bins, l2, edge lower" in alt


def test_hostile_labels_are_escaped(hostile: Path) -> None:
    html = render_html(load_run(hostile))
    assert_strict_csp(html)
    section = _section(html, "sentiment")
    assert IMG not in section and BREAKOUT not in section
    assert "&lt;img src=x onerror=" in section and "&lt;/script&gt;" in section
    assert " style=" not in section


@pytest.mark.browser
def test_views_in_a_browser(browser: Any, hostile: Path) -> None:
    report = hostile / "report.html"
    assert report.is_file()
    with open_report(browser, report) as (page, log):
        tables = page.locator("table.confusion-matrix")
        assert tables.count() == 2
        assert IMG in tables.first.inner_text()
        box = page.locator("svg.reliability").first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150
        assert page.locator("svg.reliability rect.bar").count() > 0
        assert page.evaluate("() => window.__pwned === undefined")
        assert log.problems() == [] and log.requests == [report.resolve().as_uri()]
