"""Reference sets of the image metrics: their statistics, statistics files and the NaN check.

``reference`` names the real images: a folder of PNG/JPEG, an ``.npz``/``.npy`` image array,
or a statistics file written by :func:`save_reference_stats` (read back, with a check of the
extractor, by :func:`load_reference_stats`); with ``extractor: precomputed``, an ``(N, D)``
feature array (``.npy``/``.npz``; :mod:`evalkit.metrics.image.precomputed`) or a statistics file
saved from one. Each becomes a :class:`ReferenceStats`, memoised
per process for a path. :func:`feature_stats` gives the mean and the covariance of a feature
matrix; covariances are unbiased (``ddof=1``, as pytorch-fid's ``np.cov(rowvar=False)``).
:func:`~evalkit.data.images.check_finite` turns NaN or infinity in features or statistics into
an InputError that names the row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.assets.image_features import FeatureExtractor

# check_finite lives with the inputs it checks (evalkit.data.images); still importable here.
from evalkit.data.images import check_finite as check_finite
from evalkit.data.images import load_features, load_images
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.image.precomputed import PrecomputedFeatures, make_extractor

__all__ = ["ReferenceStats", "feature_stats", "load_reference_stats", "save_reference_stats"]


# ------------------------------------------------------------------------------ formulas


def feature_stats(features: np.ndarray, what: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (``ddof=1``) of ``(N, d)`` features, in float64.

    Raises:
        InputError: ``N <= d``: the covariance would be singular (rank at most ``N - 1``).

    >>> mu, sigma = feature_stats(np.array([[0.0], [2.0]]))
    >>> mu.tolist(), sigma.tolist()
    ([1.0], [[2.0]])
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise InputError(f"{what}: expected (N, d) features, got shape {f.shape}.")
    n, d = f.shape
    if n <= d:
        raise InputError(
            f"{what}: {n} samples for {d} feature dimensions; the covariance is singular. FID "
            f"needs more samples than dimensions (at least {d + 1}; far more in practice, since "
            "FID is biased upwards at small N)."
        )
    mu = f.mean(axis=0)
    centred = f - mu
    sigma = centred.T @ centred / (n - 1)
    return mu, sigma


# ------------------------------------------------------------------------------ references


@dataclass(frozen=True)
class ReferenceStats:
    """Features (or their mean and covariance) of a reference image set.

    Attributes:
        mu: Mean feature vector.
        sigma: Unbiased covariance.
        features: The features themselves (needed by KID), or None.
        n: Number of reference images.
        sha256: SHA-256 of the reference pixels (or of the precomputed feature array).
        extractor: The extractor's signature fields (``describe()``).
    """

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None
    n: int
    sha256: str
    extractor: dict[str, str]


def _from_features(feats: np.ndarray, sha: str, ext: FeatureExtractor, what: str) -> ReferenceStats:
    mu, sigma = feature_stats(feats, what)
    return ReferenceStats(mu, sigma, feats, len(feats), sha, ext.describe())


def save_reference_stats(
    images: Any,
    path: str | Path,
    *,
    extractor: Any = "digits-cnn",
    weights: str | Path | None = None,
    keep_features: bool = True,
) -> Path:
    """Compute reference statistics once and write them to ``path`` (``.npz``).

    The file holds ``mu``, ``sigma``, ``n``, the pixels' SHA-256, the extractor's name, weights
    hash and resizing, and (``keep_features``) the features, which KID needs. Give it to a metric
    as ``reference: PATH``; a file made with another extractor is refused. With
    ``extractor="precomputed"``, ``images`` is an ``(N, D)`` feature array or ``.npy``/``.npz``
    file, and the SHA-256 is the array's.
    """
    ext = make_extractor(extractor, weights)
    if isinstance(ext, PrecomputedFeatures):
        fs = load_features(images, what="reference features")
        stats = _from_features(fs.features, fs.sha256, ext, f"reference features {fs.source}")
    else:
        images = load_images(images, what="reference images")
        feats = ext.features(images.images, images.source)
        stats = _from_features(feats, images.sha256, ext, "ref")
    out = Path(path)
    arrays: dict[str, Any] = {
        "mu": stats.mu,
        "sigma": stats.sigma,
        "n": np.array(stats.n),
        "sha256": np.array(stats.sha256),
        **{f"extractor_{k}": np.array(v) for k, v in stats.extractor.items()},
    }
    if keep_features and stats.features is not None:
        arrays["features"] = stats.features
    with open(out, "wb") as fh:
        np.savez(fh, **arrays)
    return out


def _is_stats_file(path: Path) -> bool:
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return "mu" in data.files and "sigma" in data.files
    except (OSError, ValueError):
        return False


_STATS_FIX = "recompute the file with save_reference_stats from the reference images."


def _check_stats_file(path: Path) -> None:
    """A statistics file's mean and covariance are finite, or InputError naming the file.

    Run when a suite is built, before any model call; the features (large, and read anyway
    when the scores are computed) are checked by :func:`load_reference_stats`.
    """
    if not _is_stats_file(path):
        return
    with np.load(path, allow_pickle=False) as data:
        for key in ("mu", "sigma"):
            check_finite(data[key], f"{path}: reference statistics '{key}'", _STATS_FIX)


def load_reference_stats(path: str | Path, ext: FeatureExtractor) -> ReferenceStats:
    """Read a statistics file written by :func:`save_reference_stats`, checking the extractor."""
    p = Path(path)
    with np.load(p, allow_pickle=False) as data:
        fields = {k[len("extractor_") :]: str(data[k]) for k in data.files if k.startswith("ext")}
        want = ext.describe()
        if fields != want:
            raise ConfigError(
                f"{p}: reference statistics were computed with {fields}, not with this "
                f"metric's extractor {want}; recompute them with save_reference_stats."
            )
        feats = np.asarray(data["features"]) if "features" in data.files else None
        mu = np.asarray(data["mu"], dtype=np.float64)
        sigma = np.asarray(data["sigma"], dtype=np.float64)
        for key, value in (("mu", mu), ("sigma", sigma), ("features", feats)):
            if value is not None:
                check_finite(value, f"{p}: reference statistics '{key}'", _STATS_FIX)
        return ReferenceStats(mu, sigma, feats, int(data["n"]), str(data["sha256"]), fields)


_MEMO: dict[tuple[str, float, str], ReferenceStats] = {}
_MEMO_LOCK = threading.Lock()


def _reference(source: Any, ext: FeatureExtractor) -> ReferenceStats:
    """Reference statistics from a path (memoised per process) or an in-memory image set."""
    if isinstance(source, ReferenceStats):
        return source
    if isinstance(source, str | Path):
        p = Path(source)
        if not p.exists():
            raise InputError(f"{p}: reference images not found; check the metric's reference.")
        key = (str(p.resolve()), p.stat().st_mtime, repr(sorted(ext.describe().items())))
        with _MEMO_LOCK:
            if key in _MEMO:
                return _MEMO[key]
        if _is_stats_file(p):
            stats = load_reference_stats(p, ext)
        elif isinstance(ext, PrecomputedFeatures):
            fs = load_features(p, what="reference features")
            stats = _from_features(fs.features, fs.sha256, ext, f"reference features {p}")
        else:
            images = load_images(p, what="reference images")
            feats = ext.features(images.images, str(p))
            stats = _from_features(feats, images.sha256, ext, f"reference images {p}")
        with _MEMO_LOCK:
            _MEMO[key] = stats
        return stats
    if isinstance(ext, PrecomputedFeatures):
        fs = load_features(source, what="reference features")
        return _from_features(fs.features, fs.sha256, ext, "reference features")
    images = load_images(source, what="reference images")
    feats = ext.features(images.images, "reference images")
    return _from_features(feats, images.sha256, ext, "reference images")
