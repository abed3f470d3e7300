"""The trend chart of a checkpoint series: one inline SVG line chart per (task, metric).

The chart is written here, in Python, as an SVG element inside ``compare.html``, so it renders
without JavaScript and without any library or network access: x is the run's position in the
series, y the metric value, a shaded band its confidence interval, and a red marker each
significant regression against the previous or the best earlier run. Every label goes through
:func:`markupsafe.escape`. The run report's charts and the comparison's forest plot are in
:mod:`evalkit.report.html.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from evalkit.records import ComparisonRow, Trend, TrendPoint
from evalkit.report._format import format_ci, format_number
from evalkit.report.html._cells import direction, p_text

# The chart's size, margins and label limits, in SVG user units and characters.
_W, _H = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 16, 78
_MAX_X_LABELS = 12
_MAX_LABEL_CHARS = 18


def _finite(value: float | None) -> float | None:
    """An optional value as a finite number to plot, or ``None`` (absent, NaN or infinite)."""
    return value if value is not None and math.isfinite(value) else None


def _nice_step(span: float, target: int = 5) -> float:
    """A 1-2-2.5-5 step that cuts ``span`` into about ``target`` intervals.

    >>> _nice_step(100), _nice_step(0.37), _nice_step(7)
    (20.0, 0.1, 2.0)
    """
    raw = span / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10.0 * magnitude


def _n(x: float) -> str:
    """An SVG coordinate: one decimal, no ``-0.0``."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL_CHARS else label[: _MAX_LABEL_CHARS - 1] + "…"


def _segments(flags: Sequence[bool]) -> list[list[int]]:
    """Runs of consecutive indices whose flag is true.

    >>> _segments([True, True, False, True])
    [[0, 1], [3]]
    """
    out: list[list[int]] = []
    current: list[int] = []
    for i, ok in enumerate(flags):
        if ok:
            current.append(i)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def trend_svg(
    trend: Trend,
    order: Sequence[str],
    regressions: Sequence[ComparisonRow] = (),
    ci_label: str = "95% CI",
) -> Markup:
    """An inline SVG line chart of one (task, metric) across a checkpoint series.

    x is the run's position in the series (its label under the axis), y the metric value; a
    shaded band (class ``ci-band``) spans each point's confidence interval; a red down-pointing
    triangle (class ``regression``) marks each run whose comparison against the previous or the
    best earlier run found a significant regression (direction-aware, Holm-adjusted). Every text
    and attribute value is escaped, so labels cannot inject markup.

    Args:
        trend: One entry of ``doc["series"]["trend"]``: ``task``, ``metric``,
            ``higher_is_better`` and ``points`` (``run``, ``label``, ``value``, ``ci_low``,
            ``ci_high``).
        order: The series' run labels in order (``doc["series"]["order"]``).
        regressions: The comparison rows of this (task, metric) that regressed.
        ci_label: How the interval is named in tooltips.

    Returns:
        The ``<svg>`` element, marked safe.

    >>> trend = Trend.model_validate({"task": "t", "metric": "m<", "metric_key": "m",
    ...     "higher_is_better": True, "points": [
    ...     {"run": 0, "label": "s1", "value": 1.0, "ci_low": 0.5, "ci_high": 1.5},
    ...     {"run": 1, "label": "s2", "value": 2.0, "ci_low": 1.5, "ci_high": 2.5}]})
    >>> svg = trend_svg(trend, ["s1", "s2"])
    >>> svg.count("<svg"), 'class="ci-band"' in svg, "m&lt;" in svg, "m<" in svg
    (1, True, True, False)
    """
    task, metric = trend.task, trend.metric
    arrow, arrow_title = direction(trend.higher_is_better)
    points = trend.points
    n_runs = max([len(order)] + [p.run + 1 for p in points] + [1])
    names = [*order] + [f"run {i}" for i in range(len(order), n_runs)]
    by_run: dict[int, TrendPoint] = {}
    for p in points:
        if 0 <= p.run < n_runs:
            by_run[p.run] = p
            if p.run >= len(order):
                names[p.run] = p.label

    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    values = {r: _finite(p.value) for r, p in by_run.items()}
    lows = {r: _finite(p.ci_low) for r, p in by_run.items()}
    highs = {r: _finite(p.ci_high) for r, p in by_run.items()}
    extra = [_finite(r.value_b) for r in regressions]
    finite = [
        v for v in [*values.values(), *lows.values(), *highs.values(), *extra] if v is not None
    ]
    title = f"{task} · {metric}: trend across the series"
    out: list[str] = [
        f'<svg class="chart-svg trend" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]

    def x_of(run: int) -> float:
        return float(_LEFT + (run + 0.5) * plot_w / n_runs)

    if not finite:
        out.append(
            f'<text class="empty" x="{_n(_W / 2)}" y="{_n(_H / 2)}" text-anchor="middle">'
            "no values to plot</text></svg>"
        )
        return Markup("".join(out))
    lo, hi = min(finite), max(finite)
    flat = hi - lo <= 1e-12 * max(1.0, abs(hi))
    # A flat line gets 5% of its value (or 1) above and below; others 8% of their range.
    pad = (abs(hi) * 0.05 or 1.0) if flat else (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)

    def y_of(value: float) -> float:
        return _TOP + (hi - value) / (hi - lo) * plot_h

    # Axes and horizontal grid lines with tick labels.
    tick = math.ceil(lo / step) * step
    while tick <= hi + step * 1e-9:
        y = y_of(tick)
        out.append(
            f'<line class="grid" x1="{_LEFT}" y1="{_n(y)}" x2="{_W - _RIGHT}" y2="{_n(y)}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{_n(y + 4)}" text-anchor="end">'
            f"{escape(format_number(round(tick, 12)))}</text>"
        )
        tick += step
    out.append(
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}"/>'
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" '
        f'y2="{_TOP + plot_h}"/>'
    )
    y_title = f"{metric} {arrow}".strip()
    out.append(
        f'<text class="axis-title" transform="translate(16 {_n(_TOP + plot_h / 2)}) rotate(-90)" '
        f'text-anchor="middle">{escape(_short(y_title))}<title>{escape(metric)}'
        f"{escape(' (' + arrow_title + ')' if arrow_title else '')}</title></text>"
    )
    every = max(1, math.ceil(n_runs / _MAX_X_LABELS))
    for run in range(n_runs):
        x = x_of(run)
        out.append(
            f'<line class="tick-mark" x1="{_n(x)}" y1="{_TOP + plot_h}" x2="{_n(x)}" '
            f'y2="{_TOP + plot_h + 4}"/>'
        )
        if run % every == 0 or run == n_runs - 1:
            y = _TOP + plot_h + 14
            out.append(
                f'<text class="tick" x="{_n(x)}" y="{y}" text-anchor="end" '
                f'transform="rotate(-30 {_n(x)} {y})">{escape(_short(names[run]))}'
                f"<title>{escape(names[run])}</title></text>"
            )

    # The confidence band: one shaded polygon per run of consecutive points with an interval.
    has_ci = [lows.get(r) is not None and highs.get(r) is not None for r in range(n_runs)]
    for seg in _segments(has_ci):
        if len(seg) == 1:
            r = seg[0]
            x, y_hi, y_lo = x_of(r), y_of(highs[r] or 0.0), y_of(lows[r] or 0.0)
            out.append(
                f'<rect class="ci-band" x="{_n(x - 6)}" y="{_n(y_hi)}" width="12" '
                f'height="{_n(max(y_lo - y_hi, 0.5))}"/>'
            )
            continue
        upper = [f"{_n(x_of(r))},{_n(y_of(highs[r] or 0.0))}" for r in seg]
        lower = [f"{_n(x_of(r))},{_n(y_of(lows[r] or 0.0))}" for r in reversed(seg)]
        out.append(f'<polygon class="ci-band" points="{" ".join(upper + lower)}"/>')

    # The line through the values, broken where a value is missing.
    has_value = [values.get(r) is not None for r in range(n_runs)]
    for seg in _segments(has_value):
        if len(seg) > 1:
            coords = " ".join(f"{_n(x_of(r))},{_n(y_of(values[r] or 0.0))}" for r in seg)
            out.append(f'<polyline class="trend-line" points="{coords}"/>')
    for r in range(n_runs):
        value = values.get(r)
        if value is None:
            continue
        tip = f"{names[r]}: {format_number(value)}"
        if has_ci[r]:
            tip += f" ({ci_label} {format_ci(lows[r], highs[r])})"
        out.append(
            f'<circle class="point" cx="{_n(x_of(r))}" cy="{_n(y_of(value))}" r="4">'
            f"<title>{escape(tip)}</title></circle>"
        )

    # Significant regressions against the previous or best earlier run: one marker per run,
    # whose tooltip lists every regression found for it.
    tips: dict[int, list[str]] = {}
    for row in regressions:
        b, a = row.b, row.a
        if not 0 <= b < n_runs:
            continue
        a_name = names[a] if 0 <= a < n_runs else str(a)
        tips.setdefault(b, []).append(
            f"significant regression of {names[b]} against the {row.against} "
            f"run {a_name}: delta {format_number(row.delta)} "
            f"{format_ci(row.ci_low, row.ci_high)}, "
            f"Holm-adjusted p {p_text(row.p_adjusted)}"
        )
        if values.get(b) is None and _finite(row.value_b) is not None:
            values[b] = _finite(row.value_b)  # place the marker at B's value
    for b in sorted(tips):
        at = values.get(b)
        if at is None:
            continue
        x, y = x_of(b), y_of(at)
        out.append(
            f'<path class="regression" d="M{_n(x - 7)},{_n(y - 19)} L{_n(x + 7)},{_n(y - 19)} '
            f'L{_n(x)},{_n(y - 8)} Z"><title>{escape("; ".join(tips[b]))}</title></path>'
        )
    out.append("</svg>")
    return Markup("".join(out))
