"""Feature extractors for the image metrics (FID, KID, Inception Score), all offline.

Three kinds, chosen by the metrics' ``extractor`` parameter:

- ``digits-cnn`` (the default): a small CNN trained by ``scripts/train_digits_cnn.py`` on
  scikit-learn's bundled 8x8 ``load_digits`` images; its weights (about 40 kB) are committed in
  ``models/digits-cnn/``. Features: the 32 pre-activation values of its penultimate layer
  (standardised; "digits-FID"); logits: its 10 classes (a "digits Inception Score"). Runs in numpy.
- ``inception-v3``: the FID Inception network with pytorch-fid's weights
  (``pt_inception-2015-12-05-6726825d.pth``), read from a local file named by ``weights`` or the
  ``EVALKIT_INCEPTION_WEIGHTS`` environment variable; never downloaded. Features: pool3
  (2048); logits: 1008 classes. Needs torch.
- ``python:MODULE:ATTR``, or in Python any ``torch.nn.Module`` or callable: a user extractor
  that maps a batch of images to ``(N, d)`` features (see :class:`CallableExtractor`).

Every extractor has a name and the SHA-256 of its weights; both go into the metrics' signatures.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evalkit import _env
from evalkit.data.images import RESIZE, prepare
from evalkit.errors import AssetError, ConfigError, InputError

__all__ = [
    "DIGITS_WEIGHTS",
    "INCEPTION_URL",
    "CallableExtractor",
    "DigitsCNN",
    "FeatureExtractor",
    "InceptionExtractor",
    "digits_cnn_forward",
    "digits_data",
    "get_extractor",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the committed digits CNN weights are (override with EVALKIT_DIGITS_CNN_WEIGHTS).
DIGITS_WEIGHTS = REPO_ROOT / "models" / "digits-cnn" / "weights.npz"
#: pytorch-fid 0.3.0's ``FID_WEIGHTS_URL``: where the FID Inception weights are published.
INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
INCEPTION_ENV = _env.INCEPTION_WEIGHTS
DIGITS_ENV = _env.DIGITS_CNN_WEIGHTS
#: The train/held-out split of load_digits' 1797 images: a permutation with this seed, the
#: first ``DIGITS_TRAIN`` for training the CNN, the rest held out (the image suite's data).
DIGITS_SPLIT_SEED = 0
DIGITS_TRAIN = 1197


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``uint8`` images, with the fixed train/held-out split.

    Returns:
        ``(images (1797, 8, 8, 1) uint8, labels (1797,), train indices, held-out indices)``.
        Pixel values 0..16 are mapped to 0..255 by ``round(v * 255 / 16)``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is in the image extra
        raise AssetError(
            "the digits data need scikit-learn: pip install 'evalkit[image]'."
        ) from exc
    data = load_digits()
    images = np.rint(data.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    return images, data.target.astype(np.int64), order[:DIGITS_TRAIN], order[DIGITS_TRAIN:]


class FeatureExtractor(ABC):
    """Maps ``uint8`` images ``(N, H, W, C)`` to features (and, for IS, class logits)."""

    #: The extractor's name in signatures.
    name: str
    #: SHA-256 of the weights (``none`` for a plain function).
    sha256: str
    #: ``(height, width)`` the network takes (images are resized to it), or None.
    size: tuple[int, int] | None = None
    #: 1 or 3 channels (images are converted), or None to pass them as they are.
    channels: int | None = None
    batch_size: int = 256

    @abstractmethod
    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Features and logits (or None) for one prepared batch."""

    def _batches(self, images: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray | None]:
        images = prepare(images, self.size, self.channels, where)
        feats, logits = [], []
        for start in range(0, len(images), self.batch_size):
            f, lg = self._run(images[start : start + self.batch_size])
            feats.append(np.asarray(f, dtype=np.float64))
            if lg is not None:
                logits.append(np.asarray(lg, dtype=np.float64))
        if not feats:
            return np.zeros((0, 0)), None
        out = np.concatenate(feats)
        if out.ndim != 2:
            raise InputError(f"extractor {self.name}: features must be (N, d), got {out.shape}.")
        if not np.isfinite(out).all():
            row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            raise InputError(
                f"extractor {self.name}: features of {where} include NaN or inf (first at image "
                f"{row} of {len(out)}); check the extractor and its weights."
            )
        return out, (np.concatenate(logits) if logits else None)

    def features(self, images: np.ndarray, where: str = "images") -> np.ndarray:
        """``float64`` features ``(N, d)``."""
        return self._batches(images, where)[0]

    def logits(self, images: np.ndarray, where: str = "images") -> np.ndarray:
        """``float64`` class logits ``(N, classes)`` (for the Inception Score)."""
        logits = self._batches(images, where)[1]
        if logits is None:
            raise ConfigError(f"extractor {self.name} gives no class logits.")
        return logits

    def describe(self) -> dict[str, str]:
        """Signature fields: name, weights hash (12 hex digits), input size and resizing."""
        size = "native" if self.size is None else f"{self.size[0]}x{self.size[1]}"
        return {
            "extractor": self.name,
            "weights": self.sha256[:12],
            "size": size,
            "resize": RESIZE,
        }


# ------------------------------------------------------------------------------ digits CNN


def _conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'Same' 3x3 convolution, ``x (N, C, H, W)``, ``w (O, C, 3, 3)`` (torch's layout)."""
    n, c, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n, h * wd, c * 9)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    maps: np.ndarray = out.transpose(0, 2, 1).reshape(n, w.shape[0], h, wd)
    return maps


def digits_cnn_forward(
    params: dict[str, np.ndarray], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The digits CNN in numpy: ``x (N, 1, 8, 8)`` in [0, 1] -> (features (N, 32), logits).

    Layers (scripts/train_digits_cnn.py): conv 3x3 1->8, ReLU, conv 3x3 8->16, ReLU, 2x2 max
    pool, linear 256->32, ReLU, linear 32->10. The features are the 32 values before that ReLU,
    standardised with the training set's per-dimension mean and standard deviation (stored with
    the weights as ``feature_mean`` and ``feature_scale``; without them, unscaled), so that they
    have unit scale like Inception's pool3 features and KID's cubic kernel stays well scaled.
    """
    h = np.maximum(_conv3x3(x, params["conv1.weight"], params["conv1.bias"]), 0)
    h = np.maximum(_conv3x3(h, params["conv2.weight"], params["conv2.bias"]), 0)
    n, c, hh, ww = h.shape
    h = h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5)).reshape(n, -1)
    hidden = h @ params["fc1.weight"].T + params["fc1.bias"]
    logits = np.maximum(hidden, 0) @ params["fc2.weight"].T + params["fc2.bias"]
    if "feature_mean" in params:
        hidden = (hidden - params["feature_mean"]) / params["feature_scale"]
    return hidden, logits


class DigitsCNN(FeatureExtractor):
    """The bundled digits CNN (8x8 grayscale input, 32 features, 10 classes)."""

    size = (8, 8)
    channels = 1
    batch_size = 1024

    def __init__(self, weights: str | Path | None = None) -> None:
        path = Path(weights or _env.digits_cnn_weights() or DIGITS_WEIGHTS)
        if not path.is_file():
            raise AssetError(
                f"digits-cnn weights not found at {path}; they are committed in the evalkit "
                f"repository as models/digits-cnn/weights.npz; rebuild them with "
                f"`python scripts/train_digits_cnn.py` or set {DIGITS_ENV}."
            )
        # float64 arithmetic: features do not depend on the batch size beyond rounding.
        with np.load(path, allow_pickle=False) as data:
            self.params = {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
        self.name = "digits-cnn"
        self.sha256 = sha256_file(path)
        self.path = path

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = images.transpose(0, 3, 1, 2).astype(np.float64) / 255.0
        return digits_cnn_forward(self.params, x)


# ------------------------------------------------------------------------------ Inception


class InceptionExtractor(FeatureExtractor):
    """pytorch-fid's FID Inception-v3 from a local weights file (299x299 RGB)."""

    size = (299, 299)
    channels = 3
    batch_size = 32

    def __init__(self, weights: str | Path | None = None) -> None:
        given = weights or _env.inception_weights()
        if not given:
            raise AssetError(
                "inception-v3 needs pytorch-fid's FID Inception weights in a local file; evalkit "
                f"never downloads them. Get {INCEPTION_URL} once, then pass "
                f"weights: PATH or set {INCEPTION_ENV}=PATH."
            )
        path = Path(given)
        if not path.is_file():
            raise AssetError(
                f"inception-v3 weights not found at {path}; put pytorch-fid's "
                f"pt_inception-2015-12-05-6726825d.pth there (from {INCEPTION_URL}) or point "
                f"weights / {INCEPTION_ENV} at it."
            )
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - torch is in the image extra
            raise AssetError("inception-v3 needs torch: pip install 'evalkit[image]'.") from exc
        from evalkit.assets._inception import FIDInceptionV3

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise AssetError(f"{path}: cannot read Inception weights ({exc}).") from None
        net = FIDInceptionV3()
        try:
            missing, unexpected = net.load_state_dict(state, strict=False)
        except (RuntimeError, TypeError, AttributeError) as exc:  # shapes differ, not a dict
            missing, unexpected = [str(exc).splitlines()[-1].strip()], []
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise AssetError(
                f"{path}: not pytorch-fid's FID Inception weights (missing {missing[:3]}, "
                f"unexpected {list(unexpected)[:3]})."
            )
        self.net = net.eval()
        self.name = "inception-v3"
        self.sha256 = sha256_file(path)
        self.path = path

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        x = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
        with torch.inference_mode():
            feats, logits = self.net(x)
        return feats.double().numpy(), logits.double().numpy()


# ------------------------------------------------------------------------------ user code


def _module_sha(module: Any) -> str:
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class CallableExtractor(FeatureExtractor):
    """A user extractor: a ``torch.nn.Module`` or any callable.

    A module gets a float32 tensor ``(N, C, H, W)`` in [0, 1]; another callable gets a float32
    numpy array ``(N, H, W, C)`` in [0, 1]. Either returns ``(N, d)`` features (a tensor or an
    array), or a pair ``(features, logits)`` when it also classifies (for the Inception Score;
    a callable that returns one array serves as its own logits there).

    Args:
        fn: The module or callable.
        name: Its name in signatures (default: its qualified class or function name).
        size: ``(height, width)`` to resize images to, or None to keep their size.
        channels: 1 or 3 to convert images to, or None to keep them.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        size: tuple[int, int] | None = None,
        channels: int | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"extractor: {fn!r} is not callable.")
        self.fn = fn
        self.is_module = hasattr(fn, "state_dict") and hasattr(fn, "parameters")
        cls = fn if not self.is_module else type(fn)
        self.name = name or f"{cls.__module__}.{getattr(cls, '__qualname__', 'callable')}"
        self.sha256 = _module_sha(fn) if self.is_module else "none"
        self.size = size
        self.channels = channels
        self.batch_size = 256

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        x = images.astype(np.float32) / np.float32(255.0)
        if self.is_module:
            import torch

            with torch.inference_mode():
                out = self.fn(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
        else:
            out = self.fn(x)
        if isinstance(out, tuple | list) and len(out) == 2:
            return _numpy(out[0], self.name), _numpy(out[1], self.name)
        arr = _numpy(out, self.name)
        return arr, arr


def _numpy(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"extractor {name} returned shape {arr.shape}; expected (N, d).")
    return arr


_CACHE: dict[tuple[str, str | None], FeatureExtractor] = {}
_LOCK = threading.Lock()


def get_extractor(spec: Any = "digits-cnn", weights: str | Path | None = None) -> FeatureExtractor:
    """The extractor named by ``spec`` (loaded once per process and weights file).

    Args:
        spec: ``"digits-cnn"``, ``"inception-v3"``, ``"python:MODULE:ATTR"`` (a module, class
            instance or function), a :class:`FeatureExtractor`, a ``torch.nn.Module`` or a
            callable.
        weights: A weights file for ``digits-cnn`` or ``inception-v3``.

    Raises:
        ConfigError: Unknown name. AssetError: Missing weights.

    >>> get_extractor("digits-cnn").describe()["extractor"]
    'digits-cnn'
    >>> get_extractor("inception-v4")
    Traceback (most recent call last):
    ...
    evalkit.errors.ConfigError: unknown extractor 'inception-v4'. Did you mean 'inception-v3'? Choose digits-cnn, inception-v3 or python:MODULE:ATTR.
    """  # noqa: E501
    if isinstance(spec, FeatureExtractor):
        return spec
    if not isinstance(spec, str):
        return CallableExtractor(spec)
    key = (spec, None if weights is None else str(Path(weights).resolve()))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        ext: FeatureExtractor
        if spec == "digits-cnn":
            ext = DigitsCNN(weights)
        elif spec == "inception-v3":
            ext = InceptionExtractor(weights)
        elif spec.startswith("python:"):
            from evalkit._imports import load_callable

            obj = load_callable(spec[len("python:") :])
            if isinstance(obj, type):
                obj = obj()
            ext = obj if isinstance(obj, FeatureExtractor) else CallableExtractor(obj, name=spec)
        else:
            from evalkit.errors import did_you_mean

            choices = ["digits-cnn", "inception-v3"]
            raise ConfigError(
                f"unknown extractor '{spec}'.{did_you_mean(spec, choices)} Choose digits-cnn, "
                "inception-v3 or python:MODULE:ATTR."
            )
        _CACHE[key] = ext
        return ext
