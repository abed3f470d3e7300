"""The comparison document: every pair of runs planned, tested, corrected and checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from evalkit.compare.loading import (
    _check_compatible,
    _task_data,
    run_label,
    series_value,
)
from evalkit.compare.options import CompareOptions, auto_resamples
from evalkit.compare.pairing import _pair
from evalkit.compare.series import _forgotten, _trend
from evalkit.compare.verdicts import _apply_holm
from evalkit.errors import ConfigError
from evalkit.records import COMPARE_FORMAT_VERSION, ComparisonDoc, check_for_write
from evalkit.store import load_run

FORMAT_VERSION = COMPARE_FORMAT_VERSION


def _add_full_values(
    row: dict[str, Any],
    results_a: Mapping[tuple[str, str], Mapping[str, Any]],
    results_b: Mapping[tuple[str, str], Mapping[str, Any]],
) -> None:
    """Each run's own full-run value and count (its results.json row) beside the compared ones.

    ``value_a``/``value_b`` are computed on the ``n`` samples both runs scored; a sample that
    failed in the other run is left out of both, so they can differ from what each run's
    report shows (``value_a_full``, ``n_a_full``).
    """
    for side, results in (("a", results_a), ("b", results_b)):
        own = results.get((row["task"], row["metric"])) or {}
        row[f"value_{side}_full"] = own.get("value")
        row[f"n_{side}_full"] = own.get("n")


def _sample_counts(plan: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Per task: ids all runs share, ids any run has, and what was left out of the comparison.

    ``missing``: ids some run lacks; ``failed``: shared ids whose call failed in at least one
    run; ``left_out = missing + failed``; ``compared``: shared ids no run failed (each pair's
    row has its own ``n`` and ``left_out``, which can be smaller).
    """
    failed = sum(any(run[i]["error"] is not None for run in lines) for i in plan["ids"])
    missing = plan["n_union"] - plan["n_common"]
    return {
        "common": plan["n_common"],
        "union": plan["n_union"],
        "missing": missing,
        "failed": failed,
        "left_out": missing + failed,
        "compared": plan["n_common"] - failed,
    }


def compare_runs(
    paths: Sequence[str | Path], options: CompareOptions | None = None
) -> dict[str, Any]:
    """Compare two or more runs; the first is the baseline unless ``options.series`` orders them.

    Returns:
        The comparison document (also written as ``compare.json``): runs, settings, sample
        counts, one row per (pair, task, metric value) with delta, CI, p-value, Holm-adjusted
        p-value and significance, per-example diffs, and for series the trend and forgotten
        examples. ``exit_code`` is 1 when a significant regression was found.
    """
    opts = options or CompareOptions()
    if len(paths) < 2:
        raise ConfigError("compare needs at least two run directories.")
    recs = [load_run(p) for p in paths]
    for r in recs:
        if r.header.get("status") != "completed":
            raise ConfigError(
                f"{r.path}: run status is '{r.header.get('status')}'; finish it with "
                "`evalkit run ... --resume` before comparing."
            )
    if opts.series:
        keyed = [(series_value(r, opts.series), j) for j, r in enumerate(recs)]
        kinds = {type(k) for k, _ in keyed}
        if len(kinds) > 1:
            raise ConfigError(f"series '{opts.series}' mixes numbers and text; label every run.")
        recs = [recs[j] for _, j in sorted(keyed)]
    data = [_task_data(r) for r in recs]
    tasks, plan = _check_compatible(recs, data, opts.intersection)
    labels = [run_label(r, opts.series) for r in recs]
    result_rows = [{(row["task"], row["metric"]): row for row in r.results} for r in recs]

    # Plan every pair first: the number of tests sets the resampling resolution.
    planned: list[tuple[int, int, str, set[tuple[str, str]] | None]] = []
    primary = {
        t: {v for m in plan[t]["metrics"].values() for v in m.primary_values()} for t in tasks
    }
    if opts.series:
        planned = [(k - 1, k, "previous", None) for k in range(1, len(recs))]
        # Against the best earlier run too, where that is not the previous one.
        for b in range(2, len(recs)):
            wanted: dict[int, set[tuple[str, str]]] = {}
            for (task, metric), row in result_rows[b].items():
                if task not in plan or row["value"] is None or metric not in primary[task]:
                    continue
                hib = row["higher_is_better"]
                vals = [(result_rows[j].get((task, metric), {}).get("value"), j) for j in range(b)]
                cands: list[tuple[float, int]] = [(v, j) for v, j in vals if v is not None]
                if not cands:
                    continue
                best = max(cands, key=lambda t: t[0] if hib else -t[0])[1]
                if best != b - 1:
                    wanted.setdefault(best, set()).add((task, metric))
            planned.extend((best, b, "best", only) for best, only in sorted(wanted.items()))
    else:
        planned = [(0, k, "baseline", None) for k in range(1, len(recs))]
    per_pair = sum(len(m.primary_values()) for t in tasks for m in plan[t]["metrics"].values())
    m_tests = sum(per_pair if only is None else len(only) for _, _, _, only in planned)
    resamples = opts.resamples or auto_resamples(m_tests, opts.alpha)
    run_opts = replace(opts, resamples=resamples)

    rows: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    for a, b, against, only in planned:
        for task in tasks:
            got, exs = _pair(task, plan[task], data[a][task].lines, data[b][task].lines, run_opts)
            for row in got:
                if only is not None and (task, row["metric"]) not in only:
                    continue
                rows.append({"a": a, "b": b, "against": against, **row})
                _add_full_values(rows[-1], result_rows[a], result_rows[b])
            if against != "best":
                examples.extend({"a": a, "b": b, **x} for x in exs)
    _apply_holm(rows, opts.alpha)

    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "kind": "series" if opts.series else "pairwise",
        "runs": [
            {
                "index": j,
                "label": labels[j],
                "path": str(r.path),
                "run_id": r.header.get("run_id"),
                "model": (r.header.get("model") or {}).get("spec"),
                "suite": (r.header.get("suite") or {}).get("name"),
                "created_at": r.header.get("created_at"),
                "labels": r.header.get("labels") or {},
            }
            for j, r in enumerate(recs)
        ],
        "settings": {
            **asdict(run_opts),
            "resamples_requested": opts.resamples,
            "tests": m_tests,
            "correction": "holm",
            "p_value": "two-sided; never below 1/(resamples+1)",
            "interval": (
                "paired bootstrap, test-inverted: [d - h, d + h], h the k-th largest "
                "|d_b - d|, k = ceil((1 - confidence)(B + 1)) - 1; excludes 0 exactly when the "
                "bootstrap p < 1 - confidence"
            ),
        },
        "samples": {t: _sample_counts(plan[t], [d[t].lines for d in data]) for t in tasks},
        "comparisons": rows,
        "examples": examples,
    }
    if opts.series:
        trend = _trend(tasks, plan, result_rows, labels)
        lines_by_run = [[data[j][t].lines for j in range(len(recs))] for t in tasks]
        doc["series"] = {
            "key": opts.series,
            "order": labels,
            "trend": trend,
            "forgotten": [
                x
                for t, runs in zip(tasks, lines_by_run, strict=True)
                for x in _forgotten(t, plan[t], runs, labels, opts.top_k)
            ],
        }
    regressions = [r for r in rows if r["change"] == "regressed"]
    doc["regressions"] = len(regressions)
    doc["exit_code"] = 1 if regressions else 0
    check_for_write(ComparisonDoc, [doc], "compare.json")  # checked, written as it is
    return doc
