"""Reports: pure functions of a run record (``results.json`` + ``samples.jsonl``).

None of them calls a model. :func:`write_reports` writes the files that ``evalkit run`` and
``evalkit report DIR`` leave in a run directory; the renderers are importable on their own.
"""

from __future__ import annotations

import os
from pathlib import Path

from evalkit.report._files import write_text_atomic
from evalkit.report._record import typed_run
from evalkit.report.csv import neutralise_cell, write_results_csv
from evalkit.report.html.run import render_html
from evalkit.report.markdown import render_markdown
from evalkit.store import load_run

__all__ = [
    "CSV_REPORT",
    "HTML_REPORT",
    "neutralise_cell",
    "render_html",
    "render_markdown",
    "write_reports",
    "write_results_csv",
]

#: File names inside a run directory.
CSV_REPORT = "results.csv"
HTML_REPORT = "report.html"


def write_reports(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``results.csv`` and ``report.html`` into a run directory from its record.

    Both files are written atomically (temporary file + rename) and depend only on the
    record, so running this twice on the same run gives byte-identical files.

    Args:
        run_dir: A run directory holding ``results.json`` (and usually ``samples.jsonl``).

    Returns:
        The paths written: ``[results.csv, report.html]``.

    Raises:
        InputError: ``results.json`` is missing or malformed, or a sample line is not JSON.
        evalkit.records.RecordError: The record does not match the schema (the file, line and
            field are named); nothing was written.

    >>> import tempfile, pathlib
    >>> from evalkit.store import write_json_atomic
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_json_atomic(d / "results.json", {"format_version": 1, "results": []})
    >>> [p.name for p in write_reports(d)]
    ['results.csv', 'report.html']
    """
    record = typed_run(load_run(run_dir))  # checked once, before anything is written
    path = Path(run_dir)
    csv_path = write_results_csv(record.header.results, path / CSV_REPORT)
    html_path = write_text_atomic(path / HTML_REPORT, render_html(record))
    return [csv_path, html_path]
