"""``compare.html``: one self-contained, offline HTML file per comparison.

The page is a pure function of the comparison document that :func:`evalkit.compare.compare_runs`
returns. It follows the rules of the run report (:mod:`evalkit.report.html`): a Jinja2 template
with autoescaping, every value formatted here first, the document's summary embedded once as a
``<script type="application/json">`` block with ``< > &`` U+2028 U+2029 escaped, a small inline
script that only sorts, filters and pages server-rendered rows (it never inserts HTML), and a
Content-Security-Policy meta tag that forbids every network fetch and allows only the page's own
style and script, by hash. The stylesheet and the table code are shared with the run report
(``templates/_common.css``, ``templates/_common.js``, ``templates/_head.html``).

Trend charts of a checkpoint series are inline SVG written here, in Python, so they render
without JavaScript; every label in them is escaped with :func:`markupsafe.escape`.

Long documents stay responsive: the comparison table is paged by the script (all rows are in
the file, so it reads without JavaScript too), example sections are collapsed ``<details>``,
and the number of example sections, examples per list and characters per text are capped
(:data:`MAX_EXAMPLE_SECTIONS`, :data:`MAX_EXAMPLES_PER_LIST`, :data:`MAX_TEXT_CHARS`); the page
says what it left out, and ``compare.json`` keeps everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from evalkit.report._assets import page_assets
from evalkit.report._format import MISSING, confidence_label, format_ci, format_number, text_of
from evalkit.report.charts import forest_svg
from evalkit.report.html import _environment, script_json

#: Rows per page of the comparison table (the reader can change it on the page).
PAGE_SIZE = 100
#: Example sections (one per task, metric and pair) rendered in the page; the rest are counted.
MAX_EXAMPLE_SECTIONS = 200
#: Examples shown per "most improved" / "most regressed" / "forgotten" list.
MAX_EXAMPLES_PER_LIST = 10
#: Characters shown per prompt, prediction or reference in example sections.
MAX_TEXT_CHARS = 4000

#: The three outcomes of a comparison row, as :func:`evalkit.compare.compare_runs` names them.
IMPROVED = "improved"
REGRESSED = "regressed"
NO_CHANGE = "no significant change"
#: Significance marks, shared by the HTML, Markdown and JUnit reports.
CHANGE_MARKS = {IMPROVED: "▲", REGRESSED: "▼", NO_CHANGE: "·"}
#: What each baseline kind of a comparison row means.
AGAINST_TITLES = {
    "baseline": "against the first run (the baseline)",
    "previous": "against the previous run of the series",
    "best": "against the best earlier run of the series",
}


# --- shared helpers (also used by the Markdown, CSV and JUnit reports) -------------------------


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_number(value: Any) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(value) else None


def change_of(row: Mapping[str, Any]) -> str:
    """The outcome of a comparison row: ``improved``, ``regressed`` or ``no significant change``.

    The recorded ``change`` is used when it is one of the three; otherwise it is derived from
    ``significant``, the sign of ``delta`` and ``higher_is_better`` (a significant fall of a
    lower-is-better metric such as TER is an improvement).

    >>> change_of({"change": "regressed"})
    'regressed'
    >>> change_of({"significant": True, "delta": -2.0, "higher_is_better": False})
    'improved'
    >>> change_of({"significant": False, "delta": -2.0, "higher_is_better": True})
    'no significant change'
    """
    recorded = row.get("change")
    if recorded in CHANGE_MARKS:
        return str(recorded)
    delta = _finite_number(row.get("delta"))
    if row.get("significant") is not True or not delta:
        return NO_CHANGE
    better = (delta > 0) == (row.get("higher_is_better") is not False)
    return IMPROVED if better else REGRESSED


NOT_TESTED = "not tested"


def is_tested(row: Mapping[str, Any]) -> bool:
    """Whether a comparison row had a paired test (set-level metrics that skip resampling do
    not: their row has no interval and no p-value).

    >>> is_tested({"change": "not tested"}), is_tested({"p_value": None})
    (False, False)
    >>> is_tested({"p_value": 0.2})
    True
    """
    if row.get("change") == NOT_TESTED:
        return False
    if row.get("change") in CHANGE_MARKS:
        return True
    return _finite_number(row.get("p_value")) is not None or (
        _finite_number(row.get("ci_low")) is not None
        and _finite_number(row.get("ci_high")) is not None
    )


def _count(value: Any) -> int:
    """A recorded count (a number, or a dict of counts by reason) as one whole number."""
    if isinstance(value, Mapping):
        return sum(_count(v) for v in value.values())
    number = _finite_number(value)
    return int(number) if number is not None and number > 0 else 0


def left_out_counts(row: Mapping[str, Any]) -> dict[str, int]:
    """How many samples a comparison row left out, by reason (only reasons with any).

    Reads ``left_out`` (a dict of counts such as ``failed_a``, ``missing_b``), or, in documents
    written before it existed, ``errors_excluded`` (samples whose call failed in either run).

    >>> left_out_counts({"left_out": {"failed_a": 0, "failed_b": 2}, "errors_excluded": 2})
    {'failed_b': 2}
    >>> left_out_counts({"errors_excluded": 1}), left_out_counts({"errors_excluded": 0})
    ({'failed': 1}, {})
    """
    raw = row.get("left_out")
    if isinstance(raw, Mapping):
        counts = {str(k): _count(v) for k, v in raw.items()}
        return {k: n for k, n in counts.items() if n > 0}
    if _count(raw):
        return {"left_out": _count(raw)}
    if _count(row.get("errors_excluded")):
        return {"failed": _count(row.get("errors_excluded"))}
    return {}


def _reason_text(key: str, a_label: str, b_label: str) -> str:
    """One reason a sample was left out, in words, naming the run it concerns.

    >>> [_reason_text(k, "a", "b") for k in ("failed_b", "failed_both", "missing_a", "odd_key")]
    ['failed in b', 'failed in both runs', 'missing from a', 'odd key']
    """
    fixed = {
        "failed": "failed in either run",
        "failed_both": "failed in both runs",
        "missing": "missing from a run",
        "missing_other": "missing from another run of the comparison",
    }
    if key in fixed:
        return fixed[key]
    reason, _, side = key.rpartition("_")
    run = {"a": a_label, "b": b_label}.get(side)
    if run is None:
        return key.replace("_", " ")
    if reason == "failed":
        return f"failed in {run}"
    if reason == "missing":
        return f"missing from {run}"
    return f"{reason.replace('_', ' ')} ({run})"


def left_out_text(row: Mapping[str, Any], a_label: str = "A", b_label: str = "B") -> str:
    """What a row left out, in words; empty when it left nothing out.

    >>> left_out_text({"left_out": {"failed_b": 1, "missing_a": 2}}, "a", "b")
    '3 left out: 1 failed in b, 2 missing from a'
    >>> left_out_text({"errors_excluded": 0})
    ''
    """
    counts = left_out_counts(row)
    if not counts:
        return ""
    parts = [f"{format_number(n)} {_reason_text(k, a_label, b_label)}" for k, n in counts.items()]
    return f"{format_number(sum(counts.values()))} left out: {', '.join(parts)}"


def procedure_text(row: Mapping[str, Any]) -> str:
    """The procedures behind a row's interval and p-value, named both where they differ.

    >>> procedure_text({"interval_method": "BCa bootstrap", "p_method": "paired bootstrap"})
    'interval: BCa bootstrap; p-value: paired bootstrap'
    >>> procedure_text({"interval_method": "paired bootstrap", "p_method": "paired bootstrap"})
    'paired bootstrap'
    >>> procedure_text({})
    ''
    """
    interval, p = row.get("interval_method"), row.get("p_method")
    if interval and p and interval != p:
        return f"interval: {text_of(interval)}; p-value: {text_of(p)}"
    return text_of(interval or p) if (interval or p) else ""


def wtl_text(row: Mapping[str, Any], sep: str = " / ") -> str:
    """Wins / ties / losses, or one em dash where the metric has none (set-level metrics).

    >>> wtl_text({"wins": 3, "ties": 0, "losses": 1}), wtl_text({"wins": None})
    ('3 / 0 / 1', '—')
    """
    counts = [row.get(k) for k in ("wins", "ties", "losses")]
    if all(_is_number(c) for c in counts):
        return sep.join(format_number(c) for c in counts)
    return MISSING


def full_value_text(row: Mapping[str, Any], side: str) -> str:
    """``full run V`` when the run's full-run value is recorded and the row left samples out
    or the two differ; else empty.

    >>> full_value_text({"value_a": 81.92, "value_a_full": 79.17, "n_a_full": 20}, "a")
    'full run 79.17 (n 20)'
    >>> full_value_text({"value_a": 0.5, "value_a_full": 0.5}, "a")
    ''
    """
    full = row.get(f"value_{side}_full")
    if not _is_number(full):
        return ""
    shown = format_number(full)
    if not left_out_counts(row) and shown == format_number(row.get(f"value_{side}")):
        return ""
    n_full = row.get(f"n_{side}_full")
    if isinstance(n_full, int) and not isinstance(n_full, bool):
        return f"full run {shown} (n {format_number(n_full)})"
    return f"full run {shown}"


def run_labels(doc: Mapping[str, Any]) -> dict[int, str]:
    """Run index -> label, from the document's ``runs``.

    >>> run_labels({"runs": [{"index": 0, "label": "a"}, {"index": 1, "label": "b"}]})
    {0: 'a', 1: 'b'}
    """
    out: dict[int, str] = {}
    for pos, run in enumerate(_as_list(doc.get("runs"))):
        run = _as_dict(run)
        index = run.get("index", pos)
        if isinstance(index, int) and not isinstance(index, bool):
            out[index] = text_of(run.get("label", f"run {index}"))
    return out


def pair_labels(labels: Mapping[int, str], row: Mapping[str, Any]) -> tuple[str, str]:
    """The labels of a row's runs ``a`` and ``b`` (``run N`` when a label is unknown).

    >>> pair_labels({0: "a"}, {"a": 0, "b": 1})
    ('a', 'run 1')
    """

    def one(index: Any) -> str:
        if isinstance(index, int) and index in labels:
            return labels[index]
        return f"run {text_of(index)}"

    return one(row.get("a")), one(row.get("b"))


def correction_text(settings: Mapping[str, Any]) -> str:
    """The multiple-comparison correction of a document, in words.

    >>> correction_text({"correction": "holm"})
    'Holm–Bonferroni across all metrics and tasks of this comparison'
    """
    correction = settings.get("correction")
    if correction == "holm":
        return "Holm–Bonferroni across all metrics and tasks of this comparison"
    if correction is None:
        return "none"
    return text_of(correction)


def paired_test_text(settings: Mapping[str, Any]) -> str:
    """The paired test of a document, in words.

    >>> paired_test_text({"test": "bootstrap", "resamples": 1000})
    'paired bootstrap, 1,000 resamples'
    """
    test = settings.get("test")
    resamples = settings.get("resamples")
    if test == "bootstrap":
        name, unit = "paired bootstrap", "resamples"
    elif test == "randomization":
        name, unit = "approximate randomization", "trials"
    else:
        name, unit = text_of(test), "resamples"
    if _is_number(resamples):
        return f"{name}, {format_number(resamples)} {unit}"
    return name


def p_value_text(settings: Mapping[str, Any]) -> str:
    """How p-values are computed, with the floor they cannot go below.

    >>> p_value_text({"resamples": 1000})
    'two-sided; never below 1/(resamples+1) = 0.000999'
    """
    resamples = settings.get("resamples")
    text = "two-sided; never below 1/(resamples+1)"
    if isinstance(resamples, int) and not isinstance(resamples, bool) and resamples >= 0:
        text += f" = {format_number(1 / (resamples + 1), 3)}"
    return text


def resolution_warning(doc: Mapping[str, Any]) -> str | None:
    """A warning when no comparison of the document can be significant, else ``None``.

    A resampling p-value is at least ``1/(R+1)`` for ``R`` resamples, and Holm multiplies the
    smallest p-value by the number of tests ``m``; when ``m/(R+1) >= alpha`` not even a
    comparison that won every resample can reach significance.

    >>> resolution_warning({"settings": {"resamples": 1000, "alpha": 0.05},
    ...                     "comparisons": [{}] * 68})[:60]
    'With 1,000 resamples and 68 comparisons the smallest possibl'
    >>> resolution_warning({"settings": {"resamples": 10000, "alpha": 0.05},
    ...                     "comparisons": [{}] * 68}) is None
    True
    """
    settings = _as_dict(doc.get("settings"))
    resamples, alpha = settings.get("resamples"), _finite_number(settings.get("alpha"))
    m = len(_as_list(doc.get("comparisons")))
    if not isinstance(resamples, int) or isinstance(resamples, bool) or resamples < 1:
        return None
    if alpha is None or alpha <= 0 or not m:
        return None
    floor = m / (resamples + 1)
    if settings.get("correction") not in (None, "holm") or floor < alpha:
        return None
    need = math.floor(m / alpha)
    return (
        f"With {format_number(resamples)} resamples and {format_number(m)} comparisons the "
        f"smallest possible Holm-adjusted p-value is {format_number(m)}/"
        f"{format_number(resamples + 1)} = {format_number(min(floor, 1.0), 3)}, not below "
        f"alpha = {format_number(alpha)}: no comparison can be significant. Compare again with "
        f"more than {format_number(need)} resamples (--resamples)."
    )


# --- comparison table ----------------------------------------------------------------------------


def _sort_key(value: Any) -> str:
    """A ``data-sort`` attribute value: the number for numeric cells, empty when absent/NaN."""
    number = _finite_number(value)
    return "" if number is None else repr(number)


def _p_text(value: Any) -> str:
    return format_number(value, 3) if _is_number(value) else MISSING


def _direction(hib: Any) -> tuple[str, str]:
    if hib is True:
        return "↑", "higher is better"
    if hib is False:
        return "↓", "lower is better"
    return "", ""


def _comparison_row(
    row: Mapping[str, Any], index: int, labels: Mapping[int, str]
) -> dict[str, Any]:
    change = change_of(row)
    a_label, b_label = pair_labels(labels, row)
    arrow, arrow_title = _direction(row.get("higher_is_better"))
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
        "p": _p_text(row.get("p_value")),
        "p_sort": _sort_key(row.get("p_value")),
        "p_adjusted": _p_text(row.get("p_adjusted")),
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
        "mcnemar": _p_text(row.get("mcnemar_p")),
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
        arrow, _ = _direction(row.get("higher_is_better"))
        label = f"{text_of(row.get('task'))} · {text_of(row.get('metric'))} {arrow}".strip()
        if len(pairs) > 1:
            label += f" ({b_label} vs {a_label})"
        tested = is_tested(row)
        verdict = change_of(row) if tested else NOT_TESTED
        delta = format_number(row.get("delta"))
        has_ci = all(_finite_number(row.get(k)) is not None for k in ("ci_low", "ci_high"))
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
            f"p {_p_text(row.get('p_value'))}, p (Holm) {_p_text(row.get('p_adjusted'))}"
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
    for task, info in _as_dict(doc.get("samples")).items():
        info = _as_dict(info)
        name = text_of(task)
        if "missing" in info or "failed" in info:
            # Recorded per task: ids not in every run, and calls that failed in a run.
            missing, n_failed = _count(info.get("missing")), _count(info.get("failed"))
        else:
            # Older documents: ``left_out`` counted only the missing ids (union - common).
            missing, n_failed = _count(info.get("left_out")), failed.get(name, 0)
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


# --- trend charts (inline SVG) ---------------------------------------------------------------

_W, _H = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 16, 78
_MAX_X_LABELS = 12
_MAX_LABEL_CHARS = 18


def _nice_step(span: float, target: int = 5) -> float:
    """A 1-2-2.5-5 step that cuts ``span`` into about ``target`` intervals.

    >>> _nice_step(100), _nice_step(0.37), _nice_step(7)
    (20.0, 0.1, 2.0)
    """
    raw = span / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10.0 * magnitude


def _n(x: float) -> str:
    """An SVG coordinate: one decimal, no ``-0.0``."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL_CHARS else label[: _MAX_LABEL_CHARS - 1] + "…"


def _segments(flags: Sequence[bool]) -> list[list[int]]:
    """Runs of consecutive indices whose flag is true.

    >>> _segments([True, True, False, True])
    [[0, 1], [3]]
    """
    out: list[list[int]] = []
    current: list[int] = []
    for i, ok in enumerate(flags):
        if ok:
            current.append(i)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def trend_svg(
    trend: Mapping[str, Any],
    order: Sequence[str],
    regressions: Sequence[Mapping[str, Any]] = (),
    ci_label: str = "95% CI",
) -> Markup:
    """An inline SVG line chart of one (task, metric) across a checkpoint series.

    x is the run's position in the series (its label under the axis), y the metric value; a
    shaded band (class ``ci-band``) spans each point's confidence interval; a red down-pointing
    triangle (class ``regression``) marks each run whose comparison against the previous or the
    best earlier run found a significant regression (direction-aware, Holm-adjusted). Every text
    and attribute value is escaped, so labels cannot inject markup.

    Args:
        trend: One entry of ``doc["series"]["trend"]``: ``task``, ``metric``,
            ``higher_is_better`` and ``points`` (``run``, ``label``, ``value``, ``ci_low``,
            ``ci_high``).
        order: The series' run labels in order (``doc["series"]["order"]``).
        regressions: The comparison rows of this (task, metric) that regressed.
        ci_label: How the interval is named in tooltips.

    Returns:
        The ``<svg>`` element, marked safe.

    >>> svg = trend_svg({"task": "t", "metric": "m<", "higher_is_better": True, "points": [
    ...     {"run": 0, "label": "s1", "value": 1.0, "ci_low": 0.5, "ci_high": 1.5},
    ...     {"run": 1, "label": "s2", "value": 2.0, "ci_low": 1.5, "ci_high": 2.5}]}, ["s1", "s2"])
    >>> svg.count("<svg"), 'class="ci-band"' in svg, "m&lt;" in svg, "m<" in svg
    (1, True, True, False)
    """
    task, metric = text_of(trend.get("task")), text_of(trend.get("metric"))
    arrow, arrow_title = _direction(trend.get("higher_is_better"))
    points = [_as_dict(p) for p in _as_list(trend.get("points"))]
    n_runs = max(
        [len(order)] + [p["run"] + 1 for p in points if isinstance(p.get("run"), int)] + [1]
    )
    names = [text_of(x) for x in order] + [f"run {i}" for i in range(len(order), n_runs)]
    by_run: dict[int, dict[str, Any]] = {}
    for pos, p in enumerate(points):
        run = p.get("run", pos)
        if isinstance(run, int) and 0 <= run < n_runs:
            by_run[run] = p
            if p.get("label") is not None and run >= len(order):
                names[run] = text_of(p.get("label"))

    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    values = {r: _finite_number(p.get("value")) for r, p in by_run.items()}
    lows = {r: _finite_number(p.get("ci_low")) for r, p in by_run.items()}
    highs = {r: _finite_number(p.get("ci_high")) for r, p in by_run.items()}
    extra = [_finite_number(r.get("value_b")) for r in regressions]
    finite = [
        v for v in [*values.values(), *lows.values(), *highs.values(), *extra] if v is not None
    ]
    title = f"{task} · {metric}: trend across the series"
    out: list[str] = [
        f'<svg class="chart-svg trend" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]

    def x_of(run: int) -> float:
        return _LEFT + (run + 0.5) * plot_w / n_runs

    if not finite:
        out.append(
            f'<text class="empty" x="{_n(_W / 2)}" y="{_n(_H / 2)}" text-anchor="middle">'
            "no values to plot</text></svg>"
        )
        return Markup("".join(out))
    lo, hi = min(finite), max(finite)
    flat = hi - lo <= 1e-12 * max(1.0, abs(hi))
    # A flat line gets 5% of its value (or 1) above and below; others 8% of their range.
    pad = (abs(hi) * 0.05 or 1.0) if flat else (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)

    def y_of(value: float) -> float:
        return _TOP + (hi - value) / (hi - lo) * plot_h

    # Axes and horizontal grid lines with tick labels.
    tick = math.ceil(lo / step) * step
    while tick <= hi + step * 1e-9:
        y = y_of(tick)
        out.append(
            f'<line class="grid" x1="{_LEFT}" y1="{_n(y)}" x2="{_W - _RIGHT}" y2="{_n(y)}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{_n(y + 4)}" text-anchor="end">'
            f"{escape(format_number(round(tick, 12)))}</text>"
        )
        tick += step
    out.append(
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}"/>'
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" '
        f'y2="{_TOP + plot_h}"/>'
    )
    y_title = f"{metric} {arrow}".strip()
    out.append(
        f'<text class="axis-title" transform="translate(16 {_n(_TOP + plot_h / 2)}) rotate(-90)" '
        f'text-anchor="middle">{escape(_short(y_title))}<title>{escape(metric)}'
        f"{escape(' (' + arrow_title + ')' if arrow_title else '')}</title></text>"
    )
    every = max(1, math.ceil(n_runs / _MAX_X_LABELS))
    for run in range(n_runs):
        x = x_of(run)
        out.append(
            f'<line class="tick-mark" x1="{_n(x)}" y1="{_TOP + plot_h}" x2="{_n(x)}" '
            f'y2="{_TOP + plot_h + 4}"/>'
        )
        if run % every == 0 or run == n_runs - 1:
            y = _TOP + plot_h + 14
            out.append(
                f'<text class="tick" x="{_n(x)}" y="{y}" text-anchor="end" '
                f'transform="rotate(-30 {_n(x)} {y})">{escape(_short(names[run]))}'
                f"<title>{escape(names[run])}</title></text>"
            )

    # The confidence band: one shaded polygon per run of consecutive points with an interval.
    has_ci = [lows.get(r) is not None and highs.get(r) is not None for r in range(n_runs)]
    for seg in _segments(has_ci):
        if len(seg) == 1:
            r = seg[0]
            x, y_hi, y_lo = x_of(r), y_of(highs[r] or 0.0), y_of(lows[r] or 0.0)
            out.append(
                f'<rect class="ci-band" x="{_n(x - 6)}" y="{_n(y_hi)}" width="12" '
                f'height="{_n(max(y_lo - y_hi, 0.5))}"/>'
            )
            continue
        upper = [f"{_n(x_of(r))},{_n(y_of(highs[r] or 0.0))}" for r in seg]
        lower = [f"{_n(x_of(r))},{_n(y_of(lows[r] or 0.0))}" for r in reversed(seg)]
        out.append(f'<polygon class="ci-band" points="{" ".join(upper + lower)}"/>')

    # The line through the values, broken where a value is missing.
    has_value = [values.get(r) is not None for r in range(n_runs)]
    for seg in _segments(has_value):
        if len(seg) > 1:
            coords = " ".join(f"{_n(x_of(r))},{_n(y_of(values[r] or 0.0))}" for r in seg)
            out.append(f'<polyline class="trend-line" points="{coords}"/>')
    for r in range(n_runs):
        value = values.get(r)
        if value is None:
            continue
        tip = f"{names[r]}: {format_number(value)}"
        if has_ci[r]:
            tip += f" ({ci_label} {format_ci(lows[r], highs[r])})"
        out.append(
            f'<circle class="point" cx="{_n(x_of(r))}" cy="{_n(y_of(value))}" r="4">'
            f"<title>{escape(tip)}</title></circle>"
        )

    # Significant regressions against the previous or best earlier run: one marker per run,
    # whose tooltip lists every regression found for it.
    tips: dict[int, list[str]] = {}
    for row in regressions:
        b = row.get("b")
        if not isinstance(b, int) or not 0 <= b < n_runs:
            continue
        a = row.get("a")
        a_name = names[a] if isinstance(a, int) and 0 <= a < n_runs else text_of(a)
        tips.setdefault(b, []).append(
            f"significant regression of {names[b]} against the {text_of(row.get('against'))} "
            f"run {a_name}: delta {format_number(row.get('delta'))} "
            f"{format_ci(row.get('ci_low'), row.get('ci_high'))}, "
            f"Holm-adjusted p {_p_text(row.get('p_adjusted'))}"
        )
        if values.get(b) is None and _finite_number(row.get("value_b")) is not None:
            values[b] = _finite_number(row.get("value_b"))  # place the marker at B's value
    for b in sorted(tips):
        at = values.get(b)
        if at is None:
            continue
        x, y = x_of(b), y_of(at)
        out.append(
            f'<path class="regression" d="M{_n(x - 7)},{_n(y - 19)} L{_n(x + 7)},{_n(y - 19)} '
            f'L{_n(x)},{_n(y - 8)} Z"><title>{escape("; ".join(tips[b]))}</title></path>'
        )
    out.append("</svg>")
    return Markup("".join(out))


# --- example sections ------------------------------------------------------------------------


def _text_field(value: Any, missing: str) -> dict[str, Any]:
    """A prompt/prediction/reference for display: text, or a placeholder, plus a cut note."""
    if value is None:
        return {"text": missing, "placeholder": True, "more": ""}
    text = value if isinstance(value, str) else text_of(value)
    if text == "":
        return {"text": "(empty string)", "placeholder": True, "more": ""}
    more = ""
    if len(text) > MAX_TEXT_CHARS:
        more = f"… {format_number(len(text) - MAX_TEXT_CHARS)} more characters in compare.json"
        text = text[:MAX_TEXT_CHARS]
    return {"text": text, "placeholder": False, "more": more}


_FAILED = "(no prediction: the model call failed)"


def _references(value: Any) -> list[dict[str, Any]]:
    refs = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    return [_text_field(r, "(none)") for r in refs]


def _score_delta(a: Any, b: Any) -> str:
    fa, fb = _finite_number(a), _finite_number(b)
    if fa is None or fb is None:
        return MISSING
    d = fb - fa
    return ("+" if d > 0 else "") + format_number(d)


def _example(ex: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": text_of(ex.get("id")),
        "prompt": _text_field(ex.get("prompt"), "(no prompt)"),
        "prediction_a": _text_field(ex.get("prediction_a"), _FAILED),
        "prediction_b": _text_field(ex.get("prediction_b"), _FAILED),
        "references": _references(ex.get("references")),
        "score_a": format_number(ex.get("score_a")),
        "score_b": format_number(ex.get("score_b")),
        "score_delta": _score_delta(ex.get("score_a"), ex.get("score_b")),
    }


def _example_sections(
    doc: Mapping[str, Any], labels: Mapping[int, str], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Example sections, regressions first, capped at :data:`MAX_EXAMPLE_SECTIONS`."""
    change_by_key: dict[tuple[Any, Any, str, str], str] = {}
    for row in rows:
        key = (row.get("a"), row.get("b"), text_of(row.get("task")), text_of(row.get("metric")))
        change_by_key.setdefault(key, change_of(row))
    rank = {REGRESSED: 0, IMPROVED: 1, NO_CHANGE: 2}
    entries = []
    for pos, entry in enumerate(_as_list(doc.get("examples"))):
        entry = _as_dict(entry)
        task, metric = text_of(entry.get("task")), text_of(entry.get("metric"))
        change = change_by_key.get((entry.get("a"), entry.get("b"), task, metric), NO_CHANGE)
        entries.append((rank[change], pos, entry, change))
    entries.sort(key=lambda t: (t[0], t[1]))
    sections = []
    for _, _, entry, change in entries[:MAX_EXAMPLE_SECTIONS]:
        a_label, b_label = pair_labels(labels, entry)
        improved = [_as_dict(x) for x in _as_list(entry.get("improved"))]
        regressed = [_as_dict(x) for x in _as_list(entry.get("regressed"))]
        groups = []
        for name, items in (("Most regressed", regressed), ("Most improved", improved)):
            shown = items[:MAX_EXAMPLES_PER_LIST]
            groups.append(
                {
                    "name": name,
                    "shown": [_example(x) for x in shown],
                    "hidden": len(items) - len(shown),
                }
            )
        sections.append(
            {
                "task": text_of(entry.get("task")),
                "metric": text_of(entry.get("metric")),
                "a_label": a_label,
                "b_label": b_label,
                "change": change,
                "change_class": change.replace(" ", "-"),
                "mark": CHANGE_MARKS[change],
                "n_improved": format_number(len(improved)),
                "n_regressed": format_number(len(regressed)),
                "groups": groups,
            }
        )
    return sections, max(0, len(entries) - MAX_EXAMPLE_SECTIONS)


def _forgotten(series: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in _as_list(series.get("forgotten")):
        entry = _as_dict(entry)
        examples = [_as_dict(x) for x in _as_list(entry.get("examples"))]
        shown = examples[:MAX_EXAMPLES_PER_LIST]
        out.append(
            {
                "task": text_of(entry.get("task")),
                "metric": text_of(entry.get("metric")),
                "count": format_number(entry.get("count", len(examples))),
                "has_any": bool(examples) or (_is_number(entry.get("count")) and entry["count"]),
                "hidden": len(examples) - len(shown),
                "shown": [
                    {
                        "id": text_of(x.get("id")),
                        "best_run": text_of(x.get("best_run")),
                        "score_best": format_number(x.get("score_best")),
                        "score_last": format_number(x.get("score_last")),
                        "prediction_best": _text_field(x.get("prediction_best"), _FAILED),
                        "prediction_last": _text_field(x.get("prediction_last"), _FAILED),
                        "references": _references(x.get("references")),
                    }
                    for x in shown
                ],
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
    rows = [_as_dict(r) for r in _as_list(doc.get("comparisons"))]
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
    settings = _as_dict(doc.get("settings"))
    labels = run_labels(doc)
    raw_rows = [_as_dict(r) for r in _as_list(doc.get("comparisons"))]
    rows = [_comparison_row(r, i, labels) for i, r in enumerate(raw_rows)]
    conf = settings.get("confidence")
    ci_label = confidence_label({"bootstrap": {"confidence": conf}})
    kind = text_of(doc.get("kind", "pairwise"))
    n_reg = sum(1 for r in rows if r["change"] == REGRESSED)
    n_imp = sum(1 for r in rows if r["change"] == IMPROVED)

    runs = []
    for pos, run in enumerate(_as_list(doc.get("runs"))):
        run = _as_dict(run)
        run_labels_text = ", ".join(
            f"{text_of(k)}={text_of(v)}" for k, v in _as_dict(run.get("labels")).items()
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
    series = _as_dict(doc.get("series"))
    if kind == "series" or series:
        facts.append(("series ordered by", text_of(series.get("key", settings.get("series")))))
    samples = _sample_counts(doc, raw_rows)

    charts = []
    order = [text_of(x) for x in _as_list(series.get("order"))] or [r["label"] for r in runs]
    for trend in _as_list(series.get("trend")):
        trend = _as_dict(trend)
        task, metric = text_of(trend.get("task")), text_of(trend.get("metric"))
        drops = [
            r
            for r in raw_rows
            if text_of(r.get("task")) == task
            and text_of(r.get("metric")) == metric
            and r.get("against") in ("previous", "best")
            and change_of(r) == REGRESSED
        ]
        arrow, arrow_title = _direction(trend.get("higher_is_better"))
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
    sections, hidden_sections = _example_sections(doc, labels, raw_rows)
    if n_reg:
        verdict = f"{n_reg} significant regression{'s' if n_reg != 1 else ''}"
    else:
        verdict = "no significant regression"
    if n_imp:
        verdict += f", {n_imp} significant improvement{'s' if n_imp != 1 else ''}"
    names = [r["label"] for r in runs]
    title_runs = " vs ".join(names[:2]) if kind != "series" else " → ".join(names[:1] + names[-1:])
    assets = page_assets(_environment(), "compare.js")
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
        "forgotten": _forgotten(series),
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
    return _environment().get_template("compare.html").render(**build_compare_context(doc))
