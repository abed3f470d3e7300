"""Inline SVG charts for the run report: metric values with CI whiskers, score histograms.

Charts are written here, in Python, as SVG elements inside the page, so they render without
JavaScript and without any library or network access. Every label goes through
:func:`markupsafe.escape`; numbers are formatted by :func:`evalkit.report._format.format_number`.
The checkpoint-series trend chart of the comparison report is
:func:`evalkit.report.html.trend.trend_svg`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from evalkit.records import ResultRow
from evalkit.report._format import format_ci, format_number, format_tick, nice_range, nice_step

#: Bins of a score histogram (fewer when a metric takes fewer distinct values).
HISTOGRAM_BINS = 20
#: At most this many distinct (repeated) values get one bar each instead of bins.
DISCRETE_MAX = 5

_LABEL_CHARS = 22


def _n(x: float) -> str:
    """An SVG coordinate: one decimal, no ``-0.0``.

    >>> _n(-0.04), _n(12.345)
    ('0.0', '12.3')
    """
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _short(label: str, limit: int = _LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def value_domain(values: Sequence[float]) -> tuple[float, float]:
    """The x range of a bar: from zero (a bar's length is its value) to round ends just beyond
    the numbers, so a fraction of 0.02 is not a sliver on [0, 1] and a perplexity of 137 is not
    squeezed onto a fixed [0, 100] scale.

    >>> value_domain([0.3, 0.45]), value_domain([31.2, 40.0]), value_domain([120.0, 137.0])
    ((0.0, 0.5), (0.0, 40.0), (0.0, 150.0))
    >>> value_domain([-2.0, 1.0]), value_domain([0.02, 0.031]), value_domain([0.0])
    ((-2.0, 1.0), (0.0, 0.04), (0.0, 1.0))
    """
    lo, hi = min(min(values), 0.0), max(max(values), 0.0)
    if hi - lo <= 0:
        return 0.0, 1.0
    low, high, _ = nice_range(lo, hi, target=5)
    return low, high


def results_svg(rows: Sequence[ResultRow], title: str, ci_label: str = "95% CI") -> Markup:
    """One horizontal bar per result row, with its confidence interval as a whisker.

    Each bar has its own scale (see :func:`value_domain`; the ends are labelled), because one
    task's metrics need not share units (BLEU in 0-100 next to a fraction, a perplexity).

    Args:
        rows: Result rows (``metric``, ``value``, ``ci_low``, ``ci_high``,
            ``higher_is_better``).
        title: The chart's accessible title.
        ci_label: How the interval is named in tooltips.

    Returns:
        The ``<svg>`` element, marked safe.

    >>> row = ResultRow(task="t", metric="<b>", value=0.5, ci_low=0.4, ci_high=0.6, n=4,
    ...                 n_errors=0, higher_is_better=True, signature="s")
    >>> svg = results_svg([row], "t")
    >>> svg.count('class="bar"'), svg.count('class="whisker"'), "<b>" in svg
    (1, 1, False)
    """
    row_h, top, left, right, width = 30, 8, 170, 90, 640
    plot_w = width - left - right
    height = top + row_h * max(1, len(rows)) + 8
    out = [
        f'<svg class="chart-svg results-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, row in enumerate(rows):
        y = top + i * row_h
        metric = row.metric
        arrow = " ↑" if row.higher_is_better else " ↓"
        out.append(
            f'<text class="label" x="{left - 8}" y="{_n(y + 15)}" text-anchor="end">'
            f"{escape(_short(metric) + arrow)}<title>{escape(metric)}</title></text>"
        )
        value = _finite(row.value)
        low, high = _finite(row.ci_low), _finite(row.ci_high)
        known = [v for v in (value, low, high) if v is not None]
        out.append(
            f'<rect class="bar-bg" x="{left}" y="{_n(y + 5)}" width="{plot_w}" height="14"/>'
        )
        if not known:
            out.append(f'<text x="{left + 6}" y="{_n(y + 16)}">no value</text>')
            continue
        lo, hi = value_domain(known)

        def x_of(v: float, lo: float = lo, hi: float = hi) -> float:
            return left + (v - lo) / (hi - lo) * plot_w

        tip = f"{metric}: {format_number(row.value)}"
        if low is not None or high is not None:
            tip += f" ({ci_label} {format_ci(row.ci_low, row.ci_high)})"
        if value is not None:
            x0, x1 = sorted((x_of(max(lo, min(0.0, hi))), x_of(value)))
            out.append(
                f'<rect class="bar" x="{_n(x0)}" y="{_n(y + 5)}" width="{_n(max(x1 - x0, 1.0))}" '
                f'height="14"><title>{escape(tip)}</title></rect>'
            )
        if low is not None and high is not None:
            xl, xh, yc = x_of(low), x_of(high), y + 12
            out.append(
                f'<path class="whisker" d="M{_n(xl)},{_n(yc)} H{_n(xh)} M{_n(xl)},{_n(yc - 6)} '
                f'V{_n(yc + 6)} M{_n(xh)},{_n(yc - 6)} V{_n(yc + 6)}">'
                f"<title>{escape(tip)}</title></path>"
            )
        out.append(
            f'<text x="{left}" y="{_n(y + 29)}" font-size="9">{escape(format_number(lo))}</text>'
            f'<text x="{left + plot_w}" y="{_n(y + 29)}" font-size="9" text-anchor="end">'
            f"{escape(format_number(hi))}</text>"
            f'<text class="label" x="{left + plot_w + 8}" y="{_n(y + 16)}">'
            f"{escape(format_number(row.value))}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def histogram(
    values: Sequence[float], bins: int = HISTOGRAM_BINS
) -> list[tuple[float, float, int]]:
    """Bins ``(low, high, count)`` over the finite values, with round edges; the last is closed.

    The bin width is a 1-2-2.5-5 step (:func:`evalkit.report._format.nice_step`) giving about
    ``bins`` bins, and the edges are its multiples, so they read as round numbers (0.05, 0.10,
    ...; 20, 30, ... for perplexities of 26 to 137) and the bins span only the data. A metric
    that takes few distinct values (exact match: 0 or 1) gets one bin per value.

    >>> histogram([0.0, 1.0, 1.0, 0.0, 1.0])
    [(0.0, 0.0, 2), (1.0, 1.0, 3)]
    >>> [c for _, _, c in histogram([0.0, 0.1, 0.2, 0.9, 1.0], bins=2)]
    [3, 2]
    >>> [(lo, hi) for lo, hi, _ in histogram([26.0, 61.0, 137.0], bins=20)][:2]
    [(20.0, 30.0), (30.0, 40.0)]
    """
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return []
    distinct = sorted(set(finite))
    # A handful of values, each seen twice on average (0/1 of exact match, a pass/fail score),
    # reads best as one bar per value; anything more varied is binned on a linear axis.
    if len(distinct) <= min(bins, DISCRETE_MAX) and len(finite) >= 2 * len(distinct):
        return [(v, v, finite.count(v)) for v in distinct]
    lo, hi = finite[0], finite[-1]
    if hi == lo:
        return [(lo, hi, len(finite))]
    step = nice_step(hi - lo, bins)
    start = math.floor(lo / step + 1e-9) * step
    n_bins = max(1, math.ceil((hi - start) / step - 1e-9))
    counts = [0] * n_bins
    for v in finite:
        counts[min(math.floor((v - start) / step + 1e-9), n_bins - 1)] += 1
    edges = [round(start + i * step, 12) + 0.0 for i in range(n_bins + 1)]
    return [(edges[i], edges[i + 1], c) for i, c in enumerate(counts)]


def _count_ticks(peak: int) -> list[int]:
    """Whole-number y ticks from 0 to at least ``peak``.

    >>> _count_ticks(7), _count_ticks(1), _count_ticks(10)
    ([0, 2, 4, 6, 8], [0, 1], [0, 3, 6, 9, 12])
    """
    step = max(1, math.ceil(nice_step(peak, 4)))
    top = math.ceil(peak / step) * step
    return list(range(0, top + 1, step))


def histogram_svg(values: Sequence[float], title: str, x_label: str = "per-sample score") -> Markup:
    """A histogram of per-sample values: numeric axes, counts on the bars, the mean dashed.

    The x axis spans the bins (round edges around the data, see :func:`histogram`) with round
    ticks written at the precision of their step; the y axis counts samples in whole numbers.
    Each bar carries its count (when it fits) and a tooltip with its bin and count.

    Args:
        values: One value per scored sample (non-finite values are left out and counted).
        title: The chart's accessible title.
        x_label: The name of the x axis (the score column).

    Returns:
        The ``<svg>`` element, marked safe.

    >>> svg = histogram_svg([0.0, 0.0, 0.5, 0.5, 1.0, 1.0, float("nan")], "f1 <x>")
    >>> svg.count('class="bar"'), 'class="mean"' in svg, "<x>" in svg
    (3, True, False)
    """
    width, height, left, right, top, bottom = 400, 232, 50, 14, 22, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v for v in values if math.isfinite(v)]
    bins = histogram(finite)
    out = [
        f'<svg class="chart-svg histogram" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not bins:
        out.append(
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle">no values</text>'
        )
        out.append("</svg>")
        return Markup("".join(out))
    axis_y = top + plot_h
    ticks = _count_ticks(max(c for _, _, c in bins))
    y_top = ticks[-1]

    def y_of(count: float) -> float:
        return axis_y - count / y_top * plot_h

    for tick in ticks:
        out.append(
            f'<line class="grid" x1="{left}" y1="{_n(y_of(tick))}" x2="{left + plot_w}" '
            f'y2="{_n(y_of(tick))}"/><text class="tick" x="{left - 5}" y="{_n(y_of(tick) + 4)}" '
            f'text-anchor="end">{escape(format_number(tick))}</text>'
        )
    discrete = all(lo == hi for lo, hi, _ in bins)
    mean = sum(finite) / len(finite)
    if discrete:
        out.extend(_discrete_bars(bins, left, plot_w, axis_y, y_of))
        x_mean = _discrete_position(bins, mean, left, plot_w)
    else:
        out.extend(_binned_bars(bins, left, plot_w, axis_y, y_of))
        lo_all, hi_all = bins[0][0], bins[-1][1]
        x_mean = left + (mean - lo_all) / (hi_all - lo_all) * plot_w
    out.append(
        f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}"/>'
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}"/>'
        f'<line class="mean" x1="{_n(x_mean)}" y1="{top}" x2="{_n(x_mean)}" y2="{axis_y}">'
        f"<title>{escape(f'mean {format_number(mean)}')}</title></line>"
        f'<text class="axis-title" x="{_n(left + plot_w / 2)}" y="{axis_y + 34}" '
        f'text-anchor="middle">{escape(_short(x_label, 40))}<title>{escape(x_label)}</title>'
        f"</text>"
        f'<text class="axis-title" transform="translate(13 {_n(top + plot_h / 2)}) rotate(-90)" '
        f'text-anchor="middle">samples</text>'
    )
    left_out = len(values) - len(finite)
    note = f"n = {format_number(len(finite))} · mean {format_number(mean)}"
    if left_out:
        note += f" · {format_number(left_out)} undefined"
    out.append(
        f'<text class="label" x="{left + plot_w}" y="{top - 8}" text-anchor="end">'
        f"{escape(note)}</text></svg>"
    )
    return Markup("".join(out))


def _bar(x: float, w: float, y: float, axis_y: float, count: int, tip: str) -> str:
    """One histogram bar with its tooltip, and its count above it when the count fits."""
    text = f'<rect class="bar" x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 1.0))}" '
    text += f'height="{_n(axis_y - y)}"><title>{escape(tip)}</title></rect>'
    label = format_number(count)
    # About 5.5 units per digit at the chart's 9-unit count font: skip counts that would touch.
    if count and len(label) * 5.5 <= w + 1:
        text += (
            f'<text class="count" x="{_n(x + w / 2)}" y="{_n(y - 3)}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return text


def _samples(count: int) -> str:
    return f"{format_number(count)} sample{'s' if count != 1 else ''}"


def _binned_bars(
    bins: Sequence[tuple[float, float, int]],
    left: float,
    plot_w: float,
    axis_y: float,
    y_of: Any,
) -> list[str]:
    """Bars on a linear x axis over the bin edges, with round tick labels under it."""
    lo_all, hi_all = bins[0][0], bins[-1][1]
    step = bins[0][1] - bins[0][0]

    def x_of(v: float) -> float:
        return left + (v - lo_all) / (hi_all - lo_all) * plot_w

    out = []
    for i, (lo, hi, count) in enumerate(bins):
        close = "]" if i == len(bins) - 1 else ")"
        tip = f"[{format_tick(lo, step)}, {format_tick(hi, step)}{close}: {_samples(count)}"
        x0, x1 = x_of(lo), x_of(hi)
        out.append(_bar(x0 + 0.5, x1 - x0 - 1, y_of(count), axis_y, count, tip))
    tick_step = nice_step(hi_all - lo_all, 5)
    tick = math.ceil(lo_all / tick_step - 1e-9) * tick_step
    while tick <= hi_all + tick_step * 1e-9:
        x = x_of(tick)
        out.append(
            f'<line class="tick-mark" x1="{_n(x)}" y1="{axis_y}" x2="{_n(x)}" '
            f'y2="{axis_y + 4}"/><text class="tick" x="{_n(x)}" y="{axis_y + 15}" '
            f'text-anchor="middle">{escape(format_tick(tick, tick_step))}</text>'
        )
        tick += tick_step
    return out


def _discrete_bars(
    bins: Sequence[tuple[float, float, int]],
    left: float,
    plot_w: float,
    axis_y: float,
    y_of: Any,
) -> list[str]:
    """One bar per distinct value in equal slots, each labelled with its value."""
    slot = plot_w / len(bins)
    out = []
    for i, (value, _, count) in enumerate(bins):
        x = left + i * slot
        tip = f"{format_number(value)}: {_samples(count)}"
        bar_w = min(slot * 0.7, 48.0)  # a lone value is a bar, not a block
        out.append(_bar(x + (slot - bar_w) / 2, bar_w, y_of(count), axis_y, count, tip))
        out.append(
            f'<text class="tick" x="{_n(x + slot / 2)}" y="{axis_y + 15}" text-anchor="middle">'
            f"{escape(_short(format_number(value), 10))}</text>"
        )
    return out


def _discrete_position(
    bins: Sequence[tuple[float, float, int]], mean: float, left: float, plot_w: float
) -> float:
    """The x of ``mean`` between the equal slots of discrete values (interpolated)."""
    slot = plot_w / len(bins)
    values_at = [lo for lo, _, _ in bins]
    pos = 0.0
    for j in range(len(values_at) - 1):
        a, b = values_at[j], values_at[j + 1]
        if a <= mean <= b:
            pos = j + (mean - a) / (b - a)
            break
    return left + (pos + 0.5) * slot


# --- forest plot of a comparison -------------------------------------------------------------

#: The verdicts a forest-plot row can carry, and the marker each is drawn with.
FOREST_MARKERS = {
    "improved": "triangle-up",
    "regressed": "triangle-down",
    "no significant change": "circle",
    "not tested": "diamond",
}


def _marker(kind: str, x: float, y: float, tip: str) -> str:
    """The point of a forest-plot row: its shape and colour class name its verdict."""
    cls = f'class="forest-point {kind.replace(" ", "-")}"'
    title = f"<title>{escape(tip)}</title>"
    shapes = {
        "improved": [(0, -6), (6, 5), (-6, 5)],
        "regressed": [(0, 6), (6, -5), (-6, -5)],
        "not tested": [(0, -6), (6, 0), (0, 6), (-6, 0)],
    }
    if kind not in shapes:
        return f'<circle {cls} cx="{_n(x)}" cy="{_n(y)}" r="4.5">{title}</circle>'
    d = " L".join(f"{_n(x + dx)},{_n(y + dy)}" for dx, dy in shapes[kind])
    return f'<path {cls} d="M{d} Z">{title}</path>'


def _half_width(values: Sequence[float]) -> tuple[float, float]:
    """A round half-width of a row's symmetric scale around 0, and its tick step.

    >>> _half_width([-65.4, -79.7, -52.3]), _half_width([0.0]), _half_width([0.013])
    ((80.0, 20.0), (1.0, 0.5), (0.015, 0.005))
    """
    biggest = max((abs(v) for v in values), default=0.0)
    if biggest <= 0:
        return 1.0, 0.5
    step = nice_step(biggest, 4)
    return math.ceil(biggest / step - 1e-9) * step, step


def forest_svg(rows: Sequence[Mapping[str, Any]], title: str, ci_label: str = "95% CI") -> Markup:
    """A forest plot: one row per compared value, its difference as a point, its interval as
    a line, and one vertical zero line through every row.

    Metrics do not share units (a BLEU difference of -65 next to an exact-match difference of
    -0.25), so each row has its own scale, symmetric around 0 with round ends labelled under
    the row: the zero line is common to all rows, and a row whose line does not cross it is a
    difference whose interval excludes 0. The marker names the verdict in shape and colour
    (▲ improved, ▼ regressed, ● no significant change, ◇ not tested); a row without an
    interval (not tested) shows its point only.

    Args:
        rows: One mapping per row: ``label`` (what was compared), ``delta``, ``ci_low``,
            ``ci_high``, ``verdict`` (a key of :data:`FOREST_MARKERS`), ``text`` (the
            right-hand summary) and optional ``tip`` (the tooltip).
        title: The chart's accessible title.
        ci_label: How the interval is named in the column heading.

    Returns:
        The ``<svg>`` element, marked safe.

    >>> svg = forest_svg([{"label": "qa · em <b>", "delta": -0.25, "ci_low": -0.5,
    ...     "ci_high": -0.06, "verdict": "regressed", "text": "Δ -0.25"},
    ...     {"label": "digits · kid", "delta": 0.0, "ci_low": None, "ci_high": None,
    ...      "verdict": "not tested", "text": "not tested"}], "t")
    >>> svg.count('class="forest-row"'), svg.count('class="forest-ci"'), "<b>" in svg
    (2, 1, False)
    """
    width, row_h, head = 1060, 32, 34
    label_x, plot_x0, plot_x1, text_x = 250, 266, 616, 636
    plot_w, zero_x = plot_x1 - plot_x0, (plot_x0 + plot_x1) / 2
    height = head + row_h * max(1, len(rows)) + 8
    out = [
        f'<svg class="chart-svg forest" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text class="axis-title" x="{label_x}" y="13" text-anchor="end">task · metric</text>',
        f'<text class="axis-title" x="{_n(zero_x)}" y="13" text-anchor="middle">'
        f"Δ = B − A and its {escape(ci_label)}</text>",
        f'<text class="axis-title" x="{text_x}" y="13">Δ [{escape(ci_label)}] · verdict</text>',
    ]
    for i, row in enumerate(rows):
        y = head + i * row_h
        yc = y + 12
        verdict = str(row.get("verdict", "no significant change"))
        kind = verdict if verdict in FOREST_MARKERS else "no significant change"
        label = str(row.get("label", ""))
        text = str(row.get("text", ""))
        tip = str(row.get("tip", f"{label}: {text}"))
        out.append(f'<g class="forest-row" data-verdict="{escape(kind)}">')
        out.append(f'<rect class="forest-band" x="0" y="{y}" width="{width}" height="{row_h}"/>')
        out.append(
            f'<text class="label" x="{label_x}" y="{_n(yc + 4)}" text-anchor="end">'
            f"{escape(_short(label, 38))}<title>{escape(label)}</title></text>"
        )
        delta = _finite(row.get("delta"))
        low, high = _finite(row.get("ci_low")), _finite(row.get("ci_high"))
        has_ci = low is not None and high is not None and kind != "not tested"
        ends = (low, high) if has_ci else ()
        known = [v for v in (delta, *ends) if v is not None]
        half, step = _half_width(known)

        def x_of(v: float, half: float = half) -> float:
            return zero_x + v / half * plot_w / 2

        out.append(
            f'<line class="forest-axis" x1="{plot_x0}" y1="{yc}" x2="{plot_x1}" y2="{yc}"/>'
            f'<text class="tick" x="{plot_x0}" y="{y + row_h - 2}" font-size="9">'
            f"{escape(format_tick(-half, step))}</text>"
            f'<text class="tick" x="{plot_x1}" y="{y + row_h - 2}" font-size="9" '
            f'text-anchor="end">{escape(format_tick(half, step))}</text>'
        )
        if has_ci:
            assert low is not None and high is not None  # narrowed by has_ci
            xl, xh = x_of(low), x_of(high)
            out.append(
                f'<path class="forest-ci" d="M{_n(xl)},{yc} H{_n(xh)} M{_n(xl)},{yc - 5} '
                f'V{yc + 5} M{_n(xh)},{yc - 5} V{yc + 5}"><title>{escape(tip)}</title></path>'
            )
        if delta is not None:
            out.append(_marker(kind, x_of(delta), yc, tip))
        else:
            out.append(
                f'<text class="placeholder" x="{_n(zero_x + 8)}" y="{yc + 4}">no value</text>'
            )
        out.append(
            f'<text class="forest-text {escape(kind.replace(" ", "-"))}" x="{text_x}" '
            f'y="{yc + 4}">{escape(_short(text, 66))}<title>{escape(tip)}</title></text></g>'
        )
    bottom = head + row_h * max(1, len(rows))
    out.append(
        f'<line class="forest-zero" x1="{_n(zero_x)}" y1="{head}" x2="{_n(zero_x)}" '
        f'y2="{bottom}"/><text class="tick" x="{_n(zero_x)}" y="{head - 3}" '
        f'text-anchor="middle">0</text></svg>'
    )
    return Markup("".join(out))
