"""Reading runs for a comparison: their tasks, labels, series order, and what must match.

Runs whose metric signatures, data or sample sets differ are refused (``--intersection``
compares the common samples and tasks); every recorded metric is rebuilt and checked against
its recorded signature before a resample is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.metrics.base import Metric
from evalkit.store import RunRecord


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

    metric = METRICS.get(key).rebuild(params)
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
