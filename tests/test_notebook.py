"""The quickstart notebook runs top to bottom in a fresh kernel; it is committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"


def test_committed_notebook_has_no_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], cell.source[:60]
        assert cell.execution_count is None, cell.source[:60]


def test_notebook_executes(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    # The results table, the per-sample table, the pivot, the comparison, the report frame.
    assert sum("<table" in h for h in html) >= 4
    assert any("exact_match" in h and "token_f1" in h for h in html)
    assert any("no significant change" in h or "regressed" in h or "improved" in h for h in html)
    frame = [h for h in html if h.startswith("<iframe")]
    assert len(frame) == 1 and 'sandbox="allow-scripts"' in frame[0]
    assert "Content-Security-Policy" in frame[0]
