"""FID, KID and IS: closed forms, numerics, inputs, extractors, the images: adapter, the suite."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import evalkit.metrics as em
from evalkit.assets.image_features import (
    INCEPTION_URL,
    CallableExtractor,
    digits_cnn_forward,
    digits_data,
    get_extractor,
)
from evalkit.data.images import decode_reference, load_images
from evalkit.errors import AssetError, ConfigError, InputError
from evalkit.metrics.image.fid import FID, frechet_distance
from evalkit.metrics.image.inception_score import inception_score_from_logits
from evalkit.metrics.image.kid import kid_from_features
from evalkit.metrics.image.reference import feature_stats, save_reference_stats
from evalkit.runner import run_suite
from tests.conftest import ROOT

IMAGE = ROOT / "suites" / "image"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels, _, held = digits_data()
    return images[held], labels[held]


def _spd(d: int, seed: int, cond: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * np.geomspace(1.0, cond, d)) @ q.T


# ------------------------------------------------------------------------- Fréchet distance


def test_shifted_means_give_the_squared_distance() -> None:
    s = _spd(5, 0)
    mu = np.arange(5.0)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert frechet_distance(mu, s, mu + shift, s) == pytest.approx(14.25, abs=1e-10)


@pytest.mark.parametrize("c", [0.5, 2.0, 3.0])
def test_scaled_covariance(c: float) -> None:
    # S2 = c^2 S1: tr(S1) + c^2 tr(S1) - 2 c tr(S1) = tr(S1) (1 - c)^2
    s = _spd(6, 1)
    want = np.trace(s) * (1.0 - c) ** 2
    assert frechet_distance(np.zeros(6), s, np.zeros(6), c * c * s) == pytest.approx(
        want, rel=1e-12
    )


def test_commuting_diagonal_covariances() -> None:
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])
    want = float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())  # (1-2)^2 + (2-1)^2 + (3-4)^2 = 3
    assert want == 3.0
    assert frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(3.0)


@pytest.mark.parametrize("d", [16, 128])
def test_equals_scipy_sqrtm(d: int) -> None:
    from scipy import linalg

    s1, s2 = _spd(d, 2), _spd(d, 3)
    mu1, mu2 = np.zeros(d), np.full(d, 0.1)
    root = linalg.sqrtm(s1 @ s2).real
    want = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(want, rel=1e-12)


def test_identical_features_give_zero(digits: tuple[np.ndarray, np.ndarray]) -> None:
    rng = np.random.default_rng(4)
    for f in (rng.normal(size=(300, 32)), rng.normal(size=(600, 256)) ** 2):
        mu, s = feature_stats(f)
        assert abs(frechet_distance(mu, s, mu, s)) < 1e-6
    images = digits[0][:200]
    assert abs(em.fid(images, images).value) < 1e-6


def test_singular_psd_covariances_are_fine() -> None:
    s = np.diag([1.0, 2.0, 0.0])  # a dead feature: zero variance
    assert frechet_distance(np.zeros(3), s, np.zeros(3), s) == pytest.approx(0.0, abs=1e-12)


def test_fewer_samples_than_dimensions_are_refused(digits: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(InputError, match="10 samples for 32 feature dimensions"):
        feature_stats(np.ones((10, 32)))
    with pytest.raises(InputError, match=r"singular.*at least 33") as info:
        em.fid(digits[0][:20], digits[0][100:300])
    assert info.value.exit_code == 2
    with pytest.raises(InputError, match="reference images: 30 samples for 32"):
        em.fid(digits[0][:100], digits[0][100:130])
    with pytest.raises(InputError, match="shapes do not match"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


# ---------------------------------------------------------------------------------- KID, IS


def test_kid_by_hand() -> None:
    x = np.array([[0.0], [1.0], [2.0]])
    y = x + 1.0
    # k(a, b) = (a b + 1)^3, d = 1; off-diagonal sums 2 * 29 and 2 * 434, cross sum 597.
    want = (58.0 + 868.0) / 6.0 - 2.0 * 597.0 / 9.0
    assert kid_from_features(x, y, subsets=4)[0] == pytest.approx(want, rel=1e-12)
    assert kid_from_features(x, x, subsets=1)[0] == pytest.approx(
        (58.0 + 58.0) / 6.0 - 2.0 * (1 + 1 + 1 + 1 + 8 + 27 + 1 + 27 + 125) / 9.0
    )


def test_kid_is_unbiased_and_can_be_negative(digits: tuple[np.ndarray, np.ndarray]) -> None:
    rng = np.random.default_rng(5)
    values = [
        kid_from_features(rng.normal(size=(100, 8)), rng.normal(size=(100, 8)), subsets=1)[0]
        for _ in range(40)
    ]
    assert min(values) < 0 < max(values)
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_kid_subsets_are_seeded_and_order_free(digits: tuple[np.ndarray, np.ndarray]) -> None:
    f = get_extractor().features(digits[0])
    a, b = f[:300], f[300:]
    one = kid_from_features(a, b, subsets=20, subset_size=50, seed=1)
    assert one == kid_from_features(a[::-1], b, subsets=20, subset_size=50, seed=1)
    assert one != kid_from_features(a, b, subsets=20, subset_size=50, seed=2)
    assert one[1] > 0


def test_inception_score_closed_forms() -> None:
    assert inception_score_from_logits(np.zeros((20, 4)), splits=2) == (1.0, 0.0)
    sure = np.log(np.eye(5)[np.arange(50) % 5] + 1e-300)
    assert inception_score_from_logits(sure, splits=1)[0] == pytest.approx(5.0)
    with pytest.raises(InputError, match="3 images for 10 splits"):
        inception_score_from_logits(np.zeros((3, 4)))


def test_digits_inception_score_is_high_for_real_digits(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    real = em.inception_score(digits[0]).value
    flat = em.inception_score(np.full((100, 8, 8), 128, np.uint8), splits=5).value
    assert 8.0 < real <= 10.0
    assert flat == pytest.approx(1.0)


# ---------------------------------------------------------------------------------- inputs


def _write_pngs(folder: Path, images: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im[..., 0]).save(folder / f"{i:04d}.png")
    return folder


def test_folder_npz_npy_and_arrays_agree(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    gen, ref = digits[0][:100], digits[0][300:]
    folder = _write_pngs(tmp_path / "gen", gen)
    np.savez(tmp_path / "gen.npz", images=gen)
    np.save(tmp_path / "gen.npy", gen[..., 0])
    values = {em.fid(src, ref).value for src in (gen, folder, tmp_path / "gen.npz")}
    values.add(em.fid(str(tmp_path / "gen.npy"), ref).value)
    values.add(em.fid(gen.astype(np.float64) / 255.0, ref).value)
    assert len(values) == 1


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no images here"):
        load_images(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(bad / "a.png")
    (bad / "b.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"b\.png: not a readable image") as info:
        load_images(bad)
    assert info.value.exit_code == 2
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mixed / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(mixed / "b.png")
    with pytest.raises(InputError, match=r"differ in size.*a\.png: 8x8x1; b\.png: 8x9x1"):
        load_images(mixed)
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 8, 8)), b=np.zeros(2))
    with pytest.raises(InputError, match=r"two\.npz: an image \.npz needs an array named 'images'"):
        load_images(tmp_path / "two.npz")
    with pytest.raises(InputError, match=r"outside \[0, 1\]"):
        load_images(np.full((2, 4, 4), 2.0))
    with pytest.raises(InputError, match="not found"):
        load_images(tmp_path / "nope")


def test_resizing_is_pil_bicubic_and_signed(digits: tuple[np.ndarray, np.ndarray]) -> None:
    big = np.stack(
        [
            np.asarray(Image.fromarray(im[..., 0]).resize((16, 16), Image.Resampling.NEAREST))
            for im in digits[0][:50]
        ]
    )
    down = np.stack(
        [np.asarray(Image.fromarray(im).resize((8, 8), Image.Resampling.BICUBIC)) for im in big]
    )[..., None]
    ext = get_extractor()
    np.testing.assert_array_equal(ext.features(big[..., None]), ext.features(down))
    assert "resize:pil_bicubic_uint8" in FID().signature()


def test_reference_statistics_file(digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    gen, ref = digits[0][:150], digits[0][300:]
    path = save_reference_stats(ref, tmp_path / "ref_stats.npz")
    direct = em.fid(gen, ref)
    cached = em.fid(gen, str(path))
    assert cached.value == pytest.approx(direct.value, rel=1e-12)
    assert cached.signature == direct.signature  # the pixels' hash, not the path
    assert em.kid(gen, str(path)).value == em.kid(gen, ref).value
    lean = save_reference_stats(ref, tmp_path / "lean.npz", keep_features=False)
    with pytest.raises(ConfigError, match="keeps no features"):
        em.kid(gen, str(lean))
    other = save_reference_stats(ref, tmp_path / "o.npz", extractor=CallableExtractor(_means))
    with pytest.raises(ConfigError, match="computed with"):
        em.fid(gen, str(other))


def _means(x: np.ndarray) -> np.ndarray:
    return np.stack([x.mean(axis=(1, 2, 3)), x.std(axis=(1, 2, 3))], axis=1)


# ------------------------------------------------------------------------------ extractors


def test_digits_cnn_numpy_equals_torch(digits: tuple[np.ndarray, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from train_digits_cnn import DigitsNet
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    ext = get_extractor("digits-cnn")
    net = DigitsNet()
    state = {k: torch.from_numpy(v.astype(np.float32)) for k, v in ext.params.items()}  # type: ignore[attr-defined]
    mean, scale = state.pop("feature_mean"), state.pop("feature_scale")
    net.load_state_dict(state)
    x = torch.from_numpy(digits[0][:64].transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    with torch.no_grad():
        feats, logits = net(x)
    np.testing.assert_allclose(
        ext.features(digits[0][:64]), ((feats - mean) / scale).numpy(), atol=1e-4
    )
    np.testing.assert_allclose(ext.logits(digits[0][:64]), logits.numpy(), atol=1e-4)
    record = json.loads((ROOT / "models" / "digits-cnn" / "training.json").read_text())
    assert record["weights_sha256"] == ext.sha256
    assert record["accuracy"]["held_out"] > 0.95
    params = digits_cnn_forward(ext.params, x.numpy().astype(np.float64))  # type: ignore[attr-defined]
    assert params[0].shape == (64, 32)


def test_digits_cnn_is_in_the_signature() -> None:
    sig = FID().signature()
    sha = get_extractor().sha256
    assert f"extractor:digits-cnn|weights:{sha[:12]}|size:8x8" in sig


def test_user_extractors(digits: tuple[np.ndarray, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    gen, ref = digits[0][:100], digits[0][300:]

    class Pool(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))

        def forward(self, x: Any) -> Any:
            return torch.nn.functional.avg_pool2d(x, 2).flatten(1) * self.scale

    module_score = em.fid(gen, ref, extractor=Pool())
    want = frechet_distance(*feature_stats(_pool(gen)), *feature_stats(_pool(ref)))
    assert module_score.value == pytest.approx(want, rel=1e-6)
    assert "extractor:" in module_score.signature and "Pool" in module_score.signature
    fn_score = em.fid(gen, ref, extractor="python:tests._image_helpers:row_features")
    assert "extractor:python:tests._image_helpers:row_features|weights:none" in fn_score.signature
    assert fn_score.value > 0


def _pool(images: np.ndarray) -> np.ndarray:
    x = images[..., 0].astype(np.float64) / 255.0
    return x.reshape(len(x), 4, 2, 4, 2).mean(axis=(2, 4)).reshape(len(x), -1)


def test_inception_weights_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from evalkit.assets._inception import FIDInceptionV3
    from evalkit.assets.image_features import InceptionExtractor

    monkeypatch.delenv("EVALKIT_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(AssetError, match="EVALKIT_INCEPTION_WEIGHTS") as info:
        InceptionExtractor()
    assert INCEPTION_URL in str(info.value) and info.value.exit_code == 2
    with pytest.raises(AssetError, match=r"not found at .*missing\.pth.*pt_inception-2015-12-05"):
        InceptionExtractor(tmp_path / "missing.pth")
    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    path = tmp_path / "random_inception.pth"
    torch.save(net.state_dict(), path)
    monkeypatch.setenv("EVALKIT_INCEPTION_WEIGHTS", str(path))
    ext = InceptionExtractor()
    images = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    feats, logits = ext.features(images), ext.logits(images)
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    assert (feats >= 0).all()  # pool3 averages ReLU outputs
    assert ext.describe()["size"] == "299x299"
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(AssetError, match="not pytorch-fid's FID Inception weights"):
        InceptionExtractor(tmp_path / "other.pth")


def test_unknown_extractor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown extractor 'digits'"):
        em.fid(np.zeros((40, 8, 8)), np.zeros((40, 8, 8)), extractor="digits")


# ------------------------------------------------------------------------- adapter, suite


def _suite(tmp_path: Path, model_line: str = "") -> Path:
    text = (ROOT / "suites" / "image.yaml").read_text()
    text = text.replace("path: image/", f"path: {IMAGE}/").replace(
        "reference: image/", f"reference: {IMAGE}/"
    )
    text = text.replace("resamples: 200", "resamples: 20")
    if model_line:
        text = text.replace(
            "    dataset: {path:", f"    model: {model_line}\n    dataset: {{path:", 1
        )
    path = tmp_path / "image.yaml"
    path.write_text(text)
    return path


def test_image_suite_orders_the_generators(tmp_path: Path) -> None:
    values: dict[str, dict[str, float]] = {}
    for name in ("real", "noisy", "gaussian", "blurred"):
        out = run_suite(
            ROOT / "suites" / "image.yaml", f"images:{IMAGE / name}.npz", tmp_path / name
        )
        values[name] = {r["metric"]: r["value"] for r in out.results}
        assert out.header["tasks"][0]["n_errors"] == 0
        assert out.exit_code == (1 if name == "blurred" else 0)  # the gate: fid <= 10
    order = ["real", "noisy", "gaussian", "blurred"]
    for metric in ("fid", "kid"):
        got = [values[n][metric] for n in order]
        assert got == sorted(got), (metric, got)
    assert values["real"]["fid"] < 1.0 < values["noisy"]["fid"]
    assert values["real"]["inception_score"] > 8.0
    # The runner's numbers are the functional twins' (statistics through JSON, in batches).
    twin = em.fid(IMAGE / "real.npz", IMAGE / "reference.npz").value
    assert values["real"]["fid"] == pytest.approx(twin, rel=1e-9)


def test_images_adapter_folder_and_callable(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    real = np.load(IMAGE / "real.npz")["images"]
    folder = tmp_path / "model"
    folder.mkdir()
    for i, im in enumerate(real):
        Image.fromarray(im[..., 0]).save(folder / f"{i}.png")
    a = run_suite(_suite(tmp_path), f"images:{folder}", tmp_path / "folder")
    b = run_suite(_suite(tmp_path), f"images:{IMAGE / 'real.npz'}", tmp_path / "npz")
    assert [r["value"] for r in a.results] == pytest.approx([r["value"] for r in b.results])
    (folder / "7.png").unlink()
    with pytest.raises(InputError, match="no image for sample '7'"):
        run_suite(_suite(tmp_path), f"images:{folder}", tmp_path / "missing")
    gen = run_suite(
        _suite(tmp_path), "images:python:tests._image_helpers:constant_digits", tmp_path / "fn"
    )
    rows = {r["metric"]: r["value"] for r in gen.results}
    assert rows["fid"] > 10.0
    line = json.loads((tmp_path / "fn" / "samples.jsonl").read_text().splitlines()[0])
    image = decode_reference(line["outputs"]["image"])
    label = json.loads((IMAGE / "samples.jsonl").read_text().splitlines()[0])["label"]
    assert image.shape == (8, 8, 1) and (image == label * 25).all()


def test_suite_refuses_a_text_model_and_a_missing_reference(tmp_path: Path) -> None:
    from evalkit.suite import load_suite

    with pytest.raises(ConfigError, match="needs 'generate_images' requests"):
        run_suite(_suite(tmp_path), "scripted:echo", tmp_path / "x")
    text = _suite(tmp_path).read_text().replace("reference.npz}", "nope.npz}", 1)
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.metrics\[0\]\.fid: fid: reference .*nope"):
        load_suite(tmp_path / "bad.yaml")


def test_fid_resample_block_equals_aggregating_each_resample() -> None:
    """The bootstrap block (count-weighted feature moments, no resample built) gives each
    resample's FID as aggregating its drawn rows does; sizes that make the covariance
    singular decline the block, and the per-resample path raises as before."""
    from evalkit.assets.image_features import digits_data
    from evalkit.stats import values_for_indices

    images, _, _, held = digits_data()
    metric = FID()
    metric.score_images(images[held[:100]], images[held[100:500]])  # sets the reference
    rng = np.random.default_rng(4)
    # Features far from zero: an uncentred second moment would lose digits here.
    feats = (rng.normal(size=(250, 32)) * 3.0 + 40.0).tolist()
    idx = rng.integers(0, 250, (25, 250))
    got = values_for_indices(metric, feats, idx)["fid"]
    want = np.array([metric.aggregate([feats[i] for i in row])["fid"] for row in idx])
    np.testing.assert_allclose(got, want, rtol=1e-11)
    assert metric.resample_block(feats[:32]) is None  # 32 rows for 32 dimensions
    with pytest.raises(InputError, match="covariance is singular"):
        values_for_indices(metric, feats[:32], idx[:, :32] % 32)
