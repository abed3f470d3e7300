"""Image metrics against their reference implementations on the same features.

- FID: pytorch-fid 0.3.0's ``calculate_frechet_distance`` (scipy ``sqrtm``) and torchmetrics'
  ``_compute_fid`` (eigenvalues of ``S1 S2``) and ``FrechetInceptionDistance`` with a custom
  feature module. ``pytorch_fid.fid_score`` imports torchvision at module level, which cannot
  be installed next to the CPU torch here (DESIGN.md, "known traps"), so the test compiles that
  one function from the installed package's source file and runs it unchanged (with the loader
  of ``bench/image.py``).
- KID: torchmetrics' ``poly_kernel`` + ``maximum_mean_discrepancy`` and its
  ``KernelInceptionDistance`` with one subset of all images (its subsets are drawn with torch's
  RNG, so only the full-set subset is comparable).
- IS: torchmetrics' ``InceptionScore`` with a logits module and ``splits=1`` (it shuffles before
  splitting).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from evalkit.metrics.image.fid import frechet_distance
from evalkit.metrics.image.inception_score import inception_score_from_logits
from evalkit.metrics.image.kid import kid_from_features
from evalkit.metrics.image.reference import feature_stats
from tests._image_helpers import pytorch_fid_function

torch = pytest.importorskip("torch")


def _feature_sets(d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    a = rng.normal(size=(n, d)) @ mix
    b = rng.normal(loc=0.3, size=(n, d)) @ (mix + 0.2 * rng.normal(size=(d, d)) / np.sqrt(d))
    return a, b


@pytest.mark.parametrize(("d", "n", "seed"), [(8, 50, 0), (64, 300, 1), (256, 1000, 2)])
def test_fid_equals_pytorch_fid(d: int, n: int, seed: int) -> None:
    reference = pytorch_fid_function()
    a, b = _feature_sets(d, n, seed)
    (m1, s1), (m2, s2) = feature_stats(a), feature_stats(b)
    # pytorch-fid's own statistics: np.mean(axis=0), np.cov(rowvar=False)
    np.testing.assert_allclose(s1, np.cov(a, rowvar=False), rtol=1e-12, atol=1e-14)
    with warnings.catch_warnings():  # scipy 1.17 deprecates sqrtm's disp argument
        warnings.simplefilter("ignore", DeprecationWarning)
        want = float(reference(m1, s1, m2, s2))
    got = frechet_distance(m1, s1, m2, s2)
    assert got == pytest.approx(want, rel=1e-9)


def test_fid_equals_torchmetrics() -> None:
    from torchmetrics.image.fid import _compute_fid

    a, b = _feature_sets(64, 400, 3)
    (m1, s1), (m2, s2) = feature_stats(a), feature_stats(b)
    t = [torch.from_numpy(x) for x in (m1, s1, m2, s2)]
    want = float(_compute_fid(*t))
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(want, rel=1e-6)


class _Lookup(torch.nn.Module):  # type: ignore[name-defined]
    """A "feature extractor" over pre-made rows: image ``i`` is the tensor ``[[i]]``."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__()
        self.rows = torch.from_numpy(rows)
        self.num_features = rows.shape[1]  # torchmetrics then skips its probe call

    def forward(self, x: Any) -> Any:
        return self.rows[x[:, 0].long()]


def _ids(start: int, stop: int) -> Any:
    return torch.arange(start, stop, dtype=torch.float64)[:, None]


def test_fid_equals_torchmetrics_metric_class() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    a, b = _feature_sets(16, 200, 4)
    metric = FrechetInceptionDistance(feature=_Lookup(np.concatenate([a, b]))).double()
    metric.update(_ids(0, 200), real=True)
    metric.update(_ids(200, 400), real=False)
    want = float(metric.compute())
    (m1, s1), (m2, s2) = feature_stats(a), feature_stats(b)
    assert frechet_distance(m2, s2, m1, s1) == pytest.approx(want, rel=1e-6)


def test_kid_equals_torchmetrics() -> None:
    from torchmetrics.image.kid import maximum_mean_discrepancy, poly_kernel

    a, b = _feature_sets(32, 150, 5)
    x, y = torch.from_numpy(a), torch.from_numpy(b)
    want = float(maximum_mean_discrepancy(poly_kernel(x, x), poly_kernel(x, y), poly_kernel(y, y)))
    mean, std = kid_from_features(a, b, subsets=3, subset_size=150)
    assert mean == pytest.approx(want, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9 * abs(want))  # every subset is the whole set


def test_kid_equals_torchmetrics_metric_class() -> None:
    from torchmetrics.image.kid import KernelInceptionDistance

    a, b = _feature_sets(16, 120, 6)
    metric = KernelInceptionDistance(
        feature=_Lookup(np.concatenate([a, b])), subsets=1, subset_size=120
    ).double()
    metric.update(_ids(0, 120), real=True)
    metric.update(_ids(120, 240), real=False)
    want_mean, _ = metric.compute()
    mean, _ = kid_from_features(b, a, subsets=1, subset_size=120)
    assert mean == pytest.approx(float(want_mean), rel=1e-9)


def test_inception_score_equals_torchmetrics() -> None:
    from torchmetrics.image.inception import InceptionScore

    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3.0, size=(200, 10))
    metric = InceptionScore(feature=_Lookup(logits), splits=1).double()
    metric.update(_ids(0, 200))
    want_mean, _ = metric.compute()
    mean, std = inception_score_from_logits(logits, splits=1)
    assert mean == pytest.approx(float(want_mean), rel=1e-9)
    assert std == 0.0
