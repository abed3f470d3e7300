"""Display cells shared by the comparison page and its trend charts.

Small, HTML-only formatting of one comparison value: the arrow that says which way a metric
is better, and a p-value at three significant digits.
"""

from __future__ import annotations

from evalkit.report._format import MISSING, format_number


def p_text(value: float | None) -> str:
    """A p-value at three significant digits, or an em dash when it is absent.

    >>> p_text(0.012345), p_text(None), p_text(float("nan"))
    ('0.0123', '—', 'NaN')
    """
    return MISSING if value is None else format_number(value, 3)


def direction(higher_is_better: bool) -> tuple[str, str]:
    """The arrow of a metric's better direction and its title.

    >>> direction(True), direction(False)
    (('↑', 'higher is better'), ('↓', 'lower is better'))
    """
    if higher_is_better:
        return "↑", "higher is better"
    return "↓", "lower is better"
