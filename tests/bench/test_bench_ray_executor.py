"""Smoke test of ``bench/ray_executor.py`` at a tiny size: it runs, and both executors agree.

Timings are checked to be positive numbers, never compared: speed is reported by ``bench/``.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

ray = pytest.importorskip("ray")

BENCH = ROOT / "bench"


def test_ray_executor_benchmark_runs_and_agrees() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        bench = importlib.import_module("ray_executor")
    finally:
        sys.path.remove(str(BENCH))
    rows, summary = bench.run(sizes=[30, 60], repeats=1, metrics=["rouge"])
    assert not ray.is_initialized()  # the benchmark stopped the instance it started
    assert [(r.size, r.impl) for r in rows] == [
        (n, impl)
        for n in (30, 60)
        for impl in ("local, one batch, EVALKIT_WORKERS=2", "ray, 2 workers", "local, batch 32")
    ]
    for row in rows:
        assert row.skipped is None and row.median_s is not None and row.median_s > 0
        if not row.is_evalkit:
            assert row.parity_max_abs_diff == 0  # identical results on every executor
            assert row.ratio is not None and math.isfinite(row.ratio)
    assert summary["startup_s"] > 0
    assert set(summary["speedup"]) == {30, 60}
    assert summary["break_even"] is None or summary["break_even"] >= 0
    assert set(summary["per_sample_ms"]) == {"local", "ray"}


def test_suite_file_and_break_even_arithmetic(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        bench = importlib.import_module("ray_executor")
        harness = importlib.import_module("harness")
    finally:
        sys.path.remove(str(BENCH))
    suite, preds = bench.write_suite(tmp_path, 5, ["rouge", "meteor"])
    assert "- rouge: {use_stemmer: true}" in suite.read_text()
    assert len(preds.read_text().splitlines()) == 5

    def row(size: int, impl: str, median: float) -> object:
        return harness.Row("b", size, "suite", impl, impl == "local", 1, [median], median, median)

    # local: 1 ms/sample; ray: 0.5 ms/sample + 3 s per run, plus 5 s of start-up -> 16,000.
    rows = [row(n, "local", n * 1e-3) for n in (1000, 2000)]
    rows += [row(n, "ray, 2 workers", 3 + n * 0.5e-3) for n in (1000, 2000)]
    summary = bench.break_even(rows, 5.0)
    assert summary["break_even"] == pytest.approx(16000)
    assert summary["speedup"][2000] == pytest.approx(2 / 4)
