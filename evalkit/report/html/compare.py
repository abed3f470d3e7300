"""``compare.html``: one self-contained, offline HTML file per comparison.

The page is a pure function of the comparison document that :func:`evalkit.compare.compare_runs`
returns. It follows the rules of the run report (:mod:`evalkit.report.html.run`): a Jinja2 template
with autoescaping, every value formatted here first, the document's summary embedded once as a
``<script type="application/json">`` block with ``< > &`` U+2028 U+2029 escaped, a small inline
script that only sorts, filters and pages server-rendered rows (it never inserts HTML), and a
Content-Security-Policy meta tag that forbids every network fetch and allows only the page's own
style and script, by hash. The stylesheet and the table code are shared with the run report
(``templates/_common.css``, ``templates/_common.js``, ``templates/_head.html``).

This module builds the page's context (the comparison table, the forest plot's rows, sample
counts, the facts of the test) and renders it. How a row reads in words is shared with the
other comparison reports (:mod:`evalkit.report.views`); the trend charts of a checkpoint series
are inline SVG written in Python (:mod:`evalkit.report.html.trend`), so they render without
JavaScript.

Long documents stay responsive: the comparison table is paged by the script (all rows are in
the file, so it reads without JavaScript too), and example sections are collapsed
``<details>``, capped in number and length (:mod:`evalkit.report.html.examples`); the page
says what it left out, and ``compare.json`` keeps everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.records import ComparisonDoc, ComparisonRow, SampleCounts
from evalkit.report._format import MISSING, confidence_label, format_ci, format_number, or_missing
from evalkit.report._record import typed_comparison
from evalkit.report.html._assets import page_assets, script_json, template_environment
from evalkit.report.html._cells import direction, p_text
from evalkit.report.html.charts import forest_svg
from evalkit.report.html.examples import MAX_EXAMPLES_PER_LIST, example_sections, forgotten
from evalkit.report.html.trend import trend_svg
from evalkit.report.views import (
    AGAINST_TITLES,
    CHANGE_MARKS,
    IMPROVED,
    NO_CHANGE,
    NOT_TESTED,
    REGRESSED,
    change_of,
    correction_text,
    full_value_text,
    is_tested,
    left_out_counts,
    left_out_text,
    p_value_text,
    pair_labels,
    paired_test_text,
    procedure_text,
    procedures_differ,
    resolution_warning,
    run_labels,
    wtl_text,
)

#: Rows per page of the comparison table (the reader can change it on the page).
PAGE_SIZE = 100

# --- comparison table ----------------------------------------------------------------------------


def _sort_key(value: float | None) -> str:
    """A ``data-sort`` attribute value: the number for numeric cells, empty when absent/NaN."""
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def _comparison_row(row: ComparisonRow, index: int, labels: Mapping[int, str]) -> dict[str, Any]:
    change = change_of(row)
    a_label, b_label = pair_labels(labels, row)
    arrow, arrow_title = direction(row.higher_is_better)
    tested = is_tested(row)
    left_out = left_out_counts(row)
    return {
        "index": index,
        "task": row.task,
        "metric": row.metric,
        "signature": row.signature,
        "direction": arrow,
        "direction_title": arrow_title,
        "a_label": a_label,
        "b_label": b_label,
        "against": row.against,
        "against_title": AGAINST_TITLES.get(row.against, ""),
        "value_a": format_number(row.value_a),
        "value_a_sort": _sort_key(row.value_a),
        "value_b": format_number(row.value_b),
        "value_b_sort": _sort_key(row.value_b),
        "delta": format_number(row.delta),
        "delta_sort": _sort_key(row.delta),
        "ci": format_ci(row.ci_low, row.ci_high),
        "ci_sort": _sort_key(row.ci_low),
        "p": p_text(row.p_value),
        "p_sort": _sort_key(row.p_value),
        "p_adjusted": p_text(row.p_adjusted),
        "p_adjusted_sort": _sort_key(row.p_adjusted),
        "change": change if tested else NOT_TESTED,
        "change_class": change.replace(" ", "-") if tested else "not-tested",
        "mark": CHANGE_MARKS[change] if tested else "◇",
        "change_sort": {REGRESSED: "-1", NO_CHANGE: "0", IMPROVED: "1"}[change],
        "significant": row.significant,
        "verdict_note": row.verdict_note or "",
        "procedure": procedure_text(row),
        "interval_note": row.interval_note or "",
        "procedures_differ": procedures_differ(row),
        "full_a": full_value_text(row, "a"),
        "full_b": full_value_text(row, "b"),
        "left_out": left_out_text(row, a_label, b_label),
        "wtl": wtl_text(row),
        "wtl_sort": _sort_key(row.wins),
        "mcnemar": p_text(row.mcnemar_p),
        "mcnemar_sort": _sort_key(row.mcnemar_p),
        "n": format_number(row.n),
        "n_sort": _sort_key(row.n),
        "errors_excluded": format_number(row.errors_excluded),
        "has_errors": bool(left_out),
    }


# --- forest plot and sample counts ------------------------------------------------------------


#: The forest plot's markers, named in its right-hand text (a dot would read as a separator).
_FOREST_MARKS = {IMPROVED: "▲", REGRESSED: "▼", NO_CHANGE: "●"}


def _has_ci(row: ComparisonRow) -> bool:
    return all(v is not None and math.isfinite(v) for v in (row.ci_low, row.ci_high))


def _forest_rows(
    raw_rows: Sequence[ComparisonRow], labels: Mapping[int, str], ci_label: str
) -> list[dict[str, Any]]:
    """The rows of the forest plot, one per comparison row, in the table's order."""
    pairs = {(r.a, r.b) for r in raw_rows}
    out = []
    for row in raw_rows:
        a_label, b_label = pair_labels(labels, row)
        arrow, _ = direction(row.higher_is_better)
        label = f"{row.task} · {row.metric} {arrow}".strip()
        if len(pairs) > 1:
            label += f" ({b_label} vs {a_label})"
        tested = is_tested(row)
        verdict = change_of(row) if tested else NOT_TESTED
        delta = format_number(row.delta)
        if tested:
            interval = format_ci(row.ci_low, row.ci_high) if _has_ci(row) else "no interval"
            text = f"Δ {delta} {interval} · {_FOREST_MARKS[verdict]} {verdict}"
        else:
            text = f"Δ {delta} · not tested"
        counts = left_out_counts(row)
        if counts:
            text += f" · {format_number(sum(counts.values()))} left out"
        tip = [
            f"{label}: {b_label} − {a_label} = {delta}",
            f"{ci_label} {format_ci(row.ci_low, row.ci_high)}" if tested else "",
            f"p {p_text(row.p_value)}, p (Holm) {p_text(row.p_adjusted)}"
            if tested
            else "not tested (no interval, no p-value)",
            verdict if tested else "",
            row.verdict_note or "",
            row.interval_note or "",
            left_out_text(row, a_label, b_label),
            procedure_text(row),
        ]
        out.append(
            {
                "label": label,
                "delta": row.delta,
                "ci_low": row.ci_low if tested else None,
                "ci_high": row.ci_high if tested else None,
                "verdict": verdict,
                "text": text,
                "tip": "; ".join(x for x in tip if x),
            }
        )
    return out


def _failed_counts(counts: Mapping[str, int]) -> int:
    return sum(n for k, n in counts.items() if not k.startswith("missing"))


def _count(value: int | None) -> int:
    """A recorded count that may be absent (``None``) or, in a hand edit, negative."""
    return max(value or 0, 0)


def _sample_counts(
    samples: Mapping[str, SampleCounts], raw_rows: Sequence[ComparisonRow]
) -> list[dict[str, Any]]:
    """Per task: samples common to all runs, in any run, and left out, with the reasons.

    Samples missing from a run (the union less the common ids) and samples whose call failed
    in a run are both left out: from the document's per-task ``missing`` and ``failed`` counts,
    or, in documents without them, from ``left_out`` (missing ids only) and the most any
    comparison row of the task left out for a failure.
    """
    failed: dict[str, int] = {}
    compared: dict[str, int] = {}
    for row in raw_rows:
        failed[row.task] = max(failed.get(row.task, 0), _failed_counts(left_out_counts(row)))
        compared[row.task] = min(compared.get(row.task, row.n), row.n)
    out = []
    for task, info in samples.items():
        if {"missing", "failed"} & info.model_fields_set:
            # Recorded per task: ids not in every run, and calls that failed in a run.
            missing, n_failed = _count(info.missing), _count(info.failed)
        else:
            # Older documents: ``left_out`` counted only the missing ids (union - common).
            missing, n_failed = _count(info.left_out), failed.get(task, 0)
        total = missing + n_failed
        reasons = []
        if missing:
            reasons.append(f"{format_number(missing)} not in every run")
        if n_failed:
            reasons.append(f"{format_number(n_failed)} failed in a run")
        shown = (
            info.compared
            if "compared" in info.model_fields_set
            else compared.get(task, info.common)
        )
        out.append(
            {
                "task": task,
                "common": format_number(info.common),
                "union": format_number(info.union),
                "compared": format_number(shown),
                "left_out": format_number(total),
                "why": ", ".join(reasons),
                "has_left_out": total > 0,
            }
        )
    return out


# --- page ------------------------------------------------------------------------------------


def _payload(doc: ComparisonDoc, labels: Mapping[int, str]) -> dict[str, Any]:
    """The JSON block: the document without its per-example diffs, plus what the script needs."""
    # exclude_unset: exactly the keys the document has, in its order (the record as written).
    summary = doc.model_dump(exclude_unset=True, exclude={"examples", "series"})
    if doc.series is not None:
        summary["series"] = doc.series.model_dump(exclude_unset=True, exclude={"forgotten"})
    return {
        "page_size": PAGE_SIZE,
        "document": summary,
        "rows": [
            {
                "search": " ".join(
                    [
                        r.task,
                        r.metric,
                        *pair_labels(labels, r),
                        r.against,
                        change_of(r) if is_tested(r) else NOT_TESTED,
                    ]
                ),
                "significant": r.significant,
            }
            for r in doc.comparisons
        ],
    }


def build_compare_context(doc: ComparisonDoc | Mapping[str, Any]) -> dict[str, Any]:
    """Everything ``compare.html`` shows, already formatted as strings.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``),
            checked against :class:`evalkit.records.ComparisonDoc` first.

    Returns:
        The template context (plain data; only the SVG charts and ``doc_json`` are markup).

    Raises:
        evalkit.records.RecordError: ``doc`` does not match the schema of ``compare.json``.
    """
    doc = typed_comparison(doc)
    settings = doc.settings
    labels = run_labels(doc)
    raw_rows = doc.comparisons
    rows = [_comparison_row(r, i, labels) for i, r in enumerate(raw_rows)]
    ci_label = confidence_label(settings.confidence)
    kind = doc.kind
    series = doc.series
    is_series = series is not None or kind == "series"
    n_reg = sum(1 for r in rows if r["change"] == REGRESSED)
    n_imp = sum(1 for r in rows if r["change"] == IMPROVED)

    runs = []
    for pos, run in enumerate(doc.runs):
        run_labels_text = ", ".join(f"{k}={v}" for k, v in run.labels.items())
        runs.append(
            {
                "index": str(run.index),
                "label": run.label,
                "role": "baseline" if pos == 0 and kind == "pairwise" else "",
                "model": or_missing(run.model),
                "run_id": or_missing(run.run_id),
                "created": or_missing(run.created_at),
                "suite": or_missing(run.suite),
                "path": run.path,
                "labels": run_labels_text or MISSING,
            }
        )
    facts = [
        ("comparison", "checkpoint series" if kind == "series" else "pairwise (A/B)"),
        ("test", paired_test_text(settings)),
        ("resamples", format_number(settings.resamples)),
        ("seed", MISSING if settings.seed is None else str(settings.seed)),
        ("alpha", format_number(settings.alpha)),
        ("confidence", ci_label),
        ("correction", correction_text(settings)),
        ("p-values", p_value_text(settings)),
        ("tests corrected together", format_number(len(rows))),
        ("only common samples (--intersection)", format_number(settings.intersection)),
    ]
    if is_series:
        key = series.key if series is not None else or_missing(settings.series)
        facts.append(("series ordered by", key))
    samples = _sample_counts(doc.samples, raw_rows)

    charts = []
    order = (list(series.order) if series is not None else []) or [r["label"] for r in runs]
    for trend in series.trend if series is not None else []:
        drops = [
            r
            for r in raw_rows
            if r.task == trend.task
            and r.metric == trend.metric
            and r.against in ("previous", "best")
            and change_of(r) == REGRESSED
        ]
        arrow, arrow_title = direction(trend.higher_is_better)
        charts.append(
            {
                "task": trend.task,
                "metric": trend.metric,
                "direction": arrow,
                "direction_title": arrow_title,
                "n_regressions": len(drops),
                "svg": trend_svg(trend, order, drops, ci_label),
            }
        )
    sections, hidden_sections = example_sections(doc, labels, raw_rows)
    if n_reg:
        verdict = f"{n_reg} significant regression{'s' if n_reg != 1 else ''}"
    else:
        verdict = "no significant regression"
    if n_imp:
        verdict += f", {n_imp} significant improvement{'s' if n_imp != 1 else ''}"
    names = [r["label"] for r in runs]
    title_runs = " vs ".join(names[:2]) if kind != "series" else " → ".join(names[:1] + names[-1:])
    assets = page_assets(template_environment(), "compare.js")
    return {
        "title": f"{title_runs} · evalkit compare",
        "heading": title_runs,
        "kind": kind,
        "is_series": is_series,
        "verdict": verdict,
        "has_regressions": n_reg > 0,
        "warning": resolution_warning(doc),
        "runs": runs,
        "facts": facts,
        "samples": samples,
        "ci_label": ci_label,
        "rows": rows,
        "n_rows": format_number(len(rows)),
        "n_significant": format_number(sum(1 for r in rows if r["significant"])),
        "charts": charts,
        "forest": forest_svg(
            _forest_rows(raw_rows, labels, ci_label),
            f"Differences B − A with their {ci_label}, one row per compared value",
            ci_label,
        )
        if raw_rows and not is_series
        else None,
        "forgotten": forgotten(series),
        "example_sections": sections,
        "hidden_sections": format_number(hidden_sections) if hidden_sections else "",
        "max_examples": MAX_EXAMPLES_PER_LIST,
        "page_size": PAGE_SIZE,
        "doc_json": script_json(_payload(doc, labels)),
        "csp": assets.csp,
        "style_text": assets.style_text,
        "script_text": assets.script_text,
    }


def render_compare_html(doc: ComparisonDoc | Mapping[str, Any]) -> str:
    """Render a comparison document as one self-contained HTML page (no network access).

    The output depends only on ``doc`` (no clock, no environment): rendering the same document
    twice gives the same text.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``).

    Returns:
        The HTML text.

    Raises:
        evalkit.records.RecordError: ``doc`` does not match the schema of ``compare.json``.

    >>> html = render_compare_html({"format_version": 1, "kind": "pairwise", "runs": [],
    ...     "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95},
    ...     "regressions": 0, "exit_code": 0})
    >>> html.startswith("<!DOCTYPE html>"), "no significant regression" in html
    (True, True)
    """
    return template_environment().get_template("compare.html").render(**build_compare_context(doc))
