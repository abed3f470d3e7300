"""Quality gates: absolute thresholds, and regressions against a baseline run.

Gate kinds (declared per task in the suite, checked from records only):

- ``min`` / ``max``: the value must be at least / at most the threshold.
- ``max_drop``: the value may fall behind the baseline's by at most this much (in the metric's
  better direction; for TER a *rise* is a drop).
- ``no_significant_regression``: fails when the paired bootstrap test against the baseline
  finds a significant difference in the worse direction at ``alpha``. The p-values of all
  regression gates of one check are Holm-adjusted together, so noise alone fails the check
  no more often than ``alpha``.

``fail_on_regression=True`` (``evalkit gate --fail-on-regression``) adds a
``no_significant_regression`` gate on every primary value of every task
(:meth:`evalkit.metrics.base.Metric.primary_values`) that the suite does not already gate that
way; they join the same Holm correction.

Gates that need a baseline are reported as skipped ("no baseline yet") when none is given, or
when the baseline has no such task; absolute gates still apply. A check records itself in the
run folder as ``gates.json`` (:func:`write_gate_check`), which ``report.html`` shows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.compare import auto_resamples, build_metric, signature_diff
from evalkit.errors import ConfigError, InputError
from evalkit.stats import holm, paired_bootstrap
from evalkit.store import RunRecord, write_json_atomic

#: The file a gate check writes into the run folder (read by the run report).
GATES_FILE = "gates.json"
#: ``source`` of a gate declared in the suite, and of one added by ``fail_on_regression``.
FROM_SUITE = "suite"
FROM_FLAG = "--fail-on-regression"
#: Gate kinds that compare with a baseline run.
RELATIVE_KINDS = ("max_drop", "no_significant_regression")

#: How to declare a gate, for error messages.
HOW_TO_GATE = (
    "Add gates under a task in the suite, e.g.\n"
    "    gates:\n"
    "      - {metric: bleu, min: 20}\n"
    "      - {metric: bleu, max_drop: 2}\n"
    "      - {metric: bleu, no_significant_regression: true, alpha: 0.05}\n"
    "and rerun the suite, or pass --fail-on-regression with --baseline BASE_RUN to test every "
    "task's primary metrics against the baseline (paired bootstrap, Holm-corrected)."
)


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
        "source": FROM_SUITE,
    }
    base.update(kw)
    return base


def _num(value: float | None) -> str:
    """A value for a message: four significant digits, or "missing"."""
    return "missing" if value is None else f"{value:.4g}"


def _rows(header: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["task"], r["metric"]): r for r in header.get("results", [])}


def _metrics_of(task_info: Mapping[str, Any], run: RunRecord) -> dict[str, Any]:
    """The task's recorded metrics, rebuilt (their signatures checked), by metric key."""
    where = f"{run.path}: task '{task_info['name']}'"
    return {
        key: build_metric(key, params, task_info["metrics"][key], where)
        for key, params in (task_info.get("metric_params") or {}).items()
    }


def _key_of(task_info: Mapping[str, Any], value_name: str, run: RunRecord) -> str:
    """The metric key (``rouge``) that produces a value (``rougeL``) in a task."""
    for key, metric in _metrics_of(task_info, run).items():
        if value_name in metric.value_names():
            return key
    raise ConfigError(f"{run.path}: task '{task_info['name']}' has no metric value '{value_name}'.")


def declared_gates(header: Mapping[str, Any]) -> int:
    """How many gate specs the run's suite declares, over all tasks."""
    return sum(len(t.get("gates") or []) for t in header.get("tasks") or [])


def _suite_specs(info: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(spec, source=FROM_SUITE) for spec in info.get("gates") or []]


def _regression_specs(
    info: Mapping[str, Any], run: RunRecord, alpha: float, declared: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A ``no_significant_regression`` spec per primary value the suite does not test so."""
    covered = {s["metric"] for s in declared if s.get("no_significant_regression")}
    specs = []
    for metric in _metrics_of(info, run).values():
        for name in metric.primary_values():
            if name in covered:
                continue
            specs.append(
                {
                    "metric": name,
                    "no_significant_regression": True,
                    "alpha": alpha,
                    "source": FROM_FLAG,
                    # Set-level metrics that opt out of resampling (KID, IS) get no paired test.
                    "_untestable": not getattr(metric, "resample", True),
                }
            )
    return specs


def _absolute(task: str, spec: Mapping[str, Any], value: float | None) -> list[dict[str, Any]]:
    out = []
    name = spec["metric"]
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
                message=f"{task}/{name} = {_num(value)} must be {word} {t}",
                source=spec["source"],
            )
        )
    return out


def _relative_kinds(spec: Mapping[str, Any]) -> list[str]:
    kinds = ["max_drop"] if spec.get("max_drop") is not None else []
    if spec.get("no_significant_regression"):
        kinds.append("no_significant_regression")
    return kinds


def _paired_p(
    run: RunRecord, baseline: RunRecord, task: str, value: str, resamples: int, seed: int
) -> tuple[float, int]:
    info = next(t for t in run.header["tasks"] if t["name"] == task)
    base_info = next(t for t in baseline.header.get("tasks", []) if t["name"] == task)
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
    if not ids:
        return math.nan, 0
    result = paired_bootstrap(
        metric,
        [theirs[i]["stats"][key] for i in ids],
        [mine[i]["stats"][key] for i in ids],
        resamples=resamples,
        seed=seed,
    )[value]
    return float(result["p_value"]), len(ids)


class _Check:
    """One gate check in progress: the run, the baseline and the regression tests to adjust."""

    def __init__(
        self, run: RunRecord, baseline: RunRecord | None, resamples: int, seed: int
    ) -> None:
        self.run, self.baseline = run, baseline
        self.resamples, self.seed = resamples, seed
        self.rows = _rows(run.header)
        self.base_rows = _rows(baseline.header) if baseline is not None else {}
        self.base_tasks = (
            {t["name"] for t in baseline.header.get("tasks") or []} if baseline else set()
        )
        self.regression: list[dict[str, Any]] = []

    def relative(self, task: str, spec: Mapping[str, Any], kind: str) -> dict[str, Any]:
        """A baseline-relative gate: skipped, failed for want of a value, or evaluated."""
        name = spec["metric"]
        row = self.rows.get((task, name))
        value = None if row is None else row["value"]
        hib = True if row is None else row["higher_is_better"]
        threshold = spec.get("max_drop") if kind == "max_drop" else spec.get("alpha", 0.05)
        common = {"value": value, "source": spec["source"]}
        if kind == "no_significant_regression":
            common["alpha"] = threshold
        if self.baseline is None or task not in self.base_tasks:
            why = (
                "pass --baseline RUN_DIR to check this gate"
                if self.baseline is None
                else f"the baseline {self.baseline.path} has no task '{task}'"
            )
            return _gate(
                task,
                name,
                kind,
                threshold,
                status="skipped",
                **common,
                message=f"no baseline yet: {why}",
            )
        if spec.get("_untestable"):
            return _gate(
                task,
                name,
                kind,
                threshold,
                status="skipped",
                **common,
                message=f"{task}/{name} is a set-level value without a paired test; gate it "
                "with max_drop or min/max in the suite",
            )
        base_row = self.base_rows.get((task, name))
        if base_row is None or base_row["value"] is None or value is None:
            return _gate(
                task,
                name,
                kind,
                threshold,
                status="fail",
                **common,
                message=f"{task}/{name}: no value to compare with the baseline",
            )
        bval = base_row["value"]
        delta = value - bval
        worse_by = -delta if hib else delta
        common.update(baseline_value=bval, delta=delta)
        if kind == "max_drop":
            return _gate(
                task,
                name,
                kind,
                threshold,
                status="pass" if worse_by <= threshold else "fail",
                message=f"{task}/{name} moved {delta:+.4g} from the baseline {bval:.4g}; the "
                f"largest allowed drop is {threshold}",
                **common,
            )
        p, n = _paired_p(self.run, self.baseline, task, name, self.resamples, self.seed)
        g = _gate(task, name, kind, threshold, p_value=None if math.isnan(p) else p, n=n, **common)
        if math.isnan(p):
            g["status"] = "fail"
            g["message"] = (
                f"{task}/{name}: the paired test is undefined on {n} paired samples "
                "(no sample scored in both runs, or the value is undefined on resamples)"
            )
        else:
            g["_worse"] = worse_by > 0
            self.regression.append(g)
        return g

    def adjust(self) -> None:
        """Holm-adjust every regression test of the check together and give the verdicts."""
        if not self.regression:
            return
        adjusted = holm([g["p_value"] for g in self.regression])
        for g, p in zip(self.regression, adjusted, strict=True):
            g["p_adjusted"] = p
            failed = g.pop("_worse") and p < g["alpha"]
            g["status"] = "fail" if failed else "pass"
            verdict = "a significant regression" if failed else "no significant regression"
            g["message"] = (
                f"{g['task']}/{g['metric']} {g['delta']:+.4g} vs baseline {g['baseline_value']:.4g}"
                f" on {g['n']} paired samples: {verdict} (p = {g['p_value']:.3g}, Holm-adjusted "
                f"{p:.3g} over {len(self.regression)} test(s), alpha {g['alpha']})"
            )


def _plan(
    run: RunRecord, fail_on_regression: bool, alpha: float
) -> list[tuple[str, list[dict[str, Any]]]]:
    plan = []
    for info in run.header.get("tasks", []):
        specs = _suite_specs(info)
        if fail_on_regression:
            specs += _regression_specs(info, run, alpha, specs)
        plan.append((info["name"], specs))
    return plan


def _resamples_for(
    plan: list[tuple[str, list[dict[str, Any]]]], resamples: int | None, tested: bool
) -> int:
    """Enough resamples for the Holm-corrected tests to be able to fail, or an error."""
    tests = [s for _, specs in plan for s in specs if s.get("no_significant_regression")]
    if not tests or not tested:
        return resamples or 1000
    m, alpha = len(tests), min(float(s.get("alpha", 0.05)) for s in tests)
    if resamples is None:
        return auto_resamples(m, alpha)
    # A resampling p is at least 1/(B+1) and Holm multiplies the smallest by m: with too few
    # resamples no regression could ever be significant, and the gates would pass by design.
    if m / (resamples + 1) >= alpha:
        raise ConfigError(
            f"--resamples {resamples} is too few for {m} Holm-corrected regression test(s) at "
            f"alpha {alpha}: none could ever fail. Use at least {math.ceil(m / alpha)} "
            f"(evalkit's default is {auto_resamples(m, alpha)})."
        )
    return resamples


def check_gates(
    run: RunRecord,
    baseline: RunRecord | None = None,
    *,
    resamples: int | None = None,
    seed: int = 12345,
    fail_on_regression: bool = False,
    alpha: float = 0.05,
) -> list[dict[str, Any]]:
    """Evaluate every gate recorded in ``run`` (optionally against ``baseline``).

    Args:
        run: The run whose gates are checked.
        baseline: The run to check baseline-relative gates against; without it they are
            skipped ("no baseline yet").
        resamples: Paired bootstrap resamples (default: enough for the number of Holm-adjusted
            tests, :func:`evalkit.compare.auto_resamples`); too few to ever fail is an error.
        seed: Seed of the paired bootstrap.
        fail_on_regression: Also test every primary value of every task for a significant
            regression (``alpha``), in the same Holm correction.
        alpha: Significance level of the gates that ``fail_on_regression`` adds.

    Returns:
        One dict per gate check with ``status`` ``pass``, ``fail`` or ``skipped``, a
        ``message`` that explains the outcome in one line, and ``source`` (``suite`` or
        ``--fail-on-regression``).

    Raises:
        ConfigError: The baseline shares no task with the run, was run on other data or
            with other metric signatures, or ``resamples`` is too small.
    """
    plan = _plan(run, fail_on_regression, alpha)
    if baseline is not None:
        tasks = {t["name"] for t in baseline.header.get("tasks") or []}
        if plan and not tasks & {task for task, _ in plan}:
            raise ConfigError(
                f"the baseline {baseline.path} shares no task with {run.path}; pass the baseline "
                "run of the same suite."
            )
    check = _Check(run, baseline, _resamples_for(plan, resamples, baseline is not None), seed)
    out: list[dict[str, Any]] = []
    for task, specs in plan:
        for spec in specs:
            row = check.rows.get((task, spec["metric"]))
            out += _absolute(task, spec, None if row is None else row["value"])
            out += [check.relative(task, spec, kind) for kind in _relative_kinds(spec)]
    check.adjust()
    return out


def gates_failed(gates: list[dict[str, Any]]) -> bool:
    """Whether any gate failed."""
    return any(g["status"] == "fail" for g in gates)


def gate_check_document(
    run: RunRecord,
    baseline: RunRecord | None,
    gates: list[dict[str, Any]],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``gates.json`` document of one check: what was checked, how, and the verdicts.

    ``run`` names the header it checked (``run_id`` and ``finished_at``), so a report can tell
    a check of this record from one of an earlier state of the folder (before ``--resume``).
    """
    return {
        "format_version": 1,
        "run": {"run_id": run.header.get("run_id"), "finished_at": run.header.get("finished_at")},
        "baseline": None
        if baseline is None
        else {"path": str(baseline.path), "run_id": baseline.header.get("run_id")},
        "settings": dict(settings),
        "failed": gates_failed(gates),
        "gates": gates,
    }


def write_gate_check(run_dir: str | Path, doc: Mapping[str, Any]) -> Path:
    """Write a gate check as ``gates.json`` in the run folder (atomically); return its path."""
    path = Path(run_dir) / GATES_FILE
    write_json_atomic(path, dict(doc))
    return path


def read_gate_check(run_dir: str | Path, header: Mapping[str, Any]) -> dict[str, Any] | None:
    """The folder's ``gates.json`` when it checked this very record, else ``None``.

    Raises:
        InputError: ``gates.json`` exists but is not a JSON object with a ``gates`` list.
    """
    path = Path(run_dir) / GATES_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: not readable JSON ({exc}); rerun `evalkit gate` or delete the file."
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("gates"), list):
        raise InputError(f"{path}: expected an object with a 'gates' list; rerun `evalkit gate`.")
    run = doc.get("run")
    checked: dict[str, Any] = run if isinstance(run, dict) else {}
    same = (checked.get("run_id"), checked.get("finished_at")) == (
        header.get("run_id"),
        header.get("finished_at"),
    )
    return doc if same else None
