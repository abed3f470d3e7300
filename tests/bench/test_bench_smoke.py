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


def test_bootstrap_scale_bench_rows() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        module = importlib.import_module("bootstrap_scale")
        rows = module.run(samples=300, resamples=50, metrics=["bleu", "exact_match", "kid"])
        table = module.format_rows(rows)
    finally:
        sys.path.remove(str(BENCH))
    assert [r.metric for r in rows] == ["bleu", "exact_match", "kid"]
    bleu, em, kid = rows
    assert kid.skipped is not None and kid.bootstrap_ci_s is None  # KID does not resample
    for row in (bleu, em):
        assert row.skipped is None and row.bootstrap_ci_s > 0 and row.paired_bootstrap_s > 0
        lo, hi = row.ci[row.metric]
        assert lo <= hi
        assert 1 / 51 <= row.p_values[row.metric] <= 1
    assert not bleu.slow(3600.0) and bleu.slow(0.0)
    assert "skipped (does not resample" in table


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


@pytest.fixture(scope="module")
def end_to_end() -> Iterator[ModuleType]:
    """``bench/end_to_end.py`` imported as a module (bench/ is not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("end_to_end")
    finally:
        sys.path.remove(str(BENCH))


def test_end_to_end_rows_agree_with_peers(end_to_end: ModuleType) -> None:
    """Every family at 30 samples: the run, the CLI, the twins and the peer loops agree."""
    results = end_to_end.run([30], bootstraps=[20], depth=5)
    assert [(r.family, r.case) for r in results] == [
        (f, c) for f in end_to_end.FAMILIES for c in end_to_end.CASES
    ]
    for r in results:
        # run() refuses different numbers; check them here too, and that they are real ones.
        assert r.parity is not None and r.parity <= 1e-9
        assert r.seconds > 0 and r.samples_per_s > 0 and r.rss_mb > 0
        assert all(math.isfinite(v) for v in r.values.values()), r.values
    by = {(r.family, r.case): r.values for r in results}
    assert set(by["em", "run"]) == {"exact_match"}
    assert 0 < by["em", "peer"]["exact_match"] < 1
    text = by["text", "peer"]
    assert set(text) == {"bleu", "chrf", "ter", "rouge1", "rouge2", "rougeL"}
    assert all(by["text", "run"][k] == pytest.approx(v, abs=1e-9) for k, v in text.items())
    ranking = by["retrieval", "peer"]
    assert set(ranking) == {"ndcg@10", "mrr", "recall@10", "map"} and ranking["map"] > 0
    mix = by["mix", "peer"]
    assert {"translate/bleu", "summarize/rougeL", "qa/exact_match", "qa/token_f1"} <= set(mix)
    run = next(r for r in results if r.family == "em" and r.case == "run")
    assert set(run.timings) == {"total", "load", "adapter", "judge", "scoring", "record",
                                "aggregate", "bootstrap", "reports"}  # fmt: skip
    assert sum(v for k, v in run.timings.items() if k != "total") <= run.timings["total"] + 1e-6
    assert "stage shares" in end_to_end.format_results(results)


def test_end_to_end_refuses_different_numbers(end_to_end: ModuleType) -> None:
    raw = {
        "run": {"values": {"bleu": 10.0}, "seconds": 1.0, "rss_mb": 1.0, "base_rss_mb": 0.5,
                "timings": {}},
        "peer": {"values": {"bleu": 10.5}, "seconds": 1.0, "rss_mb": 1.0, "base_rss_mb": 0.5,
                 "timings": {}},
    }  # fmt: skip
    with pytest.raises(RuntimeError, match="differs"):
        end_to_end._rows("text", 3, 0, raw)
