"""A/B and checkpoint-series comparisons over run records, with paired significance.

Comparisons read records only: samples are joined by (task, id), the corpus metric is
recomputed from stored per-sample statistics for every resample, and no model is called.
Runs whose metric signatures, data or sample sets differ are refused (``--intersection``
compares the common samples and says how many were left out).

Each row is one reading: the delta on the ``n`` samples both runs scored, beside each run's
full-run value (``value_a_full``); what was left out and why (``left_out``); the interval and
the p-value with the procedures behind them (``interval_method``, ``p_method``: the same paired
bootstrap unless ``--test randomization``); and, where the Holm-adjusted verdict and the
unadjusted interval seem to disagree, a ``verdict_note`` that says why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.metrics.base import MeanMetric, Metric
from evalkit.records import COMPARE_FORMAT_VERSION, ComparisonDoc, check_for_write
from evalkit.stats import (
    PAIRED_BOOTSTRAP,
    RANDOMIZATION,
    approximate_randomization,
    holm,
    mcnemar_exact,
    paired_bootstrap,
)
from evalkit.store import RunRecord, load_run
from evalkit.types import Stats

FORMAT_VERSION = COMPARE_FORMAT_VERSION
_TIE = 1e-12


@dataclass(frozen=True)
class CompareOptions:
    """Settings of a comparison; all are recorded in its output."""

    test: str = "bootstrap"
    resamples: int | None = None  # None: enough for the number of tests (auto_resamples)
    seed: int = 12345
    alpha: float = 0.05
    confidence: float = 0.95
    intersection: bool = False
    top_k: int = 5
    series: str | None = None

    def __post_init__(self) -> None:
        if self.test not in ("bootstrap", "randomization"):
            raise ConfigError(
                f"test '{self.test}' is not known; choose 'bootstrap' or 'randomization'."
            )
        if self.resamples is not None and self.resamples < 1:
            raise ConfigError("resamples must be at least 1.")
        if not 0 < self.alpha < 1:
            raise ConfigError("alpha must be between 0 and 1.")
        if not 0 < self.confidence < 1:
            raise ConfigError("confidence must be between 0 and 1 (e.g. 0.95).")


def auto_resamples(tests: int, alpha: float, minimum: int = 1000) -> int:
    """Resamples enough for ``tests`` Holm-corrected tests to reach significance.

    A resampling p-value is at least ``1/(B+1)`` and Holm multiplies the smallest by the number
    of tests ``m``, so ``B`` must exceed ``m/alpha``; evalkit asks for four times that, so that a
    clear effect is not held back by resolution alone.

    >>> auto_resamples(17, 0.05), auto_resamples(68, 0.05)
    (1360, 5440)
    """
    return max(minimum, math.ceil(4 * tests / alpha))


def _sig_fields(sig: str) -> dict[str, str]:
    parts = sig.split("|")
    out = {"name": parts[0]}
    for p in parts[1:]:
        k, _, v = p.partition(":")
        out[k] = v
    return out


def signature_diff(a: str, b: str) -> str:
    fa, fb = _sig_fields(a), _sig_fields(b)
    keys = [k for k in dict.fromkeys([*fa, *fb]) if fa.get(k) != fb.get(k)]
    return ", ".join(f"{k}: {fa.get(k, '-')} vs {fb.get(k, '-')}" for k in keys) or "(format)"


def build_metric(key: str, params: dict[str, Any], signature: str, where: str) -> Metric:
    """Rebuild a recorded metric and check that it still has the recorded signature."""
    from evalkit.registry import METRICS

    metric = METRICS.get(key).build(params)
    if metric.signature() != signature:
        raise ConfigError(
            f"{where}: metric '{key}' was recorded with a different implementation than the one "
            f"installed ({signature_diff(signature, metric.signature())}); install the recorded "
            "versions to compare this run."
        )
    return metric


@dataclass
class _TaskData:
    lines: dict[str, dict[str, Any]]  # id -> record line, in record order
    info: dict[str, Any]


def _task_data(rec: RunRecord) -> dict[str, _TaskData]:
    out: dict[str, _TaskData] = {}
    infos = {t["name"]: t for t in rec.header.get("tasks", [])}
    for name, info in infos.items():
        out[name] = _TaskData(lines={}, info=info)
    for line in rec.samples:
        if line["task"] in out:
            out[line["task"]].lines[line["id"]] = line
    return out


def run_label(rec: RunRecord, key: str | None = None) -> str:
    """A short label for a run: a recorded label, else the run directory's name."""
    labels = rec.header.get("labels") or {}
    if key and key in labels:
        return f"{key}={labels[key]}"
    return rec.path.name or str(rec.path)


def series_value(rec: RunRecord, key: str) -> float | str:
    """The ordering value of a run in a series: ``labels[key]``, else a number in its model spec.

    >>> from evalkit.store import RunRecord
    >>> from pathlib import Path
    >>> series_value(RunRecord(Path("r"), {"model": {"spec": "hf:./ckpt-2000"}}), "step")
    2000.0
    """
    labels = rec.header.get("labels") or {}
    raw = labels.get(key)
    if raw is None:
        spec = str((rec.header.get("model") or {}).get("spec", ""))
        found = re.findall(r"(\d+(?:\.\d+)?)", Path(spec.split(":")[-1]).name) if spec else []
        if not found:
            raise ConfigError(
                f"{rec.path}: no label '{key}' to order the series by; run with "
                f"`--label {key}=VALUE`, or name the model with a number (ckpt-2000)."
            )
        raw = found[-1]
    try:
        return float(raw)
    except (TypeError, ValueError):
        return str(raw)


def _check_compatible(
    recs: Sequence[RunRecord], data: Sequence[dict[str, _TaskData]], intersection: bool
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Common tasks, and per task: metrics and the ids to compare; refuse what does not match."""
    names = [set(d) for d in data]
    common = [t for t in data[0] if all(t in n for n in names)]
    every = set().union(*names)
    if set(common) != every and not intersection:
        missing = {str(r.path): sorted(every - set(d)) for r, d in zip(recs, data, strict=True)}
        raise ConfigError(
            f"the runs have different tasks (missing: {missing}); pass --intersection to compare "
            "the common tasks."
        )
    if not common:
        raise ConfigError("the runs have no task in common; nothing to compare.")
    plan: dict[str, dict[str, Any]] = {}
    base, base_rec = data[0], recs[0]
    for task in common:
        ref = base[task].info
        for rec, d in zip(recs[1:], data[1:], strict=True):
            info = d[task].info
            sha_a = (ref.get("dataset") or {}).get("sha256")
            sha_b = (info.get("dataset") or {}).get("sha256")
            if sha_a != sha_b:
                raise ConfigError(
                    f"task '{task}': {base_rec.path} and {rec.path} were run on different data "
                    f"(dataset sha256 {str(sha_a)[:12]} vs {str(sha_b)[:12]}); compare runs of "
                    "the same data."
                )
            ma, mb = ref.get("metrics", {}), info.get("metrics", {})
            if set(ma) != set(mb):
                raise ConfigError(
                    f"task '{task}': {base_rec.path} has metrics {sorted(ma)} but {rec.path} has "
                    f"{sorted(mb)}; compare runs of the same suite."
                )
            for key in ma:
                if ma[key] != mb[key]:
                    raise ConfigError(
                        f"task '{task}': metric '{key}' differs between {base_rec.path} and "
                        f"{rec.path} ({signature_diff(ma[key], mb[key])}); results with different "
                        "signatures are not comparable."
                    )
        id_sets = [set(d[task].lines) for d in data]
        shared = set.intersection(*id_sets)
        union = set.union(*id_sets)
        if shared != union and not intersection:
            details = []
            for rec, ids in zip(recs, id_sets, strict=True):
                extra = sorted(ids - shared)
                if extra:
                    details.append(f"{rec.path} has {len(extra)} more (e.g. '{extra[0]}')")
            raise ConfigError(
                f"task '{task}': the runs scored different samples ({'; '.join(details)}); "
                "pass --intersection to compare the common samples."
            )
        order = [i for i in base[task].lines if i in shared]
        metrics = {
            key: build_metric(
                key,
                (ref.get("metric_params") or {}).get(key, {}),
                sig,
                f"{base_rec.path}: task '{task}'",
            )
            for key, sig in ref.get("metrics", {}).items()
        }
        plan[task] = {
            "ids": order,
            "metrics": metrics,
            "n_union": len(union),
            "n_common": len(shared),
        }
    return common, plan


def _is_binary(metric: Metric, stats: Sequence[Any]) -> bool:
    if not isinstance(metric, MeanMetric) or len(metric.value_names()) != 1:
        return False
    return all(len(s) == 1 and s[0] in (0, 1, 0.0, 1.0) for s in stats)


def _better(delta: float, higher_is_better: bool) -> int:
    if abs(delta) <= _TIE:
        return 0
    return 1 if (delta > 0) == higher_is_better else -1


def _example(
    i: str, la: dict[str, dict[str, Any]], lb: dict[str, dict[str, Any]], a: float, b: float
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
    ids: Sequence[str], la: Mapping[str, Mapping[str, Any]], lb: Mapping[str, Mapping[str, Any]]
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
                metric, sa, sb, resamples=n_res, seed=opts.seed, confidence=opts.confidence
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


def _excludes_zero(row: Mapping[str, Any]) -> bool:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def verdict_note(row: Mapping[str, Any], alpha: float, tests: int) -> str | None:
    """Why a row's verdict and its interval seem to disagree, or None when they agree.

    The verdict is ``p_adjusted < alpha`` (Holm over ``tests`` tests); the interval is the
    unadjusted ``confidence`` interval of the paired bootstrap, which excludes 0 exactly when
    that bootstrap's own p-value is below ``1 - confidence``. They can differ, and the row then
    says why: the Holm correction, a p-value from another procedure (``--test randomization``),
    or an ``alpha`` other than ``1 - confidence``.

    >>> row = {"p_value": 0.01, "p_adjusted": 0.06, "significant": False, "ci_low": 0.2,
    ...        "ci_high": 1.0, "confidence": 0.95, "interval_method": "paired bootstrap",
    ...        "p_method": "paired bootstrap"}
    >>> verdict_note(row, 0.05, 6)
    'significant before the Holm correction over 6 tests (p = 0.01), not after (p_holm = 0.06)'
    """
    p, p_adj = row.get("p_value"), row.get("p_adjusted")
    if p is None or p_adj is None:
        return None
    excludes = _excludes_zero(row)
    conf = row.get("confidence")
    level = f"{conf * 100:g}% " if isinstance(conf, float) else ""
    interval, how = row.get("interval_method"), row.get("p_method")
    if not row["significant"] and p < alpha <= p_adj:
        return (
            f"significant before the Holm correction over {tests} tests (p = {p:.4g}), "
            f"not after (p_holm = {p_adj:.4g})"
        )
    if not row["significant"] and excludes:
        if interval != how:
            return (
                f"the {level}interval ({interval}) excludes 0, but the verdict's {how} "
                f"p-value is {p:.4g} (alpha {alpha:g})"
            )
        return f"the {level}interval excludes 0, but the verdict tests at alpha {alpha:g}"
    if row["significant"] and (row.get("ci_low") is None or row.get("ci_high") is None):
        return f"no {level}interval: {row.get('interval_note') or 'not computed'}"
    if row["significant"] and not excludes:
        why = f"the {how} p-value" if interval != how else f"alpha {alpha:g}"
        return (
            f"significant by {why} (p_holm = {p_adj:.4g}), though the {level}interval "
            f"({interval}) contains 0"
        )
    return None


def _apply_holm(rows: list[dict[str, Any]], alpha: float) -> None:
    tested = [r for r in rows if r["p_value"] is not None]
    for r in rows:
        if r["p_value"] is None:
            r["p_adjusted"] = None
            r["significant"] = False
            r["change"] = "not tested"
            r["verdict_note"] = None
    adjusted = holm([r["p_value"] for r in tested])
    for r, p in zip(tested, adjusted, strict=True):
        r["p_adjusted"] = p
        r["significant"] = p < alpha
        sign = _better(r["delta"], r["higher_is_better"])
        r["change"] = (
            ("improved" if sign > 0 else "regressed")
            if r["significant"] and sign
            else ("no significant change")
        )
        r["verdict_note"] = verdict_note(r, alpha, len(tested))


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


def _forgotten(
    task: str,
    plan: dict[str, Any],
    runs: Sequence[dict[str, dict[str, Any]]],
    labels: list[str],
    top_k: int,
) -> list[dict[str, Any]]:
    """Examples the last run does worse on than the best earlier run did."""
    last = runs[-1]
    out = []
    for key, metric in plan["metrics"].items():
        ids = [i for i in plan["ids"] if last[i]["error"] is None]
        if not ids:
            continue
        per_run = []
        for lines in runs:
            ok = [i for i in ids if lines[i]["error"] is None]
            vals = metric.per_sample_values([lines[i]["stats"][key] for i in ok])
            per_run.append({name: dict(zip(ok, v, strict=True)) for name, v in vals.items()})
        for name in metric.primary_values():
            hib = metric.value_higher_is_better(name)
            found = []
            for i in ids:
                now = per_run[-1][name][i]
                earlier = [
                    (per_run[r][name][i], r) for r in range(len(runs) - 1) if i in per_run[r][name]
                ]
                if not earlier:
                    continue
                best, best_run = max(earlier, key=lambda t: t[0] if hib else -t[0])
                drop = (best - now) if hib else (now - best)
                if drop > _TIE:
                    found.append((drop, i, best, best_run, now))
            found.sort(key=lambda t: -t[0])
            out.append(
                {
                    "task": task,
                    "metric": name,
                    "count": len(found),
                    "examples": [
                        {
                            "id": i,
                            "best_run": labels[r],
                            "score_best": b,
                            "score_last": now,
                            "prediction_best": runs[r][i]["prediction"],
                            "prediction_last": last[i]["prediction"],
                            "references": last[i].get("references", []),
                        }
                        for _, i, b, r, now in found[:top_k]
                    ],
                }
            )
    return out


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
        trend = []
        for task in tasks:
            for key, metric in plan[task]["metrics"].items():
                for name in metric.primary_values():
                    pts = []
                    for j, rr in enumerate(result_rows):
                        point = rr.get((task, name))
                        if point is not None:
                            pts.append(
                                {
                                    "run": j,
                                    "label": labels[j],
                                    "value": point["value"],
                                    "ci_low": point["ci_low"],
                                    "ci_high": point["ci_high"],
                                }
                            )
                    trend.append(
                        {
                            "task": task,
                            "metric": name,
                            "metric_key": key,
                            "higher_is_better": metric.value_higher_is_better(name),
                            "points": pts,
                        }
                    )
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
