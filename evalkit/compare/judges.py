"""Agreement between two judges: two runs of one task, each graded by its own judge.

Run the same suite twice with different judges (another model, another prompt) and compare
the runs' ``judge`` readings sample by sample, the way the metric compares a judge with people
(:mod:`evalkit.metrics.judges.agreement`): Cohen's kappa (quadratic weights on a range scale,
none on pass/fail) and Krippendorff's alpha on each sample's value rounded half up to the
scale, Spearman's rho and Kendall's tau-b on the values themselves, over the samples both
judges scored, each with a percentile bootstrap interval over samples.

A sample's value is the mean over its parsed repeats of the criterion (or of the weighted
total), exactly what the metric reports per sample; a sample either judge left unscored is
left out and counted.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalkit.errors import ConfigError
from evalkit.metrics.judges import agreement
from evalkit.metrics.judges.rubric import RubricJudge
from evalkit.store import RunRecord, load_run

__all__ = ["AGREEMENT_VALUES", "judge_agreement"]

#: What :func:`judge_agreement` reports, each with an interval.
AGREEMENT_VALUES = ("kappa", "alpha", "spearman", "kendall")


def _task_info(rec: RunRecord, task: str | None, metric: str) -> dict[str, Any]:
    tasks = [t for t in rec.header.get("tasks", []) if metric in (t.get("metric_params") or {})]
    if task is not None:
        tasks = [t for t in tasks if t.get("name") == task]
    if len(tasks) != 1:
        names = ", ".join(str(t.get("name")) for t in tasks) or "none"
        raise ConfigError(
            f"{rec.path}: {'no' if not tasks else 'more than one'} task with the metric "
            f"'{metric}' (tasks: {names}); name one with --task."
        )
    return dict(tasks[0])


def _values(
    rec: RunRecord, info: dict[str, Any], metric: str, criterion: str | None
) -> tuple[RubricJudge, str, dict[str, float]]:
    """The rebuilt metric, the criterion, and sample id -> that judge's value (scored only)."""
    judge = RubricJudge.rebuild(info["metric_params"][metric])
    assert isinstance(judge, RubricJudge)
    names = [c.name for c in judge.criteria]
    if criterion is None:
        criterion = names[0] if len(names) == 1 else "total"
    if criterion != "total" and criterion not in names:
        raise ConfigError(
            f"{rec.path}: the {metric} criteria are {', '.join(names)}; --criterion must be "
            "one of them or total."
        )
    lines = [ln for ln in rec.samples if ln.get("task") == info["name"] and not ln.get("error")]
    stats = [ln["stats"][metric] for ln in lines if metric in (ln.get("stats") or {})]
    ids = [str(ln["id"]) for ln in lines if metric in (ln.get("stats") or {})]
    table = judge._table(stats)
    col = table.total if criterion == "total" else table.crit[:, names.index(criterion)]
    return judge, criterion, {i: float(v) for i, v in zip(ids, col, strict=True) if v == v}


def judge_agreement(
    run_a: str | Path,
    run_b: str | Path,
    *,
    task: str | None = None,
    metric: str = "judge",
    criterion: str | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Agreement between the judges of two runs of one task.

    Returns:
        ``{"task", "criterion", "n", "left_out", "values": {name: {"value", "ci_low",
        "ci_high"}}}`` for ``kappa``, ``alpha``, ``spearman`` and ``kendall``.

    Raises:
        ConfigError: A run without (exactly one) such task, criteria or scales that differ
            between the runs, an unknown criterion, or fewer than two samples both judges
            scored.
    """
    recs = [load_run(Path(run_a)), load_run(Path(run_b))]
    infos = [_task_info(rec, task, metric) for rec in recs]
    if infos[0]["name"] != infos[1]["name"]:
        raise ConfigError(
            f"the runs' tasks differ ({infos[0]['name']} vs {infos[1]['name']}); name one "
            "with --task."
        )
    ja, crit, va = _values(recs[0], infos[0], metric, criterion)
    jb, _, vb = _values(recs[1], infos[1], metric, criterion)
    if ja.params["criteria"] != jb.params["criteria"]:
        raise ConfigError(
            f"the judges grade different rubrics ({ja.params['criteria']} vs "
            f"{jb.params['criteria']}); agreement needs the same criteria and scales."
        )
    scale = (
        ja.criteria[0].scale
        if crit == "total"
        else next(c.scale for c in ja.criteria if c.name == crit)
    )
    if crit == "total" and len({c.scale for c in ja.criteria}) > 1:
        raise ConfigError("--criterion total needs every criterion on one scale; name one.")
    ids = [i for i in va if i in vb]
    if len(ids) < 2:
        raise ConfigError(
            f"task '{infos[0]['name']}': {len(ids)} sample(s) scored by both judges; agreement "
            "needs at least two."
        )
    x = np.array([va[i] for i in ids])
    y = np.array([vb[i] for i in ids])
    labels = list(scale.values())
    level: Literal["ordinal", "nominal"] = "ordinal" if scale.kind == "range" else "nominal"
    weights: Literal["quadratic"] | None = "quadratic" if scale.kind == "range" else None

    def measure(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        ra, rb = np.floor(a + 0.5), np.floor(b + 0.5)
        return {
            "kappa": float(agreement.cohen_kappa(ra, rb, labels=labels, weights=weights)),
            "alpha": float(
                agreement.krippendorff_alpha(np.stack([ra, rb]), level=level, values=labels)
            ),
            "spearman": float(agreement.spearman(a, b)),
            "kendall": float(agreement.kendall_tau_b(a, b)),
        }

    point = measure(x, y)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in AGREEMENT_VALUES}
    for _ in range(resamples):
        idx = rng.integers(0, len(ids), len(ids))
        for k, v in measure(x[idx], y[idx]).items():
            draws[k].append(v)
    tail = (1 - confidence) / 2 * 100
    values = {}
    for k in AGREEMENT_VALUES:
        arr = np.array([v for v in draws[k] if not math.isnan(v)])
        low, high = (
            (float(np.percentile(arr, tail)), float(np.percentile(arr, 100 - tail)))
            if len(arr)
            else (math.nan, math.nan)
        )
        values[k] = {"value": point[k], "ci_low": low, "ci_high": high}
    return {
        "task": infos[0]["name"],
        "criterion": crit,
        "n": len(ids),
        "left_out": len(set(va) | set(vb)) - len(ids),
        "confidence": confidence,
        "values": values,
    }
