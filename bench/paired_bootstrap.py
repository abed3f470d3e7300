"""Paired bootstrap from stored statistics vs recomputing the metric from text per resample.

evalkit's paired bootstrap resamples the per-sample statistics a run already stored (one matrix
product per block of resamples for additive statistics) and never re-tokenises. The way
lm-evaluation-harness bootstraps is to recompute the metric from the resampled *texts* for each
resample. Both are timed here in one process on the same data:

- ``evalkit``: ``evalkit.stats.paired_bootstrap`` over the statistics of two systems, 1,000
  resamples (the statistics are computed once beforehand, as the run record holds them);
- ``text recompute``: for each resample, the metric's functional front end on the resampled
  predictions and references of both systems. It is timed on ``--text-resamples`` resamples and
  extrapolated linearly to 1,000 (each resample is the same amount of work), and the table says
  so.

Parity: both compute the same observed delta (B - A) on the full data (largest difference shown).

    python bench/paired_bootstrap.py                 # BLEU at 10k segments, the rest at 2k
    python bench/paired_bootstrap.py --bleu-size 10000 --size 2000 --text-resamples 2
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import machine_info
from text_overlap import _perturb, _sentence, _words

import evalkit.metrics as fm
from evalkit.registry import METRICS
from evalkit.stats import paired_bootstrap
from evalkit.types import Sample

RESAMPLES = 1000
SEED = 12345
#: The quickstart suite's metrics (headline value each) and their functional front ends.
METRIC_ROWS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("bleu", "bleu", {}),
    ("chrf", "chrf", {"word_order": 2}),
    ("ter", "ter", {}),
    ("rouge", "rougeL", {"use_stemmer": True}),
    ("meteor", "meteor", {}),
    ("exact_match", "exact_match", {}),
    ("token_f1", "token_f1", {}),
)


def systems(n: int, seed: int = 7) -> tuple[list[str], list[str], list[str]]:
    """References and two systems' noisy copies of them (B noisier than A)."""
    rng = random.Random(seed)
    words = _words()
    refs = [_sentence(rng, words) for _ in range(n)]
    a = [_perturb(rng, words, r, 0.30) for r in refs]
    b = [_perturb(rng, words, r, 0.35) for r in refs]
    return refs, a, b


def _front(name: str) -> Callable[..., Any]:
    fn: Callable[..., Any] = getattr(fm, name)
    return fn


def measure(
    metric_name: str, value: str, params: dict[str, Any], n: int, text_resamples: int
) -> dict[str, Any]:
    """Time both ways for one metric; returns a row of the table."""
    refs, hyp_a, hyp_b = systems(n)
    metric = METRICS.get(metric_name).build(params)
    ref_lists = [[r] for r in refs]

    def samples(hyps: Sequence[str]) -> list[Sample]:
        return [
            Sample(id=str(i), references=(r,), prediction=h)
            for i, (h, r) in enumerate(zip(hyps, refs, strict=True))
        ]

    stats_a = metric.sample_stats(samples(hyp_a))
    stats_b = metric.sample_stats(samples(hyp_b))
    paired_bootstrap(metric, stats_a[:50], stats_b[:50], resamples=10)  # warm-up

    times = []
    result: dict[str, float] = {}
    for _ in range(3):
        start = time.perf_counter()
        result = paired_bootstrap(metric, stats_a, stats_b, resamples=RESAMPLES, seed=SEED)[value]
        times.append(time.perf_counter() - start)
    t_evalkit = statistics.median(times)

    front = _front(metric_name)
    full_a = front(hyp_a, ref_lists, **params).details[value]
    full_b = front(hyp_b, ref_lists, **params).details[value]
    parity = abs((full_b - full_a) - result["delta"])

    rng = random.Random(SEED)
    start = time.perf_counter()
    for _ in range(text_resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        rr = [ref_lists[i] for i in idx]
        front([hyp_a[i] for i in idx], rr, **params)
        front([hyp_b[i] for i in idx], rr, **params)
    per_resample = (time.perf_counter() - start) / text_resamples
    t_text = per_resample * RESAMPLES
    return {
        "metric": value,
        "n": n,
        "evalkit_s": t_evalkit,
        "text_recompute_s": t_text,
        "text_resamples_timed": text_resamples,
        "ratio": t_text / t_evalkit,
        "parity": parity,
        "p_value": result["p_value"],
    }


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run every row and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--bleu-size", type=int, default=10000)
    parser.add_argument("--size", type=int, default=2000, help="segments for the other metrics")
    parser.add_argument(
        "--text-resamples",
        type=int,
        default=2,
        help="resamples timed for the text-recompute way (then extrapolated)",
    )
    parser.add_argument("--metrics", default=",".join(m for m, _, _ in METRIC_ROWS))
    args = parser.parse_args(argv)
    wanted = set(args.metrics.split(","))
    info = machine_info(["evalkit", "numpy", "sacrebleu", "rouge-score", "nltk"])
    print(f"python {info['python']} on {info['platform']}, {info['cpu_count']} CPUs")
    rows = []
    for name, value, params in METRIC_ROWS:
        if name not in wanted:
            continue
        n = args.bleu_size if name == "bleu" else args.size
        row = measure(name, value, params, n, args.text_resamples)
        rows.append(row)
        print(
            f"{row['metric']:<12} n={row['n']:<6} evalkit {row['evalkit_s']:8.3f} s   "
            f"text recompute {row['text_recompute_s']:9.1f} s "
            f"(from {row['text_resamples_timed']} resamples)   ratio {row['ratio']:8.1f}x   "
            f"parity {row['parity']:.2g}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    main()
