"""Image-generation metrics: FID, KID and Inception Score, on features of a pluggable extractor.

A sample is one generated image (``outputs["image"]``: a file path, ``file.npz#row`` or an inline
PNG, what ``generate_images`` requests return). Its statistic is the extractor's feature vector
(FID, KID) or class logits (IS); the corpus value is computed from all of them against the
reference set named by ``reference`` (a folder of PNG/JPEG, an ``.npz``/``.npy`` image array, or
a statistics file written by :func:`save_reference_stats`). Numbers depend on the extractor
(``digits-cnn`` by default; ``inception-v3`` for standard FID), its weights, the resizing and the
sample counts, so all of those are in the signature (the generated count is the row's ``n``).

Conventions, decided once:

- Covariances are unbiased (``ddof=1``, as pytorch-fid's ``np.cov(rowvar=False)``).
- The Fréchet distance is computed in float64 from eigenvalues:
  ``tr sqrt(S1 S2) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1)))``, two symmetric eigendecompositions
  instead of scipy's general ``sqrtm`` (same value; see :func:`frechet_distance`).
- KID and IS draw subsets or splits from the statistics sorted into a canonical order, so their
  values do not depend on the order the samples came in. Their ``*_std`` values are population
  standard deviations (``ddof=0``) over the subsets or splits.
- Bootstrap intervals: FID on features of at most 64 dimensions (the digits CNN) is resampled
  like other metrics; FID on wider features, KID and IS report no interval (each resample costs
  an eigendecomposition of the full covariance, or 100 kernel subsets); KID and IS carry their
  own spread in ``kid_std`` and ``inception_score_std``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit import __version__
from evalkit._validate import check_type
from evalkit.errors import ConfigError, InputError
from evalkit.image_features import FeatureExtractor, get_extractor
from evalkit.image_io import ImageSet, decode_reference, load_images
from evalkit.metrics.base import Metric
from evalkit.types import Sample, Score, Stats

__all__ = [
    "FID",
    "KID",
    "InceptionScore",
    "ReferenceStats",
    "feature_stats",
    "frechet_distance",
    "inception_score_from_logits",
    "kid_from_features",
    "load_reference_stats",
    "save_reference_stats",
    "score_images",
]

#: Above this many feature dimensions FID is not bootstrapped (an eigendecomposition each).
_RESAMPLE_MAX_DIMS = 64


def check_finite(values: np.ndarray, where: str, fix: str) -> None:
    """InputError naming the first row (or index) of ``values`` that holds NaN or infinity.

    A NaN in a mean, a covariance or a feature row would otherwise give a silent NaN (a null
    score), an infinite one or a failed eigendecomposition, never an error.

    >>> check_finite(np.array([[1.0, 2.0], [np.nan, 0.0]]), "f.npz: 'features'", "recompute it.")
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: f.npz: 'features' row 1 (of 2) holds NaN or infinity; recompute it.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or np.isfinite(arr).all():
        return
    bad = ~np.isfinite(arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1))
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    kind = "row" if arr.ndim > 1 else "index"
    raise InputError(f"{where} {kind} {row} (of {len(arr)}) holds NaN or infinity; {fix}")


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


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)`` (Fréchet 1957; Dowson and
    Landau 1982; Heusel et al. 2017 for FID). ``S1 S2`` is similar to the symmetric positive
    semi-definite ``sqrt(S1) S2 sqrt(S1)``, so ``tr sqrt(S1 S2)`` is the sum of the square roots
    of that matrix's eigenvalues; evalkit computes it with two symmetric eigendecompositions in
    float64 (eigenvalues that rounding pushes below zero are clipped to zero), which gives
    scipy ``sqrtm``'s value (pytorch-fid) without its general Schur iteration, and no complex
    parts to discard.

    Example:
        >>> mu = np.zeros(2); s = np.eye(2)
        >>> frechet_distance(mu, s, mu + 1.0, s)  # shifted means: ||mu1 - mu2||^2
        2.0
        >>> round(frechet_distance(mu, s, mu, 4.0 * s), 12)  # tr(S)(1 - 2)^2
        2.0
    """
    m1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    m2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if m1.shape != m2.shape or s1.shape != s2.shape or s1.shape != (m1.size, m1.size):
        raise InputError(
            f"frechet_distance: shapes do not match (means {m1.shape} and {m2.shape}, "
            f"covariances {s1.shape} and {s2.shape}); use features of one extractor."
        )
    for name, value in (("mu1", m1), ("sigma1", s1), ("mu2", m2), ("sigma2", s2)):
        check_finite(value, f"frechet_distance: {name}", "give finite statistics.")
    s1 = (s1 + s1.T) / 2.0
    s2 = (s2 + s2.T) / 2.0
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


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


# ------------------------------------------------------------------------------ references


@dataclass(frozen=True)
class ReferenceStats:
    """Features (or their mean and covariance) of a reference image set.

    Attributes:
        mu: Mean feature vector.
        sigma: Unbiased covariance.
        features: The features themselves (needed by KID), or None.
        n: Number of reference images.
        sha256: SHA-256 of the reference pixels.
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
    as ``reference: PATH``; a file made with another extractor is refused.
    """
    ext = get_extractor(extractor, weights)
    images = load_images(images, what="reference images")
    stats = _from_features(ext.features(images.images, images.source), images.sha256, ext, "ref")
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
        else:
            images = load_images(p, what="reference images")
            feats = ext.features(images.images, str(p))
            stats = _from_features(feats, images.sha256, ext, f"reference images {p}")
        with _MEMO_LOCK:
            _MEMO[key] = stats
        return stats
    images = load_images(source, what="reference images")
    feats = ext.features(images.images, "reference images")
    return _from_features(feats, images.sha256, ext, "reference images")


# ------------------------------------------------------------------------------ metrics


def sample_images(metric: str, batch: Sequence[Sample]) -> np.ndarray:
    """The generated images of a batch (``outputs["image"]``), stacked as uint8 NHWC."""
    arrays = []
    for s in batch:
        ref = s.outputs.get("image") if s.outputs else None
        if ref is None:
            raise InputError(
                f"{metric}: sample '{s.id}' has no image (outputs['image']); score it with a "
                "model that serves generate_images requests (images:FOLDER, images:FILE.npz, "
                "images:python:MODULE:FN)."
            )
        try:
            arrays.append(decode_reference(ref))
        except InputError as exc:
            raise InputError(f"{metric}: sample '{s.id}': {exc}") from None
    if arrays and len({a.shape for a in arrays}) > 1:
        first = {a.shape: s.id for a, s in zip(arrays, batch, strict=True)}
        listing = ", ".join(f"'{i}' {sh[0]}x{sh[1]}x{sh[2]}" for sh, i in first.items())
        raise InputError(
            f"{metric}: generated images differ in size or channels ({listing}); generate one size."
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

    def _setup(self, extractor: Any, weights: Any, reference: Any, **params: Any) -> None:
        if not isinstance(extractor, str) and not callable(extractor):
            raise ConfigError(
                f"{self.name}: extractor must be a name (digits-cnn, inception-v3, "
                f"python:MODULE:ATTR) or a callable, got {type(extractor).__name__}."
            )
        if weights is not None:
            check_type(self.name, "weights", weights, (str, Path))
        if reference is not None and not isinstance(reference, str | Path):
            raise ConfigError(
                f"{self.name}: reference must be a path (a folder, .npz/.npy images or a "
                f"statistics .npz), got {type(reference).__name__}."
            )
        if reference is not None and not Path(reference).exists():
            raise ConfigError(
                f"{self.name}: reference {reference} not found; give a folder of images, a "
                ".npz/.npy image file or a statistics .npz."
            )
        self._reference_source: Any = reference
        self._ext: FeatureExtractor | None = None
        self._ref: ReferenceStats | None = None
        ext_name = extractor if isinstance(extractor, str) else getattr(extractor, "name", None)
        super().__init__(
            extractor=extractor if isinstance(extractor, str) else str(ext_name or "callable"),
            weights=None if weights is None else str(weights),
            reference=None if reference is None else str(reference),
            **params,
        )
        self._extractor_spec = extractor
        self.resample = False

    # -- plumbing ------------------------------------------------------------------------

    @property
    def extractor(self) -> FeatureExtractor:
        """The feature extractor (loaded on first use)."""
        if self._ext is None:
            try:
                self._ext = get_extractor(self._extractor_spec, self.params["weights"])
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

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        if not batch:
            return []
        images = sample_images(self.name, batch)
        rows: list[Stats] = self._features(images, "generated images").tolist()
        return rows

    def _matrix(self, stats: Sequence[Stats]) -> np.ndarray:
        arr = np.asarray(stats, dtype=np.float64)
        if arr.ndim != 2:
            raise InputError(f"{self.name}: statistics must be equal-length feature rows.")
        # Rows come from the record (samples.jsonl, in dataset order) or from the extractor.
        check_finite(arr, f"{self.name}: generated images' features", "rerun those samples.")
        return arr

    def score_images(self, generated: Any, reference: Any = None) -> Score:
        """Score a set of generated images (the functional twins' path).

        Args:
            generated: A folder, a ``.npz``/``.npy`` file, an array or a list of images.
            reference: The reference images or statistics (default: the ``reference``
                parameter).
        """
        if reference is not None:
            self._reference_source = reference
            self._ref = None
        images: ImageSet = load_images(generated, what="generated images")
        stats: list[Stats] = self._features(images.images, images.source).tolist()
        values = self.aggregate(stats)
        head = self.value_names()[0]
        return Score(
            name=head,
            value=values[head],
            signature=self.signature(),
            n=len(stats),
            details=values,
        )


class FID(_ImageMetric):
    """Fréchet Inception Distance between generated and reference image features.

    ``FID = ||mu_g - mu_r||^2 + tr(S_g + S_r - 2 sqrt(S_g S_r))`` over the extractor's features
    (unbiased covariances; lower is better; 0 for identical feature sets). FID is biased upwards
    at small N, so compare values at equal sample counts: the generated count is the result's
    ``n``, the reference count is ``n_ref`` in the signature.

    Args:
        extractor: ``digits-cnn`` (default; offline digits-FID), ``inception-v3`` (standard FID
            with pytorch-fid's weights from a local file) or ``python:MODULE:ATTR``; in Python,
            any ``torch.nn.Module`` or callable.
        weights: A weights file for the extractor (Inception: or ``EVALKIT_INCEPTION_WEIGHTS``).
        reference: The real images: a folder, an ``.npz``/``.npy`` array or a statistics file
            from :func:`save_reference_stats`.

    References:
        Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
        Nash Equilibrium"; pytorch-fid 0.3.0 ``calculate_frechet_distance`` (parity in
        ``tests/parity/test_image_parity.py``).

    Example:
        >>> import numpy as np
        >>> from evalkit.image_features import digits_data
        >>> images, _, _, held = digits_data()
        >>> FID().score_images(images[held[:100]], images[held[:100]]).value < 1e-6
        True
    """

    name: ClassVar[str] = "fid"

    def __init__(
        self,
        *,
        extractor: str = "digits-cnn",
        weights: str | None = None,
        reference: str | None = None,
    ) -> None:
        self._setup(extractor, weights, reference)
        self.resample = isinstance(extractor, str) and extractor == "digits-cnn"

    def value_names(self) -> tuple[str, ...]:
        return ("fid",)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if len(stats) == 0:
            return {"fid": float("nan")}
        ref = self.reference_stats()
        if ref.n <= len(ref.mu):
            raise InputError(
                f"fid: reference images: {ref.n} samples for {len(ref.mu)} feature dimensions; "
                f"the covariance is singular. Give at least {len(ref.mu) + 1} reference images."
            )
        mu, sigma = feature_stats(self._matrix(stats), "fid: generated images")
        return {"fid": frechet_distance(mu, sigma, ref.mu, ref.sigma)}


class KID(_ImageMetric):
    """Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel, over subsets.

    ``k(x, y) = (x.y / d + 1)^3``; ``kid`` is the mean of ``subsets`` unbiased MMD^2 estimates
    on random subsets of ``min(subset_size, N_gen, N_ref)`` images per set, ``kid_std`` their
    standard deviation. Unbiased, so it can be slightly negative for equal distributions.

    Args:
        extractor: As for :class:`FID`.
        weights: As for :class:`FID`.
        reference: As for :class:`FID` (a statistics file must keep its features).
        subsets: Number of subsets (torchmetrics' and torch-fidelity's default, 100).
        subset_size: Images per subset (1000, as those libraries).
        seed: Seed of the subset draws.

    References:
        Binkowski et al. (2018), "Demystifying MMD GANs"; torchmetrics 1.x
        ``KernelInceptionDistance`` (parity in ``tests/parity/test_image_parity.py``).

    Example:
        >>> from evalkit.image_features import digits_data
        >>> images, _, _, held = digits_data()
        >>> s = KID(subsets=10).score_images(images[held[:100]], images[held[100:200]])
        >>> abs(s.value) < 0.1, sorted(s.details)
        (True, ['kid', 'kid_std'])
    """

    name: ClassVar[str] = "kid"

    def __init__(
        self,
        *,
        extractor: str = "digits-cnn",
        weights: str | None = None,
        reference: str | None = None,
        subsets: int = 100,
        subset_size: int = 1000,
        seed: int = 0,
    ) -> None:
        for key, value, low in (("subsets", subsets, 1), ("subset_size", subset_size, 2)):
            check_type(self.name, key, value, int)
            if value < low:
                raise ConfigError(f"{self.name}: {key}={value} must be at least {low}.")
        check_type(self.name, "seed", seed, int)
        self._setup(
            extractor,
            weights,
            reference,
            subsets=subsets,
            subset_size=subset_size,
            seed=seed,
        )

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
        mean, std = kid_from_features(
            self._matrix(stats),
            ref.features,
            subsets=self.params["subsets"],
            subset_size=self.params["subset_size"],
            seed=self.params["seed"],
        )
        return {"kid": mean, "kid_std": std}

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        version = fields.pop("evalkit")
        return {**fields, "kernel": "poly3", "evalkit": version}


class InceptionScore(_ImageMetric):
    """Inception Score: ``exp(E_x KL(p(y|x) || p(y)))`` of the extractor's class predictions.

    Higher is better; at most the number of classes (10 for the digits CNN, whose softmax gives
    a "digits IS"; 1008 for pytorch-fid's Inception). Needs no reference set. ``splits``
    consecutive parts of the (canonically ordered) images give the mean and the std.

    Args:
        extractor: As for :class:`FID`; it must give class logits.
        weights: As for :class:`FID`.
        reference: Not used (IS has no reference); must be left unset.
        splits: Number of splits (10, as the original code).

    References:
        Salimans et al. (2016), "Improved Techniques for Training GANs"; torchmetrics 1.x
        ``InceptionScore`` (parity with ``splits: 1`` in ``tests/parity/test_image_parity.py``).

    Example:
        >>> from evalkit.image_features import digits_data
        >>> images, _, _, held = digits_data()
        >>> s = InceptionScore().score_images(images[held])
        >>> 8.0 < s.value <= 10.0
        True
    """

    name: ClassVar[str] = "inception_score"
    higher_is_better: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False

    def __init__(
        self,
        *,
        extractor: str = "digits-cnn",
        weights: str | None = None,
        reference: str | None = None,
        splits: int = 10,
    ) -> None:
        if reference is not None:
            raise ConfigError(f"{self.name}: reference is not used by the Inception Score.")
        check_type(self.name, "splits", splits, int)
        if splits < 1:
            raise ConfigError(f"{self.name}: splits={splits} must be at least 1.")
        self._setup(extractor, weights, None, splits=splits)

    def value_names(self) -> tuple[str, ...]:
        return ("inception_score", "inception_score_std")

    def primary_values(self) -> tuple[str, ...]:
        return ("inception_score",)

    def _features(self, images: np.ndarray, where: str) -> np.ndarray:
        return self.extractor.logits(images, where)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if len(stats) == 0:
            return {"inception_score": float("nan"), "inception_score_std": float("nan")}
        mean, std = inception_score_from_logits(self._matrix(stats), self.params["splits"])
        return {"inception_score": mean, "inception_score_std": std}


def score_images(metric: str, generated: Any, reference: Any = None, **params: Any) -> Score:
    """Score generated images with ``fid``, ``kid`` or ``inception_score`` (the twins' body)."""
    from evalkit.registry import METRICS

    cls = METRICS.get(metric)
    if not issubclass(cls, _ImageMetric):
        raise ConfigError(f"{metric} is not an image metric; use evalkit.metrics.score.")
    built = cls.build(params)
    assert isinstance(built, _ImageMetric)
    return built.score_images(generated, reference)
