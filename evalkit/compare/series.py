"""What a checkpoint series adds to a comparison: the trend and the forgotten examples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.compare.pairing import _TIE


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


def _trend(
    tasks: Sequence[str],
    plan: Mapping[str, Mapping[str, Any]],
    result_rows: Sequence[Mapping[tuple[str, str], Mapping[str, Any]]],
    labels: Sequence[str],
) -> list[dict[str, Any]]:
    """Per task and metric value: each run's recorded value and interval, in series order."""
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
    return trend
