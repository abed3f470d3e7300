"""Smoke test of ``bench/ray_http.py`` at a tiny size on a real two-node Ray cluster.

One simulated cluster (a head and one more raylet, one CPU each) and one real loopback server
(a child process, 10 ms a request) serve the module. The benchmark's scaling part joins the
cluster by its address and runs the suite locally and on 1 and 2 Ray workers: the records
must be identical (parity 0 over the result values and a digest of every sample line).
Timings are checked to be positive, never compared: speed is reported by ``bench/``.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT

ray = pytest.importorskip("ray")

BENCH = ROOT / "bench"


def _bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("ray_http")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    sim = _bench().ClusterSim(2)
    sim.start()
    try:
        yield sim
    finally:
        sim.shutdown()


def test_scaling_part_gives_identical_records_on_local_and_1_and_2_workers(cluster: Any) -> None:
    bench = _bench()
    rows, extra = bench.run(
        sizes=[24], parts=("scaling",), workers=(1, 2), latency_s=0.01, address=cluster.address
    )
    assert not ray.is_initialized()  # every run joined and left the cluster by itself
    assert [r.impl for r in rows] == [
        "local, concurrency 4",
        "ray cluster, 1 worker x concurrency 4",
        "ray cluster, 2 workers x concurrency 4",
    ]
    for row in rows:
        assert row.skipped is None and row.median_s is not None and row.median_s > 0
        if not row.is_evalkit:
            assert row.parity_max_abs_diff == 0  # same values and same record digest
            assert row.ratio is not None and math.isfinite(row.ratio)
    assert set(extra["fixed"]["scaling"]) == {1, 2}
    table = bench.summary_table(rows, 0.01, extra["fixed"])
    assert "ray cluster, 2 workers x concurrency 4" in table


def test_two_workers_run_on_two_nodes_and_the_record_says_so(cluster: Any, tmp_path: Path) -> None:
    from evalkit.runner import RunOptions, run_suite
    from evalkit.suite import ExecutorSpec
    from evalkit.testing import OpenAIServer

    bench = _bench()
    suite = bench.write_suite(tmp_path / "suite", 9, batch_size=3)
    with OpenAIServer() as server:
        runs = {}
        for name, executor in {
            "local": None,
            "ray": ExecutorSpec(kind="ray", address=cluster.address, workers=2),
        }.items():
            opts = RunOptions(
                use_cache=False,
                model_options={"base_url": server.url, "max_concurrency": 2},
                executor=executor,
            )
            run_suite(suite, "openai:loopback", tmp_path / name, opts)
            runs[name] = bench.record_digest(tmp_path / name)
    assert runs["ray"] == runs["local"]
    # Every third reference differs from the scripted answer: exact match 6 of 9.
    assert runs["local"]["echo/exact_match"] == pytest.approx(6 / 9)
    header = json.loads((tmp_path / "ray" / "results.json").read_text(encoding="utf-8"))
    executor = header["executor"]
    assert executor["address"] == cluster.address and executor["workers"] == 2
    assert executor["nodes"] == 2  # SPREAD: one worker on each one-CPU node


def test_summary_arithmetic() -> None:
    bench = _bench()
    sys.path.insert(0, str(BENCH))
    try:
        harness = importlib.import_module("harness")
    finally:
        sys.path.remove(str(BENCH))

    def row(impl: str, median: float) -> Any:
        return harness.Row(
            "b",
            100,
            "pair",
            impl,
            impl.startswith("local, concurrency 4"),
            1,
            [median],
            median,
            median,
        )

    rows = [row("local, concurrency 4", 10.0), row("ray, 2 workers x concurrency 4", 6.0)]
    table = bench.summary_table(rows, 0.1, {"pair": {2: 1.0}}).splitlines()
    # 100 requests in 6 s = 17/s; ideal 8 in flight / 0.1 s = 80/s; 10 / (6 - 1) = 2.00x.
    assert table[2].split()[-6:] == ["1.67x", "17", "21%", "2.00x", "(1.0", "s)"]
