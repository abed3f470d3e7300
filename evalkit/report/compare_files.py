"""The files of a comparison: ``compare.json``, ``compare.csv``, ``compare.html``, ``compare.md``.

All are pure functions of the comparison document and are written atomically (a temporary
file in the same folder, then a rename), so a reader never sees half a report and writing the
same document twice gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.records import ComparisonDoc, ComparisonRow
from evalkit.report._files import write_text_atomic
from evalkit.report._record import typed_comparison
from evalkit.report.csv import neutralise_cell
from evalkit.report.html.compare import render_compare_html
from evalkit.report.markdown import render_compare_markdown
from evalkit.report.views import (
    NOT_TESTED,
    change_of,
    is_tested,
    left_out_counts,
    left_out_text,
    pair_labels,
    run_labels,
)
from evalkit.store import write_json_atomic

#: File names inside a comparison's output folder.
COMPARE_JSON = "compare.json"
COMPARE_CSV = "compare.csv"
COMPARE_HTML = "compare.html"
COMPARE_MD = "compare.md"

#: The reasons a sample is left out of a comparison row, one count column each
#: (:func:`evalkit.compare.left_out_counts`); a reason not listed here still counts in
#: ``left_out`` and is named in ``left_out_why``.
LEFT_OUT_REASONS = (
    "failed_a",
    "failed_b",
    "failed_both",
    "missing_a",
    "missing_b",
    "missing_other",
)
LEFT_OUT_COLUMNS = tuple(f"left_out_{reason}" for reason in LEFT_OUT_REASONS)

#: Column order of ``compare.csv``: one row per comparison (pair of runs, task, metric value).
COMPARE_COLUMNS = (
    "a_label",
    "b_label",
    "against",
    "task",
    "metric",
    "higher_is_better",
    "value_a",
    "value_b",
    "value_a_full",
    "value_b_full",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "change",
    "mcnemar_p",
    "wins",
    "ties",
    "losses",
    "n",
    "left_out",
    *LEFT_OUT_COLUMNS,
    "left_out_why",
    "errors_excluded",
    "interval_method",
    "p_method",
    "interval_note",
    "verdict_note",
    "signature",
)


def _left_out_cells(row: ComparisonRow, a_label: str, b_label: str) -> dict[str, Any]:
    """The left-out columns of a row: the total, one count per known reason, and in words.

    Rows written before ``left_out`` existed leave the per-reason counts empty (unknown).
    """
    counts = left_out_counts(row)
    cells: dict[str, Any] = {"left_out": sum(counts.values())}
    if "left_out" in row.model_fields_set:
        for reason, column in zip(LEFT_OUT_REASONS, LEFT_OUT_COLUMNS, strict=True):
            cells[column] = row.left_out.get(reason, 0)
    why = left_out_text(row, a_label, b_label)
    cells["left_out_why"] = why.partition(": ")[2] if why else None
    return cells


def compare_csv_text(doc: ComparisonDoc | Mapping[str, Any]) -> str:
    """The text of ``compare.csv``: a header and one row per comparison, cells neutralised.

    Every cell goes through :func:`evalkit.report.csv.neutralise_cell` (formula
    injection is defused; numbers keep full precision). ``change`` is the row's outcome
    (``improved``, ``regressed``, ``no significant change`` or ``not tested``).

    Raises:
        evalkit.records.RecordError: ``doc`` does not match the schema of ``compare.json``.

    >>> doc = {"format_version": 1, "kind": "pairwise", "regressions": 0, "exit_code": 0,
    ...     "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95},
    ...     "runs": [{"index": 0, "label": "=a", "path": "a"}, {"index": 1, "label": "b",
    ...               "path": "b"}],
    ...     "comparisons": [{"a": 0, "b": 1, "against": "baseline", "task": "t", "metric": "m",
    ...         "higher_is_better": True, "signature": "s", "n": 4, "errors_excluded": 0,
    ...         "value_a": 1.0, "value_b": 0.5, "delta": -0.5, "significant": False,
    ...         "change": "not tested"}]}
    >>> print(compare_csv_text(doc).splitlines()[1])
    '=a,b,baseline,t,m,true,1.0,0.5,,,-0.5,,,,,false,not tested,,,,,4,0,,,,,,,,0,,,,,s
    """
    doc = typed_comparison(doc)
    labels = run_labels(doc)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COMPARE_COLUMNS)
    for row in doc.comparisons:
        a_label, b_label = pair_labels(labels, row)
        values = {
            **row.model_dump(exclude_unset=True),
            "a_label": a_label,
            "b_label": b_label,
            "change": change_of(row) if is_tested(row) else NOT_TESTED,
            **_left_out_cells(row, a_label, b_label),
        }
        writer.writerow([neutralise_cell(values.get(col)) for col in COMPARE_COLUMNS])
    return buf.getvalue()


def write_compare_outputs(doc: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the four files of a comparison into ``out_dir`` (created if missing).

    The document is checked against :class:`evalkit.records.ComparisonDoc` once, before
    anything is written; ``compare.json`` is the document as given.

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`).
        out_dir: The output folder.

    Returns:
        The paths written: ``[compare.json, compare.csv, compare.html, compare.md]``.

    Raises:
        evalkit.records.RecordError: ``doc`` does not match the schema; nothing was written.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ab"
    >>> doc = {"format_version": 1, "kind": "pairwise", "runs": [], "regressions": 0,
    ...     "exit_code": 0, "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95}}
    >>> [p.name for p in write_compare_outputs(doc, out)]
    ['compare.json', 'compare.csv', 'compare.html', 'compare.md']
    """
    out = Path(out_dir)
    json_path = out / COMPARE_JSON
    typed = typed_comparison(doc, json_path)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(json_path, doc)
    return [
        json_path,
        write_text_atomic(out / COMPARE_CSV, compare_csv_text(typed)),
        write_text_atomic(out / COMPARE_HTML, render_compare_html(typed)),
        write_text_atomic(out / COMPARE_MD, render_compare_markdown(typed)),
    ]
