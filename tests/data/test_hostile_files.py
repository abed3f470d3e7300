"""Hostile image files: paths that leave their folder, decompression bombs, a broken file
mid-run, non-finite reference statistics. Each runs the real CLI on small files in tmp_path."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from evalkit.adapters.images import ImagesAdapter
from evalkit.cli import main
from evalkit.data.images import MAX_IMAGE_PIXELS, load_images
from evalkit.errors import InputError
from evalkit.metrics.image.fid import frechet_distance
from evalkit.metrics.image.kid import kid_from_features
from evalkit.metrics.image.reference import save_reference_stats
from evalkit.types import GenerateRequest
from tests.conftest import ROOT

IMAGE = ROOT / "suites" / "image"
REFERENCE = IMAGE / "reference.npz"
N = 40  # > 32 digits-CNN feature dimensions, so FID of the generated set is defined
BATCH = 10


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``evalkit ARGS`` in-process (the console entry point); exit code and stderr."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    _, err = capsys.readouterr()
    return int(exc.value.code or 0), err


def _digits(folder: Path, n: int = N) -> Path:
    """``folder/0.png`` ... real held-out digits, one per sample id."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(np.load(IMAGE / "real.npz")["images"][:n]):
        Image.fromarray(im[..., 0]).save(folder / f"{i}.png")
    return folder


def _suite(
    tmp_path: Path,
    ids: list[str] | None = None,
    reference: Path = REFERENCE,
    task: str = "digits",
) -> Path:
    """A one-task FID + KID suite over ``ids`` (default 0..N-1) in tmp_path."""
    ids = ids if ids is not None else [str(i) for i in range(N)]
    with open(tmp_path / "samples.jsonl", "w", encoding="utf-8") as fh:
        for sid in ids:
            fh.write(json.dumps({"id": sid, "label": 1}) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: hostile\nbatch_size: {BATCH}\nbootstrap: {{resamples: 0}}\ntasks:\n"
        f"  - name: {json.dumps(task)}\n"
        "    dataset: {path: samples.jsonl, id: id}\n"
        '    prompt: "{label}"\n'
        "    metrics:\n"
        f"      - fid: {{reference: {reference}}}\n"
        f"      - kid: {{reference: {reference}, subsets: 5, subset_size: 20}}\n",
        encoding="utf-8",
    )
    return suite


def _run(
    suite: Path, model: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    return _cli(["run", str(suite), "--model", f"images:{model}", "--out", str(out), "-q", *extra],
                capsys)  # fmt: skip


def _outside_image(tmp_path: Path) -> Path:
    path = tmp_path / "outside.png"
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(path)
    return path


# ------------------------------------------------------------------ paths stay inside DIR


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_sample_ids_that_are_paths_are_refused(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _digits(tmp_path / "model")
    outside = _outside_image(tmp_path)
    bad = "../outside" if kind == "dotdot" else str(outside.with_suffix(""))
    ids = [str(i) for i in range(N)]
    ids[5] = bad
    code, err = _run(_suite(tmp_path, ids), model, tmp_path / "out", capsys)
    assert code == 2, err
    assert f"sample id {bad!r} of task 'digits' is not a plain file name" in err
    assert "rename it in the dataset" in err
    assert not (tmp_path / "out").exists()  # refused before any sample was run


def test_a_task_named_like_a_path_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _digits(tmp_path / "model")
    _digits(tmp_path / "other")  # the sibling folder that '../other' would pick
    code, err = _run(_suite(tmp_path, task="../other"), model, tmp_path / "out", capsys)
    assert code == 2, err
    assert "suite.yaml:5: tasks[0].name:" in err and "not a plain name" in err
    assert not (tmp_path / "out").exists()
    # The adapter refuses it too (a Suite built in Python skips the YAML check).
    adapter = ImagesAdapter(str(model))
    with pytest.raises(
        InputError, match=re.escape("task name '../other' is not a plain folder name")
    ):
        adapter.prepare({"../other": [GenerateRequest("1", task="../other", sample_id="0")]})


def test_symlinks_that_leave_the_folder_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _digits(tmp_path / "model")
    outside = _outside_image(tmp_path)
    (model / "7.png").unlink()
    (model / "7.png").symlink_to(outside)
    code, err = _run(_suite(tmp_path), model, tmp_path / "out", capsys)
    assert code == 2, err
    assert f"{model / '7.png'}: leads to {outside}, outside the images folder" in err
    # A task folder that links out is refused the same way.
    (model / "7.png").unlink()
    _digits(tmp_path / "elsewhere")
    (model / "digits").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    code, err = _run(_suite(tmp_path), model, tmp_path / "out2", capsys)
    assert code == 2, err
    assert f"{model / 'digits'}: leads to {tmp_path / 'elsewhere'}" in err


# ------------------------------------------------------------------ decompression bombs


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """A real 30000 x 30000 1-bit PNG: all of its pixels, compressed to about 110 KB."""
    width = height = 30000
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    block = row * 1000
    body = b"".join(packer.compress(block) for _ in range(height // 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
    return png + _png_chunk(b"IEND", b"")


def test_a_decompression_bomb_is_an_input_error(
    bomb_png: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(bomb_png) < 200_000
    model = _digits(tmp_path / "model")
    (model / "3.png").write_bytes(bomb_png)
    code, err = _run(_suite(tmp_path), model, tmp_path / "out", capsys)
    assert code == 2, err
    assert f"{model / '3.png'}: the image declares more than 67,108,864 pixels" in err
    assert "decompression bomb" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # the header check runs before any sample
    assert Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS == 8192 * 8192  # set explicitly
    # The same file among reference images (read whole, not just its header).
    with pytest.raises(InputError, match=r"3\.png: the image declares more than"):
        load_images(model, what="reference images")


# ------------------------------------------------------------------ a broken file mid-run


def test_a_broken_image_mid_run_then_resume_gives_the_clean_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _digits(tmp_path / "model")
    suite = _suite(tmp_path)
    code, err = _run(suite, model, tmp_path / "clean", capsys)
    assert code == 0, err
    good, good_0 = (model / "25.png").read_bytes(), (model / "0.png").read_bytes()
    # The header is intact (so the check before the run passes); the pixel data is cut.
    (model / "25.png").write_bytes(good[:45])
    code, err = _run(suite, model, tmp_path / "run", capsys)
    assert code == 2, err
    assert f"sample '25': {model / '25.png'}: not a readable image" in err
    lines = (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [str(i) for i in range(20)]  # batches kept
    (model / "25.png").write_bytes(good)  # fixed
    code, err = _run(suite, model, tmp_path / "run", capsys, "--resume")
    assert code == 0, err
    ids = [
        json.loads(x)["id"] for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    ]
    assert ids == [str(i) for i in range(N)]  # each sample once, the failed batch retried
    clean = json.loads((tmp_path / "clean" / "results.json").read_text())
    resumed = json.loads((tmp_path / "run" / "results.json").read_text())
    assert resumed["results"] == clean["results"]
    assert resumed["status"] == "completed" and len(resumed["resumed_at"]) == 1
    line = json.loads(lines[0])
    # The record says which bytes each sample's image had.
    assert line["outputs"]["image_sha256"] == hashlib.sha256(good_0).hexdigest()


# ------------------------------------------------------------------ non-finite statistics


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    folder = tmp_path_factory.mktemp("stats")
    path = save_reference_stats(np.load(REFERENCE)["images"], folder / "stats.npz")
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize(
    ("key", "where", "value", "message"),
    [
        ("mu", (3,), np.nan, "'mu' index 3 (of 32)"),
        ("mu", (3,), np.inf, "'mu' index 3 (of 32)"),
        ("sigma", (5, 5), np.inf, "'sigma' row 5 (of 32)"),
        ("sigma", (2, 9), np.nan, "'sigma' row 2 (of 32)"),
        ("features", (17, 2), np.nan, "'features' row 17 (of 300)"),
    ],
)
def test_non_finite_reference_statistics_are_input_errors(
    key: str,
    where: tuple[int, ...],
    value: float,
    message: str,
    stats_file: dict[str, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arrays: dict[str, Any] = {k: v.copy() for k, v in stats_file.items()}
    arrays[key][where] = value
    bad = tmp_path / "bad-stats.npz"
    np.savez(bad, **arrays)
    model = _digits(tmp_path / "model")
    code, err = _run(_suite(tmp_path, reference=bad), model, tmp_path / "out", capsys)
    assert code == 2, err
    assert f"{bad}: reference statistics {message} holds NaN or infinity" in err
    assert "save_reference_stats" in err and "Traceback" not in err
    if key != "features":  # mean and covariance are checked when the suite is built
        assert not (tmp_path / "out").exists()
    else:  # the features when the scores are computed: the record is kept
        assert len((tmp_path / "out" / "samples.jsonl").read_text().splitlines()) == N


def test_formulas_refuse_non_finite_inputs() -> None:
    x = np.arange(12.0).reshape(6, 2)
    bad = x.copy()
    bad[4, 1] = np.nan
    with pytest.raises(InputError, match=r"kid: generated features row 4 \(of 6\)"):
        kid_from_features(bad, x, subsets=1)
    with pytest.raises(InputError, match=r"kid: reference features row 4"):
        kid_from_features(x, bad, subsets=1)
    eye = np.eye(2)
    with pytest.raises(InputError, match=r"frechet_distance: sigma2 row 1"):
        frechet_distance(np.zeros(2), eye, np.zeros(2), np.array([[1.0, 0.0], [0.0, np.inf]]))
