"""A rubric's criteria: names, scales, weights and descriptions, checked as the suite gives them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.errors import ConfigError
from evalkit.metrics.judges.verdicts import Scale, scale_of

__all__ = ["RESERVED", "Criterion", "criteria_of"]

#: Value names a criterion may not take (they are the metric's own readings).
RESERVED = frozenset(
    {
        "score",
        "judge_failure_rate",
        "unscored",
        "length_corr",
        "repeat_sd",
        "repeat_agreement",
        "kappa",
        "alpha",
        "spearman",
        "kendall",
        "total",
    }
)


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: a name (an identifier), its scale, weight and description."""

    name: str
    scale: Scale
    weight: float = 1.0
    description: str = ""


def criteria_of(metric: str, spec: Sequence[Any]) -> tuple[Criterion, ...]:
    """The checked rubric (ConfigError naming ``criteria[i]`` and the fix)."""
    if not spec:
        raise ConfigError(f"{metric}: criteria is empty; give at least one {{name, scale}}.")
    out: list[Criterion] = []
    for i, item in enumerate(spec):
        where = f"{metric}: criteria[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: expected a mapping {{name, scale, weight, description}}.")
        unknown = sorted(set(item) - {"name", "scale", "weight", "description"})
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)}; keys are name, scale, weight, "
                "description."
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{where}.name: {name!r} is not an identifier (e.g. accuracy).")
        if name in RESERVED and not (name == "score" and len(spec) == 1):
            raise ConfigError(
                f"{where}.name: {name!r} is one of the metric's own values; rename the criterion."
            )
        if any(c.name == name for c in out):
            raise ConfigError(f"{where}.name: {name!r} repeats a criterion; names are unique.")
        scale = scale_of(item.get("scale", [1, 5]), f"{where}.scale")
        if scale.kind == "labels":
            raise ConfigError(
                f"{where}.scale: a rubric criterion is scored on a range or pass_fail, not on "
                f"labels {scale.describe()}."
            )
        weight = item.get("weight", 1)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ConfigError(f"{where}.weight: {weight!r} is not a positive number.")
        desc = item.get("description") or ""
        if not isinstance(desc, str):
            raise ConfigError(f"{where}.description: expected text, got {desc!r}.")
        out.append(Criterion(name, scale, float(weight), desc.strip()))
    return tuple(out)
