"""Benchmark: a CPU-bound suite on the Ray executor (2 local workers) against the local executor.

The suite is one task over generated pairs (``bench/text_overlap.py``'s seeded corpus: noisy
copies of runs of Python's help text) replayed with ``predictions:``, scored with ROUGE
(``use_stemmer``), METEOR and BERTScore (the bundled all-MiniLM-L6-v2; CPU) - every sample costs
milliseconds of Python and torch. Each timed call is a whole ``run_suite`` into a fresh run
directory (statistics, record, bootstrap-free results, reports), with the response cache off.

Rows, per size (the first is the baseline of every ratio):

- ``local, one batch``: the local executor with the whole task in one batch and
  ``EVALKIT_WORKERS=2``: its own use of 2 cores (ROUGE's statistics in 2 forked workers; torch's
  2 intra-op threads for BERTScore; METEOR stays serial).
- ``ray, 2 workers``: the Ray executor on a local Ray instance with 2 CPUs: 2 worker actors,
  each single-threaded (Ray sets torch's thread count to the actor's 1 CPU; evalkit turns its
  forked pool off in workers), about 8 batches per worker so that both stay busy to the end.
  The instance is started once, before any timing; starting the workers (each imports evalkit
  and loads WordNet and the encoder) is inside every timed call, as in every ``evalkit run``.
- ``local, batch 32``: the local executor as ``evalkit run`` runs it by default (batches of 32,
  below the forked pool's thresholds: one core, plus torch's threads).

**Fairness.** Both main rows use the same 2 cores and compute identical numbers (the parity
column compares every result value; batching does not change per-sample statistics). Both are
timed warm, as the harness does everything: the local executor after its warm-up call has
WordNet and the encoder loaded in this process, while every Ray call starts fresh workers that
load them again (an ``evalkit run`` pays that once either way), so the comparison, and the
break-even below, lean towards the local executor by those few seconds (more for METEOR:
its per-process memos of stems and synonyms are warm after the warm-up call on the same
text); ``--cold`` removes that asymmetry. The fixed
start-up of Ray that an ``evalkit run --executor ray`` pays on top (``ray.init`` of a local
instance and a first task) is measured separately and added in the break-even estimate: with
per-size medians ``t_local(n)`` and ``t_ray(n)`` fitted as lines ``a + b n`` over the sizes run,
``break-even n = (a_ray + start-up - a_local) / (b_local - b_ray)``.

``--cold`` runs every call as a fresh ``evalkit run`` process instead (``--executor ray``
starting and stopping its own Ray instance): what a user waits for, both sides cold (imports,
WordNet, the encoder, METEOR's memos), the start-up inside the Ray rows.

Usage::

    python bench/ray_executor.py [--sizes 1000,10000] [--repeats 3] [--json PATH]
    python bench/ray_executor.py --metrics rouge,meteor --sizes 200,1000 --repeats 1
    python bench/ray_executor.py --cold --metrics rouge,meteor --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO_ROOT, Case, Group, Row, main, run_benchmark
from text_overlap import SEED, corpus

__all__ = ["WORKERS", "break_even", "build", "ray_startup", "run", "write_suite"]

#: Ray workers (and CPUs of the local Ray instance), and EVALKIT_WORKERS of the local executor.
WORKERS = 2
DEFAULT_METRICS = ("rouge", "meteor", "bertscore")

_state: dict[str, Any] = {}


def _metrics_available(metrics: Sequence[str]) -> list[str]:
    """The metrics that are registered here (BERTScore needs the hf extra)."""
    from evalkit.registry import METRICS

    return [m for m in metrics if m in METRICS.names()]


def write_suite(
    folder: Path, size: int, metrics: Sequence[str], seed: int = SEED
) -> tuple[Path, Path]:
    """A one-task suite over ``size`` generated pairs and its predictions file."""
    preds, refs = corpus(size, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "data.jsonl", "w", encoding="utf-8") as fh:
        for i, ref in enumerate(refs):
            fh.write(json.dumps({"id": str(i), "text": "", "reference": ref}) + "\n")
    with open(folder / "preds.jsonl", "w", encoding="utf-8") as fh:
        for i, pred in enumerate(preds):
            fh.write(json.dumps({"id": str(i), "prediction": pred}) + "\n")
    entries = "\n".join(
        f"      - {m}" + (": {use_stemmer: true}" if m == "rouge" else "") for m in metrics
    )
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: bench-ray\nbootstrap: {resamples: 0}\ntasks:\n  - name: pairs\n"
        "    dataset: {path: data.jsonl, id: id, references: reference}\n"
        '    prompt: "{text}"\n    metrics:\n' + entries + "\n",
        encoding="utf-8",
    )
    return suite, folder / "preds.jsonl"


def ray_startup() -> float:
    """Start the local Ray instance (once per process): seconds of ``ray.init`` + a first task."""
    if "startup_s" not in _state:
        import ray

        start = time.perf_counter()
        _state["owns_ray"] = not ray.is_initialized()
        if _state["owns_ray"]:
            ray.init(
                address="local",
                num_cpus=WORKERS,
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
        ray.get(ray.remote(lambda: 1).remote())
        _state["startup_s"] = time.perf_counter() - start
    return float(_state["startup_s"])


def _case(
    suite: Path, preds: Path, root: Path, kind: Literal["local", "ray"], batch_size: int
) -> Any:
    from evalkit.runner import RunOptions, run_suite
    from evalkit.suite import ExecutorSpec

    def fn() -> dict[str, float]:
        out = Path(tempfile.mkdtemp(dir=root))
        shutil.rmtree(out)
        previous = os.environ.get("EVALKIT_WORKERS")
        os.environ["EVALKIT_WORKERS"] = str(WORKERS)
        try:
            result = run_suite(
                suite,
                f"predictions:{preds}",
                out,
                RunOptions(
                    batch_size=batch_size,
                    use_cache=False,
                    executor=ExecutorSpec(kind=kind, workers=WORKERS if kind == "ray" else None),
                ),
            )
        finally:
            if previous is None:
                del os.environ["EVALKIT_WORKERS"]
            else:
                os.environ["EVALKIT_WORKERS"] = previous
            shutil.rmtree(out, ignore_errors=True)
        return {r["metric"]: float(r["value"]) for r in result.results}

    return fn


def _cli_case(
    suite: Path, preds: Path, root: Path, kind: Literal["local", "ray"], batch_size: int
) -> Any:
    """The same run as a fresh ``evalkit run`` process (cold: imports, assets, Ray's start-up)."""

    def fn() -> dict[str, float]:
        out = Path(tempfile.mkdtemp(dir=root))
        shutil.rmtree(out)
        args = ["run", str(suite), "--model", f"predictions:{preds}", "--out", str(out)]
        args += ["--batch-size", str(batch_size), "--no-cache", "-q", "--executor", kind]
        if kind == "ray":
            args += ["--ray-workers", str(WORKERS)]
        env = dict(os.environ, EVALKIT_WORKERS=str(WORKERS), PYTHONPATH=str(REPO_ROOT))
        env["EVALKIT_CACHE_DIR"] = str(root / "cache")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "evalkit.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"evalkit run failed ({done.returncode}): {done.stderr[-2000:]}")
            header = json.loads((out / "results.json").read_text(encoding="utf-8"))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return {r["metric"]: float(r["value"]) for r in header["results"]}

    return fn


def build(
    size: int,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = SEED,
    cold: bool = False,
) -> list[Group]:
    """The groups for one size (the suite files are written here, untimed).

    With ``cold``, every call is a fresh ``evalkit run`` process (``--executor ray`` then starts
    and stops its own Ray instance); otherwise calls run in this process, warm.
    """
    chosen = _metrics_available(metrics)
    root = Path(tempfile.mkdtemp(prefix="evalkit-bench-ray-"))
    _state.setdefault("folders", []).append(root)
    suite, preds = write_suite(root / "suite", size, chosen, seed)
    if not cold:
        ray_startup()
    _case_of = _cli_case if cold else _case
    ray_batch = max(32, -(-size // (8 * WORKERS)))
    missing = sorted(set(metrics) - set(chosen))
    note = f"{' + '.join(chosen)} on {size} pairs; ray batches of {ray_batch}." + (
        f" Not registered here, left out: {', '.join(missing)}." if missing else ""
    )
    return [
        Group(
            "suite",
            Case(
                f"local, one batch, EVALKIT_WORKERS={WORKERS}",
                _case_of(suite, preds, root, "local", size),
            ),
            [
                Case(f"ray, {WORKERS} workers", _case_of(suite, preds, root, "ray", ray_batch)),
                Case("local, batch 32", _case_of(suite, preds, root, "local", 32)),
            ],
            tolerance=0.0,
            note=note,
        )
    ]


def break_even(rows: Sequence[Row], startup_s: float) -> dict[str, Any]:
    """Ray's speed-up per size and the size where ``evalkit run --executor ray`` starts to win.

    Lines ``a + b n`` through the medians of the baseline and the Ray row (least squares over
    the sizes; with one size, the line through the origin for the local executor, and Ray's
    per-run overhead unknown, so no estimate).
    """
    local = {r.size: r.median_s for r in rows if r.is_evalkit and r.median_s}
    ray_rows = {r.size: r.median_s for r in rows if r.impl.startswith("ray") and r.median_s}
    sizes = sorted(set(local) & set(ray_rows))
    out: dict[str, Any] = {
        "startup_s": startup_s,
        "speedup": {n: local[n] / ray_rows[n] for n in sizes},
        "speedup_with_startup": {n: local[n] / (ray_rows[n] + startup_s) for n in sizes},
        "break_even": None,
    }
    if len(sizes) < 2:
        return out

    def fit(ts: dict[int, float]) -> tuple[float, float]:
        xs = [float(n) for n in sizes]
        ys = [ts[n] for n in sizes]
        slope = statistics.covariance(xs, ys) / statistics.variance(xs)
        return statistics.fmean(ys) - slope * statistics.fmean(xs), slope

    a_l, b_l = fit(local)
    a_r, b_r = fit(ray_rows)
    out["per_sample_ms"] = {"local": b_l * 1e3, "ray": b_r * 1e3}
    out["overhead_s"] = {"local": a_l, "ray": a_r + startup_s}
    if b_r < b_l:
        out["break_even"] = max((a_r + startup_s - a_l) / (b_l - b_r), 0.0)
    return out


def _print_summary(summary: dict[str, Any]) -> None:
    startup = summary["startup_s"]
    if startup:
        print(f"\nRay start-up (ray.init of a local instance + a first task): {startup:.2f} s")
    else:
        print("\nRay start-up: inside every Ray call (each `evalkit run` starts its own instance)")
    for n, s in summary["speedup"].items():
        with_start = summary["speedup_with_startup"][n]
        print(
            f"size {n}: Ray speed-up (local time / Ray time) {s:.2f}; "
            f"{with_start:.2f} counting the start-up"
        )
    if "per_sample_ms" in summary:
        ps, oh = summary["per_sample_ms"], summary["overhead_s"]
        print(
            f"fitted: local {oh['local']:.2f} s + {ps['local']:.3f} ms/sample; "
            f"ray {oh['ray']:.2f} s (start-up included) + {ps['ray']:.3f} ms/sample"
        )
        be = summary["break_even"]
        print(
            "break-even: "
            + (
                f"about {be:,.0f} samples"
                if be is not None
                else "none (Ray is not faster per sample)"
            )
        )


def run(
    sizes: Sequence[int] = (200,),
    repeats: int = 1,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = SEED,
    cold: bool = False,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the benchmark in-process: the rows and the start-up / break-even summary."""
    try:
        rows = run_benchmark(
            "ray_executor",
            lambda n: build(n, metrics=metrics, seed=seed, cold=cold),
            sizes,
            repeats,
        )
        return rows, break_even(rows, 0.0 if cold else ray_startup())
    finally:
        shutdown()


def shutdown() -> None:
    """Stop the Ray instance this module started and remove its temporary folders."""
    if "startup_s" in _state:
        import ray

        if _state.pop("owns_ray"):
            ray.shutdown()
        del _state["startup_s"]
    for folder in _state.pop("folders", []):
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--metrics", default=",".join(DEFAULT_METRICS))
    pre.add_argument("--cold", action="store_true")
    known, rest = pre.parse_known_args()
    chosen = tuple(m for m in known.metrics.split(",") if m)
    try:
        result_rows = main(
            "ray_executor",
            lambda n: build(n, metrics=chosen, cold=known.cold),
            default_sizes=(1000, 10000),
            default_repeats=3,
            packages=("ray", "torch", "nltk", "numpy"),
            description=(__doc__.split("\n\n")[0] if __doc__ else "")
            + " Also: --metrics rouge,meteor,bertscore (comma-separated); --cold: every call"
            " a fresh `evalkit run` process (Ray's start-up inside each Ray call).",
            argv=rest,
        )
        print("\nHere ratio = other row / the local one-batch row: >1 means that row is slower.")
        _print_summary(break_even(result_rows, 0.0 if known.cold else ray_startup()))
    finally:
        shutdown()
