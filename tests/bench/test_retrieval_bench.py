"""Smoke test of bench/retrieval.py: the rows agree with their peers (correctness only).

ranx is left out: its numba JIT takes about a minute on an empty cache. Timings are checked to
be positive, never compared.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "bench"


@pytest.fixture(scope="module")
def retrieval_bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("retrieval")
    finally:
        sys.path.remove(str(BENCH))


def test_rows_agree_with_peers(retrieval_bench: ModuleType) -> None:
    pytest.importorskip("pytrec_eval")
    rows = retrieval_bench.run(sizes=[60], repeats=1, with_ranx=False)
    assert [(r.group, r.impl) for r in rows] == [
        ("nDCG@10+MRR+R@100+MAP", "evalkit"),
        ("nDCG@10+MRR+R@100+MAP", "pytrec_eval"),
        ("nDCG@10+MRR+R@100+MAP", "evalkit metric classes (runner path)"),
        ("nDCG@10+MRR+R@100+MAP", "evalkit metric classes (trec_run samples)"),
        ("through the runner", "evalkit run_suite (trec_run file)"),
        ("through the runner", "pytrec_eval"),
        ("through the runner", "evalkit metric classes (trec_run samples)"),
    ]
    for row in rows:
        assert row.skipped is None and row.median_s is not None and row.median_s > 0
        if not row.is_evalkit:
            assert row.ratio is not None and math.isfinite(row.ratio)
            assert row.parity_max_abs_diff is not None and row.parity_max_abs_diff < 1e-9


def test_data_is_seeded_and_shaped(retrieval_bench: ModuleType) -> None:
    qrels, run = retrieval_bench.data(200)
    assert (qrels, run) == retrieval_bench.data(200)
    assert all(len(r) == retrieval_bench.DEPTH for r in run.values())
    assert all(1 <= len(g) <= 5 and set(g.values()) <= {1, 2, 3} for g in qrels.values())
    retrieved = sum(d in run[q] for q, g in qrels.items() for d in g)
    assert 0.5 < retrieved / sum(map(len, qrels.values())) < 0.8
