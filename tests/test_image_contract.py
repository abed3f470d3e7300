"""The metric contract for the image metrics (fid, kid, inception_score).

tests/test_metric_contract.py checks text metrics on predictions and references; image metrics
score generated images (``outputs["image"]``) against a reference image set, so the same
properties are checked here on digits: metadata and docstrings, named errors for bad parameters,
statistics that survive JSON and do not depend on batching, order invariance, a deterministic
signature with the extractor, weights and evalkit version, and twins equal to the classes.
"""

from __future__ import annotations

import inspect
import json
import random
from typing import Any

import numpy as np
import pytest

import evalkit.metrics
from evalkit import __version__
from evalkit.errors import ConfigError, InputError
from evalkit.image_features import digits_data
from evalkit.image_io import encode_png
from evalkit.metrics.image_metrics import _ImageMetric
from evalkit.registry import METRICS
from evalkit.types import Sample
from tests.test_metric_contract import IMAGE

CUSTOM: dict[str, dict[str, Any]] = {
    "fid": {},
    "kid": {"subsets": 7, "subset_size": 40, "seed": 3},
    "inception_score": {"splits": 4},
}
BAD: dict[str, list[dict[str, Any]]] = {
    "fid": [{"extractor": 3}, {"reference": 1}, {"weights": 2}, {"reference": "no/such.npz"}],
    "kid": [{"subsets": 0}, {"subset_size": 1}, {"seed": "1"}, {"subsets": True}],
    "inception_score": [{"splits": 0}, {"splits": 2.5}, {"reference": "x.npz"}],
}
NAMES = sorted(IMAGE)


def test_every_image_metric_is_covered() -> None:
    image = {n for n in METRICS.names() if issubclass(METRICS.get(n), _ImageMetric)}
    assert image == IMAGE == set(CUSTOM) == set(BAD)


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
def test_class_metadata(name: str) -> None:
    cls = METRICS.get(name)
    assert cls.name == name and cls.request_kind == "generate_images"
    assert cls.requires == frozenset({"image"})
    assert cls.higher_is_better is (name == "inception_score")
    for pname, p in cls.parameters().items():
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, pname
        assert p.default is not inspect.Parameter.empty and p.annotation is not p.empty, pname
    doc = inspect.getdoc(cls) or ""
    for part in ("Args:", "References:", "Example:", ">>>"):
        assert part in doc, (name, part)


@pytest.mark.parametrize("name", NAMES)
def test_parameters(name: str) -> None:
    cls = METRICS.get(name)
    with pytest.raises(ConfigError, match=f"^{name}: unknown parameter 'no_such_param'"):
        cls.build({"no_such_param": 1})
    for bad in BAD[name]:
        with pytest.raises(ConfigError) as info:
            cls.build(bad)
        assert str(info.value).startswith(f"{name}: ") and any(k in str(info.value) for k in bad)
    defaults = {k: p.default for k, p in cls.parameters().items()}
    assert cls.build(defaults).signature() == cls().signature()


@pytest.mark.parametrize("name", NAMES)
def test_statistics(name: str, data: tuple[list[Sample], str]) -> None:
    samples, ref = data
    metric = _build(name, ref, **CUSTOM[name])
    stats = metric.sample_stats(samples)
    assert len(stats) == len(samples) and metric.sample_stats([]) == []
    assert json.loads(json.dumps(stats)) == stats
    values = metric.aggregate(stats)
    assert list(values) == list(metric.value_names())
    assert all(np.isfinite(v) for v in values.values())
    # Batching: the same statistics up to rounding, and the same values.
    pieces = [s for k in range(0, len(samples), 7) for s in metric.sample_stats(samples[k : k + 7])]
    np.testing.assert_allclose(pieces, stats, rtol=1e-9, atol=1e-9)
    again = metric.aggregate(pieces)
    for key in values:
        assert again[key] == pytest.approx(values[key], rel=1e-9, abs=1e-12)
    # Order invariance.
    shuffled = list(stats)
    random.Random(0).shuffle(shuffled)
    for key, value in metric.aggregate(shuffled).items():
        assert value == pytest.approx(values[key], rel=1e-9, abs=1e-12)
    empty = metric.aggregate([])
    assert list(empty) == list(values) and all(np.isnan(v) for v in empty.values())
    assert all(np.isnan(v) for vs in metric.per_sample_values(stats).values() for v in vs)
    assert metric.primary_values()[0] == metric.value_names()[0]


@pytest.mark.parametrize("name", NAMES)
def test_signature(name: str, data: tuple[list[Sample], str]) -> None:
    samples, ref = data
    a, b = _build(name, ref, **CUSTOM[name]), _build(name, ref, **CUSTOM[name])
    sig = a.signature()
    assert sig == b.signature() and sig.startswith(f"{name}|")
    assert f"|evalkit:{__version__}" in sig and " " not in sig
    assert "|extractor:digits-cnn|weights:" in sig and "|resize:pil_bicubic_uint8" in sig
    for part in sig.split("|")[1:]:
        assert part.count(":") == 1, part
    if name != "inception_score":
        assert "|n_ref:300" in sig and ref not in sig  # the reference by content, not path
    if CUSTOM[name]:
        assert sig != _build(name, ref).signature()
    a.aggregate(a.sample_stats(samples))
    assert a.signature() == sig


@pytest.mark.parametrize("name", NAMES)
def test_functional_twin_equals_class(name: str, data: tuple[list[Sample], str]) -> None:
    samples, ref = data
    images, _, _, held = digits_data()
    twin = getattr(evalkit.metrics, name)
    args = (images[held[:120]],) if name == "inception_score" else (images[held[:120]], ref)
    got = twin(*args, **CUSTOM[name])
    metric = _build(name, ref, **CUSTOM[name])
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
