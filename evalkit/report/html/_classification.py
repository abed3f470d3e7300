"""The run page's classification views: confusion matrix, per-class table, reliability diagram.

Everything comes from the record: a task's ``metric_params`` rebuild the ``f1``/``accuracy``
and ``calibration`` metrics (no model, no data files), and the sample lines' statistics
(``[reference, prediction]`` label pairs; ``[confidence, correct]`` pairs) give the counts and
bins, so the views agree with the reported values. The output is one HTML fragment per task
(tables and an inline SVG that use the page's classes only: no ``style`` attributes, no URLs,
so the page's hash-based Content-Security-Policy holds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from evalkit.errors import EvalkitError
from evalkit.metrics.classification.calibration import Bin, Calibration
from evalkit.metrics.classification.labels import (
    F1,
    class_counts,
    confusion_matrix,
    precision_recall_f1,
)
from evalkit.records import TaskInfo
from evalkit.report._format import format_number
from evalkit.report._record import TypedRun

__all__ = ["classification_html", "reliability_svg"]

#: At most this many classes get a confusion matrix (a wider one is unreadable on a page).
MAX_CLASSES = 30


def _stats(record: TypedRun, task: str, key: str) -> list[Any]:
    """The statistics of metric ``key`` from the task's scored sample lines."""
    return [
        s.stats[key]
        for s in record.samples_for(task)
        if s.error is None and isinstance(s.stats, dict) and key in s.stats
    ]


def _label_order(pairs: Sequence[Any], declared: Sequence[str] | None) -> list[str]:
    """The declared labels in order, then every other seen label (sorted), so none is hidden."""
    seen = sorted({str(x) for pair in pairs for x in pair})
    first = list(declared or [])
    return first + [x for x in seen if x not in first]


def _confusion_html(task: str, pairs: Sequence[Any], labels: list[str], zd: float) -> str:
    names, matrix = confusion_matrix(pairs, labels)
    head = "".join(f'<th class="num" scope="col">{escape(n)}</th>' for n in names)
    rows = []
    for i, (name, row) in enumerate(zip(names, matrix, strict=True)):
        cells = "".join(
            f'<td class="num"><strong>{escape(format_number(c))}</strong></td>'
            if i == j
            else f'<td class="num">{escape(format_number(c))}</td>'
            for j, c in enumerate(row)
        )
        rows.append(f'<tr><th scope="row">{escape(name)}</th>{cells}</tr>')
    counts = class_counts(pairs, labels)
    precision, recall, f1 = precision_recall_f1(counts, None, zd)
    per_class = "".join(
        f'<tr><td>{escape(n)}</td><td class="num">{escape(format_number(float(p)))}</td>'
        f'<td class="num">{escape(format_number(float(r)))}</td>'
        f'<td class="num">{escape(format_number(float(f)))}</td>'
        f'<td class="num">{escape(format_number(int(s)))}</td></tr>'
        for n, p, r, f, s in zip(names, precision, recall, f1, counts.support, strict=True)
    )
    return (
        f'<div class="classification" data-task="{escape(task)}">'
        f"<h4>Confusion matrix ({escape(format_number(len(pairs)))} scored samples)</h4>"
        '<p class="muted">Rows: reference label; columns: predicted label; the diagonal '
        "(bold) counts right answers.</p>"
        '<div class="table-wrap"><table class="confusion-matrix">'
        f'<thead><tr><th scope="col">reference \\ predicted</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        "<h4>Per class</h4>"
        '<div class="table-wrap"><table class="per-class">'
        '<thead><tr><th>class</th><th class="num">precision</th><th class="num">recall</th>'
        '<th class="num">F1</th><th class="num">support</th></tr></thead>'
        f"<tbody>{per_class}</tbody></table></div></div>"
    )


def _n(x: float) -> str:
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def reliability_svg(bins: Sequence[Bin], title: str, note: str) -> Markup:
    """A reliability diagram: each bin's accuracy as a bar over its confidence range.

    The dashed diagonal is perfect calibration; a tick in each bar marks the bin's mean
    confidence, so the gap between tick and bar top is the bin's calibration gap. Each bar's
    tooltip gives its range, count, accuracy and mean confidence.

    >>> from evalkit.metrics.classification.calibration import reliability_bins
    >>> svg = reliability_svg(reliability_bins([0.2, 0.9, 0.95], [0, 1, 1], n_bins=4), "t<", "")
    >>> svg.count('class="bar"'), "t<" in svg
    (2, False)
    """
    width, height, left, right, top, bottom = 400, 300, 50, 14, 22, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    axis_y = top + plot_h

    def x_of(v: float) -> float:
        return left + v * plot_w

    def y_of(v: float) -> float:
        return axis_y - v * plot_h

    out = [
        f'<svg class="chart-svg histogram reliability" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        label = escape(format_number(tick))
        out.append(
            f'<line class="grid" x1="{left}" y1="{_n(y_of(tick))}" x2="{left + plot_w}" '
            f'y2="{_n(y_of(tick))}"/><text class="tick" x="{left - 5}" '
            f'y="{_n(y_of(tick) + 4)}" text-anchor="end">{label}</text>'
            f'<text class="tick" x="{_n(x_of(tick))}" y="{axis_y + 16}" '
            f'text-anchor="middle">{label}</text>'
        )
    for b in bins:
        if not b.n:
            continue
        x0, x1 = x_of(b.low), x_of(b.high)
        w = max(x1 - x0 - 1.0, 2.0)
        interval = f"[{format_number(b.low)}, {format_number(b.high)}]"
        tip = (
            f"confidence {interval}: {format_number(b.n)} samples, accuracy "
            f"{format_number(b.accuracy)}, mean confidence {format_number(b.mean_confidence)}"
        )
        y_acc = y_of(b.accuracy)
        out.append(
            f'<rect class="bar" x="{_n(x0 + 0.5)}" y="{_n(y_acc)}" width="{_n(w)}" '
            f'height="{_n(axis_y - y_acc)}"><title>{escape(tip)}</title></rect>'
            f'<line class="whisker" x1="{_n(x0 + 0.5)}" y1="{_n(y_of(b.mean_confidence))}" '
            f'x2="{_n(x0 + 0.5 + w)}" y2="{_n(y_of(b.mean_confidence))}"/>'
        )
    out.append(
        f'<line class="mean" x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{top}">'
        "<title>perfect calibration</title></line>"
        f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}"/>'
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}"/>'
        f'<text class="axis-title" x="{_n(left + plot_w / 2)}" y="{axis_y + 36}" '
        'text-anchor="middle">confidence</text>'
        f'<text class="axis-title" transform="translate(13 {_n(top + plot_h / 2)}) rotate(-90)" '
        'text-anchor="middle">accuracy</text>'
        f'<text class="label" x="{left + plot_w}" y="{top - 8}" text-anchor="end">'
        f"{escape(note)}</text></svg>"
    )
    return Markup("".join(out))


def _calibration_html(task: str, key: str, params: dict[str, Any], stats: list[Any]) -> str:
    from evalkit.registry import METRICS

    try:
        metric = METRICS.get(key).rebuild(params)
    except EvalkitError:  # a record of another evalkit version: leave the diagram out
        return ""
    if not isinstance(metric, Calibration):
        return ""
    bins = metric.bins(stats)
    values = metric.aggregate(stats)
    p = metric.p
    settings = f"{p.binning}, {p.n_bins} bins, {p.norm}, edge {metric.edge}"
    ece, brier = values["ece"], values["brier"]
    note = f"ECE {format_number(ece) if math.isfinite(ece) else '—'} · n = {len(stats)}"
    svg = reliability_svg(bins, f"{task}: reliability diagram ({settings})", note)
    return (
        f'<div class="classification" data-task="{escape(task)}">'
        f"<h4>Reliability diagram: {escape(key)} ({escape(settings)})</h4>"
        f'<p class="muted">Bars: accuracy per confidence bin; ticks: the bin\'s mean '
        f"confidence; dashed: perfect calibration. Brier score "
        f"{escape(format_number(brier))}.</p>"
        f'<figure class="chart">{svg}</figure></div>'
    )


def classification_html(record: TypedRun, info: TaskInfo | None) -> Markup:
    """The classification views of one task (empty when it has no such metric).

    Args:
        record: The typed run record.
        info: The task's entry of ``results.json`` (its metric parameters).

    Returns:
        An HTML fragment, marked safe (every text in it is escaped).
    """
    if info is None:
        return Markup("")
    parts = []
    label_key = next((k for k in ("f1", "accuracy") if k in info.metric_params), None)
    if label_key is not None:
        pairs = _stats(record, info.name, label_key)
        declared: tuple[str, ...] | None = None
        zd = 0.0
        if label_key == "f1":
            try:
                f1 = F1(**info.metric_params["f1"])
            except EvalkitError:  # a record of another evalkit version
                f1 = None
            if f1 is not None:
                declared, zd = f1.labels, f1.p.zero_division
        labels = _label_order(pairs, declared)
        if pairs and len(labels) <= MAX_CLASSES:
            parts.append(_confusion_html(info.name, pairs, labels, zd))
    for key in ("calibration", "choice_calibration"):  # confidences given, or from choices
        if key in info.metric_params:
            stats = _stats(record, info.name, key)
            if stats:
                parts.append(_calibration_html(info.name, key, info.metric_params[key], stats))
    return Markup("".join(parts))
