"""Number and label formatting shared by the HTML and Markdown reports."""

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
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if -4 <= exponent < 9:
        decimals = max(0, digits - 1 - exponent)
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


def confidence_label(header: dict[str, Any]) -> str:
    """``"95% CI"`` from the header's bootstrap confidence (0.95 when absent or malformed).

    >>> confidence_label({"bootstrap": {"confidence": 0.9}})
    '90% CI'
    >>> confidence_label({})
    '95% CI'
    """
    boot = header.get("bootstrap")
    conf = boot.get("confidence") if isinstance(boot, dict) else None
    if not isinstance(conf, (int, float)) or isinstance(conf, bool) or not 0 < conf < 1:
        conf = 0.95
    return f"{round(conf * 100, 2):g}% CI"


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
