"""Benchmark: evalkit's Fréchet distance against pytorch-fid's, and digits-CNN extraction speed.

Two rows per size:

- ``FID (d=2048)``: the Fréchet distance between the statistics (mean, covariance) of two sets of
  ``size`` x 2048 random features (correlated Gaussians, seeded), computed untimed beforehand:
  ``evalkit.metrics.image.fid.frechet_distance`` (two symmetric eigendecompositions in
  float64) vs pytorch-fid 0.3.0's ``calculate_frechet_distance`` (scipy ``sqrtm`` of
  ``S1 @ S2``). pytorch-fid's module imports torchvision, which cannot be installed next to the
  CPU torch (DESIGN.md, "known traps"), so its function is compiled from the installed source
  file and run unchanged. The two must agree to 1e-6 relative before anything is timed.
- ``digits-cnn features``: extraction of ``size`` 8x8 digit images (scikit-learn's digits,
  repeated) with the default extractor on the CPU; the images per second are printed below the
  table.

Usage::

    python bench/image.py [--sizes 10000] [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Group, Row, main, run_benchmark

__all__ = ["DIMS", "build", "features", "pytorch_fid_distance", "run", "throughput"]

SEED = 20240611
DIMS = 2048


def pytorch_fid_distance() -> Callable[..., Any] | None:
    """pytorch-fid's ``calculate_frechet_distance``, compiled from its source; None if absent."""
    spec = importlib.util.find_spec("pytorch_fid")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations))) / "fid_score.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    fn = next(
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "calculate_frechet_distance"
    )
    from scipy import linalg

    namespace: dict[str, Any] = {"np": np, "linalg": linalg}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(source), "exec"), namespace)
    found: Callable[..., Any] = namespace["calculate_frechet_distance"]
    return found


def features(n: int, d: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Two seeded sets of ``n`` correlated Gaussian feature vectors of dimension ``d``."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    a = rng.normal(size=(n, d)) @ mix
    b = rng.normal(loc=0.05, size=(n, d)) @ (mix + 0.1 * rng.normal(size=(d, d)) / np.sqrt(d))
    return a, b


def build_for(dims: int) -> Callable[[int], Sequence[Group]]:
    """The group builder for features of ``dims`` dimensions."""

    def build(size: int) -> Sequence[Group]:
        from evalkit.assets.image_features import digits_data, get_extractor
        from evalkit.metrics.image.fid import frechet_distance
        from evalkit.metrics.image.reference import feature_stats

        a, b = features(size, dims)
        (m1, s1), (m2, s2) = feature_stats(a), feature_stats(b)
        value = frechet_distance(m1, s1, m2, s2)
        ref = pytorch_fid_distance()
        if ref is None:
            peer = Case("pytorch_fid.calculate_frechet_distance", skip="pytorch-fid not installed")
        else:

            def peer_fn() -> float:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    return float(ref(m1, s1, m2, s2))

            peer = Case("pytorch_fid.calculate_frechet_distance", peer_fn)
        fid_group = Group(
            f"FID (d={dims})",
            Case("evalkit frechet_distance", lambda: frechet_distance(m1, s1, m2, s2)),
            [peer],
            tolerance=1e-6 * abs(value),  # 1e-6 relative
            note=f"{size} x {dims} features per set; statistics computed untimed",
        )
        images, _, _, _ = digits_data()
        batch = np.resize(images, (size, *images.shape[1:]))
        ext = get_extractor("digits-cnn")
        extract = Group(
            "digits-cnn features",
            Case("evalkit digits-cnn (numpy, CPU)", lambda: float(ext.features(batch).sum())),
            note=f"{size} 8x8 images",
        )
        return [fid_group, extract]

    return build


build = build_for(DIMS)


def run(sizes: Sequence[int], repeats: int, dims: int = DIMS) -> list[Row]:
    """Rows for ``sizes`` (the smoke test uses small sizes and dims)."""
    return run_benchmark("image", build_for(dims), sizes, repeats)


def throughput(rows: Sequence[Row]) -> dict[int, float]:
    """Images per second of the digits-CNN extraction, per size (median time)."""
    return {
        r.size: r.size / r.median_s for r in rows if r.group == "digits-cnn features" and r.median_s
    }


if __name__ == "__main__":
    out = main(
        "image",
        build,
        default_sizes=(10000,),
        default_repeats=3,
        packages=("numpy", "scipy", "pytorch-fid"),
        description=__doc__,
    )
    for size, rate in throughput(out).items():
        print(f"digits-cnn extraction at {size} images: {rate:,.0f} images/s (CPU, numpy)")
