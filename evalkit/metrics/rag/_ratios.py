"""Grounding metrics whose values are ratios of summed per-sample counts.

A grounding statistic is a JSON object per sample: counts (claims, supported claims, cited
ids...) and the items a report lists (unsupported claims, invalid citations). Every value of
these metrics is ``sum(numerator) / sum(denominator)`` over samples, each a column computed from
the statistic alone (a mean of per-sample ratios is the ratio column over an "included" column
of ones), so bootstrap resamples are one matrix product of counts (``resample_block``), and a
value whose denominator sums to zero is NaN (nothing to measure), never 0 or 1.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from evalkit.metrics._ratio_block import ratio_block
from evalkit.metrics.base import Metric
from evalkit.types import Sample, Stats

__all__ = ["MAX_ITEM_CHARS", "RatioMetric", "clip", "prediction_of"]

#: The longest claim or item text kept in a statistic (characters): a report shows them, and a
#: runaway answer must not bloat the record.
MAX_ITEM_CHARS = 300


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_ITEM_CHARS` characters (an ellipsis marks a cut).

    >>> clip("x" * 400)[-4:], len(clip("x" * 400))
    ('xxx…', 300)
    """
    return text if len(text) <= MAX_ITEM_CHARS else text[: MAX_ITEM_CHARS - 1] + "…"


def prediction_of(sample: Sample) -> str:
    """The answer of ``sample`` ('' when there is none)."""
    return sample.prediction or ""


class RatioMetric(Metric):
    """Base of the grounding metrics: dict statistics, values as ratios of summed columns.

    Subclasses implement :meth:`columns`: for each value name a pair of per-sample numbers
    ``(numerator, denominator)`` read from one statistic.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})

    @abstractmethod
    def columns(self, stat: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        """``{value name: (numerator, denominator)}`` of one sample's statistic."""

    def _arrays(self, stats: Sequence[Stats]) -> tuple[np.ndarray, np.ndarray]:
        names = self.value_names()
        num = np.zeros((len(stats), len(names)))
        den = np.zeros((len(stats), len(names)))
        for i, stat in enumerate(stats):
            cols = self.columns(stat)
            for j, k in enumerate(names):
                num[i, j], den[i, j] = cols[k]
        return num, den

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        num, den = self._arrays(stats)
        out: dict[str, float] = {}
        for j, k in enumerate(self.value_names()):
            d = float(den[:, j].sum())
            out[k] = float(num[:, j].sum()) / d if d > 0 else math.nan
        return out

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        """Each sample's own ratios, in one pass (NaN where its denominator is 0)."""
        num, den = self._arrays(stats)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        return {k: ratio[:, j].tolist() for j, k in enumerate(self.value_names())}

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Values of bootstrap resamples from their ``(B, n)`` counts: two matrix products."""
        if not stats:
            return None
        num, den = self._arrays(stats)
        return ratio_block(num, den, self.value_names())
