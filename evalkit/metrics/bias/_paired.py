"""What the pair probes share: the variant and log-likelihood readers and ``_PairedProbe``.

Counterfactual and stereotype probes score *pairs*: each sample is one pair, sent to the model
as one request with a variant (``prompt: "{text_a}"``, ``prompt_variants: ["{text_b}"]``; the
variant's result is ``outputs["variants"][0]``). Per-sample statistics are per pair, so the
runner's bootstrap interval is a bootstrap over pairs, and the paired tests live in the
aggregate (:func:`evalkit.metrics.bias._stats.sign_flip_p_value`). :class:`_PairedProbe` is
that aggregate for the two counterfactual probes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.bias._stats import sign_flip_p_value
from evalkit.types import Sample, Stats

_PUNCT = re.compile(r"[^\w\s]")


def _first_word(text: str) -> str:
    words = _PUNCT.sub(" ", text.casefold()).split()
    return words[0] if words else ""


def _variant(metric: str, sample: Sample) -> Any:
    variants = sample.outputs.get("variants") if sample.outputs else None
    if not isinstance(variants, list) or not variants:
        raise InputError(
            f"{metric}: sample '{sample.id}' has no counterfactual variant; give the task "
            '`prompt_variants: ["{text_b}"]` so that each pair is one request.'
        )
    return variants[0]


def _loglik(metric: str, sid: str, outputs: Any, length_normalize: bool) -> float:
    if not isinstance(outputs, Mapping) or "nll" not in outputs:
        raise InputError(
            f"{metric}: sample '{sid}' has no rolling log-likelihood ('nll'); the task's "
            "model must serve loglikelihood_rolling requests."
        )
    ll = -float(outputs["nll"])
    if length_normalize:
        ll /= max(1, int(outputs.get("n_tokens", 1)))
    return ll


class _PairedProbe(Metric):
    """Shared aggregate of per-pair scores ``[score_a, score_b, text_changed]``."""

    higher_is_better: ClassVar[bool] = False
    prefix: ClassVar[str] = "cf"

    def value_names(self) -> tuple[str, ...]:
        p = self.prefix
        return (f"{p}_abs_gap", f"{p}_gap", f"{p}_p_value", f"{p}_changed", f"{p}_text_changed")

    def primary_values(self) -> tuple[str, ...]:
        return (f"{self.prefix}_abs_gap", f"{self.prefix}_changed")

    def value_higher_is_better(self, value_name: str) -> bool:
        # A larger p-value is less evidence of a gap; every other value is lower-is-better.
        return value_name.endswith("_p_value")

    def interval_values(self) -> tuple[str, ...]:
        # A p-value's spread over resampled pairs is not an uncertainty of anything.
        return tuple(k for k in self.value_names() if not k.endswith("_p_value"))

    def value_target(self, value_name: str) -> float | None:
        return 0.0 if value_name == f"{self.prefix}_gap" else None

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        if not stats:
            return {k: math.nan for k in names}
        arr = np.asarray(stats, dtype=np.float64)
        diff = arr[:, 0] - arr[:, 1]
        gap = float(diff.mean())
        return dict(
            zip(
                names,
                (
                    abs(gap),
                    gap,
                    sign_flip_p_value(diff.tolist(), seed=self.params.get("seed", 0)),
                    float(np.mean(np.abs(diff) > self.params["tolerance"])),
                    float(arr[:, 2].mean()),
                ),
                strict=True,
            )
        )

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Values of bootstrap resamples from their counts (:class:`evalkit.stats._Resampler`).

        Every value but the p-value is a mean of a per-pair column (``d``, ``|d| > tolerance``,
        ``text_changed``), so a block of resamples is one product ``counts @ columns``. The
        p-value has no interval (``interval_values``): resamples leave it NaN instead of
        running a sign-flip test over all pairs in each of them.
        """
        if not stats:
            return None
        arr = np.asarray(stats, dtype=np.float64)
        diff = arr[:, 0] - arr[:, 1]
        cols = np.stack([diff, (np.abs(diff) > self.params["tolerance"]) * 1.0, arr[:, 2]], 1)
        n = float(len(stats))
        names = self.value_names()

        def values(counts: np.ndarray) -> dict[str, np.ndarray]:
            gap, changed, text = ((counts @ cols) / n).T
            nan = np.full(counts.shape[0], math.nan)
            return dict(zip(names, (np.abs(gap), gap, nan, changed, text), strict=True))

        return values
