"""Fréchet Inception Distance: the ``fid`` metric (:class:`FID`) and :func:`frechet_distance`.

The Fréchet distance is computed in float64 from eigenvalues:
``tr sqrt(S1 S2) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1)))``, two symmetric eigendecompositions
instead of scipy's general ``sqrtm`` (same value; see :func:`frechet_distance`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from evalkit.data.images import check_finite
from evalkit.errors import InputError
from evalkit.metrics.image._base import _ImageMetric
from evalkit.metrics.image.reference import feature_stats
from evalkit.types import Stats

__all__ = ["FID", "frechet_distance"]


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

    With ``extractor: precomputed`` the samples are feature vectors computed elsewhere
    (Inception, CLIP, DINOv2...; the ``features:`` adapter) and ``reference`` an ``(N, D)``
    feature array or a statistics file saved from one: the same float64 statistics and Fréchet
    distance, no resizing, ``extractor:precomputed`` and the reference array's SHA-256 in the
    signature (:mod:`evalkit.metrics.image.precomputed`).

    References:
        Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
        Nash Equilibrium"; pytorch-fid 0.3.0 ``calculate_frechet_distance`` (parity in
        ``tests/parity/test_image_parity.py``).

    Example:
        >>> import numpy as np
        >>> from evalkit.assets.image_features import digits_data
        >>> images, _, _, held = digits_data()
        >>> FID().score_images(images[held[:100]], images[held[:100]]).value < 1e-6
        True
    """

    name: ClassVar[str] = "fid"

    def setup(self) -> None:
        super().setup()
        self.resample = isinstance(self.p.extractor, str) and self.p.extractor == "digits-cnn"

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
        generated = self._matrix(stats)
        self._check_dims(generated, ref)
        mu, sigma = feature_stats(generated, self._generated)
        return {"fid": frechet_distance(mu, sigma, ref.mu, ref.sigma)}

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Bootstrap FIDs from the ``(B, n)`` resample counts, without building resamples.

        A resample's mean and covariance are count-weighted sums of the features and of their
        pairwise products (the features centred on the full set's mean first, which keeps the
        covariance free of cancellation), as one matrix product of the counts with those
        products per chunk of samples; then :func:`frechet_distance` per resample, as
        :meth:`aggregate` computes it. Equal to :meth:`aggregate` of each resample to rounding.
        None (each resample aggregated, with its errors) when the sizes make the covariance
        singular.
        """
        if not stats:
            return None
        ref = self.reference_stats()
        generated = self._matrix(stats)
        n, d = generated.shape
        if ref.n <= len(ref.mu) or n <= d:
            return None
        self._check_dims(generated, ref)
        centre = generated.mean(axis=0)
        x = generated - centre
        upper = np.triu_indices(d)
        # Samples per chunk: the (chunk, d(d+1)/2) products stay near 32 MB.
        chunk = max(1, 4_000_000 // len(upper[0]))

        def block(counts: np.ndarray) -> dict[str, np.ndarray]:
            first = np.zeros((counts.shape[0], d))
            second = np.zeros((counts.shape[0], len(upper[0])))
            for start in range(0, n, chunk):
                rows = slice(start, start + chunk)
                c, xs = counts[:, rows], x[rows]
                first += c @ xs
                second += c @ (xs[:, upper[0]] * xs[:, upper[1]])
            drawn = counts.sum(axis=1)
            out = np.empty(counts.shape[0])
            square = np.empty((d, d))
            for b in range(counts.shape[0]):
                m = first[b] / drawn[b]
                square[upper] = second[b]
                square.T[upper] = second[b]
                sigma = (square - drawn[b] * np.outer(m, m)) / (drawn[b] - 1.0)
                out[b] = frechet_distance(m + centre, sigma, ref.mu, ref.sigma)
            return {"fid": out}

        return block
