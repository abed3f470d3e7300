"""Write the image suite's data (``suites/image/``): real held-out digits and simple generators.

All images are scikit-learn's bundled 8x8 digits (``load_digits``) as uint8, from the held-out
part of ``evalkit.assets.image_features.digits_data``'s split (the digits CNN never saw them):

- ``reference.npz``: 300 held-out digits, the real images every model is compared with;
- ``real.npz``: the other 300 held-out digits (a perfect generator);
- ``blurred.npz``: ``real`` blurred (PIL Gaussian blur, radius 0.6);
- ``noisy.npz``: ``real`` plus Gaussian pixel noise (sd 40 of 255), clipped;
- ``gaussian.npz``: a per-class Gaussian in pixel space fit on the training digits (mean and
  covariance + 1e-2 * 255^2 I), 30 samples per class, clipped;
- ``samples.jsonl``: the task's samples (``id`` = row, ``label`` = the class of the row).

Deterministic (numpy ``default_rng(0)``); rerun to regenerate::

    python scripts/make_image_suite.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.assets.image_features import digits_data  # noqa: E402

OUT = ROOT / "suites" / "image"
N = 300


def blur(images: np.ndarray, radius: float) -> np.ndarray:
    out = [
        np.asarray(Image.fromarray(im[..., 0]).filter(ImageFilter.GaussianBlur(radius)))
        for im in images
    ]
    return np.stack(out)[..., None]


def main() -> int:
    rng = np.random.default_rng(0)
    images, labels, train, held = digits_data()
    ref_idx, gen_idx = held[:N], held[N : 2 * N]
    real = images[gen_idx]
    noisy = np.clip(np.rint(real + rng.normal(0.0, 40.0, real.shape)), 0, 255).astype(np.uint8)
    gauss = []
    gauss_labels = []
    for c in range(10):
        x = images[train][labels[train] == c].reshape(-1, 64).astype(np.float64)
        cov = np.cov(x, rowvar=False) + 1e-2 * 255.0**2 * np.eye(64)
        draw = rng.multivariate_normal(x.mean(axis=0), cov, size=N // 10)
        gauss.append(np.clip(np.rint(draw), 0, 255).astype(np.uint8).reshape(-1, 8, 8, 1))
        gauss_labels += [c] * (N // 10)
    sets = {
        "reference": (images[ref_idx], labels[ref_idx]),
        "real": (real, labels[gen_idx]),
        "blurred": (blur(real, 0.6), labels[gen_idx]),
        "noisy": (noisy, labels[gen_idx]),
        "gaussian": (np.concatenate(gauss), np.array(gauss_labels)),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (imgs, labs) in sets.items():
        np.savez_compressed(OUT / f"{name}.npz", images=imgs, labels=labs)
    with open(OUT / "samples.jsonl", "w", encoding="utf-8") as fh:
        for i, label in enumerate(labels[gen_idx].tolist()):
            fh.write(json.dumps({"id": str(i), "label": int(label)}) + "\n")
    print(f"wrote {len(sets)} image sets of {N} digits to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
