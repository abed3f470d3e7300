"""A compact Markdown summary of a run (for CI step summaries and pull-request comments)."""

from __future__ import annotations

import re
from typing import Any

from evalkit.report._format import confidence_label, format_ci, format_number, text_of
from evalkit.report.views import (
    CHANGE_MARKS,
    IMPROVED,
    NO_CHANGE,
    REGRESSED,
    change_of,
    correction_text,
    full_value_text,
    is_tested,
    left_out_text,
    pair_labels,
    paired_test_text,
    procedure_text,
    resolution_warning,
    run_labels,
    wtl_text,
)
from evalkit.store import RunRecord

# Characters that would end a table cell, start markup (emphasis, code, links) or raw HTML in
# GitHub-flavoured Markdown. Backslash-escapable punctuation is escaped with a backslash; the
# HTML-significant ones become entities, since GFM renders a subset of raw HTML.
_BACKSLASH = re.compile(r"([\\`*_\[\]|])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_NEWLINES = re.compile(r"\r\n|\r|\n")


def escape_cell(value: Any) -> str:
    """Escape text for one GitHub-flavoured Markdown table cell.

    Pipes and Markdown punctuation get a backslash, ``& < >`` become entities (so no raw HTML
    is rendered) and line breaks become ``<br>`` (a raw newline would end the table row).

    >>> escape_cell("a|b\\nc <img src=x>")
    'a\\\\|b<br>c &lt;img src=x&gt;'
    >>> escape_cell(None)
    '—'
    """
    text = text_of(value)
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    text = _BACKSLASH.sub(r"\\\1", text)
    return _NEWLINES.sub("<br>", text)


_PLAIN_NUMBER = re.compile(r"[\[\]0-9a-zA-Z.,+\- —]*")


def _number_cell(text: str) -> str:
    """A formatted number as is, or escaped when it is not a plain number."""
    return text if _PLAIN_NUMBER.fullmatch(text) else escape_cell(text)


def render_markdown(record: RunRecord) -> str:
    """Render a run as a short Markdown summary: one identifying line and a results table.

    Columns: task, metric, value, confidence interval (its level from the run's bootstrap
    settings), n and errors. Every cell is escaped with :func:`escape_cell`.

    Args:
        record: A run read with :func:`evalkit.store.load_run`.

    Returns:
        Markdown text ending with a newline; the same record always gives the same text.

    >>> from pathlib import Path
    >>> rec = RunRecord(Path("."), {"run_id": "r1", "suite": {"name": "qa"},
    ...     "model": {"spec": "predictions:a.jsonl"}, "status": "completed",
    ...     "results": [{"task": "t", "metric": "exact_match", "value": 0.5,
    ...                  "ci_low": 0.25, "ci_high": 0.75, "n": 4, "n_errors": 0}]})
    >>> print(render_markdown(rec), end="")
    ### evalkit: qa
    <BLANKLINE>
    **suite** qa · **model** predictions:a.jsonl · **run** r1 · **status** completed
    <BLANKLINE>
    | task | metric | value | 95% CI | n | errors |
    |---|---|---:|---|---:|---:|
    | t | exact\\_match | 0.5 | [0.25, 0.75] | 4 | 0 |
    """
    header = record.header
    suite = header.get("suite")
    model = header.get("model")
    suite_name = suite.get("name") if isinstance(suite, dict) else suite
    model_spec = model.get("spec") if isinstance(model, dict) else model
    status = header.get("status")

    lines = [f"### evalkit: {escape_cell(suite_name)}", ""]
    lines.append(
        f"**suite** {escape_cell(suite_name)} · **model** {escape_cell(model_spec)} · "
        f"**run** {escape_cell(header.get('run_id'))} · **status** {escape_cell(status)}"
    )
    if status not in (None, "completed"):
        lines += ["", f"> **Warning:** this run is {escape_cell(status)}; results may be partial."]
    lines.append("")

    rows = record.results
    if not rows:
        lines.append("_No results._")
        return "\n".join(lines) + "\n"
    lines.append(f"| task | metric | value | {confidence_label(header)} | n | errors |")
    lines.append("|---|---|---:|---|---:|---:|")
    for row in rows:
        cells = (
            escape_cell(row.get("task")),
            escape_cell(row.get("metric")),
            # Formatted numbers need no escaping (digits, signs, brackets, "NaN", a dash) unless
            # a malformed record put text where a number belongs; format_number passes it on.
            _number_cell(format_number(row.get("value"))),
            _number_cell(format_ci(row.get("ci_low"), row.get("ci_high"))),
            _number_cell(format_number(row.get("n"))),
            _number_cell(format_number(row.get("n_errors"))),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- comparisons and gates -----------------------------------------------------------------------

#: Comparison rows shown in the Markdown summary; significant rows come first, the rest are
#: counted (compare.csv and compare.html have them all). A pull-request comment stays one screen.
MAX_COMPARE_ROWS = 20


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _p_cell(value: Any) -> str:
    return _number_cell(format_number(value, 3)) if value is not None else "—"


def _value_cell(row: dict[str, Any], side: str) -> str:
    """A run's value on the common samples, with its full-run value where samples were left
    out (``81.92 (full run 79.17)``)."""
    cell = _number_cell(format_number(row.get(f"value_{side}")))
    full = full_value_text(row, side)
    return f"{cell} ({escape_cell(full)})" if full else cell


def _n_cell(row: dict[str, Any], a_label: str, b_label: str) -> str:
    """The samples compared, and how many were left out and why."""
    cell = _number_cell(format_number(row.get("n")))
    why = left_out_text(row, a_label, b_label)
    return f"{cell} ({escape_cell(why)})" if why else cell


def _notes(row: dict[str, Any]) -> str:
    """What qualifies a row's verdict: its note, a missing interval, two procedures."""
    notes = [str(row[k]) for k in ("verdict_note", "interval_note") if row.get(k)]
    methods = row.get("interval_method"), row.get("p_method")
    if all(methods) and methods[0] != methods[1]:
        notes.append(procedure_text(row))
    return "; ".join(notes)


def render_compare_markdown(doc: dict[str, Any]) -> str:
    """Render a comparison document as a one-screen Markdown summary.

    The first line is the verdict (``N significant regressions`` or ``no significant
    regression``, plus improvements); the next names the runs, the test and the correction
    (Holm–Bonferroni across all metrics and tasks). The table has one row per comparison with
    its significance mark (▲ improved, ▼ regressed, · no significant change; direction-aware),
    values, delta, CI and the Holm-adjusted p-value; rows with a significant change come first
    and at most :data:`MAX_COMPARE_ROWS` are shown. Every cell is escaped with
    :func:`escape_cell`.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``).

    Returns:
        Markdown text ending with a newline; the same document always gives the same text.

    >>> doc = {"kind": "pairwise", "runs": [{"index": 0, "label": "a"}, {"index": 1, "label": "b"}],
    ...     "settings": {"test": "bootstrap", "resamples": 1000, "alpha": 0.05,
    ...                  "confidence": 0.95, "correction": "holm"},
    ...     "comparisons": [{"a": 0, "b": 1, "against": "baseline", "task": "qa",
    ...         "metric": "exact_match", "higher_is_better": True, "value_a": 0.75,
    ...         "value_b": 0.5, "delta": -0.25, "ci_low": -0.5, "ci_high": -0.0625,
    ...         "p_value": 0.004, "p_adjusted": 0.004, "significant": True,
    ...         "change": "regressed", "wins": 0, "ties": 12, "losses": 4}]}
    >>> print(render_compare_markdown(doc).splitlines()[0])
    ### evalkit compare: 1 significant regression
    """
    raw_settings = doc.get("settings")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    raw = doc.get("comparisons")
    rows = [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
    changes = [change_of(r) for r in rows]
    n_reg, n_imp = changes.count(REGRESSED), changes.count(IMPROVED)
    verdict = _plural(n_reg, "significant regression") if n_reg else "no significant regression"
    if n_imp:
        verdict += ", " + _plural(n_imp, "significant improvement")
    labels = run_labels(doc)

    lines = [f"### evalkit compare: {verdict}", ""]
    names = [escape_cell(labels[i]) for i in sorted(labels)]
    if doc.get("kind") == "series":
        runs = " → ".join(names)
        series = doc.get("series")
        key = series.get("key") if isinstance(series, dict) else settings.get("series")
        runs = f"**series** by {escape_cell(key)}: {runs}"
    else:
        runs = "**runs** " + " · ".join(
            f"{n} (baseline)" if i == 0 else n for i, n in enumerate(names)
        )
    conf = settings.get("confidence")
    ci_label = confidence_label({"bootstrap": {"confidence": conf}})
    alpha = settings.get("alpha")
    lines.append(
        f"{runs} · **test** {escape_cell(paired_test_text(settings))}, two-sided · "
        f"**correction** {escape_cell(correction_text(settings))} "
        f"({_plural(len(rows), 'test')}), alpha {_number_cell(format_number(alpha))}"
    )
    warning = resolution_warning(doc)
    if warning:
        lines += ["", f"> **Warning:** {escape_cell(warning)}"]
    lines.append("")
    if not rows:
        lines.append("_No comparisons._")
        return "\n".join(lines) + "\n"

    rank = {REGRESSED: 0, IMPROVED: 1, NO_CHANGE: 2}
    order = sorted(range(len(rows)), key=lambda i: (rank[changes[i]], i))
    shown = order[:MAX_COMPARE_ROWS]
    lines.append(
        f"| | task | metric | A → B | value A | value B | n | Δ | {ci_label} | p (Holm) | W/T/L "
        "| notes |"
    )
    lines.append("|---|---|---|---|---:|---:|---:|---:|---|---:|---|---|")
    for i in shown:
        row, change = rows[i], changes[i]
        a_label, b_label = pair_labels(labels, row)
        against = row.get("against")
        pair = f"{escape_cell(a_label)} → {escape_cell(b_label)}"
        if against not in (None, "baseline", "previous"):
            pair += f" ({escape_cell(against)})"
        hib = row.get("higher_is_better")
        arrow = " ↑" if hib is True else " ↓" if hib is False else ""
        mark = CHANGE_MARKS[change] if is_tested(row) else "◇ not tested"
        if change != NO_CHANGE:
            mark = f"**{mark}** {change}"
        cells = (
            mark,
            escape_cell(row.get("task")),
            escape_cell(row.get("metric")) + arrow,
            pair,
            _value_cell(row, "a"),
            _value_cell(row, "b"),
            _n_cell(row, a_label, b_label),
            _number_cell(format_number(row.get("delta"))),
            _number_cell(format_ci(row.get("ci_low"), row.get("ci_high"))),
            _p_cell(row.get("p_adjusted")),
            _number_cell(wtl_text(row, "/")),
            escape_cell(_notes(row) or None),
        )
        lines.append("| " + " | ".join(cells) + " |")
    hidden = order[len(shown) :]
    if hidden:
        n_sig = sum(1 for i in hidden if changes[i] != NO_CHANGE)
        what = f"{n_sig} of them significant" if n_sig else "none of them significant"
        lines += [
            "",
            f"_{_plural(len(hidden), 'more row')} ({what}) in compare.csv and compare.html._",
        ]
    return "\n".join(lines) + "\n"


_GATE_MARKS = {"pass": "✅ pass", "fail": "❌ **fail**", "skipped": "⏭️ skipped"}


def _gate_rule(gate: dict[str, Any]) -> str:
    """A gate's condition in words, e.g. ``value ≥ 0.3``."""
    kind, threshold = gate.get("kind"), gate.get("threshold")
    t = format_number(threshold)
    if kind == "min":
        return f"value ≥ {t}"
    if kind == "max":
        return f"value ≤ {t}"
    if kind == "max_drop":
        return f"drop from baseline ≤ {t}"
    if kind == "no_significant_regression":
        alpha = gate.get("alpha", threshold)
        return f"no significant regression (alpha {format_number(alpha)}, Holm)"
    return f"{text_of(kind)} {t}"


def render_gates_markdown(gates: list[dict[str, Any]]) -> str:
    """Render quality-gate outcomes as Markdown: a verdict line and one table row per gate.

    Each gate dict has ``task``, ``metric``, ``kind`` (``min``, ``max``, ``max_drop`` or
    ``no_significant_regression``), ``threshold``, ``value``, ``baseline_value``, ``delta``,
    ``p_value``, ``p_adjusted``, ``alpha``, ``status`` (``pass``, ``fail``, ``skipped``) and
    ``message`` (:func:`evalkit.gates.check_gates`). Every cell is escaped.

    Args:
        gates: The gate outcomes, in the order they were checked.

    Returns:
        Markdown text ending with a newline.

    >>> print(render_gates_markdown([{"task": "qa", "metric": "exact_match", "kind": "min",
    ...     "threshold": 0.5, "value": 0.25, "status": "fail", "message": "too low"}]), end="")
    #### Gates: 1 failed
    <BLANKLINE>
    | status | task | metric | gate | value | baseline | Δ | p (Holm) | message |
    |---|---|---|---|---:|---:|---:|---:|---|
    | ❌ **fail** | qa | exact\\_match | value ≥ 0.5 | 0.25 | — | — | — | too low |
    """
    if not gates:
        return "#### Gates\n\n_No gates declared._\n"
    statuses = [g.get("status") for g in gates]
    failed, skipped = statuses.count("fail"), statuses.count("skipped")
    passed = statuses.count("pass")
    if failed:
        verdict = f"{failed} failed"
    else:
        verdict = f"all {passed} checked passed" if passed else "none checked"
    if skipped:
        verdict += f", {skipped} skipped"
    lines = [f"#### Gates: {verdict}", ""]
    lines.append("| status | task | metric | gate | value | baseline | Δ | p (Holm) | message |")
    lines.append("|---|---|---|---|---:|---:|---:|---:|---|")
    for g in gates:
        status = g.get("status")
        p_adj = g.get("p_adjusted")
        cells = (
            _GATE_MARKS.get(status, escape_cell(status)) if isinstance(status, str) else "—",
            escape_cell(g.get("task")),
            escape_cell(g.get("metric")),
            escape_cell(_gate_rule(g)),
            _number_cell(format_number(g.get("value"))),
            _number_cell(format_number(g.get("baseline_value"))),
            _number_cell(format_number(g.get("delta"))),
            _p_cell(p_adj),
            escape_cell(g.get("message") or None),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
