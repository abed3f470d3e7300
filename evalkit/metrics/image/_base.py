"""What FID, KID and Inception Score share: the ``_ImageMetric`` base and ``score_images``.

A sample of these metrics is one generated image (``outputs["image"]``: a file path,
``file.npz#row`` or an inline PNG, what ``generate_images`` requests return). Its statistic is
the extractor's feature vector (FID, KID) or class logits (IS); the corpus value is computed
from all of them against the reference set named by ``reference``
(:mod:`evalkit.metrics.image.reference`). Numbers depend on the extractor (``digits-cnn`` by
default; ``inception-v3`` for standard FID), its weights, the resizing and the sample counts,
so all of those are in the signature (the generated count is the row's ``n``). With
``extractor: precomputed`` (FID and KID), a sample is a feature vector computed elsewhere
(``outputs["features"]``, from the ``features:`` adapter) and the reference an ``(N, D)``
feature array (:mod:`evalkit.metrics.image.precomputed`).

Conventions the three metrics share, decided once:

- KID and IS draw subsets or splits from the statistics sorted into a canonical order
  (``_canonical``), so their values do not depend on the order the samples came in.
- Bootstrap intervals: FID on features of at most 64 dimensions (the digits CNN) is resampled
  like other metrics; FID on wider features, KID and IS report no interval (each resample costs
  an eigendecomposition of the full covariance, or 100 kernel subsets); KID and IS carry their
  own spread in ``kid_std`` and ``inception_score_std``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from evalkit._version import __version__
from evalkit.assets.image_features import FeatureExtractor
from evalkit.data.images import (
    ImageSet,
    check_finite,
    decode_reference,
    load_features,
    load_images,
)
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.image._stack import decode_batch
from evalkit.metrics.image.precomputed import is_precomputed, make_extractor, sample_features
from evalkit.metrics.image.reference import (
    ReferenceStats,
    _check_stats_file,
    _reference,
)
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Score, Stats

__all__ = ["score_images"]

#: Above this many feature dimensions FID is not bootstrapped (an eigendecomposition each).
_RESAMPLE_MAX_DIMS = 64


def _canonical(rows: np.ndarray) -> np.ndarray:
    """Rows in an order that ignores the input order: sorted by a hash of their bytes.

    Sorting by value would put similar images next to each other (IS splits would each hold
    one class); a hash order is as well mixed as a random one, and the same on every run. The
    hash reads the values rounded to 6 decimals, so that last-bit differences (features computed
    in other batch sizes) do not reorder the rows.
    """
    if len(rows) == 0:
        return rows
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    rounded = np.round(rows, 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    keys = [hashlib.blake2b(r.tobytes(), digest_size=8).digest() for r in rounded]
    return rows[np.array(sorted(range(len(rows)), key=keys.__getitem__), dtype=np.int64)]


# ------------------------------------------------------------------------------ metrics


def sample_images(metric: str, batch: Sequence[Sample]) -> np.ndarray:
    """The generated images of a batch (``outputs["image"]``), stacked as uint8 NHWC."""

    def image_of(s: Sample) -> Any:
        ref = s.outputs.get("image") if s.outputs else None
        if ref is None and s.outputs and "features" in s.outputs:
            raise InputError(
                f"{metric}: sample '{s.id}' holds precomputed features (outputs['features']), "
                "not an image; set the metric's `extractor: precomputed` to score them."
            )
        if ref is None:
            raise InputError(
                f"{metric}: sample '{s.id}' has no image (outputs['image']); score it with a "
                "model that serves generate_images requests (images:FOLDER, images:FILE.npz, "
                "images:python:MODULE:FN)."
            )
        return ref

    arrays = decode_batch(
        metric,
        batch,
        image_of,
        decode_reference,
        lambda sh: f"{sh[0]}x{sh[1]}x{sh[2]}",
        "generated images differ in size or channels ({listing}); generate one size.",
    )
    return np.stack(arrays) if arrays else np.zeros((0, 1, 1, 1), np.uint8)


class _ImageMetric(Metric):
    """Shared parameters and plumbing of FID, KID and IS."""

    requires: ClassVar[frozenset[str]] = frozenset({"image"})
    request_kind: ClassVar[str] = "generate_images"
    higher_is_better: ClassVar[bool] = False
    #: Parameters that name files; a suite resolves them relative to the suite file.
    path_params: ClassVar[tuple[str, ...]] = ("reference", "weights")
    #: Whether bootstrap intervals are computed (see the module docstring).
    resample: bool = False
    #: Set-level: one image has no FID, so comparisons count no per-sample wins or losses.
    per_sample_outcomes: ClassVar[bool] = False
    #: Resampling with replacement duplicates images, which biases FID upwards; the
    #: bias-corrected interval contains the estimate (``stats.bootstrap_ci``).
    interval_method: ClassVar[str] = "bc-median"
    needs_reference: ClassVar[bool] = True

    class Params(MetricParams):
        """The extractor and the reference set, shared by FID, KID and IS."""

        extractor: str | Callable[..., Any] = Field(
            "digits-cnn",
            description=(
                "feature extractor: digits-cnn, inception-v3, python:MODULE:ATTR, or "
                "precomputed (the samples' own features; FID and KID)"
            ),
        )
        weights: str | Path | None = Field(None, description="weights file of the extractor")
        reference: str | Path | None = Field(
            None,
            description=(
                "real images: a folder, .npz/.npy images or a statistics .npz (precomputed: "
                "an (N, D) .npy/.npz feature array or a statistics .npz)"
            ),
        )

        @field_validator("extractor", mode="before")
        @classmethod
        def _extractor_kind(cls, value: Any) -> Any:
            if not isinstance(value, str) and not callable(value):
                raise ValueError(
                    "must be a name (digits-cnn, inception-v3, python:MODULE:ATTR) or a "
                    f"callable, got {type(value).__name__}"
                )
            return value

        @field_validator("reference", mode="before")
        @classmethod
        def _reference_kind(cls, value: Any) -> Any:
            if value is not None and not isinstance(value, str | Path):
                raise ValueError(
                    "must be a path (a folder, .npz/.npy images or a statistics .npz), "
                    f"got {type(value).__name__}"
                )
            return value

    p: Params

    def setup(self) -> None:
        """Check that the reference exists; record the extractor by name and paths as text."""
        extractor, weights, reference = self.p.extractor, self.p.weights, self.p.reference
        if reference is not None and not Path(reference).exists():
            raise ConfigError(
                f"{self.name}: reference {reference} not found; give a folder of images, a "
                ".npz/.npy image file or a statistics .npz."
            )
        self._reference_source: Any = reference
        self._ext: FeatureExtractor | None = None
        self._ref: ReferenceStats | None = None
        self._extractor_spec = extractor
        self.precomputed = is_precomputed(extractor)
        if self.precomputed and weights is not None:
            raise ConfigError(
                f"{self.name}: extractor precomputed takes no weights (the features are given); "
                "drop `weights:`."
            )
        ext_name = extractor if isinstance(extractor, str) else getattr(extractor, "name", None)
        self.params.update(
            extractor=extractor if isinstance(extractor, str) else str(ext_name or "callable"),
            weights=None if weights is None else str(weights),
            reference=None if reference is None else str(reference),
        )
        self.resample = False

    # -- plumbing ------------------------------------------------------------------------

    @property
    def extractor(self) -> FeatureExtractor:
        """The feature extractor (loaded on first use)."""
        if self._ext is None:
            try:
                self._ext = make_extractor(self._extractor_spec, self.params["weights"])
            except ConfigError as exc:
                raise ConfigError(f"{self.name}: {exc}") from None
        return self._ext

    def reference_stats(self) -> ReferenceStats:
        """The reference set's statistics (computed or read once)."""
        if self._ref is None:
            if self._reference_source is None:
                raise ConfigError(
                    f"{self.name}: no reference images; set `reference:` to a folder, a "
                    ".npz/.npy image file or a statistics file."
                )
            self._ref = _reference(self._reference_source, self.extractor)
        return self._ref

    def request_options(self) -> dict[str, Any]:
        # Called when a suite builds its tasks, before any model call: a metric that compares
        # against a reference must have one, and its files must exist.
        if self.needs_reference and self._reference_source is None:
            raise ConfigError(
                f"{self.name}: set `reference:` to the real images (a folder, a .npz/.npy image "
                "file or a statistics .npz)."
            )
        if self.needs_reference and isinstance(self._reference_source, str | Path):
            _check_stats_file(Path(self._reference_source))
            if self.precomputed:  # a feature array: read (and checked) now, memoised
                self.reference_stats()
        return {}

    def signature_fields(self) -> dict[str, Any]:
        # Files are recorded by content (the reference pixels' SHA-256 and count, the weights'
        # SHA-256), not by path, so that the same data elsewhere gives the same signature.
        fields: dict[str, Any] = {
            k: v
            for k, v in sorted(self.params.items())
            if k not in ("extractor", "weights", "reference")
        }
        fields.update(self.extractor.describe())
        if self.needs_reference:
            if self._reference_source is None:
                fields["ref"] = "none"
            else:
                ref = self.reference_stats()
                fields["ref"] = ref.sha256[:12]
                fields["n_ref"] = ref.n
        fields["evalkit"] = __version__
        return fields

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        """Corpus-only metrics: a single image has no FID/KID/IS of its own (NaN)."""
        return {k: [float("nan")] * len(stats) for k in self.value_names()}

    def _features(self, images: np.ndarray, where: str) -> np.ndarray:
        return self.extractor.features(images, where)

    @property
    def _generated(self) -> str:
        """What the generated statistics are, for error messages."""
        what = "features" if self.precomputed else "images"
        return f"{self.name}: generated {what}"

    def _check_dims(self, generated: np.ndarray, ref: ReferenceStats) -> None:
        """InputError with both shapes unless generated and reference features agree in width."""
        if generated.shape[1] == ref.mu.shape[0]:
            return
        theirs = (
            f"reference features {ref.features.shape}"
            if ref.features is not None
            else f"reference statistics of {ref.n} samples, mean {ref.mu.shape}"
        )
        raise InputError(
            f"{self._generated} have shape {generated.shape}, {theirs}: the feature dimensions "
            "differ; compute both with the same extractor."
        )

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        if not batch:
            return []
        if self.precomputed:
            feats: list[Stats] = sample_features(self.name, batch).tolist()
            return feats
        images = sample_images(self.name, batch)
        rows: list[Stats] = self._features(images, "generated images").tolist()
        return rows

    def _matrix(self, stats: Sequence[Stats]) -> np.ndarray:
        arr = np.asarray(stats, dtype=np.float64)
        if arr.ndim != 2:
            raise InputError(f"{self.name}: statistics must be equal-length feature rows.")
        # Rows come from the record (samples.jsonl, in dataset order) or from the extractor.
        what = "generated features" if self.precomputed else "generated images' features"
        check_finite(arr, f"{self.name}: {what}", "rerun those samples.")
        return arr

    def score_images(self, generated: Any, reference: Any = None) -> Score:
        """Score a set of generated images (the functional twins' path).

        Args:
            generated: A folder, a ``.npz``/``.npy`` file, an array or a list of images; with
                ``extractor="precomputed"``, an ``(N, D)`` feature array or ``.npy``/``.npz``.
            reference: The reference images or statistics (default: the ``reference``
                parameter); with ``precomputed``, reference features or statistics.
        """
        if reference is not None:
            self._reference_source = reference
            self._ref = None
        stats: list[Stats]
        if self.precomputed:
            stats = load_features(generated, what="generated features").features.tolist()
        else:
            images: ImageSet = load_images(generated, what="generated images")
            stats = self._features(images.images, images.source).tolist()
        values = self.aggregate(stats)
        head = self.value_names()[0]
        return Score(
            name=head,
            value=values[head],
            signature=self.signature(),
            n=len(stats),
            details=values,
        )


def score_images(metric: str, generated: Any, reference: Any = None, **params: Any) -> Score:
    """Score generated images with ``fid``, ``kid`` or ``inception_score`` (the twins' body)."""
    from evalkit.registry import METRICS

    cls = METRICS.get(metric)
    if not issubclass(cls, _ImageMetric):
        raise ConfigError(f"{metric} is not an image metric; use evalkit.metrics.score.")
    built = cls.build(params)
    assert isinstance(built, _ImageMetric)
    return built.score_images(generated, reference)
