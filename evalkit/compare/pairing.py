"""One task compared between two runs: paired tests, win/tie/loss counts, example diffs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.compare.options import CompareOptions, auto_resamples
from evalkit.metrics.base import MeanMetric, Metric
from evalkit.stats import (
    PAIRED_BOOTSTRAP,
    RANDOMIZATION,
    approximate_randomization,
    mcnemar_exact,
    paired_bootstrap,
)
from evalkit.types import Stats

_TIE = 1e-12


def _is_binary(metric: Metric, stats: Sequence[Any]) -> bool:
    if not isinstance(metric, MeanMetric) or len(metric.value_names()) != 1:
        return False
    return all(len(s) == 1 and s[0] in (0, 1, 0.0, 1.0) for s in stats)


def _better(delta: float, higher_is_better: bool) -> int:
    if abs(delta) <= _TIE:
        return 0
    return 1 if (delta > 0) == higher_is_better else -1


def _example(
    i: str,
    la: dict[str, dict[str, Any]],
    lb: dict[str, dict[str, Any]],
    a: float,
    b: float,
) -> dict[str, Any]:
    return {
        "id": i,
        "prompt": la[i].get("prompt"),
        "prediction_a": la[i]["prediction"],
        "prediction_b": lb[i]["prediction"],
        "references": la[i].get("references", []),
        "score_a": a,
        "score_b": b,
    }


def left_out_counts(
    ids: Sequence[str],
    la: Mapping[str, Mapping[str, Any]],
    lb: Mapping[str, Mapping[str, Any]],
) -> dict[str, int]:
    """Why samples of one task are not compared between runs A and B, by reason.

    The reasons partition the ids either run holds (``n`` + all counts = that union):

    - ``failed_a`` / ``failed_b``: the call failed in A only / in B only;
    - ``failed_both``: it failed in both runs;
    - ``missing_a`` / ``missing_b``: B (A) scored an id that A (B) does not have;
    - ``missing_other``: both runs have it, another run of the comparison does not (a series
      compares every pair on the samples all its runs share).

    Args:
        ids: The ids compared when no call fails (held by every run), in order.
        la: Run A's record lines of the task, by id.
        lb: Run B's record lines of the task, by id.

    >>> ok, bad = {"error": None}, {"error": "HTTP 500"}
    >>> c = left_out_counts(["1", "2"], {"1": ok, "2": ok, "3": ok}, {"1": ok, "2": bad})
    >>> c["failed_b"], c["missing_b"], sum(c.values())
    (1, 1, 2)
    """
    failed = [(la[i]["error"] is not None, lb[i]["error"] is not None) for i in ids]
    both = set(la) & set(lb)
    return {
        "failed_a": sum(fa and not fb for fa, fb in failed),
        "failed_b": sum(fb and not fa for fa, fb in failed),
        "failed_both": sum(fa and fb for fa, fb in failed),
        "missing_a": len(set(lb) - set(la)),
        "missing_b": len(set(la) - set(lb)),
        "missing_other": len(both - set(ids)),
    }


def _finite_or_none(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _pair(
    task: str,
    plan: dict[str, Any],
    la: dict[str, dict[str, Any]],
    lb: dict[str, dict[str, Any]],
    opts: CompareOptions,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Comparisons and example diffs of one task between two runs."""
    n_res = opts.resamples or auto_resamples(1, opts.alpha)
    ids = [i for i in plan["ids"] if la[i]["error"] is None and lb[i]["error"] is None]
    errors_excluded = len(plan["ids"]) - len(ids)
    left_out = left_out_counts(plan["ids"], la, lb)
    rows: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    for key, metric in plan["metrics"].items():
        sa = [la[i]["stats"][key] for i in ids]
        sb = [lb[i]["stats"][key] for i in ids]
        tested = getattr(metric, "resample", True)
        ar = None
        boot: Mapping[str, Mapping[str, Any]]
        if tested:
            boot = paired_bootstrap(
                metric,
                sa,
                sb,
                resamples=n_res,
                seed=opts.seed,
                confidence=opts.confidence,
            )
            if opts.test == "randomization":
                ar = approximate_randomization(metric, sa, sb, trials=n_res, seed=opts.seed)
        else:
            boot = _untested(metric, sa, sb)
        binary = _is_binary(metric, sa) and _is_binary(metric, sb)
        pa, pb = metric.per_sample_values(sa), metric.per_sample_values(sb)
        for name in metric.primary_values():
            hib = metric.value_higher_is_better(name)
            r = boot[name]
            signs = [_better(y - x, hib) for x, y in zip(pa[name], pb[name], strict=True)]
            p = _finite_or_none(ar[name] if ar is not None else r["p_value"])
            outcomes = metric.per_sample_outcomes
            row = {
                "task": task,
                "metric": name,
                "higher_is_better": hib,
                "signature": metric.signature(),
                "n": len(ids),
                "errors_excluded": errors_excluded,
                "left_out": dict(left_out),
                "value_a": r["value_a"],
                "value_b": r["value_b"],
                "delta": r["delta"],
                "ci_low": _finite_or_none(r["ci_low"]),
                "ci_high": _finite_or_none(r["ci_high"]),
                "confidence": opts.confidence,
                "interval_method": PAIRED_BOOTSTRAP if tested else None,
                "interval_note": r.get("interval_note"),
                "p_value": p,
                "p_method": None
                if p is None
                else (PAIRED_BOOTSTRAP if ar is None else RANDOMIZATION),
                "mcnemar_p": mcnemar_exact([s[0] for s in sa], [s[0] for s in sb])
                if binary
                else None,
                # Set-level metrics (FID, distinct-n...) have no per-sample score to win on.
                "wins": signs.count(1) if outcomes else None,
                "ties": signs.count(0) if outcomes else None,
                "losses": signs.count(-1) if outcomes else None,
            }
            rows.append(row)
            diffs = sorted(
                ((signs[j] * abs(pb[name][j] - pa[name][j]), j) for j in range(len(ids))),
                key=lambda t: t[0],
            )

            k = opts.top_k
            examples.append(
                {
                    "task": task,
                    "metric": name,
                    "improved": [
                        _example(ids[j], la, lb, pa[name][j], pb[name][j])
                        for d, j in reversed(diffs[-k:])
                        if d > 0
                    ],
                    "regressed": [
                        _example(ids[j], la, lb, pa[name][j], pb[name][j])
                        for d, j in diffs[:k]
                        if d < 0
                    ],
                }
            )
    return rows, examples


def _untested(
    metric: Metric, sa: Sequence[Stats], sb: Sequence[Stats]
) -> dict[str, dict[str, float | None]]:
    """Values and deltas without a paired test, for metrics that opt out of resampling.

    Set-level image metrics (KID, IS, FID on wide features: ``resample = False``) cost an
    eigendecomposition or many kernel subsets per resample; their rows carry no interval and no
    p-value, are left out of the Holm correction, and read "not tested".
    """
    va, vb = metric.aggregate(sa), metric.aggregate(sb)
    return {
        k: {
            "value_a": va[k],
            "value_b": vb[k],
            "delta": vb[k] - va[k],
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "interval_note": None,
        }
        for k in metric.value_names()
    }
