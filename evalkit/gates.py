"""Quality gates: absolute thresholds, and regressions against a baseline run.

Gate kinds (declared per task in the suite, checked from records only):

- ``min`` / ``max``: the value must be at least / at most the threshold.
- ``max_drop``: the value may fall behind the baseline's by at most this much (in the metric's
  better direction; for TER a *rise* is a drop).
- ``no_significant_regression``: fails when the paired bootstrap test against the baseline
  finds a significant difference in the worse direction at ``alpha``. The p-values of all
  regression gates of one check are Holm-adjusted together, so noise alone fails the check
  no more often than ``alpha``.

Gates that need a baseline are reported as skipped when none is given.
"""

from __future__ import annotations

from typing import Any

from evalkit.compare import build_metric, signature_diff
from evalkit.errors import ConfigError
from evalkit.stats import holm, paired_bootstrap
from evalkit.store import RunRecord


def _gate(task: str, metric: str, kind: str, threshold: Any, **kw: Any) -> dict[str, Any]:
    base = {
        "task": task,
        "metric": metric,
        "kind": kind,
        "threshold": threshold,
        "value": None,
        "baseline_value": None,
        "delta": None,
        "p_value": None,
        "p_adjusted": None,
        "alpha": None,
        "status": "pass",
        "message": "",
    }
    base.update(kw)
    return base


def _rows(header: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["task"], r["metric"]): r for r in header.get("results", [])}


def _key_of(task_info: dict[str, Any], value_name: str, run: RunRecord) -> str:
    """The metric key (``rouge``) that produces a value (``rougeL``) in a task."""
    for key, params in (task_info.get("metric_params") or {}).items():
        sig = task_info["metrics"][key]
        metric = build_metric(key, params, sig, f"{run.path}: task '{task_info['name']}'")
        if value_name in metric.value_names():
            return key
    raise ConfigError(f"{run.path}: task '{task_info['name']}' has no metric value '{value_name}'.")


def _paired_p(
    run: RunRecord, baseline: RunRecord, task: str, value: str, resamples: int, seed: int
) -> tuple[float, int]:
    info = next(t for t in run.header["tasks"] if t["name"] == task)
    base_info = next((t for t in baseline.header.get("tasks", []) if t["name"] == task), None)
    if base_info is None:
        raise ConfigError(f"{baseline.path}: the baseline has no task '{task}'.")
    if (info.get("dataset") or {}).get("sha256") != (base_info.get("dataset") or {}).get("sha256"):
        raise ConfigError(
            f"task '{task}': {run.path} and the baseline {baseline.path} were run on different "
            "data; a regression test needs the same samples."
        )
    key = _key_of(info, value, run)
    sig, base_sig = info["metrics"][key], base_info["metrics"].get(key)
    if base_sig != sig:
        raise ConfigError(
            f"task '{task}': metric '{key}' differs from the baseline's "
            f"({signature_diff(base_sig or '', sig)}); results with different signatures are not "
            "comparable."
        )
    metric = build_metric(key, info["metric_params"][key], sig, f"{run.path}: task '{task}'")
    mine = {s["id"]: s for s in run.samples_for(task) if s["error"] is None}
    theirs = {s["id"]: s for s in baseline.samples_for(task) if s["error"] is None}
    ids = [i for i in theirs if i in mine]
    result = paired_bootstrap(
        metric,
        [theirs[i]["stats"][key] for i in ids],
        [mine[i]["stats"][key] for i in ids],
        resamples=resamples,
        seed=seed,
    )[value]
    return float(result["p_value"]), len(ids)


def check_gates(
    run: RunRecord, baseline: RunRecord | None = None, *, resamples: int = 1000, seed: int = 12345
) -> list[dict[str, Any]]:
    """Evaluate every gate recorded in ``run`` (optionally against ``baseline``).

    Returns:
        One dict per gate check with ``status`` ``pass``, ``fail`` or ``skipped`` and a
        ``message`` that explains the outcome in one line.
    """
    rows = _rows(run.header)
    base_rows = _rows(baseline.header) if baseline is not None else {}
    out: list[dict[str, Any]] = []
    regression: list[dict[str, Any]] = []
    for info in run.header.get("tasks", []):
        task = info["name"]
        for spec in info.get("gates", []):
            name = spec["metric"]
            row = rows.get((task, name))
            value = None if row is None else row["value"]
            hib = True if row is None else row["higher_is_better"]
            for kind in ("min", "max"):
                if spec.get(kind) is None:
                    continue
                t = spec[kind]
                ok = value is not None and (value >= t if kind == "min" else value <= t)
                word = "at least" if kind == "min" else "at most"
                out.append(
                    _gate(
                        task,
                        name,
                        kind,
                        t,
                        value=value,
                        status="pass" if ok else "fail",
                        message=f"{task}/{name} = {value} must be {word} {t}",
                    )
                )
            needs_base = [k for k in ("max_drop",) if spec.get(k) is not None]
            if spec.get("no_significant_regression"):
                needs_base.append("no_significant_regression")
            for kind in needs_base:
                threshold = spec.get("max_drop") if kind == "max_drop" else spec.get("alpha", 0.05)
                if baseline is None:
                    out.append(
                        _gate(
                            task,
                            name,
                            kind,
                            threshold,
                            value=value,
                            status="skipped",
                            message="no baseline run given (--baseline RUN_DIR)",
                        )
                    )
                    continue
                base_row = base_rows.get((task, name))
                if base_row is None or base_row["value"] is None or value is None:
                    out.append(
                        _gate(
                            task,
                            name,
                            kind,
                            threshold,
                            value=value,
                            status="fail",
                            message=f"{task}/{name}: no value to compare with the baseline",
                        )
                    )
                    continue
                bval = base_row["value"]
                delta = value - bval
                worse_by = -delta if hib else delta
                if kind == "max_drop":
                    ok = worse_by <= threshold
                    out.append(
                        _gate(
                            task,
                            name,
                            kind,
                            threshold,
                            value=value,
                            baseline_value=bval,
                            delta=delta,
                            status="pass" if ok else "fail",
                            message=f"{task}/{name} moved {delta:+.4g} from the baseline "
                            f"{bval:.4g}; the largest allowed drop is {threshold}",
                        )
                    )
                else:
                    p, n = _paired_p(run, baseline, task, name, resamples, seed)
                    g = _gate(
                        task,
                        name,
                        kind,
                        threshold,
                        value=value,
                        baseline_value=bval,
                        delta=delta,
                        p_value=p,
                        alpha=threshold,
                        n=n,
                    )
                    g["_worse"] = worse_by > 0
                    regression.append(g)
                    out.append(g)
    if regression:
        adjusted = holm([g["p_value"] for g in regression])
        for g, p in zip(regression, adjusted, strict=True):
            g["p_adjusted"] = p
            failed = g.pop("_worse") and p < g["alpha"]
            g["status"] = "fail" if failed else "pass"
            verdict = "a significant regression" if failed else "no significant regression"
            g["message"] = (
                f"{g['task']}/{g['metric']} {g['delta']:+.4g} vs baseline {g['baseline_value']:.4g}"
                f" on {g['n']} paired samples: {verdict} (p = {g['p_value']:.3g}, Holm-adjusted "
                f"{p:.3g}, alpha {g['alpha']})"
            )
    return out


def gates_failed(gates: list[dict[str, Any]]) -> bool:
    """Whether any gate failed."""
    return any(g["status"] == "fail" for g in gates)
