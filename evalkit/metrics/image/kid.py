"""Kernel Inception Distance: the ``kid`` metric (:class:`KID`) and :func:`kid_from_features`.

KID is the mean of unbiased MMD^2 estimates over random subsets of both image sets; its
``kid_std`` is their population standard deviation (``ddof=0``) over the subsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.data.images import check_finite
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.image._base import _canonical, _ImageMetric
from evalkit.types import Stats

__all__ = ["KID", "kid_from_features"]


def kid_from_features(
    generated: np.ndarray,
    reference: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of unbiased MMD^2 estimates over subsets.

    Kernel ``k(x, y) = (x.y / d + 1)^3`` (Binkowski et al. 2018, "Demystifying MMD GANs").
    Each subset draws ``m = min(subset_size, N_gen, N_ref)`` rows of each set without
    replacement (numpy ``default_rng(seed)``, generated set first); the estimate
    ``(sum_{i!=j} k(x_i,x_j) + sum_{i!=j} k(y_i,y_j)) / (m(m-1)) - 2 sum_{i,j} k(x_i,y_j) / m^2``
    is unbiased and may be negative.

    >>> x = np.array([[0.0], [1.0], [2.0]]); y = x + 1.0
    >>> mean, std = kid_from_features(x, y, subsets=1)
    >>> round(mean, 9), std  # by hand: (2 * (1 + 1 + 27) + 2 * (27 + 64 + 343)) / 6 - 2 * 597 / 9
    (21.666666667, 0.0)
    """
    check_finite(np.asarray(generated), "kid: generated features", "give finite features.")
    check_finite(np.asarray(reference), "kid: reference features", "give finite features.")
    x_all = _canonical(np.asarray(generated, dtype=np.float64))
    y_all = _canonical(np.asarray(reference, dtype=np.float64))
    if x_all.ndim != 2 or y_all.ndim != 2 or x_all.shape[1] != y_all.shape[1]:
        raise InputError(
            f"kid: feature shapes {x_all.shape} and {y_all.shape} do not match; use one extractor."
        )
    m = min(subset_size, len(x_all), len(y_all))
    if m < 2:
        raise InputError(f"kid: needs at least 2 images in each set, got {m}.")
    d = x_all.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = x_all[rng.choice(len(x_all), m, replace=False)]
        y = y_all[rng.choice(len(y_all), m, replace=False)]
        kxx = (x @ x.T / d + 1.0) ** 3
        kyy = (y @ y.T / d + 1.0) ** 3
        kxy = (x @ y.T / d + 1.0) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[i] = within - 2.0 * kxy.sum() / (m * m)
    return float(values.mean()), float(values.std())


class KID(_ImageMetric):
    """Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel, over subsets.

    ``k(x, y) = (x.y / d + 1)^3``; ``kid`` is the mean of ``subsets`` unbiased MMD^2 estimates
    on random subsets of ``min(subset_size, N_gen, N_ref)`` images per set, ``kid_std`` their
    standard deviation. Unbiased, so it can be slightly negative for equal distributions.

    Args:
        extractor: As for :class:`FID` (``precomputed``: features computed elsewhere).
        weights: As for :class:`FID`.
        reference: As for :class:`FID` (a statistics file must keep its features).
        subsets: Number of subsets (torchmetrics' and torch-fidelity's default, 100).
        subset_size: Images per subset (1000, as those libraries).
        seed: Seed of the subset draws.

    References:
        Binkowski et al. (2018), "Demystifying MMD GANs"; torchmetrics 1.x
        ``KernelInceptionDistance`` (parity in ``tests/parity/test_image_parity.py``).

    Example:
        >>> from evalkit.assets.image_features import digits_data
        >>> images, _, _, held = digits_data()
        >>> s = KID(subsets=10).score_images(images[held[:100]], images[held[100:200]])
        >>> abs(s.value) < 0.1, sorted(s.details)
        (True, ['kid', 'kid_std'])
    """

    name: ClassVar[str] = "kid"

    class Params(_ImageMetric.Params):
        """KID's parameters: the extractor and reference, and the subsets."""

        subsets: int = Field(100, ge=1, description="number of subsets")
        subset_size: int = Field(1000, ge=2, description="images per subset")
        seed: int = Field(0, description="seed of the subset draws")

    p: Params

    def value_names(self) -> tuple[str, ...]:
        return ("kid", "kid_std")

    def primary_values(self) -> tuple[str, ...]:
        return ("kid",)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if len(stats) == 0:
            return {"kid": float("nan"), "kid_std": float("nan")}
        ref = self.reference_stats()
        if ref.features is None:
            raise ConfigError(
                f"{self.name}: the reference statistics file keeps no features; KID needs "
                "them (save_reference_stats(..., keep_features=True))."
            )
        generated = self._matrix(stats)
        self._check_dims(generated, ref)
        mean, std = kid_from_features(
            generated,
            ref.features,
            subsets=self.p.subsets,
            subset_size=self.p.subset_size,
            seed=self.p.seed,
        )
        return {"kid": mean, "kid_std": std}

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        version = fields.pop("evalkit")
        return {**fields, "kernel": "poly3", "evalkit": version}
