"""Format-neutral readings of a comparison document, shared by every comparison report.

A comparison document (:func:`evalkit.compare.compare_runs`, or a ``compare.json`` read back)
is checked once against :class:`evalkit.records.ComparisonDoc` at the report's boundary
(:func:`evalkit.report._record.typed_comparison`); the functions here read its typed rows the
same way for the HTML page (:mod:`evalkit.report.html.compare`), the Markdown summary
(:mod:`evalkit.report.markdown`), the JUnit XML (:mod:`evalkit.report.junit`) and
``compare.csv`` (:mod:`evalkit.report.compare_files`): a row's outcome and whether it was
tested at all, what it left out and why, the procedures behind its interval and p-value, run
labels, and the test and correction of the whole document, each in words. They return plain
text and never markup; each report escapes it for its own format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from evalkit.records import CompareSettings, ComparisonDoc, ComparisonRow, Examples
from evalkit.report._format import MISSING, format_number

#: The three outcomes of a comparison row, as :func:`evalkit.compare.compare_runs` names them.
IMPROVED = "improved"
REGRESSED = "regressed"
NO_CHANGE = "no significant change"
#: What a row without a paired test (no interval, no p-value) shows instead of an outcome.
NOT_TESTED = "not tested"
#: Significance marks, shared by the HTML, Markdown and JUnit reports.
CHANGE_MARKS = {IMPROVED: "▲", REGRESSED: "▼", NO_CHANGE: "·"}
#: What each baseline kind of a comparison row means.
AGAINST_TITLES = {
    "baseline": "against the first run (the baseline)",
    "previous": "against the previous run of the series",
    "best": "against the best earlier run of the series",
}


def _row(**fields: object) -> ComparisonRow:
    """A comparison row for the examples below: the required fields, then ``fields``.

    >>> _row(delta=-1.0).delta
    -1.0
    """
    base: dict[str, object] = {
        "a": 0, "b": 1, "against": "baseline", "task": "t", "metric": "m",
        "higher_is_better": True, "signature": "s", "n": 4, "errors_excluded": 0,
        "value_a": 1.0, "value_b": 1.0, "delta": 0.0, "significant": False,
        "change": NO_CHANGE,
    }  # fmt: skip
    return ComparisonRow.model_validate({**base, **fields})


def _finite(value: float | None) -> bool:
    """Whether an optional number is present and finite (NaN is a valid, undefined value)."""
    return value is not None and math.isfinite(value)


def change_of(row: ComparisonRow) -> str:
    """The outcome of a comparison row: ``improved``, ``regressed`` or ``no significant change``.

    The recorded ``change`` is used when it is one of the three; otherwise it is derived from
    ``significant``, the sign of ``delta`` and ``higher_is_better`` (a significant fall of a
    lower-is-better metric such as TER is an improvement).

    >>> change_of(_row(change="regressed"))
    'regressed'
    >>> change_of(_row(change="", significant=True, delta=-2.0, higher_is_better=False))
    'improved'
    >>> change_of(_row(change="", significant=False, delta=-2.0))
    'no significant change'
    """
    if row.change in CHANGE_MARKS:
        return row.change
    delta = row.delta
    if not row.significant or delta is None or not math.isfinite(delta) or not delta:
        return NO_CHANGE
    better = (delta > 0) == row.higher_is_better
    return IMPROVED if better else REGRESSED


def is_tested(row: ComparisonRow) -> bool:
    """Whether a comparison row had a paired test (set-level metrics that skip resampling do
    not: their row has no interval and no p-value).

    >>> is_tested(_row(change="not tested")), is_tested(_row(change="", p_value=None))
    (False, False)
    >>> is_tested(_row(change="", p_value=0.2))
    True
    """
    if row.change == NOT_TESTED:
        return False
    if row.change in CHANGE_MARKS:
        return True
    return _finite(row.p_value) or (_finite(row.ci_low) and _finite(row.ci_high))


def left_out_counts(row: ComparisonRow) -> dict[str, int]:
    """How many samples a comparison row left out, by reason (only reasons with any).

    Reads ``left_out`` (a dict of counts such as ``failed_a``, ``missing_b``), or, in documents
    written before it existed, ``errors_excluded`` (samples whose call failed in either run).

    >>> left_out_counts(_row(left_out={"failed_a": 0, "failed_b": 2}, errors_excluded=2))
    {'failed_b': 2}
    >>> left_out_counts(_row(errors_excluded=1)), left_out_counts(_row(errors_excluded=0))
    ({'failed': 1}, {})
    """
    if "left_out" in row.model_fields_set:
        return {k: n for k, n in row.left_out.items() if n > 0}
    if row.errors_excluded > 0:
        return {"failed": row.errors_excluded}
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


def left_out_text(row: ComparisonRow, a_label: str = "A", b_label: str = "B") -> str:
    """What a row left out, in words; empty when it left nothing out.

    >>> left_out_text(_row(left_out={"failed_b": 1, "missing_a": 2}), "a", "b")
    '3 left out: 1 failed in b, 2 missing from a'
    >>> left_out_text(_row(errors_excluded=0))
    ''
    """
    counts = left_out_counts(row)
    if not counts:
        return ""
    parts = [f"{format_number(n)} {_reason_text(k, a_label, b_label)}" for k, n in counts.items()]
    return f"{format_number(sum(counts.values()))} left out: {', '.join(parts)}"


def procedure_text(row: ComparisonRow) -> str:
    """The procedures behind a row's interval and p-value, named both where they differ.

    >>> procedure_text(_row(interval_method="BCa bootstrap", p_method="paired bootstrap"))
    'interval: BCa bootstrap; p-value: paired bootstrap'
    >>> procedure_text(_row(interval_method="paired bootstrap", p_method="paired bootstrap"))
    'paired bootstrap'
    >>> procedure_text(_row())
    ''
    """
    interval, p = row.interval_method, row.p_method
    if interval and p and interval != p:
        return f"interval: {interval}; p-value: {p}"
    return interval or p or ""


def procedures_differ(row: ComparisonRow) -> bool:
    """Whether a row's interval and p-value come from two different named procedures."""
    return bool(row.interval_method and row.p_method and row.interval_method != row.p_method)


def wtl_text(row: ComparisonRow, sep: str = " / ") -> str:
    """Wins / ties / losses, or one em dash where the metric has none (set-level metrics).

    >>> wtl_text(_row(wins=3, ties=0, losses=1)), wtl_text(_row(wins=None))
    ('3 / 0 / 1', '—')
    """
    counts = (row.wins, row.ties, row.losses)
    if all(c is not None for c in counts):
        return sep.join(format_number(c) for c in counts)
    return MISSING


def full_value_text(row: ComparisonRow, side: str) -> str:
    """``full run V`` when the run's full-run value is recorded and the row left samples out
    or the two differ; else empty.

    >>> full_value_text(_row(value_a=81.92, value_a_full=79.17, n_a_full=20), "a")
    'full run 79.17 (n 20)'
    >>> full_value_text(_row(value_a=0.5, value_a_full=0.5), "a")
    ''
    """
    if side == "a":
        value, full, n_full = row.value_a, row.value_a_full, row.n_a_full
    else:
        value, full, n_full = row.value_b, row.value_b_full, row.n_b_full
    if full is None:
        return ""
    shown = format_number(full)
    if not left_out_counts(row) and shown == format_number(value):
        return ""
    if n_full is not None:
        return f"full run {shown} (n {format_number(n_full)})"
    return f"full run {shown}"


def run_labels(doc: ComparisonDoc) -> dict[int, str]:
    """Run index -> label, from the document's ``runs``.

    >>> from evalkit.report._record import typed_comparison
    >>> run_labels(typed_comparison({"format_version": 1, "kind": "pairwise",
    ...     "runs": [{"index": 0, "label": "a", "path": "r/a"},
    ...              {"index": 1, "label": "b", "path": "r/b"}],
    ...     "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95},
    ...     "regressions": 0, "exit_code": 0}))
    {0: 'a', 1: 'b'}
    """
    return {run.index: run.label for run in doc.runs}


def pair_labels(labels: Mapping[int, str], row: ComparisonRow | Examples) -> tuple[str, str]:
    """The labels of a row's runs ``a`` and ``b`` (``run N`` when a label is unknown).

    >>> pair_labels({0: "a"}, _row(a=0, b=1))
    ('a', 'run 1')
    """
    return labels.get(row.a, f"run {row.a}"), labels.get(row.b, f"run {row.b}")


def correction_text(settings: CompareSettings) -> str:
    """The multiple-comparison correction of a document, in words.

    >>> s = CompareSettings(test="bootstrap", alpha=0.05, confidence=0.95, correction="holm")
    >>> correction_text(s)
    'Holm–Bonferroni across all metrics and tasks of this comparison'
    """
    if settings.correction == "holm":
        return "Holm–Bonferroni across all metrics and tasks of this comparison"
    if settings.correction is None:
        return "none"
    return settings.correction


def paired_test_text(settings: CompareSettings) -> str:
    """The paired test of a document, in words.

    >>> paired_test_text(CompareSettings(test="bootstrap", resamples=1000, alpha=0.05,
    ...                                  confidence=0.95))
    'paired bootstrap, 1,000 resamples'
    """
    if settings.test == "bootstrap":
        name, unit = "paired bootstrap", "resamples"
    elif settings.test == "randomization":
        name, unit = "approximate randomization", "trials"
    else:
        name, unit = settings.test, "resamples"
    if settings.resamples is not None:
        return f"{name}, {format_number(settings.resamples)} {unit}"
    return name


def p_value_text(settings: CompareSettings) -> str:
    """How p-values are computed, with the floor they cannot go below.

    >>> p_value_text(CompareSettings(test="bootstrap", resamples=1000, alpha=0.05,
    ...                              confidence=0.95))
    'two-sided; never below 1/(resamples+1) = 0.000999'
    """
    resamples = settings.resamples
    text = "two-sided; never below 1/(resamples+1)"
    if resamples is not None and resamples >= 0:
        text += f" = {format_number(1 / (resamples + 1), 3)}"
    return text


def resolution_warning(doc: ComparisonDoc) -> str | None:
    """A warning when no comparison of the document can be significant, else ``None``.

    A resampling p-value is at least ``1/(R+1)`` for ``R`` resamples, and Holm multiplies the
    smallest p-value by the number of tests ``m``; when ``m/(R+1) >= alpha`` not even a
    comparison that won every resample can reach significance.

    >>> def doc(resamples, m):
    ...     return ComparisonDoc(format_version=1, kind="pairwise", runs=[],
    ...         settings=CompareSettings(test="bootstrap", resamples=resamples, alpha=0.05,
    ...                                  confidence=0.95),
    ...         comparisons=[_row()] * m, regressions=0, exit_code=0)
    >>> resolution_warning(doc(1000, 68))[:60]
    'With 1,000 resamples and 68 comparisons the smallest possibl'
    >>> resolution_warning(doc(10000, 68)) is None
    True
    """
    settings = doc.settings
    resamples, alpha = settings.resamples, settings.alpha
    m = len(doc.comparisons)
    if resamples is None or resamples < 1:
        return None
    if not math.isfinite(alpha) or alpha <= 0 or not m:
        return None
    floor = m / (resamples + 1)
    if settings.correction not in (None, "holm") or floor < alpha:
        return None
    need = math.floor(m / alpha)
    return (
        f"With {format_number(resamples)} resamples and {format_number(m)} comparisons the "
        f"smallest possible Holm-adjusted p-value is {format_number(m)}/"
        f"{format_number(resamples + 1)} = {format_number(min(floor, 1.0), 3)}, not below "
        f"alpha = {format_number(alpha)}: no comparison can be significant. Compare again with "
        f"more than {format_number(need)} resamples (--resamples)."
    )
