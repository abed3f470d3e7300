"""FID and KID from precomputed features: the ``features:`` adapter and ``extractor: precomputed``.

Covers the adapter (rows by dataset order or by an ``ids`` array, its input errors), the
metrics' precomputed path (feature arrays and statistics files as references, the errors for
too few samples, NaN and mismatched dimensions, the signature), a full run, and parity with
pytorch-fid's ``calculate_frechet_distance`` and torchmetrics' KID on random features.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import evalkit
from evalkit.adapters.features import FeaturesAdapter
from evalkit.assets.image_features import digits_data
from evalkit.data.images import encode_png, load_features
from evalkit.errors import ConfigError, InputError
from evalkit.metrics import fid, kid
from evalkit.metrics.image.fid import FID, frechet_distance
from evalkit.metrics.image.inception_score import InceptionScore
from evalkit.metrics.image.kid import KID, kid_from_features
from evalkit.metrics.image.reference import feature_stats, save_reference_stats
from evalkit.registry import ADAPTERS, build_adapter
from evalkit.types import GenerateRequest, Sample
from tests._image_helpers import pytorch_fid_function


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Correlated Gaussian features, float32 as feature pipelines usually write them."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(loc=shift, size=(n, d)) @ mix).astype(np.float32)


def _requests(ids: list[str], task: str = "t") -> list[GenerateRequest]:
    return [GenerateRequest(prompt="", task=task, sample_id=i, kind="generate_images") for i in ids]


def _samples(path: Path, rows: int) -> list[Sample]:
    return [Sample(id=str(i), outputs={"features": f"{path}#{i}"}) for i in range(rows)]


@pytest.fixture
def gen_ref(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    gen, ref = _features(120, 16, 0, shift=0.2), _features(300, 16, 1)
    np.save(tmp_path / "gen.npy", gen)
    np.savez(tmp_path / "ref.npz", features=ref)
    return tmp_path / "gen.npy", tmp_path / "ref.npz", gen, ref


# ------------------------------------------------------------------------------------ adapter


def test_adapter_is_registered() -> None:
    assert ADAPTERS.get("features") is FeaturesAdapter
    assert FeaturesAdapter.capabilities == frozenset({"generate_images"})


def test_rows_follow_the_dataset_order(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", _features(5, 3, 0))
    adapter = build_adapter(f"features:{tmp_path / 'f.npy'}")
    reqs = _requests(["b", "a", "c"])
    adapter.prepare({"t": reqs})
    out = adapter.generate_images([reqs[2], reqs[0]])
    assert [g.outputs for g in out] == [
        {"features": f"{(tmp_path / 'f.npy').resolve()}#2"},
        {"features": f"{(tmp_path / 'f.npy').resolve()}#0"},
    ]
    info = adapter.info()
    assert info["rows"] == 5 and info["dims"] == 3 and info["rows_by"] == "dataset order"
    import hashlib

    assert info["sha256"] == hashlib.sha256((tmp_path / "f.npy").read_bytes()).hexdigest()


def test_ids_map_rows_to_samples(tmp_path: Path) -> None:
    feats = _features(4, 3, 0)
    np.savez(tmp_path / "f.npz", features=feats, ids=np.array(["d", "c", "b", "a"]))
    adapter = FeaturesAdapter(str(tmp_path / "f.npz"))
    reqs = _requests(["a", "b"])
    adapter.prepare({"t": reqs, "u": _requests(["c"], "u")})  # ids: tasks may share the file
    refs = [g.outputs["features"] for g in adapter.generate_images(reqs)]
    assert [r.rpartition("#")[2] for r in refs] == ["3", "2"]
    assert adapter.info()["rows_by"] == "ids"


def test_missing_ids_are_listed(tmp_path: Path) -> None:
    np.savez(tmp_path / "f.npz", features=_features(2, 3, 0), ids=np.array(["a", "b"]))
    adapter = FeaturesAdapter(str(tmp_path / "f.npz"))
    wanted = ["a", *[f"x{i}" for i in range(7)]]
    with pytest.raises(InputError) as info:
        adapter.prepare({"t": _requests(wanted)})
    message = str(info.value)
    assert "no row for 7 of the 8 samples" in message
    assert "'x0', 'x1', 'x2', 'x3', 'x4' and 2 more" in message
    assert "'x5'" not in message


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"features": np.zeros((3, 2)), "ids": np.array(["a", "b"])}, "one id per feature row"),
        ({"features": np.zeros((3, 2)), "ids": np.array(["a", "b", "a"])}, "repeats ids \\('a'\\)"),
        ({"x": np.zeros((3, 2)), "y": np.zeros((3, 2))}, "needs an array named 'features'"),
        ({"features": np.zeros((3, 2, 2))}, "expected generated features of shape \\(N, D\\)"),
        ({"features": np.array([["a", "b"]])}, "must be a numeric array"),
    ],
)
def test_bad_feature_files_are_input_errors(
    tmp_path: Path, arrays: dict[str, Any], match: str
) -> None:
    np.savez(tmp_path / "f.npz", **arrays)
    with pytest.raises(InputError, match=match):
        FeaturesAdapter(str(tmp_path / "f.npz"))


def test_nan_in_generated_features_names_the_file_and_row(tmp_path: Path) -> None:
    feats = _features(6, 3, 0)
    feats[4, 1] = np.nan
    np.save(tmp_path / "f.npy", feats)
    with pytest.raises(InputError) as info:
        build_adapter(f"features:{tmp_path / 'f.npy'}")
    assert str(tmp_path / "f.npy") in str(info.value)
    assert "row 4 (of 6) holds NaN or infinity" in str(info.value)


def test_adapter_refuses_missing_files_options_and_other_requests(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        FeaturesAdapter(str(tmp_path / "none.npy"))
    (tmp_path / "f.csv").write_text("1,2\n")
    with pytest.raises(InputError, match=r"is not a .npy or .npz file"):
        FeaturesAdapter(str(tmp_path / "f.csv"))
    np.save(tmp_path / "f.npy", _features(3, 2, 0))
    with pytest.raises(ConfigError, match="takes no options"):
        FeaturesAdapter(str(tmp_path / "f.npy"), batch=2)
    adapter = FeaturesAdapter(str(tmp_path / "f.npy"))
    with pytest.raises(ConfigError, match="serves only generate_images"):
        adapter.generate(_requests(["0"]))


def test_dataset_order_needs_one_task_and_enough_rows(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", _features(3, 2, 0))
    adapter = FeaturesAdapter(str(tmp_path / "f.npy"))
    with pytest.raises(ConfigError, match="tasks t, u share it"):
        adapter.prepare({"t": _requests(["a"]), "u": _requests(["a"], "u")})
    with pytest.raises(InputError, match="has 3 feature rows, but task 't' has 4 samples"):
        adapter.prepare({"t": _requests(["a", "b", "c", "d"])})
    with pytest.raises(InputError, match="was not in the dataset given to prepare"):
        adapter.generate_images(_requests(["a"]))


# ------------------------------------------------------------------------------------ metrics


def test_run_scores_features_like_the_twins(tmp_path: Path, gen_ref: Any) -> None:
    gen_path, _, gen, ref = gen_ref
    (tmp_path / "samples.jsonl").write_text(
        "".join(json.dumps({"id": f"s{i}", "label": str(i % 10)}) + "\n" for i in range(120))
    )
    (tmp_path / "suite.yaml").write_text(
        "name: feats\ntasks:\n  - name: gen\n    dataset: {path: samples.jsonl, id: id}\n"
        '    prompt: "{label}"\n    metrics:\n'
        "      - fid: {extractor: precomputed, reference: ref.npz}\n"
        "      - kid: {extractor: precomputed, reference: ref.npz, subsets: 5, subset_size: 60}\n"
    )
    run = evalkit.run(tmp_path / "suite.yaml", f"features:{gen_path}", tmp_path / "out")
    rows = {r["metric"]: r for r in run.to_pandas().to_dict("records")}
    want_fid = fid(gen, ref, extractor="precomputed")
    want_kid = kid(gen, ref, extractor="precomputed", subsets=5, subset_size=60)
    assert rows["fid"]["value"] == pytest.approx(want_fid.value, rel=1e-12)
    assert rows["kid"]["value"] == pytest.approx(want_kid.value, rel=1e-12)
    assert rows["fid"]["signature"] == want_fid.signature
    (m1, s1), (m2, s2) = feature_stats(gen.astype(np.float64)), feature_stats(ref)
    assert want_fid.value == pytest.approx(frechet_distance(m1, s1, m2, s2), rel=1e-12)
    first = json.loads((tmp_path / "out" / "samples.jsonl").read_text().splitlines()[0])
    assert first["outputs"] == {"features": f"{gen_path.resolve()}#0"}
    assert first["stats"]["fid"] == gen[0].astype(np.float64).tolist()


def test_signature_says_precomputed_and_hashes_the_reference(gen_ref: Any) -> None:
    _, ref_path, _, ref = gen_ref
    sig = FID.build({"extractor": "precomputed", "reference": str(ref_path)}).signature()
    sha = load_features(ref_path).sha256
    assert "|extractor:precomputed|" in sig and "|resize:none|" in sig
    assert f"|ref:{sha[:12]}|n_ref:300|" in sig
    assert "digits-cnn" not in sig and "pil_bicubic" not in sig
    np.save(ref_path.with_suffix(".npy"), ref.astype(np.float64))  # same values, other bytes
    other = FID.build({"extractor": "precomputed", "reference": str(ref_path.with_suffix(".npy"))})
    assert other.signature() != sig


def test_reference_array_npy_and_stats_file_agree(tmp_path: Path, gen_ref: Any) -> None:
    gen_path, ref_path, gen, ref = gen_ref
    np.save(tmp_path / "ref.npy", ref)
    stats = save_reference_stats(ref_path, tmp_path / "stats.npz", extractor="precomputed")
    values = {
        str(r): fid(gen_path, r, extractor="precomputed").value
        for r in (ref_path, tmp_path / "ref.npy", stats)
    }
    assert len(set(values.values())) == 1, values
    kids = {
        kid(gen, r, extractor="precomputed", subsets=3, subset_size=50).value
        for r in (ref_path, stats)
    }
    assert len(kids) == 1
    no_feats = save_reference_stats(
        ref, tmp_path / "lean.npz", extractor="precomputed", keep_features=False
    )
    with pytest.raises(ConfigError, match="keeps no features"):
        kid(gen, no_feats, extractor="precomputed")


def test_statistics_of_another_extractor_are_refused(tmp_path: Path, gen_ref: Any) -> None:
    _, ref_path, gen, _ = gen_ref
    images, _, _, held = digits_data()
    digits = save_reference_stats(images[held[:100]], tmp_path / "digits.npz")
    with pytest.raises(ConfigError, match="not with this metric's extractor"):
        fid(gen, digits, extractor="precomputed")
    pre = save_reference_stats(ref_path, tmp_path / "pre.npz", extractor="precomputed")
    with pytest.raises(ConfigError, match="'extractor': 'precomputed'"):
        fid(images[held[:100]], pre)


def test_fewer_samples_than_dimensions_names_both_numbers(tmp_path: Path) -> None:
    gen, ref = _features(20, 32, 0), _features(300, 32, 1)
    with pytest.raises(InputError, match="fid: generated features: 20 samples for 32 feature"):
        fid(gen, ref, extractor="precomputed")
    with pytest.raises(InputError, match="reference features: 30 samples for 32 feature"):
        fid(ref, ref[:30], extractor="precomputed")
    assert np.isfinite(kid(gen, ref, extractor="precomputed", subsets=2).value)  # KID: no cov


def test_mismatched_dimensions_name_both_shapes(tmp_path: Path) -> None:
    gen, ref = _features(120, 16, 0), _features(300, 24, 1)
    want = "generated features have shape (120, 16), reference features (300, 24)"
    with pytest.raises(InputError, match=re.escape(want)):
        fid(gen, ref, extractor="precomputed")
    with pytest.raises(InputError, match=re.escape(want)):
        kid(gen, ref, extractor="precomputed", subsets=2)
    lean = save_reference_stats(
        ref, tmp_path / "s.npz", extractor="precomputed", keep_features=False
    )
    with pytest.raises(InputError, match=re.escape("statistics of 300 samples, mean (24,)")):
        fid(gen, lean, extractor="precomputed")


def test_nan_in_reference_features_names_the_file_and_row(tmp_path: Path) -> None:
    ref = _features(300, 8, 1)
    ref[17, 3] = np.inf
    np.save(tmp_path / "ref.npy", ref)
    metric = FID.build({"extractor": "precomputed", "reference": str(tmp_path / "ref.npy")})
    with pytest.raises(InputError) as info:
        metric.request_options()  # when the suite is built, before any model call
    assert f"{tmp_path / 'ref.npy'}: features row 17 (of 300) holds NaN or infinity" in str(
        info.value
    )


def test_samples_and_extractor_must_agree(tmp_path: Path, gen_ref: Any) -> None:
    gen_path, ref_path, _, _ = gen_ref
    feats = _samples(gen_path, 40)
    with pytest.raises(InputError, match="set the metric's `extractor: precomputed`"):
        FID.build({"reference": str(ref_path)}).sample_stats(feats)
    images, _, _, held = digits_data()
    pictures = [Sample(id="0", outputs={"image": encode_png(images[held[0]])})]
    metric = KID.build({"extractor": "precomputed", "reference": str(ref_path)})
    with pytest.raises(InputError, match="drop `extractor: precomputed`"):
        metric.sample_stats(pictures)
    stats = metric.sample_stats(feats)
    assert stats == np.load(gen_path)[:40].astype(np.float64).tolist()


def test_twins_take_lists_of_vectors(gen_ref: Any) -> None:
    _, ref_path, gen, _ = gen_ref
    want = fid(gen, ref_path, extractor="precomputed").value
    assert fid(gen.tolist(), ref_path, extractor="precomputed").value == want
    with pytest.raises(InputError, match="the vectors differ in length"):
        fid([[0.0, 1.0], [2.0]], ref_path, extractor="precomputed")


def test_precomputed_parameter_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^fid: extractor precomputed takes no weights"):
        FID.build({"extractor": "precomputed", "weights": "w.pth"})
    with pytest.raises(ConfigError, match=r"^inception_score: extractor: precomputed features"):
        InceptionScore.build({"extractor": "precomputed"})
    np.save(tmp_path / "ref.npy", _features(50, 4, 0))
    with pytest.raises(InputError, match="set the metric's `extractor: precomputed`"):
        fid(digits_data()[0][:60], tmp_path / "ref.npy")  # features given as images
    with pytest.raises(InputError, match=r"reference features not a .npy or .npz file"):
        fid(_features(50, 4, 0), tmp_path, extractor="precomputed")  # a folder of images


# ------------------------------------------------------------------------------------- parity


def test_fid_from_features_equals_pytorch_fid() -> None:
    pytest.importorskip("scipy")
    reference = pytorch_fid_function()
    gen, ref = _features(300, 64, 2, shift=0.3), _features(300, 64, 3)
    assert gen.dtype == np.float32
    # pytorch-fid's statistics (np.mean, np.cov(rowvar=False)) on the features in float64.
    a, b = gen.astype(np.float64), ref.astype(np.float64)
    with warnings.catch_warnings():  # scipy 1.17 deprecates sqrtm's disp argument
        warnings.simplefilter("ignore", DeprecationWarning)
        want = float(
            reference(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
        )
    got = fid(gen, ref, extractor="precomputed")
    assert got.value == pytest.approx(want, rel=1e-9)


def test_kid_from_features_equals_torchmetrics() -> None:
    torch = pytest.importorskip("torch")
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    gen, ref = _features(150, 64, 4, shift=0.3), _features(150, 64, 5)
    x, y = (torch.from_numpy(v.astype(np.float64)) for v in (gen, ref))
    k = kid_module.poly_kernel
    want = float(kid_module.maximum_mean_discrepancy(k(x, x), k(x, y), k(y, y)))
    got = kid(gen, ref, extractor="precomputed", subsets=2, subset_size=150)
    assert got.value == pytest.approx(want, rel=1e-9)
    assert got.value == pytest.approx(kid_from_features(gen, ref, subsets=1)[0], rel=1e-12)
