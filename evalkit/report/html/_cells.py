"""Display cells shared by the comparison page and its trend charts.

Small, HTML-only formatting of one comparison value: the arrow that says which way a metric
is better, and a p-value at three significant digits.
"""

from __future__ import annotations

from typing import Any

from evalkit.report._format import MISSING, format_number, is_number


def p_text(value: Any) -> str:
    """A p-value at three significant digits, or an em dash when it is not a number.

    >>> p_text(0.012345), p_text(None)
    ('0.0123', '—')
    """
    return format_number(value, 3) if is_number(value) else MISSING


def direction(hib: Any) -> tuple[str, str]:
    """The arrow of a metric's better direction and its title (both empty when unknown).

    >>> direction(True), direction(None)
    (('↑', 'higher is better'), ('', ''))
    """
    if hib is True:
        return "↑", "higher is better"
    if hib is False:
        return "↓", "lower is better"
    return "", ""
