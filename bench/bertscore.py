"""Benchmark: evalkit's BERTScore against bert-score, on the bundled all-MiniLM-L6-v2, layer 5.

Rows (each timed at every ``--sizes`` value, on the corpus of ``bench/text_overlap.py``: runs of
8 to 40 consecutive words of Python's bundled help text and noisy copies of them, one reference
per prediction):

- ``BERTScore``: ``BERTScore(num_layers=5).score(samples)`` against ``bert_score.score(preds,
  refs, model_type=PATH, num_layers=5)`` (what most people call; it loads the model inside
  every call) and against ``bert_score.BERTScorer(...).score(preds, refs)`` with the scorer
  built once outside the timings (compute only). evalkit keeps the loaded model for the process,
  so after the warm-up call its timings are compute only too.
- ``BERTScore idf``: the same with ``idf=True`` (bert-score computes the idf dictionary with a
  pool of 4 processes, its default ``nthreads``).
- torchmetrics' ``bert_score`` is listed as skipped: version 1.9.0 scores misaligned pairs when
  it sorts a batch by length (Lightning-AI/torchmetrics#2728, shown in
  ``tests/metrics/text/test_bertscore_torchmetrics.py``), so its numbers cannot pass the parity
  check.

Parity covers every sample's P, R and F1 and the corpus means (tolerance 1e-6). Torch uses
``$EVALKIT_BENCH_TORCH_THREADS`` threads when set, for every implementation alike (on a busy
two-core machine 1 thread is much faster than the default 2, whose parallel kernels stall).

Usage::

    python bench/bertscore.py [--sizes 1000] [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Group, Row, Values, main, run_benchmark
from text_overlap import SEED, corpus

__all__ = ["LAYER", "TOLERANCE", "build", "run"]

#: The layer evalkit uses by default for all-MiniLM-L6-v2 (see RECOMMENDED_LAYERS).
LAYER = 5
TOLERANCE = 1e-6
SKIP_TORCHMETRICS = "misaligns pairs in sorted batches, torchmetrics#2728; different numbers"


def _threads() -> None:
    threads = os.environ.get("EVALKIT_BENCH_TORCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _values(p: Sequence[float], r: Sequence[float], f: Sequence[float]) -> dict[str, float]:
    """Corpus means and every sample's values, for the parity check."""
    n = len(f)
    out = {
        "bertscore_precision": sum(p) / n,
        "bertscore_recall": sum(r) / n,
        "bertscore_f1": sum(f) / n,
    }
    for i in range(n):
        out[f"p[{i}]"], out[f"r[{i}]"], out[f"f[{i}]"] = float(p[i]), float(r[i]), float(f[i])
    return out


def build(size: int, *, seed: int = SEED, with_idf: bool = True) -> list[Group]:
    """The BERTScore groups on ``size`` (prediction, reference) pairs.

    Args:
        size: Number of pairs.
        seed: Corpus seed.
        with_idf: Also time the idf variant.
    """
    _threads()
    import bert_score

    from evalkit._validate import as_samples
    from evalkit.assets.encoders import bundled_model_dir
    from evalkit.metrics.text.bertscore import BERTScore

    model = str(bundled_model_dir())
    preds, refs = corpus(size, seed)
    samples = as_samples("bertscore", preds, [[r] for r in refs])

    def evalkit_case(idf: bool) -> Values:
        metric = BERTScore(num_layers=LAYER, idf=idf)
        v = metric.per_sample_values(metric.sample_stats(samples))
        return _values(v["bertscore_precision"], v["bertscore_recall"], v["bertscore_f1"])

    def bert_score_case(idf: bool) -> Values:
        p, r, f = bert_score.score(preds, refs, model_type=model, num_layers=LAYER, idf=idf)
        return _values(p.tolist(), r.tolist(), f.tolist())

    scorer: dict[str, Any] = {}

    def scorer_case() -> Values:
        if "s" not in scorer:  # built in the warm-up call, outside the timings
            scorer["s"] = bert_score.BERTScorer(model_type=model, num_layers=LAYER)
        p, r, f = scorer["s"].score(preds, refs)
        return _values(p.tolist(), r.tolist(), f.tolist())

    note = (
        f"all-MiniLM-L6-v2 layer {LAYER}, one reference per prediction; parity over every "
        "sample's P, R, F1 and the means."
    )
    groups = [
        Group(
            "BERTScore",
            Case("evalkit BERTScore", lambda: evalkit_case(False)),
            [
                Case("bert_score.score", lambda: bert_score_case(False)),
                Case("bert_score.BERTScorer (model preloaded)", scorer_case),
                Case("torchmetrics bert_score", skip=SKIP_TORCHMETRICS),
            ],
            tolerance=TOLERANCE,
            note=note,
        )
    ]
    if with_idf:
        groups.append(
            Group(
                "BERTScore idf",
                Case("evalkit BERTScore", lambda: evalkit_case(True)),
                [Case("bert_score.score", lambda: bert_score_case(True))],
                tolerance=TOLERANCE,
                note=note + " idf over the references.",
            )
        )
    return groups


def run(
    sizes: Sequence[int] = (1000,), repeats: int = 3, *, seed: int = SEED, with_idf: bool = True
) -> list[Row]:
    """Run the benchmark in-process and return the rows (no printing)."""
    return run_benchmark(
        "bertscore", lambda n: build(n, seed=seed, with_idf=with_idf), sizes, repeats
    )


if __name__ == "__main__":
    main(
        "bertscore",
        build,
        default_sizes=(1000,),
        default_repeats=3,
        packages=("bert-score", "transformers", "torch", "torchmetrics", "numpy"),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
