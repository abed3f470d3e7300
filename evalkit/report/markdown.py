"""A compact Markdown summary of a run (for CI step summaries and pull-request comments)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.records import ComparisonDoc, ComparisonRow, GateRow
from evalkit.report._format import confidence_label, format_ci, format_number, text_of
from evalkit.report._record import TypedRun, typed_comparison, typed_gates, typed_run
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
    procedures_differ,
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


def render_markdown(record: RunRecord | TypedRun) -> str:
    """Render a run as a short Markdown summary: one identifying line and a results table.

    Columns: task, metric, value, confidence interval (its level from the run's bootstrap
    settings), n and errors. Every cell is escaped with :func:`escape_cell`.

    Args:
        record: A run read with :func:`evalkit.store.load_run` (checked against the schema
            here, unless already typed).

    Returns:
        Markdown text ending with a newline; the same record always gives the same text.

    Raises:
        evalkit.records.RecordError: The record does not match the schema (file, field).

    >>> from pathlib import Path
    >>> rec = RunRecord(Path("."), {"format_version": 1, "run_id": "r1", "suite": {"name": "qa"},
    ...     "model": {"spec": "predictions:a.jsonl"}, "status": "completed",
    ...     "results": [{"task": "t", "metric": "exact_match", "value": 0.5, "ci_low": 0.25,
    ...                  "ci_high": 0.75, "n": 4, "n_errors": 0, "higher_is_better": True,
    ...                  "signature": "s"}]})
    >>> print(render_markdown(rec), end="")
    ### evalkit: qa
    <BLANKLINE>
    **suite** qa · **model** predictions:a.jsonl · **run** r1 · **status** completed
    <BLANKLINE>
    | task | metric | value | 95% CI | n | errors |
    |---|---|---:|---|---:|---:|
    | t | exact\\_match | 0.5 | [0.25, 0.75] | 4 | 0 |
    """
    header = typed_run(record).header
    suite_name = header.suite.name if header.suite is not None else None
    model_spec = header.model.spec if header.model is not None else None
    status = header.status

    lines = [f"### evalkit: {escape_cell(suite_name)}", ""]
    lines.append(
        f"**suite** {escape_cell(suite_name)} · **model** {escape_cell(model_spec)} · "
        f"**run** {escape_cell(header.run_id)} · **status** {escape_cell(status)}"
    )
    if status not in (None, "completed"):
        lines += ["", f"> **Warning:** this run is {escape_cell(status)}; results may be partial."]
    lines.append("")

    rows = header.results
    if not rows:
        lines.append("_No results._")
        return "\n".join(lines) + "\n"
    boot = header.bootstrap
    ci_label = confidence_label(boot.confidence if boot is not None else None)
    lines.append(f"| task | metric | value | {ci_label} | n | errors |")
    lines.append("|---|---|---:|---|---:|---:|")
    for row in rows:
        cells = (
            escape_cell(row.task),
            escape_cell(row.metric),
            # Formatted numbers need no escaping (digits, signs, brackets, "NaN", a dash).
            format_number(row.value),
            format_ci(row.ci_low, row.ci_high),
            format_number(row.n),
            format_number(row.n_errors),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- comparisons and gates -----------------------------------------------------------------------

#: Comparison rows shown in the Markdown summary; significant rows come first, the rest are
#: counted (compare.csv and compare.html have them all). A pull-request comment stays one screen.
MAX_COMPARE_ROWS = 20


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _p_cell(value: float | None) -> str:
    return format_number(value, 3) if value is not None else "—"


def _value_cell(row: ComparisonRow, side: str) -> str:
    """A run's value on the common samples, with its full-run value where samples were left
    out (``81.92 (full run 79.17)``)."""
    cell = format_number(row.value_a if side == "a" else row.value_b)
    full = full_value_text(row, side)
    return f"{cell} ({escape_cell(full)})" if full else cell


def _n_cell(row: ComparisonRow, a_label: str, b_label: str) -> str:
    """The samples compared, and how many were left out and why."""
    cell = format_number(row.n)
    why = left_out_text(row, a_label, b_label)
    return f"{cell} ({escape_cell(why)})" if why else cell


def _notes(row: ComparisonRow) -> str:
    """What qualifies a row's verdict: its note, a missing interval, two procedures."""
    notes = [note for note in (row.verdict_note, row.interval_note) if note]
    if procedures_differ(row):
        notes.append(procedure_text(row))
    return "; ".join(notes)


def render_compare_markdown(doc: ComparisonDoc | Mapping[str, Any]) -> str:
    """Render a comparison document as a one-screen Markdown summary.

    The first line is the verdict (``N significant regressions`` or ``no significant
    regression``, plus improvements); the next names the runs, the test and the correction
    (Holm–Bonferroni across all metrics and tasks). The table has one row per comparison with
    its significance mark (▲ improved, ▼ regressed, · no significant change; direction-aware),
    values, delta, CI and the Holm-adjusted p-value; rows with a significant change come first
    and at most :data:`MAX_COMPARE_ROWS` are shown. Every cell is escaped with
    :func:`escape_cell`.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``),
            checked against :class:`evalkit.records.ComparisonDoc` first.

    Returns:
        Markdown text ending with a newline; the same document always gives the same text.

    Raises:
        evalkit.records.RecordError: ``doc`` does not match the schema of ``compare.json``.

    >>> doc = {"format_version": 1, "kind": "pairwise", "regressions": 1, "exit_code": 1,
    ...     "runs": [{"index": 0, "label": "a", "path": "a"}, {"index": 1, "label": "b",
    ...               "path": "b"}],
    ...     "settings": {"test": "bootstrap", "resamples": 1000, "alpha": 0.05,
    ...                  "confidence": 0.95, "correction": "holm"},
    ...     "comparisons": [{"a": 0, "b": 1, "against": "baseline", "task": "qa",
    ...         "metric": "exact_match", "higher_is_better": True, "signature": "s", "n": 16,
    ...         "errors_excluded": 0, "value_a": 0.75,
    ...         "value_b": 0.5, "delta": -0.25, "ci_low": -0.5, "ci_high": -0.0625,
    ...         "p_value": 0.004, "p_adjusted": 0.004, "significant": True,
    ...         "change": "regressed", "wins": 0, "ties": 12, "losses": 4}]}
    >>> print(render_compare_markdown(doc).splitlines()[0])
    ### evalkit compare: 1 significant regression
    """
    doc = typed_comparison(doc)
    settings = doc.settings
    rows = doc.comparisons
    changes = [change_of(r) for r in rows]
    n_reg, n_imp = changes.count(REGRESSED), changes.count(IMPROVED)
    verdict = _plural(n_reg, "significant regression") if n_reg else "no significant regression"
    if n_imp:
        verdict += ", " + _plural(n_imp, "significant improvement")
    labels = run_labels(doc)

    lines = [f"### evalkit compare: {verdict}", ""]
    names = [escape_cell(labels[i]) for i in sorted(labels)]
    if doc.kind == "series":
        runs = " → ".join(names)
        key = doc.series.key if doc.series is not None else settings.series
        runs = f"**series** by {escape_cell(key)}: {runs}"
    else:
        runs = "**runs** " + " · ".join(
            f"{n} (baseline)" if i == 0 else n for i, n in enumerate(names)
        )
    ci_label = confidence_label(settings.confidence)
    lines.append(
        f"{runs} · **test** {escape_cell(paired_test_text(settings))}, two-sided · "
        f"**correction** {escape_cell(correction_text(settings))} "
        f"({_plural(len(rows), 'test')}), alpha {format_number(settings.alpha)}"
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
        pair = f"{escape_cell(a_label)} → {escape_cell(b_label)}"
        if row.against not in ("baseline", "previous"):
            pair += f" ({escape_cell(row.against)})"
        arrow = " ↑" if row.higher_is_better else " ↓"
        mark = CHANGE_MARKS[change] if is_tested(row) else "◇ not tested"
        if change != NO_CHANGE:
            mark = f"**{mark}** {change}"
        cells = (
            mark,
            escape_cell(row.task),
            escape_cell(row.metric) + arrow,
            pair,
            _value_cell(row, "a"),
            _value_cell(row, "b"),
            _n_cell(row, a_label, b_label),
            format_number(row.delta),
            format_ci(row.ci_low, row.ci_high),
            _p_cell(row.p_adjusted),
            wtl_text(row, "/"),
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


def _gate_rule(gate: GateRow) -> str:
    """A gate's condition in words, e.g. ``value ≥ 0.3``."""
    kind, threshold = gate.kind, gate.threshold
    t = format_number(threshold)
    if kind == "min":
        return f"value ≥ {t}"
    if kind == "max":
        return f"value ≤ {t}"
    if kind == "max_drop":
        return f"drop from baseline ≤ {t}"
    if kind == "no_significant_regression":
        alpha = gate.alpha if "alpha" in gate.model_fields_set else threshold
        return f"no significant regression (alpha {format_number(alpha)}, Holm)"
    return f"{kind} {t}"


def render_gates_markdown(gates: Sequence[GateRow | Mapping[str, Any]]) -> str:
    """Render quality-gate outcomes as Markdown: a verdict line and one table row per gate.

    Each gate dict has ``task``, ``metric``, ``kind`` (``min``, ``max``, ``max_drop`` or
    ``no_significant_regression``), ``threshold``, ``value``, ``baseline_value``, ``delta``,
    ``p_value``, ``p_adjusted``, ``alpha``, ``status`` (``pass``, ``fail``, ``skipped``) and
    ``message`` (:func:`evalkit.gates.check_gates`). Every cell is escaped.

    Args:
        gates: The gate outcomes, in the order they were checked (checked against
            :class:`evalkit.records.GateRow` first).

    Returns:
        Markdown text ending with a newline.

    Raises:
        evalkit.records.RecordError: An entry is not a gate outcome.

    >>> print(render_gates_markdown([{"task": "qa", "metric": "exact_match", "kind": "min",
    ...     "threshold": 0.5, "value": 0.25, "status": "fail", "message": "too low"}]), end="")
    #### Gates: 1 failed
    <BLANKLINE>
    | status | task | metric | gate | value | baseline | Δ | p (Holm) | message |
    |---|---|---|---|---:|---:|---:|---:|---|
    | ❌ **fail** | qa | exact\\_match | value ≥ 0.5 | 0.25 | — | — | — | too low |
    """
    checked = typed_gates(gates)
    if not checked:
        return "#### Gates\n\n_No gates declared._\n"
    statuses = [g.status for g in checked]
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
    for g in checked:
        cells = (
            _GATE_MARKS.get(g.status, escape_cell(g.status)),
            escape_cell(g.task),
            escape_cell(g.metric),
            escape_cell(_gate_rule(g)),
            format_number(g.value),
            format_number(g.baseline_value),
            format_number(g.delta),
            _p_cell(g.p_adjusted),
            escape_cell(g.message or None),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
