"""A compact Markdown summary of a run (for CI step summaries and pull-request comments)."""

from __future__ import annotations

import re
from typing import Any

from evalkit.report._format import confidence_label, format_ci, format_number, text_of
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
