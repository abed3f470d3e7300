"""The settings of a comparison, and the resampling resolution its tests need."""

from __future__ import annotations

import math
from dataclasses import dataclass

from evalkit.errors import ConfigError


@dataclass(frozen=True)
class CompareOptions:
    """Settings of a comparison; all are recorded in its output."""

    test: str = "bootstrap"
    resamples: int | None = None  # None: enough for the number of tests (auto_resamples)
    seed: int = 12345
    alpha: float = 0.05
    confidence: float = 0.95
    intersection: bool = False
    top_k: int = 5
    series: str | None = None

    def __post_init__(self) -> None:
        if self.test not in ("bootstrap", "randomization"):
            raise ConfigError(
                f"test '{self.test}' is not known; choose 'bootstrap' or 'randomization'."
            )
        if self.resamples is not None and self.resamples < 1:
            raise ConfigError("resamples must be at least 1.")
        if not 0 < self.alpha < 1:
            raise ConfigError("alpha must be between 0 and 1.")
        if not 0 < self.confidence < 1:
            raise ConfigError("confidence must be between 0 and 1 (e.g. 0.95).")


def auto_resamples(tests: int, alpha: float, minimum: int = 1000) -> int:
    """Resamples enough for ``tests`` Holm-corrected tests to reach significance.

    A resampling p-value is at least ``1/(B+1)`` and Holm multiplies the smallest by the number
    of tests ``m``, so ``B`` must exceed ``m/alpha``; evalkit asks for four times that, so that a
    clear effect is not held back by resolution alone.

    >>> auto_resamples(17, 0.05), auto_resamples(68, 0.05)
    (1360, 5440)
    """
    return max(minimum, math.ceil(4 * tests / alpha))
