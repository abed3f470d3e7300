"""The comparison and run reports as a reader sees them, in headless Chromium.

Runs come from a trimmed copy of the bundled quickstart suite replayed with the bundled system
outputs (see :mod:`tests.report.test_report_charts`): an A/B comparison whose page opens with a
forest
plot, a three-checkpoint series written by ``evalkit compare RUNS --series step`` whose trend
plots come before every table, and the run report's samples table, whose id column must stay
readable in a narrow window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.report.compare_files import write_compare_outputs
from evalkit.runner import RunOptions, run_suite
from tests.browser import browser, open_report, png_pixel_spread
from tests.conftest import SYS_A, SYS_B, write_jsonl
from tests.report.test_report_charts import KEEP, ab_document, trimmed_quickstart

__all__ = ["browser"]  # the fixture, imported so that pytest finds it here

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The A/B comparison's folder (with runs ``a`` and ``b``) and its document."""
    root = tmp_path_factory.mktemp("ab")
    doc = ab_document(root)
    write_compare_outputs(doc, root / "compare")
    return root, doc


def _assert_clean(log: Any, path: Path) -> None:
    assert log.problems() == []
    assert log.requests == [path.resolve().as_uri()]


def test_forest_plot_has_one_row_per_compared_value_with_its_interval(
    browser: Any, ab: tuple[Path, dict[str, Any]]
) -> None:
    root, doc = ab
    html = root / "compare" / "compare.html"
    rows = doc["comparisons"]
    with open_report(browser, html) as (page, log):
        drawn = page.eval_on_selector_all(
            "svg.forest g.forest-row",
            """groups => groups.map(g => {
                 const box = e => e && e.getBoundingClientRect();
                 const point = box(g.querySelector('.forest-point'));
                 const ci = box(g.querySelector('.forest-ci'));
                 return {
                   verdict: g.getAttribute('data-verdict'),
                   label: g.querySelector('text.label').textContent,
                   text: g.querySelector('text.forest-text').textContent,
                   point: point && (point.left + point.right) / 2,
                   ci: ci && [ci.left, ci.right, ci.width],
                 };
               })""",
        )
        zero = page.eval_on_selector(
            "svg.forest .forest-zero", "z => z.getBoundingClientRect().left"
        )
        top = page.eval_on_selector_all(
            "#differences, #comparisons, table",
            "els => els.map(e => e.getBoundingClientRect().top)",
        )
        shot = page.locator("svg.forest").screenshot()
        _assert_clean(log, html)
    assert len(drawn) == len(rows)
    assert top[0] < min(top[1:])  # the forest plot comes before every table
    for row, seen in zip(rows, drawn, strict=True):
        assert seen["label"].startswith(f"{row['task']} · {row['metric']}")
        assert seen["point"] is not None
        if row["change"] == "not tested":
            assert seen["verdict"] == "not tested" and seen["ci"] is None
            assert "not tested" in seen["text"]
            continue
        assert seen["verdict"] == row["change"]
        left, right, width = seen["ci"]
        if row["ci_high"] > row["ci_low"]:
            assert width > 2
            # The line is the interval, on the side of the zero line its numbers are on.
            if row["ci_high"] < 0:
                assert right < zero
            elif row["ci_low"] > 0:
                assert left > zero
            else:
                assert left <= zero <= right
        if row["ci_low"] <= row["delta"] <= row["ci_high"]:
            assert left - 1 <= seen["point"] <= right + 1
    assert any(r["change"] == "regressed" for r in rows)
    assert any(r["change"] == "not tested" for r in rows)
    spread, colours = png_pixel_spread(shot)
    assert spread > 5 and colours > 20  # drawn, not blank


def _series(root: Path) -> Path:
    """Three checkpoints of the trimmed suite (translation and QA), a growing share of system
    A's outputs each, compared with ``evalkit compare RUNS --series step``."""
    suite = trimmed_quickstart(root / "suite.yaml", KEEP)
    a = [json.loads(x) for x in SYS_A.read_text("utf-8").splitlines()]
    b = [json.loads(x) for x in SYS_B.read_text("utf-8").splitlines()]
    runs = []
    for step, share in (("1000", 0.2), ("2000", 1.0), ("3000", 0.6)):
        k = int(len(a) * share)
        preds = write_jsonl(root / f"p{step}.jsonl", a[:k] + b[k:])
        run_suite(
            suite, f"predictions:{preds}", root / f"run{step}", RunOptions(labels={"step": step})
        )
        runs.append(str(root / f"run{step}"))
    out = root / "series"
    with pytest.raises(SystemExit) as exc:
        main(["compare", *runs, "--series", "step", "--resamples", "500", "--out", str(out)])
    assert exc.value.code in (0, 1)
    return out / "compare.html"


def test_series_page_shows_trend_plots_before_the_tables(browser: Any, tmp_path: Path) -> None:
    html = _series(tmp_path)
    with open_report(browser, html) as (page, log):
        charts = page.eval_on_selector_all(
            "svg.trend", "els => els.map(e => e.getBoundingClientRect().top)"
        )
        tables = page.eval_on_selector_all(
            "table", "els => els.map(e => e.getBoundingClientRect().top)"
        )
        assert page.locator("svg.forest").count() == 0  # a series has its trends instead
        first_link = page.eval_on_selector("nav a", "a => a.getAttribute('href')")
        _assert_clean(log, html)
    doc = json.loads((html.parent / "compare.json").read_text("utf-8"))
    assert len(charts) == len(doc["series"]["trend"]) > 0
    assert tables and max(charts) < min(tables)
    assert first_link == "#trends"


def test_samples_id_column_is_wide_enough_to_read(
    browser: Any, ab: tuple[Path, dict[str, Any]]
) -> None:
    root, _ = ab
    report = root / "a" / "report.html"
    # A narrow window squeezes the many text columns; each id must still read on one line.
    with open_report(browser, report) as (page, log):
        page.set_viewport_size({"width": 900, "height": 800})
        cells = page.eval_on_selector_all(
            "#samples-table tbody tr td:first-child",
            """cells => cells.map(td => {
                 const range = document.createRange();
                 range.selectNodeContents(td);
                 return [td.textContent, range.getClientRects().length,
                         td.getBoundingClientRect().width];
               })""",
        )
        _assert_clean(log, report)
    assert cells and any(len(text) >= 5 for text, _, _ in cells)
    for text, lines, width in cells:
        assert lines == 1, (text, lines, width)
