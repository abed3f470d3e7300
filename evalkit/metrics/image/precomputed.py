"""Features computed elsewhere: the ``precomputed`` extractor of FID and KID.

With ``extractor: precomputed`` a sample's statistic is the vector its model returned in
``outputs["features"]`` (``FILE#ROW``, from the ``features:`` adapter), used as it is, and the
``reference`` is an ``(N, D)`` feature array (``.npy``/``.npz``) or a statistics file written by
``save_reference_stats(features, path, extractor="precomputed")``. The signature says
``extractor:precomputed`` and records the reference features' SHA-256, so precomputed scores
are never compared with ``digits-cnn`` or ``inception-v3`` ones, and a statistics file of another
extractor is refused (its recorded extractor differs). The generated file's SHA-256 is part of
the run's identity (the ``features:`` adapter's ``info()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.assets.image_features import FeatureExtractor, get_extractor
from evalkit.data.images import decode_feature_reference, load_features
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.image._stack import decode_batch
from evalkit.types import Sample

__all__ = ["PRECOMPUTED", "PrecomputedFeatures", "is_precomputed", "make_extractor"]

#: The ``extractor`` value that means "the features are the samples' own".
PRECOMPUTED = "precomputed"


class PrecomputedFeatures(FeatureExtractor):
    """The identity "extractor": its inputs are feature rows ``(N, D)`` already.

    >>> PrecomputedFeatures().describe()
    {'extractor': 'precomputed', 'weights': 'none', 'size': 'native', 'resize': 'none'}
    """

    name = PRECOMPUTED
    sha256 = "none"

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        raise ConfigError(
            "extractor precomputed takes feature arrays, not images; score images with "
            "digits-cnn, inception-v3 or python:MODULE:ATTR."
        )

    def features(self, images: np.ndarray, where: str = "features") -> np.ndarray:
        """The rows as ``float64`` (checked: 2-D, numeric, finite)."""
        return load_features(np.asarray(images), what=where).features

    def logits(self, images: np.ndarray, where: str = "features") -> np.ndarray:
        raise ConfigError(
            "extractor precomputed gives features, not class logits; the Inception Score needs "
            "an extractor with logits (digits-cnn, inception-v3)."
        )

    def describe(self) -> dict[str, str]:
        return {"extractor": PRECOMPUTED, "weights": "none", "size": "native", "resize": "none"}


def is_precomputed(spec: Any) -> bool:
    """Whether an ``extractor`` parameter names precomputed features."""
    return isinstance(spec, PrecomputedFeatures) or (isinstance(spec, str) and spec == PRECOMPUTED)


def make_extractor(spec: Any, weights: str | Path | None = None) -> FeatureExtractor:
    """:func:`~evalkit.assets.image_features.get_extractor`, plus ``precomputed``.

    Raises:
        ConfigError: ``precomputed`` with a weights file, or what ``get_extractor`` raises.
    """
    if not is_precomputed(spec):
        return get_extractor(spec, weights)
    if weights is not None:
        raise ConfigError("extractor precomputed takes no weights (the features are given).")
    return spec if isinstance(spec, PrecomputedFeatures) else PrecomputedFeatures()


def sample_features(metric: str, batch: Sequence[Sample]) -> np.ndarray:
    """The precomputed features of a batch (``outputs["features"]``), stacked ``(N, D)``."""

    def features_of(s: Sample) -> Any:
        ref = s.outputs.get("features") if s.outputs else None
        if ref is None:
            has_image = bool(s.outputs) and "image" in s.outputs
            fix = (
                "it holds an image: drop `extractor: precomputed` to extract its features"
                if has_image
                else "score it with the features: adapter (features:FILE.npz)"
            )
            raise InputError(
                f"{metric}: sample '{s.id}' has no precomputed features (outputs['features']); "
                f"{fix}."
            )
        return ref

    rows = decode_batch(
        metric,
        batch,
        features_of,
        decode_feature_reference,
        lambda sh: str(sh[0]),
        "precomputed features differ in dimension ({listing}); use one extractor.",
    )
    return np.stack(rows) if rows else np.zeros((0, 0))
