"""Small user code for the image tests: an extractor and a generator named from YAML."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT


def row_features(x: np.ndarray) -> np.ndarray:
    """A user feature extractor: the 8 row means and 8 column means of each image."""
    gray = x.mean(axis=-1)
    return np.concatenate([gray.mean(axis=2), gray.mean(axis=1)], axis=1)


def constant_digits(prompts: list[str], seeds: list[int], **options: Any) -> list[Any]:
    """A user generator: a flat 8x8 image whose grey level is the digit asked for (x 25)."""
    return [np.full((8, 8), int(p) * 25, np.uint8) for p in prompts]


def pytorch_fid_function() -> Callable[..., Any]:
    """pytorch-fid's ``calculate_frechet_distance``, loaded as the image benchmark loads it
    (skips the test when pytorch-fid is not installed)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        found = importlib.import_module("image").pytorch_fid_distance()
    finally:
        sys.path.remove(str(ROOT / "bench"))
    if found is None:
        pytest.skip("pytorch-fid is not installed (pip install --no-deps pytorch-fid)")
    result: Callable[..., Any] = found
    return result
