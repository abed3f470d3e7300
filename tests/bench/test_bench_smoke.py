"""Smoke test of the benchmark harness and the text-overlap benchmark: correctness only.

The benchmark runs in-process on 50 pairs with one timed repeat. Timings are checked to be
positive numbers, never compared: speed is reported by ``bench/``, not asserted by tests.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import ROOT

BENCH = ROOT / "bench"


@pytest.fixture(scope="module")
def text_overlap() -> Iterator[ModuleType]:
    """``bench/text_overlap.py`` imported as a module (bench/ is not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("text_overlap")
    finally:
        sys.path.remove(str(BENCH))


def test_text_overlap_rows_agree_with_peers(text_overlap: ModuleType) -> None:
    # evaluate's import costs seconds and its load is skipped offline anyway; the skipped-row
    # path is covered below with a fake loader.
    rows = text_overlap.run(sizes=[50], repeats=1, with_evaluate=False)
    groups = {r.group for r in rows}
    assert groups == {"BLEU", "chrF", "TER", "ROUGE"}
    for row in rows:
        assert row.size == 50 and row.skipped is None
        assert len(row.times_s) == 1
        assert row.median_s is not None and row.median_s > 0
        assert row.min_s is not None and row.min_s > 0
        if row.is_evalkit:
            assert row.ratio is None and row.parity_max_abs_diff is None
        else:
            assert row.ratio is not None and math.isfinite(row.ratio) and row.ratio > 0
            assert row.parity_max_abs_diff is not None and row.parity_max_abs_diff < 1e-9
    # Each group has evalkit first, then at least one peer.
    for group in groups:
        impls = [r for r in rows if r.group == group]
        assert impls[0].is_evalkit and len(impls) >= 2


def test_corpus_is_seeded_and_noisy(text_overlap: ModuleType) -> None:
    preds, refs = text_overlap.corpus(200)
    assert (preds, refs) == text_overlap.corpus(200)
    assert (preds, refs) != text_overlap.corpus(200, seed=1)
    changed = sum(p != r for p, r in zip(preds, refs, strict=True))
    assert changed > 150  # predictions are edits of the references, not copies


def test_skipped_peer_and_parity_failure() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        harness = importlib.import_module("harness")
    finally:
        sys.path.remove(str(BENCH))
    group = harness.Group(
        "X",
        harness.Case("evalkit", lambda: {"a": 1.0}),
        [harness.Case("same", lambda: {"a": 1.0}), harness.Case("hub", skip="offline")],
    )
    rows = harness.run_group("t", 3, group, repeats=2)
    assert [r.impl for r in rows] == ["evalkit", "same", "hub"]
    assert rows[2].skipped == "offline" and rows[2].times_s == []
    assert "skipped (offline)" in harness.format_table(rows)
    bad = harness.Group(
        "X", harness.Case("evalkit", lambda: 1.0), [harness.Case("off", lambda: 1.5)]
    )
    with pytest.raises(harness.ParityError, match=r"differs from evalkit by 0\.5"):
        harness.run_group("t", 3, bad, repeats=1)


def test_paired_bootstrap_bench_rows() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        module = importlib.import_module("paired_bootstrap")
        rows = module.main(
            [
                "--bleu-size",
                "60",
                "--size",
                "40",
                "--text-resamples",
                "1",
                "--metrics",
                "bleu,rouge,exact_match",
            ]
        )
    finally:
        sys.path.remove(str(BENCH))
    assert [r["metric"] for r in rows] == ["bleu", "rougeL", "exact_match"]
    for row in rows:
        assert row["parity"] < 1e-9  # the same observed delta both ways
        assert row["evalkit_s"] > 0 and row["text_recompute_s"] > 0
        assert 1 / 1001 <= row["p_value"] <= 1


def test_bertscore_bench_rows() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        module = importlib.import_module("bertscore")
        rows = module.run(sizes=(12,), repeats=1)
    finally:
        sys.path.remove(str(BENCH))
    ran = [r for r in rows if r.skipped is None]
    assert {r.group for r in ran} == {"BERTScore", "BERTScore idf"}
    assert {r.impl for r in ran} >= {"evalkit BERTScore", "bert_score.score"}
    for row in ran:
        assert row.median_s is not None and row.median_s > 0
        if not row.is_evalkit:  # peers: the same numbers as evalkit
            assert row.parity_max_abs_diff is not None and row.parity_max_abs_diff < 1e-6
    skipped = [r for r in rows if r.skipped is not None]
    assert [r.impl for r in skipped] == ["torchmetrics bert_score"]


def test_image_benchmark_rows_agree() -> None:
    """bench/image.py at a small size: FID parity with pytorch-fid, and an extraction rate."""
    sys.path.insert(0, str(BENCH))
    try:
        image = importlib.import_module("image")
    finally:
        sys.path.remove(str(BENCH))
    rows = image.run(sizes=[300], repeats=1, dims=32)
    groups = {r.group for r in rows}
    assert groups == {"FID (d=32)", "digits-cnn features"}
    peer = next(r for r in rows if r.group == "FID (d=32)" and not r.is_evalkit)
    if peer.skipped is None:
        assert peer.ratio is not None and peer.ratio > 0
        assert peer.parity_max_abs_diff is not None
    rates = image.throughput(rows)
    assert set(rates) == {300} and rates[300] > 0
    a, b = image.features(300, 32)
    assert a.shape == (300, 32) and np.array_equal(a, image.features(300, 32)[0])
    assert not np.array_equal(a, b)
