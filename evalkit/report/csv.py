"""``results.csv``: the tidy result rows of a run, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evalkit.records import ResultRow
from evalkit.report._files import write_text_atomic
from evalkit.report._record import typed_results

#: Column order of ``results.csv``: the tidy row contract of ``results.json`` (DESIGN.md).
COLUMNS = (
    "task",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "n_errors",
    "higher_is_better",
    "signature",
)

# CSV ("formula") injection: a spreadsheet that opens a CSV runs a cell starting with one of
# these characters as a formula (``=cmd|' /C calc'!A0``, ``=HYPERLINK(...)``). OWASP, "CSV
# Injection" (https://owasp.org/www-community/attacks/CSV_Injection), recommends prefixing such
# cells with a single quote, which spreadsheets read as "this is text". The list is OWASP's:
# equals, plus, minus, at, tab (0x09) and carriage return (0x0D).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> str:
    """The CSV text of one cell, with formula injection neutralised.

    Strings that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a
    leading single quote (OWASP "CSV Injection"). Numbers are written as numbers: a negative
    float or int is data, not a formula, and keeps its minus sign unquoted, so spreadsheets and
    ``pandas.read_csv`` still read it as a number. Floats keep full precision (``repr``); NaN and
    infinities are written ``nan``, ``inf``, ``-inf``; ``None`` is an empty cell; booleans are
    ``true``/``false``.

    Args:
        value: A cell value from a result row.

    Returns:
        The cell's text (quoting for commas and quotes is left to the ``csv`` writer).

    >>> neutralise_cell("=cmd|' /C calc'!A0")
    "'=cmd|' /C calc'!A0"
    >>> neutralise_cell("-1+2"), neutralise_cell(-1.5), neutralise_cell(-3)
    ("'-1+2", '-1.5', '-3')
    >>> neutralise_cell(None), neutralise_cell(True), neutralise_cell(float("nan"))
    ('', 'true', 'nan')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)  # 'inf', '-inf' or the shortest round-tripping decimal
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def results_csv_text(rows: Iterable[ResultRow | Mapping[str, Any]]) -> str:
    """The text of ``results.csv`` for tidy rows (header first, ``\\n`` line endings).

    Rows are checked against :class:`evalkit.records.ResultRow` first (plain dicts, as in
    ``RunRecord.results``, or typed rows); columns outside :data:`COLUMNS` are not written.

    Raises:
        evalkit.records.RecordError: A row is not a result row (its index and field named).

    >>> print(results_csv_text([{"task": "t", "metric": "bleu", "value": 31.2, "ci_low": None,
    ...     "ci_high": None, "n": 3, "n_errors": 0, "higher_is_better": True,
    ...     "signature": "s"}]), end="")
    task,metric,value,ci_low,ci_high,n,n_errors,higher_is_better,signature
    t,bleu,31.2,,,3,0,true,s
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in typed_results(rows):
        cells = row.model_dump()
        writer.writerow([neutralise_cell(cells[col]) for col in COLUMNS])
    return buf.getvalue()


def write_results_csv(rows: Iterable[ResultRow | Mapping[str, Any]], path: str | Path) -> Path:
    """Write tidy result rows to ``path`` as CSV, atomically.

    Args:
        rows: Result rows ``{task, metric, value, ci_low, ci_high, n, n_errors,
            higher_is_better, signature}`` (``RunRecord.results``, or typed rows).
        path: The CSV file to write.

    Returns:
        The path written.

    Raises:
        evalkit.records.RecordError: A row is not a result row; nothing was written.
    """
    return write_text_atomic(Path(path), results_csv_text(rows))
