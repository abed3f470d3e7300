"""Format-neutral readings of a comparison document, shared by every comparison report.

A comparison document (:func:`evalkit.compare.compare_runs`, or a ``compare.json`` read back)
is loose JSON: a field may be missing, ``None`` or of another type in a document written by an
older version. The functions here read it the same way for the HTML page
(:mod:`evalkit.report.html.compare`), the Markdown summary (:mod:`evalkit.report.markdown`),
the JUnit XML (:mod:`evalkit.report.junit`) and ``compare.csv``
(:mod:`evalkit.report.compare_files`): a row's outcome and whether it was tested at all, what it
left out and why, the procedures behind its interval and p-value, run labels, and the test and
correction of the whole document, each in words. They return plain text and never markup;
each report escapes it for its own format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evalkit.report._format import (
    MISSING,
    as_dict,
    as_list,
    finite_number,
    format_number,
    is_number,
    text_of,
)

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
    delta = finite_number(row.get("delta"))
    if row.get("significant") is not True or not delta:
        return NO_CHANGE
    better = (delta > 0) == (row.get("higher_is_better") is not False)
    return IMPROVED if better else REGRESSED


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
    return finite_number(row.get("p_value")) is not None or (
        finite_number(row.get("ci_low")) is not None
        and finite_number(row.get("ci_high")) is not None
    )


def count_of(value: Any) -> int:
    """A recorded count (a number, or a dict of counts by reason) as one whole number.

    >>> count_of({"failed_a": 2, "missing_b": {"x": 1}}), count_of(-3), count_of(None)
    (3, 0, 0)
    """
    if isinstance(value, Mapping):
        return sum(count_of(v) for v in value.values())
    number = finite_number(value)
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
        counts = {str(k): count_of(v) for k, v in raw.items()}
        return {k: n for k, n in counts.items() if n > 0}
    if count_of(raw):
        return {"left_out": count_of(raw)}
    if count_of(row.get("errors_excluded")):
        return {"failed": count_of(row.get("errors_excluded"))}
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
    if all(is_number(c) for c in counts):
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
    if not is_number(full):
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
    for pos, run in enumerate(as_list(doc.get("runs"))):
        run = as_dict(run)
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
    if is_number(resamples):
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
    settings = as_dict(doc.get("settings"))
    resamples, alpha = settings.get("resamples"), finite_number(settings.get("alpha"))
    m = len(as_list(doc.get("comparisons")))
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
