"""Charts and comparison files people read: numeric histograms, scales that fit the data, a
forest plot of every compared value, and comparisons that say what they left out.

The comparison tests use real runs of a trimmed copy of the bundled quickstart suite
(translation with BLEU/chrF/TER, QA, and the digits image task with FID, KID and IS), replayed
with the bundled system outputs (``predictions:`` adapter): system B's output for one
translation sample is a failed call, so that sample is left out of every translation row.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.compare import CompareOptions, compare_runs
from evalkit.records import ResultRow
from evalkit.report.compare_files import compare_csv_text, write_compare_outputs
from evalkit.report.html.charts import forest_svg, histogram, histogram_svg, results_svg
from evalkit.report.html.compare import render_compare_html
from evalkit.report.markdown import render_compare_markdown
from evalkit.runner import RunOptions, run_suite
from tests._csp import assert_strict_csp
from tests.conftest import ROOT, SYS_A, SYS_B, quickstart_copy

FIXTURES = ROOT / "tests" / "fixtures"
#: The tasks kept from the quickstart suite, and their metrics (None: all of them).
KEEP: dict[str, list[str] | None] = {"translate": ["bleu", "chrf", "ter"], "qa": None}
KEEP_IMAGES: dict[str, list[str] | None] = {**KEEP, "digits": None}


def _found(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """``re.search`` that fails the test, naming the pattern, when nothing matches."""
    match = re.search(pattern, text, flags)
    assert match is not None, f"no match for {pattern!r}"
    return match


def trimmed_quickstart(path: Path, keep: dict[str, list[str] | None]) -> Path:
    """A copy of the quickstart suite with only the ``keep`` tasks and metrics, no gates and
    200 bootstrap resamples (seconds to run on two cores)."""

    def edit(text: str) -> str:
        doc = yaml.safe_load(text)
        tasks = []
        for task in doc["tasks"]:
            if task["name"] not in keep:
                continue
            wanted = keep[task["name"]]
            if wanted is not None:
                task["metrics"] = [
                    m
                    for m in task["metrics"]
                    if (m if isinstance(m, str) else next(iter(m))) in wanted
                ]
            task.pop("gates", None)
            tasks.append(task)
        doc["tasks"] = tasks
        doc["bootstrap"] = {"resamples": 200, "confidence": 0.95}
        return yaml.safe_dump(doc, sort_keys=False)

    return quickstart_copy(path, edit)


def ab_document(root: Path) -> dict[str, Any]:
    """Runs of systems A and B on the trimmed suite (with images), and their comparison."""
    suite = trimmed_quickstart(root / "suite.yaml", KEEP_IMAGES)
    run_suite(suite, f"predictions:{SYS_A}", root / "a", RunOptions())
    run_suite(suite, f"predictions:{SYS_B}", root / "b", RunOptions())
    return compare_runs([root / "a", root / "b"], CompareOptions(resamples=300))


@pytest.fixture(scope="module")
def ab_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return ab_document(tmp_path_factory.mktemp("ab"))


def _texts(svg: str, cls: str) -> list[str]:
    return re.findall(rf'<text class="{cls}"[^>]*>([^<]*)', svg)


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


# --- histograms --------------------------------------------------------------------------------


def test_histogram_bins_have_round_edges_and_span_only_the_data() -> None:
    # Per-sample perplexities of the bundled tiny GPT-2 range from about 26 to 137.
    values = [26.4, 31.0, 44.2, 58.9, 61.5, 77.7, 90.1, 102.3, 119.8, 137.2]
    bins = histogram(values)
    edges = [lo for lo, _, _ in bins] + [bins[-1][1]]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(edges)}
    assert steps == {10.0}
    assert all(e == round(e) and e % 10 == 0 for e in edges)
    assert edges[0] <= 26.4 < edges[0] + 10 and edges[-1] - 10 < 137.2 <= edges[-1]
    assert sum(c for _, _, c in bins) == len(values)
    # Fractions get fine round bins, not [0, 1] cut in twentieths of the observed range.
    small = histogram([0.012, 0.015, 0.021, 0.024, 0.03, 0.031])
    assert small[0][0] == pytest.approx(0.012) and small[-1][1] == pytest.approx(0.031)
    assert {round(hi - lo, 6) for lo, hi, _ in small} == {0.001}


@pytest.mark.parametrize(
    ("values", "low", "high"),
    [
        ([26.4, 58.9, 90.1, 137.2], 20, 140),  # perplexities
        ([32.7, 48.9, 67.3, 80.9, 100.0, 100.0, 100.0], 30, 100),  # sentence BLEU, 0-100
        ([0.021, 0.024, 0.027, 0.03, 0.033], 0.021, 0.033),  # small fractions
    ],
)
def test_histogram_axis_is_numeric_and_scaled_to_the_data(
    values: list[float], low: float, high: float
) -> None:
    svg = histogram_svg(values, "t", "perplexity")
    ticks = [_number(t) for t in _texts(svg, "tick")]
    counts = [int(t) for t in _texts(svg, "count")]
    assert sum(counts) == len(values)  # every bar says how many samples it holds
    x_ticks = [t for t in ticks if t not in range(0, len(values) + 5)] or ticks
    assert min(x_ticks) >= low - 1e-9 and max(x_ticks) <= high + 1e-9
    # The axis uses the data's range: its ticks cover at least half of it.
    assert max(x_ticks) - min(x_ticks) >= 0.5 * (max(values) - min(values))
    assert ">perplexity<" in svg and ">samples<" in svg  # axis titles
    assert re.search(r"<title>\[[0-9.,]+, [0-9.,]+\): \d+ samples?</title>", svg)


def test_histogram_tick_labels_use_the_precision_of_their_step() -> None:
    svg = histogram_svg([i / 100 for i in range(0, 101, 3)], "t")
    labels = [t for t in _texts(svg, "tick") if "." in t]
    assert labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    svg = histogram_svg([2.1e10 * (1 + i) for i in range(6)], "t")
    assert "2e10" in _texts(svg, "tick") or "5e10" in _texts(svg, "tick")


def test_discrete_scores_get_one_labelled_bar_each() -> None:
    svg = histogram_svg([0.0] * 5 + [1.0] * 11, "exact match", "exact_match")
    assert svg.count('class="bar"') == 2
    assert _texts(svg, "tick")[-2:] == ["0", "1"]
    assert _texts(svg, "count") == ["5", "11"]


def test_result_bars_are_scaled_to_their_values() -> None:
    common: dict[str, Any] = {"task": "t", "n": 4, "n_errors": 0, "signature": "s"}
    rows = [
        ResultRow(metric="perplexity", value=137.0, ci_low=120.0, ci_high=150.0,
                  higher_is_better=False, **common),
        ResultRow(metric="rate", value=0.02, ci_low=0.01, ci_high=0.03, higher_is_better=True,
                  **common),
    ]  # fmt: skip
    svg = results_svg(rows, "t")
    ends = re.findall(r'font-size="9"[^>]*>([^<]*)</text>', svg)
    assert ends == ["0", "150", "0", "0.03"]


# --- forest plot -------------------------------------------------------------------------------


def test_forest_svg_draws_points_intervals_and_the_zero_line() -> None:
    rows: list[dict[str, Any]] = [
        {"label": "t · bleu", "delta": -65.4, "ci_low": -79.7, "ci_high": -52.3,
         "verdict": "regressed", "text": "Δ -65.4"},
        {"label": "t · f1", "delta": 0.1, "ci_low": 0.05, "ci_high": 0.15,
         "verdict": "improved", "text": "Δ 0.1"},
        {"label": "t · kid", "delta": 0.0, "ci_low": float("nan"), "ci_high": None,
         "verdict": "not tested", "text": "Δ 0 · not tested"},
    ]  # fmt: skip
    svg = forest_svg(rows, "forest")
    groups = re.findall(r'<g class="forest-row".*?</g>', svg, re.S)
    assert len(groups) == 3 and svg.count('class="forest-zero"') == 1
    zero = float(_found(r'class="forest-zero" x1="([0-9.]+)"', svg).group(1))
    for group, row in zip(groups, rows, strict=True):
        verdict = row["verdict"].replace(" ", "-")
        assert f'class="forest-point {verdict}"' in group
        path = re.search(r'class="forest-ci" d="M([0-9.]+),[0-9.]+ H([0-9.]+)', group)
        if row["verdict"] == "not tested":
            assert path is None and "not tested" in group
            continue
        assert path is not None
        left, right = float(path.group(1)), float(path.group(2))
        # The interval is on the side of 0 its numbers are on.
        assert (right < zero) if row["ci_high"] < 0 else (left > zero)


# --- comparisons say what they left out ----------------------------------------------------------


def test_compare_html_leads_with_the_forest_and_names_what_was_left_out(
    ab_doc: dict[str, Any],
) -> None:
    html = render_compare_html(ab_doc)
    assert_strict_csp(html)
    assert html.index('<section id="differences">') < html.index('<section id="summary">')
    forest = _found(r'<svg class="chart-svg forest".*?</svg>', html, re.S).group(0)
    assert forest.count('class="forest-row"') == len(ab_doc["comparisons"])
    not_tested = [r for r in ab_doc["comparisons"] if r["change"] == "not tested"]
    assert not_tested  # KID and IS skip resampling
    assert forest.count('data-verdict="not tested"') == len(not_tested)
    # Translation rows: system B's call failed on one sample, left out of both runs' values.
    bleu = next(r for r in ab_doc["comparisons"] if r["metric"] == "bleu")
    assert bleu["n"] == 19 and bleu["left_out"]["failed_b"] == 1
    row_html = _found(r'<tr class="[a-z-]+" data-index="0">.*?</tr>', html, re.S).group(0)
    assert "1 left out: 1 failed in b" in row_html
    assert "full run 79.17 (n 20)" in row_html and "81.92" in row_html
    # FID is a set-level metric: no wins, ties and losses, a dash, never 0 / 0 / 0.
    fid = next(i for i, r in enumerate(ab_doc["comparisons"]) if r["metric"] == "fid")
    fid_html = _found(rf'<tr class="[a-z-]+" data-index="{fid}">.*?</tr>', html, re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", fid_html.group(0), re.S)
    assert "—" in cells and "0 / 0 / 0" not in fid_html.group(0)
    # The samples table says what was left out of translation, and why.
    samples = html[html.index('<section id="samples">') :]
    assert re.search(r"<td>translate</td>.*?>1</td><td>1 failed in a run</td>", samples, re.S)


def test_compare_markdown_and_csv_name_what_was_left_out(ab_doc: dict[str, Any]) -> None:
    md = render_compare_markdown(ab_doc)
    bleu_line = next(line for line in md.splitlines() if "| bleu" in line)
    assert "81.92 (full run 79.17 (n 20))" in bleu_line
    assert "19 (1 left out: 1 failed in b)" in bleu_line
    fid_line = next(line for line in md.splitlines() if "| fid" in line)
    assert "0/0/0" not in fid_line and fid_line.split(" | ")[10] == "—"
    rows = list(csv.DictReader(io.StringIO(compare_csv_text(ab_doc))))
    bleu = next(r for r in rows if r["metric"] == "bleu")
    assert bleu["left_out"] == "1" and bleu["left_out_failed_b"] == "1"
    assert bleu["left_out_why"] == "1 failed in b"
    assert float(bleu["value_a_full"]) == pytest.approx(79.17125765507667)
    assert next(r for r in rows if r["metric"] == "fid")["wins"] == ""
    assert next(r for r in rows if r["metric"] == "kid")["change"] == "not tested"


def test_notes_and_two_procedures_are_shown(ab_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(ab_doc)
    row = doc["comparisons"][0]
    row["interval_method"] = "BCa bootstrap"
    row["p_method"] = "approximate randomization"
    row["verdict_note"] = "significant before Holm correction, not after"
    html = render_compare_html(doc)
    first = _found(r'<tr class="[a-z-]+" data-index="0">.*?</tr>', html, re.S).group(0)
    assert "interval: BCa bootstrap; p-value: approximate randomization" in first
    assert "significant before Holm correction, not after" in first
    md = render_compare_markdown(doc)
    assert "significant before Holm correction, not after; interval: BCa bootstrap" in md
    other = _found(r'<tr class="[a-z-]+" data-index="1">.*?</tr>', html, re.S).group(0)
    assert "interval:" not in other  # one procedure: named once, in the tooltip only


def test_documents_before_left_out_was_recorded_still_say_it() -> None:
    # compare_pairwise.json predates ``left_out``: one translation sample failed
    # (errors_excluded = 1) while its samples table counts no missing id.
    doc = json.loads((FIXTURES / "compare_pairwise.json").read_text("utf-8"))
    assert doc["samples"]["translate"]["left_out"] == 0
    html = render_compare_html(doc)
    samples = html[html.index('<section id="samples">') :]
    row = _found(r"<tr><td>translate</td>.*?</tr>", samples, re.S).group(0)
    assert "1 failed in a run" in row and '"num errors">1<' in row
    assert "19 (1 left out: 1 failed in either run)" in render_compare_markdown(doc)


def test_written_files_agree(ab_doc: dict[str, Any], tmp_path: Path) -> None:
    paths = write_compare_outputs(ab_doc, tmp_path)
    html = (tmp_path / "compare.html").read_text("utf-8")
    assert html == render_compare_html(ab_doc) and len(paths) == 4
