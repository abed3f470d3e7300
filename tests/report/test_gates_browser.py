"""The gate verdicts of a run report in a real browser (headless Chromium, tests/browser.py).

A run that failed a gate shows a red "gate failed" badge and the gate table with the failing
row; a run that passed every gate shows a green "completed" badge. The runs are real
(`run_suite` on the bundled quickstart translations), the reports written by the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalkit.runner import RunOptions, run_suite
from tests.browser import browser, open_report
from tests.conftest import ROOT, SYS_A, SYS_B

__all__ = ["browser"]  # the fixture, imported so that pytest finds it here

pytestmark = pytest.mark.browser

TRANSLATE = ROOT / "suites" / "quickstart" / "translate.jsonl"
SUITE = f"""name: gates-browser
seed: 0
bootstrap: {{resamples: 100}}
tasks:
  - name: translate
    dataset: {{path: {TRANSLATE}, id: id, references: references}}
    prompt: "Translate from French to English: {{source}}"
    metrics: [bleu, chrf]
    gates:
      - {{metric: bleu, min: 50}}
      - {{metric: chrf, min: 30}}
      - {{metric: bleu, max_drop: 2}}
"""


def _report(tmp_path: Path, system: Path, name: str) -> Path:
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    run_suite(suite, f"predictions:{system}", tmp_path / name, RunOptions(use_cache=False))
    return tmp_path / name / "report.html"


def _rgb(page: Any, selector: str) -> tuple[int, ...]:
    text = page.eval_on_selector(selector, "el => getComputedStyle(el).color")
    return tuple(int(float(x)) for x in text[text.index("(") + 1 : text.index(")")].split(",")[:3])


def _gate_rows(page: Any) -> list[list[str]]:
    return [
        [c.strip() for c in row.split("\t")]
        for row in page.locator("#gates-table tbody tr").all_inner_texts()
    ]


def test_failed_gate_shows_a_red_badge_and_the_gate_table(browser: Any, tmp_path: Path) -> None:
    with open_report(browser, _report(tmp_path, SYS_B, "fail")) as (page, log):
        assert page.inner_text("#run-status") == "gate failed"
        red, green, blue = _rgb(page, "#run-status")
        assert red > 150 and red > 2 * green and red > 2 * blue
        rows = _gate_rows(page)
        assert [r[:3] for r in rows] == [
            ["translate", "bleu", "min"],
            ["translate", "chrf", "min"],
            ["translate", "bleu", "max drop"],
        ]
        assert [r[7] for r in rows] == ["FAIL", "pass", "skipped"]
        assert rows[0][4] == "50" and rows[0][3].startswith("16.5")
        assert "no baseline yet" in rows[2][8]
        assert page.locator("[role=alert]").first.inner_text().startswith("1 gate check failed")
        # The gate verdicts come before the results on the page.
        above = page.evaluate(
            "() => document.querySelector('#gates').getBoundingClientRect().top"
            " < document.querySelector('#results').getBoundingClientRect().top"
        )
        assert above is True
        assert log.problems() == []


def test_passing_gates_show_a_green_badge(browser: Any, tmp_path: Path) -> None:
    with open_report(browser, _report(tmp_path, SYS_A, "pass")) as (page, log):
        assert page.inner_text("#run-status") == "completed"
        red, green, _ = _rgb(page, "#run-status")
        assert green > red
        assert [r[7] for r in _gate_rows(page)] == ["pass", "pass", "skipped"]
        assert page.locator("[role=alert]").count() == 0
        assert log.problems() == []
