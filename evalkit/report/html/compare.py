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

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.report._format import (
    MISSING,
    as_dict,
    as_list,
    confidence_label,
    finite_number,
    format_ci,
    format_number,
    text_of,
)
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
    count_of,
    full_value_text,
    is_tested,
    left_out_counts,
    left_out_text,
    p_value_text,
    pair_labels,
    paired_test_text,
    procedure_text,
    resolution_warning,
    run_labels,
    wtl_text,
)

#: Rows per page of the comparison table (the reader can change it on the page).
PAGE_SIZE = 100

# --- comparison table ----------------------------------------------------------------------------


def _sort_key(value: Any) -> str:
    """A ``data-sort`` attribute value: the number for numeric cells, empty when absent/NaN."""
    number = finite_number(value)
    return "" if number is None else repr(number)


def _comparison_row(
    row: Mapping[str, Any], index: int, labels: Mapping[int, str]
) -> dict[str, Any]:
    change = change_of(row)
    a_label, b_label = pair_labels(labels, row)
    arrow, arrow_title = direction(row.get("higher_is_better"))
    against = text_of(row.get("against"))
    wins = row.get("wins")
    tested = is_tested(row)
    left_out = left_out_counts(row)
    return {
        "index": index,
        "task": text_of(row.get("task")),
        "metric": text_of(row.get("metric")),
        "signature": text_of(row.get("signature")),
        "direction": arrow,
        "direction_title": arrow_title,
        "a_label": a_label,
        "b_label": b_label,
        "against": against,
        "against_title": AGAINST_TITLES.get(against, ""),
        "value_a": format_number(row.get("value_a")),
        "value_a_sort": _sort_key(row.get("value_a")),
        "value_b": format_number(row.get("value_b")),
        "value_b_sort": _sort_key(row.get("value_b")),
        "delta": format_number(row.get("delta")),
        "delta_sort": _sort_key(row.get("delta")),
        "ci": format_ci(row.get("ci_low"), row.get("ci_high")),
        "ci_sort": _sort_key(row.get("ci_low")),
        "p": p_text(row.get("p_value")),
        "p_sort": _sort_key(row.get("p_value")),
        "p_adjusted": p_text(row.get("p_adjusted")),
        "p_adjusted_sort": _sort_key(row.get("p_adjusted")),
        "change": change if tested else NOT_TESTED,
        "change_class": change.replace(" ", "-") if tested else "not-tested",
        "mark": CHANGE_MARKS[change] if tested else "◇",
        "change_sort": {REGRESSED: "-1", NO_CHANGE: "0", IMPROVED: "1"}[change],
        "significant": row.get("significant") is True,
        "verdict_note": text_of(row.get("verdict_note")) if row.get("verdict_note") else "",
        "procedure": procedure_text(row),
        "interval_note": text_of(row.get("interval_note")) if row.get("interval_note") else "",
        "procedures_differ": bool(
            row.get("interval_method")
            and row.get("p_method")
            and row.get("interval_method") != row.get("p_method")
        ),
        "full_a": full_value_text(row, "a"),
        "full_b": full_value_text(row, "b"),
        "left_out": left_out_text(row, a_label, b_label),
        "wtl": wtl_text(row),
        "wtl_sort": _sort_key(wins),
        "mcnemar": p_text(row.get("mcnemar_p")),
        "mcnemar_sort": _sort_key(row.get("mcnemar_p")),
        "n": format_number(row.get("n")),
        "n_sort": _sort_key(row.get("n")),
        "errors_excluded": format_number(row.get("errors_excluded")),
        "has_errors": bool(left_out),
    }


# --- forest plot and sample counts ------------------------------------------------------------


#: The forest plot's markers, named in its right-hand text (a dot would read as a separator).
_FOREST_MARKS = {IMPROVED: "▲", REGRESSED: "▼", NO_CHANGE: "●"}


def _forest_rows(
    raw_rows: Sequence[Mapping[str, Any]], labels: Mapping[int, str], ci_label: str
) -> list[dict[str, Any]]:
    """The rows of the forest plot, one per comparison row, in the table's order."""
    pairs = {(r.get("a"), r.get("b")) for r in raw_rows}
    out = []
    for row in raw_rows:
        a_label, b_label = pair_labels(labels, row)
        arrow, _ = direction(row.get("higher_is_better"))
        label = f"{text_of(row.get('task'))} · {text_of(row.get('metric'))} {arrow}".strip()
        if len(pairs) > 1:
            label += f" ({b_label} vs {a_label})"
        tested = is_tested(row)
        verdict = change_of(row) if tested else NOT_TESTED
        delta = format_number(row.get("delta"))
        has_ci = all(finite_number(row.get(k)) is not None for k in ("ci_low", "ci_high"))
        if tested:
            interval = format_ci(row.get("ci_low"), row.get("ci_high")) if has_ci else "no interval"
            text = f"Δ {delta} {interval} · {_FOREST_MARKS[verdict]} {verdict}"
        else:
            text = f"Δ {delta} · not tested"
        counts = left_out_counts(row)
        if counts:
            text += f" · {format_number(sum(counts.values()))} left out"
        tip = [
            f"{label}: {b_label} − {a_label} = {delta}",
            f"{ci_label} {format_ci(row.get('ci_low'), row.get('ci_high'))}" if tested else "",
            f"p {p_text(row.get('p_value'))}, p (Holm) {p_text(row.get('p_adjusted'))}"
            if tested
            else "not tested (no interval, no p-value)",
            verdict if tested else "",
            text_of(row.get("verdict_note")) if row.get("verdict_note") else "",
            text_of(row.get("interval_note")) if row.get("interval_note") else "",
            left_out_text(row, a_label, b_label),
            procedure_text(row),
        ]
        out.append(
            {
                "label": label,
                "delta": row.get("delta"),
                "ci_low": row.get("ci_low") if tested else None,
                "ci_high": row.get("ci_high") if tested else None,
                "verdict": verdict,
                "text": text,
                "tip": "; ".join(x for x in tip if x),
            }
        )
    return out


def _failed_counts(counts: Mapping[str, int]) -> int:
    return sum(n for k, n in counts.items() if not k.startswith("missing"))


def _sample_counts(
    doc: Mapping[str, Any], raw_rows: Sequence[Mapping[str, Any]]
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
        task = text_of(row.get("task"))
        failed[task] = max(failed.get(task, 0), _failed_counts(left_out_counts(row)))
        n = row.get("n")
        if isinstance(n, int) and not isinstance(n, bool):
            compared[task] = min(compared.get(task, n), n)
    out = []
    for task, info in as_dict(doc.get("samples")).items():
        info = as_dict(info)
        name = text_of(task)
        if "missing" in info or "failed" in info:
            # Recorded per task: ids not in every run, and calls that failed in a run.
            missing, n_failed = count_of(info.get("missing")), count_of(info.get("failed"))
        else:
            # Older documents: ``left_out`` counted only the missing ids (union - common).
            missing, n_failed = count_of(info.get("left_out")), failed.get(name, 0)
        total = missing + n_failed
        reasons = []
        if missing:
            reasons.append(f"{format_number(missing)} not in every run")
        if n_failed:
            reasons.append(f"{format_number(n_failed)} failed in a run")
        common = info.get("common")
        out.append(
            {
                "task": name,
                "common": format_number(common),
                "union": format_number(info.get("union")),
                "compared": format_number(info.get("compared", compared.get(name, common))),
                "left_out": format_number(total),
                "why": ", ".join(reasons),
                "has_left_out": total > 0,
            }
        )
    return out


# --- page ------------------------------------------------------------------------------------


def _payload(doc: Mapping[str, Any], labels: Mapping[int, str]) -> dict[str, Any]:
    """The JSON block: the document without its per-example diffs, plus what the script needs."""
    summary = {k: v for k, v in doc.items() if k not in ("examples", "series")}
    series = doc.get("series")
    if isinstance(series, Mapping):
        summary["series"] = {k: v for k, v in series.items() if k != "forgotten"}
    rows = [as_dict(r) for r in as_list(doc.get("comparisons"))]
    return {
        "page_size": PAGE_SIZE,
        "document": summary,
        "rows": [
            {
                "search": " ".join(
                    [
                        text_of(r.get("task")),
                        text_of(r.get("metric")),
                        *pair_labels(labels, r),
                        text_of(r.get("against")),
                        change_of(r) if is_tested(r) else NOT_TESTED,
                    ]
                ),
                "significant": r.get("significant") is True,
            }
            for r in rows
        ],
    }


def build_compare_context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything ``compare.html`` shows, already formatted as strings.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``).

    Returns:
        The template context (plain data; only the SVG charts and ``doc_json`` are markup).
    """
    settings = as_dict(doc.get("settings"))
    labels = run_labels(doc)
    raw_rows = [as_dict(r) for r in as_list(doc.get("comparisons"))]
    rows = [_comparison_row(r, i, labels) for i, r in enumerate(raw_rows)]
    conf = settings.get("confidence")
    ci_label = confidence_label({"bootstrap": {"confidence": conf}})
    kind = text_of(doc.get("kind", "pairwise"))
    n_reg = sum(1 for r in rows if r["change"] == REGRESSED)
    n_imp = sum(1 for r in rows if r["change"] == IMPROVED)

    runs = []
    for pos, run in enumerate(as_list(doc.get("runs"))):
        run = as_dict(run)
        run_labels_text = ", ".join(
            f"{text_of(k)}={text_of(v)}" for k, v in as_dict(run.get("labels")).items()
        )
        runs.append(
            {
                "index": text_of(run.get("index", pos)),
                "label": text_of(run.get("label")),
                "role": "baseline" if pos == 0 and kind == "pairwise" else "",
                "model": text_of(run.get("model")),
                "run_id": text_of(run.get("run_id")),
                "created": text_of(run.get("created_at")),
                "suite": text_of(run.get("suite")),
                "path": text_of(run.get("path")),
                "labels": run_labels_text or MISSING,
            }
        )
    alpha = settings.get("alpha")
    facts = [
        ("comparison", "checkpoint series" if kind == "series" else "pairwise (A/B)"),
        ("test", paired_test_text(settings)),
        ("resamples", format_number(settings.get("resamples"))),
        ("seed", text_of(settings.get("seed"))),
        ("alpha", format_number(alpha)),
        ("confidence", ci_label),
        ("correction", correction_text(settings)),
        ("p-values", p_value_text(settings)),
        ("tests corrected together", format_number(len(rows))),
        ("only common samples (--intersection)", format_number(settings.get("intersection"))),
    ]
    series = as_dict(doc.get("series"))
    if kind == "series" or series:
        facts.append(("series ordered by", text_of(series.get("key", settings.get("series")))))
    samples = _sample_counts(doc, raw_rows)

    charts = []
    order = [text_of(x) for x in as_list(series.get("order"))] or [r["label"] for r in runs]
    for trend in as_list(series.get("trend")):
        trend = as_dict(trend)
        task, metric = text_of(trend.get("task")), text_of(trend.get("metric"))
        drops = [
            r
            for r in raw_rows
            if text_of(r.get("task")) == task
            and text_of(r.get("metric")) == metric
            and r.get("against") in ("previous", "best")
            and change_of(r) == REGRESSED
        ]
        arrow, arrow_title = direction(trend.get("higher_is_better"))
        charts.append(
            {
                "task": task,
                "metric": metric,
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
        "is_series": bool(series) or kind == "series",
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
        if raw_rows and not (bool(series) or kind == "series")
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


def render_compare_html(doc: Mapping[str, Any]) -> str:
    """Render a comparison document as one self-contained HTML page (no network access).

    The output depends only on ``doc`` (no clock, no environment): rendering the same document
    twice gives the same text.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``).

    Returns:
        The HTML text.

    >>> html = render_compare_html({"kind": "pairwise", "runs": [], "comparisons": []})
    >>> html.startswith("<!DOCTYPE html>"), "no significant regression" in html
    (True, True)
    """
    return template_environment().get_template("compare.html").render(**build_compare_context(doc))
