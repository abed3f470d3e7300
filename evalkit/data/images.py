"""Image inputs for the image metrics: folders of PNG/JPEG, ``.npz``/``.npy`` arrays, references.

Every image becomes a ``uint8`` array of shape ``(H, W, C)`` (``C`` = 1 or 3). Resizing follows
clean-fid's advice (Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in GAN
Evaluation"): resize ``uint8`` images with PIL's bicubic filter, which low-pass filters when it
shrinks, instead of a tensor library's aliasing bilinear resize; the method goes into every
image metric's signature (:data:`RESIZE`).

A single image can also be named by a *reference* string, which is what the ``images:``
adapter returns per sample (and what ``samples.jsonl`` records): a file path (``a/0001.png``),
a row of an array file (``gen.npz#17``) or an inline PNG (``data:image/png;base64,...``).

Features computed elsewhere (Inception, CLIP, DINOv2...) come as ``(N, D)`` arrays in a
``.npy`` or ``.npz`` file (:func:`load_features`, array ``features`` and optional ``ids``); the
``features:`` adapter names one row per sample as ``FILE#ROW`` in ``outputs["features"]``
(:func:`decode_feature_reference`). :func:`check_finite` turns NaN or infinity in features or
statistics into an InputError that names the row.
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import InputError

__all__ = [
    "FEATURE_SUFFIXES",
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "RESIZE",
    "FeatureSet",
    "ImageSet",
    "check_finite",
    "check_image_file",
    "decode_feature_reference",
    "decode_reference",
    "encode_png",
    "load_features",
    "load_images",
    "prepare",
    "to_uint8",
]

#: File suffixes read as images from a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: The resize method, as recorded in signatures.
RESIZE = "pil_bicubic_uint8"
#: The most pixels an image file may declare (8192 x 8192, 192 MiB as RGB ``uint8``); a larger
#: one is refused as a decompression bomb from its header, before it is decoded. evalkit sets
#: Pillow's ``Image.MAX_IMAGE_PIXELS`` to this value (Pillow's default, about 89 million pixels,
#: only warns up to twice that) and turns its ``DecompressionBombWarning`` into this error.
MAX_IMAGE_PIXELS = 8192 * 8192
_ARRAY_KEYS = ("images", "arr_0")
#: File suffixes read as feature arrays.
FEATURE_SUFFIXES = (".npy", ".npz")


@dataclass(frozen=True)
class ImageSet:
    """A set of images of one size.

    Attributes:
        images: ``uint8`` array of shape ``(N, H, W, C)``.
        names: Where each image came from (a file name or ``file#row``), for error messages.
        sha256: SHA-256 of the pixel data and shape (what signatures record).
        source: The folder or file the images were read from (``"<array>"`` for arrays).
    """

    images: np.ndarray
    names: tuple[str, ...]
    sha256: str
    source: str

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _sha(images: np.ndarray) -> str:
    h = hashlib.sha256(str(images.shape).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()


def to_uint8(array: Any, where: str) -> np.ndarray:
    """One image or a batch as ``uint8`` with a channel axis.

    Integer arrays must lie in [0, 255]; float arrays in [0, 1] are scaled by 255 and rounded.
    A 2-D array is one grayscale image and gets a channel axis; 3-D (one image ``H, W, C``) and
    4-D arrays (a batch) keep their shape, except that an alpha channel is dropped.

    >>> to_uint8(np.array([[0.0, 1.0]]), "x").tolist()
    [[[0], [255]]]
    >>> to_uint8(np.array([[0, 300]]), "x")
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: x: pixel values lie in [0, 300], outside [0, 255]; give uint8 images or floats in [0, 1].
    """  # noqa: E501
    arr = np.asarray(array)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "uif":
        raise InputError(f"{where}: images must be numeric arrays, got dtype {arr.dtype}.")
    if arr.size == 0:
        raise InputError(f"{where}: no pixels (shape {arr.shape}).")
    if not np.isfinite(arr).all():
        raise InputError(f"{where}: pixel values include NaN or infinity.")
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype.kind == "f":
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"{where}: float pixel values lie in [{lo:g}, {hi:g}], outside [0, 1]; "
                "scale them to [0, 1] or give uint8 images."
            )
        arr = np.rint(arr * 255.0)
    elif lo < 0 or hi > 255:
        raise InputError(
            f"{where}: pixel values lie in [{lo:g}, {hi:g}], outside [0, 255]; give uint8 "
            "images or floats in [0, 1]."
        )
    arr = arr.astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim == 4 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim not in (3, 4):
        raise InputError(f"{where}: expected images of 2 to 4 axes, got shape {arr.shape}.")
    return arr


def _batch(arr: np.ndarray, where: str) -> np.ndarray:
    """An array file's contents as ``(N, H, W, C)``."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] not in (1, 3, 4):
        a = a[..., None]  # (N, H, W) grayscale
    elif a.ndim == 3:
        # (N, H, C) would be ambiguous; an array file always holds a batch of images.
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3, 4):
        hint = (
            " A 2-D array holds features, not images: set the metric's `extractor: precomputed`."
            if a.ndim == 2
            else ""
        )
        raise InputError(
            f"{where}: expected a batch of images, shape (N, H, W) or (N, H, W, C) with C in "
            f"1, 3, 4; got {np.asarray(arr).shape}.{hint}"
        )
    return to_uint8(a, where)


def _read_array_file(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            return np.asarray(np.load(path, allow_pickle=False))
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            key = next((k for k in _ARRAY_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise InputError(
                    f"{path}: an image .npz needs an array named 'images' (or a single array); "
                    f"it holds {', '.join(keys) or 'nothing'}."
                )
            return np.asarray(data[key])
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the array file ({exc}).") from None


@contextmanager
def _opened(source: Path | io.BytesIO, where: str) -> Iterator[Any]:
    """A PIL image of ``source``, its size checked before any pixel is decoded.

    Raises:
        InputError: Not an image, or more than :data:`MAX_IMAGE_PIXELS` pixels.
    """
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    bomb = (
        f"{where}: the image declares more than {MAX_IMAGE_PIXELS:,} pixels (the limit, "
        "8192 x 8192); it may be a decompression bomb. Give images at most 8192 x 8192."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                width, height = im.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise InputError(f"{bomb} It declares {width} x {height}.")
                yield im
    except InputError:
        raise  # a ValueError too, but already says what is wrong
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(bomb) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{where}: not a readable image ({exc}).") from None


def check_image_file(path: Path) -> None:
    """Refuse a file that is not an image or is too large, reading only its header.

    Raises:
        InputError: Naming the file (see :data:`MAX_IMAGE_PIXELS`).
    """
    with _opened(path, str(path)):
        pass


def _pixels(im: Any, where: str) -> np.ndarray:
    mode = "L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB"
    return to_uint8(np.asarray(im.convert(mode)), where)


def _read_image_file(path: Path) -> np.ndarray:
    with _opened(path, str(path)) as im:
        im.load()
        return _pixels(im, str(path))


def _stack(arrays: Sequence[np.ndarray], names: Sequence[str], where: str) -> np.ndarray:
    shapes: dict[tuple[int, ...], str] = {}
    for a, n in zip(arrays, names, strict=True):
        shapes.setdefault(a.shape, n)
    if len(shapes) > 1:
        listing = "; ".join(f"{n}: {s[1]}x{s[0]}x{s[2]}" for s, n in list(shapes.items())[:3])
        raise InputError(
            f"{where}: images differ in size or channels (first of each: {listing}); give one "
            "size, or set the metric's image_size to resize them all."
        )
    return np.stack(arrays)


def load_images(source: Any, *, what: str = "images") -> ImageSet:
    """Read a set of images from a folder, an array file, an array or a list of arrays.

    Args:
        source: A folder of PNG/JPEG files (read in file-name order), a ``.npz`` (array
            ``images``, or its only array) or ``.npy`` file, an array ``(N, H, W[, C])``, or a
            sequence of single images (arrays).
        what: What the images are, for error messages (``"reference images"``).

    Returns:
        The images, all of one size.

    Raises:
        InputError: An empty folder, an unreadable file, images of mixed sizes, bad pixel values.

    >>> s = load_images(np.zeros((2, 4, 4), np.uint8))
    >>> s.images.shape, s.names
    ((2, 4, 4, 1), ('0', '1'))
    """
    if isinstance(source, ImageSet):
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not files:
                raise InputError(
                    f"{path}: no {what} here (no {', '.join(IMAGE_SUFFIXES)} files); check the "
                    "folder."
                )
            arrays = [_read_image_file(p) for p in files]
            images = _stack(arrays, [p.name for p in files], str(path))
            return ImageSet(images, tuple(p.name for p in files), _sha(images), str(path))
        if path.is_file() and path.suffix.lower() in (".npz", ".npy"):
            images = _batch(_read_array_file(path), str(path))
            if len(images) == 0:
                raise InputError(f"{path}: holds no {what}.")
            names = tuple(f"{path.name}#{i}" for i in range(len(images)))
            return ImageSet(images, names, _sha(images), str(path))
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            images = _read_image_file(path)[None]
            return ImageSet(images, (path.name,), _sha(images), str(path))
        if not path.exists():
            raise InputError(f"{path}: {what} not found; give a folder, .npz or .npy file.")
        raise InputError(
            f"{path}: cannot read {what} from this file; give a folder of PNG/JPEG files, a "
            ".npz or a .npy file."
        )
    if isinstance(source, np.ndarray):
        if source.ndim == 0 or source.shape[0] == 0:
            raise InputError(f"{what}: the array holds no images (shape {source.shape}).")
        images = _batch(source, what)
        return ImageSet(images, tuple(map(str, range(len(images)))), _sha(images), "<array>")
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        if len(source) == 0:
            raise InputError(f"{what}: the list holds no images.")
        arrays = [to_uint8(a, f"{what}[{i}]") for i, a in enumerate(source)]
        labels = [str(i) for i in range(len(arrays))]
        images = _stack(arrays, labels, what)
        return ImageSet(images, tuple(labels), _sha(images), "<array>")
    raise InputError(
        f"{what}: expected a folder, a .npz/.npy file or an array, got {type(source).__name__}."
    )


def encode_png(image: np.ndarray) -> str:
    """One ``uint8`` image as an inline PNG reference (``data:image/png;base64,...``).

    >>> ref = encode_png(np.full((2, 2, 1), 7, np.uint8))
    >>> ref.startswith("data:image/png;base64,"), decode_reference(ref).tolist()
    (True, [[[7], [7]], [[7], [7]]])
    """
    from PIL import Image

    arr = to_uint8(image, "image")
    if arr.ndim != 3:
        raise InputError(f"image: expected one image (H, W[, C]), got shape {arr.shape}.")
    im = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_ARRAY_CACHE: dict[tuple[str, float], np.ndarray] = {}


def decode_reference(ref: str, base: Path | None = None) -> np.ndarray:
    """The ``uint8`` image ``(H, W, C)`` a reference string names.

    Args:
        ref: ``PATH`` (PNG/JPEG), ``PATH#ROW`` (a row of a ``.npz``/``.npy`` batch) or
            ``data:image/png;base64,...``.
        base: Folder that relative paths are relative to (default: the working directory).
    """
    if not isinstance(ref, str) or not ref:
        raise InputError(f"image reference must be a non-empty string, got {ref!r}.")
    if ref.startswith("data:image/"):
        _, _, payload = ref.partition(",")
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError as exc:
            raise InputError(f"inline image: cannot decode ({exc}).") from None
        with _opened(io.BytesIO(data), "inline image") as im:
            im.load()
            return _pixels(im, "inline image")
    path_text, sep, row = ref.rpartition("#") if "#" in ref else (ref, "", "")
    path = Path(path_text)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise InputError(f"{path}: image file not found.")
    if sep:
        if not row.isdigit():
            raise InputError(f"{ref}: the part after '#' must be a row number.")
        key = (str(path), path.stat().st_mtime)
        batch = _ARRAY_CACHE.get(key)
        if batch is None:
            batch = _batch(_read_array_file(path), str(path))
            _ARRAY_CACHE.clear()  # keep one array file in memory
            _ARRAY_CACHE[key] = batch
        i = int(row)
        if i >= len(batch):
            raise InputError(f"{path}: has {len(batch)} images; row {i} does not exist.")
        return np.asarray(batch[i])
    return _read_image_file(path)


def prepare(
    images: np.ndarray, size: tuple[int, int] | None, channels: int | None, where: str = "images"
) -> np.ndarray:
    """Resize (PIL bicubic on ``uint8``) and convert channels for a feature extractor.

    Args:
        images: ``uint8`` ``(N, H, W, C)``.
        size: ``(height, width)`` wanted, or ``None`` to keep the size.
        channels: 1 (grayscale, ITU-R 601-2 luma as PIL's ``L`` mode) or 3 (RGB; grayscale is
            repeated), or ``None`` to keep them.
        where: Names the images in errors.

    Returns:
        ``uint8`` ``(N, h, w, channels)``.

    >>> prepare(np.full((1, 4, 4, 3), 200, np.uint8), (2, 2), 1).shape
    (1, 2, 2, 1)
    """
    if images.ndim != 4:
        raise InputError(f"{where}: expected (N, H, W, C) images, got shape {images.shape}.")
    _, h, w, c = images.shape
    want_c = c if channels is None else channels
    if (size is None or (h, w) == tuple(size)) and want_c == c:
        return images
    if (size is None or (h, w) == tuple(size)) and c == 1 and want_c == 3:
        return np.repeat(images, 3, axis=-1)
    from PIL import Image

    out = []
    for img in images:
        im = Image.fromarray(img[..., 0] if c == 1 else img)
        im = im.convert("L" if want_c == 1 else "RGB")
        if size is not None and (h, w) != tuple(size):
            im = im.resize((size[1], size[0]), resample=Image.Resampling.BICUBIC)
        arr = np.asarray(im)
        out.append(arr[..., None] if arr.ndim == 2 else arr)
    return np.stack(out) if out else np.zeros((0, *(size or (h, w)), want_c), np.uint8)


# ------------------------------------------------------------------------------ features


def check_finite(values: np.ndarray, where: str, fix: str) -> None:
    """InputError naming the first row (or index) of ``values`` that holds NaN or infinity.

    A NaN in a mean, a covariance or a feature row would otherwise give a silent NaN (a null
    score), an infinite one or a failed eigendecomposition, never an error.

    >>> check_finite(np.array([[1.0, 2.0], [np.nan, 0.0]]), "f.npz: 'features'", "recompute it.")
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: f.npz: 'features' row 1 (of 2) holds NaN or infinity; recompute it.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or np.isfinite(arr).all():
        return
    bad = ~np.isfinite(arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1))
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    kind = "row" if arr.ndim > 1 else "index"
    raise InputError(f"{where} {kind} {row} (of {len(arr)}) holds NaN or infinity; {fix}")


@dataclass(frozen=True)
class FeatureSet:
    """Feature vectors computed outside evalkit, one row per sample.

    Attributes:
        features: ``float64`` array of shape ``(N, D)``, all finite.
        ids: The sample id of each row (a ``.npz``'s ``ids`` array, as strings), or None.
        sha256: SHA-256 of the array as stored (dtype, shape and bytes; what signatures record).
        source: The file the features were read from (``"<array>"`` for arrays).
    """

    features: np.ndarray
    ids: tuple[str, ...] | None
    sha256: str
    source: str

    def __len__(self) -> int:
        return int(self.features.shape[0])


def _feature_sha(arr: np.ndarray) -> str:
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _read_feature_file(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The feature array of a ``.npy``/``.npz`` file and the ``.npz``'s ``ids`` (or None)."""
    try:
        if path.suffix.lower() == ".npy":
            return np.asarray(np.load(path, allow_pickle=False)), None
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            rest = [k for k in keys if k != "ids"]
            key = "features" if "features" in keys else (rest[0] if len(rest) == 1 else None)
            if key is None:
                raise InputError(
                    f"{path}: a feature .npz needs an array named 'features' (or a single array "
                    f"besides 'ids'); it holds {', '.join(keys) or 'nothing'}."
                )
            ids = np.asarray(data["ids"]) if "ids" in keys else None
            return np.asarray(data[key]), ids
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the feature file ({exc}).") from None


def load_features(source: Any, *, what: str = "features") -> FeatureSet:
    """Read ``(N, D)`` features from a ``.npy``/``.npz`` file or an array.

    A ``.npz`` holds the array ``features`` (or its only array besides ``ids``) and, optionally,
    ``ids``: the sample id of each row. Any numeric dtype is read; values become ``float64``.

    Args:
        source: A ``.npy``/``.npz`` path, an array ``(N, D)``, a list of vectors or a
            :class:`FeatureSet`.
        what: What the features are, for error messages (``"reference features"``).

    Raises:
        InputError: A missing or unreadable file, not 2-D, no rows, a non-numeric dtype, NaN or
            infinity (naming the file and the row), or ``ids`` of another length or repeated.

    >>> fs = load_features(np.arange(6, dtype=np.float32).reshape(3, 2))
    >>> fs.features.dtype, fs.features.shape, fs.ids
    (dtype('float64'), (3, 2), None)
    >>> load_features(np.array([[0.0, 1.0], [np.inf, 0.0]]), what="gen")
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: gen: features row 1 (of 2) holds NaN or infinity; recompute the features.
    """  # noqa: E501
    if isinstance(source, FeatureSet):
        return source
    ids_arr: np.ndarray | None = None
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file() or path.suffix.lower() not in FEATURE_SUFFIXES:
            state = "not found" if not path.exists() else "not a .npy or .npz file"
            raise InputError(
                f"{path}: {what} {state}; give an (N, D) feature array in a .npy or .npz file "
                "(or a statistics file from save_reference_stats)."
            )
        arr, ids_arr = _read_feature_file(path)
        where = str(path)
    elif isinstance(source, np.ndarray):
        arr, where = source, what
    elif isinstance(source, Sequence) and not isinstance(source, str | bytes):
        try:
            arr, where = np.asarray(source), what  # a list of vectors
        except ValueError:
            raise InputError(
                f"{what}: the vectors differ in length; give (N, D) features."
            ) from None
    else:
        raise InputError(
            f"{what}: expected a .npy/.npz feature file or an (N, D) array, got "
            f"{type(source).__name__}."
        )
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise InputError(f"{where}: features must be a numeric array, got dtype {arr.dtype}.")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(
            f"{where}: expected {what} of shape (N, D) (one row per sample), got {arr.shape}."
        )
    check_finite(arr, f"{where}: features", "recompute the features.")
    ids: tuple[str, ...] | None = None
    if ids_arr is not None:
        ids = tuple(str(v) for v in ids_arr.reshape(-1).tolist())
        if ids_arr.ndim != 1 or len(ids) != len(arr):
            raise InputError(
                f"{where}: its 'ids' array has shape {ids_arr.shape}; give one id per feature "
                f"row ({len(arr)})."
            )
        repeated = [i for i, count in Counter(ids).items() if count > 1]
        if repeated:
            shown = ", ".join(repr(i) for i in repeated[:5])
            raise InputError(f"{where}: its 'ids' array repeats ids ({shown}); give each once.")
    feats = np.asarray(arr, dtype=np.float64)
    return FeatureSet(feats, ids, _feature_sha(arr), where)


_FEATURE_CACHE: dict[tuple[str, float], FeatureSet] = {}


def decode_feature_reference(ref: str, base: Path | None = None) -> np.ndarray:
    """The ``float64`` feature vector ``(D,)`` that ``PATH#ROW`` names.

    Args:
        ref: ``PATH#ROW``: a row of a ``.npy``/``.npz`` feature array (what ``features:``
            returns in ``outputs["features"]``).
        base: Folder that relative paths are relative to (default: the working directory).
    """
    if not isinstance(ref, str) or "#" not in ref:
        raise InputError(f"feature reference must be a string FILE#ROW, got {ref!r}.")
    path_text, _, row = ref.rpartition("#")
    path = Path(path_text)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise InputError(f"{path}: feature file not found.")
    if not row.isdigit():
        raise InputError(f"{ref}: the part after '#' must be a row number.")
    key = (str(path), path.stat().st_mtime)
    found = _FEATURE_CACHE.get(key)
    if found is None:
        found = load_features(path, what="features")
        _FEATURE_CACHE.clear()  # keep one feature file in memory
        _FEATURE_CACHE[key] = found
    i = int(row)
    if i >= len(found):
        raise InputError(f"{path}: has {len(found)} feature rows; row {i} does not exist.")
    return np.asarray(found.features[i])
