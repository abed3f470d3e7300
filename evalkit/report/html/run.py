"""``report.html``: one self-contained, offline HTML file per run.

The page is rendered from a Jinja2 template with autoescaping on; everything it shows is
formatted here first, so the template only places strings. Per-sample data (prompts, model
outputs, references, retrieved documents) is embedded once, as a JSON
``<script type="application/json">`` block that a small inline script turns into a searchable,
sortable, paginated table using ``textContent`` only (one page of rows is in the DOM at a time,
so a 10,000-sample run stays responsive). Charts (each metric's value with its confidence
interval, histograms of per-sample scores) are inline SVG written in Python
(:mod:`evalkit.report.html.charts`). A Content-Security-Policy meta tag forbids every network fetch
and allows only the page's own style and script, by hash (:mod:`evalkit.report.html._assets`).

Per-sample scores are rebuilt from the record's statistics (:mod:`evalkit.report.scores`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from evalkit.records import GateRow, ResultRow, TaskInfo
from evalkit.report._format import (
    MISSING,
    confidence_label,
    format_ci,
    format_number,
    optional_text,
    or_missing,
    text_of,
)
from evalkit.report._record import TypedRun, typed_gates, typed_run
from evalkit.report.html._assets import page_assets, payload_json, template_environment
from evalkit.report.html._classification import classification_html
from evalkit.report.html.charts import histogram_svg, results_svg
from evalkit.report.scores import per_sample_scores
from evalkit.store import RunRecord

#: Rows per page of the sample table (the reader can change it on the page).
PAGE_SIZE = 50
#: Retrieved documents shown per query in the sample table.
MAX_RANKING = 10
#: Score histograms drawn (one per task and per-sample score column), the rest are counted.
MAX_HISTOGRAMS = 24


def _sort_key(value: float | None) -> str:
    """A ``data-sort`` attribute value: the number for numeric cells, empty when absent/NaN."""
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def _duration(start: str | None, end: str | None) -> str | None:
    """``1 h 2 min 3 s`` between two ISO timestamps, or ``None`` when either is absent or not
    an ISO timestamp (the schema says text, not which text)."""
    if start is None or end is None:
        return None
    try:
        t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(end.replace("Z", "+00:00"))
        seconds = (t1 - t0).total_seconds()
    except (TypeError, ValueError):  # not ISO; or one with a zone and one without
        return None
    if seconds < 0:
        return None
    if seconds < 60:
        return f"{format_number(round(seconds, 1))} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} h " if hours else "") + f"{minutes} min {sec} s"


def _result_row(row: ResultRow, index: int) -> dict[str, Any]:
    target = row.target  # values with an ideal point (a preference share: 50)
    return {
        "index": index,
        "task": row.task,
        "metric": row.metric,
        "value": format_number(row.value),
        "value_sort": _sort_key(row.value),
        "ci": format_ci(row.ci_low, row.ci_high),
        "ci_sort": _sort_key(row.ci_low),
        "n": format_number(row.n),
        "n_sort": _sort_key(row.n),
        "n_errors": format_number(row.n_errors),
        "n_errors_sort": _sort_key(row.n_errors),
        "has_errors": row.n_errors > 0,
        "direction": (
            f"→{format_number(target)}"
            if target is not None
            else "↑"
            if row.higher_is_better
            else "↓"
        ),
        "direction_title": (
            f"closer to {format_number(target)} is better"
            if target is not None
            else "higher is better"
            if row.higher_is_better
            else "lower is better"
        ),
        "signature": row.signature,
        "search": " ".join((row.task, row.metric, row.signature)),
        "raw": row,
    }


def _task_count(info: TaskInfo | None, name: str, seen: int) -> int | None:
    """A task's recorded ``n_samples`` / ``n_errors`` (``name``), else the count ``seen``."""
    if info is None or name not in info.model_fields_set:
        return seen
    return info.n_samples if name == "n_samples" else info.n_errors


def _tasks(record: TypedRun, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-task sections: the header's tasks in order, then any task only seen in rows/samples."""
    declared = record.header.tasks
    names: list[str] = [t.name for t in declared]
    for name in [r["task"] for r in rows] + [s.task for s in record.samples]:
        if name not in names:
            names.append(name)
    by_name = {t.name: t for t in declared}
    sample_counts: dict[str, list[int]] = {}
    for s in record.samples:
        counts = sample_counts.setdefault(s.task, [0, 0])
        counts[0] += 1
        counts[1] += s.error is not None
    tasks = []
    for i, name in enumerate(names):
        info = by_name.get(name)
        dataset = info.dataset if info is not None else None
        seen, failed = sample_counts.get(name, [0, 0])
        sha = dataset.sha256 if dataset is not None else None
        facts = [
            ("dataset", or_missing(dataset.path if dataset is not None else None)),
            ("dataset sha256", sha[:16] + "…" if sha is not None else MISSING),
            ("dataset size", format_number(dataset.n if dataset is not None else None)),
            ("samples", format_number(_task_count(info, "n_samples", seen))),
            ("errors", format_number(_task_count(info, "n_errors", failed))),
        ]
        warnings = _warnings(info.warnings if info is not None else {})
        tasks.append(
            {
                "anchor": f"task-{i}",
                "name": name,
                "facts": facts,
                "warnings": warnings,
                "n_warned": format_number(sum(count for _, _, count, _ in warnings)),
                "sha256": or_missing(sha),
                "rows": [r for r in rows if r["task"] == name],
                "signatures": list(info.metrics.items()) if info is not None else [],
            }
        )
    return tasks


def _warnings(value: dict[str, dict[str, int]]) -> list[tuple[str, str, int, str]]:
    """A task's warning counts (``{metric key: {message: samples}}`` in results.json) as
    ``(metric key, message, count, formatted count)`` rows, most frequent first.

    >>> _warnings({"rouge": {"dropped letters": 3}, "bleu": {"cjk": 5, "none": 0}})
    [('bleu', 'cjk', 5, '5'), ('rouge', 'dropped letters', 3, '3')]
    """
    rows = []
    for key, messages in value.items():
        for message, count in messages.items():
            if count > 0:
                rows.append((key, message, count, format_number(count)))
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return rows


def _ranking(value: Any, fmt: Callable[[Any], str] = format_number) -> list[list[str]] | None:
    """The top retrieved documents of a retrieval sample as ``[doc id, score]`` texts.

    ``outputs`` are adapter-defined JSON (the schema does not type them), so the ranking's
    shape is checked here: a list of ``[doc id, score]`` pairs. ``fmt`` formats a score
    (:func:`format_number`, or a memoised one).
    """
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for hit in value[:MAX_RANKING]:
        if isinstance(hit, (list, tuple)) and hit:
            doc = hit[0]
            score = hit[1] if len(hit) > 1 else None
            out.append(
                [doc if type(doc) is str else text_of(doc), fmt(score) if score is not None else ""]
            )
    return out


def _memo_format() -> Callable[[Any], str]:
    """:func:`format_number` with a memo for floats (scores repeat across samples).

    Only exact floats are memoised: ``1``, ``1.0`` and ``True`` are equal keys of a dict but
    format differently (``1``, ``1``, ``yes``).

    >>> fmt = _memo_format()
    >>> fmt(0.5), fmt(0.5), fmt(1), fmt(True), fmt(float("nan"))
    ('0.5', '0.5', '1', 'yes', 'NaN')
    """
    memo: dict[float, str] = {}

    def fmt(value: Any) -> str:
        if type(value) is not float:
            return format_number(value)
        text = memo.get(value)
        if text is None:
            # -0.0 == 0.0 share an entry; both format as "0". NaN never hits (NaN != NaN).
            text = memo[value] = format_number(value)
        return text

    return fmt


def _samples_payload(record: TypedRun) -> dict[str, Any]:
    """What the sample table script needs, with the per-sample score columns.

    One dict per sample, in the key order the page's script has always received (the JSON
    text, and so the report's bytes, stay the same); the per-sample work is kept to the
    fields themselves (scores are finite by :func:`per_sample_scores`, so the payload needs no
    non-finite pass before it is encoded).
    """
    columns, scores = per_sample_scores(record)
    samples = []
    has_ranking = False
    fmt = _memo_format()
    for s, own in zip(record.samples, scores, strict=True):
        item: dict[str, Any] = {
            "task": s.task,
            "id": s.id,
            "prompt": s.prompt,
            "prediction": s.prediction,
            "references": [r if type(r) is str else text_of(r) for r in s.references],
            "error": s.error,
            "cached": s.cached,
            "stats": {c: fmt(own[c]) for c in columns if c in own} if own else {},
            "v": [own.get(c) for c in columns],
        }
        outputs = s.outputs
        if outputs:
            ranking = _ranking(outputs.get("ranking"), fmt)
            if ranking is not None:
                item["ranking"] = ranking
                has_ranking = True
        samples.append(item)
    return {
        "page_size": PAGE_SIZE,
        "stat_columns": columns,
        "has_ranking": has_ranking,
        "samples": samples,
    }


def _histograms(payload: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """One histogram per (task, score column) with values, in column order; and how many more."""
    columns: list[str] = payload["stat_columns"]
    tasks: list[str] = []
    for s in payload["samples"]:
        if s["task"] not in tasks:
            tasks.append(s["task"])
    charts = []
    for task in tasks:
        for j, column in enumerate(columns):
            values = [s["v"][j] for s in payload["samples"] if s["task"] == task]
            values = [v for v in values if v is not None]
            if not values:
                continue
            title = f"{task} · {column}: per-sample scores"
            svg = histogram_svg(values, title, column)
            charts.append({"task": task, "column": column, "svg": svg})
    return charts[:MAX_HISTOGRAMS], max(0, len(charts) - MAX_HISTOGRAMS)


#: Gate statuses as the page shows them, with the pill class.
_GATE_STATUS = {"pass": ("pass", "ok"), "fail": ("FAIL", "bad"), "skipped": ("skipped", "")}


def _gate_row(gate: GateRow) -> dict[str, Any]:
    """One gate check (:func:`evalkit.gates.check_gates`) as display strings."""
    label, pill = _GATE_STATUS.get(gate.status, (gate.status, "bad"))
    p, p_adj = gate.p_value, gate.p_adjusted
    return {
        "task": gate.task,
        "metric": gate.metric,
        "kind": gate.kind.replace("_", " "),
        "value": format_number(gate.value),
        # A regression gate's threshold is its significance level.
        "threshold": (
            f"α {format_number(gate.threshold)}"
            if gate.kind == "no_significant_regression"
            else format_number(gate.threshold)
        ),
        "baseline": format_number(gate.baseline_value),
        "p": MISSING if p is None else f"{format_number(p, 3)} / {format_number(p_adj, 3)}",
        "status": label,
        "status_class": pill,
        "failed": gate.status == "fail",
        "message": gate.message if "message" in gate.model_fields_set else MISSING,
        "source": "suite" if "source" not in gate.model_fields_set else or_missing(gate.source),
    }


def _gates_context(record: TypedRun) -> dict[str, Any]:
    """The gate section: the latest ``evalkit gate`` check of this record, else the run's own.

    ``gates.json`` (written by ``evalkit gate``) wins when it checked this very record; the
    run's ``results.json`` holds the gates checked when the run finished.

    Raises:
        evalkit.records.RecordError: ``gates.json`` holds a gate that is not a gate outcome.
    """
    from evalkit.gates import GATES_FILE, read_gate_check

    header = record.header
    identity = {"run_id": header.run_id, "finished_at": header.finished_at}
    check = read_gate_check(record.path, identity) if record.path else None
    if check is not None:
        gates = typed_gates(check["gates"], record.path / GATES_FILE)
        base = check.get("baseline")  # gates.json: {"path": ...} or null, its own format
        against = f"against the baseline {text_of(base.get('path'))}" if base else "no baseline"
        source = f"Checked by evalkit gate ({against})."
    else:
        gates = header.gates
        against = (
            f"against the baseline {header.baseline.path}" if header.baseline else "no baseline"
        )
        source = f"Checked when the run finished ({against})."
    rows = [_gate_row(g) for g in gates]
    n_failed = sum(r["failed"] for r in rows)
    return {
        "gates": rows,
        "gates_source": source,
        "gates_failed": n_failed > 0,
        "n_gates_failed": format_number(n_failed),
    }


def build_context(record: RunRecord | TypedRun) -> dict[str, Any]:
    """Everything the template shows, already formatted as strings.

    Args:
        record: A run read with :func:`evalkit.store.load_run`, checked against the schema
            first (:func:`evalkit.report._record.typed_run`).

    Returns:
        The template context (plain data; only ``samples_json`` is pre-escaped markup).

    Raises:
        evalkit.records.RecordError: The header or a sample line does not match the schema.
    """
    record = typed_run(record)
    header = record.header
    suite, model, boot = header.suite, header.model, header.bootstrap
    status = or_missing(header.status) if "status" in header.model_fields_set else "unknown"
    rows = [_result_row(r, i) for i, r in enumerate(header.results)]
    suite_name = suite.name if suite is not None else MISSING
    model_spec = model.spec if model is not None else MISSING

    run_facts = [
        ("suite", suite_name),
        ("suite file", or_missing(suite.path if suite is not None else None)),
        ("suite fingerprint", or_missing(suite.fingerprint if suite is not None else None)),
        ("model", model_spec),
        ("run id", or_missing(header.run_id)),
        ("status", status),
        ("seed", MISSING if header.seed is None else str(header.seed)),
        ("created", or_missing(header.created_at)),
        ("finished", or_missing(header.finished_at)),
    ]
    duration = _duration(header.created_at, header.finished_at)
    if duration is not None:
        run_facts.append(("duration", duration))
    cache = header.cache  # {enabled, hits, misses}, written by the runner
    if cache is not None and cache.hits is not None and cache.misses is not None:
        hits, total = cache.hits, cache.hits + cache.misses
        off = "" if cache.enabled else " (cache off)"
        run_facts.append(
            ("from cache", f"{format_number(hits)} of {format_number(total)} samples{off}")
        )
    boot_text = MISSING
    if boot is not None and boot.model_fields_set:
        given = boot.model_fields_set
        parts = [
            f"{format_number(boot.resamples)} resamples" if "resamples" in given else "",
            confidence_label(boot.confidence).replace("CI", "confidence")
            if "confidence" in given
            else "",
        ]
        parts += [f"{k}: {text_of(v)}" for k, v in (boot.model_extra or {}).items()]
        boot_text = ", ".join(p for p in parts if p) or MISSING
    run_facts.append(("bootstrap", boot_text))
    run_facts.append(("format version", str(header.format_version)))

    versions = [("evalkit", or_missing(header.evalkit_version))]
    versions += [(k, v) for k, v in sorted(header.versions.items()) if k != "evalkit"]

    payload = _samples_payload(record)
    n_errors = sum(1 for s in payload["samples"] if s["error"] is not None)
    histograms, hidden_histograms = _histograms(payload)
    ci_label = confidence_label(boot.confidence if boot is not None else None)
    tasks = _tasks(record, rows)
    for task in tasks:
        task["chart"] = (
            results_svg([r["raw"] for r in task["rows"]], f"{task['name']}: results", ci_label)
            if task["rows"]
            else None
        )
        # Confusion matrix and reliability diagram of classification metrics (else empty).
        info = next((t for t in header.tasks if t.name == task["name"]), None)
        task["classification"] = classification_html(record, info)
    assets = page_assets(template_environment(), "run.js")
    gating = _gates_context(record)
    return {
        "title": f"{suite_name} · {model_spec} · evalkit",
        "suite_name": suite_name,
        "model_spec": model_spec,
        "run_id": or_missing(header.run_id),
        # A completed run that failed a gate is not a green "completed": the badge says so.
        "status": "gate failed" if status == "completed" and gating["gates_failed"] else status,
        "status_ok": status == "completed" and not gating["gates_failed"],
        "run_ok": status == "completed",
        **gating,
        # Not a schema field: a header may carry one (kept as an extra key, any JSON).
        "run_error": optional_text((header.model_extra or {}).get("error")),
        "run_facts": run_facts,
        "versions": versions,
        "model_info": [(k, text_of(v)) for k, v in (model.info if model else {}).items()],
        "ci_label": ci_label,
        "rows": rows,
        "tasks": tasks,
        "histograms": histograms,
        "hidden_histograms": format_number(hidden_histograms) if hidden_histograms else "",
        "n_samples": format_number(len(payload["samples"])),
        "n_sample_errors": format_number(n_errors),
        "has_sample_errors": n_errors > 0,
        "has_samples": bool(payload["samples"]),
        "stat_columns": payload["stat_columns"],
        "has_ranking": payload["has_ranking"],
        "samples_json": payload_json(payload),
        "page_size": PAGE_SIZE,
        "csp": assets.csp,
        "style_text": assets.style_text,
        "script_text": assets.script_text,
    }


def render_html(record: RunRecord | TypedRun) -> str:
    """Render a run as one self-contained HTML page (no network, no external files).

    The output depends only on the record (no clock, no environment), so rendering the same
    run twice gives the same bytes.

    Args:
        record: A run read with :func:`evalkit.store.load_run`.

    Returns:
        The HTML text.

    Raises:
        evalkit.records.RecordError: The record does not match the schema (file, field).
    """
    return template_environment().get_template("run.html").render(**build_context(record))
