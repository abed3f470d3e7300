"""Corpus chrF and chrF++ as sacrebleu computes them: the ``chrf`` metric (:class:`CHRF`).

The plumbing chrF shares with BLEU and TER (statistics, sacrebleu's score formula, signatures)
is in :mod:`evalkit.metrics.text._sacre`. What is chrF's own: its per-segment statistics come
from :func:`~evalkit.metrics.text._chrf_fast.chrf_statistics` (exact), and its signature adds
``beta``, which sacrebleu puts in the score's name (``chrF2``) instead of its signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from pydantic import Field, model_validator
from sacrebleu.metrics.chrf import CHRF as _SacreCHRF

from evalkit.metrics.params import MetricParams
from evalkit.metrics.text._chrf_fast import chrf_statistics
from evalkit.metrics.text._sacre import _SacreMetricWrapper
from evalkit.types import Stats

__all__ = ["CHRF"]


class CHRF(_SacreMetricWrapper):
    """Corpus chrF and chrF++ (Popović 2015, 2017) exactly as sacrebleu computes it.

    For each character n-gram order ``1..char_order`` and word n-gram order ``1..word_order``,
    hypothesis, reference and matching n-gram counts are summed over the corpus (for several
    references, each sample keeps the reference with the best sentence-level score). With the
    precisions ``P`` and recalls ``R`` averaged over orders::

        chrF_beta = 100 * (1 + beta^2) * P * R / (beta^2 * P + R)

    ``word_order=2`` is chrF++. ``eps_smoothing=True`` averages per-order F-scores with epsilon
    smoothing (chrF++.py, Moses, NLTK) instead of sacrebleu's effective-order averaging. The
    value is on sacrebleu's 0-100 scale.

    Degenerate input, as sacrebleu scores it: an empty, whitespace-only (unless
    ``whitespace=True``, where spaces are characters) or punctuation-only prediction has
    character n-grams only where it has characters, so it scores 0 unless its characters
    occur in the reference; a one-character text has no 2-grams and is averaged over the
    orders it has. A sample whose references are all empty or whitespace raises InputError,
    as in ``evalkit run``. chrF works on characters, so CJK text needs no tokenizer.

    Args:
        char_order: Highest character n-gram order.
        word_order: Highest word n-gram order (0 for chrF, 2 for chrF++).
        beta: Weight of recall relative to precision.
        lowercase: Lowercase hypotheses and references first.
        whitespace: Keep whitespace inside character n-grams.
        eps_smoothing: Use epsilon smoothing (see above).

    Raises:
        ConfigError: On a parameter of the wrong type or out of range.

    References:
        Popović (2015), "chrF: character n-gram F-score for automatic MT evaluation", WMT.
        Popović (2017), "chrF++: words helping character n-grams", WMT. Post (2018), WMT
        (sacrebleu).

    Example:
        >>> from evalkit.metrics import chrf
        >>> s = chrf(["the cat sat on the mat"], [["the cat sat on a mat"]], word_order=2)
        >>> round(s.value, 4)
        72.0304
        >>> s.signature  # doctest: +ELLIPSIS
        'chrf|case:mixed|eff:yes|nc:6|nw:2|space:no|version:...|beta:2|evalkit:...'
    """

    name: ClassVar[str] = "chrf"
    higher_is_better: ClassVar[bool] = True

    class Params(MetricParams):
        """chrF's parameters (sacrebleu's names and defaults)."""

        char_order: int = Field(6, ge=0, description="highest character n-gram order")
        word_order: int = Field(0, ge=0, description="highest word n-gram order (2: chrF++)")
        beta: int = Field(2, ge=0, description="weight of recall relative to precision")
        lowercase: bool = Field(False, description="lowercase hypotheses and references first")
        whitespace: bool = Field(False, description="keep whitespace in character n-grams")
        eps_smoothing: bool = Field(False, description="average per-order F with epsilon")

        @model_validator(mode="after")
        def _some_order(self) -> Self:
            if self.char_order + self.word_order == 0:
                raise ValueError("char_order and word_order are both 0; set one of them >= 1")
            return self

    p: Params

    def setup(self) -> None:
        self._metric = _SacreCHRF(**self.p.model_dump())

    def value_names(self) -> tuple[str, ...]:
        return ("chrf",)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """sacrebleu's statistics, computed by :func:`~.text._chrf_fast.chrf_statistics`
        (exact)."""
        return chrf_statistics(pairs, metric=self._metric)

    def _row(self, totals: np.ndarray) -> list[Any]:
        return [round(x) for x in totals.tolist()]

    def _extra_signature_fields(self) -> dict[str, Any]:
        # sacrebleu puts beta in the score's name (chrF2), not in the signature.
        return {"beta": self.params["beta"]}
