"""Number and label formatting shared by the reports.

Records reach the reports typed (:mod:`evalkit.report._record`), so a field has the type its
schema gives it; these helpers format numbers (:func:`format_number`, :func:`format_ci`),
absent text (:func:`or_missing`) and the metric- or adapter-defined JSON values a record may
hold (:func:`text_of`).
"""

from __future__ import annotations

import math
from typing import Any

#: Significant digits shown for metric values in human-facing reports (CSV keeps full precision).
SIGNIFICANT_DIGITS = 4
#: Shown where a value is absent (``None``).
MISSING = "—"


def format_number(value: Any, digits: int = SIGNIFICANT_DIGITS) -> str:
    """Format a number for people: ``digits`` significant digits, no trailing zeros.

    Integers (counts) are printed in full with thousands separators. Floats between 1e-4 and
    1e9 in magnitude use fixed notation (large values are rounded to units rather than shown in
    scientific notation); others use scientific notation. ``None`` is an em dash; NaN is
    ``NaN`` (an undefined metric value is not an absent one).

    >>> [format_number(x) for x in (31.2, 0.123456, 12345.6, 1.23456e-05, -0.5, 0.0, 10000)]
    ['31.2', '0.1235', '12346', '1.235e-05', '-0.5', '0', '10,000']
    >>> [format_number(x) for x in (None, float("nan"), float("-inf"), True, "x")]
    ['—', 'NaN', '-inf', 'yes', 'x']
    """
    if type(value) is not float:  # floats (the common case) go straight to the number
        if value is None:
            return MISSING
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if not isinstance(value, float):
            return str(value)
    if not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if -4 <= exponent < 9:
        decimals = digits - 1 - exponent
        if decimals < 0:
            decimals = 0
        text = f"{value:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return f"{value:.{digits - 1}e}"


def format_ci(low: Any, high: Any) -> str:
    """Format a confidence interval as ``[low, high]``, or an em dash when it is absent.

    >>> format_ci(25.0, 36.14)
    '[25, 36.14]'
    >>> format_ci(None, None)
    '—'
    """
    if low is None and high is None:
        return MISSING
    return f"[{format_number(low)}, {format_number(high)}]"


def confidence_label(confidence: float | None) -> str:
    """``"95% CI"`` from a bootstrap confidence level (0.95 when absent or outside (0, 1)).

    >>> confidence_label(0.9), confidence_label(None)
    ('90% CI', '95% CI')
    """
    conf = confidence if confidence is not None and 0 < confidence < 1 else 0.95
    return f"{round(conf * 100, 2):g}% CI"


def or_missing(value: str | None) -> str:
    """An optional text field for display: the text, or an em dash when it is absent.

    >>> or_missing("x"), or_missing(None)
    ('x', '—')
    """
    return MISSING if value is None else value


def text_of(value: Any) -> str:
    """A display string for a header field: strings as is, ``None`` as an em dash, else JSON.

    >>> text_of({"a": 1}), text_of(None), text_of("x"), text_of(3)
    ('{"a": 1}', '—', 'x', '3')
    """
    import json

    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except ValueError:  # circular structure; cannot come from JSON but stay total
        return repr(value)


def optional_text(value: Any) -> str | None:
    """A field as display text, like :func:`text_of`, except that ``None`` stays ``None``
    (an absent prompt is not an empty one).

    >>> optional_text(None), optional_text("x"), optional_text([1])
    (None, 'x', '[1]')
    """
    if value is None:
        return None
    return value if isinstance(value, str) else text_of(value)


def nice_step(span: float, target: int = 5) -> float:
    """A 1-2-2.5-5 step (times a power of ten) that cuts ``span`` into about ``target`` parts.

    Axis ticks and histogram bins at multiples of such a step read as round numbers.

    >>> nice_step(100), nice_step(0.37), nice_step(7), nice_step(111, 20)
    (20.0, 0.1, 2.0, 10.0)
    >>> nice_step(0.0)
    1.0
    """
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / max(1, target)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0):
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10.0 * magnitude


def step_decimals(step: float) -> int:
    """The decimals needed to write every multiple of ``step`` exactly (at most 12).

    >>> step_decimals(0.05), step_decimals(2.5), step_decimals(10.0), step_decimals(0.25)
    (2, 1, 0, 2)
    """
    if not math.isfinite(step) or step <= 0:
        return 0
    for decimals in range(13):
        if abs(round(step, decimals) - step) <= 1e-9 * step:
            return decimals
    return 12


def format_tick(value: float, step: float) -> str:
    """An axis tick or bin edge at the precision of its ``step`` (so 0.15 and 0.2 on a 0.05
    grid read ``0.15`` and ``0.20``), with thousands separators and no ``-0``.

    >>> [format_tick(v, 0.05) for v in (0.0, 0.15, 0.2)]
    ['0.00', '0.15', '0.20']
    >>> format_tick(-0.0000001, 0.5), format_tick(12000.0, 2000.0), format_tick(2.5e10, 5e9)
    ('0.0', '12,000', '2.5e10')
    """
    if step >= 1e6:
        # Millions and more: a short mantissa and exponent (2.5e10), not a 14-digit label.
        mantissa, _, exponent = f"{value:.3g}".partition("e")
        return f"{mantissa}e{int(exponent)}" if exponent else mantissa
    decimals = step_decimals(step)
    text = f"{value:,.{decimals}f}"
    if text.lstrip("-").strip("0.,") == "":
        text = text.lstrip("-")
    return text


def nice_range(low: float, high: float, target: int = 5) -> tuple[float, float, float]:
    """Round ends around ``[low, high]`` and their step: the smallest grid of
    :func:`nice_step` multiples that covers the values (a flat range gets one step each side).

    >>> nice_range(26.1, 137.4)
    (25.0, 150.0, 25.0)
    >>> nice_range(0.31, 0.47)
    (0.3, 0.5, 0.05)
    >>> nice_range(5.0, 5.0)
    (4.0, 6.0, 1.0)
    """
    if high < low:
        low, high = high, low
    if high - low <= 1e-12 * max(1.0, abs(high)):
        step = nice_step(abs(high) or 1.0, target)
        return (
            _snap(math.floor(low / step) * step - step, step),
            _snap(math.ceil(high / step) * step + step, step),
            step,
        )
    step = nice_step(high - low, target)
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    return _snap(start, step), _snap(end, step), step


def _snap(value: float, step: float) -> float:
    """``value`` rounded to the decimals of ``step`` (removes 0.30000000000000004)."""
    return round(value, step_decimals(step) + 1) + 0.0
