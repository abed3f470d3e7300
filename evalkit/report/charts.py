"""Inline SVG charts for the run report: metric values with CI whiskers, score histograms.

Charts are written here, in Python, as SVG elements inside the page, so they render without
JavaScript and without any library or network access. Every label goes through
:func:`markupsafe.escape`; numbers are formatted by :func:`evalkit.report._format.format_number`.
The checkpoint-series trend chart of the comparison report is
:func:`evalkit.report.compare_html.trend_svg`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from evalkit.report._format import format_ci, format_number

#: Bins of a score histogram (fewer when a metric takes fewer distinct values).
HISTOGRAM_BINS = 20

_LABEL_CHARS = 22


def _n(x: float) -> str:
    """An SVG coordinate: one decimal, no ``-0.0``.

    >>> _n(-0.04), _n(12.345)
    ('0.0', '12.3')
    """
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _short(label: str, limit: int = _LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def value_domain(values: Sequence[float]) -> tuple[float, float]:
    """The x range of a bar: ``[0, 1]`` or ``[0, 100]`` when the numbers fit (the usual scales
    of fractions and of sacrebleu-style scores), else from ``min(0, lowest)`` to the highest
    number plus 10% of the range.

    >>> value_domain([0.3, 0.45]), value_domain([31.2, 40.0]), value_domain([120.0])
    ((0.0, 1.0), (0.0, 100.0), (0.0, 132.0))
    >>> value_domain([-2.0, 1.0])
    (-2.3, 1.3)
    """
    lo, hi = min(values), max(values)
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    if lo >= 0 and hi <= 100:
        return 0.0, 100.0
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = (hi - lo) or 1.0
    return (lo - 0.1 * span if lo < 0 else 0.0), (hi + 0.1 * span if hi > 0 else 0.0)


def results_svg(rows: Sequence[Mapping[str, Any]], title: str, ci_label: str = "95% CI") -> Markup:
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

    >>> svg = results_svg([{"metric": "<b>", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6}], "t")
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
        metric = str(row.get("metric", ""))
        hib = row.get("higher_is_better")
        arrow = " ↑" if hib is True else " ↓" if hib is False else ""
        out.append(
            f'<text class="label" x="{left - 8}" y="{_n(y + 15)}" text-anchor="end">'
            f"{escape(_short(metric) + arrow)}<title>{escape(metric)}</title></text>"
        )
        value = _finite(row.get("value"))
        low, high = _finite(row.get("ci_low")), _finite(row.get("ci_high"))
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

        tip = f"{metric}: {format_number(row.get('value'))}"
        if low is not None or high is not None:
            tip += f" ({ci_label} {format_ci(row.get('ci_low'), row.get('ci_high'))})"
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
            f"{escape(format_number(row.get('value')))}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def histogram(
    values: Sequence[float], bins: int = HISTOGRAM_BINS
) -> list[tuple[float, float, int]]:
    """Equal-width bins ``(low, high, count)`` over the finite values; the last bin is closed.

    A metric that takes few distinct values (exact match: 0 or 1) gets one bin per value.

    >>> histogram([0.0, 1.0, 1.0])
    [(0.0, 0.0, 1), (1.0, 1.0, 2)]
    >>> [c for _, _, c in histogram([0.0, 0.1, 0.2, 0.9, 1.0], bins=2)]
    [3, 2]
    """
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return []
    distinct = sorted(set(finite))
    if len(distinct) <= min(bins, 12) and len(distinct) < len(finite):
        return [(v, v, finite.count(v)) for v in distinct]
    lo, hi = finite[0], finite[-1]
    if hi == lo:
        return [(lo, hi, len(finite))]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in finite:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return [(lo + i * width, lo + (i + 1) * width, c) for i, c in enumerate(counts)]


def histogram_svg(values: Sequence[float], title: str) -> Markup:
    """A histogram of per-sample values with the mean marked (dashed line).

    Args:
        values: One value per scored sample (non-finite values are left out and counted).
        title: The chart's accessible title.

    Returns:
        The ``<svg>`` element, marked safe.

    >>> svg = histogram_svg([0.0, 0.5, 0.5, 1.0, float("nan")], "f1 <x>")
    >>> svg.count('class="bar"'), 'class="mean"' in svg, "<x>" in svg
    (3, True, False)
    """
    width, height, left, right, top, bottom = 360, 170, 44, 10, 10, 40
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
    peak = max(c for _, _, c in bins)
    discrete = all(lo == hi for lo, hi, _ in bins)
    slot = plot_w / len(bins)
    lo_all, hi_all = bins[0][0], bins[-1][1]
    for i, (lo, hi, count) in enumerate(bins):
        h = count / peak * plot_h
        x = left + i * slot
        span = format_number(lo) if discrete else f"[{format_number(lo)}, {format_number(hi)}]"
        tip = f"{span}: {format_number(count)} sample{'s' if count != 1 else ''}"
        out.append(
            f'<rect class="bar" x="{_n(x + 1)}" y="{_n(top + plot_h - h)}" '
            f'width="{_n(max(slot - 2, 1.0))}" height="{_n(h)}"><title>{escape(tip)}</title></rect>'
        )
        if discrete:
            out.append(
                f'<text x="{_n(x + slot / 2)}" y="{top + plot_h + 14}" text-anchor="middle">'
                f"{escape(_short(format_number(lo), 10))}</text>"
            )
    axis_y = top + plot_h
    out.append(
        f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}"/>'
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{escape(format_number(peak))}</text>'
        f'<text x="{left - 4}" y="{axis_y}" text-anchor="end">0</text>'
    )
    if not discrete:
        out.append(
            f'<text x="{left}" y="{axis_y + 14}">{escape(format_number(lo_all))}</text>'
            f'<text x="{width - right}" y="{axis_y + 14}" text-anchor="end">'
            f"{escape(format_number(hi_all))}</text>"
        )
    mean = sum(finite) / len(finite)
    if discrete:
        # Place the mean between the discrete slots by interpolating between their values.
        values_at = [lo for lo, _, _ in bins]
        pos = 0.0
        if len(values_at) > 1 and values_at[-1] > values_at[0]:
            for j in range(len(values_at) - 1):
                a, b = values_at[j], values_at[j + 1]
                if a <= mean <= b:
                    pos = j + (mean - a) / (b - a)
                    break
        x_mean = left + (pos + 0.5) * slot
    else:
        x_mean = left + (mean - lo_all) / (hi_all - lo_all) * plot_w
    out.append(
        f'<line class="mean" x1="{_n(x_mean)}" y1="{top}" x2="{_n(x_mean)}" y2="{axis_y}">'
        f"<title>{escape(f'mean {format_number(mean)}')}</title></line>"
    )
    left_out = len(values) - len(finite)
    note = f"n = {format_number(len(finite))}, mean {format_number(mean)}"
    if left_out:
        note += f", {format_number(left_out)} undefined"
    out.append(f'<text x="{left}" y="{height - 6}">{escape(note)}</text></svg>')
    return Markup("".join(out))
