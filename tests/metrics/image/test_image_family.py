"""Image metrics' own behaviour (the generic contract is in tests/metrics/test_metric_contract.py).

The signature names the extractor, its weights and the resize, and the reference set by content
(not path); twins on image arrays equal the classes on PNG samples; samples without an image are
named input errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import evalkit.metrics
from evalkit.assets.image_features import digits_data
from evalkit.data.images import encode_png
from evalkit.errors import InputError
from evalkit.metrics.image._base import _ImageMetric
from evalkit.registry import METRICS
from evalkit.types import Sample
from tests.metric_examples import FAMILIES, image_examples

NAMES = sorted(n for n, family in FAMILIES.items() if family is image_examples)


def _custom(name: str, workdir: Path) -> dict[str, Any]:
    """The examples' first valid non-default parameters (a python extractor for FID)."""
    return dict(image_examples(name, workdir).params[0])


def test_every_image_metric_is_covered() -> None:
    image = {n for n in METRICS.names() if issubclass(METRICS.get(n), _ImageMetric)}
    assert image == set(NAMES) == {"fid", "kid", "inception_score"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sample], str]:
    images, _, _, held = digits_data()
    ref = tmp_path_factory.mktemp("ref") / "reference.npz"
    np.savez(ref, images=images[held[300:]])
    samples = [
        Sample(id=str(i), outputs={"image": encode_png(images[j])})
        for i, j in enumerate(held[:120])
    ]
    return samples, str(ref)


def _build(name: str, ref: str, **params: Any) -> Any:
    if name != "inception_score":
        params["reference"] = ref
    return METRICS.get(name).build(params)


@pytest.mark.parametrize("name", NAMES)
def test_image_metadata(name: str) -> None:
    cls = METRICS.get(name)
    assert cls.request_kind == "generate_images" and cls.requires == frozenset({"image"})
    assert cls.higher_is_better is (name == "inception_score")
    assert cls.per_sample_outcomes is False  # a single image has no FID


@pytest.mark.parametrize("name", NAMES)
def test_signature_names_extractor_and_reference(name: str, data: tuple[list[Sample], str]) -> None:
    ref = data[1]
    sig = _build(name, ref).signature()
    assert "|extractor:digits-cnn|weights:" in sig and "|resize:pil_bicubic_uint8" in sig
    if name != "inception_score":
        assert "|n_ref:300" in sig and ref not in sig  # the reference by content, not path
        moved = Path(ref).with_name("moved.npz")
        moved.write_bytes(Path(ref).read_bytes())
        assert _build(name, str(moved)).signature() == sig


@pytest.mark.parametrize("name", NAMES)
def test_functional_twin_equals_class(name: str, data: tuple[list[Sample], str]) -> None:
    samples, ref = data
    custom = _custom(name, Path(ref).parent)
    images, _, _, held = digits_data()
    twin = getattr(evalkit.metrics, name)
    args = (images[held[:120]],) if name == "inception_score" else (images[held[:120]], ref)
    got = twin(*args, **custom)
    metric = _build(name, ref, **custom)
    want = metric.aggregate(metric.sample_stats(samples))
    assert got.name == name and got.n == 120 and got.signature == metric.signature()
    for key, value in want.items():
        assert got.details[key] == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_samples_without_images_are_refused(name: str, data: tuple[list[Sample], str]) -> None:
    metric = _build(name, data[1])
    with pytest.raises(InputError, match=f"{name}: sample 'p' has no image"):
        metric.sample_stats([Sample(id="p", prediction="a cat")])
    with pytest.raises(
        InputError, match=f"{name}: sample 'q': .*missing.png: image file not found"
    ):
        metric.sample_stats([Sample(id="q", outputs={"image": "missing.png"})])
