"""Benchmark: the bootstrap of every registered metric at 100,000 samples x 1,000 resamples.

For each registered metric that resamples (``resample`` is not False), the benchmark scores
the metric's contract examples (``tests/metric_examples.py``: real samples through the real
``sample_stats``), then tiles those statistics to ``--samples`` samples by a seeded draw with
replacement, so that each metric's statistics have their real shape and kind (count vectors,
token lists, embedding rows...). It then times, in one process:

- ``bootstrap_ci`` (the runner's run-level intervals) with ``--resamples`` resamples;
- ``paired_bootstrap`` (``evalkit compare`` and the CI gates) of two such systems, the second
  tiled from the same examples with another seed.

Each time is one call (the calls are long; a warm-up call would double the run), as wall
seconds (flagged) and as this process's CPU seconds (steadier on a shared machine). A row over
``--limit`` seconds (10 s by default, the target of issue 19) is flagged ``SLOW``, and the
process exits 1 when any row is. Metrics that do not resample (FID on wide features, KID,
Inception Score) are listed as skipped, with the reason.

Building some metrics loads bundled models (BERTScore's and the embedding metrics' tiny
encoders) to score the examples; that time is not counted.

Usage::

    python bench/bootstrap_scale.py [--samples 100000] [--resamples 1000]
        [--metrics bleu,chrf] [--limit 10] [--no-paired] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

__all__ = ["LIMIT_S", "Row", "format_rows", "run", "tiled_stats"]

#: Seconds a bootstrap may take at 100k samples x 1,000 resamples (issue 19's target).
LIMIT_S = 10.0
SEED = 20240611


@dataclass
class Row:
    """One metric's timings (None where skipped)."""

    metric: str
    samples: int
    resamples: int
    bootstrap_ci_s: float | None = None
    paired_bootstrap_s: float | None = None
    #: CPU seconds of this process for each call (steadier than wall time on a busy machine).
    bootstrap_ci_cpu_s: float | None = None
    paired_bootstrap_cpu_s: float | None = None
    skipped: str | None = None
    #: The intervals and p-values, so that a rerun can be compared number by number.
    ci: dict[str, list[float]] | None = None
    p_values: dict[str, float] | None = None

    def slow(self, limit: float) -> bool:
        """Whether either timing is over ``limit`` seconds."""
        return any(
            t is not None and t > limit for t in (self.bootstrap_ci_s, self.paired_bootstrap_s)
        )


def tiled_stats(stats: Sequence[Any], n: int, seed: int) -> list[Any]:
    """``n`` statistics drawn with replacement from ``stats`` (seeded), each id its own.

    >>> tiled_stats([[1], [2]], 4, 0) == tiled_stats([[1], [2]], 4, 0)
    True
    """
    rng = np.random.default_rng(seed)
    drawn = [stats[i] for i in rng.integers(0, len(stats), size=n).tolist()]
    # Statistics that carry their sample's id (the set-level diversity metrics) get their own
    # id, as the samples of a run have: two statistics with one id would be one sample.
    return [
        {**st, "id": f"{st['id']}#{j}"} if isinstance(st, dict) and "id" in st else st
        for j, st in enumerate(drawn)
    ]


def _metric_stats(name: str, workdir: Path) -> tuple[Any, list[Any]]:
    """The metric built as the contract builds it, and its statistics on its examples."""
    from evalkit.registry import METRICS
    from tests.metric_examples import examples_for

    workdir.mkdir(parents=True, exist_ok=True)
    ex = examples_for(name, workdir)
    metric = METRICS.get(name).build(dict(ex.base))
    return metric, metric.sample_stats(ex.samples)


def run(
    samples: int = 100_000,
    resamples: int = 1000,
    metrics: Sequence[str] | None = None,
    *,
    log: Any = None,
    paired: bool = True,
) -> list[Row]:
    """Time both bootstraps for each metric (all registered ones by default)."""
    from evalkit.registry import METRICS
    from evalkit.stats import bootstrap_ci, paired_bootstrap, task_rng

    names = list(metrics) if metrics else sorted(METRICS.names())
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bootstrap_scale_") as tmp:
        for name in names:
            row = Row(name, samples, resamples)
            rows.append(row)
            metric, stats = _metric_stats(name, Path(tmp) / name)
            if not getattr(metric, "resample", True):
                row.skipped = "does not resample (resample = False)"
                continue
            if not stats:
                row.skipped = "no statistics from the examples"
                continue
            sa = tiled_stats(stats, samples, SEED)
            sb = tiled_stats(stats, samples, SEED + 1)
            estimates = metric.aggregate(sa)
            started, cpu = time.perf_counter(), time.process_time()
            ci = bootstrap_ci(
                metric,
                sa,
                resamples=resamples,
                rng=task_rng(0, "bench", name),
                estimates=estimates,
            )
            row.bootstrap_ci_s = time.perf_counter() - started
            row.bootstrap_ci_cpu_s = time.process_time() - cpu
            row.ci = {k: [float(lo), float(hi)] for k, (lo, hi) in ci.items()}
            if paired:
                started, cpu = time.perf_counter(), time.process_time()
                tested = paired_bootstrap(metric, sa, sb, resamples=resamples, seed=SEED)
                row.paired_bootstrap_s = time.perf_counter() - started
                row.paired_bootstrap_cpu_s = time.process_time() - cpu
                row.p_values = {k: float(v["p_value"]) for k, v in tested.items()}
            if log is not None:
                print(format_rows([row], header=False), file=log, flush=True)
    return rows


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def format_rows(rows: Sequence[Row], limit: float = LIMIT_S, *, header: bool = True) -> str:
    """A plain table: one line per metric, ``SLOW`` where a time is over ``limit``."""
    lines = []
    if header:
        lines.append(
            f"{'metric':24} {'samples':>8} {'resamples':>9} {'bootstrap_ci':>13} "
            f"{'paired_bootstrap':>17} {'cpu (ci, paired)':>18}  flag"
        )
    for r in rows:
        if r.skipped:
            lines.append(f"{r.metric:24} {r.samples:>8} {r.resamples:>9} skipped ({r.skipped})")
            continue
        flag = "SLOW" if r.slow(limit) else "ok"
        lines.append(
            f"{r.metric:24} {r.samples:>8} {r.resamples:>9} {_s(r.bootstrap_ci_s):>13} "
            f"{_s(r.paired_bootstrap_s):>17} "
            f"{_s(r.bootstrap_ci_cpu_s) + ', ' + _s(r.paired_bootstrap_cpu_s):>18}  {flag}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the table; exit 1 when a metric is over the limit."""
    from harness import git_state, load_average, machine_info

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--metrics", default="", help="comma-separated metric names (default: all)")
    ap.add_argument("--limit", type=float, default=LIMIT_S, help="seconds before a row is SLOW")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument(
        "--no-paired", action="store_true", help="time bootstrap_ci only (no paired test)"
    )
    args = ap.parse_args(argv)
    chosen = [m.strip() for m in args.metrics.split(",") if m.strip()] or None
    before = load_average()
    info = machine_info(("numpy",))
    print(
        f"bootstrap_scale: Python {info['python']} on {info['platform']}, "
        f"{info['cpu_count']} CPUs, numpy {info['versions']['numpy']}; "
        f"evalkit from {info['evalkit_path']} (git {git_state()})",
        flush=True,
    )
    print(format_rows([], header=True), flush=True)
    rows = run(args.samples, args.resamples, chosen, log=sys.stdout, paired=not args.no_paired)
    skipped = [r for r in rows if r.skipped]
    if skipped:
        print(format_rows(skipped, header=False))
    print(
        f"1-minute load average: {before} before, {load_average()} after "
        "(above 2 means other processes competed for the CPUs)"
    )
    slow = [r.metric for r in rows if r.slow(args.limit)]
    print(f"over {args.limit:g} s: {', '.join(slow) if slow else 'none'}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
