"""Verdicts over all rows of a comparison: the Holm correction and notes where it surprises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.compare.pairing import _better
from evalkit.stats import holm


def _excludes_zero(row: Mapping[str, Any]) -> bool:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def verdict_note(row: Mapping[str, Any], alpha: float, tests: int) -> str | None:
    """Why a row's verdict and its interval seem to disagree, or None when they agree.

    The verdict is ``p_adjusted < alpha`` (Holm over ``tests`` tests); the interval is the
    unadjusted ``confidence`` interval of the paired bootstrap, which excludes 0 exactly when
    that bootstrap's own p-value is below ``1 - confidence``. They can differ, and the row then
    says why: the Holm correction, a p-value from another procedure (``--test randomization``),
    or an ``alpha`` other than ``1 - confidence``.

    >>> row = {"p_value": 0.01, "p_adjusted": 0.06, "significant": False, "ci_low": 0.2,
    ...        "ci_high": 1.0, "confidence": 0.95, "interval_method": "paired bootstrap",
    ...        "p_method": "paired bootstrap"}
    >>> verdict_note(row, 0.05, 6)
    'significant before the Holm correction over 6 tests (p = 0.01), not after (p_holm = 0.06)'
    """
    p, p_adj = row.get("p_value"), row.get("p_adjusted")
    if p is None or p_adj is None:
        return None
    excludes = _excludes_zero(row)
    conf = row.get("confidence")
    level = f"{conf * 100:g}% " if isinstance(conf, float) else ""
    interval, how = row.get("interval_method"), row.get("p_method")
    if not row["significant"] and p < alpha <= p_adj:
        return (
            f"significant before the Holm correction over {tests} tests (p = {p:.4g}), "
            f"not after (p_holm = {p_adj:.4g})"
        )
    if not row["significant"] and excludes:
        if interval != how:
            return (
                f"the {level}interval ({interval}) excludes 0, but the verdict's {how} "
                f"p-value is {p:.4g} (alpha {alpha:g})"
            )
        return f"the {level}interval excludes 0, but the verdict tests at alpha {alpha:g}"
    if row["significant"] and (row.get("ci_low") is None or row.get("ci_high") is None):
        return f"no {level}interval: {row.get('interval_note') or 'not computed'}"
    if row["significant"] and not excludes:
        why = f"the {how} p-value" if interval != how else f"alpha {alpha:g}"
        return (
            f"significant by {why} (p_holm = {p_adj:.4g}), though the {level}interval "
            f"({interval}) contains 0"
        )
    return None


def _apply_holm(rows: list[dict[str, Any]], alpha: float) -> None:
    tested = [r for r in rows if r["p_value"] is not None]
    for r in rows:
        if r["p_value"] is None:
            r["p_adjusted"] = None
            r["significant"] = False
            r["change"] = "not tested"
            r["verdict_note"] = None
    adjusted = holm([r["p_value"] for r in tested])
    for r, p in zip(tested, adjusted, strict=True):
        r["p_adjusted"] = p
        r["significant"] = p < alpha
        sign = _better(r["delta"], r["higher_is_better"])
        r["change"] = (
            ("improved" if sign > 0 else "regressed")
            if r["significant"] and sign
            else ("no significant change")
        )
        r["verdict_note"] = verdict_note(r, alpha, len(tested))
