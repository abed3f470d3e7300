"""Inception Score: the ``inception_score`` metric and :func:`inception_score_from_logits`.

IS is computed from the extractor's class logits alone (:class:`InceptionScore` takes no
reference set), as a mean over splits of the images; its ``inception_score_std`` is the
population standard deviation (``ddof=0``) over the splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from evalkit.errors import InputError
from evalkit.metrics.image._base import _canonical, _ImageMetric
from evalkit.types import Stats

__all__ = ["InceptionScore", "inception_score_from_logits"]


def inception_score_from_logits(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))``: mean and std over splits.

    Salimans et al. 2016, "Improved Techniques for Training GANs": the rows are cut into
    ``splits`` consecutive parts of ``N // splits`` rows (a remainder is left out, as in the
    paper's code); ``p(y)`` is each part's mean. Rows are put in canonical order first.

    >>> round(inception_score_from_logits(np.log(np.eye(3) + 1e-300), splits=1)[0], 12)
    3.0
    """
    lg = _canonical(np.asarray(logits, dtype=np.float64))
    if lg.ndim != 2 or lg.shape[1] < 2:
        raise InputError(f"inception_score: expected (N, classes) logits, got shape {lg.shape}.")
    n = len(lg)
    if n < splits:
        raise InputError(
            f"inception_score: {n} images for {splits} splits; give at least one per split."
        )
    logp = lg - lg.max(axis=1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    size = n // splits
    scores = np.empty(splits)
    for k in range(splits):
        part, lpart = p[k * size : (k + 1) * size], logp[k * size : (k + 1) * size]
        log_py = np.log(part.mean(axis=0))
        kl = (part * (lpart - log_py)).sum(axis=1)
        scores[k] = np.exp(kl.mean())
    return float(scores.mean()), float(scores.std())


class InceptionScore(_ImageMetric):
    """Inception Score: ``exp(E_x KL(p(y|x) || p(y)))`` of the extractor's class predictions.

    Higher is better; at most the number of classes (10 for the digits CNN, whose softmax gives
    a "digits IS"; 1008 for pytorch-fid's Inception). Needs no reference set. ``splits``
    consecutive parts of the (canonically ordered) images give the mean and the std.

    Args:
        extractor: As for :class:`FID`; it must give class logits (not ``precomputed``).
        weights: As for :class:`FID`.
        reference: Not used (IS has no reference); must be left unset.
        splits: Number of splits (10, as the original code).

    References:
        Salimans et al. (2016), "Improved Techniques for Training GANs"; torchmetrics 1.x
        ``InceptionScore`` (parity with ``splits: 1`` in ``tests/parity/test_image_parity.py``).

    Example:
        >>> from evalkit.assets.image_features import digits_data
        >>> images, _, _, held = digits_data()
        >>> s = InceptionScore().score_images(images[held])
        >>> 8.0 < s.value <= 10.0
        True
    """

    name: ClassVar[str] = "inception_score"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False

    class Params(_ImageMetric.Params):
        """IS's parameters: the extractor, no reference, and the splits."""

        reference: str | Path | None = Field(None, description="not used (IS has no reference)")
        splits: int = Field(10, ge=1, description="number of splits")

        @model_validator(mode="before")
        @classmethod
        def _no_reference(cls, data: Any) -> Any:
            # Before the fields' own checks: any reference at all is the mistake.
            if isinstance(data, dict) and data.get("reference") is not None:
                raise ValueError("reference is not used by the Inception Score")
            return data

        @field_validator("extractor")
        @classmethod
        def _gives_logits(cls, value: Any) -> Any:
            if isinstance(value, str) and value == "precomputed":
                raise ValueError(
                    "precomputed features have no class logits; the Inception Score needs an "
                    "extractor that gives them (digits-cnn, inception-v3, python:MODULE:ATTR)"
                )
            return value

    p: Params

    def value_names(self) -> tuple[str, ...]:
        return ("inception_score", "inception_score_std")

    def primary_values(self) -> tuple[str, ...]:
        return ("inception_score",)

    def _features(self, images: np.ndarray, where: str) -> np.ndarray:
        return self.extractor.logits(images, where)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if len(stats) == 0:
            return {"inception_score": float("nan"), "inception_score_std": float("nan")}
        mean, std = inception_score_from_logits(self._matrix(stats), self.p.splits)
        return {"inception_score": mean, "inception_score_std": std}
