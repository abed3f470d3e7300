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
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from evalkit.report._format import (
    MISSING,
    as_dict,
    confidence_label,
    format_ci,
    format_number,
    optional_text,
    text_of,
)
from evalkit.report.html._assets import page_assets, script_json, template_environment
from evalkit.report.html.charts import histogram_svg, results_svg
from evalkit.report.scores import per_sample_scores
from evalkit.store import RunRecord

#: Rows per page of the sample table (the reader can change it on the page).
PAGE_SIZE = 50
#: Retrieved documents shown per query in the sample table.
MAX_RANKING = 10
#: Score histograms drawn (one per task and per-sample score column), the rest are counted.
MAX_HISTOGRAMS = 24


def _references(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [text_of(v) for v in value]
    return [text_of(value)]


def _sort_key(value: Any) -> str:
    """A ``data-sort`` attribute value: the number for numeric cells, empty when absent/NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return repr(float(value)) if math.isfinite(value) else ""


def _duration(start: Any, end: Any) -> str | None:
    """``1 h 2 min 3 s`` between two ISO timestamps, or ``None`` when either is unusable."""
    try:
        t0 = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
        seconds = (t1 - t0).total_seconds()
    except (TypeError, ValueError):
        return None
    if seconds < 0:
        return None
    if seconds < 60:
        return f"{format_number(round(seconds, 1))} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} h " if hours else "") + f"{minutes} min {sec} s"


def _result_row(row: Mapping[str, Any], index: int) -> dict[str, Any]:
    hib = row.get("higher_is_better")
    target = row.get("target")  # values with an ideal point (a preference share: 50)
    return {
        "index": index,
        "task": text_of(row.get("task")),
        "metric": text_of(row.get("metric")),
        "value": format_number(row.get("value")),
        "value_sort": _sort_key(row.get("value")),
        "ci": format_ci(row.get("ci_low"), row.get("ci_high")),
        "ci_sort": _sort_key(row.get("ci_low")),
        "n": format_number(row.get("n")),
        "n_sort": _sort_key(row.get("n")),
        "n_errors": format_number(row.get("n_errors")),
        "n_errors_sort": _sort_key(row.get("n_errors")),
        "has_errors": isinstance(row.get("n_errors"), int) and row.get("n_errors", 0) > 0,
        "direction": (
            f"→{format_number(target)}"
            if target is not None
            else "↑"
            if hib is True
            else "↓"
            if hib is False
            else ""
        ),
        "direction_title": (
            f"closer to {format_number(target)} is better"
            if target is not None
            else "higher is better"
            if hib is True
            else "lower is better"
            if hib is False
            else ""
        ),
        "signature": text_of(row.get("signature")),
        "search": " ".join(text_of(row.get(k)) for k in ("task", "metric", "signature")),
        "raw": row,
    }


def _tasks(record: RunRecord, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-task sections: the header's tasks in order, then any task only seen in rows/samples."""
    declared = [t for t in record.header.get("tasks") or [] if isinstance(t, Mapping)]
    names: list[str] = [text_of(t.get("name")) for t in declared]
    for name in [r["task"] for r in rows] + [text_of(s.get("task")) for s in record.samples]:
        if name not in names:
            names.append(name)
    by_name = {text_of(t.get("name")): t for t in declared}
    sample_counts: dict[str, list[int]] = {}
    for s in record.samples:
        counts = sample_counts.setdefault(text_of(s.get("task")), [0, 0])
        counts[0] += 1
        counts[1] += s.get("error") is not None
    tasks = []
    for i, name in enumerate(names):
        info = by_name.get(name, {})
        dataset = as_dict(info.get("dataset"))
        seen, failed = sample_counts.get(name, [0, 0])
        sha = dataset.get("sha256")
        facts = [
            ("dataset", text_of(dataset.get("path"))),
            ("dataset sha256", text_of(sha)[:16] + "…" if isinstance(sha, str) else MISSING),
            ("dataset size", format_number(dataset.get("n"))),
            ("samples", format_number(info.get("n_samples", seen))),
            ("errors", format_number(info.get("n_errors", failed))),
        ]
        warnings = _warnings(info.get("warnings"))
        tasks.append(
            {
                "anchor": f"task-{i}",
                "name": name,
                "facts": facts,
                "warnings": warnings,
                "n_warned": format_number(sum(count for _, _, count, _ in warnings)),
                "sha256": text_of(sha),
                "rows": [r for r in rows if r["task"] == name],
                "signatures": [
                    (text_of(k), text_of(v)) for k, v in as_dict(info.get("metrics")).items()
                ],
            }
        )
    return tasks


def _warnings(value: Any) -> list[tuple[str, str, int, str]]:
    """A task's warning counts (``{metric key: {message: samples}}`` in results.json) as
    ``(metric key, message, count, formatted count)`` rows, most frequent first.

    >>> _warnings({"rouge": {"dropped letters": 3}, "bleu": {"cjk": 5, "bad": "x"}})
    [('bleu', 'cjk', 5, '5'), ('rouge', 'dropped letters', 3, '3')]
    """
    rows = []
    for key, messages in as_dict(value).items():
        for message, count in as_dict(messages).items():
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                rows.append((text_of(key), text_of(message), count, format_number(count)))
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return rows


def _ranking(value: Any) -> list[list[str]] | None:
    """The top retrieved documents of a retrieval sample as ``[doc id, score]`` texts."""
    if not isinstance(value, (list, tuple)):
        return None
    out = []
    for hit in value[:MAX_RANKING]:
        if isinstance(hit, (list, tuple)) and hit:
            score = hit[1] if len(hit) > 1 else None
            out.append([text_of(hit[0]), format_number(score) if score is not None else ""])
    return out


def _samples_payload(record: RunRecord) -> dict[str, Any]:
    """What the sample table script needs, with the per-sample score columns."""
    columns, scores = per_sample_scores(record)
    samples = []
    has_ranking = False
    for s, own in zip(record.samples, scores, strict=True):
        error = s.get("error")
        item: dict[str, Any] = {
            "task": text_of(s.get("task")),
            "id": text_of(s.get("id")),
            "prompt": optional_text(s.get("prompt")),
            "prediction": optional_text(s.get("prediction")),
            "references": _references(s.get("references")),
            "error": None if error is None else text_of(error),
            "cached": bool(s.get("cached", False)),
            "stats": {c: format_number(own[c]) for c in columns if c in own},
            "v": [own.get(c) for c in columns],
        }
        ranking = _ranking(as_dict(s.get("outputs")).get("ranking"))
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


def _gate_row(gate: Mapping[str, Any]) -> dict[str, Any]:
    """One gate check (:func:`evalkit.gates.check_gates`) as display strings."""
    status = text_of(gate.get("status"))
    label, pill = _GATE_STATUS.get(status, (status, "bad"))
    p, p_adj = gate.get("p_value"), gate.get("p_adjusted")
    return {
        "task": text_of(gate.get("task")),
        "metric": text_of(gate.get("metric")),
        "kind": text_of(gate.get("kind")).replace("_", " "),
        "value": format_number(gate.get("value")),
        # A regression gate's threshold is its significance level.
        "threshold": (
            f"α {format_number(gate.get('threshold'))}"
            if gate.get("kind") == "no_significant_regression"
            else format_number(gate.get("threshold"))
        ),
        "baseline": format_number(gate.get("baseline_value")),
        "p": MISSING if p is None else f"{format_number(p, 3)} / {format_number(p_adj, 3)}",
        "status": label,
        "status_class": pill,
        "failed": status == "fail",
        "message": text_of(gate.get("message")),
        "source": text_of(gate.get("source", "suite")),
    }


def _gates_context(record: RunRecord) -> dict[str, Any]:
    """The gate section: the latest ``evalkit gate`` check of this record, else the run's own.

    ``gates.json`` (written by ``evalkit gate``) wins when it checked this very record; the
    run's ``results.json`` holds the gates checked when the run finished.
    """
    from evalkit.gates import read_gate_check

    check = read_gate_check(record.path, record.header) if record.path else None
    if check is not None:
        gates = check["gates"]
        base = as_dict(check.get("baseline"))
        against = f"against the baseline {text_of(base.get('path'))}" if base else "no baseline"
        source = f"Checked by evalkit gate ({against})."
    else:
        gates = record.header.get("gates") or []
        base = as_dict(record.header.get("baseline"))
        against = f"against the baseline {text_of(base.get('path'))}" if base else "no baseline"
        source = f"Checked when the run finished ({against})."
    rows = [_gate_row(g) for g in gates if isinstance(g, Mapping)]
    n_failed = sum(r["failed"] for r in rows)
    return {
        "gates": rows,
        "gates_source": source,
        "gates_failed": n_failed > 0,
        "n_gates_failed": format_number(n_failed),
    }


def build_context(record: RunRecord) -> dict[str, Any]:
    """Everything the template shows, already formatted as strings.

    Args:
        record: A run read with :func:`evalkit.store.load_run`.

    Returns:
        The template context (plain data; only ``samples_json`` is pre-escaped markup).
    """
    header = record.header
    suite = as_dict(header.get("suite"))
    model = as_dict(header.get("model"))
    boot = as_dict(header.get("bootstrap"))
    status = text_of(header.get("status", "unknown"))
    rows = [_result_row(r, i) for i, r in enumerate(record.results) if isinstance(r, Mapping)]
    suite_name = text_of(suite.get("name", header.get("suite")))
    model_spec = text_of(model.get("spec", header.get("model")))

    run_facts = [
        ("suite", suite_name),
        ("suite file", text_of(suite.get("path"))),
        ("suite fingerprint", text_of(suite.get("fingerprint"))),
        ("model", model_spec),
        ("run id", text_of(header.get("run_id"))),
        ("status", status),
        ("seed", text_of(header.get("seed"))),
        ("created", text_of(header.get("created_at"))),
        ("finished", text_of(header.get("finished_at"))),
    ]
    duration = _duration(header.get("created_at"), header.get("finished_at"))
    if duration is not None:
        run_facts.append(("duration", duration))
    cache = as_dict(header.get("cache"))  # {enabled, hits, misses}, written by the runner
    if isinstance(cache.get("hits"), int) and isinstance(cache.get("misses"), int):
        hits, total = cache["hits"], cache["hits"] + cache["misses"]
        off = "" if cache.get("enabled") else " (cache off)"
        run_facts.append(
            ("from cache", f"{format_number(hits)} of {format_number(total)} samples{off}")
        )
    boot_text = MISSING
    if boot:
        parts = [
            f"{format_number(boot['resamples'])} resamples" if "resamples" in boot else "",
            confidence_label(header).replace("CI", "confidence") if "confidence" in boot else "",
        ]
        parts += [
            f"{k}: {text_of(v)}" for k, v in boot.items() if k not in {"resamples", "confidence"}
        ]
        boot_text = ", ".join(p for p in parts if p) or MISSING
    run_facts.append(("bootstrap", boot_text))
    run_facts.append(("format version", text_of(header.get("format_version"))))

    versions = [("evalkit", text_of(header.get("evalkit_version")))]
    libraries = sorted(as_dict(header.get("versions")).items())
    versions += [(text_of(k), text_of(v)) for k, v in libraries if k != "evalkit"]

    payload = _samples_payload(record)
    n_errors = sum(1 for s in payload["samples"] if s["error"] is not None)
    histograms, hidden_histograms = _histograms(payload)
    ci_label = confidence_label(header)
    tasks = _tasks(record, rows)
    for task in tasks:
        task["chart"] = (
            results_svg([r["raw"] for r in task["rows"]], f"{task['name']}: results", ci_label)
            if task["rows"]
            else None
        )
    assets = page_assets(template_environment(), "run.js")
    gating = _gates_context(record)
    return {
        "title": f"{suite_name} · {model_spec} · evalkit",
        "suite_name": suite_name,
        "model_spec": model_spec,
        "run_id": text_of(header.get("run_id")),
        # A completed run that failed a gate is not a green "completed": the badge says so.
        "status": "gate failed" if status == "completed" and gating["gates_failed"] else status,
        "status_ok": status == "completed" and not gating["gates_failed"],
        "run_ok": status == "completed",
        **gating,
        "run_error": optional_text(header.get("error")),
        "run_facts": run_facts,
        "versions": versions,
        "model_info": [(text_of(k), text_of(v)) for k, v in as_dict(model.get("info")).items()],
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
        "samples_json": script_json(payload),
        "page_size": PAGE_SIZE,
        "csp": assets.csp,
        "style_text": assets.style_text,
        "script_text": assets.script_text,
    }


def render_html(record: RunRecord) -> str:
    """Render a run as one self-contained HTML page (no network, no external files).

    The output depends only on the record (no clock, no environment), so rendering the same
    run twice gives the same bytes.

    Args:
        record: A run read with :func:`evalkit.store.load_run`.

    Returns:
        The HTML text.
    """
    return template_environment().get_template("run.html").render(**build_context(record))
